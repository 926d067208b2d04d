/* crypto/crypto.h -- all key material of xmpp-sync, in one module.
 *
 * Three layers, each in its own file:
 *
 *   identity (identity.c)         long-term X25519 + Ed25519 keys, stored
 *                                 0600 in the state directory; fingerprints
 *   per file (file.c)             ephemeral X25519 + HKDF-SHA-256 file key,
 *                                 bound to sid / content / name / size and
 *                                 signed by the master's Ed25519 key
 *   records  (stream.c)           AES-256-GCM in 64 KiB records, counter
 *                                 nonces, the last record marked final
 *   peer channel (channel.c)      a handshake between two peers with
 *                                 pinned keys (X25519 ee, es, se, ss +
 *                                 HKDF-SHA-256), then sealed messages:
 *                                 AES-256-GCM, one key per direction,
 *                                 counter nonces, replays refused
 *
 * Primitives and library set-up live in crypto.c, text encodings
 * (hex, base64, fingerprints) in encode.c. The wire format is in
 * docs/protocol.md, section "Security"; this header is the C contract.
 *
 * Errors: 0 on success or a negative errno code. -EBADMSG means "failed
 * authentication" (bad signature, bad tag, truncated or reordered stream),
 * -EINVAL a caller mistake or malformed input, -EPERM an unsafe key file,
 * -EEXIST an identity that is already there, -ENOMEM, -EIO. The function
 * that sees the cause logs it once; callers pass the code up.
 *
 * No secret ever leaves this module: secrets sit in libgcrypt's secure
 * memory where practical and are wiped when no longer needed. Nothing
 * here logs key bytes.
 */
#ifndef XS_CRYPTO_H
#define XS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/* Namespaces and URIs of the <security/> element (docs/protocol.md). */
#define CRYPTO_NS_JET		"urn:xmpp-sync:jet:0"
#define CRYPTO_CIPHER_URI	"urn:xmpp-sync:jet:cipher:aes-256-gcm-r64k:0"
#define CRYPTO_ENVELOPE_URI	"urn:xmpp-sync:jet:envelope:x25519-ed25519:0"

#define CRYPTO_KEY_LEN		32	/* X25519 and Ed25519 public keys */
#define CRYPTO_SIG_LEN		64	/* Ed25519 signature */
#define CRYPTO_RECORD_PLAIN	65536	/* plaintext bytes per full record */
#define CRYPTO_TAG_LEN		16	/* GCM tag after each record */
#define CRYPTO_RECORD_WIRE	(CRYPTO_RECORD_PLAIN + CRYPTO_TAG_LEN)
/* At most 2^32 records per file, so plaintext < 256 TiB. */
#define CRYPTO_MAX_RECORDS	((uint64_t)1 << 32)
#define CRYPTO_MAX_PLAIN	(CRYPTO_MAX_RECORDS * CRYPTO_RECORD_PLAIN - 1)
#define CRYPTO_BIND_MAX		4096	/* longest sid, content or name, bytes */

#define CRYPTO_IDENTITY_FILE	"identity.key"	/* inside the state dir */
#define CRYPTO_FPR_SIZE		72	/* 8 groups of 8 hex + 7 spaces + NUL */
#define CRYPTO_ENVELOPE_RAW	(CRYPTO_KEY_LEN + CRYPTO_SIG_LEN)
#define CRYPTO_ENVELOPE_B64_SIZE 129	/* base64 of 96 bytes + NUL */

/* ---- library ---------------------------------------------------------- */

/* Checks the libgcrypt version (>= 1.10.0) and sets up its secure memory
 * pool. Call once from main before anything else here; calling it again
 * is harmless (tests do). Not thread-safe: call before starting threads.
 * When the pool cannot be locked in RAM (RLIMIT_MEMLOCK too low) it
 * warns and goes on. Returns 0, or -EIO when libgcrypt is too old. */
int crypto_global_init(void);

/* ---- identity --------------------------------------------------------- */

struct crypto_identity;

/* Creates a new identity (X25519 key for agreement, Ed25519 key for
 * signatures) in state_dir/identity.key, mode 0600: written to a
 * temporary file, fsynced, renamed without replacing, directory fsynced.
 * state_dir must exist. Returns 0, -EEXIST when an identity is already
 * there (it is never overwritten), -EIO or -ENOMEM. */
int crypto_identity_create(const char *state_dir);

/* Loads state_dir/identity.key. Refuses a file that is not a regular
 * file, not owned by the effective user, or accessible by group or
 * others (logs the mode seen and the mode to set). Returns 0 and sets
 * *out (free with crypto_identity_free), -ENOENT when there is no
 * identity, -EPERM for an unsafe file, -EINVAL for a malformed one, -EIO,
 * -ENOMEM. */
int crypto_identity_load(const char *state_dir, struct crypto_identity **out);

/* Wipes and frees an identity. NULL is allowed. */
void crypto_identity_free(struct crypto_identity *id);

/* Return the 32-byte public keys, borrowed: valid as long as id is. */
const uint8_t *crypto_identity_x25519_get(const struct crypto_identity *id);
const uint8_t *crypto_identity_ed25519_get(const struct crypto_identity *id);

/* Ed25519 (RFC 8032, pure) signature of msg by the identity key.
 * Returns 0 and fills sig, or -EIO. */
int crypto_sign(const struct crypto_identity *id, const void *msg,
    size_t len, uint8_t sig[CRYPTO_SIG_LEN]);

/* Verifies an Ed25519 signature. Returns 0 when valid, -EBADMSG when not
 * (also for a public key that is not a valid point). Logs nothing: the
 * caller knows what was being verified. */
int crypto_verify(const uint8_t ed25519_pub[CRYPTO_KEY_LEN], const void *msg,
    size_t len, const uint8_t sig[CRYPTO_SIG_LEN]);

/* ---- fingerprints ----------------------------------------------------- */

/* Formats the fingerprint of a key pair: SHA-256 over x25519_pub ||
 * ed25519_pub (all 256 bits), lowercase hex in 8 groups of 8 digits
 * separated by single spaces, e.g. "1f2e3d4c 5b6a7988 ... 01234567".
 * len must be >= CRYPTO_FPR_SIZE. Returns 0, or -EINVAL for a short out. */
int crypto_fingerprint(const uint8_t x25519_pub[CRYPTO_KEY_LEN],
    const uint8_t ed25519_pub[CRYPTO_KEY_LEN], char *out, size_t len);

/* Compares a fingerprint typed by a person with a key pair. The text
 * must hold exactly 64 hex digits, either case; spaces, tabs, colons and
 * dashes between them are ignored. Returns 0 on a match, -EINVAL when the
 * text is not a fingerprint, -EKEYREJECTED when it is another key's. */
int crypto_fingerprint_match(const char *text,
    const uint8_t x25519_pub[CRYPTO_KEY_LEN],
    const uint8_t ed25519_pub[CRYPTO_KEY_LEN]);

/* ---- hex ------------------------------------------------------------ */

/* Lowercase hex of len bytes into out (2 * len + 1 bytes). Returns
 * nothing. */
void crypto_hex_encode(const uint8_t *in, size_t len, char *out);

/* Exactly 2 * len hex digits, either case, then the end of the string.
 * out may be partly written on failure. Returns 0 or -EINVAL. */
int crypto_hex_decode(const char *hex, uint8_t *out, size_t len);

/* ---- base64 (RFC 4648, standard alphabet, padded) ---------------------- */

/* Encodes len bytes into out as NUL-terminated text; cap must be at least
 * 4 * ceil(len / 3) + 1. Returns 0 or -EINVAL (cap too small). */
int crypto_base64_encode(const void *in, size_t len, char *out, size_t cap);

/* Decodes text, skipping ASCII whitespace (XML may wrap it), into out.
 * Strict otherwise: canonical padding, no stray characters, unused bits
 * zero. Returns 0 and sets *outlen, or -EINVAL (malformed or more than
 * cap bytes). */
int crypto_base64_decode(const char *text, uint8_t *out, size_t cap,
    size_t *outlen);

/* ---- per-file keys ---------------------------------------------------- */

/* What a file key is bound to. All strings NUL-terminated, non-empty,
 * at most CRYPTO_BIND_MAX bytes; they are compared as bytes. */
struct crypto_bind {
	const char *sid;	/* Jingle session id */
	const char *content;	/* Jingle content name */
	const char *name;	/* file name as in the <file/> element */
	uint64_t size;		/* plaintext size, <= CRYPTO_MAX_PLAIN */
};

/* What travels in the <security/> element: the sender's ephemeral X25519
 * public key and its Ed25519 signature over the binding. */
struct crypto_envelope {
	uint8_t eph[CRYPTO_KEY_LEN];
	uint8_t sig[CRYPTO_SIG_LEN];
};

/* Envelope <-> base64 of eph || sig (96 bytes, 128 characters).
 * to_base64: cap >= CRYPTO_ENVELOPE_B64_SIZE; returns 0 or -EINVAL.
 * from_base64: returns 0, or -EINVAL when the text is not exactly 96
 * bytes of base64. Neither checks the signature. */
int crypto_envelope_to_base64(const struct crypto_envelope *env, char *out,
    size_t cap);
int crypto_envelope_from_base64(const char *text, struct crypto_envelope *env);

/* The record stream of one file, in one direction. */
struct crypto_stream;

/* Receives output of crypto_stream_push/finish: ciphertext when
 * encrypting, authenticated plaintext when decrypting; never called with
 * len 0. buf is valid only during the call. Returns 0, or a negative code that push/finish return
 * as is (the sink logs its own errors). */
typedef int (*crypto_sink_fn)(void *arg, const void *buf, size_t len);

/* Master side of one file transfer: makes a fresh ephemeral X25519 key,
 * derives the file key for peer_x25519 (the slave's registered identity
 * key) and b, signs the binding with me's Ed25519 key. Fills *env_out
 * (to be sent in <security/>) and returns an encrypting stream in
 * *enc_out (free with crypto_stream_free). The ephemeral secret is wiped
 * before return. Returns 0, -EINVAL (bad binding, or a peer key that
 * gives an all-zero shared secret), -ENOMEM, -EIO. */
int crypto_file_sender_new(const struct crypto_identity *me,
    const uint8_t peer_x25519[CRYPTO_KEY_LEN], const struct crypto_bind *b,
    struct crypto_envelope *env_out, struct crypto_stream **enc_out);

/* Slave side: verifies env's signature against master_ed25519 (the
 * PINNED master key, never one taken from the same stanza) over the
 * binding b as the slave sees it and its own X25519 key, then derives
 * the same file key. Returns 0 and a decrypting stream in *dec_out (free
 * with crypto_stream_free); -EBADMSG when the signature does not verify
 * (wrong master key, another slave's envelope, any field changed);
 * -EINVAL, -ENOMEM, -EIO. */
int crypto_file_receiver_new(const struct crypto_identity *me,
    const uint8_t master_ed25519[CRYPTO_KEY_LEN], const struct crypto_bind *b,
    const struct crypto_envelope *env, struct crypto_stream **dec_out);

/* ---- record stream ---------------------------------------------------- */

/* Starts the stream at record index `record` instead of 0, to resume a
 * transfer: the encryptor then expects plaintext from byte
 * record * CRYPTO_RECORD_PLAIN of the file, and the decryptor expects the
 * ciphertext from wire offset record * CRYPTO_RECORD_WIRE. Both sides
 * must use the same index (see crypto_resume_point). Only before the
 * first push. Returns 0, or -EINVAL when the stream has started or the
 * record lies past the end of the file. */
int crypto_stream_start_at(struct crypto_stream *s, uint64_t record);

/* Feeds len bytes of any size (1 byte at a time works). The encryptor
 * emits each full record (ciphertext || tag) as soon as its 64 KiB of
 * plaintext are in; the decryptor emits a record's plaintext only after
 * its tag verified. Record lengths and the final record follow from the
 * bound size, so both ends process each push at once; memory stays at
 * one record whatever the file size.
 * Returns 0; -EBADMSG when a record fails authentication or bytes follow
 * the final record (decryptor); -EINVAL when more plaintext is pushed
 * than the bound size (encryptor, e.g. the file grew); the sink's code;
 * -EIO. After an error the stream only returns that error. */
int crypto_stream_push(struct crypto_stream *s, const void *buf, size_t len,
    crypto_sink_fn sink, void *arg);

/* Ends the stream. The encryptor emits the final record (0..65535 bytes
 * of plaintext, marked final) and fails with -EINVAL when the plaintext
 * seen is shorter than the bound size. The decryptor fails with -EBADMSG
 * unless the final record has arrived and verified (stream truncated,
 * last record dropped). Plaintext already emitted must not be trusted as
 * a whole file before finish returned 0. Returns 0 or a code as for
 * push. */
int crypto_stream_finish(struct crypto_stream *s, crypto_sink_fn sink,
    void *arg);

/* Wipes and frees a stream. NULL is allowed. */
void crypto_stream_free(struct crypto_stream *s);

/* Returns the number of bytes on the wire for a file of plain_size bytes:
 * plain_size + 16 * (plain_size / 65536 + 1); 0 when plain_size exceeds
 * CRYPTO_MAX_PLAIN. */
uint64_t crypto_ciphertext_size(uint64_t plain_size);

/* Where to resume when the receiver holds plain_have verified bytes of a
 * file of plain_size bytes: the record index to pass to
 * crypto_stream_start_at on both sides, the plaintext offset to read
 * from (master) and the wire offset for the transport's range (both
 * rounded down to a record boundary). Any pointer may be NULL.
 * Returns 0, or -EINVAL when plain_have > plain_size or plain_size is too
 * large. */
int crypto_resume_point(uint64_t plain_have, uint64_t plain_size,
    uint64_t *record, uint64_t *plain_off, uint64_t *wire_off);

/* ---- peer channel ------------------------------------------------------ */

#define CRYPTO_SESSION_LEN	16	/* session id, in every sealed message */
#define CRYPTO_JID_MAX		3071	/* longest JID, type or id bound */
#define CRYPTO_SEAL_MAX		(256 * 1024)	/* largest plaintext */
/* A new handshake is due once either direction has carried this many
 * messages under one pair of keys (crypto_channel_needs_rekey); sealing
 * stops at CRYPTO_CHANNEL_MAX_MSGS, so a peer that never rekeys cannot
 * go on for ever. Far inside AES-GCM's limits (2^32 messages per key):
 * the bound is there to keep the damage of a leaked session key small. */
#define CRYPTO_CHANNEL_REKEY	((uint64_t)1 << 16)
#define CRYPTO_CHANNEL_MAX_MSGS	((uint64_t)1 << 20)

/* The initiator's half of a handshake in progress. */
struct crypto_handshake;
/* Session keys between two peers, one per direction, and the counters. */
struct crypto_channel;

/* Initiator: a fresh ephemeral X25519 key for a handshake with the peer
 * whose PINNED X25519 key is peer_x25519. me_jid and peer_jid are both
 * bare JIDs (copied). Writes the ephemeral public key to send into e_pub
 * and returns 0 with *out (free with crypto_handshake_free), or
 * -EINVAL, -ENOMEM, -EIO. */
int crypto_handshake_start(const struct crypto_identity *me,
    const uint8_t peer_x25519[CRYPTO_KEY_LEN], const char *me_jid,
    const char *peer_jid, struct crypto_handshake **out,
    uint8_t e_pub[CRYPTO_KEY_LEN]);

/* Initiator: the responder's ephemeral key arrived; derives the session.
 * The handshake stays the caller's (free it). Only a responder holding
 * the pinned secret key derives the same keys: the caller must open the
 * responder's confirmation (crypto_channel_open) before trusting the
 * channel. Returns 0 and *out (crypto_channel_free), -EINVAL for a
 * low-order key, -ENOMEM, -EIO. */
int crypto_handshake_finish(struct crypto_handshake *hs,
    const uint8_t peer_e[CRYPTO_KEY_LEN], struct crypto_channel **out);

/* Wipes and frees a handshake. NULL is allowed. */
void crypto_handshake_free(struct crypto_handshake *hs);

/* Responder: answers the initiator's ephemeral key peer_e. peer_x25519 is
 * the initiator's PINNED key. Writes our ephemeral key into e_pub (the
 * ephemeral secret is wiped before return). Returns 0 and *out
 * (crypto_channel_free), -EINVAL (a JID too long, a low-order key),
 * -ENOMEM, -EIO. */
int crypto_handshake_respond(const struct crypto_identity *me,
    const uint8_t peer_x25519[CRYPTO_KEY_LEN], const char *me_jid,
    const char *peer_jid, const uint8_t peer_e[CRYPTO_KEY_LEN],
    uint8_t e_pub[CRYPTO_KEY_LEN], struct crypto_channel **out);

/* Seals len bytes (<= CRYPTO_SEAL_MAX) to the peer under the next
 * counter, bound to both JIDs (this side sending), the IQ type and id
 * (id NULL counts as ""). Returns 0 and a base64 string in *b64_out
 * (free()), -EMSGSIZE, -ESTALE when the keys have sealed
 * CRYPTO_CHANNEL_MAX_MSGS messages, -ENOMEM, -EIO. */
int crypto_channel_seal(struct crypto_channel *ch, const char *type,
    const char *id, const void *plain, size_t len, char **b64_out);

/* Opens what the peer sealed for us with this IQ type and id. Refuses
 * (-EBADMSG) anything that is not base64, is truncated, fails the tag
 * (altered, sealed for another direction, type or id, or by anyone
 * without the keys) or whose counter is not above the last one opened
 * (a replay, or messages out of order: XMPP delivers in order); -ESTALE
 * when it names another session; -EMSGSIZE, -ENOMEM, -EIO. Returns 0 and
 * the plaintext in *plain_out (NUL added; free()) and its length. */
int crypto_channel_open(struct crypto_channel *ch, const char *type,
    const char *id, const char *b64, char **plain_out, size_t *len_out);

/* Returns 1 when the base64 message b64 names ch's session, else 0
 * (also for text that is not a message). Authenticates nothing. */
int crypto_channel_owns(const struct crypto_channel *ch, const char *b64);

/* Returns 1 when a new handshake is due (CRYPTO_CHANNEL_REKEY), else 0. */
int crypto_channel_needs_rekey(const struct crypto_channel *ch);

/* The first 8 bytes of the session id as hex, for log lines. */
void crypto_channel_session_hex(const struct crypto_channel *ch,
    char out[17]);

/* Wipes and frees a channel. NULL is allowed. */
void crypto_channel_free(struct crypto_channel *ch);

#endif

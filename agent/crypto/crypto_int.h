/* crypto/crypto_int.h -- internals shared by agent/crypto*.c and
 * tests/test_crypto.c. Nothing outside the crypto module includes this:
 * the rest of the program sees only agent/crypto/crypto.h.
 *
 * The deterministic entry points here (fixed secrets, fixed ephemeral
 * key) exist so the tests can pin the wire format with known answers;
 * production code goes through the random ones in crypto.h.
 */
#ifndef XS_CRYPTO_IMPL_H
#define XS_CRYPTO_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "agent/crypto/crypto.h"

#define CRYPTO_AES_KEY_LEN	32
#define CRYPTO_NONCE_LEN	12
#define CRYPTO_SHA256_LEN	32

/* Labels that separate the uses of one key (docs/protocol.md). */
#define CRYPTO_LABEL_FILEKEY	"xmpp-sync jet 0 file key"
#define CRYPTO_LABEL_ENVELOPE	"xmpp-sync jet 0 envelope"
#define CRYPTO_LABEL_CHANNEL	"xmpp-sync channel 0"
#define CRYPTO_LABEL_CHANNEL_KEYS "xmpp-sync channel 0 keys"
#define CRYPTO_LABEL_SEALED	"xmpp-sync sealed 0"

/* The identity: secrets in secure memory, public keys beside them. */
struct crypto_identity {
	uint8_t *x_sec;			/* 32 bytes, secure memory */
	uint8_t *ed_sec;		/* 32 bytes (RFC 8032 seed), secure */
	uint8_t x_pub[CRYPTO_KEY_LEN];
	uint8_t ed_pub[CRYPTO_KEY_LEN];
};

/* Secure memory: NULL when out of memory; free wipes. */
void *crypto_secure_alloc(size_t n);
void crypto_secure_free(void *p, size_t n);
/* Overwrites n bytes in a way the compiler keeps. */
void crypto_wipe(void *p, size_t n);
/* Fills n bytes from libgcrypt's random generator, at the level for
 * long-term keys when long_term != 0, for session keys otherwise. */
void crypto_random(void *p, size_t n, int long_term);

/* X25519 (RFC 7748): out = X25519(scalar, point); point NULL means the
 * base point 9. Returns 0, -EINVAL when the result is all zero (a
 * low-order peer key), -EIO. */
int crypto_x25519(uint8_t out[32], const uint8_t scalar[32],
    const uint8_t *point);

/* Ed25519 public key from a 32-byte secret seed. Returns 0 or -EIO. */
int crypto_ed25519_public(uint8_t pub[32], const uint8_t seed[32]);

/* Ed25519 signature with seed/pub. Returns 0 or -EIO. */
int crypto_ed25519_sign(const uint8_t seed[32], const uint8_t pub[32],
    const void *msg, size_t len, uint8_t sig[64]);

/* SHA-256 of the concatenation of n buffers. */
void crypto_sha256(uint8_t out[32], const void *a, size_t alen,
    const void *b, size_t blen);

/* HKDF-SHA-256 (RFC 5869). salt may be NULL/0 (then 32 zero bytes).
 * okm_len <= 255 * 32. Returns 0, -EINVAL or -EIO. */
int crypto_hkdf_sha256(const void *salt, size_t salt_len, const void *ikm,
    size_t ikm_len, const void *info, size_t info_len, uint8_t *okm,
    size_t okm_len);

/* An identity from fixed secrets. Returns 0 and *out, -ENOMEM, -EIO. */
int crypto_identity_from_secrets(const uint8_t x_sec[32],
    const uint8_t ed_sec[32], struct crypto_identity **out);

/* Canonical encoding of a binding (see docs/protocol.md):
 * u32be len || sid || u32be len || content || u32be len || name ||
 * u64be size. Returns the encoded length (<= cap), or 0 when b is
 * invalid or cap too small (logged). */
size_t crypto_bind_encode(const struct crypto_bind *b, uint8_t *out,
    size_t cap);
#define CRYPTO_BIND_ENC_MAX	(3 * (4 + CRYPTO_BIND_MAX) + 8)

/* The per-file key schedule: from the ECDH shared secret, the ephemeral
 * and the receiver's X25519 public keys and the binding, 44 bytes of
 * HKDF output: AES-256 key || 12-byte nonce base. Returns 0, -EINVAL,
 * -EIO. */
int crypto_file_keys(const uint8_t shared[32], const uint8_t eph_pub[32],
    const uint8_t peer_pub[32], const struct crypto_bind *b,
    uint8_t key[CRYPTO_AES_KEY_LEN], uint8_t nonce[CRYPTO_NONCE_LEN]);

/* The byte string the master signs. Returns its length, 0 on a bad b. */
size_t crypto_envelope_message(const uint8_t eph_pub[32],
    const uint8_t peer_pub[32], const struct crypto_bind *b, uint8_t *out,
    size_t cap);
#define CRYPTO_ENVMSG_MAX	(sizeof(CRYPTO_LABEL_ENVELOPE) + 64 + \
				 CRYPTO_BIND_ENC_MAX)

/* crypto_file_sender_new with a given ephemeral secret (tests only). */
int crypto_file_sender_new_eph(const struct crypto_identity *me,
    const uint8_t peer_x25519[32], const struct crypto_bind *b,
    const uint8_t eph_sec[32], struct crypto_envelope *env_out,
    struct crypto_stream **enc_out);

/* A stream from raw keys: encrypt != 0 for the sender. size is the bound
 * plaintext size, name is used in log messages only (copied).
 * Returns 0 and *out, -EINVAL, -ENOMEM, -EIO. */
int crypto_stream_new(int encrypt, const uint8_t key[CRYPTO_AES_KEY_LEN],
    const uint8_t nonce[CRYPTO_NONCE_LEN], uint64_t size, const char *name,
    struct crypto_stream **out);

/* The nonce of record i: nonce base XOR (0^32 || u64be(i)). */
void crypto_record_nonce(const uint8_t base[CRYPTO_NONCE_LEN], uint64_t i,
    uint8_t out[CRYPTO_NONCE_LEN]);

/* The associated data of record i: u64be(i) || final (0 or 1). */
#define CRYPTO_AD_LEN	9
void crypto_record_ad(uint64_t i, int final, uint8_t out[CRYPTO_AD_LEN]);

/* ---- peer channel (channel.c) ---------------------------------------- */

/* The transcript hash: SHA-256("xmpp-sync channel 0" 0x00 || u32be len
 * || I || u32be len || R || SI || SR || EI || ER), I/R the initiator's
 * and responder's bare JIDs. Returns 0, -EINVAL, -ENOMEM. */
int crypto_channel_transcript(const char *ijid, const char *rjid,
    const uint8_t si[32], const uint8_t sr[32], const uint8_t ei[32],
    const uint8_t er[32], uint8_t h[32]);

/* HKDF-SHA-256(salt = h, ikm = ee || es || se || ss, info = "xmpp-sync
 * channel 0 keys", 80 bytes) = k_ir || k_ri || session. Returns 0 or a
 * negative errno. */
int crypto_channel_schedule(const uint8_t h[32], const uint8_t ikm[128],
    uint8_t k_ir[32], uint8_t k_ri[32], uint8_t session[CRYPTO_SESSION_LEN]);

/* The associated data of message n: "xmpp-sync sealed 0" 0x00 ||
 * u32be len || from || u32be len || to || u32be len || type || u32be len
 * || id || session || u64be(n). Returns its length, 0 when a string is
 * too long or cap too small. */
#define CRYPTO_CHANNEL_AD_MAX	(sizeof(CRYPTO_LABEL_SEALED) + \
				 4 * (4 + CRYPTO_JID_MAX) + \
				 CRYPTO_SESSION_LEN + 8)
size_t crypto_channel_ad(const char *from, const char *to, const char *type,
    const char *id, const uint8_t session[CRYPTO_SESSION_LEN], uint64_t n,
    uint8_t *out, size_t cap);

/* The handshake with a given ephemeral secret (tests only; NULL: random). */
int crypto_handshake_start_eph(const struct crypto_identity *me,
    const uint8_t peer_x25519[32], const char *me_jid, const char *peer_jid,
    const uint8_t *eph_sec, struct crypto_handshake **out,
    uint8_t e_pub[CRYPTO_KEY_LEN]);
int crypto_handshake_respond_eph(const struct crypto_identity *me,
    const uint8_t peer_x25519[32], const char *me_jid, const char *peer_jid,
    const uint8_t peer_e[32], const uint8_t *eph_sec,
    uint8_t e_pub[CRYPTO_KEY_LEN], struct crypto_channel **out);

/* Big-endian integers into and out of the byte strings we hash, bind
 * and seal. The put functions return the byte after what they wrote. */
static inline uint8_t *
crypto_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static inline uint8_t *
crypto_put_u64(uint8_t *p, uint64_t v)
{
	crypto_put_u32(p, (uint32_t)(v >> 32));
	return crypto_put_u32(p + 4, (uint32_t)v);
}

#endif

/* crypto/file.c -- the per-file key schedule and its signed envelope.
 * See crypto.h for the contracts, docs/protocol.md ("File keys") for
 * the byte layouts this file produces.
 *
 *   master                                   slave
 *   e = random, E = X25519(e, 9)
 *   Z = X25519(e, S)                         Z = X25519(s, E)
 *   key || nonce = HKDF-SHA-256(salt = E || S, ikm = Z,
 *                  info = "xmpp-sync jet 0 file key" 0x00 bind)
 *   sig = Ed25519(master, "xmpp-sync jet 0 envelope" 0x00 E || S || bind)
 *                                            verify sig with PINNED key
 *
 * where S / s is the slave's identity X25519 key and bind the canonical
 * encoding of sid, content name, file name and size.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/crypto/crypto_int.h"
#include "agent/log.h"

/* Checks one bound string; returns its length or 0 when unusable. */
static size_t
bind_str_len(const char *s, const char *what)
{
	size_t n = s ? strnlen(s, CRYPTO_BIND_MAX + 1) : 0;

	if (n == 0 || n > CRYPTO_BIND_MAX) {
		log_error("file key binding: %s is %s", what,
		    n == 0 ? "empty" : "too long");
		return 0;
	}
	return n;
}

size_t
crypto_bind_encode(const struct crypto_bind *b, uint8_t *out, size_t cap)
{
	const char *s[3] = {b->sid, b->content, b->name};
	static const char *const what[3] = {"sid", "content name",
	    "file name"};
	size_t len[3], total = 8;
	uint8_t *p = out;

	for (int i = 0; i < 3; i++) {
		if ((len[i] = bind_str_len(s[i], what[i])) == 0)
			return 0;
		total += 4 + len[i];
	}
	if (b->size > CRYPTO_MAX_PLAIN) {
		log_error("file key binding: size %llu is too large",
		    (unsigned long long)b->size);
		return 0;
	}
	if (total > cap)
		return 0;
	for (int i = 0; i < 3; i++) {
		p = crypto_put_u32(p, (uint32_t)len[i]);
		memcpy(p, s[i], len[i]);
		p += len[i];
	}
	crypto_put_u64(p, b->size);
	return total;
}

/* label || 0x00 || [k1 || k2 ||] bind, into a new malloc'ed buffer. */
static uint8_t *
labelled(const char *label, const uint8_t *k1, const uint8_t *k2,
    const struct crypto_bind *b, size_t *len)
{
	size_t llen = strlen(label) + 1, klen = k1 ? 64 : 0, blen;
	uint8_t *buf = malloc(llen + klen + CRYPTO_BIND_ENC_MAX);

	if (buf == NULL) {
		log_error("out of memory");
		return NULL;
	}
	memcpy(buf, label, llen);
	if (k1 != NULL) {
		memcpy(buf + llen, k1, 32);
		memcpy(buf + llen + 32, k2, 32);
	}
	blen = crypto_bind_encode(b, buf + llen + klen, CRYPTO_BIND_ENC_MAX);
	if (blen == 0) {
		free(buf);
		return NULL;
	}
	*len = llen + klen + blen;
	return buf;
}

int
crypto_file_keys(const uint8_t shared[32], const uint8_t eph_pub[32],
    const uint8_t peer_pub[32], const struct crypto_bind *b,
    uint8_t key[CRYPTO_AES_KEY_LEN], uint8_t nonce[CRYPTO_NONCE_LEN])
{
	uint8_t salt[64], *info, *okm;
	size_t info_len;
	int rc;

	memcpy(salt, eph_pub, 32);
	memcpy(salt + 32, peer_pub, 32);
	if ((info = labelled(CRYPTO_LABEL_FILEKEY, NULL, NULL, b,
	    &info_len)) == NULL)
		return -EINVAL;
	if ((okm = crypto_secure_alloc(44)) == NULL) {
		free(info);
		return -ENOMEM;
	}
	rc = crypto_hkdf_sha256(salt, sizeof(salt), shared, 32, info,
	    info_len, okm, 44);
	if (rc == 0) {
		memcpy(key, okm, CRYPTO_AES_KEY_LEN);
		memcpy(nonce, okm + CRYPTO_AES_KEY_LEN, CRYPTO_NONCE_LEN);
	}
	crypto_secure_free(okm, 44);
	free(info);
	return rc;
}

size_t
crypto_envelope_message(const uint8_t eph_pub[32], const uint8_t peer_pub[32],
    const struct crypto_bind *b, uint8_t *out, size_t cap)
{
	size_t len = 0;
	uint8_t *m = labelled(CRYPTO_LABEL_ENVELOPE, eph_pub, peer_pub, b,
	    &len);

	if (m == NULL || len > cap)
		len = 0;
	else
		memcpy(out, m, len);
	free(m);
	return len;
}

/* Secrets of one key schedule run, kept together in secure memory. */
struct sched {
	uint8_t shared[32];
	uint8_t key[CRYPTO_AES_KEY_LEN];
	uint8_t nonce[CRYPTO_NONCE_LEN];
};

/* ECDH + HKDF, then the stream. sec is the local X25519 secret, pub the
 * remote X25519 key; eph/peer order the salt as the protocol says. */
static int
derive_stream(int encrypt, const uint8_t *sec, const uint8_t *pub,
    const uint8_t *eph, const uint8_t *peer, const struct crypto_bind *b,
    struct crypto_stream **out)
{
	struct sched *k = crypto_secure_alloc(sizeof(*k));
	int rc;

	if (k == NULL)
		return -ENOMEM;
	rc = crypto_x25519(k->shared, sec, pub);
	if (rc == 0)
		rc = crypto_file_keys(k->shared, eph, peer, b, k->key,
		    k->nonce);
	if (rc == 0)
		rc = crypto_stream_new(encrypt, k->key, k->nonce, b->size,
		    b->name, out);
	crypto_secure_free(k, sizeof(*k));
	return rc;
}

int
crypto_file_sender_new_eph(const struct crypto_identity *me,
    const uint8_t peer_x25519[32], const struct crypto_bind *b,
    const uint8_t eph_sec[32], struct crypto_envelope *env_out,
    struct crypto_stream **enc_out)
{
	uint8_t msg[CRYPTO_ENVMSG_MAX];
	size_t len;
	int rc;

	if ((rc = crypto_x25519(env_out->eph, eph_sec, NULL)) != 0)
		return rc;
	len = crypto_envelope_message(env_out->eph, peer_x25519, b, msg,
	    sizeof(msg));
	if (len == 0)
		return -EINVAL;
	if ((rc = crypto_sign(me, msg, len, env_out->sig)) != 0)
		return rc;
	return derive_stream(1, eph_sec, peer_x25519, env_out->eph,
	    peer_x25519, b, enc_out);
}

int
crypto_file_sender_new(const struct crypto_identity *me,
    const uint8_t peer_x25519[CRYPTO_KEY_LEN], const struct crypto_bind *b,
    struct crypto_envelope *env_out, struct crypto_stream **enc_out)
{
	uint8_t *eph = crypto_secure_alloc(32);
	int rc;

	if (eph == NULL)
		return -ENOMEM;
	crypto_random(eph, 32, 0);
	rc = crypto_file_sender_new_eph(me, peer_x25519, b, eph, env_out,
	    enc_out);
	crypto_secure_free(eph, 32);
	return rc;
}

int
crypto_file_receiver_new(const struct crypto_identity *me,
    const uint8_t master_ed25519[CRYPTO_KEY_LEN], const struct crypto_bind *b,
    const struct crypto_envelope *env, struct crypto_stream **dec_out)
{
	uint8_t msg[CRYPTO_ENVMSG_MAX];
	size_t len;

	len = crypto_envelope_message(env->eph, me->x_pub, b, msg,
	    sizeof(msg));
	if (len == 0)
		return -EINVAL;
	if (crypto_verify(master_ed25519, msg, len, env->sig) != 0) {
		log_error("file %s: envelope signature does not verify "
		    "against the pinned master key", b->name);
		return -EBADMSG;
	}
	return derive_stream(0, me->x_sec, env->eph, env->eph, me->x_pub, b,
	    dec_out);
}

int
crypto_envelope_to_base64(const struct crypto_envelope *env, char *out,
    size_t cap)
{
	uint8_t raw[CRYPTO_ENVELOPE_RAW];

	memcpy(raw, env->eph, CRYPTO_KEY_LEN);
	memcpy(raw + CRYPTO_KEY_LEN, env->sig, CRYPTO_SIG_LEN);
	return crypto_base64_encode(raw, sizeof(raw), out, cap);
}

int
crypto_envelope_from_base64(const char *text, struct crypto_envelope *env)
{
	uint8_t raw[CRYPTO_ENVELOPE_RAW];
	size_t n = 0;

	if (crypto_base64_decode(text, raw, sizeof(raw), &n) != 0 ||
	    n != sizeof(raw)) {
		log_error("security envelope is not %d bytes of base64",
		    CRYPTO_ENVELOPE_RAW);
		return -EINVAL;
	}
	memcpy(env->eph, raw, CRYPTO_KEY_LEN);
	memcpy(env->sig, raw + CRYPTO_KEY_LEN, CRYPTO_SIG_LEN);
	return 0;
}

/* crypto/channel.c -- the peer channel: a handshake between two peers that
 * know each other's pinned X25519 keys, and the sealing of the messages
 * that follow. See crypto.h for the contracts and docs/protocol.md
 * ("Peer channel") for the bytes.
 *
 *   initiator (master)                       responder (slave)
 *   eI = random, EI = X25519(eI, 9)   -->    eR = random, ER = X25519(eR, 9)
 *                                     <--    ER, confirm (a sealed empty result)
 *   h   = SHA-256("xmpp-sync channel 0" 0x00 || I || R || SI || SR || EI || ER)
 *   ikm = ee || es || se || ss          (the four X25519 products)
 *   k_ir || k_ri || session = HKDF-SHA-256(salt = h, ikm,
 *                             "xmpp-sync channel 0 keys", 80)
 *
 * A message is session || u64be(n) || AES-256-GCM(k, 0^32 || u64be(n),
 * ad, plaintext) with n counting from 1 in each direction; the receiver
 * takes only an n above the last one it took.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gcrypt.h>

#include "agent/crypto/crypto_int.h"
#include "agent/log.h"

#define HDR_LEN (CRYPTO_SESSION_LEN + 8)

struct crypto_handshake {
	const struct crypto_identity *me;
	uint8_t *e_sec;			/* 32 bytes, secure memory */
	uint8_t e_pub[CRYPTO_KEY_LEN];
	uint8_t peer_s[CRYPTO_KEY_LEN];
	char *me_jid, *peer_jid;
};

struct crypto_channel {
	gcry_cipher_hd_t tx, rx;	/* keys inside, secure memory */
	uint8_t session[CRYPTO_SESSION_LEN];
	uint64_t sent;			/* last counter sealed */
	uint64_t taken;			/* last counter opened */
	char *me, *peer;		/* bare JIDs: sender and receiver of tx */
};

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* u32be(len(s)) || s; NULL when s is too long. */
static uint8_t *
put_str(uint8_t *p, const char *s, size_t len)
{
	p = crypto_put_u32(p, (uint32_t)len);
	memcpy(p, s, len);
	return p + len;
}

static int
jid_ok(const char *jid)
{
	size_t n = jid ? strnlen(jid, CRYPTO_JID_MAX + 1) : 0;

	return n > 0 && n <= CRYPTO_JID_MAX;
}

int
crypto_channel_transcript(const char *ijid, const char *rjid,
    const uint8_t si[32], const uint8_t sr[32], const uint8_t ei[32],
    const uint8_t er[32], uint8_t h[32])
{
	static const char label[] = CRYPTO_LABEL_CHANNEL;
	size_t il, rl, len;
	uint8_t *buf, *p;

	if (!jid_ok(ijid) || !jid_ok(rjid))
		return -EINVAL;
	il = strlen(ijid);
	rl = strlen(rjid);
	len = sizeof(label) + 8 + il + rl + 4 * 32;
	if ((buf = malloc(len)) == NULL)
		return -ENOMEM;
	memcpy(buf, label, sizeof(label));	/* with its NUL */
	p = put_str(buf + sizeof(label), ijid, il);
	p = put_str(p, rjid, rl);
	memcpy(p, si, 32);
	memcpy(p + 32, sr, 32);
	memcpy(p + 64, ei, 32);
	memcpy(p + 96, er, 32);
	crypto_sha256(h, buf, len, NULL, 0);
	free(buf);
	return 0;
}

int
crypto_channel_schedule(const uint8_t h[32], const uint8_t ikm[128],
    uint8_t k_ir[32], uint8_t k_ri[32], uint8_t session[CRYPTO_SESSION_LEN])
{
	static const char info[] = CRYPTO_LABEL_CHANNEL_KEYS;
	uint8_t *okm = crypto_secure_alloc(80);
	int rc;

	if (okm == NULL)
		return -ENOMEM;
	rc = crypto_hkdf_sha256(h, 32, ikm, 128, info, sizeof(info) - 1, okm,
	    80);
	if (rc == 0) {
		memcpy(k_ir, okm, 32);
		memcpy(k_ri, okm + 32, 32);
		memcpy(session, okm + 64, CRYPTO_SESSION_LEN);
	}
	crypto_secure_free(okm, 80);
	return rc;
}

static int
cipher_open(gcry_cipher_hd_t *h, const uint8_t key[32])
{
	gpg_error_t e = gcry_cipher_open(h, GCRY_CIPHER_AES256,
	    GCRY_CIPHER_MODE_GCM, GCRY_CIPHER_SECURE);

	if (e == 0 && (e = gcry_cipher_setkey(*h, key, 32)) != 0)
		gcry_cipher_close(*h);
	if (e != 0) {
		log_error("cannot set up aes-256-gcm: %s", gcry_strerror(e));
		*h = NULL;
		return -EIO;
	}
	return 0;
}

void
crypto_channel_free(struct crypto_channel *ch)
{
	if (ch == NULL)
		return;
	gcry_cipher_close(ch->tx);	/* wipes the key schedules */
	gcry_cipher_close(ch->rx);
	free(ch->me);
	free(ch->peer);
	crypto_wipe(ch, sizeof(*ch));
	free(ch);
}

/* The secrets of one handshake, together in secure memory. */
struct hs_secrets {
	uint8_t ikm[128];
	uint8_t k_ir[32], k_ri[32];
};

/* Both sides end here: ikm in s, the transcript's public parts given. */
static int
make_channel(struct hs_secrets *s, int initiator, const char *me,
    const char *peer, const uint8_t si[32], const uint8_t sr[32],
    const uint8_t ei[32], const uint8_t er[32], struct crypto_channel **out)
{
	struct crypto_channel *ch;
	uint8_t h[32];
	int rc;

	rc = crypto_channel_transcript(initiator ? me : peer,
	    initiator ? peer : me, si, sr, ei, er, h);
	if (rc < 0)
		return rc;
	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		return -ENOMEM;
	rc = crypto_channel_schedule(h, s->ikm, s->k_ir, s->k_ri, ch->session);
	if (rc == 0)
		rc = cipher_open(&ch->tx, initiator ? s->k_ir : s->k_ri);
	if (rc == 0)
		rc = cipher_open(&ch->rx, initiator ? s->k_ri : s->k_ir);
	if (rc == 0 && ((ch->me = strdup(me)) == NULL ||
	    (ch->peer = strdup(peer)) == NULL))
		rc = -ENOMEM;
	if (rc < 0) {
		crypto_channel_free(ch);
		return rc;
	}
	*out = ch;
	return 0;
}

void
crypto_handshake_free(struct crypto_handshake *hs)
{
	if (hs == NULL)
		return;
	crypto_secure_free(hs->e_sec, 32);
	free(hs->me_jid);
	free(hs->peer_jid);
	crypto_wipe(hs, sizeof(*hs));
	free(hs);
}

int
crypto_handshake_start_eph(const struct crypto_identity *me,
    const uint8_t peer_x25519[32], const char *me_jid, const char *peer_jid,
    const uint8_t *eph_sec, struct crypto_handshake **out,
    uint8_t e_pub[CRYPTO_KEY_LEN])
{
	struct crypto_handshake *hs;
	int rc;

	if (!jid_ok(me_jid) || !jid_ok(peer_jid))
		return -EINVAL;
	if ((hs = calloc(1, sizeof(*hs))) == NULL)
		return -ENOMEM;
	hs->me = me;
	memcpy(hs->peer_s, peer_x25519, 32);
	if ((hs->e_sec = crypto_secure_alloc(32)) == NULL ||
	    (hs->me_jid = strdup(me_jid)) == NULL ||
	    (hs->peer_jid = strdup(peer_jid)) == NULL) {
		crypto_handshake_free(hs);
		return -ENOMEM;
	}
	if (eph_sec)
		memcpy(hs->e_sec, eph_sec, 32);
	else
		crypto_random(hs->e_sec, 32, 0);
	if ((rc = crypto_x25519(hs->e_pub, hs->e_sec, NULL)) < 0) {
		crypto_handshake_free(hs);
		return rc;
	}
	memcpy(e_pub, hs->e_pub, 32);
	*out = hs;
	return 0;
}

int
crypto_handshake_start(const struct crypto_identity *me,
    const uint8_t peer_x25519[CRYPTO_KEY_LEN], const char *me_jid,
    const char *peer_jid, struct crypto_handshake **out,
    uint8_t e_pub[CRYPTO_KEY_LEN])
{
	return crypto_handshake_start_eph(me, peer_x25519, me_jid, peer_jid,
	    NULL, out, e_pub);
}

int
crypto_handshake_finish(struct crypto_handshake *hs,
    const uint8_t peer_e[CRYPTO_KEY_LEN], struct crypto_channel **out)
{
	struct hs_secrets *s = crypto_secure_alloc(sizeof(*s));
	int rc;

	if (s == NULL)
		return -ENOMEM;
	/* ee, es, se, ss as the initiator computes them */
	rc = crypto_x25519(s->ikm, hs->e_sec, peer_e);
	if (rc == 0)
		rc = crypto_x25519(s->ikm + 32, hs->e_sec, hs->peer_s);
	if (rc == 0)
		rc = crypto_x25519(s->ikm + 64, hs->me->x_sec, peer_e);
	if (rc == 0)
		rc = crypto_x25519(s->ikm + 96, hs->me->x_sec, hs->peer_s);
	if (rc == 0)
		rc = make_channel(s, 1, hs->me_jid, hs->peer_jid,
		    hs->me->x_pub, hs->peer_s, hs->e_pub, peer_e, out);
	crypto_secure_free(s, sizeof(*s));
	return rc;
}

int
crypto_handshake_respond_eph(const struct crypto_identity *me,
    const uint8_t peer_x25519[32], const char *me_jid, const char *peer_jid,
    const uint8_t peer_e[32], const uint8_t *eph_sec,
    uint8_t e_pub[CRYPTO_KEY_LEN], struct crypto_channel **out)
{
	struct hs_secrets *s;
	uint8_t *e;
	int rc;

	if (!jid_ok(me_jid) || !jid_ok(peer_jid))
		return -EINVAL;
	if ((s = crypto_secure_alloc(sizeof(*s) + 32)) == NULL)
		return -ENOMEM;
	e = (uint8_t *)(s + 1);
	if (eph_sec)
		memcpy(e, eph_sec, 32);
	else
		crypto_random(e, 32, 0);
	rc = crypto_x25519(e_pub, e, NULL);
	/* ee, es, se, ss: the same products from the other side */
	if (rc == 0)
		rc = crypto_x25519(s->ikm, e, peer_e);
	if (rc == 0)
		rc = crypto_x25519(s->ikm + 32, me->x_sec, peer_e);
	if (rc == 0)
		rc = crypto_x25519(s->ikm + 64, e, peer_x25519);
	if (rc == 0)
		rc = crypto_x25519(s->ikm + 96, me->x_sec, peer_x25519);
	if (rc == 0)
		rc = make_channel(s, 0, me_jid, peer_jid, peer_x25519,
		    me->x_pub, peer_e, e_pub, out);
	crypto_secure_free(s, sizeof(*s) + 32);
	return rc;
}

int
crypto_handshake_respond(const struct crypto_identity *me,
    const uint8_t peer_x25519[CRYPTO_KEY_LEN], const char *me_jid,
    const char *peer_jid, const uint8_t peer_e[CRYPTO_KEY_LEN],
    uint8_t e_pub[CRYPTO_KEY_LEN], struct crypto_channel **out)
{
	return crypto_handshake_respond_eph(me, peer_x25519, me_jid, peer_jid,
	    peer_e, NULL, e_pub, out);
}

size_t
crypto_channel_ad(const char *from, const char *to, const char *type,
    const char *id, const uint8_t session[CRYPTO_SESSION_LEN], uint64_t n,
    uint8_t *out, size_t cap)
{
	static const char label[] = CRYPTO_LABEL_SEALED;
	const char *s[4] = {from, to, type, id ? id : ""};
	size_t len[4], total = sizeof(label) + CRYPTO_SESSION_LEN + 8;
	uint8_t *p;

	for (int i = 0; i < 4; i++) {
		len[i] = s[i] ? strnlen(s[i], CRYPTO_JID_MAX + 1) : 0;
		if (s[i] == NULL || len[i] > CRYPTO_JID_MAX)
			return 0;
		total += 4 + len[i];
	}
	if (total > cap)
		return 0;
	memcpy(out, label, sizeof(label));
	p = out + sizeof(label);
	for (int i = 0; i < 4; i++)
		p = put_str(p, s[i], len[i]);
	memcpy(p, session, CRYPTO_SESSION_LEN);
	crypto_put_u64(p + CRYPTO_SESSION_LEN, n);
	return total;
}

static void
nonce_of(uint64_t n, uint8_t iv[CRYPTO_NONCE_LEN])
{
	memset(iv, 0, 4);
	crypto_put_u64(iv + 4, n);
}

/* Sets up h for message n with its associated data. */
static int
begin(gcry_cipher_hd_t h, const char *from, const char *to,
    const char *type, const char *id, const uint8_t *session, uint64_t n)
{
	uint8_t iv[CRYPTO_NONCE_LEN], ad[CRYPTO_CHANNEL_AD_MAX];
	size_t adlen = crypto_channel_ad(from, to, type, id, session, n, ad,
	    sizeof(ad));

	if (adlen == 0)
		return -EINVAL;
	nonce_of(n, iv);
	if (gcry_cipher_reset(h) != 0 || gcry_cipher_setiv(h, iv, sizeof(iv)) ||
	    gcry_cipher_authenticate(h, ad, adlen) != 0)
		return -EIO;
	return 0;
}

/* The whole message in one call: out gets len bytes (in NULL: in place). */
static int
crypt_final(gcry_cipher_hd_t h, int encrypt, uint8_t *out, size_t len,
    const void *in)
{
	gpg_error_t e;

	gcry_cipher_final(h);
	e = encrypt ? gcry_cipher_encrypt(h, out, len, in, in ? len : 0) :
	    gcry_cipher_decrypt(h, out, len, in, in ? len : 0);
	return e == 0 ? 0 : -EIO;
}

int
crypto_channel_seal(struct crypto_channel *ch, const char *type,
    const char *id, const void *plain, size_t len, char **b64_out)
{
	size_t raw_len = HDR_LEN + len + CRYPTO_TAG_LEN, cap;
	uint8_t *raw;
	char *b64;
	int rc;

	*b64_out = NULL;
	if (len > CRYPTO_SEAL_MAX)
		return -EMSGSIZE;
	if (ch->sent >= CRYPTO_CHANNEL_MAX_MSGS) {
		log_error("channel to %s: %llu messages sealed under one key; "
		    "a new handshake is overdue", ch->peer,
		    (unsigned long long)ch->sent);
		return -ESTALE;
	}
	if ((raw = malloc(raw_len)) == NULL)
		return -ENOMEM;
	cap = (raw_len + 2) / 3 * 4 + 1;
	if ((b64 = malloc(cap)) == NULL) {
		free(raw);
		return -ENOMEM;
	}
	ch->sent++;
	memcpy(raw, ch->session, CRYPTO_SESSION_LEN);
	crypto_put_u64(raw + CRYPTO_SESSION_LEN, ch->sent);
	rc = begin(ch->tx, ch->me, ch->peer, type, id, ch->session, ch->sent);
	if (rc == 0)
		rc = crypt_final(ch->tx, 1, raw + HDR_LEN, len, plain);
	if (rc == 0 && gcry_cipher_gettag(ch->tx, raw + HDR_LEN + len,
	    CRYPTO_TAG_LEN) != 0)
		rc = -EIO;
	if (rc == 0)
		rc = crypto_base64_encode(raw, raw_len, b64, cap);
	free(raw);
	if (rc < 0) {
		free(b64);
		return rc;
	}
	*b64_out = b64;
	return 0;
}

int
crypto_channel_owns(const struct crypto_channel *ch, const char *b64)
{
	uint8_t raw[HDR_LEN + 3];
	size_t n = 0;
	char head[(HDR_LEN + 2) / 3 * 4 + 1];

	/* the header is the first 24 bytes: 32 characters of base64 */
	if (b64 == NULL || strlen(b64) < sizeof(head) - 1)
		return 0;
	memcpy(head, b64, sizeof(head) - 1);
	head[sizeof(head) - 1] = '\0';
	if (crypto_base64_decode(head, raw, sizeof(raw), &n) < 0 ||
	    n < CRYPTO_SESSION_LEN)
		return 0;
	return memcmp(raw, ch->session, CRYPTO_SESSION_LEN) == 0;
}

int
crypto_channel_open(struct crypto_channel *ch, const char *type,
    const char *id, const char *b64, char **plain_out, size_t *len_out)
{
	size_t cap = b64 ? strlen(b64) / 4 * 3 + 3 : 0, n = 0, len;
	uint8_t *raw;
	uint64_t ctr;
	int rc;

	*plain_out = NULL;
	if (b64 == NULL || cap > CRYPTO_SEAL_MAX + HDR_LEN + CRYPTO_TAG_LEN + 6)
		return -EMSGSIZE;
	if ((raw = malloc(cap + 1)) == NULL)
		return -ENOMEM;
	if (crypto_base64_decode(b64, raw, cap, &n) < 0 ||
	    n < HDR_LEN + CRYPTO_TAG_LEN) {
		free(raw);
		return -EBADMSG;	/* not a sealed message, or truncated */
	}
	if (memcmp(raw, ch->session, CRYPTO_SESSION_LEN) != 0) {
		free(raw);
		return -ESTALE;		/* another session's */
	}
	ctr = get_u64(raw + CRYPTO_SESSION_LEN);
	if (ctr <= ch->taken || ctr == 0) {
		free(raw);
		return -EBADMSG;	/* replayed or out of order */
	}
	len = n - HDR_LEN - CRYPTO_TAG_LEN;
	rc = begin(ch->rx, ch->peer, ch->me, type, id, ch->session, ctr);
	if (rc == 0)
		rc = crypt_final(ch->rx, 0, raw + HDR_LEN, len, NULL);
	if (rc == 0 && gcry_cipher_checktag(ch->rx, raw + HDR_LEN + len,
	    CRYPTO_TAG_LEN) != 0)
		rc = -EBADMSG;
	if (rc < 0) {
		crypto_wipe(raw, n);
		free(raw);
		return rc;
	}
	ch->taken = ctr;
	memmove(raw, raw + HDR_LEN, len);
	raw[len] = '\0';
	*plain_out = (char *)raw;
	*len_out = len;
	return 0;
}

int
crypto_channel_needs_rekey(const struct crypto_channel *ch)
{
	return ch->sent >= CRYPTO_CHANNEL_REKEY ||
	    ch->taken >= CRYPTO_CHANNEL_REKEY;
}

void
crypto_channel_session_hex(const struct crypto_channel *ch, char out[17])
{
	crypto_hex_encode(ch->session, 8, out);
}

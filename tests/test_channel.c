/* test_channel.c -- the peer channel (agent/crypto/channel.c): the key
 * schedule against fixed answers, handshakes that agree and that must
 * not, and every message the receiver must refuse.
 *
 * The expected hex and base64 below were produced by this implementation
 * and cross-checked byte for byte with channel() in tests/crypto_kat.py,
 * an independent rendering of docs/protocol.md ("Peer channel") on
 * python3-cryptography (OpenSSL). Regenerate only when the protocol
 * version changes.
 */
#include <errno.h>
#include <stdint.h>

#include "agent/crypto/crypto.h"
#include "agent/crypto/crypto_int.h"
#include "tests/unit.h"

#define INIT() EXPECT_INT(crypto_global_init(), 0)

#define MJID "m@xs.test"
#define SJID "s@xs.test"

#define KAT_EI "493e82fc74464a59268817623d2053c5eb8e2cc4a988b4fee179ec6b010d531d"
#define KAT_ER "605a725d2a4adfeeb1a29e17edd621c1b7593ee8cdbc44ac6c4ab6e2f805d23c"
#define KAT_H "d7c578f9802a00b6bad4ec7dd305a842edd8d34c08f7e91ba246a0b4e79b4528"
#define KAT_K_IR "ce88a36d6dc19d1b326c461503e01c16a582299442f36ed913507d546a9bdd4c"
#define KAT_K_RI "c98dfe9d3268945b8ca7f07d2f5b34442b4f1ac0f7275020b317a2aa823caced"
#define KAT_SESSION "c60e28b488263bbb54090c1493d13863"
#define KAT_HELLO "<hello xmlns='urn:xmpp-sync:meta:0'/>"
#define KAT_SEALED "xg4otIgmO7tUCQwUk9E4YwAAAAAAAAABjg7dJWKMBAGMMClqcwVHvU15" \
	"xDPb1oMsMVidY3NQveu2HeQF4jo+eO1dO/hSBNqyYZm56bU="
#define KAT_CONFIRM "xg4otIgmO7tUCQwUk9E4YwAAAAAAAAAB1xn9iZmYK/nLs3i/Jqla/w=="

static void
seq32(uint8_t *buf, uint8_t start)
{
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(start + i);
}

static const char *
tohex(const uint8_t *p, size_t n)
{
	static char buf[2 * 128 + 1];

	crypto_hex_encode(p, n, buf);
	return buf;
}

/* master: x = 10 .., ed = 20 ..; slave: x = 40 .., ed = 60 ..; another
 * agent: x = a0 .., ed = c0 .. */
static struct crypto_identity *
ident(uint8_t xstart, uint8_t edstart)
{
	struct crypto_identity *id = NULL;
	uint8_t x[32], ed[32];

	seq32(x, xstart);
	seq32(ed, edstart);
	if (crypto_identity_from_secrets(x, ed, &id) != 0)
		abort();
	return id;
}

/* A master (initiator) and slave (responder) channel from a handshake
 * with fixed ephemeral keys (random when fixed is 0). */
struct pair {
	struct crypto_identity *m, *s;
	struct crypto_channel *mc, *sc;
};

static int
pair_make(struct pair *p, int fixed)
{
	uint8_t ei[32], er[32], ei_pub[32], er_pub[32];
	struct crypto_handshake *hs = NULL;
	int rc;

	seq32(ei, 0x80);
	seq32(er, 0xa0);
	p->m = ident(0x10, 0x20);
	p->s = ident(0x40, 0x60);
	rc = crypto_handshake_start_eph(p->m, crypto_identity_x25519_get(p->s),
	    MJID, SJID, fixed ? ei : NULL, &hs, ei_pub);
	if (rc == 0)
		rc = crypto_handshake_respond_eph(p->s,
		    crypto_identity_x25519_get(p->m), SJID, MJID, ei_pub,
		    fixed ? er : NULL, er_pub, &p->sc);
	if (rc == 0)
		rc = crypto_handshake_finish(hs, er_pub, &p->mc);
	crypto_handshake_free(hs);
	return rc;
}

static void
pair_free(struct pair *p)
{
	crypto_channel_free(p->mc);
	crypto_channel_free(p->sc);
	crypto_identity_free(p->m);
	crypto_identity_free(p->s);
}

static int
open_str(struct crypto_channel *ch, const char *type, const char *id,
    const char *b64, const char *want)
{
	char *plain = NULL;
	size_t len = 0;
	int rc = crypto_channel_open(ch, type, id, b64, &plain, &len);

	if (rc == 0 && (len != strlen(want) || strcmp(plain, want) != 0))
		rc = -EILSEQ;
	free(plain);
	return rc;
}

static int
t_key_schedule_fixed(void)
{
	uint8_t ei[32], er[32], si[32], sr[32], ei_pub[32], er_pub[32];
	uint8_t ikm[128], h[32], k_ir[32], k_ri[32], ses[CRYPTO_SESSION_LEN];

	INIT();
	seq32(ei, 0x80);
	seq32(er, 0xa0);
	seq32(si, 0x10);
	seq32(sr, 0x40);
	EXPECT_INT(crypto_x25519(ei_pub, ei, NULL), 0);
	EXPECT_INT(crypto_x25519(er_pub, er, NULL), 0);
	EXPECT_STR(tohex(ei_pub, 32), KAT_EI);
	EXPECT_STR(tohex(er_pub, 32), KAT_ER);
	{
		uint8_t si_pub[32], sr_pub[32];
		EXPECT_INT(crypto_x25519(si_pub, si, NULL), 0);
		EXPECT_INT(crypto_x25519(sr_pub, sr, NULL), 0);
		EXPECT_INT(crypto_channel_transcript(MJID, SJID, si_pub,
		    sr_pub, ei_pub, er_pub, h), 0);
		EXPECT_STR(tohex(h, 32), KAT_H);
		/* ee, es, se, ss from the initiator's side */
		EXPECT_INT(crypto_x25519(ikm, ei, er_pub), 0);
		EXPECT_INT(crypto_x25519(ikm + 32, ei, sr_pub), 0);
		EXPECT_INT(crypto_x25519(ikm + 64, si, er_pub), 0);
		EXPECT_INT(crypto_x25519(ikm + 96, si, sr_pub), 0);
	}
	EXPECT_INT(crypto_channel_schedule(h, ikm, k_ir, k_ri, ses), 0);
	EXPECT_STR(tohex(k_ir, 32), KAT_K_IR);
	EXPECT_STR(tohex(k_ri, 32), KAT_K_RI);
	EXPECT_STR(tohex(ses, CRYPTO_SESSION_LEN), KAT_SESSION);
	return 0;
}

static int
t_handshake_fixed_sealed_message_and_confirm(void)
{
	struct pair p = {0};
	char *b64 = NULL;
	char hex[17];

	INIT();
	EXPECT_INT(pair_make(&p, 1), 0);
	crypto_channel_session_hex(p.mc, hex);
	EXPECT_STR(hex, "c60e28b488263bbb");
	EXPECT_INT(crypto_channel_seal(p.mc, "get", "xs-1", KAT_HELLO,
	    strlen(KAT_HELLO), &b64), 0);
	EXPECT_STR(b64, KAT_SEALED);
	EXPECT_INT(open_str(p.sc, "get", "xs-1", b64, KAT_HELLO), 0);
	free(b64);
	EXPECT_INT(crypto_channel_seal(p.sc, "result", "ch-1", "", 0, &b64), 0);
	EXPECT_STR(b64, KAT_CONFIRM);
	EXPECT_INT(open_str(p.mc, "result", "ch-1", b64, ""), 0);
	free(b64);
	pair_free(&p);
	return 0;
}

static int
t_random_handshakes_agree_and_differ(void)
{
	struct pair a = {0}, b = {0};
	char *m1 = NULL, *m2 = NULL;

	INIT();
	EXPECT_INT(pair_make(&a, 0), 0);
	EXPECT_INT(pair_make(&b, 0), 0);
	EXPECT_INT(crypto_channel_seal(a.mc, "set", "x", "abc", 3, &m1), 0);
	EXPECT_INT(crypto_channel_seal(b.mc, "set", "x", "abc", 3, &m2), 0);
	EXPECT(strcmp(m1, m2) != 0, "two handshakes gave the same keys");
	EXPECT_INT(open_str(a.sc, "set", "x", m1, "abc"), 0);
	EXPECT_INT(open_str(b.sc, "set", "x", m2, "abc"), 0);
	/* each session's message names its session */
	EXPECT_INT(crypto_channel_owns(a.sc, m1), 1);
	EXPECT_INT(crypto_channel_owns(b.sc, m1), 0);
	EXPECT_INT(crypto_channel_owns(a.sc, "not base64 at all!!"), 0);
	free(m1);
	free(m2);
	pair_free(&a);
	pair_free(&b);
	return 0;
}

/* A responder that pinned another key for the initiator (or an impostor
 * without the master's secret) derives other keys: nothing opens. */
static int
t_handshake_with_wrong_static_key_fails(void)
{
	struct crypto_identity *m = ident(0x10, 0x20), *s = ident(0x40, 0x60);
	struct crypto_identity *x = ident(0xa0, 0xc0);
	struct crypto_handshake *hs = NULL;
	struct crypto_channel *mc = NULL, *sc = NULL;
	uint8_t ei[32], er[32];
	char *b64 = NULL;

	INIT();
	EXPECT_INT(crypto_handshake_start(m, crypto_identity_x25519_get(s),
	    MJID, SJID, &hs, ei), 0);
	/* the slave believes the master's key is x's */
	EXPECT_INT(crypto_handshake_respond(s, crypto_identity_x25519_get(x),
	    SJID, MJID, ei, er, &sc), 0);
	EXPECT_INT(crypto_handshake_finish(hs, er, &mc), 0);
	EXPECT_INT(crypto_channel_seal(sc, "result", "h", "", 0, &b64), 0);
	EXPECT(crypto_channel_open(mc, "result", "h", b64, &(char *){0},
	    &(size_t){0}) != 0, "a confirmation under other keys opened");
	free(b64);
	crypto_handshake_free(hs);
	crypto_channel_free(mc);
	crypto_channel_free(sc);
	/* low-order ephemeral key from the peer: refused */
	{
		uint8_t zero[32] = {0};
		EXPECT_INT(crypto_handshake_respond(s,
		    crypto_identity_x25519_get(m), SJID, MJID, zero, er, &sc),
		    -EINVAL);
	}
	crypto_identity_free(m);
	crypto_identity_free(s);
	crypto_identity_free(x);
	return 0;
}

static int
t_counters_strictly_increase_gaps_allowed(void)
{
	struct pair p = {0};
	char *b[4] = {0};

	INIT();
	EXPECT_INT(pair_make(&p, 0), 0);
	for (int i = 0; i < 4; i++)
		EXPECT_INT(crypto_channel_seal(p.mc, "set", "q", "x", 1, &b[i]),
		    0);
	EXPECT_INT(open_str(p.sc, "set", "q", b[0], "x"), 0);
	/* b[1] lost on the way: b[2] still opens */
	EXPECT_INT(open_str(p.sc, "set", "q", b[2], "x"), 0);
	/* replay of the last, of an earlier, and the late one: refused */
	EXPECT_INT(open_str(p.sc, "set", "q", b[2], "x"), -EBADMSG);
	EXPECT_INT(open_str(p.sc, "set", "q", b[0], "x"), -EBADMSG);
	EXPECT_INT(open_str(p.sc, "set", "q", b[1], "x"), -EBADMSG);
	EXPECT_INT(open_str(p.sc, "set", "q", b[3], "x"), 0);
	for (int i = 0; i < 4; i++)
		free(b[i]);
	pair_free(&p);
	return 0;
}

/* Each case: what the receiver is asked to open, and the code it must
 * answer. The message is "<sync/>" sealed by the master as set "q". */
enum mut { M_NONE, M_TRUNC, M_TYPE, M_ID, M_OWN, M_OTHER_SESSION,
	M_PEER_DIRECTION, M_EMPTY, M_GARBAGE, M_HEADER_ONLY };

static const struct {
	const char *name;
	enum mut mut;
	int want;
} refusals[] = {
	{"intact", M_NONE, 0},
	{"truncated by one byte", M_TRUNC, -EBADMSG},
	{"another iq type", M_TYPE, -EBADMSG},
	{"another iq id", M_ID, -EBADMSG},
	{"opened by its own sender (wrong direction)", M_OWN, -EBADMSG},
	{"another session", M_OTHER_SESSION, -ESTALE},
	{"the peer's message reflected back", M_PEER_DIRECTION, -EBADMSG},
	{"empty", M_EMPTY, -EBADMSG},
	{"not base64", M_GARBAGE, -EBADMSG},
	{"header without tag", M_HEADER_ONLY, -EBADMSG},
};

static int
refuse_one(size_t k)
{
	struct pair p = {0}, q = {0};
	struct crypto_channel *rx;
	char *b64 = NULL, *peer = NULL, *plain = NULL;
	const char *type = "set", *id = "q", *text;
	char buf[256];
	size_t len = 0;
	int rc;

	if (pair_make(&p, 0) != 0 || pair_make(&q, 0) != 0 ||
	    crypto_channel_seal(p.mc, "set", "q", "<sync/>", 7, &b64) != 0 ||
	    crypto_channel_seal(p.sc, "set", "q", "<sync/>", 7, &peer) != 0)
		abort();
	rx = p.sc;
	text = b64;
	switch (refusals[k].mut) {
	case M_NONE: break;
	case M_TRUNC: {
		uint8_t raw[128];
		size_t n = 0;
		crypto_base64_decode(b64, raw, sizeof(raw), &n);
		crypto_base64_encode(raw, n - 1, buf, sizeof(buf));
		text = buf;
		break;
	}
	case M_TYPE: type = "get"; break;
	case M_ID: id = "r"; break;
	case M_OWN: rx = p.mc; break;
	case M_OTHER_SESSION: rx = q.sc; break;
	case M_PEER_DIRECTION: rx = p.sc; text = peer; break;
	case M_EMPTY: text = ""; break;
	case M_GARBAGE: text = "<sync/>"; break;
	case M_HEADER_ONLY:
		snprintf(buf, sizeof(buf), "%.32s", b64);
		text = buf;
		break;
	}
	rc = crypto_channel_open(rx, type, id, text, &plain, &len);
	if (rc == 0 && strcmp(plain, "<sync/>") != 0)
		rc = -EILSEQ;
	free(plain);
	free(b64);
	free(peer);
	pair_free(&p);
	pair_free(&q);
	return rc;
}

static int
t_refusals_table(void)
{
	INIT();
	for (size_t k = 0; k < sizeof(refusals) / sizeof(refusals[0]); k++) {
		int rc = refuse_one(k);
		EXPECT(rc == refusals[k].want, "%s: got %d, want %d",
		    refusals[k].name, rc, refusals[k].want);
	}
	return 0;
}

/* Every single bit flipped anywhere in the message is refused, and the
 * intact message still opens after all of them (a refusal moves no
 * counter). */
static int
t_every_bit_flip_refused(void)
{
	struct pair p = {0};
	uint8_t raw[128], bad[128];
	char *b64 = NULL, text[256];
	size_t n = 0;

	INIT();
	EXPECT_INT(pair_make(&p, 0), 0);
	EXPECT_INT(crypto_channel_seal(p.mc, "result", "i", "<r s='ok'/>", 11,
	    &b64), 0);
	EXPECT_INT(crypto_base64_decode(b64, raw, sizeof(raw), &n), 0);
	EXPECT_INT(n, CRYPTO_SESSION_LEN + 8 + 11 + CRYPTO_TAG_LEN);
	for (size_t bit = 0; bit < 8 * n; bit++) {
		memcpy(bad, raw, n);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		crypto_base64_encode(bad, n, text, sizeof(text));
		EXPECT(open_str(p.sc, "result", "i", text, "<r s='ok'/>") != 0,
		    "bit %zu flipped was accepted", bit);
	}
	EXPECT_INT(open_str(p.sc, "result", "i", b64, "<r s='ok'/>"), 0);
	free(b64);
	pair_free(&p);
	return 0;
}

static int
t_size_bounds(void)
{
	struct pair p = {0};
	char *big = calloc(1, CRYPTO_SEAL_MAX + 2), *b64 = NULL;

	INIT();
	EXPECT(big != NULL, "out of memory");
	EXPECT_INT(pair_make(&p, 0), 0);
	memset(big, 'a', CRYPTO_SEAL_MAX + 1);
	EXPECT_INT(crypto_channel_seal(p.mc, "set", "b", big,
	    CRYPTO_SEAL_MAX + 1, &b64), -EMSGSIZE);
	EXPECT(b64 == NULL, "output on failure");
	big[CRYPTO_SEAL_MAX] = '\0';
	EXPECT_INT(crypto_channel_seal(p.mc, "set", "b", big, CRYPTO_SEAL_MAX,
	    &b64), 0);
	EXPECT_INT(open_str(p.sc, "set", "b", b64, big), 0);
	free(b64);
	free(big);
	pair_free(&p);
	return 0;
}

/* After CRYPTO_CHANNEL_REKEY messages either side says a new handshake
 * is due; before, neither does. */
static int
t_rekey_due_after_bound(void)
{
	struct pair p = {0};
	char *b64 = NULL;

	INIT();
	EXPECT_INT(pair_make(&p, 0), 0);
	for (uint64_t i = 1; i <= CRYPTO_CHANNEL_REKEY; i++) {
		EXPECT_INT(crypto_channel_needs_rekey(p.mc), 0);
		EXPECT_INT(crypto_channel_seal(p.mc, "set", "z", "", 0, &b64), 0);
		if (i == CRYPTO_CHANNEL_REKEY - 1 || i == CRYPTO_CHANNEL_REKEY) {
			EXPECT_INT(crypto_channel_needs_rekey(p.sc), 0);
			EXPECT_INT(open_str(p.sc, "set", "z", b64, ""), 0);
		}
		free(b64);
	}
	EXPECT_INT(crypto_channel_needs_rekey(p.mc), 1);
	EXPECT_INT(crypto_channel_needs_rekey(p.sc), 1);
	pair_free(&p);
	return 0;
}

static const struct unit_test tests[] = {
	{"key_schedule_fixed", t_key_schedule_fixed},
	{"handshake_fixed_sealed_message_and_confirm",
	    t_handshake_fixed_sealed_message_and_confirm},
	{"random_handshakes_agree_and_differ",
	    t_random_handshakes_agree_and_differ},
	{"handshake_with_wrong_static_key_fails",
	    t_handshake_with_wrong_static_key_fails},
	{"counters_strictly_increase_gaps_allowed",
	    t_counters_strictly_increase_gaps_allowed},
	{"refusals_table", t_refusals_table},
	{"every_bit_flip_refused", t_every_bit_flip_refused},
	{"size_bounds", t_size_bounds},
	{"rekey_due_after_bound", t_rekey_due_after_bound},
};

UNIT_MAIN(tests)

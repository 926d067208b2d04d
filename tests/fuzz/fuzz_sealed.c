/* fuzz_sealed.c -- the sealed stanza parser (chan_unseal() in
 * agent/xmpp/chan.c) on any bytes: they are parsed as one XML stanza and
 * opened as the slave opens what its master sends, under the session of
 * the fixed handshake of tests/test_channel.c (its known answer "sealed
 * i->r 1" is a seed that opens).
 *
 * What opens must keep the stanza's type and id and hold at most one
 * element; and since nobody without the keys can seal, what opens must
 * open only once (a replay is refused).
 */
#include <errno.h>

#include "agent/crypto/crypto_int.h"
#include "agent/log.h"
#include "agent/xmpp/xmpp.h"
#include "tests/fuzz/fuzz.h"

static void
seq32(uint8_t *buf, uint8_t start)
{
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(start + i);
}

/* The slave's end of the fixed session (master m@xs.test, slave
 * s@xs.test; secrets as in tests/test_channel.c). */
static struct crypto_channel *
slave_end(void)
{
	static struct crypto_identity *m, *s;
	struct crypto_handshake *hs = NULL;
	struct crypto_channel *sc = NULL;
	uint8_t x[32], ed[32], ei[32], er[32], e_pub[32], r_pub[32];

	if (m == NULL) {
		fuzz_check(crypto_global_init() == 0);
		seq32(x, 0x10);
		seq32(ed, 0x20);
		fuzz_check(crypto_identity_from_secrets(x, ed, &m) == 0);
		seq32(x, 0x40);
		seq32(ed, 0x60);
		fuzz_check(crypto_identity_from_secrets(x, ed, &s) == 0);
	}
	seq32(ei, 0x80);
	seq32(er, 0xa0);
	fuzz_check(crypto_handshake_start_eph(m, crypto_identity_x25519_get(s),
	    "m@xs.test", "s@xs.test", ei, &hs, e_pub) == 0);
	fuzz_check(crypto_handshake_respond_eph(s, crypto_identity_x25519_get(m),
	    "s@xs.test", "m@xs.test", e_pub, er, r_pub, &sc) == 0);
	crypto_handshake_free(hs);
	return sc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
	struct crypto_channel *sc;
	xmpp_stanza_t *st, *out = NULL, *again = NULL, *c;
	const char *why = NULL;
	int rc, n = 0;

	if (ctx == NULL)
		return 0;
	log_set_level(LOG_LVL_ERROR);
	if ((st = fuzz_stanza(ctx, data, size)) == NULL) {
		xmpp_ctx_free(ctx);
		return 0;
	}
	sc = slave_end();
	rc = chan_unseal(ctx, sc, NULL, st, &out, &why);
	fuzz_check(rc == 0 || rc == -ESTALE || rc == -EBADMSG ||
	    rc == -EINVAL || rc == -ENOMEM);
	fuzz_check((rc == 0) == (out != NULL) && (rc == 0 || why != NULL));
	if (out) {
		fuzz_check(fuzz_streq(xmpp_stanza_get_type(out),
		    xmpp_stanza_get_type(st)));
		fuzz_check(fuzz_streq(xmpp_stanza_get_id(out),
		    xmpp_stanza_get_id(st)));
		for (c = xmpp_stanza_get_children(out); c;
		    c = xmpp_stanza_get_next(c))
			n++;
		fuzz_check(n <= 1);
		fuzz_check(chan_unseal(ctx, sc, NULL, st, &again, &why) ==
		    -EBADMSG && again == NULL);
		xmpp_stanza_release(out);
	}
	crypto_channel_free(sc);
	xmpp_stanza_release(st);
	xmpp_ctx_free(ctx);
	return 0;
}

/* test_chan.c -- the sealed stanza parser of the peer channel
 * (chan_unseal() in agent/xmpp/chan.c): what opens, under which session,
 * and every stanza it must refuse. The channels come from a handshake
 * with fixed keys (the known answers of tests/test_channel.c).
 */
#include <errno.h>

#include "agent/crypto/crypto.h"
#include "agent/crypto/crypto_int.h"
#include "agent/xmpp/xmpp.h"
#include "tests/testutil.h"
#include "tests/unit.h"

#define MJID "m@xs.test"
#define SJID "s@xs.test"

static void
seq32(uint8_t *buf, uint8_t start)
{
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(start + i);
}

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

/* Master (sender) and slave (receiver) ends of one session. */
struct ends {
	struct crypto_identity *m, *s;
	struct crypto_channel *mc, *sc;
};

static void
ends_make(struct ends *e)
{
	struct crypto_handshake *hs = NULL;
	uint8_t ei[32], er[32];

	e->m = ident(0x10, 0x20);
	e->s = ident(0x40, 0x60);
	if (crypto_handshake_start(e->m, crypto_identity_x25519_get(e->s),
	    MJID, SJID, &hs, ei) != 0 ||
	    crypto_handshake_respond(e->s, crypto_identity_x25519_get(e->m),
	    SJID, MJID, ei, er, &e->sc) != 0 ||
	    crypto_handshake_finish(hs, er, &e->mc) != 0)
		abort();
	crypto_handshake_free(hs);
}

static void
ends_free(struct ends *e)
{
	crypto_channel_free(e->mc);
	crypto_channel_free(e->sc);
	crypto_identity_free(e->m);
	crypto_identity_free(e->s);
}

/* <iq type= id= from=><sealed>seal(plain)</sealed></iq> as text, sealed
 * as stype/sid but sent as type/id (to test the binding). */
static xmpp_stanza_t *
sealed_iq(struct crypto_channel *ch, const char *stype, const char *sid,
    const char *type, const char *id, const char *plain)
{
	char *b64 = NULL, xml[4096];

	if (crypto_channel_seal(ch, stype, sid, plain, strlen(plain), &b64) != 0)
		abort();
	snprintf(xml, sizeof(xml), "<iq type='%s' id='%s' from='" MJID
	    "/xmpp-sync'><sealed xmlns='" NS_XS_SEALED "'>%s</sealed></iq>",
	    type, id, b64);
	free(b64);
	return tu_stanza_parse(xml);
}

static const struct {
	const char *name;
	const char *plain;
	const char *type, *id;     /* as the stanza says; sealed as set/a */
	int other_session;         /* opened by a session it is not of */
	int want;
	const char *child;         /* the element that comes out, or NULL */
} cases[] = {
	{"a request", "<sync xmlns='urn:xmpp-sync:meta:0'><op k='rmdir' "
	    "p='x' q='1'/></sync>", "set", "a", 0, 0, "sync"},
	{"an empty answer", "", "set", "a", 0, 0, NULL},
	{"another type in the stanza", "<hello/>", "get", "a", 0, -EBADMSG,
	    NULL},
	{"another id in the stanza", "<hello/>", "set", "b", 0, -EBADMSG, NULL},
	{"another session", "<hello/>", "set", "a", 1, -ESTALE, NULL},
	{"two elements", "<a/><b/>", "set", "a", 0, -EINVAL, NULL},
	{"text, not an element", "hello", "set", "a", 0, -EINVAL, NULL},
	{"unclosed element", "<hello>", "set", "a", 0, -EINVAL, NULL},
};

static int
t_unseal_table(void)
{
	EXPECT_INT(crypto_global_init(), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ends e, o;
		xmpp_stanza_t *st, *out = NULL, *c;
		const char *why = NULL;
		int rc;

		ends_make(&e);
		ends_make(&o);
		st = sealed_iq(e.mc, "set", "a", cases[i].type, cases[i].id,
		    cases[i].plain);
		EXPECT(st != NULL, "%s: stanza", cases[i].name);
		rc = chan_unseal(tu_xmpp_ctx(), cases[i].other_session ? o.sc :
		    e.sc, NULL, st, &out, &why);
		EXPECT(rc == cases[i].want, "%s: got %d, want %d", cases[i].name,
		    rc, cases[i].want);
		EXPECT(rc == 0 || (out == NULL && why != NULL),
		    "%s: a refusal says why and gives nothing", cases[i].name);
		if (rc == 0) {
			c = stanza_first_element(out);
			EXPECT_STR(xmpp_stanza_get_type(out), cases[i].type);
			EXPECT_STR(xmpp_stanza_get_id(out), cases[i].id);
			EXPECT_STR(xmpp_stanza_get_from(out), MJID "/xmpp-sync");
			if (cases[i].child)
				EXPECT(c && strcmp(xmpp_stanza_get_name(c),
				    cases[i].child) == 0, "%s: child",
				    cases[i].name);
			else
				EXPECT(c == NULL, "%s: no child", cases[i].name);
			xmpp_stanza_release(out);
		}
		ends_free(&e);
		ends_free(&o);
	}
	return 0;
}

/* The previous session still opens what was sealed under it; the same
 * message twice is a replay; a stanza without <sealed/> opens nothing. */
static int
t_unseal_prev_session_replay_and_plain(void)
{
	struct ends old, cur;
	xmpp_stanza_t *st, *out = NULL;
	const char *why;

	EXPECT_INT(crypto_global_init(), 0);
	ends_make(&old);
	ends_make(&cur);
	st = sealed_iq(old.mc, "result", "r1", "result", "r1",
	    "<hello xmlns='urn:xmpp-sync:meta:0' state='ok' seq='3'/>");
	EXPECT_INT(chan_unseal(tu_xmpp_ctx(), cur.sc, old.sc, st, &out, &why),
	    0);
	EXPECT_STR(xmpp_stanza_get_attribute(stanza_first_element(out), "seq"),
	    "3");
	xmpp_stanza_release(out);
	EXPECT_INT(chan_unseal(tu_xmpp_ctx(), cur.sc, old.sc, st, &out, &why),
	    -EBADMSG);
	st = tu_stanza_parse("<iq type='result' id='r2'><hello xmlns="
	    "'urn:xmpp-sync:meta:0' state='ok' seq='4'/></iq>");
	EXPECT_INT(chan_unseal(tu_xmpp_ctx(), cur.sc, old.sc, st, &out, &why),
	    -ESTALE);
	EXPECT(out == NULL, "a plaintext stanza opened");
	ends_free(&old);
	ends_free(&cur);
	return 0;
}

static const struct unit_test tests[] = {
	{"unseal_table", t_unseal_table},
	{"unseal_prev_session_replay_and_plain",
	    t_unseal_prev_session_replay_and_plain},
};

int
main(int argc, char **argv)
{
	int r = unit_run("test_chan.c", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);

	tu_xmpp_done();
	return r;
}

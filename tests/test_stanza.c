/* test_stanza.c -- who a sender is: a peer registered by bare JID is any
 * resource of that account, one registered by full JID (one daemon of an
 * account that runs several) is that resource only; domains compare
 * without case, local parts and resources exactly. */
#include "tests/unit.h"
#include "agent/xmpp/xmpp.h"

static const struct {
	const char *from, *peer;
	int want;
} cases[] = {
	{"s@example.org/photos", "s@example.org", 1},
	{"s@example.org/music", "s@example.org", 1},
	{"s@EXAMPLE.org/photos", "s@example.org", 1},
	{"S@example.org/photos", "s@example.org", 0},
	{"s@example.org/photos", "s@example.org/photos", 1},
	{"s@Example.Org/photos", "s@example.org/photos", 1},
	{"s@example.org/music", "s@example.org/photos", 0},
	{"s@example.org/Photos", "s@example.org/photos", 0},
	{"s@example.org/photos2", "s@example.org/photos", 0},
	{"s@example.org", "s@example.org/photos", 0},
	{"t@example.org/photos", "s@example.org/photos", 0},
	{"s@example.org.evil/photos", "s@example.org/photos", 0},
	{"s@example.org.evil/x", "s@example.org", 0},
	{NULL, "s@example.org", 0},
	{"s@example.org/photos", NULL, 0},
};

static int
t_sender_is_peer_bare_or_full(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		EXPECT(stanza_jid_is_peer(cases[i].from, cases[i].peer) ==
		    cases[i].want, "%s as %s", cases[i].from ? cases[i].from :
		    "(null)", cases[i].peer ? cases[i].peer : "(null)");
	return 0;
}

static const struct unit_test tests[] = {
	{"sender_is_peer_bare_or_full", t_sender_is_peer_bare_or_full},
};
UNIT_MAIN(tests)

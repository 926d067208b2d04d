/* test_peers.c -- how peers find each other by directed presence
 * (peers_presence_plan(), docs/protocol.md section 0): a hello is always
 * answered, an answer never is, and a hello from the full JID already held
 * online means that peer logged in anew without our seeing it go (its
 * server was killed, or the link between two servers broke). Besides the
 * table, two agents exchange presence through the plan until nothing is
 * left to send: they must end up knowing each other, each having proven
 * the other's key in its current session, after a bounded exchange. */
#include "tests/unit.h"
#include "agent/xmpp/xmpp.h"

#define AJID "m@a.test/xmpp-sync"
#define BJID "s@b.test/xmpp-sync"

static const struct {
	const char *known, *from;
	int answer, want;
} plans[] = {
	/* not online yet: a hello is answered, an answer is not */
	{"", BJID, 0, PEERS_PRES_ONLINE | PEERS_PRES_ANSWER},
	{NULL, BJID, 0, PEERS_PRES_ONLINE | PEERS_PRES_ANSWER},
	{"", BJID, 1, PEERS_PRES_ONLINE},
	/* the same session again: a hello means it logged in anew */
	{BJID, BJID, 0, PEERS_PRES_ONLINE | PEERS_PRES_ANSWER | PEERS_PRES_RESET},
	{BJID, BJID, 1, PEERS_PRES_ONLINE},
	/* another resource of the account */
	{"s@b.test/other", BJID, 0, PEERS_PRES_ONLINE | PEERS_PRES_ANSWER},
	{"s@b.test/other", BJID, 1, PEERS_PRES_ONLINE},
};

static int
t_presence_plan_table(void)
{
	for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
		int got = peers_presence_plan(plans[i].known, plans[i].from,
		    plans[i].answer);
		EXPECT(got == plans[i].want, "known %s, from %s, answer %d: "
		    "plan %d, want %d", plans[i].known ? plans[i].known :
		    "(null)", plans[i].from, plans[i].answer, got,
		    plans[i].want);
	}
	return 0;
}

/* One agent as the plan sees it: the other's full JID while it holds it
 * online, whether it proved the other's key in this session, and how many
 * times it did. */
struct agent {
	const char *me;
	char known[64];
	int proven, proofs;
};

/* Presence in flight: to agent `to`, an answer or a hello. */
struct msg {
	int to, answer;
};

struct net {
	struct agent a[2];
	struct msg q[64];
	size_t head, tail, sent;
};

static void
net_send(struct net *n, int to, int answer)
{
	if (n->tail < sizeof(n->q) / sizeof(n->q[0]))
		n->q[n->tail++] = (struct msg){to, answer};
	n->sent++;
}

/* Agent i logs in: it knows nobody and says hello to the other. */
static void
login(struct net *n, int i)
{
	n->a[i].known[0] = '\0';
	n->a[i].proven = 0;
	net_send(n, !i, 0);
}

/* Delivers everything in flight, as on_presence() acts on it. Returns the
 * number of stanzas delivered. */
static size_t
deliver(struct net *n)
{
	size_t count = 0;

	while (n->head < n->tail && count < 32) {
		struct msg m = n->q[n->head++];
		struct agent *to = &n->a[m.to];
		const char *from = n->a[!m.to].me;
		int plan = peers_presence_plan(to->known, from, m.answer);

		count++;
		if (plan & PEERS_PRES_RESET) {
			to->known[0] = '\0';
			to->proven = 0;
		}
		if (plan & PEERS_PRES_ANSWER)
			net_send(n, !m.to, 1);
		if (plan & PEERS_PRES_ONLINE) {
			snprintf(to->known, sizeof(to->known), "%s", from);
			if (!to->proven) {
				to->proven = 1;
				to->proofs++;
			}
		}
	}
	return count;
}

static void
net_init(struct net *n)
{
	memset(n, 0, sizeof(*n));
	n->a[0].me = AJID;
	n->a[1].me = BJID;
}

static int
t_presence_both_log_in_together(void)
{
	struct net n;
	size_t sent;

	net_init(&n);
	login(&n, 0);
	login(&n, 1);
	sent = deliver(&n);
	EXPECT_INT(sent, 4);	/* two hellos, two answers */
	EXPECT_STR(n.a[0].known, BJID);
	EXPECT_STR(n.a[1].known, AJID);
	EXPECT(n.a[0].proofs == 1 && n.a[1].proofs == 1, "proofs %d %d",
	    n.a[0].proofs, n.a[1].proofs);
	return 0;
}

static int
t_presence_late_peer_is_answered(void)
{
	struct net n;
	size_t sent;

	net_init(&n);
	login(&n, 0);
	n.head = n.tail;	/* the other is not online: the server drops it */
	login(&n, 1);
	sent = deliver(&n);
	EXPECT_INT(sent, 2);	/* a hello and its answer */
	EXPECT_STR(n.a[0].known, BJID);
	EXPECT_STR(n.a[1].known, AJID);
	return 0;
}

/* The bug federation showed: the slave's server was killed, so no
 * unavailable presence reached the master, which still held the slave
 * online at the same full JID when the slave logged in again. The master
 * ignored that hello, the slave never learned the master was there and
 * refused its channel handshake for good. Then the same with the roles
 * swapped. */
static int
t_presence_relogin_unseen_by_the_other(void)
{
	for (int who = 0; who < 2; who++) {
		struct net n;
		size_t sent;

		net_init(&n);
		login(&n, 0);
		login(&n, 1);
		deliver(&n);
		login(&n, who);		/* no unavailable crossed */
		sent = deliver(&n);
		EXPECT_INT(sent, 2);
		EXPECT_STR(n.a[0].known, BJID);
		EXPECT_STR(n.a[1].known, AJID);
		EXPECT(n.a[who].proven && n.a[!who].proven,
		    "agent %d logged in again: proven %d %d", who,
		    n.a[0].proven, n.a[1].proven);
		/* both proved each other again in the new session */
		EXPECT(n.a[0].proofs == 2 && n.a[1].proofs == 2,
		    "proofs %d %d", n.a[0].proofs, n.a[1].proofs);
	}
	return 0;
}

static const struct unit_test tests[] = {
	{"presence_plan_table", t_presence_plan_table},
	{"presence_both_log_in_together", t_presence_both_log_in_together},
	{"presence_late_peer_is_answered", t_presence_late_peer_is_answered},
	{"presence_relogin_unseen_by_the_other",
	    t_presence_relogin_unseen_by_the_other},
};
UNIT_MAIN(tests)

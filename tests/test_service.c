/* test_service.c -- the IQ front door (agent/xmpp/service.c) as a peer
 * and a stranger see it: disco#info and ping are answered for every
 * resource of a peer's account, with the features the daemon registers
 * (the Jingle engine's, the hashes of XEP-0300 among them); anyone else
 * gets service-unavailable for every request, whatever its namespace,
 * exactly what the server answers for a resource that is not online. */
#include <stdlib.h>
#include <string.h>

#include "agent/jingle/jingle.h"
#include "agent/log.h"
#include "agent/xmpp/xmpp.h"
#include "tests/unit.h"

#define ME "bob@example.org/xmpp-sync"

struct rig {
	xmpp_ctx_t *ctx;
	xmpp_conn_t *conn;
	struct service *svc;
	char *text[8];
	int n;
};

static void
capture(void *arg, xmpp_stanza_t *st)
{
	struct rig *r = arg;
	size_t len;

	if (r->n < 8 && xmpp_stanza_to_text(st, &r->text[r->n], &len) == 0)
		r->n++;
}

static void
clear(struct rig *r)
{
	for (int i = 0; i < r->n; i++)
		xmpp_free(r->ctx, r->text[i]);
	r->n = 0;
}

/* Admits the accounts of the master (alice) and nobody else. */
static int
gate(void *arg, const char *from)
{
	(void)arg;
	return stanza_jid_is_peer(from, "alice@example.org");
}

static int
rig_up(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	xmpp_initialize();
	if ((r->ctx = xmpp_ctx_new(NULL, NULL)) == NULL ||
	    (r->conn = xmpp_conn_new(r->ctx)) == NULL ||
	    service_new(&r->svc) < 0)
		return -1;
	service_set_output(r->svc, capture, r);
	service_set_gate(r->svc, gate, NULL);
	/* what the daemon adds besides its own namespaces */
	for (const char *const *f = jingle_features(); *f; f++)
		if (service_add_feature(r->svc, *f) < 0)
			return -1;
	return 0;
}

static void
rig_down(struct rig *r)
{
	clear(r);
	service_free(r->svc);
	xmpp_conn_release(r->conn);
	xmpp_ctx_free(r->ctx);
	xmpp_shutdown();
}

/* Feeds one IQ (XML text) from `from`; returns the one reply, or NULL. */
static const char *
ask(struct rig *r, const char *from, const char *iq)
{
	char xml[1024];
	xmpp_stanza_t *st;

	clear(r);
	snprintf(xml, sizeof(xml), iq, from);
	if ((st = xmpp_stanza_new_from_string(r->ctx, xml)) == NULL)
		return NULL;
	service_input(r->svc, r->conn, st);
	xmpp_stanza_release(st);
	return r->n == 1 ? r->text[0] : NULL;
}

#define DISCO "<iq type='get' id='d1' from='%s' to='" ME "'><query " \
	"xmlns='http://jabber.org/protocol/disco#info'/></iq>"
#define PING "<iq type='get' id='p1' from='%s' to='" ME "'><ping " \
	"xmlns='urn:xmpp:ping'/></iq>"

/* XEP-0300 6: "an entity MUST advertise ... urn:xmpp:hashes:2" and
 * urn:xmpp:hash-function-text-names:sha-256 for the function it uses;
 * XEP-0199 4.2: a ping is answered with an empty result. Any resource of
 * a peer's bare JID gets both. */
static int
t_peer_account_gets_disco_and_ping(void)
{
	static const char *const from[] = {
		"alice@example.org/xmpp-sync", "alice@example.org/phone",
		"alice@example.org/probe",
	};
	struct rig r;
	const char *a;

	EXPECT_INT(rig_up(&r), 0);
	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		a = ask(&r, from[i], DISCO);
		EXPECT(a && strstr(a, "type=\"result\"") && strstr(a,
		    "id=\"d1\""), "%s: disco: %s", from[i], a ? a : "none");
		EXPECT(a && strstr(a, "var=\"urn:xmpp:hashes:2\"") &&
		    strstr(a, "var=\"urn:xmpp:hash-function-text-names:"
		    "sha-256\"") && strstr(a, "var=\"urn:xmpp:jingle:apps:"
		    "file-transfer:5\"") && strstr(a, "var=\"urn:xmpp:ping\""),
		    "%s: features: %s", from[i], a ? a : "none");
		a = ask(&r, from[i], PING);
		EXPECT(a && strstr(a, "type=\"result\"") && strstr(a,
		    "id=\"p1\"") && !strstr(a, "<ping"), "%s: ping: %s",
		    from[i], a ? a : "none");
	}
	rig_down(&r);
	return 0;
}

/* Issue 6, after RFC 6120 8.5.3.2.1 (a resource that is not available:
 * "the server MUST ... return a <service-unavailable/> stanza error") and
 * XEP-0166 5.2 for Jingle: a stranger's disco#info, ping and requests of
 * any namespace get service-unavailable and nothing that names us. */
static int
t_stranger_gets_service_unavailable(void)
{
	static const struct { const char *from, *iq; } cases[] = {
		{"mallory@example.org/x", DISCO},
		{"mallory@example.org/x", PING},
		{"alice@example.org.evil/x", DISCO},
		{"mallory@example.org/x", "<iq type='get' id='q' from='%s'>"
		    "<identity xmlns='urn:xmpp-sync:pair:0' nonce='AAAA'/></iq>"},
		{"mallory@example.org/x", "<iq type='set' id='q' from='%s'>"
		    "<nonsense xmlns='urn:example:whatever'/></iq>"},
		{"mallory@example.org/x", "<iq type='get' id='q' from='%s'/>"},
	};
	struct rig r;
	const char *a;

	EXPECT_INT(rig_up(&r), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		a = ask(&r, cases[i].from, cases[i].iq);
		EXPECT(a && strstr(a, "type=\"error\"") &&
		    strstr(a, "<service-unavailable") &&
		    strstr(a, "type=\"cancel\"") && !strstr(a, "xmpp-sync ") &&
		    !strstr(a, "hashes"), "case %zu: %s", i, a ? a : "none");
	}
	/* our own server (no local part) is answered */
	a = ask(&r, "example.org", PING);
	EXPECT(a && strstr(a, "type=\"result\""), "server ping: %s",
	    a ? a : "none");
	rig_down(&r);
	return 0;
}

static const struct unit_test tests[] = {
	{"peer_account_gets_disco_and_ping", t_peer_account_gets_disco_and_ping},
	{"stranger_gets_service_unavailable",
	    t_stranger_gets_service_unavailable},
};

int
main(int argc, char **argv)
{
	log_set_level(LOG_LVL_ERROR);
	return unit_run("test_service.c", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
}

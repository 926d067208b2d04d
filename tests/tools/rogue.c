/* rogue -- test tool: a master that turns against its slave. It logs in
 * with a real master's configuration and state (its account, resource,
 * identity key and registered slaves), pairs with the slave through the
 * project's own peer code (agent/xmpp/peer.c), so the slave trusts it as
 * it trusts the real master, and then sends whatever a script says:
 *
 *   rogue CONFIG SCRIPT SECONDS
 *
 * SCRIPT holds one payload per line: the XML text of the element inside
 * an IQ to the slave, usually <sync xmlns='urn:xmpp-sync:meta:0'>...
 * </sync> (sent as a set; <hello/>, <manifest/> and <digest/> as a get).
 * Blank lines and lines starting with '#' are skipped. Payloads go one at
 * a time, each after the answer to the one before, as the real master
 * sends its batches. Each answer is printed as
 *
 *   ANSWER N result|error <the answer's payload as XML text>
 *
 * Stop the real master first: the rogue uses its resource. Exits 0 when
 * every payload was answered, 1 on timeout, 2 if it cannot log in or the
 * slave never proves its key, 3 on bad arguments or state.
 *
 * Everything the rogue sends to the slave goes through rogue_send(), and
 * every answer through rogue_answer(). Like the real master, it runs the
 * peer channel (agent/xmpp/chan.c) once the slave proved its key: the
 * payloads travel sealed, and the answers are printed as opened. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <strophe.h>

#include "agent/agent.h"
#include "agent/config.h"
#include "agent/crypto/crypto.h"
#include "agent/log.h"
#include "agent/xmpp/xmpp.h"
#include "store/store.h"

#define LINE_MAX_BYTES (256 * 1024)

struct rogue {
	struct cfg *cfg;
	struct store *st;
	struct crypto_identity *id;
	struct peers *peers;
	struct chan *chan;
	struct service *svc;
	struct conn *conn;
	char **payloads;
	size_t n, next;		/* next: the payload to send */
	int waiting;		/* an answer is outstanding */
	int failed;		/* a payload could not be sent */
	char slave[3072];	/* the slave's full JID once it proved its key */
};

/* ---- the one way out and the one way in ------------------------------ */

/* Answers arrive here: prints one ANSWER line and lets the next payload
 * go. Returns 0 (the handler is done). */
static int
rogue_answer(xmpp_conn_t *xc, xmpp_stanza_t *iq, void *arg)
{
	struct rogue *r = arg;
	xmpp_stanza_t *p = stanza_first_element(iq);
	const char *type = xmpp_stanza_get_type(iq);
	char *text = NULL;
	size_t len = 0;

	(void)xc;
	if (type && strcmp(type, "error") == 0)
		p = xmpp_stanza_get_child_by_name(iq, "error");
	if (p == NULL || xmpp_stanza_to_text(p, &text, &len) != XMPP_EOK)
		text = NULL;
	printf("ANSWER %zu %s %s\n", r->next, type ? type : "?",
	    text ? text : "");
	fflush(stdout);
	if (text)
		xmpp_free(conn_get_ctx(r->conn), text);
	r->waiting = 0;
	r->next++;
	return 0;
}

/* Sends payload (XML text of one element) to the slave in an IQ, and
 * registers rogue_answer() for its answer. Returns 0, -EINVAL if the
 * text does not parse, or -ENOMEM. */
static int
rogue_send(struct rogue *r, const char *payload)
{
	xmpp_ctx_t *ctx = conn_get_ctx(r->conn);
	xmpp_stanza_t *q = xmpp_stanza_new_from_string(ctx, payload), *iq;
	const char *name;
	char id[32];

	if (q == NULL)
		return -EINVAL;
	name = xmpp_stanza_get_name(q);
	snprintf(id, sizeof(id), "rogue-%zu", r->next);
	iq = xmpp_iq_new(ctx, strcmp(name, "sync") == 0 ? "set" : "get", id);
	if (iq == NULL) {
		xmpp_stanza_release(q);
		return -ENOMEM;
	}
	xmpp_stanza_set_to(iq, r->slave);
	xmpp_stanza_add_child(iq, q);
	xmpp_stanza_release(q);
	if (chan_send(r->chan, iq, rogue_answer, r) < 0)
		return -ENOMEM;
	r->waiting = 1;
	return 0;
}

/* ---- pairing and the script ------------------------------------------ */

static void
on_trust(void *arg, const char *bare, const char *full, int trusted)
{
	struct rogue *r = arg;

	if (!trusted || full == NULL) {
		r->slave[0] = '\0';
		return;
	}
	snprintf(r->slave, sizeof(r->slave), "%s", full);
	fprintf(stderr, "rogue: %s proved its key at %s, channel up\n", bare,
	    full);
}

static void
on_conn(struct conn *c, int online, void *arg)
{
	struct rogue *r = arg;

	if (!online)
		return;
	fprintf(stderr, "rogue: connected as %s\n", conn_get_bound_jid(c));
	service_attach(r->svc, conn_get_strophe(c));
	chan_online(r->chan, conn_get_strophe(c));
	peers_online(r->peers, r->svc, conn_get_strophe(c));
}

static int
read_script(struct rogue *r, const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = malloc(LINE_MAX_BYTES);
	size_t cap = 0;

	if (fp == NULL || line == NULL) {
		if (fp)
			fclose(fp);
		free(line);
		return -errno;
	}
	while (fgets(line, LINE_MAX_BYTES, fp)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (r->n == cap) {
			char **v = realloc(r->payloads, (cap = cap ? 2 * cap : 16) *
			    sizeof(*v));
			if (v == NULL)
				break;
			r->payloads = v;
		}
		if ((r->payloads[r->n] = strdup(line)) == NULL)
			break;
		r->n++;
	}
	fclose(fp);
	free(line);
	return 0;
}

static int
open_state(struct rogue *r, const char *config)
{
	char db[4200], *pw = NULL;
	int e;

	if (cfg_load(config, &r->cfg) < 0 || r->cfg->role != CFG_ROLE_MASTER) {
		fprintf(stderr, "rogue: %s is not a master's configuration\n",
		    config);
		return -EINVAL;
	}
	snprintf(db, sizeof(db), "%s/%s", r->cfg->state_dir, STATE_DB_NAME);
	if (crypto_global_init() < 0 || store_open(db, &r->st) < 0 ||
	    crypto_identity_load(r->cfg->state_dir, &r->id) < 0 ||
	    service_new(&r->svc) < 0 ||
	    peers_new(r->cfg, r->st, r->id, &r->peers) < 0 ||
	    chan_new(r->cfg, r->id, r->peers, r->svc, &r->chan) < 0 ||
	    cfg_password_read(r->cfg, &pw) < 0) {
		fprintf(stderr, "rogue: cannot open the master's state\n");
		return -EINVAL;
	}
	service_add_feature(r->svc, NS_XS_PAIR);
	chan_set_listener(r->chan, on_trust, r);
	peers_set_listener(r->peers, chan_peer_trust, r->chan);
	e = conn_new(r->cfg, pw, on_conn, r, &r->conn);
	cfg_password_free(pw);
	return e;
}

/* Runs until every payload is answered or the deadline. Returns the exit
 * status. */
static int
run(struct rogue *r, time_t end)
{
	time_t tick = 0;

	while (time(NULL) < end && r->next < r->n && !r->failed) {
		conn_run_once(r->conn, 50);
		if (time(NULL) != tick) {	/* handshakes due, as the daemon */
			tick = time(NULL);
			chan_tick(r->chan);
		}
		if (conn_get_state(r->conn) == CONN_OFFLINE) {
			fprintf(stderr, "rogue: the connection ended\n");
			return 2;
		}
		if (r->waiting || r->slave[0] == '\0' || r->next == r->n)
			continue;
		if (rogue_send(r, r->payloads[r->next]) < 0) {
			fprintf(stderr, "rogue: cannot send payload %zu: %s\n",
			    r->next, r->payloads[r->next]);
			r->failed = 1;
		}
	}
	if (r->next == r->n)
		return 0;
	fprintf(stderr, "rogue: %zu of %zu payloads answered (%s)\n", r->next,
	    r->n, r->slave[0] ? "slave paired" : "slave never proved its key");
	return r->slave[0] ? 1 : 2;	/* slave[0]: paired and channel up */
}

static void
rogue_free(struct rogue *r)
{
	if (r->conn) {
		conn_stop(r->conn);
		for (int i = 0; i < 20 &&
		    conn_get_state(r->conn) != CONN_OFFLINE; i++)
			conn_run_once(r->conn, 50);
		conn_free(r->conn);
	}
	if (r->peers)
		peers_set_listener(r->peers, NULL, NULL);
	chan_free(r->chan);
	peers_free(r->peers);
	service_free(r->svc);
	crypto_identity_free(r->id);
	store_close(r->st);
	cfg_free(r->cfg);
	for (size_t i = 0; i < r->n; i++)
		free(r->payloads[i]);
	free(r->payloads);
}

int
main(int argc, char **argv)
{
	struct rogue r = {0};
	int status = 3;

	if (argc != 4) {
		fprintf(stderr, "usage: rogue CONFIG SCRIPT SECONDS\n");
		return 3;
	}
	xmpp_initialize();
	log_set_level(LOG_LVL_INFO);
	if (read_script(&r, argv[2]) < 0)
		fprintf(stderr, "rogue: cannot read %s\n", argv[2]);
	else if (open_state(&r, argv[1]) == 0 && conn_start(r.conn) == 0)
		status = run(&r, time(NULL) + atoi(argv[3]));
	rogue_free(&r);
	xmpp_shutdown();
	return status;
}

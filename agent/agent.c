/* agent.c -- see agent.h */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/crypto/crypto.h"
#include "agent/json.h"
#include "agent/log.h"
#include "agent/mirror/mirror.h"
#include "agent/xmpp/xmpp.h"
#include "store/store.h"

#define STATUS_MAX (256 * 1024)

static void
on_trust(void *arg, const char *bare, const char *full, int trusted)
{
	struct agent *a = arg;

	mirror_peer(a->mirror, bare, full, trusted);
}

int
agent_open(struct agent *a)
{
	int r;

	if ((r = state_open(a->cfg, &a->store, &a->id)) != XS_EXIT_OK)
		return r;
	if (peers_new(a->cfg, a->store, a->id, &a->peers) < 0) {
		log_error("cannot load the peer list");
		return XS_EXIT_STATE;
	}
	if (chan_new(a->cfg, a->id, a->peers, a->svc, &a->chan) < 0)
		return XS_EXIT_STATE;
	service_add_feature(a->svc, NS_XS_PAIR);
	service_add_feature(a->svc, NS_XS_CHANNEL);
	service_add_feature(a->svc, NS_XS_SEALED);
	struct mirror_env env = {.cfg = a->cfg, .loop = a->loop, .st = a->store,
	    .id = a->id, .peers = a->peers, .chan = a->chan, .svc = a->svc,
	    .xc = conn_get_strophe(a->conn)};
	if (mirror_new(&env, &a->mirror) < 0)
		return XS_EXIT_STATE;
	/* trust reaches the mirror only through the sealed channel */
	chan_set_listener(a->chan, on_trust, a);
	peers_set_listener(a->peers, chan_peer_trust, a->chan);
	return XS_EXIT_OK;
}

void
agent_close(struct agent *a)
{
	/* the peers' trust listener calls into the mirror: unhook it before
	 * the mirror goes, whatever state the connection is in */
	if (a->peers)
		peers_set_listener(a->peers, NULL, NULL);
	if (a->chan)
		chan_set_listener(a->chan, NULL, NULL);
	mirror_free(a->mirror);
	a->mirror = NULL;
	chan_free(a->chan);
	a->chan = NULL;
	peers_free(a->peers);
	a->peers = NULL;
	crypto_identity_free(a->id);
	a->id = NULL;
	store_close(a->store);
	a->store = NULL;
}

void
agent_went_online(struct agent *a)
{
	mirror_online(a->mirror, conn_get_bound_jid(a->conn));
	chan_online(a->chan, conn_get_strophe(a->conn));
	peers_online(a->peers, a->svc, conn_get_strophe(a->conn));
}

void
agent_went_offline(struct agent *a)
{
	if (a->peers)
		peers_offline(a->peers);
	if (a->chan)
		chan_offline(a->chan);
	if (a->mirror)
		mirror_online(a->mirror, NULL);
}

/* Tells systemd the summary line when it changed. */
static void
agent_notify_status(struct agent *a)
{
	char line[256];

	agent_status_line(a, line, sizeof(line));
	if (strcmp(line, a->notified) == 0)
		return;
	snprintf(a->notified, sizeof(a->notified), "%s", line);
	notify_send("STATUS=%s", line);
}

void
agent_tick(struct agent *a)
{
	/* `slave add` and `slave remove` write the store from another
	 * process: picking them up here bounds the delay to a second */
	peers_reload(a->peers);
	chan_tick(a->chan);
	mirror_tick(a->mirror);
	progress_tick(a);
	agent_notify_status(a);
}

struct line_ctx {
	int n, online;
	int64_t backlog;
};

static int
count_peer(const struct peer_info *in, void *arg)
{
	struct line_ctx *c = arg;

	c->n++;
	c->online += in->full != NULL;
	c->backlog += in->backlog;
	return 0;
}

char *
agent_status_line(struct agent *a, char *buf, size_t len)
{
	struct line_ctx c = {0};
	const char *why = "";
	size_t off;

	conn_get_failure(a->conn, &why);
	if (a->conn_state != CONN_ONLINE) {
		snprintf(buf, len, "%s%s%s", a->conn_state == CONN_CONNECTING ?
		    "connecting" : "offline", why[0] ? ": " : "", why);
		return buf;
	}
	peers_foreach(a->peers, count_peer, &c);
	if (a->cfg->role == CFG_ROLE_MASTER)
		off = (size_t)snprintf(buf, len, "online, %d slave%s (%d online), "
		    "backlog %lld", c.n, c.n == 1 ? "" : "s", c.online,
		    (long long)c.backlog);
	else
		off = (size_t)snprintf(buf, len, "online, master %s", c.online ?
		    "online" : "offline");
	if (off < len && a->prog.busy)
		snprintf(buf + off, len - off, ", syncing");
	return buf;
}

void
agent_reload(struct agent *a)
{
	peers_reload(a->peers);
}

char *
agent_status_json(struct agent *a)
{
	char *buf = malloc(STATUS_MAX);
	const char *why = "";
	size_t off = 0;

	if (buf == NULL)
		return NULL;
	conn_get_failure(a->conn, &why);
	off = json_addf(buf, off, STATUS_MAX, "{\"version\":\"%s\",\"role\":\"%s\","
	    "\"jid\":", XS_VERSION, a->cfg->role == CFG_ROLE_MASTER ? "master" :
	    "slave");
	off = json_str(buf, off, STATUS_MAX, a->cfg->jid);
	off = json_addf(buf, off, STATUS_MAX, ",\"dir\":");
	off = json_str(buf, off, STATUS_MAX, a->cfg->dir);
	off = json_addf(buf, off, STATUS_MAX, ",\"connection\":{\"state\":\"%s\","
	    "\"bound_jid\":", a->conn_state == CONN_ONLINE ? "online" :
	    a->conn_state == CONN_CONNECTING ? "connecting" : "offline");
	off = json_str(buf, off, STATUS_MAX, conn_get_bound_jid(a->conn));
	off = json_addf(buf, off, STATUS_MAX, ",\"since\":");
	off = json_time(buf, off, STATUS_MAX, a->conn_state == CONN_ONLINE ?
	    (long long)a->online_since : 0);
	off = json_addf(buf, off, STATUS_MAX, ",\"last_error\":");
	off = json_str(buf, off, STATUS_MAX, why[0] ? why : NULL);
	off = json_addf(buf, off, STATUS_MAX, ",\"reconnects\":%u},\"%s\":",
	    a->failures, a->cfg->role == CFG_ROLE_MASTER ? "slaves" : "masters");
	off = peers_status_json(a->peers, buf, off, STATUS_MAX);
	off = json_addf(buf, off, STATUS_MAX, ",\"transfer\":");
	off = mirror_status_json(a->mirror, buf, off, STATUS_MAX);
	off = progress_json(a, buf, off, STATUS_MAX);
	json_addf(buf, off, STATUS_MAX, "}\n");
	return buf;
}

char *
agent_status_text(struct agent *a, int bars)
{
	char *buf = malloc(STATUS_MAX), since[32];
	const char *why = "";
	size_t off = 0;

	if (buf == NULL)
		return NULL;
	conn_get_failure(a->conn, &why);
	time_text(since, sizeof(since), (long long)a->online_since);
	off = json_addf(buf, off, STATUS_MAX, "xmpp-sync %s: %s %s, folder %s\n",
	    XS_VERSION, a->cfg->role == CFG_ROLE_MASTER ? "master" : "slave",
	    a->cfg->jid, a->cfg->dir);
	if (a->conn_state == CONN_ONLINE)
		off = json_addf(buf, off, STATUS_MAX, "connection: online as %s "
		    "since %s\n", conn_get_bound_jid(a->conn), since);
	else
		off = json_addf(buf, off, STATUS_MAX, "connection: %s%s%s\n",
		    a->conn_state == CONN_CONNECTING ? "connecting" : "offline",
		    why[0] ? "; last error: " : "", why);
	off = json_addf(buf, off, STATUS_MAX, "%s:\n",
	    a->cfg->role == CFG_ROLE_MASTER ? "slaves" : "master");
	off = peers_status_text(a->peers, buf, off, STATUS_MAX);
	off = mirror_status_text(a->mirror, buf, off, STATUS_MAX);
	progress_text(a, buf, off, STATUS_MAX, bars);
	return buf;
}

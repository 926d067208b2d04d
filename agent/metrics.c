/* metrics.c -- see agent.h: `status --prometheus`, the counters and
 * gauges of the running daemon in the Prometheus text exposition format
 * (for node_exporter's textfile collector). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/jingle/jingle.h"
#include "agent/json.h"
#include "agent/mirror/mirror.h"

#define METRICS_MAX (128 * 1024)

struct out {
	char *buf;
	size_t off, len;
	const char *folder;     /* the instance label: the mirrored folder */
	int which;              /* 0: backlog, 1: last sync, 2: online */
};

/* Appends a label value: backslash, double quote and newline escaped as
 * the format asks. Returns the new offset. */
static size_t
label(char *buf, size_t off, size_t len, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			off = json_addf(buf, off, len, "\\%c", *v);
		else if (*v == '\n')
			off = json_addf(buf, off, len, "\\n");
		else
			off = json_addf(buf, off, len, "%c", *v);
	}
	return off;
}

static size_t
head(struct out *o, const char *name, const char *type, const char *help)
{
	return json_addf(o->buf, o->off, o->len, "# HELP xmpp_sync_%s %s\n"
	    "# TYPE xmpp_sync_%s %s\n", name, help, name, type);
}

/* name{dir="...",extra} value */
static void
sample(struct out *o, const char *name, const char *k, const char *v,
    const char *value)
{
	o->off = json_addf(o->buf, o->off, o->len, "xmpp_sync_%s{dir=\"", name);
	o->off = label(o->buf, o->off, o->len, o->folder);
	if (k) {
		o->off = json_addf(o->buf, o->off, o->len, "\",%s=\"", k);
		o->off = label(o->buf, o->off, o->len, v);
	}
	o->off = json_addf(o->buf, o->off, o->len, "\"} %s\n", value);
}

static void
counter(struct out *o, const char *name, const char *help, uint64_t v)
{
	char n[32];

	o->off = head(o, name, "counter", help);
	snprintf(n, sizeof(n), "%" PRIu64, v);
	sample(o, name, NULL, NULL, n);
}

static int
peer_sample(const struct peer_info *in, void *arg)
{
	struct out *o = arg;
	const char *names[] = {"backlog", "last_sync_timestamp_seconds",
	    "peer_online"};
	char n[32];

	snprintf(n, sizeof(n), "%" PRId64, o->which == 0 ? in->backlog :
	    o->which == 1 ? in->last_sync : (int64_t)(in->full != NULL));
	sample(o, names[o->which], "peer", in->jid, n);
	return 0;
}

static void
per_peer(struct out *o, const struct agent *a)
{
	o->which = 0;
	if (a->cfg->role == CFG_ROLE_MASTER) {
		o->off = head(o, "backlog", "gauge", "operations queued for the "
		    "slave");
		peers_foreach(a->peers, peer_sample, o);
		o->which = 1;
		o->off = head(o, "last_sync_timestamp_seconds", "gauge", "unix "
		    "time the slave was last seen complete (0: never)");
		peers_foreach(a->peers, peer_sample, o);
	}
	o->which = 2;
	o->off = head(o, "peer_online", "gauge", "1 while the peer is online");
	peers_foreach(a->peers, peer_sample, o);
}

char *
agent_metrics(struct agent *a)
{
	struct out o = {.buf = malloc(METRICS_MAX), .len = METRICS_MAX,
	    .folder = a->cfg->dir};
	const struct jingle *j = mirror_jingle_get(a->mirror);
	struct mirror_counters c;
	char n[32];

	if (o.buf == NULL)
		return NULL;
	o.buf[0] = '\0';
	mirror_counters_get(a->mirror, &c);
	counter(&o, "files_sent_total", "files sent to slaves", c.files_sent);
	counter(&o, "bytes_sent_total", "bytes of file content sent to slaves "
	    "(less than the files' sizes for deltas and resumes)",
	    c.bytes_sent);
	counter(&o, "file_bytes_sent_total", "sizes of the files sent to slaves",
	    c.file_bytes_sent);
	counter(&o, "deltas_sent_total", "files sent as the chunks a slave "
	    "lacked", c.deltas_sent);
	counter(&o, "files_received_total", "files received from the master",
	    c.files_received);
	counter(&o, "bytes_received_total", "file bytes received from the "
	    "master", c.bytes_received);
	counter(&o, "operations_sent_total", "metadata operations sent",
	    c.ops_sent);
	counter(&o, "operations_applied_total", "operations applied",
	    c.ops_applied);
	counter(&o, "reconnects_total", "logins after the first one",
	    a->reconnects);
	o.off = head(&o, "transfer_failures_total", "counter",
	    "file transfers that failed, by transport");
	for (int t = JINGLE_T_NONE; t < JINGLE_NTRANSPORTS; t++) {
		snprintf(n, sizeof(n), "%" PRIu64, j ? jingle_failures_get(j, t) : 0);
		sample(&o, "transfer_failures_total", "transport",
		    jingle_transport_name(t), n);
	}
	o.off = head(&o, "online", "gauge", "1 while logged in to the server");
	sample(&o, "online", NULL, NULL, a->conn_state == CONN_ONLINE ? "1" : "0");
	o.off = head(&o, "transfers_pending", "gauge", "file transfers in "
	    "flight or queued");
	snprintf(n, sizeof(n), "%u", j ? jingle_pending(j) : 0);
	sample(&o, "transfers_pending", NULL, NULL, n);
	per_peer(&o, a);
	return o.buf;
}

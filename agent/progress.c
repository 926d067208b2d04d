/* progress.c -- see agent.h: the transfers in flight and the totals of a
 * sync in progress, for status, the progress log line and metrics. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/jingle/jingle.h"
#include "agent/json.h"
#include "agent/log.h"
#include "agent/loop.h"
#include "agent/mirror/mirror.h"
#include "store/store.h"

#define PROGRESS_LOG_MS 10000

#define BAR_WIDTH 40

struct out {
	char *buf;
	size_t off, len;
	int n;
	int bars;
	uint64_t done;          /* in-flight plaintext bytes */
	const struct mirror *m; /* to name transfers by their real path */
};

static int
transfer_json(const struct jingle_progress *p, void *arg)
{
	struct out *o = arg;

	o->off = json_addf(o->buf, o->off, o->len, "%s{\"peer\":",
	    o->n++ ? "," : "");
	o->off = json_str(o->buf, o->off, o->len, p->peer);
	o->off = json_addf(o->buf, o->off, o->len, ",\"path\":");
	o->off = json_str(o->buf, o->off, o->len,
	    mirror_transfer_path(o->m, p->name, p->cookie));
	o->off = json_addf(o->buf, o->off, o->len, ",\"direction\":\"%s\","
	    "\"transport\":\"%s\",\"bytes_done\":%" PRIu64 ",\"bytes_total\":%"
	    PRIu64 ",\"rate_bps\":%" PRIu64 "}", p->sending ? "send" : "receive",
	    jingle_transport_name(p->transport), p->bytes_done, p->bytes_total,
	    p->rate_bps);
	return 0;
}

/* Writes n bytes for people: "12.3 MB". Returns buf. */
static char *
human(char *buf, size_t len, uint64_t n)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	double v = (double)n;
	size_t u = 0;

	while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

static int
transfer_text(const struct jingle_progress *p, void *arg)
{
	struct out *o = arg;
	char d[32], t[32], r[32];

	o->off = json_addf(o->buf, o->off, o->len, "  %s %s %s %s: %s of %s "
	    "(%u%%), %s/s over %s\n", p->sending ? "sending" : "receiving",
	    mirror_transfer_path(o->m, p->name, p->cookie),
	    p->sending ? "to" : "from", p->peer,
	    human(d, sizeof(d), p->bytes_done), human(t, sizeof(t), p->bytes_total),
	    p->bytes_total ? (unsigned)(p->bytes_done * 100 / p->bytes_total) : 100,
	    human(r, sizeof(r), p->rate_bps), jingle_transport_name(p->transport));
	if (o->bars) {
		unsigned w = p->bytes_total ? (unsigned)(p->bytes_done *
		    BAR_WIDTH / p->bytes_total) : BAR_WIDTH;
		char bar[BAR_WIDTH + 1];
		memset(bar, '#', w);
		memset(bar + w, '.', BAR_WIDTH - w);
		bar[BAR_WIDTH] = '\0';
		o->off = json_addf(o->buf, o->off, o->len, "  [%s]\n", bar);
	}
	o->n++;
	return 0;
}

static int
sum_done(const struct jingle_progress *p, void *arg)
{
	struct out *o = arg;

	o->done += p->bytes_done;
	o->n++;
	return 0;
}

static int
sum_todo(const struct peer_info *in, void *arg)
{
	struct agent *a = arg;
	int64_t f = 0, b = 0;

	if (store_outbox_todo(a->store, in->jid, &f, &b) == 0) {
		a->prog.todo_files += f;
		a->prog.todo_bytes += b;
	}
	return 0;
}

/* Bytes and files completed since the busy period began. Bytes are the
 * files' sizes, as the outbox counts what is left (a delta sends less). */
static void
done_since(const struct agent *a, uint64_t *files, uint64_t *bytes)
{
	struct mirror_counters c;

	mirror_counters_get(a->mirror, &c);
	*files = c.files_sent + c.files_received - a->prog.files_base;
	*bytes = c.file_bytes_sent + c.bytes_received - a->prog.bytes_base;
}

/* The totals of the sync in progress. Returns 0, or -EAGAIN when none. */
static int
totals(const struct agent *a, struct progress_totals *t)
{
	const struct jingle *j = mirror_jingle_get(a->mirror);
	struct out o = {0};
	int64_t el = loop_now_ms() - a->prog.since_ms;
	uint64_t files, bytes;

	memset(t, 0, sizeof(*t));
	if (!a->prog.busy || j == NULL)
		return -EAGAIN;
	jingle_progress_foreach(j, sum_done, &o);
	done_since(a, &files, &bytes);
	t->files_done = files;
	t->bytes_done = bytes + o.done;
	/* a master knows what is queued; a slave only what is in flight */
	t->files_total = files + (uint64_t)a->prog.todo_files;
	if (a->cfg->role == CFG_ROLE_MASTER)
		t->bytes_total = bytes + (uint64_t)a->prog.todo_bytes;
	else
		t->files_total = files + (uint64_t)o.n;
	if (t->bytes_total < t->bytes_done)
		t->bytes_total = t->bytes_done;
	t->eta_s = -1;
	/* a slave does not know what is still to come */
	if (a->cfg->role == CFG_ROLE_MASTER && el > 1000 && t->bytes_done > 0) {
		double rate = (double)t->bytes_done * 1000.0 / (double)el;
		t->eta_s = (int64_t)((double)(t->bytes_total - t->bytes_done) / rate);
	}
	return 0;
}

/* Notes whether content waits to be sent or received, and when that
 * began. Returns the engine, or NULL before the mirror has one. */
static const struct jingle *
update(struct agent *a)
{
	const struct jingle *j = a->mirror ? mirror_jingle_get(a->mirror) : NULL;
	uint64_t f, b;

	if (j == NULL)
		return NULL;
	a->prog.todo_files = a->prog.todo_bytes = 0;
	if (a->cfg->role == CFG_ROLE_MASTER)
		peers_foreach(a->peers, sum_todo, a);
	if (a->prog.todo_files == 0 && jingle_pending(j) == 0) {
		a->prog.busy = 0;
		return j;
	}
	if (a->prog.busy)
		return j;
	a->prog.files_base = a->prog.bytes_base = 0;
	done_since(a, &f, &b);
	a->prog.files_base = f;
	a->prog.bytes_base = b;
	a->prog.busy = 1;
	a->prog.since_ms = loop_now_ms();
	a->prog.next_log_ms = a->prog.since_ms + PROGRESS_LOG_MS;
	return j;
}

void
progress_tick(struct agent *a)
{
	struct progress_totals t;
	char d[32], tot[32];

	if (update(a) == NULL)
		return;
	if (!a->prog.busy || loop_now_ms() < a->prog.next_log_ms ||
	    totals(a, &t) < 0)
		return;
	a->prog.next_log_ms += PROGRESS_LOG_MS;
	if (a->cfg->role == CFG_ROLE_MASTER)
		log_info("sync progress: %" PRIu64 " of %" PRIu64 " files, %s of "
		    "%s, eta %s%" PRId64 " s", t.files_done, t.files_total,
		    human(d, sizeof(d), t.bytes_done),
		    human(tot, sizeof(tot), t.bytes_total), t.eta_s < 0 ? "~" : "",
		    t.eta_s < 0 ? (int64_t)0 : t.eta_s);
	else
		log_info("sync progress: %" PRIu64 " files, %s received",
		    t.files_done, human(d, sizeof(d), t.bytes_done));
}

size_t
progress_json(struct agent *a, char *buf, size_t off, size_t len)
{
	const struct jingle *j = update(a);
	struct out o = {buf, off, len, 0, 0, 0, a->mirror};
	struct progress_totals t;

	o.off = json_addf(buf, o.off, len, ",\"transfers\":[");
	if (j)
		jingle_progress_foreach(j, transfer_json, &o);
	o.off = json_addf(buf, o.off, len, "],\"sync\":");
	if (a->mirror == NULL || totals(a, &t) < 0)
		return json_addf(buf, o.off, len, "null");
	o.off = json_addf(buf, o.off, len, "{\"files_done\":%" PRIu64 ","
	    "\"files_total\":%" PRIu64 ",\"bytes_done\":%" PRIu64 ","
	    "\"bytes_total\":%" PRIu64 ",\"eta_s\":", t.files_done,
	    t.files_total, t.bytes_done, t.bytes_total);
	return json_addf(buf, o.off, len, t.eta_s < 0 ? "null}" : "%" PRId64 "}",
	    t.eta_s);
}

size_t
progress_text(struct agent *a, char *buf, size_t off, size_t len,
    int bars)
{
	const struct jingle *j = update(a);
	struct out o = {buf, off, len, 0, bars, 0, a->mirror};
	struct progress_totals t;
	char d[32], tot[32];

	if (a->mirror && totals(a, &t) == 0 && a->cfg->role == CFG_ROLE_MASTER) {
		o.off = json_addf(buf, o.off, len, "sync: %" PRIu64 " of %" PRIu64
		    " files, %s of %s", t.files_done, t.files_total,
		    human(d, sizeof(d), t.bytes_done),
		    human(tot, sizeof(tot), t.bytes_total));
		o.off = t.eta_s < 0 ? json_addf(buf, o.off, len, "\n") :
		    json_addf(buf, o.off, len, ", about %" PRId64 " s to go\n",
		    t.eta_s);
	} else if (a->mirror && totals(a, &t) == 0) {
		/* a slave does not know what is still to come */
		o.off = json_addf(buf, o.off, len, "sync: %" PRIu64 " files, %s "
		    "received so far\n", t.files_done,
		    human(d, sizeof(d), t.bytes_done));
	}
	if (j == NULL)
		return o.off;
	o.off = json_addf(buf, o.off, len, "transfers:\n");
	jingle_progress_foreach(j, transfer_text, &o);
	if (o.n == 0)
		o.off = json_addf(buf, o.off, len, "  (none)\n");
	return o.off;
}

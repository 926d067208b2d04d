/* mirror/local.c -- the slave watches its own folder (sync/watch.h, as the
 * master does) so that a local change is undone within seconds, not at
 * the next start.
 *
 * Telling the applier's own writes from local edits: the applier records
 * each change in the slave's index once it is durable, in the same loop
 * callback that made it; events reach us later on the same thread, so by
 * then the disk matches the record and apply_local_check() finds nothing.
 * Only what differs from its record is a local change: it is logged,
 * kept below .xmpp-sync/local/ and recorded (so the manifest shows it),
 * and the slave becomes dirty, a mark kept in its store until the master
 * has replaced its state. A burst of changes becomes one <dirty/> notice
 * to the master (docs/protocol.md), which answers with a reconciliation
 * by manifest; the next hello says "dirty" too, if the notice was lost. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/log.h"
#include "agent/loop.h"
#include "agent/mirror/mirror_int.h"
#include "agent/xmpp/xmpp.h"
#include "sync/apply.h"
#include "sync/scan.h"
#include "sync/watch.h"

#define QUIET_MS 300            /* a burst ends this long after a change */
#define MAX_HOLD_MS 2000        /* and is told at most this long after */
#define NOTICE_TIMEOUT_MS 30000 /* an unanswered notice is given up */
#define DEGRADED_CHECK_MS 60000 /* without watches everywhere */
#define EXPIRE_MS 3600000       /* old versions: hourly */
#define LOG_LINES 50            /* change lines per burst, then a count */

static const char *
kind_name(enum apply_local_kind k)
{
	switch (k) {
	case APPLY_LOCAL_MODIFIED: return "modified";
	case APPLY_LOCAL_CREATED: return "created";
	case APPLY_LOCAL_DELETED: return "deleted";
	}
	return "changed";
}

static void
log_change(struct mirror *m, const char *path, const char *what,
    const char *to)
{
	struct slave_local *l = &m->local;

	if (l->logged >= LOG_LINES) {
		l->unlogged++;
		return;
	}
	l->logged++;
	log_warn("local change on the slave: %s (%s%s%s); restoring the "
	    "master's copy", path, what, to ? " " : "", to ? to : "");
}

/* Logs one change; the two halves of a rename being checked make one
 * line. */
static void
on_change(const char *path, enum apply_local_kind kind, void *arg)
{
	struct mirror *m = arg;
	struct slave_local *l = &m->local;

	if (l->ren_from && kind == APPLY_LOCAL_DELETED &&
	    strcmp(path, l->ren_from) == 0) {
		l->ren_gone = 1;
		return;
	}
	if (l->ren_to && l->ren_gone && kind == APPLY_LOCAL_CREATED &&
	    strcmp(path, l->ren_to) == 0) {
		log_change(m, l->ren_from, "renamed to", path);
		l->ren_logged = 1;
		return;
	}
	log_change(m, path, kind_name(kind), NULL);
}

static void
set_dirty(struct mirror *m)
{
	if (m->dirty)
		return;
	m->dirty = 1;
	store_meta_set_int(m->env.st, STORE_META_LOCAL_CHANGES, 1);
}

/* Compares path (deep: and what is below it) with the index. Returns
 * the number of local changes. */
static int
check(struct mirror *m, const char *path, int deep)
{
	struct slave_local *l = &m->local;
	time_t stamp = l->notify_at_ms ? l->burst_stamp : time(NULL);
	int n = apply_local_check(m->apply, path, deep, stamp, on_change, m);

	if (n <= 0)
		return 0;
	l->gen++;
	set_dirty(m);
	if (l->notify_at_ms == 0) {
		l->burst_ms = loop_now_ms();
		l->burst_stamp = stamp;
	}
	l->notify_at_ms = loop_now_ms() + QUIET_MS;
	if (l->notify_at_ms > l->burst_ms + MAX_HOLD_MS)
		l->notify_at_ms = l->burst_ms + MAX_HOLD_MS;
	return n;
}

static void
check_renamed(struct mirror *m, const struct watch_event *ev)
{
	struct slave_local *l = &m->local;

	l->ren_from = ev->old_path;
	l->ren_to = ev->path;
	l->ren_gone = l->ren_logged = 0;
	check(m, ev->old_path, ev->is_dir);
	check(m, ev->path, ev->is_dir);
	if (l->ren_gone && !l->ren_logged)
		log_change(m, ev->old_path, "deleted", NULL);
	l->ren_from = l->ren_to = NULL;
	l->ren_gone = l->ren_logged = 0;
}

static void
on_event(const struct watch_event *ev, void *arg)
{
	struct mirror *m = arg;

	log_debug("watch: %s %s%s%s", watch_kind_name(ev->kind), ev->path,
	    ev->old_path ? " from " : "", ev->old_path ? ev->old_path : "");
	switch (ev->kind) {
	case WATCH_RENAMED:
		check_renamed(m, ev);
		break;
	case WATCH_DELETED:	/* for a directory: its subtree */
	case WATCH_RESCAN:
		check(m, ev->path, 1);
		break;
	case WATCH_DEGRADED:
		m->local.degraded = 1;
		m->local.next_check_ms = loop_now_ms() + DEGRADED_CHECK_MS;
		log_warn("local changes in folders without a watch are noticed "
		    "by a check of the whole folder every %d s",
		    DEGRADED_CHECK_MS / 1000);
		break;
	default:
		check(m, ev->path, 0);
		break;
	}
}

/* ---- telling the master ------------------------------------------------ */

static int
on_notice_answer(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	struct mirror *m = arg;
	const char *type = xmpp_stanza_get_type(st);

	(void)conn;
	m->local.iq_id[0] = '\0';
	if (type && strcmp(type, "error") == 0)
		log_warn("the master did not take our notice of local changes; "
		    "they are replaced after its next hello");
	return 0;
}

static void
notice_done(struct mirror *m)
{
	if (m->local.iq_id[0])
		chan_cancel(m->env.chan, m->local.iq_id);
	m->local.iq_id[0] = '\0';
}

/* Ends the burst: one line for the changes not logged, and one notice to
 * the master if it is here (else its next hello learns we are dirty). */
static void
notify(struct mirror *m)
{
	struct slave_local *l = &m->local;
	xmpp_ctx_t *ctx;
	xmpp_stanza_t *iq;

	if (l->iq_id[0]) {		/* one at a time */
		l->notify_at_ms = loop_now_ms() + QUIET_MS;
		return;
	}
	if (l->unlogged)
		log_warn("%lld more local changes on the slave; restoring the "
		    "master's copies", (long long)l->unlogged);
	l->notify_at_ms = 0;
	l->logged = l->unlogged = 0;
	if (!m->online || l->master[0] == '\0' || !m->dirty)
		return;
	ctx = xmpp_conn_get_context(m->env.xc);
	snprintf(l->iq_id, sizeof(l->iq_id), "xs-dirty-%u", ++l->iq_seq);
	if ((iq = xmpp_iq_new(ctx, "set", l->iq_id)) == NULL) {
		l->iq_id[0] = '\0';
		return;
	}
	stanza_add_child(ctx, iq, "dirty", NS_XS_META);
	xmpp_stanza_set_to(iq, l->master);
	if (chan_send(m->env.chan, iq, on_notice_answer, m) < 0) {
		l->iq_id[0] = '\0';
		return;
	}
	l->iq_sent_ms = loop_now_ms();
	log_debug("told %s about local changes", l->master);
}

/* ---- the loop ------------------------------------------------------------ */

static void
on_watch_fd(struct loop *lp, int fd, unsigned ev, void *arg)
{
	struct mirror *m = arg;

	(void)lp;
	(void)fd;
	(void)ev;
	watch_process(m->watch, on_event, m);
}

/* Flushes held events and sends a notice that is due; returns the next
 * delay. */
static long
on_timer(struct loop *lp, void *arg)
{
	struct mirror *m = arg;
	int64_t now;
	long t = 250;

	(void)lp;
	if (m->watch) {
		watch_flush_due(m->watch, on_event, m);
		if ((t = watch_next_timeout_ms(m->watch)) < 0 || t > 250)
			t = 250;
	}
	now = loop_now_ms();
	if (m->local.notify_at_ms && now >= m->local.notify_at_ms)
		notify(m);
	if (m->local.notify_at_ms && m->local.notify_at_ms - now < t)
		t = (long)(m->local.notify_at_ms - now);
	return t < 10 ? 10 : t;
}

/* Old versions past their days go, now and hourly. */
static void
expire(struct mirror *m)
{
	int64_t n = 0;

	m->local.next_expire_ms = loop_now_ms() + EXPIRE_MS;
	if (apply_versions_expire(m->apply, time(NULL), &n) == 0 && n > 0)
		log_info("removed %lld old versions kept longer than %u days",
		    (long long)n, m->env.cfg->versions);
}

void
mirror_local_tick(struct mirror *m)
{
	struct slave_local *l = &m->local;
	int64_t now = loop_now_ms();

	if (now >= l->next_expire_ms)
		expire(m);
	if (l->degraded && now >= l->next_check_ms) {
		l->next_check_ms = now + DEGRADED_CHECK_MS;
		check(m, "", 1);
	}
	if (l->iq_id[0] && now - l->iq_sent_ms > NOTICE_TIMEOUT_MS) {
		notice_done(m);
		if (m->dirty && l->notify_at_ms == 0)
			l->notify_at_ms = now;
	}
}

void
mirror_local_master(struct mirror *m, const char *full)
{
	struct slave_local *l = &m->local;

	notice_done(m);
	snprintf(l->master, sizeof(l->master), "%s", full ? full : "");
}

void
mirror_local_manifest(struct mirror *m)
{
	m->local.manifest_gen = m->local.gen;
	m->local.manifest_seen = 1;
}

void
mirror_local_synced(struct mirror *m)
{
	struct slave_local *l = &m->local;

	apply_set_local_seq(m->apply, 0);	/* what is here is the master's */
	if (!m->dirty)
		return;
	if (!l->manifest_seen || l->manifest_gen != l->gen) {
		/* changed since the master last looked: tell it again */
		if (l->notify_at_ms == 0)
			l->notify_at_ms = loop_now_ms() + QUIET_MS;
		return;
	}
	m->dirty = 0;
	store_meta_set_int(m->env.st, STORE_META_LOCAL_CHANGES, 0);
	log_info("local changes replaced by the master's state");
}

/* ---- start and stop ------------------------------------------------------ */

/* A slave without state records what it has; whatever the master then
 * replaces of it was there first, and is kept as a local version. Where
 * that first record ends is kept in the store: a slave stopped before its
 * first sync ended must not take what the master sent it since for files
 * of its own (start_check() does the rest then). */
static int
first_scan(struct mirror *m)
{
	const struct cfg *c = m->env.cfg;
	struct scan_opts so = {.root = c->dir,
	    .ignore = (const char *const *)c->ignore, .n_ignore = c->nignore};
	struct scan_stats ss;
	int64_t seq = 0;
	int r;

	if ((r = scan_run(m->env.st, &so, &ss)) < 0)
		return r;
	if ((r = store_last_seq(m->env.st, &seq)) < 0 ||
	    (r = store_meta_set_int(m->env.st, STORE_META_FIRST_SCAN_SEQ,
	    seq)) < 0)
		return r;
	apply_set_local_seq(m->apply, seq);
	return 0;
}

/* A slave with state compares its folder with its index: whatever
 * changed while it was not running is a local change. */
static int
start_check(struct mirror *m)
{
	int64_t v = 0;
	int n = apply_local_check(m->apply, "", 1, time(NULL), on_change, m);

	if (n < 0)
		return n;
	if (m->local.unlogged)
		log_warn("%lld more local changes on the slave",
		    (long long)m->local.unlogged);
	m->local.logged = m->local.unlogged = 0;
	if (n > 0) {
		set_dirty(m);
		log_warn("%d local changes in %s since the last sync; the "
		    "master's state will replace them (one-way mirror; local "
		    "versions are kept below %s)", n, m->env.cfg->dir,
		    APPLY_AREA_LOCAL);
	}
	if (store_meta_get_int(m->env.st, STORE_META_LOCAL_CHANGES, &v) == 0 &&
	    v != 0)
		m->dirty = 1;
	return 0;
}

static int
start_watch(struct mirror *m)
{
	const struct cfg *c = m->env.cfg;
	int r;

	if (watch_new(c->dir, c->ignore, c->nignore, &m->watch) < 0) {
		/* the watcher has said why */
		m->watch = NULL;
		m->local.degraded = 1;
		m->local.next_check_ms = loop_now_ms() + DEGRADED_CHECK_MS;
		log_warn("local changes in %s are noticed by a check every %d s",
		    c->dir, DEGRADED_CHECK_MS / 1000);
	} else if ((r = loop_fd_add(m->env.loop, watch_fd(m->watch), LOOP_READ,
	    on_watch_fd, m)) < 0) {
		watch_free(m->watch);
		m->watch = NULL;
		log_error("cannot add the watcher to the event loop: %s",
		    strerror(-r));
		return r;
	}
	if ((m->local.timer = loop_timer_add(m->env.loop, 250, on_timer,
	    m)) < 0) {
		r = (int)m->local.timer;
		m->local.timer = 0;
		log_error("cannot add a timer to the event loop: %s",
		    strerror(-r));
		return r;
	}
	return 0;
}

int
mirror_local_start(struct mirror *m)
{
	int64_t seq;
	int r;

	apply_set_versions(m->apply, m->env.cfg->versions);
	/* watch first, then compare: nothing that changes between is missed */
	if ((r = start_watch(m)) < 0)
		return r;
	if (store_meta_get_int(m->env.st, STORE_META_MASTER_SEQ, &seq) == 0)
		r = start_check(m);
	else if (store_meta_get_int(m->env.st, STORE_META_FIRST_SCAN_SEQ,
	    &seq) == 0) {
		/* stopped during its first sync: its own files are the ones
		 * that first scan recorded */
		apply_set_local_seq(m->apply, seq);
		r = start_check(m);
	} else
		r = first_scan(m);
	if (r == 0)
		expire(m);
	return r;
}

void
mirror_local_stop(struct mirror *m)
{
	if (m->local.timer)
		loop_timer_del(m->env.loop, m->local.timer);
	m->local.timer = 0;
	if (m->watch) {
		loop_fd_del(m->env.loop, watch_fd(m->watch));
		watch_free(m->watch);
		m->watch = NULL;
	}
}

/* watch.c -- see watch.h. The public API and the event loop thread's side:
 * records the watcher thread queued (watch_inotify.c, watch_tree.c,
 * watch_queue.c) become watch_events here, with renames paired in
 * watch_moves.c and changes held back in watch_pend.c. The layout is in
 * watch_int.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/log.h"
#include "sync/watch_int.h"

#define TAKE_BATCH 8192 /* records per watch_process() before yielding */

/* CLOCK_MONOTONIC in ms: the clock of every deadline here. It is the
 * event loop's clock too, so the caller's timers and ours agree. */
int64_t
watch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
watch_emit(struct watch *w, enum watch_kind kind, const char *path,
    const char *old, int is_dir)
{
	struct watch_event ev = { kind, path, old, is_dir };

	if (w->cb == NULL)
		return;
	w->cb(&ev, w->cbarg);
	w->nsent++;
}

/* ---- records ---- */

/* Something appeared at r->path: created, or moved in from outside. */
static void
on_new_entry(struct watch *w, const struct watch_rec *r, int is_dir)
{
	if (r->info & WATCH_REC_GONE)
		return; /* its delete follows */
	if (is_dir) {
		watch_emit(w, WATCH_CREATED_DIR, r->path, NULL, 1);
		if (r->info & WATCH_REC_KNOWN) /* content not reported */
			watch_emit(w, WATCH_RESCAN, r->path, NULL, 1);
	} else if (r->info & WATCH_REC_SYMLINK) {
		watch_emit(w, WATCH_SYMLINK, r->path, NULL, 0);
	} else if (r->info & WATCH_REC_FRESH) {
		watch_pend_touch(w, r->path, WATCH_T_WRITING, 0);
	} else if (r->info & WATCH_REC_FOUND) {
		watch_pend_touch(w, r->path, WATCH_T_FOUND, 0);
	} else {
		watch_pend_touch(w, r->path, WATCH_T_CLOSED, 0);
	}
}

static void
on_moved_to(struct watch *w, const struct watch_rec *r, int is_dir)
{
	char *old = r->cookie ? watch_move_take(w, r->cookie) : NULL;

	watch_moves_expire_at(w, r->path);
	if (old == NULL) {
		on_new_entry(w, r, is_dir);
		return;
	}
	watch_emit(w, WATCH_RENAMED, r->path, old, is_dir);
	watch_pend_rename(w, old, r->path, is_dir);
	free(old);
}

static void
handle_rec(struct watch *w, const struct watch_rec *r)
{
	uint32_t m = r->mask;
	int is_dir = (m & IN_ISDIR) != 0;

	if (m & IN_Q_OVERFLOW) {
		if (r->path[0] != '\0')
			watch_emit(w, WATCH_RESCAN, r->path, NULL, 1);
		else
			w->want_rescan = 1;
	} else if (m & IN_MOVED_FROM) {
		watch_move_add(w, r->path, r->cookie, is_dir);
	} else if (m & IN_MOVE_SELF) {
		watch_move_gone(w, r->cookie);
	} else if (m & IN_MOVED_TO) {
		on_moved_to(w, r, is_dir);
	} else if (m & IN_CREATE) {
		watch_moves_expire_at(w, r->path);
		on_new_entry(w, r, is_dir);
	} else if (m & IN_DELETE) {
		watch_emit(w, WATCH_DELETED, r->path, NULL, is_dir);
		watch_pend_drop(w, r->path, is_dir);
	} else if (m & IN_CLOSE_WRITE) {
		watch_pend_touch(w, r->path, WATCH_T_CLOSED, 0);
	} else if (m & IN_MODIFY) {
		watch_pend_touch(w, r->path, WATCH_T_WRITING, 0);
	} else if (m & IN_ATTRIB) {
		watch_pend_touch(w, r->path, WATCH_T_ATTRIB, is_dir);
	}
}

static void
read_queue(struct watch *w)
{
	int overflow;
	struct watch_rec *list = watch_queue_take(&w->q, TAKE_BATCH,
	    &overflow);

	while (list != NULL) {
		struct watch_rec *r = list;
		list = r->next;
		handle_rec(w, r);
		free(r);
	}
	if (overflow) {
		log_warn("more than %zu watcher events waiting: rescanning %s",
		    w->q.max, w->root);
		w->want_rescan = 1;
	}
}

static void
send_flags(struct watch *w)
{
	if (atomic_load(&w->q.degraded) && !w->degraded_sent) {
		w->degraded_sent = 1;
		watch_emit(w, WATCH_DEGRADED, "", NULL, 1);
	}
	if (w->want_rescan) {
		w->want_rescan = 0;
		watch_emit(w, WATCH_RESCAN, "", NULL, 1);
	}
}

static int
run(struct watch *w, int reading, watch_event_cb cb, void *arg)
{
	int64_t now;

	w->cb = cb;
	w->cbarg = arg;
	w->nsent = 0;
	send_flags(w);
	if (reading)
		read_queue(w);
	now = watch_now_ms();
	watch_moves_expire_due(w, now);
	watch_pend_flush(w, now);
	send_flags(w);
	w->cb = NULL;
	w->cbarg = NULL;
	return w->nsent;
}

/* ---- public API ---- */

static int
copy_config(struct watch *w, const char *root, char *const *ignore,
    size_t nignore)
{
	if ((w->root = realpath(root, NULL)) == NULL)
		return -errno;
	if (asprintf(&w->rootslash, "%s%s", w->root,
	    strcmp(w->root, "/") ? "/" : "") < 0) {
		w->rootslash = NULL;
		return -ENOMEM;
	}
	if (nignore && (w->ignore = calloc(nignore, sizeof(char *))) == NULL)
		return -ENOMEM;
	for (; w->nignore < nignore; w->nignore++)
		if ((w->ignore[w->nignore] = strdup(ignore[w->nignore])) == NULL)
			return -ENOMEM;
	return 0;
}

static int
start(struct watch *w)
{
	struct watch_th *t = &w->th;
	int r;

	w->nbucket = 256;
	if ((w->bucket = calloc(w->nbucket, sizeof(*w->bucket))) == NULL)
		return -ENOMEM;
	if ((r = watch_queue_init(&w->q)) < 0)
		return r;
	t->root = w->root;
	t->rootslash = w->rootslash;
	t->ignore = w->ignore;
	t->nignore = w->nignore;
	t->q = &w->q;
	atomic_store(&t->max_dead, WATCH_MAX_DEAD);
	if ((r = watch_th_start(t)) < 0)
		return r;
	w->th_running = 1;
	return 0;
}

int
watch_new(const char *root, char *const *ignore, size_t nignore,
    struct watch **out)
{
	struct watch *w;
	struct stat st;
	int r;

	*out = NULL;
	if (stat(root, &st) < 0) {
		r = -errno;
		log_error("cannot watch %s: %s", root, strerror(errno));
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("cannot watch %s: not a directory", root);
		return -ENOTDIR;
	}
	if ((r = watch_th_claim()) < 0)
		return r;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		watch_th_release();
		return -ENOMEM;
	}
	w->q.efd = -1;
	w->debounce_ms = WATCH_DEBOUNCE_MS;
	w->quiet_ms = WATCH_QUIET_MS;
	w->max_hold_ms = WATCH_MAX_HOLD_MS;
	w->max_pending = WATCH_MAX_PENDING;
	if ((r = copy_config(w, root, ignore, nignore)) < 0 ||
	    (r = start(w)) < 0) {
		watch_free(w); /* releases the singleton */
		return r;
	}
	*out = w;
	return 0;
}

void
watch_free(struct watch *w)
{
	if (w == NULL)
		return;
	if (w->th_running)
		watch_th_stop(&w->th);
	watch_queue_destroy(&w->q);
	watch_pend_clear(w);
	watch_moves_clear(w);
	free(w->heap);
	free(w->bucket);
	for (size_t i = 0; i < w->nignore; i++)
		free(w->ignore[i]);
	free(w->ignore);
	free(w->root);
	free(w->rootslash);
	free(w);
	watch_th_release();
}

int
watch_fd(const struct watch *w)
{
	return w->q.efd;
}

static long
clamp(long ms, long max)
{
	return ms < 0 ? 0 : ms > max ? max : ms;
}

void
watch_set_debounce_ms(struct watch *w, long ms)
{
	w->debounce_ms = clamp(ms, 60000);
}

void
watch_set_quiet_ms(struct watch *w, long quiet_ms, long max_hold_ms)
{
	w->quiet_ms = clamp(quiet_ms, 600000);
	w->max_hold_ms = clamp(max_hold_ms, 600000);
}

int
watch_process(struct watch *w, watch_event_cb cb, void *arg)
{
	return run(w, 1, cb, arg);
}

int
watch_flush_due(struct watch *w, watch_event_cb cb, void *arg)
{
	return run(w, 0, cb, arg);
}

long
watch_next_timeout_ms(const struct watch *w)
{
	int64_t t = watch_pend_next_due(w), m = watch_moves_next_due(w), now;

	if (w->want_rescan || (w->q.degraded && !w->degraded_sent))
		return 0;
	if (m >= 0 && (t < 0 || m < t))
		t = m;
	if (t < 0)
		return -1;
	now = watch_now_ms();
	return t <= now ? 0 : (long)(t - now);
}

const char *
watch_kind_name(enum watch_kind kind)
{
	static const char *const names[] = {
		"changed", "created_dir", "deleted", "renamed", "attrib",
		"symlink", "rescan", "degraded",
	};

	if ((unsigned)kind < sizeof(names) / sizeof(names[0]))
		return names[kind];
	return "unknown";
}

int
watch_test_inject(struct watch *w, uint32_t mask, watch_event_cb cb,
    void *arg)
{
	watch_queue_push(&w->q, "", mask, 0, 0);
	return run(w, 1, cb, arg);
}

void
watch_test_limits(struct watch *w, size_t max_pending, size_t max_dead,
    int fail_add_errno)
{
	w->max_pending = max_pending;
	atomic_store(&w->th.max_dead, max_dead);
	atomic_store(&w->th.fail_add, fail_add_errno);
}

void
watch_test_queue_max(struct watch *w, size_t max)
{
	watch_queue_set_max(&w->q, max);
}

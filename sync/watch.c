/* watch.c -- see watch.h. The public API and the event loop side of each
 * call; the other jobs live in watch_inotify.c (the library and the
 * directory table), watch_moves.c (rename pairing) and watch_pend.c
 * (debouncing), which share the state in watch_int.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/log.h"
#include "sync/watch_int.h"

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

/* ---- the loop side ---- */

static void
send_flags(struct watch *w)
{
	if (w->degraded && !w->degraded_sent) {
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
	int r = 0;
	int64_t now;

	w->cb = cb;
	w->cbarg = arg;
	w->nsent = 0;
	send_flags(w);
	if (reading || w->more)
		r = watch_ino_read(w);
	now = watch_now_ms();
	watch_moves_expire_due(w, now);
	if (w->want_rebuild && !w->more)
		watch_ino_rebuild(w);
	watch_pend_flush(w, now);
	send_flags(w);
	w->cb = NULL;
	w->cbarg = NULL;
	return r < 0 ? r : w->nsent;
}

/* ---- public API ---- */

int
watch_new(const char *root, char *const *ignore, size_t nignore,
    struct watch **out)
{
	struct watch *w;
	struct stat st;
	int r = -ENOMEM;

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
	if ((r = watch_ino_claim()) < 0)
		return r;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		watch_ino_release();
		return -ENOMEM;
	}
	w->epfd = w->ifd = w->root_wd = -1;
	w->debounce_ms = WATCH_DEBOUNCE_MS;
	w->max_pending = WATCH_MAX_PENDING;
	w->max_dead = WATCH_MAX_DEAD;
	w->nbucket = 256;
	if ((w->bucket = calloc(w->nbucket, sizeof(*w->bucket))) == NULL)
		goto fail;
	if ((w->root = realpath(root, NULL)) == NULL) {
		r = -errno;
		goto fail;
	}
	if (asprintf(&w->rootslash, "%s%s", w->root,
	    strcmp(w->root, "/") ? "/" : "") < 0) {
		w->rootslash = NULL;
		goto fail;
	}
	w->rslen = strlen(w->rootslash);
	if (nignore && (w->ignore = calloc(nignore, sizeof(char *))) == NULL)
		goto fail;
	for (; w->nignore < nignore; w->nignore++)
		if ((w->ignore[w->nignore] = strdup(ignore[w->nignore])) == NULL)
			goto fail;
	if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		r = -errno;
		log_error("cannot create epoll descriptor: %s", strerror(errno));
		goto fail;
	}
	if ((r = watch_ino_start(w)) < 0)
		goto fail;
	*out = w;
	return 0;
fail:
	watch_free(w); /* releases the singleton */
	return r;
}

void
watch_free(struct watch *w)
{
	if (w == NULL)
		return;
	watch_ino_stop(w);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->bucket)
		watch_pend_clear(w);
	watch_moves_clear(w);
	free(w->bucket);
	free(w->dirs.v);
	for (size_t i = 0; i < w->nignore; i++)
		free(w->ignore[i]);
	free(w->ignore);
	free(w->root);
	free(w->rootslash);
	free(w);
	watch_ino_release();
}

int
watch_fd(const struct watch *w)
{
	return w->epfd;
}

void
watch_set_debounce_ms(struct watch *w, long ms)
{
	w->debounce_ms = ms < 0 ? 0 : ms > 60000 ? 60000 : ms;
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
	int64_t t = watch_pend_next_due(w), now;

	if (w->more || w->want_rescan || w->want_rebuild ||
	    (w->degraded && !w->degraded_sent))
		return 0;
	if (w->mhead && (t < 0 || w->mhead->due < t))
		t = w->mhead->due;
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
	w->cb = cb;
	w->cbarg = arg;
	w->nsent = 0;
	watch_ino_inject(w, mask);
	send_flags(w);
	w->cb = NULL;
	return w->nsent;
}

void
watch_test_limits(struct watch *w, size_t max_pending, size_t max_dead,
    int fail_add_errno)
{
	w->max_pending = max_pending;
	w->max_dead = max_dead;
	w->fail_add = fail_add_errno;
}


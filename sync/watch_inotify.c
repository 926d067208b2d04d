/* watch_inotify.c -- the watcher thread, and every libinotifytools call.
 * See watch_int.h.
 *
 * libinotifytools keeps one inotify descriptor and its table of watches in
 * globals and is not thread-safe, so all of it stays in this file and runs
 * on the one watcher thread; a static flag allows one watcher per process.
 * It also declares an unrelated "struct watch" and exports watch_from_wd()
 * and friends: never call inotifytools_filename_from_watch() here, and
 * never name a function of ours watch_from_*().
 *
 * What the library does shapes this file:
 * - It does not say which wd a new watch got. Its lookup by name can find
 *   an older record of that name (a directory renamed away: we never
 *   rename records), so record_new() works the wd out another way.
 * - Its records keep the name a directory had when it was watched;
 *   watch_tree.c keeps the real paths and records are only looked up by
 *   wd.
 * - A record can only be removed while the kernel still has the watch
 *   (otherwise it prints a complaint to stderr and keeps the record).
 *   Records of watches the kernel dropped (IN_IGNORED) are counted and,
 *   past max_dead, the library is restarted and a rescan asked for, which
 *   keeps its memory bounded.
 * - Its read buffer is static and outlives inotifytools_cleanup(): it is
 *   drained before every stop, or the next start would hand out stale
 *   events.
 * - It waits in select(), so its descriptor must be below FD_SETSIZE
 *   (fd_guard()), and its timeout counts whole seconds. watch_free()
 *   does not wait for that timeout: it cancels the thread, which only
 *   accepts cancellation while it waits (next_event(), nap()), and the
 *   cleanup handler stops the library on this thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <inotifytools/inotify.h>
#include <inotifytools/inotifytools.h>

#include "agent/log.h"
#include "sync/watch_int.h"

#define WAIT_S       1         /* longest wait in the library, seconds */
#define MOVE_POLL_MS 2         /* wait while a directory move is open */

/* IN_MODIFY comes once per write(): the queue merges a run of them for
 * one file, and the loop only needs them to see a file that changes
 * without being closed. */
#define WATCH_MASK (IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_CREATE |  \
	IN_DELETE | IN_DELETE_SELF | IN_MOVED_FROM | IN_MOVED_TO |	\
	IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK |	\
	IN_MASK_CREATE)

static atomic_int lib_taken; /* the libinotifytools singleton is in use */

/* Takes the libinotifytools singleton. Returns 0 or -EBUSY. */
int
watch_th_claim(void)
{
	return atomic_exchange(&lib_taken, 1) ? -EBUSY : 0;
}

void
watch_th_release(void)
{
	atomic_store(&lib_taken, 0);
}

/* Marks the watcher degraded (once), saying why. */
void
watch_ino_degrade(struct watch_th *t, const char *what, int err)
{
	if (t->degraded)
		return;
	t->degraded = 1;
	if (err == ENOSPC)
		log_warn("cannot watch %s: inotify watch limit reached "
		    "(fs.inotify.max_user_watches is %d); raise it with "
		    "sysctl fs.inotify.max_user_watches=N; falling back to "
		    "periodic rescans", what,
		    inotifytools_get_max_user_watches());
	else
		log_warn("cannot watch %s: %s; falling back to periodic rescans",
		    what, strerror(err));
	watch_queue_degraded(t->q);
}

/* ---- adding and removing watches ---- */

/* The kernel dropped d's watch (IN_IGNORED), or is about to: forget the
 * entry. The library's record stays; count it. */
void
watch_ino_dead(struct watch_th *t, struct watch_dir *d)
{
	watch_dirs_del(t, d);
	if (++t->ndead > atomic_load(&t->max_dead))
		t->want_rebuild = 1;
}

/* Stops watching d: kernel watch, library record, table entry. */
void
watch_ino_rm(struct watch_th *t, struct watch_dir *d)
{
	if (inotifytools_remove_watch_by_wd(d->wd))
		watch_dirs_del(t, d);
	else
		watch_ino_dead(t, d); /* it went away under us */
}

/* The kernel numbers one instance's watches 1, 2, 3, ... and reuses no
 * number before it wraps at INT_MAX, and only this thread adds watches:
 * a new watch has the number after the newest. The library's record for
 * that number carries the name it was given, which confirms it. */
static int
record_new(struct watch_th *t, const char *rel, const char *abs,
    const struct stat *st)
{
	int wd = t->last_wd + 1;
	const char *name = inotifytools_filename_from_wd(wd);
	size_t len = strlen(abs);

	/* the library names directories with one trailing '/' */
	if (strncmp(name, abs, len) != 0 ||
	    strcmp(name + len, abs[len - 1] == '/' ? "" : "/") != 0) {
		/* without IN_MASK_CREATE (kernel < 4.18) an inode watched
		 * already keeps its wd and nothing new is numbered */
		int r = watch_dirs_adopt(t, rel, st->st_dev, st->st_ino);
		if (r != -ENOENT)
			return r;
		log_error("cannot tell which watch %s got; restarting inotify",
		    abs);
		t->want_rebuild = 1;
		return -EIO;
	}
	t->last_wd = wd;
	if (watch_dirs_add(t, wd, st->st_dev, st->st_ino, rel) < 0) {
		log_error("cannot record the watch of %s: out of memory", abs);
		inotifytools_remove_watch_by_wd(wd);
		return -ENOMEM;
	}
	return 0;
}

/* Why a watch could not be added. */
static int
add_failed(struct watch_th *t, const char *rel, const char *abs,
    const struct stat *st, int err)
{
	if (err == EEXIST) {
		int r = watch_dirs_adopt(t, rel, st->st_dev, st->st_ino);
		return r == -ENOENT ? -EEXIST : r;
	}
	if (err == ENOSPC || err == ENOMEM)
		watch_ino_degrade(t, abs, err);
	else
		log_debug("cannot watch %s: %s", abs, strerror(err));
	return err ? -err : -EIO;
}

/* Asks the library to watch the directory abs (rel, st). */
static int
lib_watch(struct watch_th *t, const char *rel, const char *abs,
    const struct stat *st)
{
	for (;;) {
		int err = atomic_load(&t->fail_add);

		if (err == 0 && inotifytools_watch_file(abs, (int)t->mask))
			return record_new(t, rel, abs, st);
		if (err == 0)
			err = inotifytools_error();
		if (err != EINVAL || !(t->mask & IN_MASK_CREATE))
			return add_failed(t, rel, abs, st, err);
		t->mask &= ~(uint32_t)IN_MASK_CREATE; /* kernel < 4.18 */
	}
}

/* See watch_int.h. */
int
watch_ino_add(struct watch_th *t, const char *rel)
{
	struct stat st;
	char *abs;
	int r;

	/* no trailing '/': with one, lstat and inotify would follow a
	 * symlink that replaced the directory meanwhile */
	if (asprintf(&abs, "%s%s", *rel ? t->rootslash : t->root, rel) < 0)
		return -ENOMEM;
	if (lstat(abs, &st) < 0)
		r = -errno;
	else if (!S_ISDIR(st.st_mode))
		r = -ENOTDIR;
	else
		r = lib_watch(t, rel, abs, &st);
	free(abs);
	return r;
}

/* ---- starting and stopping the library ---- */

/* inotify_init() takes the lowest free descriptor, and the library hands
 * it to select(), which cannot take one at or above FD_SETSIZE (glibc
 * aborts, or memory is overwritten). Refuse to start when that lowest
 * free one is too high. Under the default limit of 1024 descriptors this
 * cannot happen; above it another thread opening a file at the same
 * moment could still race us. */
static int
fd_guard(const struct watch_th *t)
{
	struct rlimit rl;
	int fd;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur <= FD_SETSIZE)
		return 0;
	if ((fd = fcntl(t->q->efd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -errno;
	close(fd);
	if (fd < FD_SETSIZE)
		return 0;
	log_error("cannot start inotify: no descriptor below %d is free",
	    FD_SETSIZE);
	return -EMFILE;
}

static void
lib_stop(struct watch_th *t)
{
	if (!t->lib_up)
		return;
	for (long i = 0; i < 1000000 && inotifytools_next_events(0, 1); i++)
		;
	inotifytools_cleanup();
	watch_dirs_clear(t);
	t->lib_up = 0;
	t->root_wd = t->last_wd = -1;
	t->ndead = 0;
}

/* Starts the library and watches the root and everything under it,
 * silently. Returns 0 (possibly degraded) or a negative errno (logged). */
static int
lib_start(struct watch_th *t)
{
	int r;

	if ((r = fd_guard(t)) < 0)
		return r;
	if (!inotifytools_initialize()) {
		int err = inotifytools_error();
		log_error("cannot start inotify: %s", strerror(err));
		return err ? -err : -EIO;
	}
	t->lib_up = 1;
	t->mask = WATCH_MASK;
	t->last_wd = 0;
	r = watch_ino_add(t, "");
	if (r < 0 && !t->degraded) {
		log_error("cannot watch %s: %s", t->root, strerror(-r));
		lib_stop(t);
		return r;
	}
	t->root_wd = r == 0 ? t->last_wd : -1;
	watch_tree_scan(t, "", 0); /* silent: the caller scans */
	return 0;
}

/* Restarts the library from scratch (too many dead records, or the wd
 * count out of step); what happened meanwhile is found by a rescan. */
static void
rebuild(struct watch_th *t)
{
	log_info("restarting inotify watches of %s", t->root);
	t->want_rebuild = 0;
	lib_stop(t);
	watch_tree_clear_moves(t, 1);
	if (lib_start(t) < 0)
		watch_ino_degrade(t, t->root, EIO);
	watch_queue_push(t->q, "", IN_Q_OVERFLOW, 0, 0);
}

/* ---- the thread ---- */

static void
handle(struct watch_th *t, const struct inotify_event *ev)
{
	uint32_t m = ev->mask;
	struct watch_dir *d;
	char *path;

	if (m & IN_Q_OVERFLOW) {
		log_warn("inotify queue overflowed: rescanning %s", t->root);
		watch_queue_push(t->q, "", IN_Q_OVERFLOW, 0, 0);
		return;
	}
	if ((d = watch_dirs_find(t, ev->wd)) == NULL)
		return; /* a watch we dropped already */
	if (ev->wd == t->root_wd &&
	    (m & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT))) {
		log_warn("watched folder %s was moved, deleted or unmounted",
		    t->root);
		watch_queue_push(t->q, "", IN_Q_OVERFLOW, 0, 0);
	}
	if (m & IN_IGNORED) {
		watch_ino_dead(t, d);
		return;
	}
	if (ev->len == 0 || ev->name[0] == '\0')
		return; /* about the directory itself: its parent reports it */
	if (asprintf(&path, "%s%s%s", d->path, *d->path ? "/" : "",
	    ev->name) < 0) {
		watch_queue_push(t->q, "", IN_Q_OVERFLOW, 0, 0);
		return;
	}
	watch_tree_event(t, path, m, ev->cookie);
	free(path);
}

/* Waits up to timeout_s seconds for the next event. The thread accepts
 * cancellation here and in nap() only: never while it holds the queue's
 * mutex or is half-way through its tables. */
static struct inotify_event *
next_event(long timeout_s)
{
	struct inotify_event *ev;
	int old;

	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	ev = inotifytools_next_events(timeout_s, 1);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	return ev;
}

static void
nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	int old;

	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	nanosleep(&ts, NULL);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
}

/* A restart loses the events between its last read and the new watches
 * (the rescan it asks for finds them), so it waits until the library has
 * been idle for a whole wait, unless dead records keep piling up. */
static int
must_rebuild_now(const struct watch_th *t)
{
	return t->want_rebuild && t->ndead > 2 * atomic_load(&t->max_dead);
}

/* Nothing to read: expire directory moves, restart the library if it
 * asked for it. waited: the read waited WAIT_S for nothing. */
static void
idle(struct watch_th *t, int waited)
{
	watch_tree_expire(t, watch_now_ms());
	if (t->dmoves)
		nap(MOVE_POLL_MS); /* its MOVED_TO may be a moment away */
	else if (t->want_rebuild && (waited || must_rebuild_now(t)))
		rebuild(t);
	else if (!t->lib_up)
		nap(1000); /* broken: wait to be stopped */
}

static void
run(struct watch_th *t)
{
	while (!atomic_load(&t->stop)) {
		long wait = t->dmoves || must_rebuild_now(t) ? 0 : WAIT_S;
		struct inotify_event *ev = t->lib_up ? next_event(wait) : NULL;
		int err;

		if (ev != NULL) {
			handle(t, ev);
			continue;
		}
		err = t->lib_up ? inotifytools_error() : 0;
		if (err != 0 && err != EINTR) {
			log_error("cannot read inotify events: %s",
			    strerror(err));
			watch_ino_degrade(t, t->root, err);
			watch_queue_push(t->q, "", IN_Q_OVERFLOW, 0, 0);
			lib_stop(t);
		}
		idle(t, wait > 0);
	}
}

static void
cleanup(void *arg)
{
	struct watch_th *t = arg;
	int old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	lib_stop(t);
	watch_tree_clear_moves(t, 0);
}

static void *
thread_main(void *arg)
{
	struct watch_th *t = arg;
	int old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	t->start_err = lib_start(t);
	if (t->start_err < 0) {
		sem_post(&t->started);
		return NULL;
	}
	sem_post(&t->started);
	pthread_cleanup_push(cleanup, t);
	run(t);
	pthread_cleanup_pop(1);
	return NULL;
}

/* Starts the watcher thread, which starts the library and watches the
 * tree, and waits for it to be ready. Returns 0, or a negative errno
 * (logged) with no thread left running. */
int
watch_th_start(struct watch_th *t)
{
	sigset_t mask, old;
	int r;

	t->root_wd = t->last_wd = -1;
	if (sem_init(&t->started, 0, 0) < 0)
		return -errno;
	/* process signals are for the loop thread; faults stay deliverable */
	sigfillset(&mask);
	sigdelset(&mask, SIGSEGV);
	sigdelset(&mask, SIGBUS);
	sigdelset(&mask, SIGFPE);
	sigdelset(&mask, SIGILL);
	pthread_sigmask(SIG_SETMASK, &mask, &old);
	r = -pthread_create(&t->thread, NULL, thread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		log_error("cannot start the watcher thread: %s", strerror(-r));
		sem_destroy(&t->started);
		return r;
	}
	while (sem_wait(&t->started) < 0 && errno == EINTR)
		;
	sem_destroy(&t->started);
	if (t->start_err < 0) {
		pthread_join(t->thread, NULL);
		return t->start_err;
	}
	return 0;
}

/* Stops the thread and waits for it; it stops the library on its way
 * out. Returns nothing. */
void
watch_th_stop(struct watch_th *t)
{
	atomic_store(&t->stop, 1);
	pthread_cancel(t->thread);
	pthread_join(t->thread, NULL);
}

/* watch_int.h -- private to sync/watch*.c: the watcher's state and the
 * functions its files share. Nothing outside sync/watch*.c includes this.
 *
 * Two threads share a watcher, and each file works for one of them:
 *
 *   watcher thread
 *     watch_inotify.c  the thread, and every libinotifytools call (the only
 *                      file that includes its headers)
 *     watch_dirs.c     the table of watched directories: wd -> path
 *     watch_tree.c     which events to keep, directory moves, scans of
 *                      new directories
 *   both
 *     watch_queue.c    records handed from the watcher thread to the loop
 *   event loop thread
 *     watch.c          public API; turns records into watch_events
 *     watch_moves.c    pairs MOVED_FROM with MOVED_TO into renames
 *     watch_pend.c     changes held back until they settle
 *
 * The watcher thread owns struct watch_th's "thread only" part, the loop
 * thread owns everything in struct watch outside th and q. They share the
 * queue (under its mutex) and the atomics marked below, nothing else.
 */
#ifndef XS_WATCH_INT_H
#define XS_WATCH_INT_H

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "sync/watch.h"

#define WATCH_DEBOUNCE_MS    200
#define WATCH_QUIET_MS       2000
#define WATCH_MAX_HOLD_MS    30000
#define WATCH_MOVE_MS        100     /* wait for the MOVED_TO of a MOVED_FROM */
#define WATCH_DIR_MOVE_MS    2000    /* ... of a directory, if the watcher
				      * thread does not settle it first */
#define WATCH_MAX_PENDING    100000  /* held or cooling paths, open moves */
#define WATCH_MAX_DEAD       4096    /* dead library records before a restart */
#define WATCH_QUEUE_MAX      65536   /* records waiting for the loop thread */

/* watch_ino_add() result: the directory was already watched under another
 * name (it moved while we were not looking); its watches now carry the new
 * name, and its content was not scanned. */
#define WATCH_ELSEWHERE      (-EALREADY)

/* ---- records: what the watcher thread hands to the loop thread ---- */

/* What the watcher thread learned about a record's entry. */
#define WATCH_REC_SYMLINK 0x01u /* a symlink */
#define WATCH_REC_FRESH   0x02u /* a regular file just created, one link:
				 * probably still being written */
#define WATCH_REC_FOUND   0x04u /* found by scanning a new directory */
#define WATCH_REC_KNOWN   0x08u /* a directory whose watches came with it
				 * from another name: content not reported */
#define WATCH_REC_GONE    0x10u /* gone before the thread could look */

/* One decoded inotify event. mask holds the inotify bits (IN_CREATE,
 * IN_MOVED_TO, ... | IN_ISDIR) with two of our own meanings:
 * IN_Q_OVERFLOW asks for a rescan of path, and IN_MOVE_SELF | IN_ISDIR
 * says the directory that moved away from path with cookie left the
 * folder and is no longer watched. */
struct watch_rec {
	struct watch_rec *next;
	uint32_t mask;
	uint32_t cookie;       /* pairs IN_MOVED_FROM with IN_MOVED_TO */
	uint32_t info;         /* WATCH_REC_* */
	char path[];           /* relative to the root; "" is the root */
};

struct watch_queue {
	pthread_mutex_t mu;
	struct watch_rec *head, *tail;  /* under mu */
	size_t n, max;                  /* under mu */
	int overflow;                   /* under mu: records were dropped */
	atomic_int degraded;            /* some directory is not watched */
	int efd;                        /* readable while records wait */
};

/* ---- the watcher thread's state ---- */

/* A watched directory. The table is sorted by wd (the kernel hands them
 * out in increasing order); path NULL marks a removed entry. */
struct watch_dir {
	int wd;
	dev_t dev;
	ino_t ino;
	char *path;            /* relative to the root; "" is the root */
};

/* A watched directory's MOVED_FROM waiting for its MOVED_TO. */
struct watch_dmove {
	struct watch_dmove *next;
	uint32_t cookie;
	int64_t due;
	char path[];
};

struct watch_th {
	/* set before the thread starts, read-only afterwards */
	const char *root;      /* realpath of the root, for messages */
	const char *rootslash; /* root with one trailing '/' */
	char *const *ignore;
	size_t nignore;
	struct watch_queue *q;

	/* shared */
	atomic_int stop;       /* watch_free() wants the thread to end */
	atomic_size_t max_dead;
	atomic_int fail_add;   /* test hook: errno for every watch add */
	pthread_t thread;
	sem_t started;         /* posted once start_err is set */
	int start_err;

	/* watcher thread only */
	struct watch_dir *dirs;
	size_t ndirs, cap, ngone;
	struct watch_dmove *dmoves, *dmtail;
	int lib_up;            /* the library is started */
	uint32_t mask;
	int root_wd;
	int last_wd;           /* the newest watch */
	size_t ndead;          /* library records the kernel dropped */
	int want_rebuild;
	int degraded;
};

/* ---- the loop thread's state ---- */

enum { P_CHANGED = 1, P_ATTRIB = 2 };

/* What happened to a path, for watch_pend_touch(). */
enum watch_touch {
	WATCH_T_CLOSED,        /* written and closed, moved in, a new link:
				* a finished change */
	WATCH_T_WRITING,       /* IN_MODIFY, or just created: more may come */
	WATCH_T_FOUND,         /* found by scanning a new directory */
	WATCH_T_ATTRIB,        /* metadata only */
};

/* A held change (flags != 0, sent at due) or a path sent lately (flags 0,
 * "cooling", forgotten at due). In the hash table by path and in the heap
 * by due. */
struct watch_pend {
	struct watch_pend *hnext;
	char *path;
	int64_t due;
	int64_t since;         /* held: start of the hold; cooling: sent */
	size_t heap;           /* index in watch.heap */
	unsigned flags;        /* P_CHANGED | P_ATTRIB */
	unsigned char is_dir;
	unsigned char writing; /* modified, not closed since */
	unsigned char hot;     /* changed again soon after it was sent */
	unsigned char doomed;  /* to be freed by a bulk removal */
};

/* An IN_MOVED_FROM waiting for its IN_MOVED_TO. */
struct watch_move {
	struct watch_move *next;
	char *path;
	uint32_t cookie;
	int is_dir;
	int64_t due;
};

struct watch {
	char *root;            /* realpath of the root */
	char *rootslash;       /* root with one trailing '/' */
	char **ignore;
	size_t nignore;
	struct watch_queue q;
	struct watch_th th;
	int th_running;

	long debounce_ms;      /* quiet time of a path that keeps changing */
	long quiet_ms;         /* quiet time of a file modified, not closed */
	long max_hold_ms;      /* longest hold while a path keeps changing */
	size_t max_pending;

	struct watch_pend **bucket;
	size_t nbucket;
	struct watch_pend **heap;
	size_t npend, heapcap;

	struct watch_move *mhead, *mtail;
	size_t nmoves;

	int degraded_sent, want_rescan;

	watch_event_cb cb;     /* set during watch_process()/flush_due() */
	void *cbarg;
	int nsent;
};

/* Whether path is dir or lies under it. */
static inline int
watch_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 0)
		return 1;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* ---- watch.c (loop thread) ---- */

/* Returns CLOCK_MONOTONIC in ms, the clock of every deadline. */
int64_t watch_now_ms(void);

/* Hands one event to the callback of the current watch_process() or
 * watch_flush_due() call (none outside them). Returns nothing. */
void watch_emit(struct watch *w, enum watch_kind kind, const char *path,
    const char *old, int is_dir);

/* ---- watch_queue.c: the hand-over between the threads ---- */

/* Sets up an empty queue and its eventfd. Returns 0 or a negative errno
 * (logged); free with watch_queue_destroy(). */
int watch_queue_init(struct watch_queue *q);

/* Frees the records left and closes the eventfd; the watcher thread must
 * be stopped. Returns nothing. */
void watch_queue_destroy(struct watch_queue *q);

/* Watcher thread: queues a copy of (path, mask, cookie, info), merged with
 * an identical last record, or dropped (and an overflow noted) when the
 * queue is full or memory is short. Never blocks for long. Returns
 * nothing. */
void watch_queue_push(struct watch_queue *q, const char *path, uint32_t mask,
    uint32_t cookie, uint32_t info);

/* Watcher thread: marks the watcher degraded and wakes the loop. Returns
 * nothing. */
void watch_queue_degraded(struct watch_queue *q);

/* Loop thread: takes up to max records, oldest first, and sets *overflow
 * to 1 if any were dropped since the last call. Returns a list linked by
 * next (the caller frees each record with free()) or NULL. */
struct watch_rec *watch_queue_take(struct watch_queue *q, size_t max,
    int *overflow);

/* Bounds the queue to max records (at least 1). Returns nothing. */
void watch_queue_set_max(struct watch_queue *q, size_t max);

/* ---- watch_inotify.c: the thread and the library ---- */

/* Takes the process's one libinotifytools. Returns 0 or -EBUSY; give it
 * back with watch_th_release(). */
int watch_th_claim(void);
void watch_th_release(void);

/* Starts the watcher thread (t's read-only part set), which starts the
 * library and watches the tree, and waits until it has. Returns 0, or a
 * negative errno (logged) with no thread left; stop with
 * watch_th_stop(). */
int watch_th_start(struct watch_th *t);

/* Cancels the thread and joins it; it stops the library and frees its own
 * state on the way out. Returns nothing. */
void watch_th_stop(struct watch_th *t);

/* Watcher thread: watches the directory rel. Returns 0 (new watch),
 * -EEXIST (watched at rel already), WATCH_ELSEWHERE, -ENOENT/-ENOTDIR
 * (gone), or another negative errno (logged if it degrades the watcher). */
int watch_ino_add(struct watch_th *t, const char *rel);

/* Watcher thread: stops watching d (kernel watch, library record, table
 * entry). Returns nothing. */
void watch_ino_rm(struct watch_th *t, struct watch_dir *d);

/* Watcher thread: the kernel dropped d's watch, or is about to: forgets
 * the entry and counts the library record left behind. Returns nothing. */
void watch_ino_dead(struct watch_th *t, struct watch_dir *d);

/* Watcher thread: marks the watcher degraded the first time, logging why
 * (what could not be watched, err). Returns nothing. */
void watch_ino_degrade(struct watch_th *t, const char *what, int err);

/* ---- watch_dirs.c: the table of watched directories (watcher thread) */

/* Returns the live entry for wd (valid until the next watch_dirs_add()),
 * or NULL. */
struct watch_dir *watch_dirs_find(struct watch_th *t, int wd);

/* Records wd as the watch of path (copied). Returns 0 or -ENOMEM. */
int watch_dirs_add(struct watch_th *t, int wd, dev_t dev, ino_t ino,
    const char *path);

/* Removes d (the watch itself is the caller's business). Returns
 * nothing. */
void watch_dirs_del(struct watch_th *t, struct watch_dir *d);

/* Removes every entry and frees the table. Returns nothing. */
void watch_dirs_clear(struct watch_th *t);

/* Gives the entries at or under old the same place under new. Returns how
 * many moved. */
size_t watch_dirs_rekey(struct watch_th *t, const char *old,
    const char *new);

/* Unwatches path and everything under it. Returns nothing. */
void watch_dirs_forget(struct watch_th *t, const char *path);

/* A directory was renamed over the (empty) directory at path: forgets
 * that one's entry. Returns nothing. */
void watch_dirs_drop_replaced(struct watch_th *t, const char *path);

/* The kernel says the directory (dev, ino) at path is watched already.
 * Returns -EEXIST if it is watched at path, WATCH_ELSEWHERE after moving
 * its entries from where it was to path, or -ENOENT if the table does not
 * know it. */
int watch_dirs_adopt(struct watch_th *t, const char *path, dev_t dev,
    ino_t ino);

/* ---- watch_tree.c: events, directory moves, scans (watcher thread) */

/* Handles one event about the entry at path (relative to the root): keeps
 * the table up to date and queues a record unless the entry is ignored.
 * Returns nothing. */
void watch_tree_event(struct watch_th *t, const char *path, uint32_t mask,
    uint32_t cookie);

#define WATCH_SCAN_REPORT  1  /* queue what is found as new */
#define WATCH_SCAN_RECHECK 2  /* walk watched directories too, unwatch
			       * the ignored ones */

/* Walks the directory top, watching the directories in it that are not
 * ignored; mode is WATCH_SCAN_* or 0 (silent). Stops early when the
 * thread is asked to stop. Returns nothing (out of memory asks the loop
 * for a full rescan). */
void watch_tree_scan(struct watch_th *t, const char *top, int mode);

/* Unwatches the directories whose MOVED_TO did not come by now, and tells
 * the loop they left. Returns nothing. */
void watch_tree_expire(struct watch_th *t, int64_t now);

/* Forgets the open directory moves; report: tell the loop they left.
 * Returns nothing. */
void watch_tree_clear_moves(struct watch_th *t, int report);

/* ---- watch_pend.c: CHANGED/ATTRIB held back by path (loop thread) */

/* Records that path changed (how; is_dir for a directory's ATTRIB) and
 * works out when it goes out. Too many paths held drops them all for a
 * rescan. Returns nothing. */
void watch_pend_touch(struct watch *w, const char *path, enum watch_touch how,
    int is_dir);

/* Forgets what is held for path, and under it if subtree. Returns
 * nothing. */
void watch_pend_drop(struct watch *w, const char *path, int subtree);

/* Moves what is held for old (and under it if subtree) to new; what is
 * held at new already absorbs it. Returns nothing. */
void watch_pend_rename(struct watch *w, const char *old, const char *new,
    int subtree);

/* Returns the earliest deadline held (ms, watch_now_ms() clock) or -1. */
int64_t watch_pend_next_due(const struct watch *w);

/* Sends what is due by now through watch_emit(). Returns nothing. */
void watch_pend_flush(struct watch *w, int64_t now);

/* Forgets everything held. Returns nothing. */
void watch_pend_clear(struct watch *w);

/* ---- watch_moves.c: MOVED_FROM halves waiting for their MOVED_TO (loop
 * thread) */

/* Opens a move of path with cookie. Returns nothing. */
void watch_move_add(struct watch *w, const char *path, uint32_t cookie,
    int is_dir);

/* Closes the move with cookie. Returns its old path (caller frees) or
 * NULL. */
char *watch_move_take(struct watch *w, uint32_t cookie);

/* The watcher thread found no pair for the directory moved with cookie:
 * reports it deleted. Returns nothing. */
void watch_move_gone(struct watch *w, uint32_t cookie);

/* Returns the earliest deadline of an open move or -1. */
int64_t watch_moves_next_due(const struct watch *w);

/* Reports the moves due by now, or away from path, as deletes. Returns
 * nothing. */
void watch_moves_expire_due(struct watch *w, int64_t now);
void watch_moves_expire_at(struct watch *w, const char *path);

/* Forgets every open move. Returns nothing. */
void watch_moves_clear(struct watch *w);

#endif

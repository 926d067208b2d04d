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

/* watch.c */
int64_t watch_now_ms(void);
void watch_emit(struct watch *w, enum watch_kind kind, const char *path,
    const char *old, int is_dir);

/* watch_queue.c: the hand-over between the threads. push and degraded
 * are for the watcher thread, take for the loop thread. */
int watch_queue_init(struct watch_queue *q);
void watch_queue_destroy(struct watch_queue *q);
void watch_queue_push(struct watch_queue *q, const char *path, uint32_t mask,
    uint32_t cookie, uint32_t info);
void watch_queue_degraded(struct watch_queue *q);
struct watch_rec *watch_queue_take(struct watch_queue *q, size_t max,
    int *overflow);
void watch_queue_set_max(struct watch_queue *q, size_t max);

/* watch_inotify.c: the thread and the library */
int watch_th_claim(void);
void watch_th_release(void);
int watch_th_start(struct watch_th *t);
void watch_th_stop(struct watch_th *t);
int watch_ino_add(struct watch_th *t, const char *rel);
void watch_ino_rm(struct watch_th *t, struct watch_dir *d);
void watch_ino_dead(struct watch_th *t, struct watch_dir *d);
void watch_ino_degrade(struct watch_th *t, const char *what, int err);

/* watch_dirs.c: the table of watched directories (watcher thread) */
struct watch_dir *watch_dirs_find(struct watch_th *t, int wd);
int watch_dirs_add(struct watch_th *t, int wd, dev_t dev, ino_t ino,
    const char *path);
void watch_dirs_del(struct watch_th *t, struct watch_dir *d);
void watch_dirs_clear(struct watch_th *t);
size_t watch_dirs_rekey(struct watch_th *t, const char *old,
    const char *new);
void watch_dirs_forget(struct watch_th *t, const char *path);
void watch_dirs_drop_replaced(struct watch_th *t, const char *path);
int watch_dirs_adopt(struct watch_th *t, const char *path, dev_t dev,
    ino_t ino);

/* watch_tree.c: events, directory moves and scans (watcher thread) */
void watch_tree_event(struct watch_th *t, const char *path, uint32_t mask,
    uint32_t cookie);
#define WATCH_SCAN_REPORT  1  /* queue what is found as new */
#define WATCH_SCAN_RECHECK 2  /* walk watched directories too, unwatch
			       * the ignored ones */
void watch_tree_scan(struct watch_th *t, const char *top, int mode);
void watch_tree_expire(struct watch_th *t, int64_t now);
void watch_tree_clear_moves(struct watch_th *t, int report);

/* watch_pend.c: CHANGED/ATTRIB held back by path (loop thread) */
void watch_pend_touch(struct watch *w, const char *path, enum watch_touch how,
    int is_dir);
void watch_pend_drop(struct watch *w, const char *path, int subtree);
void watch_pend_rename(struct watch *w, const char *old, const char *new,
    int subtree);
int64_t watch_pend_next_due(const struct watch *w);
void watch_pend_flush(struct watch *w, int64_t now);
void watch_pend_clear(struct watch *w);

/* watch_moves.c: MOVED_FROM halves waiting for their MOVED_TO (loop
 * thread) */
void watch_move_add(struct watch *w, const char *path, uint32_t cookie,
    int is_dir);
char *watch_move_take(struct watch *w, uint32_t cookie);
void watch_move_gone(struct watch *w, uint32_t cookie);
int64_t watch_moves_next_due(const struct watch *w);
void watch_moves_expire_due(struct watch *w, int64_t now);
void watch_moves_expire_at(struct watch *w, const char *path);
void watch_moves_clear(struct watch *w);

#endif

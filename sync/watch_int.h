/* watch_int.h -- private to sync/watch*.c: the watcher's state and the
 * functions its files share. Nothing outside sync/watch*.c includes this.
 *
 *   watch.c          public API, the event loop side of each call
 *   watch_inotify.c  libinotifytools (the only file that includes it),
 *                    the table of watched directories, event handlers
 *   watch_moves.c    pairing IN_MOVED_FROM with IN_MOVED_TO
 *   watch_pend.c     debounced changes: hash table and due lists
 */
#ifndef XS_WATCH_INT_H
#define XS_WATCH_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "sync/watch.h"

#define WATCH_TMP_PREFIX     ".xmpp-sync-tmp."
#define WATCH_DEBOUNCE_MS    200
#define WATCH_MOVE_MS        100     /* wait for the MOVED_TO of a MOVED_FROM */
#define WATCH_OPEN_WAIT_MS   30000   /* longest wait for a created file's close */
#define WATCH_MAX_PENDING    100000  /* debounced paths plus unpaired moves */
#define WATCH_MAX_DEAD       4096    /* dead library records before a restart */

enum { P_CHANGED = 1, P_ATTRIB = 2 };

struct watch_dir {
	int wd;
	int gone;              /* tombstone, removed on compaction */
	dev_t dev;
	ino_t ino;
};

struct watch_dirtab {
	struct watch_dir *v;
	size_t n, cap, ngone;
};

/* A debounced change: in the hash table by path, and in one of two lists
 * ordered by due time (every entry of a list gets the same delay, so
 * appending keeps the order). */
struct watch_pend {
	struct watch_pend *hnext, *prev, *next;
	char *path;
	int64_t due;
	unsigned flags;
	int is_dir;
	int waiting;           /* created, waiting for its close */
};

struct watch_plist {
	struct watch_pend *head, *tail;
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
	size_t rslen;
	char **ignore;
	size_t nignore;
	int epfd;              /* what watch_fd() returns */
	int ifd;               /* the library's inotify descriptor */
	uint32_t mask;
	int root_wd;
	long debounce_ms;
	size_t max_pending;
	size_t max_dead;
	int fail_add;          /* test hook: errno for every watch add */

	struct watch_dirtab dirs;
	size_t lib_dead;

	struct watch_pend **bucket;
	size_t nbucket, npend;
	struct watch_plist due, wait;

	struct watch_move *mhead, *mtail;
	size_t nmoves;

	int degraded, degraded_sent;
	int want_rescan, want_rebuild, more;

	watch_event_cb cb;     /* set during watch_process()/flush_due() */
	void *cbarg;
	int nsent;
};

/* Whether path is dir or lies under it. */
static inline int
watch_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* watch.c */
int64_t watch_now_ms(void);
void watch_emit(struct watch *w, enum watch_kind kind, const char *path,
    const char *old, int is_dir);

/* watch_pend.c: debounced CHANGED/ATTRIB by path */
void watch_pend_touch(struct watch *w, const char *path, unsigned flags,
    int is_dir, int waiting);
void watch_pend_drop(struct watch *w, const char *path, int subtree);
void watch_pend_rename(struct watch *w, const char *old, const char *new,
    int subtree);
int64_t watch_pend_next_due(const struct watch *w);
void watch_pend_flush(struct watch *w, int64_t now);
void watch_pend_clear(struct watch *w);

/* watch_moves.c: MOVED_FROM halves waiting for their MOVED_TO */
void watch_move_add(struct watch *w, const char *path, uint32_t cookie,
    int is_dir);
char *watch_move_take(struct watch *w, uint32_t cookie);
void watch_moves_expire_due(struct watch *w, int64_t now);
void watch_moves_expire_at(struct watch *w, const char *path);
void watch_moves_clear(struct watch *w);

/* watch_inotify.c: the library */
int watch_ino_start(struct watch *w);
void watch_ino_stop(struct watch *w);
void watch_ino_rebuild(struct watch *w);
void watch_ino_forget_dir(struct watch *w, const char *rel);
int watch_ino_read(struct watch *w);
void watch_ino_inject(struct watch *w, uint32_t mask);
int watch_ino_claim(void);
void watch_ino_release(void);

#endif

/* watch.h -- the filesystem watcher: what changed under the mirrored folder.
 *
 * The watcher follows a folder recursively on inotify (through
 * libinotifytools) and turns raw inotify events into a short list of
 * changes the change queue can act on. A thread of its own reads the
 * events and keeps the watches; the caller's event loop thread gets the
 * changes. It plugs into the event loop: register watch_fd() for
 * LOOP_READ and call watch_process() when it is readable; let the idle
 * hook sleep at most watch_next_timeout_ms() and call watch_flush_due()
 * afterwards, so changes held back go out on time.
 *
 * Semantics (paths are relative to the root, without a leading slash):
 * - WATCH_CHANGED: a regular file was written and closed, created, moved in
 *   from outside, or found inside a new directory. When it goes out:
 *   . written and closed (or moved in, or a new hard link) while its path
 *     was quiet: at once, no fixed delay;
 *   . a path that keeps changing (changed again less than the debounce
 *     time, 200 ms by default, after it was reported): held until it has
 *     been quiet for the debounce time, and at most max_hold (30 s by
 *     default) after its previous report;
 *   . modified and kept open (a log, a database), or created and not yet
 *     closed: once it has been quiet for the quiet time (2 s by default),
 *     and at the latest every max_hold while it keeps changing; its close
 *     reports it again;
 *   . found inside a new directory: after the debounce time, or at its
 *     close if that comes first.
 *   Every change is followed by at least one CHANGED; changes close
 *   together give one.
 * - WATCH_ATTRIB: only metadata changed (chmod, chown, touch -d): at once,
 *   or held like CHANGED while the path keeps changing or is being
 *   written; a CHANGED for the same path absorbs it.
 * - WATCH_CREATED_DIR, WATCH_SYMLINK: sent at once, parents before their
 *   content. A directory that appears (mkdir, mkdir -p, moved in from
 *   outside) is watched and scanned: whatever is already in it is reported
 *   as CREATED_DIR / SYMLINK / CHANGED, so nothing created in the gap
 *   between the mkdir and the new watch is lost.
 * - WATCH_RENAMED: a rename inside the folder (path is the new name,
 *   old_path the old one, is_dir for directories): one event, never a
 *   delete plus a create. After a directory rename, later events inside it
 *   carry the new path. Changes held for the old path move to the new
 *   one. The old path may be one this watcher never reported (a file
 *   renamed while its CHANGED was still held); the target may have
 *   existed before (the rename replaced it).
 * - WATCH_DELETED: something was deleted or moved out of the folder (a
 *   rename whose other half does not arrive within 100 ms). For a
 *   directory it stands for the whole subtree.
 * - WATCH_RESCAN: events were lost (the kernel's or the watcher's own
 *   queue overflowed, too many pending changes, the root itself moved or
 *   deleted, internal state rebuilt); path says what to rescan ("" for
 *   the whole tree; a directory that turned up already watched under
 *   another name is reported as CREATED_DIR plus RESCAN of its path).
 * - WATCH_DEGRADED: some directory could not be watched (usually the
 *   fs.inotify.max_user_watches limit); changes there are no longer seen,
 *   so the caller should fall back to periodic rescans. Sent once.
 *
 * Ignored: what path_ignored() in sync/path.h says, the rule the scanner
 * and the applier use too (with '/' inside a pattern anchoring it to the
 * relative path, a trailing '/' for directories only, and an ignored
 * directory ignoring everything below it), and our own temporary files
 * (path_is_temp()). Ignored directories are not watched. A pattern with a
 * '/' inside ("a/b") can change its verdict when a directory above is
 * renamed: then the watches below are fixed and a RESCAN of the new path
 * follows the RENAMED.
 *
 * Limits: events wait for the loop in a queue of 65536 records; when the
 * loop falls that far behind, more are dropped and a RESCAN of "" follows,
 * as for the kernel's own overflow. A new or
 * moved-in tree is scanned on the watcher thread, so a huge one delays
 * later events, not the loop. For the 100 ms a directory that was moved
 * out is still waiting for its pair, events from inside it carry its old
 * path. A file held open while it is written is reported with what it
 * held at that moment, and again on its close.
 *
 * Only one watcher may exist per process: libinotifytools keeps its state
 * in globals (one inotify descriptor, one table of watches). watch_new()
 * refuses a second one with -EBUSY. That library waits in select(): its
 * inotify descriptor must be below FD_SETSIZE, so watch_new() fails with
 * -EMFILE when no lower descriptor is free (only possible with a raised
 * RLIMIT_NOFILE); descriptors of the event loop are not limited. Apart
 * from the watcher thread, which never calls back, all calls come from
 * the one event loop thread.
 */
#ifndef XS_WATCH_H
#define XS_WATCH_H

#include <stddef.h>
#include <stdint.h>

struct watch;

enum watch_kind {
	WATCH_CHANGED,
	WATCH_CREATED_DIR,
	WATCH_DELETED,
	WATCH_RENAMED,
	WATCH_ATTRIB,
	WATCH_SYMLINK,
	WATCH_RESCAN,
	WATCH_DEGRADED,
};

struct watch_event {
	enum watch_kind kind;
	const char *path;      /* relative to the root; "" is the root */
	const char *old_path;  /* WATCH_RENAMED only, else NULL */
	int is_dir;            /* 1 when path names a directory */
};

/* Receives one event. The strings are borrowed and valid only during the
 * call. The callback must not call watch_free() or watch_process(). */
typedef void (*watch_event_cb)(const struct watch_event *ev, void *arg);

/* Starts watching root (a directory) and every directory under it that is
 * not ignored. Existing content is not reported: the caller scans it. If
 * the watch limit is hit here, the watcher still starts, degraded, and
 * reports WATCH_DEGRADED on the first watch_process()/watch_flush_due().
 * ignore holds nignore patterns as in sync/path.h, copied. Returns 0 and
 * sets *out (free with watch_free()), -EBUSY if a watcher already exists
 * in this process, -ENOTDIR/-ENOENT/-EACCES for a bad root, -EMFILE (see
 * above), or another negative errno. */
int watch_new(const char *root, char *const *ignore, size_t nignore,
    struct watch **out);

/* Stops the watcher thread (within a few ms: it is cancelled while it
 * waits, not waited for), stops watching and frees everything. NULL is
 * allowed. Remove watch_fd() from the event loop first. Returns nothing. */
void watch_free(struct watch *w);

/* Returns the descriptor to register with loop_fd_add(..., LOOP_READ): an
 * eventfd, readable while the watcher thread has events waiting. Owned by
 * the watcher (closed by watch_free()); it stays the same for the
 * watcher's whole life. */
int watch_fd(const struct watch *w);

/* Sets the debounce time: how long a path that keeps changing must be
 * quiet before its held CHANGED/ATTRIB goes out (ms, clamped to
 * 0..60000; default 200). A path keeps changing when it changes again
 * less than this time after it was reported. Returns nothing. */
void watch_set_debounce_ms(struct watch *w, long ms);

/* Sets the quiet time, how long a file modified without being closed must
 * be quiet before it is reported (default 2000), and max_hold, the
 * longest a change is held after the previous report while its path keeps
 * changing (default 30000). Both in ms, clamped to 0..600000; tests use
 * small values. Returns nothing. */
void watch_set_quiet_ms(struct watch *w, long quiet_ms, long max_hold_ms);

/* Takes the events the watcher thread has queued (up to 8192 at a time;
 * watch_fd() stays readable while more wait), without blocking, and
 * delivers the events that are ready through cb (immediate ones, and
 * held ones that are due). Returns the number of events delivered
 * (>= 0). */
int watch_process(struct watch *w, watch_event_cb cb, void *arg);

/* Returns how many ms until watch_flush_due() has something to do (0:
 * call it now), or -1 when nothing is pending. */
long watch_next_timeout_ms(const struct watch *w);

/* Delivers the held events that are due and turns renames whose other
 * half never came into deletes. Returns the number of events delivered
 * (>= 0). */
int watch_flush_due(struct watch *w, watch_event_cb cb, void *arg);

/* Returns a static lowercase name for kind ("changed", "renamed", ...), for
 * logs and tests. Never NULL. */
const char *watch_kind_name(enum watch_kind kind);

/* For tests only. watch_test_inject() queues one synthetic record with
 * the given inotify mask and path "" as the watcher thread would (for
 * IN_Q_OVERFLOW, which needs root to provoke) and runs watch_process();
 * returns the number of events delivered. watch_test_limits() sets the
 * pending-table bound and the number of dead library records that forces
 * a restart, and makes every later watch add fail with fail_add_errno (0:
 * off); returns nothing. watch_test_queue_max() bounds the queue between
 * the threads (at least 1); returns nothing. */
int watch_test_inject(struct watch *w, uint32_t mask, watch_event_cb cb,
    void *arg);
void watch_test_limits(struct watch *w, size_t max_pending,
    size_t max_dead, int fail_add_errno);
void watch_test_queue_max(struct watch *w, size_t max);

#endif

/* plan.h -- the master's side of the replication model: turn what changed
 * in the folder into index records (with sequence numbers) and into
 * per-slave outbox operations, compacted per path by the store.
 *
 * Every function here runs one store transaction: the index record and the
 * outbox entries of all active slaves are written together, so a crash
 * never leaves a change recorded but not queued. The meta key
 * PLAN_META_FANOUT holds the last index seq that has been queued.
 *
 * Paths are checked once, where they enter: the caller passes each path
 * from the watcher through plan_path_check() and hands the others only
 * paths it accepted; they do not check again. Manifest paths come checked
 * by the protocol parser.
 */
#ifndef XS_PLAN_H
#define XS_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define PLAN_META_FANOUT "fanout_seq"

struct plan;
struct chunk_list;

/* Makes a planner for the folder root (kept open as a directory fd) and
 * the master's store st (borrowed). ignore: the config's patterns
 * (borrowed). Returns 0 and sets *out (free with plan_free()), or a
 * negative errno. */
int plan_new(const char *root, struct store *st, const char *const *ignore,
    size_t nignore, struct plan **out);

/* Frees the planner. NULL is allowed. */
void plan_free(struct plan *p);

/* The border for paths from the watcher: whether path (is_dir: it names a
 * directory) may enter the plan. Returns 0, -EINVAL if path_check_synced()
 * refuses it (a name no slave would accept, or one of our temp files), or
 * -EPERM if the ignore patterns cover it. Logs nothing. */
int plan_path_check(const struct plan *p, const char *path, int is_dir);

/* plan_path_check() for one watcher event: a name no slave would accept is
 * logged (without printing it), an ignored one silently left out. Returns
 * 1 if path may enter the plan, else 0. */
int plan_admit(const struct plan *p, const char *path, int is_dir);

/* A rename seen by the watcher, checked at the border: both ends admitted
 * is plan_renamed(); a rename with one end out of sight (ignored, or a
 * name we refuse) is the deletion or the creation of the other end.
 * Returns 0 or a negative errno as plan_renamed() and
 * plan_path_changed(). */
int plan_event_renamed(struct plan *p, const char *from, const char *to,
    int is_dir);

/* Looks at path (relative, accepted by plan_path_check()) as it is now on
 * disk and records it: new or changed content, a directory, a symlink, or
 * its disappearance (with everything below it). Queues the matching
 * operation for every active slave. A file that changes while it is read
 * is left for the watcher's next event. Returns 0 or a negative errno
 * (logged where it arose). */
int plan_path_changed(struct plan *p, const char *path);

/* Whether path (accepted by plan_path_check()) is a regular file whose
 * content must be hashed before it can be recorded (its size or mtime
 * differ from the record). Sets *size. Returns 1 or 0. */
int plan_hash_needed(struct plan *p, const char *path, int64_t *size);

/* Records path (accepted by plan_path_check()) like plan_path_changed(),
 * with a SHA-256 and chunk list (NULL or empty: none) computed elsewhere
 * over the file as it was at size and mtime_ns. Returns 0, -EAGAIN if the
 * file changed since (hash it again), or a negative errno. */
int plan_path_hashed(struct plan *p, const char *path, int64_t size,
    int64_t mtime_ns, const uint8_t sha256[32],
    const struct chunk_list *chunks);

/* Returns the directory fd of the folder (borrowed). */
int plan_rootfd(const struct plan *p);

/* A rename within the folder (from the watcher; both paths accepted by
 * plan_path_check()): moves the index records (a directory with
 * everything below it) and queues one rename per slave, so no content is
 * sent again. Returns 0 or a negative errno. */
int plan_renamed(struct plan *p, const char *from, const char *to);

/* After a full scan: queues every index change not queued yet (the scan
 * records changes itself). Returns 0 or a negative errno. */
int plan_fanout(struct plan *p);

/* One entry of a slave's manifest (its live records). */
struct plan_entry {
	char *path;
	enum store_ftype type;
	int64_t size, mtime_ns;
	uint32_t mode;
	int has_sha256;
	uint8_t sha256[32];
	char *target;
};

/* Full reconciliation of slave against its manifest (n entries, any
 * order): queues what the slave lacks or holds differently, and (when
 * delete_extras) deletes of what the master does not have. Identical
 * entries (type, size, sha256, mode, mtime, target) cost nothing.
 * Returns 0 or a negative errno; *queued (if not NULL) gets the number of
 * operations queued. */
int plan_reconcile(struct plan *p, const char *slave,
    const struct plan_entry *m, size_t n, int delete_extras, int64_t *queued);

/* Repairs one difference found by comparing index digests (see
 * docs/protocol.md 3.1): slave holds theirs at path (a type, or 0 for
 * nothing there; path checked where it entered), and it is not what the
 * master's index holds. Queues for slave what brings path to the
 * master's current state: its record (put, mkdir or symlink; with
 * everything below it, directories first, when the master has a
 * directory the slave does not hold as one; a mkdir alone, for the mode,
 * when both hold a directory), or, when the master has no live record
 * and delete_extras, a delete or rmdir. Sets *queued to the number of
 * operations queued (0 for an extra kept). One transaction. Returns 0 or
 * a negative errno. */
int plan_repair(struct plan *p, const char *slave, const char *path,
    enum store_ftype theirs, int delete_extras, int64_t *queued);

/* Frees the strings of manifest entries (not the array). */
void plan_entries_clear(struct plan_entry *m, size_t n);

#endif

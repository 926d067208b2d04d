/* apply_int.h -- shared by the files of the applier only; not an API.
 *
 *   apply.c       the context, path checks, parents, attributes, records,
 *                 removal of subtrees, the manifest
 *   apply_ops.c   metadata operations: mkdir, delete, rename, meta, symlink
 *   apply_sink.c  content: the put sink, have, copy from a local file
 *   apply_delta.c content: a new version from local and received chunks
 *   apply_temps.c temp files that interrupted transfers left behind
 *   apply_keep.c  the slave's area: local and old versions kept, expiry
 *   apply_local.c local changes: compared with the records, kept, recorded
 *   apply_space.c the file system's free space, kept resume prefixes
 *
 * Helpers that say "logged" log the cause once; the others return the
 * code for the caller to log with what it was doing. */
#ifndef XS_APPLY_INT_H
#define XS_APPLY_INT_H

#include <stdint.h>
#include <sys/stat.h>

#include "store/store.h"
#include "sync/apply.h"
#include "sync/path.h"

/* Size of a temp name with its NUL: the prefix and 32 hex digits. */
#define APPLY_TMP_NAME (sizeof(PATH_TMP_PREFIX) + 32)

/* A temp file an interrupted session left, which a later session of the
 * same (path, size, sha256) may resume. */
struct apply_leftover {
	char *dir;		/* its directory, relative ("" for the root) */
	char name[APPLY_TMP_NAME];
};

/* a file being received is handed to the disk every this many bytes */
#define APPLY_WRITEBACK_STEP (8 << 20)

/* directories a batch remembers at most; beyond, they are fsynced at once */
#define APPLY_BATCH_DIRS 1024

struct apply {
	int rootfd;		/* the folder, O_RDONLY | O_DIRECTORY */
	char *root;		/* for messages */
	struct store *st;	/* borrowed */
	char **ignore;
	size_t nignore;
	uint64_t max_size;
	/* leftovers known since the start sweep; lost_track: one could not
	 * be remembered, so the next release walks the folder */
	struct apply_leftover *left;
	size_t nleft, capleft;
	int lost_track;
	unsigned versions_days;	/* keep replaced files; 0: off */
	int64_t local_seq;	/* records up to it predate the first sync */
	/* a batch (apply_batch_begin()): nesting depth, the directories to
	 * fsync at its next flush */
	int batch_depth;
	struct apply_dirsync {
		dev_t dev;
		ino_t ino;
		int fd;
	} *dirs;
	size_t ndirs, capdirs;
};

/* Checks a path from the network with path_check_synced(): the applier's
 * own gate, called once by each exported operation; the helpers below
 * take the checked path. Returns 0 or -EINVAL (logged as refused, with
 * what: the operation). */
int apply_check(const char *what, const char *path);

/* Whether path (is_dir: as a directory) is ignored here. Returns 0 or
 * -EPERM (logged). */
int apply_check_ignored(struct apply *a, const char *what, const char *path,
    int is_dir);

/* Logs that what on path failed with -r, as a refusal when a symlink or
 * file was in the way. Returns r. */
int apply_fail(const char *what, const char *path, int r);

/* Opens the directory holding path beneath the root for reading (so it
 * can be fsynced) and sets *name to path's last component. Returns the
 * descriptor or -errno as for path_open_parent() (not logged). */
int apply_parent(struct apply *a, const char *path, const char **name);

/* Returns the path a put session receives (borrowed from p). */
const char *apply_put_path(const struct apply_put *p);

struct chunk_list;

/* The content of p is assembled from the chunks of l, each checked
 * before it is written (apply_delta.c): keeps l (copied) as its chunk
 * list instead of cutting what is written again. Call it after the last
 * apply_put_truncate(). Returns 0 or -ENOMEM. */
int apply_put_set_chunks(struct apply_put *p, const struct chunk_list *l);

/* lstat of name in dfd. Returns 0, or -errno (not logged; -ENOENT when
 * nothing is there). */
int apply_lstat(int dfd, const char *name, struct stat *st);

/* The installs about to happen (the meta key APPLY_INTENT_KEY: per file
 * the hex checksum, the size, and the path's length and bytes),
 * committed before the renames: a file found unrecorded that is one of
 * them was installed by us, and a crash (or a failed commit) took its
 * record. apply_intent_matches() says whether the file name in dfd
 * (path, st) is one. Return nothing, and 1 or 0. */
#define APPLY_INTENT_KEY "installing"
void apply_intent_set(struct apply *a, const char *path, uint64_t size,
    const uint8_t sha256[32]);
void apply_intent_set_many(struct apply *a, const char *const *paths,
    const uint64_t *sizes, const uint8_t (*sha256)[32], size_t n);

/* Notes the installs of the n puts v (apply_put_ready()) with one
 * commit; apply_put_finish() then notes nothing more for them. */
void apply_puts_note(struct apply *a, struct apply_put *const *v, size_t n);
int apply_intent_matches(struct apply *a, int dfd, const char *name,
    const char *path, const struct stat *st);

/* fsyncs the directory dfd; inside a batch (apply_batch_begin()), only
 * remembers it for the batch's next flush. Returns 0 or -errno (logged
 * for path). */
int apply_fsync_dir(struct apply *a, int dfd, const char *path);

/* Sets the mirrored bits of mode (store_mode_mirrored(); the others are
 * dropped with a log line; nothing on a symlink) and mtime of name in
 * dfd without following a symlink, and makes it durable (fsync of the
 * object; a symlink's change is made durable by its directory's fsync).
 * Returns 0 or -errno (logged for path). */
int apply_attrs_at(int dfd, const char *name, const char *path, uint32_t mode,
    int64_t mtime_ns);

/* The same on an open regular file or directory. Returns 0 or -errno
 * (logged for path). */
int apply_attrs_fd(int fd, const char *path, uint32_t mode, int64_t mtime_ns);

/* apply_attrs_fd() without the fsync: the caller makes it durable. */
int apply_attrs_fd_nosync(int fd, const char *path, uint32_t mode,
    int64_t mtime_ns);

/* Writes everything of the folder's file system to the disk (syncfs):
 * one device flush for the files of a batch. Returns 0 or -errno
 * (logged). */
int apply_sync_fs(struct apply *a);

/* Removes whatever is at name in dfd: unlinks a file or symlink, removes
 * a directory with everything below it, never following a symlink and
 * never leaving the file system of dfd. Nothing there is success.
 * Returns 0 or -errno (logged for path). */
int apply_rm_tree(int dfd, const char *name, const char *path);

/* Checksum of path from its live record, if the record is a file of st's
 * size and mtime. Returns 1 (out set), 0 (no usable record), or a store
 * error. */
int apply_known_sha(struct apply *a, const char *path, const struct stat *st,
    uint8_t out[32]);

/* Records path as st describes it: a file with checksum sha, a
 * directory, or a symlink with text target. Call once it is durable.
 * Returns 0 or a store error. */
int apply_record_stat(struct apply *a, const char *path, const struct stat *st,
    const uint8_t *sha, const char *target);

/* Records what is now at name in dfd as path: its type, size, mode and
 * mtime as lstat reports them; for a file the checksum sha (if not NULL,
 * already verified), else a recorded one that still matches, else read
 * from the file; for a symlink its text. Something else (a fifo, a
 * device) is not recorded. Call once the change is durable. Returns 0,
 * -ENOENT if nothing is there, another -errno (logged), or a store
 * error. */
int apply_record_at(struct apply *a, int dfd, const char *name,
    const char *path, const uint8_t *sha);

/* Copies of live records (strings owned). */
struct apply_recs {
	struct store_file *v;
	size_t n, cap;
};

/* Appends copies of the live records below dir to l, in path order.
 * Returns 0, -ENOMEM or a store error; free l with apply_recs_free()
 * either way. */
int apply_recs_below(struct apply *a, const char *dir, struct apply_recs *l);

/* Frees the records of l and empties it. */
void apply_recs_free(struct apply_recs *l);

/* Ends a transaction opened with store_begin(): commits if r == 0, else
 * rolls back. Returns r or the commit's error. */
int apply_end(struct apply *a, int r);

/* Tombstones the live records below path, and path's own if self, in
 * one transaction. Returns 0 or a store error. */
int apply_forget_tree(struct apply *a, const char *path, int self);

/* Hex digits in a temp name after the prefix: the first half names
 * (kind, path), the second the version (the bytes at extra). */
#define APPLY_TMP_PATH_HEX 16
/* Appends copies of up to max live records whose path sorts after
 * `after` (NULL: from the first) to l, in path order. Returns 0, -ENOMEM
 * or a store error; free l with apply_recs_free() either way. */
int apply_recs_page(struct apply *a, const char *after, size_t max,
    struct apply_recs *l);

/* Whether the live record f describes what st says is on disk: the same
 * type; for a file the same size, mtime and mode; for a symlink the same
 * mtime; for a directory the same mode if dir_mode (else any). Returns 1
 * or 0. */
int apply_record_matches(const struct store_file *f, const struct stat *st,
    int dir_mode);

/* Called before the applier replaces or removes what is at name in dfd
 * (path): a local version there (apply_set_local_seq(), or not as its
 * record says) is moved below APPLY_AREA_LOCAL, and with versions on a
 * file as recorded is linked below APPLY_AREA_VERSIONS. A directory that
 * is not local as a whole is gone through entry by entry (our temp files
 * are left to the removal). Returns 0 (also when nothing is there), or
 * -errno or a store error when a local version could not be kept
 * (logged): the caller must then leave path alone. */
int apply_keep_old(struct apply *a, int dfd, const char *name,
    const char *path);

/* Keeps what is at name in dfd (path; a directory with everything below
 * it) below APPLY_AREA_LOCAL/STAMP/ (STAMP from when) as a link or copy,
 * leaving it in place, and logs where it went. Returns 0 (also when
 * nothing is there) or -errno (logged). */
int apply_keep_local(struct apply *a, int dfd, const char *name,
    const char *path, time_t when);

/* Size of a temp name with its NUL: the prefix and 32 hex digits. */
#define APPLY_TMP_NAME (sizeof(PATH_TMP_PREFIX) + 32)

/* Writes to out our temp name for (kind, path, the n bytes at extra): the
 * same inputs give the same name, so an interrupted job finds its temp
 * again, and temps of one path with different extra bytes share the
 * first PATH_TMP_PREFIX + APPLY_TMP_PATH_HEX characters. Returns 0 or
 * -ENOMEM. */
int apply_temp_name(char out[APPLY_TMP_NAME], const char *kind,
    const char *path, const void *extra, size_t n);

/* The temp name of a put session of (path, size, sha256). Returns 0 or
 * -ENOMEM. */
int apply_put_temp_name(char out[APPLY_TMP_NAME], const char *path,
    uint64_t size, const uint8_t sha256[32]);

/* Remembers that a session of path left its temp file tmp for a later
 * one to resume. Never fails: one it cannot remember is found by the
 * next walk. */
void apply_leftover_add(struct apply *a, const char *path, const char *tmp);

/* Forgets tmp of path: a session holds it now, or it is gone. */
void apply_leftover_drop(struct apply *a, const char *path, const char *tmp);

/* Frees the list of leftovers (the files stay). */
void apply_leftovers_free(struct apply *a);

/* Makes the list of leftovers whole again if some could not be
 * remembered: walks the folder as apply_temps_sweep() does, remembering
 * every temp file no session holds and removing none. Returns 0 (also
 * when the list was whole), -ENOMEM, or -errno if the root cannot be
 * read (logged). */
int apply_leftovers_find(struct apply *a);

/* Whether a session holds the temp file name in dfd now (its lock).
 * Returns 1, 0, or -errno if it cannot be opened (not logged). */
int apply_temp_held(int dfd, const char *name);

#endif

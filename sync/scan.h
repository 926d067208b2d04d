/* scan.h -- the full scan: walk the folder, hash what changed, record it.
 *
 * A scan walks the configured directory without following symlinks
 * (openat/fdopendir/fstatat with AT_SYMLINK_NOFOLLOW), skips ignored
 * paths (path_ignored), our own temp files and names path_check_relative
 * refuses, and records every file, directory and symlink in the store. A
 * file whose size and mtime_ns match its live record keeps the stored
 * checksum; any other file is read through SHA-256 with hashfile_at().
 * Records are written in batched transactions; at the end every live
 * record the walk did not see becomes a tombstone (store_scan_end).
 *
 * What cannot be read (a file that vanishes, a permission error, a file
 * that changes while being hashed) is logged and skipped, and its earlier
 * record, if any, is kept as it was: the watcher or the next scan catches
 * up. Only store errors and an unreadable root end a scan.
 *
 * Runs synchronously; the caller decides whether that is on the event
 * loop or on a worker thread. libgcrypt must be initialised first.
 */
#ifndef XS_SCAN_H
#define XS_SCAN_H

#include <stddef.h>
#include <stdint.h>

struct store;

struct scan_opts {
	const char *root;		/* the folder to mirror */
	const char *const *ignore;	/* ignore patterns, see path.h */
	size_t n_ignore;
	size_t batch;			/* records per transaction; 0: 512 */
};

struct scan_stats {
	int64_t files, dirs, symlinks;	/* recorded by this scan */
	int64_t files_hashed;		/* files read through SHA-256 */
	int64_t bytes_hashed;
	int64_t added, changed, deleted; /* records new, changed, tombstoned */
	int64_t skipped;		/* unreadable or vanished, not fatal */
};

/* Scans o->root into s and fills *stats (zeroed first). Returns 0 (also
 * when entries were skipped: see stats->skipped), -errno from opening the
 * root (logged), or a store error; records written by a failed scan stay,
 * but nothing is tombstoned. */
int scan_run(struct store *s, const struct scan_opts *o,
    struct scan_stats *stats);

#endif

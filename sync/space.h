/* space.h -- whether received content fits on the slave's disk.
 *
 * A slave keeps a reserve free on the file system of its folder (the
 * min_free key). Content is received only if the file system's free space,
 * less the reserve and less what transfers already admitted will still
 * write, holds it; otherwise the file waits for space and smaller files
 * go first. Before a file is refused, the resume prefixes other transfers
 * left behind (kept so that an interrupted transfer need not start over)
 * may be dropped, if dropping them makes the room.
 *
 * These are the decisions only, over numbers: the applier measures the
 * file system and lists the prefixes (sync/apply.h), and the slave acts
 * (agent/mirror/). So they can be tested without filling a disk. Nothing
 * here logs.
 */
#ifndef XS_SPACE_H
#define XS_SPACE_H

#include <stddef.h>
#include <stdint.h>

/* A file system as fstatvfs(2) describes it, in bytes. */
struct space_fs {
	uint64_t size;		/* the whole file system */
	uint64_t avail;		/* what an unprivileged writer may still use */
	uint64_t block;		/* allocation unit (at least 1) */
};

/* A kept resume prefix that could be dropped. */
struct space_cand {
	uint64_t bytes;		/* what removing it frees */
	int64_t mtime_ns;	/* when it was last written */
	size_t id;		/* the caller's index */
};

/* Reads the file system that holds the open file fd. Returns 0 or
 * fstatvfs's -errno. */
int space_fs_get(int fd, struct space_fs *out);

/* Returns what n bytes of content take on fs: n rounded up to whole
 * blocks. */
uint64_t space_blocks(const struct space_fs *fs, uint64_t n);

/* Returns the room left for new content: fs's free space less the
 * reserve min_free and less reserved (what admitted transfers will still
 * write), or 0 when they take it all. */
uint64_t space_room(const struct space_fs *fs, uint64_t min_free,
    uint64_t reserved);

/* Decides whether need more bytes fit into room. If not, c (n prefixes
 * of other transfers) is sorted in the order they would go, oldest first
 * and, of the same age, largest first, and *ndrop is set to how many of
 * the first must be dropped to make the room. Returns 0 (fits; *ndrop is
 * 0 when nothing needs to go), or -ENOSPC when even dropping all of them
 * would not make the room (*ndrop = 0: nothing is worth dropping). */
int space_decide(uint64_t room, uint64_t need, struct space_cand *c, size_t n,
    size_t *ndrop);

#endif

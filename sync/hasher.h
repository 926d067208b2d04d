/* hasher.h -- SHA-256 of large files on a worker thread, so hashing never
 * stalls the event loop (pings, transfers to other slaves). The worker
 * touches nothing but the file it hashes (hashfile_at()): no store, no
 * logging.
 *
 * The hasher knows no event loop. Like the watcher, it offers a
 * descriptor: register hasher_fd() for reading with the caller's loop and
 * call hasher_process() when it is readable; results are then delivered
 * on the caller's thread, through the callback the caller passes. Each
 * result carries the file's chunk list too, cut while it was read. */
#ifndef XS_HASHER_H
#define XS_HASHER_H

#include <stdint.h>

struct hasher;
struct chunk_list;

struct hasher_result {
	const char *path;      /* borrowed for the call */
	int err;               /* 0, or hashfile_at()'s negative errno:
	                        * -ENOENT gone, -EAGAIN changed while read */
	int64_t size, mtime_ns;/* what was hashed, if err is 0 */
	uint8_t sha256[32];
	/* its content-defined chunks, cut in the same pass (sync/chunk.h;
	 * empty below CHUNK_SMALL or on error), borrowed for the call */
	const struct chunk_list *chunks;
};

/* Called from hasher_process() for each finished job. It may call
 * hasher_submit() (for the same path too), not hasher_free(). */
typedef void (*hasher_done_cb)(const struct hasher_result *r, void *arg);

/* Starts the worker for files under rootfd (borrowed; must stay open).
 * Returns 0 and sets *out (free with hasher_free()), or a negative errno
 * (not logged). */
int hasher_new(int rootfd, struct hasher **out);

/* Stops the worker (after the file in hand) and frees everything; results
 * not delivered yet are dropped. Remove hasher_fd() from the loop first.
 * NULL is allowed. */
void hasher_free(struct hasher *h);

/* Returns the descriptor (an eventfd, owned by the hasher) that becomes
 * readable when results wait for hasher_process(). */
int hasher_fd(const struct hasher *h);

/* Delivers every finished result through cb, on the calling thread, and
 * frees it. Returns the number delivered. */
int hasher_process(struct hasher *h, hasher_done_cb cb, void *arg);

/* Queues path (relative to the root, already checked: see path.h) for
 * hashing. Returns 0 or -ENOMEM. */
int hasher_submit(struct hasher *h, const char *path);

/* Returns 1 if path is queued or being hashed, else 0. */
int hasher_busy(const struct hasher *h, const char *path);

#endif

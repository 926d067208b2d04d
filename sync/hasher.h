/* hasher.h -- SHA-256 of large files on a worker thread, so hashing never
 * stalls the event loop (pings, transfers to other slaves). Results come
 * back on the loop's thread through an eventfd. The worker touches
 * nothing but the file it hashes: no store, no logging. */
#ifndef XS_HASHER_H
#define XS_HASHER_H

#include <stdint.h>

struct loop;
struct hasher;

struct hasher_result {
	const char *path;      /* borrowed for the call */
	int err;               /* 0, or hashfile_at()'s negative errno:
	                        * -ENOENT gone, -EAGAIN changed while read */
	int64_t size, mtime_ns;/* what was hashed, if err is 0 */
	uint8_t sha256[32];
};

/* Called on the loop's thread for each finished job. */
typedef void (*hasher_done_cb)(const struct hasher_result *r, void *arg);

/* Starts the worker for files under rootfd (borrowed; must stay open).
 * Returns 0 and sets *out (free with hasher_free()), or a negative errno. */
int hasher_new(struct loop *l, int rootfd, hasher_done_cb cb, void *arg,
    struct hasher **out);

/* Stops the worker (after the file in hand) and frees everything; results
 * not delivered yet are dropped. NULL is allowed. */
void hasher_free(struct hasher *h);

/* Queues path (relative to the root) for hashing. Returns 0 or -ENOMEM. */
int hasher_submit(struct hasher *h, const char *path);

/* Returns 1 if path is queued or being hashed, else 0. */
int hasher_busy(const struct hasher *h, const char *path);

#endif

/* chunk.h -- content-defined chunks of a file, for sending only what
 * changed.
 *
 * A file is cut where the content says so, not at fixed offsets, so an
 * insertion or deletion moves the boundaries near it and leaves the rest
 * of the file cut exactly as before: the chunks after the edit keep their
 * hashes and need not travel again. The cutter is FastCDC's (Xia et al.,
 * "FastCDC: a Fast and Efficient Content-Defined Chunking Approach for
 * Data Deduplication", USENIX ATC 2016):
 *
 *   - a gear hash: fp = (fp << 1) + gear[byte]. Bit k of fp depends on
 *     the last k + 1 bytes only, so the top bits are a hash of a 64-byte
 *     sliding window, updated with one shift and one add per byte;
 *   - a cut after a byte when the top bits of fp selected by the mask are
 *     all zero;
 *   - normalized chunking (level 2): before CHUNK_AVG bytes of the chunk
 *     the mask has two bits more than log2(CHUNK_AVG) (a cut is 4 times
 *     less likely), after it two bits fewer (4 times more likely), which
 *     draws chunk sizes toward the average;
 *   - no cut before CHUNK_MIN (those bytes are not even run through the
 *     gear hash, which starts from 0 at CHUNK_MIN) and always one at
 *     CHUNK_MAX.
 *
 * Why these sizes: 64 KiB on average keeps the list of a 256 MiB file at
 * about 4,000 chunks (about 140 KiB packed) and a changed region costs
 * about one or two chunks, 64 to 200 KiB, to send again; 16 KiB at least
 * keeps a pathological file (all zeros cuts at CHUNK_MAX, a file made to
 * cut often cuts at CHUNK_MIN) from exploding the list; 256 KiB at most
 * bounds what one edit can cost. Files smaller than CHUNK_SMALL are one
 * chunk: its hash is the file's SHA-256, and no list is kept for them.
 *
 * The gear table is deterministic, the same on every agent and version:
 * gear[i] is output i + 1 of SplitMix64 started from CHUNK_GEAR_SEED,
 * which has the closed form mix64(CHUNK_GEAR_SEED + (i + 1) * 0x9e3779b97f4a7c15)
 * with mix64 the SplitMix64 finalizer (see chunk_gear()). Changing the
 * table, the masks or the sizes changes every boundary: it would make
 * every list recorded so far useless for deltas (nothing breaks, deltas
 * just find nothing in common), so they are part of the format.
 *
 * Each chunk carries its SHA-256. The chunker is fed buffers of any size
 * and cuts exactly where it would cut the whole file in one buffer.
 * Thread-safe per chunker; libgcrypt must be initialised first.
 */
#ifndef XS_CHUNK_H
#define XS_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#define CHUNK_MIN (16 * 1024)
#define CHUNK_AVG (64 * 1024)
#define CHUNK_MAX (256 * 1024)
#define CHUNK_SMALL (64 * 1024)	/* smaller files are one chunk, no list */
#define CHUNK_GEAR_SEED 0x786d70702d73796eull	/* "xmpp-syn" */

/* The most chunks a list may have: a file of 16 GiB cut at CHUNK_MIN
 * everywhere. Bounds what a peer may make us allocate. */
#define CHUNK_LIST_MAX ((size_t)1 << 20)

struct chunk {
	uint32_t len;		/* 1 .. CHUNK_MAX */
	uint8_t sha256[32];
};

/* A file's chunks in file order; a chunk's offset is the sum of the
 * lengths before it. Free the array with chunk_list_clear(). */
struct chunk_list {
	struct chunk *v;
	size_t n, cap;
};

struct chunker;

/* Returns entry i of the gear table (see the top of this file). */
uint64_t chunk_gear(uint8_t i);

/* Whether a file of size bytes is cut into chunks and gets a list.
 * Returns 1 or 0. */
int chunk_wanted(int64_t size);

/* Makes a chunker at offset 0 of a file. Returns 0 and sets *out (free
 * with chunker_free()), or -ENOMEM. */
int chunker_new(struct chunker **out);

/* Frees c and what it holds. NULL is allowed. */
void chunker_free(struct chunker *c);

/* Feeds the next n bytes of the file. Returns 0, -ENOMEM, or -EFBIG when
 * the list would grow past CHUNK_LIST_MAX. */
int chunker_feed(struct chunker *c, const void *buf, size_t n);

/* Ends the file: the bytes since the last cut become the last chunk, and
 * the whole list moves into *out (cleared first; free with
 * chunk_list_clear()). c starts again at offset 0 of a new file.
 * Returns 0 or -ENOMEM. */
int chunker_finish(struct chunker *c, struct chunk_list *out);

/* Frees l's array and zeroes it. */
void chunk_list_clear(struct chunk_list *l);

/* Returns the sum of l's chunk lengths, the size of its file. */
int64_t chunk_list_size(const struct chunk_list *l);

/* Makes dst (cleared first) a copy of src. Returns 0 or -ENOMEM (dst
 * unchanged). */
int chunk_list_copy(struct chunk_list *dst, const struct chunk_list *src);

/* Appends a chunk. Returns 0, -ENOMEM, -EINVAL (len 0 or > CHUNK_MAX) or
 * -EFBIG (CHUNK_LIST_MAX reached). */
int chunk_list_add(struct chunk_list *l, uint32_t len, const uint8_t sha256[32]);

/* The packed form of a list (what the store keeps, and what travels): a
 * format byte CHUNK_PACK_V1, then per chunk its length as 4 bytes
 * big-endian and its 32-byte SHA-256. */
#define CHUNK_PACK_V1 1
#define CHUNK_PACK_ENTRY 36

/* Returns the bytes chunk_pack() writes for n chunks. */
size_t chunk_pack_len(size_t n);

/* Writes l packed into out, which holds chunk_pack_len(l->n) bytes. */
void chunk_pack(const struct chunk_list *l, uint8_t *out);

/* Parses a packed list (from the store or a peer: hostile) into *out
 * (cleared first; free with chunk_list_clear()). Returns 0, -EINVAL if it
 * is malformed (unknown format, ragged length, a length of 0 or above
 * CHUNK_MAX, more than CHUNK_LIST_MAX chunks), -ENOMEM. */
int chunk_unpack(const void *buf, size_t len, struct chunk_list *out);

/* ---- kept in the store (chunk_store.c) ---- */

struct store;

/* Keeps l as the chunk list of the content sha256 (store_chunks_put());
 * an empty list (a file below CHUNK_SMALL) keeps nothing. Returns 0,
 * -ENOMEM or the store's -errno. */
int chunk_record(struct store *st, const uint8_t sha256[32],
    const struct chunk_list *l);

/* Loads the chunk list kept for the content sha256 into *out (cleared
 * first; free with chunk_list_clear()). Returns 0, -ENOENT if none is
 * kept, -EINVAL if the kept one is malformed, -ENOMEM, -errno. */
int chunk_load(struct store *st, const uint8_t sha256[32],
    struct chunk_list *out);

#endif

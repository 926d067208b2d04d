/* chunks.c -- the chunk list of each content, one packed blob per SHA-256.
 * See "Chunk lists" in store.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

int
store_chunks_put(struct store *s, const uint8_t sha256[32], const void *list,
    size_t len)
{
	sqlite3_stmt *st;
	int r;

	if (len > INT32_MAX)
		return -EFBIG;
	if ((r = store_prepare(s, "INSERT OR REPLACE INTO chunks (sha256, list,"
	    " seen) VALUES (?1, ?2, ?3)", &st)) < 0)
		return r;
	sqlite3_bind_blob(st, 1, sha256, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, len ? list : "", (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, store_now());
	return store_step_done(s, st);
}

int
store_chunks_get(struct store *s, const uint8_t sha256[32], uint8_t **list,
    size_t *len)
{
	sqlite3_stmt *st;
	const void *b;
	int r, n;

	if ((r = store_prepare(s, "SELECT list FROM chunks WHERE sha256 = ?1",
	    &st)) < 0)
		return r;
	sqlite3_bind_blob(st, 1, sha256, 32, SQLITE_STATIC);
	if ((r = store_step_row(s, st)) <= 0)
		return r < 0 ? r : -ENOENT;
	b = sqlite3_column_blob(st, 0);
	n = sqlite3_column_bytes(st, 0);
	*list = malloc(n > 0 ? (size_t)n : 1);
	if (*list == NULL)
		r = -ENOMEM;
	else {
		if (n > 0)
			memcpy(*list, b, (size_t)n);
		*len = (size_t)n;
		r = 0;
	}
	store_finalize(s, st);
	return r;
}

#define LIVE "EXISTS (SELECT 1 FROM files WHERE deleted = 0" \
	" AND files.sha256 = chunks.sha256)"

int
store_chunks_collect(struct store *s, int64_t before, int64_t *collected)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "UPDATE chunks SET seen = ?1 WHERE " LIVE,
	    &st)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, store_now());
	if ((r = store_step_done(s, st)) < 0 ||
	    (r = store_prepare(s, "DELETE FROM chunks WHERE seen < ?1 AND NOT "
	    LIVE, &st)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, before);
	if ((r = store_step_done(s, st)) == 0 && collected)
		*collected = sqlite3_changes(s->db);
	return r;
}

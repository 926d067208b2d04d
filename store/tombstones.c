/* tombstones.c -- collecting the tombstones nobody needs any more.
 *
 * A tombstone tells a slave that a path is gone. It is needed until every
 * active slave has applied it; then it only grows the index. Collection
 * leaves the change history incomplete below the highest seq collected,
 * which STORE_META_GC_SEQ records: a catch-up from an older seq would
 * miss deletions, so such a slave is reconciled by manifest instead. */
#include <errno.h>
#include <stdint.h>

#include "store/store_int.h"

/* A tombstone goes when no active slave lags behind it and no pending
 * outbox entry names its path (as the path acted on or a rename's
 * source): the operation that entry sends may still need the record. */
static const char collect_sql[] =
	"DELETE FROM files WHERE deleted = 1 AND seq <= ?1"
	" AND NOT EXISTS (SELECT 1 FROM slaves"
	"  WHERE state = 'active' AND applied_seq < files.seq)"
	" AND NOT EXISTS (SELECT 1 FROM slaves sl JOIN outbox o"
	"  ON o.slave = sl.jid AND o.path = files.path)"
	" AND NOT EXISTS (SELECT 1 FROM slaves sl JOIN outbox o"
	"  ON o.slave = sl.jid AND o.src = files.path)"
	" RETURNING seq";

/* Runs the collection; sets *n and *top (highest seq removed, 0 if
 * none). */
static int
collect(struct store *s, int64_t upto, int64_t *n, int64_t *top)
{
	sqlite3_stmt *st;
	int r;

	*n = *top = 0;
	if ((r = store_prepare(s, collect_sql, &st)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, upto);
	while ((r = store_step_row(s, st)) == 1) {
		int64_t seq = sqlite3_column_int64(st, 0);
		(*n)++;
		if (seq > *top)
			*top = seq;
	}
	return r;
}

int
store_tombstones_collect(struct store *s, int64_t upto, int64_t *collected)
{
	int64_t n = 0, top = 0, old = 0;
	int r;

	if ((r = store_begin(s)) < 0)
		return r;
	/* versions no file has had for long need no chunk list either */
	if ((r = store_chunks_collect(s, store_now() - STORE_CHUNKS_KEEP,
	    NULL)) == 0 &&
	    (r = collect(s, upto, &n, &top)) == 0 && top > 0) {
		if ((r = store_meta_get_int(s, STORE_META_GC_SEQ, &old)) == -ENOENT)
			r = 0;
		if (r == 0 && top > old)
			r = store_meta_set_int(s, STORE_META_GC_SEQ, top);
	}
	if ((r = store_end(s, r)) == 0 && collected)
		*collected = n;
	return r;
}

/* outbox.c -- per-slave pending operations, compacted per path.
 *
 * The rules are in store.h ("Outbox"). Here an entry is what is pending
 * for one (slave, path); "fresh" says the slave does not have the path,
 * which is what lets create-then-delete cancel out. Every rule keeps this
 * invariant: after delivering all entries in seq order, the slave's tree
 * equals the master's. When unsure whether the slave has a path we say it
 * has (fresh = 0): that costs at most a needless delete. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"

static const char *const op_names[] = {
	[STORE_OP_PUT] = "put", [STORE_OP_DELETE] = "delete",
	[STORE_OP_MKDIR] = "mkdir", [STORE_OP_RMDIR] = "rmdir",
	[STORE_OP_RENAME] = "rename", [STORE_OP_META] = "meta",
	[STORE_OP_SYMLINK] = "symlink",
};

struct entry {
	int found;
	enum store_op_kind kind;
	int64_t seq;
	char *src;
	int fresh;
	int sent;	/* in a batch whose answer has not come yet */
};

static enum store_op_kind
op_parse(const char *name)
{
	for (int i = STORE_OP_PUT; i <= STORE_OP_SYMLINK; i++)
		if (name && strcmp(name, op_names[i]) == 0)
			return (enum store_op_kind)i;
	return 0;
}

static int
is_removal(enum store_op_kind k)
{
	return k == STORE_OP_DELETE || k == STORE_OP_RMDIR;
}

/* Fills *e with the entry of (slave, path); e->found = 0 if there is
 * none. Returns 0 or -errno; the caller frees e->src either way. */
static int
entry_load(struct store *s, const char *slave, const char *path,
    struct entry *e)
{
	sqlite3_stmt *st;
	int r, err = 0;

	memset(e, 0, sizeof(*e));
	if ((r = store_prepare(s, "SELECT op, seq, src, fresh, sent FROM outbox"
	    " WHERE slave = ?1 AND path = ?2", &st)) < 0)
		return r;
	store_bind_text(st, 1, slave);
	store_bind_text(st, 2, path);
	if ((r = store_step_row(s, st)) <= 0)
		return r;
	e->found = 1;
	e->kind = op_parse((const char *)sqlite3_column_text(st, 0));
	e->seq = sqlite3_column_int64(st, 1);
	e->src = store_col_dup(st, 2, &err);
	e->fresh = sqlite3_column_int(st, 3);
	e->sent = sqlite3_column_int(st, 4);
	store_finalize(s, st);
	return err;
}

/* Makes kind the entry of path, replacing any (attempts start over). An
 * entry that is updated keeps its place in the order (ord), so that a
 * directory whose mode or mtime changes again still comes before what was
 * queued below it; only a removal turned into a creation takes the new
 * seq's place, after whatever now creates its parents. */
static int
entry_set(struct store *s, const char *slave, const char *path,
    enum store_op_kind kind, int64_t seq, const char *src, int fresh)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "INSERT INTO outbox"
	    " (slave, path, op, seq, src, fresh, ord)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?4)"
	    " ON CONFLICT (slave, path) DO UPDATE SET op = excluded.op,"
	    "  seq = excluded.seq, src = excluded.src, fresh = excluded.fresh,"
	    "  attempts = 0, retry_at = 0, error = NULL, sent = 0,"
	    "  waiting = 0, not_before = 0,"
	    "  ord = CASE WHEN outbox.op IN ('delete', 'rmdir') AND"
	    "   excluded.op NOT IN ('delete', 'rmdir') THEN excluded.seq"
	    "   ELSE outbox.ord END", &st)) < 0)
		return r;
	store_bind_text(st, 1, slave);
	store_bind_text(st, 2, path);
	store_bind_text(st, 3, op_names[kind]);
	sqlite3_bind_int64(st, 4, seq);
	store_bind_text(st, 5, kind == STORE_OP_RENAME ? src : NULL);
	sqlite3_bind_int(st, 6, fresh);
	return store_step_done(s, st);
}

static int
entry_drop(struct store *s, const char *slave, const char *path)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "DELETE FROM outbox WHERE slave = ?1"
	    " AND path = ?2", &st)) < 0)
		return r;
	store_bind_text(st, 1, slave);
	store_bind_text(st, 2, path);
	return store_step_done(s, st);
}

/* Sets *yes if a pending rename still moves path, or a directory above
 * it, away: then the slave has something at path. */
static int
renamed_away(struct store *s, const char *slave, const char *path, int *yes)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "SELECT 1 FROM outbox WHERE slave = ?1"
	    " AND src IS NOT NULL AND (src = ?2 OR"
	    "  (?2 >= src || '/' AND ?2 < src || '0')) LIMIT 1", &st)) < 0)
		return r;
	store_bind_text(st, 1, slave);
	store_bind_text(st, 2, path);
	if ((r = store_step_row(s, st)) == 1)
		store_finalize(s, st);
	*yes = r == 1;
	return r < 0 ? r : 0;
}

/* Whether the slave lacks path, for a first entry (none pending). */
static int
first_fresh(struct store *s, const char *slave, const char *path, int flags,
    int *fresh)
{
	int away = 0, r = 0;

	if (flags & STORE_OP_NEW)
		r = renamed_away(s, slave, path, &away);
	*fresh = (flags & STORE_OP_NEW) && !away;
	return r;
}

/* A pending rename from src was given up: the slave still has src, which
 * the master no longer has, unless an entry for src takes care of it. */
static int
orphan_src(struct store *s, const char *slave, const char *src,
    enum store_op_kind removal, int64_t seq)
{
	struct entry e;
	int r;

	if ((r = entry_load(s, slave, src, &e)) < 0 || e.found) {
		free(e.src);
		return r;
	}
	return entry_set(s, slave, src, removal, seq, NULL, 0);
}

/* Moves the entries below directory src to the same place below dst, as
 * part of the rename's seq so they come after it. Below "d" is the byte
 * range ["d/", "d0"): '0' follows '/'; byte offsets, not characters, as
 * paths need not be UTF-8. */
static int
move_children(struct store *s, const char *slave, const char *src,
    const char *dst, int64_t seq)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "UPDATE OR REPLACE outbox SET"
	    " path = ?3 || CAST(substr(CAST(path AS BLOB),"
	    "  length(CAST(?2 AS BLOB)) + 1) AS TEXT), seq = ?4, ord = ?4"
	    " WHERE slave = ?1 AND path >= ?2 || '/' AND path < ?2 || '0'",
	    &st)) < 0)
		return r;
	store_bind_text(st, 1, slave);
	store_bind_text(st, 2, src);
	store_bind_text(st, 3, dst);
	sqlite3_bind_int64(st, 4, seq);
	return store_step_done(s, st);
}

/* delete or rmdir of path */
static int
enqueue_removal(struct store *s, const char *slave, const char *path,
    enum store_op_kind kind, int64_t seq)
{
	struct entry e;
	int r;

	if ((r = entry_load(s, slave, path, &e)) < 0)
		return r;
	if (e.found && e.kind == STORE_OP_RENAME)
		r = orphan_src(s, slave, e.src, kind, seq);
	if (r == 0 && e.found && e.fresh)
		r = entry_drop(s, slave, path);
	else if (r == 0)
		r = entry_set(s, slave, path, kind, seq, NULL, 0);
	free(e.src);
	return r;
}

/* put, mkdir, symlink or meta of path */
static int
enqueue_state(struct store *s, const char *slave, const char *path,
    enum store_op_kind kind, int64_t seq, int flags)
{
	struct entry e;
	int fresh = 0, r;

	if ((r = entry_load(s, slave, path, &e)) < 0)
		return r;
	if (!e.found) {
		if (kind != STORE_OP_META)
			r = first_fresh(s, slave, path, flags, &fresh);
	} else if (kind == STORE_OP_META && is_removal(e.kind)) {
		r = -EINVAL;	/* no metadata for a path being deleted */
	} else if (kind == STORE_OP_META && e.kind != STORE_OP_META) {
		kind = e.kind;	/* the pending op sends the metadata too */
		fresh = e.fresh;
	} else {
		fresh = e.fresh;
		if (e.kind == STORE_OP_RENAME)	/* new content: send it */
			r = orphan_src(s, slave, e.src, STORE_OP_DELETE, seq);
	}
	if (r == 0)
		r = entry_set(s, slave, path, kind, seq, e.src, fresh);
	free(e.src);
	return r;
}

/* The entries src and dst become after "rename src dst", given the
 * pending entry of src (es) and whether the slave lacks dst. */
static int
rename_from(struct store *s, const char *slave, const char *src,
    const char *dst, int64_t seq, const struct entry *es, int dst_fresh)
{
	int r = 0;

	/* a rename a -> src already sent is applied before anything sent
	 * later (one batch at a time): the slave will have src, so this is a
	 * plain rename src -> dst, and the sent entry waits for its answer.
	 * Collapsing it into a -> dst would delete src, which the slave then
	 * holds, and then find no a to rename. */
	int sent_rename = es->found && es->kind == STORE_OP_RENAME && es->sent;

	/* a pending mkdir of a directory the slave has only updates its
	 * metadata (its mtime changes whenever an entry is added): the
	 * slave renames what it has, children included */
	if (!es->found || es->kind == STORE_OP_META || sent_rename ||
	    (es->kind == STORE_OP_MKDIR && !es->fresh)) {
		if (es->found && !sent_rename)
			r = entry_drop(s, slave, src);
		if (r == 0)
			r = entry_set(s, slave, dst, STORE_OP_RENAME, seq, src,
			    dst_fresh);
	} else if (es->kind == STORE_OP_RENAME) {
		/* a -> src -> dst: the slave still has a (and src unless
		 * fresh, which the master no longer has) */
		if (es->fresh)
			r = entry_drop(s, slave, src);
		else
			r = entry_set(s, slave, src, STORE_OP_DELETE, seq,
			    NULL, 0);
		if (r == 0 && strcmp(es->src, dst) == 0)
			r = entry_set(s, slave, dst, STORE_OP_META, seq, NULL, 0);
		else if (r == 0)
			r = entry_set(s, slave, dst, STORE_OP_RENAME, seq,
			    es->src, dst_fresh);
	} else {
		/* src has content the slave lacks: create dst from scratch */
		if (es->fresh)
			r = entry_drop(s, slave, src);
		else
			r = entry_set(s, slave, src, es->kind == STORE_OP_MKDIR ?
			    STORE_OP_RMDIR : STORE_OP_DELETE, seq, NULL, 0);
		if (r == 0)
			r = entry_set(s, slave, dst, es->kind, seq, NULL,
			    dst_fresh);
	}
	return r;
}

static int
enqueue_rename(struct store *s, const char *slave, const char *dst,
    const char *src, int64_t seq, int flags)
{
	struct entry es, ed;
	int dst_fresh = 0, r;

	if (src == NULL || *src == '\0' || strcmp(src, dst) == 0)
		return -EINVAL;
	if ((r = entry_load(s, slave, src, &es)) < 0)
		return r;
	if ((r = entry_load(s, slave, dst, &ed)) < 0)
		goto out;
	if (es.found && is_removal(es.kind))
		r = -EINVAL;	/* renaming what is gone */
	else if (ed.found)
		dst_fresh = ed.fresh;
	else
		r = first_fresh(s, slave, dst, flags, &dst_fresh);
	if (r == 0)
		r = rename_from(s, slave, src, dst, seq, &es, dst_fresh);
	if (r == 0)
		r = move_children(s, slave, src, dst, seq);
	/* dst was to come from elsewhere: that elsewhere is now stale */
	if (r == 0 && ed.found && ed.kind == STORE_OP_RENAME &&
	    strcmp(ed.src, src) != 0)
		r = orphan_src(s, slave, ed.src, STORE_OP_DELETE, seq);
out:
	free(es.src);
	free(ed.src);
	return r;
}

static int
slave_active(struct store *s, const char *slave)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "SELECT 1 FROM slaves WHERE jid = ?1"
	    " AND state = 'active'", &st)) < 0)
		return r;
	store_bind_text(st, 1, slave);
	if ((r = store_step_row(s, st)) == 1)
		store_finalize(s, st);
	return r < 0 ? r : r == 1 ? 0 : -ENOENT;
}

int
store_outbox_enqueue(struct store *s, const char *slave, const char *path,
    enum store_op_kind kind, int64_t seq, const char *src, int flags)
{
	int r;

	if (kind < STORE_OP_PUT || kind > STORE_OP_SYMLINK || path == NULL ||
	    *path == '\0')
		return -EINVAL;
	if ((r = store_begin(s)) < 0)
		return r;
	if ((r = slave_active(s, slave)) < 0)
		;
	else if (kind == STORE_OP_RENAME)
		r = enqueue_rename(s, slave, path, src, seq, flags);
	else if (is_removal(kind))
		r = enqueue_removal(s, slave, path, kind, seq);
	else
		r = enqueue_state(s, slave, path, kind, seq, flags);
	return store_end(s, r);
}

/* Lists entries of slave by sql (?1 slave, ?2 max, ?3 now, then the
 * columns of OUTBOX_COLS in this order). Returns 0, cb's value, or
 * -errno. */
static int
outbox_list(struct store *s, const char *sql, const char *slave, int max,
    int64_t now, int (*cb)(const struct store_op *op, void *arg), void *arg)
{
	sqlite3_stmt *st;
	struct store_op op;
	int r;

	if ((r = store_prepare(s, sql, &st)) < 0)
		return r;
	store_bind_text(st, 1, slave);
	sqlite3_bind_int(st, 2, max);
	sqlite3_bind_int64(st, 3, now);
	while ((r = store_step_row(s, st)) == 1) {
		op.slave = (const char *)sqlite3_column_text(st, 0);
		op.path = (const char *)sqlite3_column_text(st, 1);
		op.kind = op_parse((const char *)sqlite3_column_text(st, 2));
		op.seq = sqlite3_column_int64(st, 3);
		op.src = (const char *)sqlite3_column_text(st, 4);
		op.fresh = sqlite3_column_int(st, 5);
		op.attempts = sqlite3_column_int(st, 6);
		op.retry_at = sqlite3_column_int64(st, 7);
		op.error = (const char *)sqlite3_column_text(st, 8);
		op.waiting = sqlite3_column_int(st, 9);
		op.not_before = sqlite3_column_int64(st, 10);
		if ((r = cb(&op, arg)) != 0) {
			store_finalize(s, st);
			return r;
		}
	}
	return r;
}

#define OUTBOX_COLS "SELECT slave, path, op, seq, src, fresh, attempts," \
	" retry_at, error, waiting, not_before FROM outbox"

int
store_outbox_next(struct store *s, const char *slave, int max,
    int (*cb)(const struct store_op *op, void *arg), void *arg)
{
	return outbox_list(s, OUTBOX_COLS " WHERE slave = ?1 AND ?3 IS NOT NULL"
	    " ORDER BY ord, path LIMIT ?2", slave, max, 0, cb, arg);
}

int
store_outbox_next_due(struct store *s, const char *slave, int max,
    int64_t now, int (*cb)(const struct store_op *op, void *arg), void *arg)
{
	return outbox_list(s, OUTBOX_COLS " WHERE slave = ?1 AND not_before <= ?3"
	    " AND retry_at <= ?3 ORDER BY ord, path LIMIT ?2", slave, max, now,
	    cb, arg);
}

int
store_outbox_failing(struct store *s, const char *slave, int max,
    int (*cb)(const struct store_op *op, void *arg), void *arg)
{
	return outbox_list(s, OUTBOX_COLS " WHERE slave = ?1 AND attempts > 0"
	    " AND waiting = 0 AND ?3 IS NOT NULL ORDER BY ord, path LIMIT ?2",
	    slave, max, 0, cb, arg);
}

/* One count(*) over slave's entries; the statement binds ?1 = slave,
 * ?2 = arg. */
static int
outbox_count(struct store *s, const char *sql, const char *slave,
    const char *arg2, int64_t now, int64_t *n)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, sql, &st)) < 0)
		return r;
	store_bind_text(st, 1, slave);
	if (arg2)
		store_bind_text(st, 2, arg2);
	else
		sqlite3_bind_int64(st, 2, now);
	if ((r = store_step_row(s, st)) <= 0)
		return r < 0 ? r : -EIO;
	*n = sqlite3_column_int64(st, 0);
	store_finalize(s, st);
	return 0;
}

int
store_outbox_waiting(struct store *s, const char *slave, int max,
    int (*cb)(const struct store_op *op, void *arg), void *arg,
    int64_t *total)
{
	int r = outbox_count(s, "SELECT count(*) FROM outbox WHERE slave = ?1"
	    " AND waiting = 1 AND ?2 IS NOT NULL", slave, NULL, 0, total);

	if (r < 0)
		return r;
	return outbox_list(s, OUTBOX_COLS " WHERE slave = ?1 AND waiting = 1"
	    " AND ?3 IS NOT NULL ORDER BY ord, path LIMIT ?2", slave, max, 0,
	    cb, arg);
}

static int
outbox_exec(struct store *s, const char *sql, const char *slave,
    const char *path, int64_t seq)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, sql, &st)) < 0)
		return r;
	store_bind_text(st, 1, slave);
	store_bind_text(st, 2, path);
	sqlite3_bind_int64(st, 3, seq);
	if ((r = store_step_done(s, st)) == 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	return r;
}

int
store_outbox_done(struct store *s, const char *slave, const char *path,
    int64_t seq)
{
	int r;

	r = outbox_exec(s, "DELETE FROM outbox WHERE slave = ?1 AND path = ?2"
	    " AND seq <= ?3", slave, path, seq);
	if (r != -ENOENT)
		return r;
	/* superseded while in flight: keep it, the slave has the path now */
	return outbox_exec(s, "UPDATE outbox SET fresh = 0, attempts = 0"
	    " WHERE slave = ?1 AND path = ?2 AND ?3 IS NOT NULL",
	    slave, path, seq);
}

int
store_outbox_sent(struct store *s, const char *slave,
    const char *const *paths, size_t n)
{
	sqlite3_stmt *st;
	int r;

	if (n == 0)
		return 0;
	if ((r = store_begin(s)) < 0)
		return r;
	for (size_t i = 0; r == 0 && i < n; i++) {
		if ((r = store_prepare(s, "UPDATE outbox SET fresh = 0, sent = 1"
		    " WHERE slave = ?1 AND path = ?2", &st)) < 0)
			break;
		store_bind_text(st, 1, slave);
		store_bind_text(st, 2, paths[i]);
		r = store_step_done(s, st);
	}
	return store_end(s, r);
}

int
store_outbox_failed(struct store *s, const char *slave, const char *path,
    const char *why, int64_t *delay)
{
	sqlite3_stmt *st;
	int64_t d = 0;
	int r;

	/* the backoff doubles from 5 s up to STORE_RETRY_MAX_S; an entry
	 * that waited for space fails for another reason now: it no longer
	 * waits, and its count starts over */
	if ((r = store_prepare(s, "UPDATE outbox SET"
	    " attempts = (CASE WHEN waiting THEN 0 ELSE attempts END) + 1,"
	    " error = ?3, retry_at = ?4 + min(?5,"
	    "  5 << CASE WHEN waiting THEN 0 ELSE min(attempts, 10) END),"
	    " waiting = 0, not_before = 0"
	    " WHERE slave = ?1 AND path = ?2 RETURNING retry_at - ?4", &st)) < 0)
		return r;
	store_bind_text(st, 1, slave);
	store_bind_text(st, 2, path);
	store_bind_text(st, 3, why);
	sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
	sqlite3_bind_int(st, 5, STORE_RETRY_MAX_S);
	if ((r = store_step_row(s, st)) == 1) {
		d = sqlite3_column_int64(st, 0);
		store_finalize(s, st);
	}
	if (r == 0)
		r = -ENOENT;
	if (delay)
		*delay = d;
	return r < 0 ? r : 0;
}

int
store_outbox_wait(struct store *s, const char *slave, const char *path,
    int64_t seq, int64_t now, int64_t base, int64_t max, int *first)
{
	sqlite3_stmt *st;
	int r;

	*first = 0;
	for (int pass = 0; pass < 2; pass++) {
		/* the first pass changes only an entry that did not wait:
		 * its count of attempts starts over (a failure set aside
		 * before is over: the slave took the request) */
		if ((r = store_prepare(s, pass == 0 ?
		    "UPDATE outbox SET waiting = 1, attempts = 1, retry_at = 0,"
		    " error = NULL, not_before = ?4 + min(?5, ?6)"
		    " WHERE slave = ?1 AND path = ?2 AND seq <= ?3 AND waiting = 0" :
		    "UPDATE outbox SET attempts = attempts + 1,"
		    " not_before = ?4 + min(?5 << min(attempts, 16), ?6)"
		    " WHERE slave = ?1 AND path = ?2 AND seq <= ?3", &st)) < 0)
			return r;
		store_bind_text(st, 1, slave);
		store_bind_text(st, 2, path);
		sqlite3_bind_int64(st, 3, seq);
		sqlite3_bind_int64(st, 4, now);
		sqlite3_bind_int64(st, 5, base);
		sqlite3_bind_int64(st, 6, max);
		if ((r = store_step_done(s, st)) < 0)
			return r;
		if (sqlite3_changes(s->db) > 0) {
			*first = pass == 0;
			return 0;
		}
	}
	return -ENOENT;
}

int
store_outbox_unwait(struct store *s, const char *slave, const char *path,
    int *was)
{
	int r = outbox_exec(s, "UPDATE outbox SET waiting = 0, not_before = 0,"
	    " attempts = 0 WHERE slave = ?1 AND path = ?2 AND waiting = 1 AND ?3 IS NOT NULL",
	    slave, path, 0);

	*was = r == 0;
	return r == -ENOENT ? 0 : r;
}

int
store_outbox_wake(struct store *s, const char *slave)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "UPDATE outbox SET not_before = 0"
	    " WHERE slave = ?1 AND waiting = 1 AND not_before > 0", &st)) < 0)
		return r;
	store_bind_text(st, 1, slave);
	return store_step_done(s, st);
}


int
store_outbox_count_due(struct store *s, const char *slave, int64_t now,
    int64_t *n)
{
	return outbox_count(s, "SELECT count(*) FROM outbox WHERE slave = ?1"
	    " AND not_before <= ?2 AND retry_at <= ?2", slave, NULL, now, n);
}

int
store_outbox_has(struct store *s, const char *slave, const char *path)
{
	int64_t n = 0;
	int r = outbox_count(s, "SELECT count(*) FROM outbox WHERE slave = ?1"
	    " AND path = ?2", slave, path, 0, &n);

	return r < 0 ? r : n > 0;
}

int
store_outbox_todo(struct store *s, const char *slave, int64_t *files,
    int64_t *bytes)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "SELECT count(*), coalesce(sum(f.size), 0)"
	    " FROM outbox o LEFT JOIN files f ON f.path = o.path AND"
	    " f.deleted = 0 WHERE o.slave = ?1 AND o.op = 'put'", &st)) < 0)
		return r;
	store_bind_text(st, 1, slave);
	if ((r = store_step_row(s, st)) <= 0)
		return r < 0 ? r : -EIO;
	*files = sqlite3_column_int64(st, 0);
	*bytes = sqlite3_column_int64(st, 1);
	store_finalize(s, st);
	return 0;
}

int
store_outbox_count(struct store *s, const char *slave, int64_t *n)
{
	return outbox_count(s, "SELECT count(*) FROM outbox WHERE slave = ?1"
	    " AND ?2 IS NOT NULL", slave, NULL, 0, n);
}

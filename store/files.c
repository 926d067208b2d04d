/* files.c -- the file index: records, tombstones, changes since a seq. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/log.h"
#include "store/store_int.h"

static const char *const type_names[] = {
	[STORE_FILE] = "file", [STORE_DIR] = "dir", [STORE_SYMLINK] = "symlink",
};

static enum store_ftype
type_parse(const char *t)
{
	for (int i = STORE_FILE; i <= STORE_SYMLINK; i++)
		if (t && strcmp(t, type_names[i]) == 0)
			return (enum store_ftype)i;
	return 0;
}

/* Fills f from a row of STORE_FILE_COLS; strings are borrowed from st. */
static void
row_to_file(sqlite3_stmt *st, struct store_file *f)
{
	const void *sha = sqlite3_column_blob(st, 5);

	memset(f, 0, sizeof(*f));
	f->path = (const char *)sqlite3_column_text(st, 0);
	f->type = type_parse((const char *)sqlite3_column_text(st, 1));
	f->size = sqlite3_column_int64(st, 2);
	f->mtime_ns = sqlite3_column_int64(st, 3);
	f->mode = (uint32_t)sqlite3_column_int64(st, 4);
	if (sha != NULL && sqlite3_column_bytes(st, 5) == 32) {
		memcpy(f->sha256, sha, 32);
		f->has_sha256 = 1;
	}
	f->target = (const char *)sqlite3_column_text(st, 6);
	f->seq = sqlite3_column_int64(st, 7);
	f->deleted = sqlite3_column_int(st, 8);
}

void
store_file_clear(struct store_file *f)
{
	free((char *)f->path);
	free((char *)f->target);
	memset(f, 0, sizeof(*f));
}

int
store_file_load(struct store *s, const char *path, struct store_file *out)
{
	sqlite3_stmt *st;
	struct store_file f;
	int r, err = 0;

	if ((r = store_prepare(s, "SELECT " STORE_FILE_COLS " FROM files"
	    " WHERE path = ?1", &st)) < 0)
		return r;
	store_bind_text(st, 1, path);
	if ((r = store_step_row(s, st)) <= 0)
		return r < 0 ? r : -ENOENT;
	row_to_file(st, &f);
	*out = f;
	out->path = store_col_dup(st, 0, &err);
	out->target = store_col_dup(st, 6, &err);
	store_finalize(s, st);
	if (err < 0)
		store_file_clear(out);
	return err;
}

static int
file_valid(const struct store_file *f)
{
	if (f->path == NULL || f->path[0] == '\0')
		return 0;
	switch (f->type) {
	case STORE_FILE:
		return f->has_sha256 && f->size >= 0;
	case STORE_DIR:
		return 1;
	case STORE_SYMLINK:
		return f->target != NULL;
	}
	return 0;
}

/* Whether a and the live record b describe the same state. */
static int
file_same(const struct store_file *a, const struct store_file *b)
{
	if (b->deleted || a->type != b->type || a->mode != b->mode ||
	    a->mtime_ns != b->mtime_ns)
		return 0;
	switch (a->type) {
	case STORE_FILE:
		return a->size == b->size && b->has_sha256 &&
		    memcmp(a->sha256, b->sha256, 32) == 0;
	case STORE_SYMLINK:
		return b->target != NULL && strcmp(a->target, b->target) == 0;
	default:
		return 1;
	}
}

/* Writes f as the live record of its path with the given seq. */
static int
file_write(struct store *s, const struct store_file *f, int64_t seq)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "INSERT INTO files (" STORE_FILE_COLS ", scan_gen)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0,"
	    "  (SELECT value FROM meta WHERE key = 'scan_gen'))"
	    " ON CONFLICT (path) DO UPDATE SET type = ?2, size = ?3,"
	    "  mtime_ns = ?4, mode = ?5, sha256 = ?6, target = ?7, seq = ?8,"
	    "  deleted = 0, scan_gen = excluded.scan_gen", &st)) < 0)
		return r;
	store_bind_text(st, 1, f->path);
	store_bind_text(st, 2, type_names[f->type]);
	sqlite3_bind_int64(st, 3, f->type == STORE_FILE ? f->size : 0);
	sqlite3_bind_int64(st, 4, f->mtime_ns);
	sqlite3_bind_int64(st, 5, f->mode & 07777);
	if (f->type == STORE_FILE)
		sqlite3_bind_blob(st, 6, f->sha256, 32, SQLITE_TRANSIENT);
	store_bind_text(st, 7, f->type == STORE_SYMLINK ? f->target : NULL);
	sqlite3_bind_int64(st, 8, seq);
	return store_step_done(s, st);
}

/* Compares f with the stored record; sets *chg and, if unchanged, *seq. */
static int
file_compare(struct store *s, const struct store_file *f,
    enum store_change *chg, int64_t *seq)
{
	sqlite3_stmt *st;
	struct store_file old;
	int r;

	if ((r = store_prepare(s, "SELECT " STORE_FILE_COLS " FROM files"
	    " WHERE path = ?1", &st)) < 0)
		return r;
	store_bind_text(st, 1, f->path);
	if ((r = store_step_row(s, st)) <= 0) {
		*chg = STORE_ADDED;
		return r;
	}
	row_to_file(st, &old);
	if (file_same(f, &old)) {
		*chg = STORE_UNCHANGED;
		*seq = old.seq;
	} else
		*chg = old.deleted ? STORE_ADDED : STORE_CHANGED;
	store_finalize(s, st);
	return 0;
}

int
store_file_put(struct store *s, const struct store_file *f,
    enum store_change *chg, int64_t *seq)
{
	enum store_change c = STORE_UNCHANGED;
	int64_t q = 0;
	int r;

	if (!file_valid(f))
		return -EINVAL;
	if ((r = store_begin(s)) < 0)
		return r;
	if ((r = file_compare(s, f, &c, &q)) == 0) {
		if (c == STORE_UNCHANGED)
			r = store_scan_seen(s, f->path);
		else if ((r = store_next_seq(s, &q)) == 0)
			r = file_write(s, f, q);
	}
	if ((r = store_end(s, r)) == 0) {
		if (chg)
			*chg = c;
		if (seq)
			*seq = q;
	}
	return r;
}

int
store_file_delete(struct store *s, const char *path, int64_t *seq)
{
	sqlite3_stmt *st;
	int64_t q;
	int r;

	if ((r = store_begin(s)) < 0)
		return r;
	if ((r = store_next_seq(s, &q)) == 0)
		r = store_prepare(s, "UPDATE files SET deleted = 1, seq = ?2"
		    " WHERE path = ?1 AND deleted = 0", &st);
	if (r == 0) {
		store_bind_text(st, 1, path);
		sqlite3_bind_int64(st, 2, q);
		if ((r = store_step_done(s, st)) == 0 &&
		    sqlite3_changes(s->db) == 0)
			r = -ENOENT;
	}
	if ((r = store_end(s, r)) == 0 && seq)
		*seq = q;
	return r;
}

int
store_walk_rows(struct store *s, sqlite3_stmt *st,
    int (*cb)(const struct store_file *f, void *arg), void *arg)
{
	struct store_file f;
	int r;

	while ((r = store_step_row(s, st)) == 1) {
		row_to_file(st, &f);
		if ((r = cb(&f, arg)) != 0) {
			store_finalize(s, st);
			return r;
		}
	}
	return r;
}

int
store_changes_since(struct store *s, int64_t since,
    int (*cb)(const struct store_file *f, void *arg), void *arg)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "SELECT " STORE_FILE_COLS " FROM files"
	    " WHERE seq > ?1 ORDER BY seq", &st)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, since);
	return store_walk_rows(s, st, cb, arg);
}

/* Paths are never empty, so "" sorts before every one of them. */
int
store_file_list(struct store *s, const char *after, size_t max,
    int (*cb)(const struct store_file *f, void *arg), void *arg)
{
	sqlite3_stmt *st;
	int r;

	if (max == 0)
		return 0;
	if ((r = store_prepare(s, "SELECT " STORE_FILE_COLS " FROM files"
	    " WHERE deleted = 0 AND path > ?1 ORDER BY path LIMIT ?2",
	    &st)) < 0)
		return r;
	store_bind_text(st, 1, after ? after : "");
	sqlite3_bind_int64(st, 2, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	return store_walk_rows(s, st, cb, arg);
}

/* Below "d" is the byte range ["d/", "d0"): '0' follows '/'. */
int
store_file_below(struct store *s, const char *dir,
    int (*cb)(const struct store_file *f, void *arg), void *arg)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "SELECT " STORE_FILE_COLS " FROM files"
	    " WHERE deleted = 0 AND path >= ?1 || '/' AND path < ?1 || '0'"
	    " ORDER BY path", &st)) < 0)
		return r;
	store_bind_text(st, 1, dir);
	return store_walk_rows(s, st, cb, arg);
}

int
store_file_load_by_sha256(struct store *s, const uint8_t sha256[32],
    struct store_file *out)
{
	sqlite3_stmt *st;
	struct store_file f;
	int r, err = 0;

	if ((r = store_prepare(s, "SELECT " STORE_FILE_COLS " FROM files"
	    " WHERE sha256 = ?1 AND deleted = 0 AND type = 'file'"
	    " ORDER BY path LIMIT 1", &st)) < 0)
		return r;
	sqlite3_bind_blob(st, 1, sha256, 32, SQLITE_TRANSIENT);
	if ((r = store_step_row(s, st)) <= 0)
		return r < 0 ? r : -ENOENT;
	row_to_file(st, &f);
	*out = f;
	out->path = store_col_dup(st, 0, &err);
	out->target = NULL;
	store_finalize(s, st);
	if (err < 0)
		store_file_clear(out);
	return err;
}

int
store_last_seq(struct store *s, int64_t *seq)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "SELECT coalesce(max(seq), 0) FROM files",
	    &st)) < 0)
		return r;
	if ((r = store_step_row(s, st)) <= 0)
		return r < 0 ? r : -EIO;
	*seq = sqlite3_column_int64(st, 0);
	store_finalize(s, st);
	return 0;
}

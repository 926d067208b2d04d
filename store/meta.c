/* meta.c -- the meta key/value table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

int
store_meta_dup(struct store *s, const char *key, char **out)
{
	sqlite3_stmt *st;
	int r, err = 0;

	if ((r = store_prepare(s, "SELECT CAST(value AS TEXT) FROM meta"
	    " WHERE key = ?1 AND value IS NOT NULL", &st)) < 0)
		return r;
	store_bind_text(st, 1, key);
	if ((r = store_step_row(s, st)) <= 0)
		return r < 0 ? r : -ENOENT;
	*out = store_col_dup(st, 0, &err);
	store_finalize(s, st);
	return err;
}

int
store_meta_set(struct store *s, const char *key, const char *value)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "INSERT OR REPLACE INTO meta (key, value)"
	    " VALUES (?1, ?2)", &st)) < 0)
		return r;
	store_bind_text(st, 1, key);
	store_bind_text(st, 2, value);
	return store_step_done(s, st);
}

int
store_meta_get_int(struct store *s, const char *key, int64_t *out)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "SELECT value FROM meta WHERE key = ?1",
	    &st)) < 0)
		return r;
	store_bind_text(st, 1, key);
	if ((r = store_step_row(s, st)) <= 0)
		return r < 0 ? r : -ENOENT;
	r = sqlite3_column_type(st, 0) == SQLITE_INTEGER ? 0 : -EINVAL;
	*out = sqlite3_column_int64(st, 0);
	store_finalize(s, st);
	return r;
}

int
store_meta_set_int(struct store *s, const char *key, int64_t value)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "INSERT OR REPLACE INTO meta (key, value)"
	    " VALUES (?1, ?2)", &st)) < 0)
		return r;
	store_bind_text(st, 1, key);
	sqlite3_bind_int64(st, 2, value);
	return store_step_done(s, st);
}

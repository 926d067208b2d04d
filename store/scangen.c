/* scangen.c -- scan generations: which records a scan did not see. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "agent/util.h"

int
store_scan_begin(struct store *s, int64_t *gen)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "UPDATE meta SET value = value + 1"
	    " WHERE key = 'scan_gen' RETURNING value", &st)) < 0)
		return r;
	if ((r = store_step_row(s, st)) <= 0)
		return r < 0 ? r : -EIO;
	*gen = sqlite3_column_int64(st, 0);
	store_finalize(s, st);
	return 0;
}

int
store_scan_seen(struct store *s, const char *path)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "UPDATE files SET scan_gen ="
	    " (SELECT value FROM meta WHERE key = 'scan_gen')"
	    " WHERE path = ?1 AND deleted = 0", &st)) < 0)
		return r;
	store_bind_text(st, 1, path);
	if ((r = store_step_done(s, st)) == 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	return r;
}

int
store_scan_seen_below(struct store *s, const char *dir)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "UPDATE files SET scan_gen ="
	    " (SELECT value FROM meta WHERE key = 'scan_gen')"
	    " WHERE deleted = 0 AND path >= ?1 || '/' AND path < ?1 || '0'",
	    &st)) < 0)
		return r;
	store_bind_text(st, 1, dir);
	return store_step_done(s, st);
}

struct pathlist {
	char **v;
	size_t n, cap;
};

static void
pathlist_free(struct pathlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int
pathlist_add(struct pathlist *l, const char *p)
{
	if (util_grow(&l->v, l->n + 1, &l->cap, 64) < 0)
		return -ENOMEM;
	if ((l->v[l->n] = strdup(p)) == NULL)
		return -ENOMEM;
	l->n++;
	return 0;
}

/* Collects the live paths not seen since gen, deepest first (a child
 * sorts after its directory, so descending order puts it before). */
static int
unseen(struct store *s, int64_t gen, struct pathlist *l)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "SELECT path FROM files WHERE deleted = 0"
	    " AND scan_gen < ?1 ORDER BY path DESC", &st)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, gen);
	while ((r = store_step_row(s, st)) == 1) {
		if ((r = pathlist_add(l,
		    (const char *)sqlite3_column_text(st, 0))) < 0) {
			store_finalize(s, st);
			return r;
		}
	}
	return r;
}

static int
tombstone(struct store *s, const char *path,
    int (*cb)(const struct store_file *f, void *arg), void *arg)
{
	struct store_file f;
	int r;

	if ((r = store_file_delete(s, path, NULL)) < 0 || cb == NULL)
		return r;
	if ((r = store_file_load(s, path, &f)) < 0)
		return r;
	r = cb(&f, arg);
	store_file_clear(&f);
	return r;
}

int
store_scan_end(struct store *s, int64_t gen,
    int (*cb)(const struct store_file *f, void *arg), void *arg,
    int64_t *deleted)
{
	struct pathlist l = {0};
	int r;

	if ((r = store_begin(s)) < 0)
		return r;
	r = unseen(s, gen, &l);
	for (size_t i = 0; r == 0 && i < l.n; i++)
		r = tombstone(s, l.v[i], cb, arg);
	if ((r = store_end(s, r)) == 0 && deleted)
		*deleted = (int64_t)l.n;
	pathlist_free(&l);
	return r;
}

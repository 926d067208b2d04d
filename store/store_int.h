/* store_int.h -- shared by the files of store/ only; not part of the API.
 *
 * Helpers log the SQLite message once, at the failing call, and return a
 * negative errno value; callers pass it up without logging again. */
#ifndef XS_STORE_INT_H
#define XS_STORE_INT_H

#include <sqlite3.h>
#include <stdint.h>

#include "store/store.h"

/* Prepared statements kept for reuse, by their SQL text: preparing is
 * most of the cost of a small query. */
#define STORE_STMT_CACHE 64

struct store {
	sqlite3 *db;
	int depth;		/* open store_begin() levels */
	struct store_stmt {
		char *sql;
		uint64_t hash;
		sqlite3_stmt *st;
		int busy;	/* handed out, not yet given back */
	} cache[STORE_STMT_CACHE];
	size_t ncache;
};

/* One forward migration: applied in a transaction, then user_version is
 * set to version. Steps are never edited once released; append new ones. */
struct store_migration {
	int version;
	const char *sql;
};

/* The migration table, ordered by version; the last one is
 * STORE_SCHEMA_VERSION. */
extern const struct store_migration store_migrations[];
extern const int store_n_migrations;

/* The columns row-reading helpers expect, in this order. */
#define STORE_FILE_COLS "path, type, size, mtime_ns, mode, sha256, target," \
	" seq, deleted"

/* Calls cb with each row (STORE_FILE_COLS) of the prepared, bound st, then
 * finalizes it. A nonzero return from cb stops and is returned. Returns 0,
 * cb's value, or -errno. */
int store_walk_rows(struct store *s, sqlite3_stmt *st,
    int (*cb)(const struct store_file *f, void *arg), void *arg);

/* Registers the collation xs_tree (store/digest.c) on the connection.
 * Returns 0 or -errno. */
int store_digest_register(struct store *s);

/* Maps a SQLite result code to -errno, logging what failed with the
 * database's message. */
int store_err(struct store *s, int rc, const char *what);

/* Prepares sql, or hands out the statement kept from the last time.
 * Returns 0 or -errno; give *st back with store_finalize(). */
int store_prepare(struct store *s, const char *sql, sqlite3_stmt **st);

/* Gives back a statement of store_prepare(): reset for the next time if
 * it is kept, else finalized. */
void store_finalize(struct store *s, sqlite3_stmt *st);

/* Runs sql, which returns no rows. Returns 0 or -errno. */
int store_exec(struct store *s, const char *sql);

/* Steps st expecting no row, then finalizes it. Returns 0 or -errno. */
int store_step_done(struct store *s, sqlite3_stmt *st);

/* Steps st expecting at most one row: returns 1 with a row (st stays
 * live), 0 at the end (st finalized) or -errno (st finalized). */
int store_step_row(struct store *s, sqlite3_stmt *st);

/* Ends a transaction opened by store_begin(): commit if rc == 0, else
 * rollback. Returns rc, or the commit's error. */
int store_end(struct store *s, int rc);

/* Takes the next seq from meta. Call inside a transaction. */
int store_next_seq(struct store *s, int64_t *seq);

/* Binds text or NULL. */
int store_bind_text(sqlite3_stmt *st, int i, const char *v);

/* strdup of column i, NULL for SQL NULL; sets *err = -ENOMEM on failure. */
char *store_col_dup(sqlite3_stmt *st, int i, int *err);

/* Sets the key state of jid's slave row, if there is one. Returns 0 or
 * -errno. */
int store_slave_key_state(struct store *s, const char *jid,
    enum store_key_state ks);

/* Current unix time in seconds. */
int64_t store_now(void);

#endif

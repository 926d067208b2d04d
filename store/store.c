/* store.c -- opening, migrating and transactions; shared helpers.
 * See store.h for the model and store_int.h for the helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/log.h"
#include "store/store_int.h"

#define STORE_BUSY_MS 5000

int
store_err(struct store *s, int rc, const char *what)
{
	int e;

	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		e = -EBUSY;
		break;
	case SQLITE_NOMEM:
		e = -ENOMEM;
		break;
	case SQLITE_FULL:
		e = -ENOSPC;
		break;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CANTOPEN:
		e = -EACCES;
		break;
	case SQLITE_CONSTRAINT:
		e = -EINVAL;
		break;
	default:
		e = -EIO;
		break;
	}
	log_error("database: %s failed: %s", what,
	    s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	return e;
}

static uint64_t
sql_hash(const char *sql)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

int
store_prepare(struct store *s, const char *sql, sqlite3_stmt **st)
{
	uint64_t h = sql_hash(sql);
	struct store_stmt *c = NULL;
	int rc;

	for (size_t i = 0; i < s->ncache; i++)
		if (s->cache[i].hash == h && strcmp(s->cache[i].sql, sql) == 0) {
			c = &s->cache[i];
			break;
		}
	if (c && !c->busy) {
		c->busy = 1;
		*st = c->st;
		return 0;
	}
	if ((rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL)) != SQLITE_OK)
		return store_err(s, rc, "prepare");
	/* kept for the next time, unless it is in use already (a nested
	 * query of the same text) or the cache is full */
	if (c == NULL && s->ncache < STORE_STMT_CACHE &&
	    strncmp(sql, "PRAGMA", 6) != 0 &&
	    (s->cache[s->ncache].sql = strdup(sql)) != NULL) {
		c = &s->cache[s->ncache++];
		c->hash = h;
		c->st = *st;
		c->busy = 1;
	}
	return 0;
}

void
store_finalize(struct store *s, sqlite3_stmt *st)
{
	for (size_t i = 0; s && i < s->ncache; i++)
		if (s->cache[i].st == st && s->cache[i].busy) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			s->cache[i].busy = 0;
			return;
		}
	sqlite3_finalize(st);
}

int
store_exec(struct store *s, const char *sql)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_err(s, rc, sql);
}

int
store_step_done(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	int r = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 :
	    store_err(s, rc, sqlite3_sql(st));

	store_finalize(s, st);
	return r;
}

int
store_step_row(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	int r = rc == SQLITE_DONE ? 0 : store_err(s, rc, sqlite3_sql(st));
	store_finalize(s, st);
	return r;
}

int
store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

char *
store_col_dup(sqlite3_stmt *st, int i, int *err)
{
	const char *v = (const char *)sqlite3_column_text(st, i);
	char *d;

	if (v == NULL)
		return NULL;
	if ((d = strdup(v)) == NULL)
		*err = -ENOMEM;
	return d;
}

int64_t
store_now(void)
{
	return (int64_t)time(NULL);
}

int
store_next_seq(struct store *s, int64_t *seq)
{
	sqlite3_stmt *st;
	int r = store_prepare(s, "UPDATE meta SET value = value + 1"
	    " WHERE key = 'next_seq' RETURNING value - 1", &st);

	if (r < 0)
		return r;
	if ((r = store_step_row(s, st)) <= 0) {
		if (r == 0)
			log_error("database: meta next_seq is missing");
		return r < 0 ? r : -EIO;
	}
	*seq = sqlite3_column_int64(st, 0);
	store_finalize(s, st);
	return 0;
}

/* ---- transactions -------------------------------------------------- */

int
store_begin(struct store *s)
{
	int r = store_exec(s, s->depth == 0 ? "BEGIN IMMEDIATE" :
	    "SAVEPOINT nested");

	if (r == 0)
		s->depth++;
	return r;
}

int
store_set_lazy(struct store *s, int lazy)
{
	return store_exec(s, lazy ? "PRAGMA synchronous = NORMAL" :
	    "PRAGMA synchronous = FULL");
}

int
store_make_durable(struct store *s)
{
	int r;

	/* a commit with synchronous FULL fsyncs the log, and with it every
	 * commit before it: one small write makes one */
	if ((r = store_exec(s, "PRAGMA synchronous = FULL")) < 0)
		return r;
	r = store_meta_set_int(s, "durable_at", store_now());
	return r;
}

int
store_commit(struct store *s)
{
	int r;

	if (s->depth == 0)
		return -EINVAL;
	r = store_exec(s, s->depth == 1 ? "COMMIT" : "RELEASE nested");
	if (r == 0)
		s->depth--;
	return r;
}

int
store_rollback(struct store *s)
{
	int r;

	if (s->depth == 0)
		return -EINVAL;
	/* SQLite rolls back on its own after some errors (e.g. SQLITE_FULL) */
	if (sqlite3_get_autocommit(s->db)) {
		s->depth = 0;
		return 0;
	}
	if (s->depth == 1)
		r = store_exec(s, "ROLLBACK");
	else
		r = store_exec(s, "ROLLBACK TO nested; RELEASE nested");
	s->depth--;
	return r;
}

int
store_end(struct store *s, int rc)
{
	if (rc == 0 && (rc = store_commit(s)) == 0)
		return 0;
	store_rollback(s);
	return rc;
}

/* ---- open and migrate ---------------------------------------------- */

static int
user_version(struct store *s, int *v)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, "PRAGMA user_version", &st)) < 0)
		return r;
	if ((r = store_step_row(s, st)) <= 0)
		return r < 0 ? r : -EIO;
	*v = sqlite3_column_int(st, 0);
	store_finalize(s, st);
	return 0;
}

static int
too_new(const char *path, int v)
{
	log_error("database %s has schema version %d, newer than this "
	    "xmpp-sync knows (%d): upgrade xmpp-sync", path, v,
	    STORE_SCHEMA_VERSION);
	return -ENOTSUP;
}

/* Applies one step if the database is still below it. The version is
 * read again under the write lock: another process may have migrated. */
static int
migrate_step(struct store *s, const char *path, const struct store_migration *m)
{
	char sql[64];
	int v, r;

	if ((r = store_begin(s)) < 0)
		return r;
	if ((r = user_version(s, &v)) == 0 && v < m->version) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		    m->version);
		if ((r = store_exec(s, m->sql)) == 0)
			r = store_exec(s, sql);
	} else if (r == 0 && v > STORE_SCHEMA_VERSION)
		r = too_new(path, v);
	return store_end(s, r);
}

static int
migrate(struct store *s, const char *path)
{
	int v, r;

	if ((r = user_version(s, &v)) < 0)
		return r;
	if (v > STORE_SCHEMA_VERSION)
		return too_new(path, v);
	if (v > 0 && v < STORE_SCHEMA_VERSION)
		log_info("database %s: migrating schema from version %d to %d",
		    path, v, STORE_SCHEMA_VERSION);
	for (int i = 0; i < store_n_migrations; i++) {
		if (store_migrations[i].version <= v)
			continue;
		if ((r = migrate_step(s, path, &store_migrations[i])) < 0)
			return r;
	}
	return 0;
}

/* Per-connection settings. WAL is refused by some file systems: an error
 * then, since readers must not block the writer. */
static int
configure(struct store *s, const char *path)
{
	sqlite3_stmt *st;
	int r;

	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	if ((r = store_digest_register(s)) < 0)
		return r;
	/* temporary tables and sort spills stay in memory: the daemon's
	 * sandbox (agent/sandbox.h) allows no temp directory */
	if ((r = store_exec(s, "PRAGMA foreign_keys = ON;"
	    "PRAGMA synchronous = FULL;"
	    "PRAGMA temp_store = MEMORY")) < 0)
		return r;
	if ((r = store_prepare(s, "PRAGMA journal_mode = WAL", &st)) < 0)
		return r;
	if ((r = store_step_row(s, st)) <= 0)
		return r < 0 ? r : -EIO;
	if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		log_error("database %s: cannot switch to WAL mode (mode is %s)",
		    path, sqlite3_column_text(st, 0));
		r = -EIO;
	}
	store_finalize(s, st);
	return r;
}

int
store_open(const char *path, struct store **out)
{
	struct store *s;
	int rc, r;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("cannot open database %s: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		r = rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
		store_close(s);
		return r;
	}
	sqlite3_extended_result_codes(s->db, 1);
	if ((r = configure(s, path)) < 0 || (r = migrate(s, path)) < 0) {
		store_close(s);
		return r;
	}
	*out = s;
	return 0;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->ncache; i++) {
		sqlite3_finalize(s->cache[i].st);
		free(s->cache[i].sql);
	}
	if (s->db && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close_v2(s->db);
	free(s);
}

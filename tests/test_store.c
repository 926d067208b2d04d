/* test_store.c -- the SQLite store: schema, index, scans, slaves, keys,
 * outbox compaction. Each test works on a fresh database in a temp dir. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "tests/testutil.h"
#include "tests/unit.h"

struct tdb {
	char dir[64];
	char path[96];
	struct store *s;
};

static int
tdb_open(struct tdb *t)
{
	int r;

	if ((r = tu_tmpdir(t->dir, sizeof(t->dir))) < 0)
		return r;
	snprintf(t->path, sizeof(t->path), "%s/state.db", t->dir);
	t->s = NULL;
	return 0;
}

static void
tdb_close(struct tdb *t)
{
	store_close(t->s);
	t->s = NULL;
	tu_rmtree(t->dir);
}

/* Runs sql on path with a plain connection, as an older or newer
 * xmpp-sync would have left the file. */
static int
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	int rc = sqlite3_open(path, &db);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static int
raw_int(const char *path, const char *sql, long long *v)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_open(path, &db);

	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

static struct store_file
mkfile(const char *path, int64_t size, int64_t mtime, uint8_t fill)
{
	struct store_file f = {0};

	f.path = path;
	f.type = STORE_FILE;
	f.size = size;
	f.mtime_ns = mtime;
	f.mode = 0644;
	f.has_sha256 = 1;
	memset(f.sha256, fill, sizeof(f.sha256));
	return f;
}

/* ---- schema -------------------------------------------------------- */

static int
t_fresh_db_latest_version(void)
{
	struct tdb t;
	long long v = -1;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	store_close(t.s);
	t.s = NULL;
	EXPECT_INT(raw_int(t.path, "PRAGMA user_version", &v), SQLITE_OK);
	tdb_close(&t);
	EXPECT_INT(v, STORE_SCHEMA_VERSION);
	return 0;
}

/* The version-1 schema as released; frozen here on purpose, so an edit
 * of a released migration step shows up as a failing upgrade. */
static const char v1_schema[] =
	"CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value ANY) STRICT;"
	"INSERT INTO meta (key, value) VALUES ('next_seq', 1), ('scan_gen', 0);"
	"CREATE TABLE files (path TEXT PRIMARY KEY NOT NULL,"
	" type TEXT NOT NULL CHECK (type IN ('file', 'dir', 'symlink')),"
	" size INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),"
	" mtime_ns INTEGER NOT NULL DEFAULT 0, mode INTEGER NOT NULL DEFAULT 0,"
	" sha256 BLOB CHECK (sha256 IS NULL OR length(sha256) = 32),"
	" target TEXT, seq INTEGER NOT NULL UNIQUE,"
	" deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),"
	" scan_gen INTEGER NOT NULL DEFAULT 0) STRICT;"
	"CREATE INDEX files_live_gen ON files (scan_gen) WHERE deleted = 0;"
	"INSERT INTO files (path, type, seq) VALUES ('old/dir', 'dir', 1);"
	"UPDATE meta SET value = 2 WHERE key = 'next_seq';"
	"PRAGMA user_version = 1;";

static int
t_v1_db_migrates_keeping_data(void)
{
	struct tdb t;
	struct store_file f;
	long long v = -1;
	int64_t seq = 0;
	int r;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(raw_exec(t.path, v1_schema), SQLITE_OK);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_file_load(t.s, "old/dir", &f), 0);
	EXPECT_INT(f.type, STORE_DIR);
	EXPECT_INT(f.seq, 1);
	store_file_clear(&f);
	struct store_file g = mkfile("new", 1, 1, 1);
	EXPECT_INT(store_file_put(t.s, &g, NULL, &seq), 0);
	EXPECT_INT(seq, 2);
	r = store_slave_add(t.s, "b@example.org", NULL);	/* v2 table */
	store_close(t.s);
	t.s = NULL;
	EXPECT_INT(raw_int(t.path, "PRAGMA user_version", &v), SQLITE_OK);
	tdb_close(&t);
	EXPECT_INT(r, 0);
	EXPECT_INT(v, STORE_SCHEMA_VERSION);
	return 0;
}

/* Version 3 indexes checksums: rows written by version 1 are found. */
static int
t_v1_db_migrates_to_sha256_index(void)
{
	struct tdb t;
	struct store_file f = {0};
	uint8_t sha[32];
	long long idx = 0;
	int r;

	memset(sha, 0xab, sizeof(sha));
	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(raw_exec(t.path, v1_schema), SQLITE_OK);
	EXPECT_INT(raw_exec(t.path, "INSERT INTO files (path, type, size,"
	    " sha256, seq) VALUES ('old/f', 'file', 3, zeroblob(32), 2),"
	    " ('old/g', 'file', 4, x'" "abababababababababababababababab"
	    "abababababababababababababababab" "', 3);"
	    "UPDATE meta SET value = 4 WHERE key = 'next_seq';"), SQLITE_OK);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	r = store_file_load_by_sha256(t.s, sha, &f);
	char *got = f.path ? strdup(f.path) : NULL;
	int64_t size = f.size;
	store_file_clear(&f);
	store_close(t.s);
	t.s = NULL;
	EXPECT_INT(raw_int(t.path, "SELECT count(*) FROM sqlite_master"
	    " WHERE type = 'index' AND name = 'files_live_sha256'", &idx),
	    SQLITE_OK);
	tdb_close(&t);
	EXPECT_INT(r, 0);
	EXPECT_STR(got, "old/g");
	free(got);
	EXPECT_INT(size, 4);
	EXPECT_INT(idx, 1);
	return 0;
}

static int
t_too_new_db_refused(void)
{
	struct tdb t;
	long long v = -1;
	int r;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(raw_exec(t.path, "CREATE TABLE future (x);"
	    "PRAGMA user_version = 99;"), SQLITE_OK);
	r = store_open(t.path, &t.s);
	EXPECT_INT(raw_int(t.path, "PRAGMA user_version", &v), SQLITE_OK);
	tdb_close(&t);
	EXPECT_INT(r, -ENOTSUP);
	EXPECT_INT(v, 99);	/* left untouched */
	return 0;
}

static int
t_not_a_database_refused(void)
{
	struct tdb t;
	FILE *fp;
	int r;

	EXPECT_INT(tdb_open(&t), 0);
	fp = fopen(t.path, "w");
	EXPECT(fp != NULL, "cannot create %s", t.path);
	fputs("this is not an SQLite database, just some text long enough "
	    "to fill a header of one hundred bytes ........................\n",
	    fp);
	fclose(fp);
	r = store_open(t.path, &t.s);
	tdb_close(&t);
	EXPECT_INT(r, -EIO);
	return 0;
}

static int
t_wal_mode_and_foreign_keys_on(void)
{
	struct tdb t;
	long long wal = 0;
	int r;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	/* journal_mode=WAL is persistent: a second connection sees it */
	EXPECT_INT(raw_int(t.path, "SELECT journal_mode = 'wal' FROM"
	    " pragma_journal_mode", &wal), SQLITE_OK);
	/* foreign keys: an outbox entry for an unknown slave is refused */
	r = store_outbox_enqueue(t.s, "nobody@example.org", "a", STORE_OP_PUT,
	    1, NULL, 0);
	tdb_close(&t);
	EXPECT_INT(wal, 1);
	EXPECT_INT(r, -ENOENT);
	return 0;
}

/* ---- meta, transactions -------------------------------------------- */

static int
t_meta_roundtrip(void)
{
	struct tdb t;
	char *v = NULL;
	int64_t n = 0;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_meta_dup(t.s, STORE_META_ROLE, &v), -ENOENT);
	EXPECT_INT(store_meta_set(t.s, STORE_META_ROLE, "slave"), 0);
	EXPECT_INT(store_meta_set_int(t.s, STORE_META_MASTER_SEQ, 1234), 0);
	EXPECT_INT(store_meta_get_int(t.s, STORE_META_MASTER_SEQ, &n), 0);
	EXPECT_INT(store_meta_get_int(t.s, STORE_META_ROLE, &n), -EINVAL);
	EXPECT_INT(store_meta_dup(t.s, STORE_META_ROLE, &v), 0);
	tdb_close(&t);
	EXPECT_STR(v, "slave");
	free(v);
	return 0;
}

static int
t_nested_rollback_undoes_inner_only(void)
{
	struct tdb t;
	struct store_file a = mkfile("a", 1, 1, 1), b = mkfile("b", 1, 1, 2);
	struct store_file f;
	int ra, rb;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_begin(t.s), 0);
	EXPECT_INT(store_file_put(t.s, &a, NULL, NULL), 0);
	EXPECT_INT(store_begin(t.s), 0);
	EXPECT_INT(store_file_put(t.s, &b, NULL, NULL), 0);
	EXPECT_INT(store_rollback(t.s), 0);
	EXPECT_INT(store_commit(t.s), 0);
	EXPECT_INT(store_commit(t.s), -EINVAL);
	ra = store_file_load(t.s, "a", &f);
	store_file_clear(&f);
	rb = store_file_load(t.s, "b", &f);
	tdb_close(&t);
	EXPECT_INT(ra, 0);
	EXPECT_INT(rb, -ENOENT);
	return 0;
}

/* ---- file index ---------------------------------------------------- */

static int
t_seq_monotonic_and_unchanged_keeps_seq(void)
{
	struct tdb t;
	struct store_file f = mkfile("a", 10, 100, 1);
	enum store_change c;
	int64_t s1, s2, s3, s4, last;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_file_put(t.s, &f, &c, &s1), 0);
	EXPECT_INT(c, STORE_ADDED);
	f.path = "b";
	EXPECT_INT(store_file_put(t.s, &f, &c, &s2), 0);
	EXPECT_INT(store_file_put(t.s, &f, &c, &s3), 0);
	EXPECT_INT(c, STORE_UNCHANGED);
	EXPECT_INT(s3, s2);
	f.mode = 0600;
	EXPECT_INT(store_file_put(t.s, &f, &c, &s4), 0);
	EXPECT_INT(c, STORE_CHANGED);
	EXPECT_INT(store_last_seq(t.s, &last), 0);
	tdb_close(&t);
	EXPECT(s1 < s2 && s2 < s4, "seqs %lld %lld %lld", (long long)s1,
	    (long long)s2, (long long)s4);
	EXPECT_INT(last, s4);
	return 0;
}

static int
t_put_rejects_incomplete_records(void)
{
	struct tdb t;
	struct store_file f = mkfile("a", 1, 1, 1);
	struct store_file l = {.path = "l", .type = STORE_SYMLINK};
	int r1, r2, r3;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	f.has_sha256 = 0;
	r1 = store_file_put(t.s, &f, NULL, NULL);	/* file, no checksum */
	r2 = store_file_put(t.s, &l, NULL, NULL);	/* symlink, no target */
	f.has_sha256 = 1;
	f.path = "";
	r3 = store_file_put(t.s, &f, NULL, NULL);
	tdb_close(&t);
	EXPECT_INT(r1, -EINVAL);
	EXPECT_INT(r2, -EINVAL);
	EXPECT_INT(r3, -EINVAL);
	return 0;
}

struct seen {
	char buf[256];
	int64_t last;
	int ordered;
};

static int
collect_change(const struct store_file *f, void *arg)
{
	struct seen *sn = arg;
	size_t n = strlen(sn->buf);

	if (f->seq <= sn->last)
		sn->ordered = 0;
	sn->last = f->seq;
	snprintf(sn->buf + n, sizeof(sn->buf) - n, "%s%s%s", n ? " " : "",
	    f->deleted ? "-" : "+", f->path);
	return 0;
}

static int
t_tombstones_in_changes_since(void)
{
	struct tdb t;
	struct store_file f = mkfile("a", 1, 1, 1);
	struct store_file d = {.path = "d", .type = STORE_DIR, .mode = 0755};
	struct store_file l = {.path = "l", .type = STORE_SYMLINK,
	    .target = "a"};
	struct seen all = {.ordered = 1}, since = {.ordered = 1};
	int64_t s1, s2, del;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_file_put(t.s, &f, NULL, &s1), 0);
	EXPECT_INT(store_file_put(t.s, &d, NULL, NULL), 0);
	EXPECT_INT(store_file_put(t.s, &l, NULL, &s2), 0);
	EXPECT_INT(store_file_delete(t.s, "a", &del), 0);
	EXPECT_INT(store_file_delete(t.s, "a", NULL), -ENOENT);
	EXPECT_INT(store_changes_since(t.s, 0, collect_change, &all), 0);
	EXPECT_INT(store_changes_since(t.s, s2, collect_change, &since), 0);
	tdb_close(&t);
	EXPECT(del > s2, "tombstone seq %lld not after %lld", (long long)del,
	    (long long)s2);
	const char *pall = all.buf, *psince = since.buf;
	EXPECT_STR(pall, "+d +l -a");
	EXPECT_STR(psince, "-a");
	EXPECT_INT(all.ordered, 1);
	return 0;
}

static int
t_recreate_after_tombstone_is_added(void)
{
	struct tdb t;
	struct store_file f = mkfile("a", 1, 1, 1), g;
	enum store_change c;
	int64_t del, s;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_file_put(t.s, &f, NULL, NULL), 0);
	EXPECT_INT(store_file_delete(t.s, "a", &del), 0);
	EXPECT_INT(store_file_load(t.s, "a", &g), 0);
	EXPECT_INT(g.deleted, 1);
	store_file_clear(&g);
	EXPECT_INT(store_file_put(t.s, &f, &c, &s), 0);
	tdb_close(&t);
	EXPECT_INT(c, STORE_ADDED);
	EXPECT(s > del, "seq %lld after tombstone %lld", (long long)s,
	    (long long)del);
	return 0;
}

static int
t_scan_end_tombstones_unseen_children_first(void)
{
	struct tdb t;
	struct store_file d = {.path = "d", .type = STORE_DIR};
	struct store_file a = mkfile("d/a", 1, 1, 1), b = mkfile("keep", 1, 1, 2);
	struct seen sn = {.ordered = 1};
	int64_t gen, deleted = -1;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_file_put(t.s, &d, NULL, NULL), 0);
	EXPECT_INT(store_file_put(t.s, &a, NULL, NULL), 0);
	EXPECT_INT(store_file_put(t.s, &b, NULL, NULL), 0);
	EXPECT_INT(store_scan_begin(t.s, &gen), 0);
	EXPECT_INT(store_file_put(t.s, &b, NULL, NULL), 0);	/* unchanged */
	EXPECT_INT(store_scan_end(t.s, gen, collect_change, &sn, &deleted), 0);
	tdb_close(&t);
	EXPECT_INT(deleted, 2);
	const char *got = sn.buf;
	EXPECT_STR(got, "-d/a -d");
	return 0;
}

static int
collect_path(const struct store_file *f, void *arg)
{
	struct seen *sn = arg;
	size_t n = strlen(sn->buf);

	snprintf(sn->buf + n, sizeof(sn->buf) - n, "%s%s", n ? " " : "",
	    f->path);
	return 0;
}

static int
t_list_pages_live_records_in_path_order(void)
{
	static const char *const paths[] = {"b", "a/x", "a", "a.b", "c", "a/y"};
	struct tdb t;
	struct seen p1 = {0}, p2 = {0}, p3 = {0}, none = {0};

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct store_file f = mkfile(paths[i], 1, 1, (uint8_t)i);

		EXPECT_INT(store_file_put(t.s, &f, NULL, NULL), 0);
	}
	EXPECT_INT(store_file_delete(t.s, "a/y", NULL), 0);
	EXPECT_INT(store_file_list(t.s, NULL, 2, collect_path, &p1), 0);
	EXPECT_INT(store_file_list(t.s, "a.b", 2, collect_path, &p2), 0);
	EXPECT_INT(store_file_list(t.s, "b", 2, collect_path, &p3), 0);
	EXPECT_INT(store_file_list(t.s, NULL, 0, collect_path, &none), 0);
	tdb_close(&t);
	const char *g1 = p1.buf, *g2 = p2.buf, *g3 = p3.buf, *g0 = none.buf;
	EXPECT_STR(g1, "a a.b");	/* '.' sorts before '/' */
	EXPECT_STR(g2, "a/x b");	/* tombstone a/y left out */
	EXPECT_STR(g3, "c");
	EXPECT_STR(g0, "");
	return 0;
}

static int
t_below_lists_subtree_not_lookalikes(void)
{
	static const char *const paths[] = {"d", "d/a", "d/e/f", "d0", "d.x",
	    "dx/a", "d/gone"};
	struct tdb t;
	struct seen sn = {0};

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct store_file f = mkfile(paths[i], 1, 1, (uint8_t)i);

		EXPECT_INT(store_file_put(t.s, &f, NULL, NULL), 0);
	}
	EXPECT_INT(store_file_delete(t.s, "d/gone", NULL), 0);
	EXPECT_INT(store_file_below(t.s, "d", collect_path, &sn), 0);
	tdb_close(&t);
	const char *got = sn.buf;
	EXPECT_STR(got, "d/a d/e/f");
	return 0;
}

static int
t_find_sha256_live_files_only(void)
{
	struct tdb t;
	struct store_file a = mkfile("z", 5, 1, 7), b = mkfile("y", 5, 1, 7);
	struct store_file f;
	uint8_t want[32], other[32];
	int r1, r2, r3;

	memset(want, 7, sizeof(want));
	memset(other, 8, sizeof(other));
	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_file_put(t.s, &a, NULL, NULL), 0);
	EXPECT_INT(store_file_put(t.s, &b, NULL, NULL), 0);
	EXPECT_INT(store_file_delete(t.s, "y", NULL), 0);
	r1 = store_file_load_by_sha256(t.s, want, &f);
	char *got = f.path ? strdup(f.path) : NULL;
	int64_t size = f.size;
	store_file_clear(&f);
	r2 = store_file_load_by_sha256(t.s, other, &f);
	EXPECT_INT(store_file_delete(t.s, "z", NULL), 0);
	r3 = store_file_load_by_sha256(t.s, want, &f);
	tdb_close(&t);
	EXPECT_INT(r1, 0);
	EXPECT_STR(got, "z");		/* y is a tombstone */
	free(got);
	EXPECT_INT(size, 5);
	EXPECT_INT(r2, -ENOENT);
	EXPECT_INT(r3, -ENOENT);
	return 0;
}

/* ---- slaves and keys ----------------------------------------------- */

static int
collect_slave(const struct store_slave *sl, void *arg)
{
	char *buf = arg;
	size_t n = strlen(buf);

	snprintf(buf + n, 256 - n, "%s%s%s", n ? " " : "", sl->jid,
	    sl->state == STORE_SLAVE_REMOVED ? "(removed)" : "");
	return 0;
}

static int
t_slaves_add_remove_list_duplicate(void)
{
	struct tdb t;
	struct store_slave sl;
	char act[256] = "", all[256] = "";

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_slave_add(t.s, "b@example.org", "AB:CD"), 0);
	EXPECT_INT(store_slave_add(t.s, "a@example.org", NULL), 0);
	EXPECT_INT(store_slave_add(t.s, "a@example.org", NULL), -EEXIST);
	EXPECT_INT(store_slave_add(t.s, "c@example.org/", NULL), -EINVAL);
	EXPECT_INT(store_slave_add(t.s, "c/res@example.org", NULL), -EINVAL);
	EXPECT_INT(store_slave_add(t.s, "c@example.org/a/b", NULL), -EINVAL);
	EXPECT_INT(store_slave_add(t.s, "c@example.org/res", NULL), 0);
	EXPECT_INT(store_slave_add(t.s, "c@example.org/res2", NULL), 0);
	EXPECT_INT(store_slave_remove(t.s, "c@example.org/res2"), 0);
	EXPECT_INT(store_slave_add(t.s, "", NULL), -EINVAL);
	EXPECT_INT(store_slave_add(t.s, "c@example.org", NULL), 0);
	EXPECT_INT(store_slave_remove(t.s, "c@example.org"), 0);
	EXPECT_INT(store_slave_remove(t.s, "c@example.org"), -ENOENT);
	EXPECT_INT(store_slave_remove(t.s, "x@example.org"), -ENOENT);
	EXPECT_INT(store_slave_list(t.s, 0, collect_slave, act), 0);
	EXPECT_INT(store_slave_list(t.s, STORE_LIST_REMOVED, collect_slave,
	    all), 0);
	EXPECT_INT(store_slave_applied(t.s, "b@example.org", 42, 1000), 0);
	EXPECT_INT(store_slave_applied(t.s, "b@example.org", 7, 1001), 0);
	EXPECT_INT(store_slave_load(t.s, "b@example.org", &sl), 0);
	tdb_close(&t);
	const char *pact = act, *pall = all;
	EXPECT_STR(pact, "a@example.org b@example.org c@example.org/res");
	EXPECT_STR(pall, "a@example.org b@example.org c@example.org(removed) "
	    "c@example.org/res c@example.org/res2(removed)");
	EXPECT_STR(sl.fingerprint, "AB:CD");
	EXPECT_INT(sl.key_state, STORE_KEY_UNVERIFIED);
	EXPECT_INT(sl.applied_seq, 42);		/* never backwards */
	EXPECT_INT(sl.last_sync, 1001);
	EXPECT(sl.added > 0, "added time %lld", (long long)sl.added);
	store_slave_clear(&sl);
	return 0;
}

static int
t_slave_readd_after_remove_starts_over(void)
{
	struct tdb t;
	struct store_slave sl;
	struct store_peer_key k;
	uint8_t x[32] = {1}, e[32] = {2};
	int rk;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_slave_add(t.s, "a@example.org", NULL), 0);
	EXPECT_INT(store_peer_key_pin(t.s, "a@example.org", x, e), 0);
	EXPECT_INT(store_slave_applied(t.s, "a@example.org", 9, 1), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, "a@example.org", "f",
	    STORE_OP_PUT, 1, NULL, 0), 0);
	EXPECT_INT(store_slave_remove(t.s, "a@example.org"), 0);
	EXPECT_INT(store_slave_add(t.s, "a@example.org", "FP"), 0);
	EXPECT_INT(store_slave_load(t.s, "a@example.org", &sl), 0);
	rk = store_peer_key_load(t.s, "a@example.org", &k);
	int64_t n = -1;
	EXPECT_INT(store_outbox_count(t.s, "a@example.org", &n), 0);
	tdb_close(&t);
	EXPECT_INT(sl.state, STORE_SLAVE_ACTIVE);
	EXPECT_INT(sl.applied_seq, 0);
	EXPECT_INT(sl.key_state, STORE_KEY_UNVERIFIED);
	EXPECT_STR(sl.fingerprint, "FP");
	store_slave_clear(&sl);
	EXPECT_INT(rk, -ENOENT);
	EXPECT_INT(n, 0);
	return 0;
}

static int
t_key_pin_get_change(void)
{
	struct tdb t;
	struct store_peer_key k, k2;
	struct store_slave sl;
	uint8_t x[32], e[32], x2[32], e2[32];

	memset(x, 0x11, 32);
	memset(e, 0x22, 32);
	memset(x2, 0x33, 32);
	memset(e2, 0x44, 32);
	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_slave_add(t.s, "s@example.org", NULL), 0);
	EXPECT_INT(store_peer_key_load(t.s, "s@example.org", &k), -ENOENT);
	EXPECT_INT(store_peer_key_mark_changed(t.s, "s@example.org", x, e),
	    -ENOENT);
	EXPECT_INT(store_peer_key_pin(t.s, "s@example.org", x, e), 0);
	EXPECT_INT(store_peer_key_load(t.s, "s@example.org", &k), 0);
	EXPECT(memcmp(k.x25519, x, 32) == 0 && memcmp(k.ed25519, e, 32) == 0,
	    "pinned keys differ");
	EXPECT_INT(k.changed, 0);
	EXPECT_INT(store_peer_key_mark_changed(t.s, "s@example.org", x2, e2),
	    0);
	EXPECT_INT(store_peer_key_load(t.s, "s@example.org", &k2), 0);
	EXPECT_INT(store_slave_load(t.s, "s@example.org", &sl), 0);
	EXPECT_INT(sl.key_state, STORE_KEY_CHANGED);
	store_slave_clear(&sl);
	EXPECT_INT(k2.changed, 1);
	EXPECT(memcmp(k2.x25519, x, 32) == 0, "pin replaced by a change");
	EXPECT(memcmp(k2.new_x25519, x2, 32) == 0 &&
	    memcmp(k2.new_ed25519, e2, 32) == 0, "offered keys not kept");
	/* the operator accepts the new key */
	EXPECT_INT(store_peer_key_pin(t.s, "s@example.org", x2, e2), 0);
	EXPECT_INT(store_peer_key_load(t.s, "s@example.org", &k2), 0);
	EXPECT_INT(store_slave_load(t.s, "s@example.org", &sl), 0);
	tdb_close(&t);
	EXPECT_INT(sl.key_state, STORE_KEY_PINNED);
	store_slave_clear(&sl);
	EXPECT_INT(k2.changed, 0);
	EXPECT(memcmp(k2.x25519, x2, 32) == 0, "new pin not stored");
	return 0;
}

/* ---- outbox -------------------------------------------------------- */

#define SLAVE "s@example.org"

struct ob_step {
	enum store_op_kind kind;
	const char *path;
	const char *src;
	int flags;
};

struct ob_case {
	const char *name;
	struct ob_step steps[8];
	const char *want;	/* "kind path[<src][*]@seq ..." in list order */
};

#define P STORE_OP_PUT
#define D STORE_OP_DELETE
#define MK STORE_OP_MKDIR
#define RD STORE_OP_RMDIR
#define RN STORE_OP_RENAME
#define MT STORE_OP_META
#define NEW STORE_OP_NEW

static const struct ob_case ob_cases[] = {
	{"ten writes of a new file are one put",
	 {{P, "a", 0, NEW}, {P, "a", 0, 0}, {P, "a", 0, 0}, {P, "a", 0, 0}, {P, "a", 0, 0},
	  {P, "a", 0, 0}, {P, "a", 0, 0}, {P, "a", 0, 0}},
	 "put a*@8"},
	{"writes then meta stay a put", {{P, "a", 0, 0}, {P, "a", 0, 0}, {MT, "a", 0, 0}},
	 "put a@3"},
	{"create then delete is nothing",
	 {{P, "a", 0, NEW}, {P, "a", 0, 0}, {D, "a", 0, 0}}, ""},
	{"delete of a synced file stays", {{P, "a", 0, 0}, {D, "a", 0, 0}}, "delete a@2"},
	{"delete then create is a put", {{D, "a", 0, 0}, {P, "a", 0, NEW}},
	 "put a@2"},
	{"new tree removed again is nothing",
	 {{MK, "d", 0, NEW}, {P, "d/x", 0, NEW}, {D, "d/x", 0, 0}, {RD, "d", 0, 0}}, ""},
	{"rename of a synced file stays a rename", {{RN, "b", "a", NEW}},
	 "rename b<a*@1"},
	{"rename of a synced directory with a pending mkdir stays a rename",
	 {{MK, "d", 0, 0}, {RN, "e", "d", NEW}}, "rename e<d*@2"},
	{"rename of a new file is a create", {{P, "a", 0, NEW},
	  {RN, "b", "a", NEW}}, "put b*@2"},
	{"rename of a modified file is delete and put",
	 {{P, "a", 0, 0}, {RN, "b", "a", NEW}}, "delete a@2 put b*@2"},
	{"rename chain collapses", {{RN, "b", "a", NEW}, {RN, "c", "b", NEW}},
	 "rename c<a*@2"},
	{"rename back is meta only", {{RN, "b", "a", NEW}, {RN, "a", "b", 0}},
	 "meta a@2"},
	{"rename then delete deletes the source",
	 {{RN, "b", "a", NEW}, {D, "b", 0, 0}}, "delete a@2"},
	{"rename then write is delete and put",
	 {{RN, "b", "a", NEW}, {P, "b", 0, 0}}, "put b*@2 delete a@2"},
	{"rename then meta stays a rename", {{RN, "b", "a", 0}, {MT, "b", 0, 0}},
	 "rename b<a@2"},
	{"directory rename moves pending children after it",
	 {{P, "d/x", 0, 0}, {P, "d/y", 0, NEW}, {RN, "e", "d", NEW}},
	 "rename e<d*@3 put e/x@3 put e/y*@3"},
	{"directory rename leaves look-alike siblings",
	 {{P, "dx/a", 0, 0}, {P, "d/x", 0, 0}, {P, "d0", 0, 0},
	  {RN, "e", "d", NEW}},
	 "put dx/a@1 put d0@3 rename e<d*@4 put e/x@4"},
	{"new file where a rename moves away is not fresh",
	 {{RN, "b", "a", NEW}, {P, "a", 0, NEW}, {D, "a", 0, 0}},
	 "rename b<a*@1 delete a@3"},
	{"rename onto a pending rename target drops the old source",
	 {{RN, "c", "a", NEW}, {RN, "c", "b", 0}}, "rename c<b*@2 delete a@2"},
};

static int
dump_op(const struct store_op *op, void *arg)
{
	static const char *const names[] = {"", "put", "delete", "mkdir",
	    "rmdir", "rename", "meta", "symlink"};
	char *buf = arg;
	size_t n = strlen(buf);

	snprintf(buf + n, 512 - n, "%s%s %s%s%s%s@%lld", n ? " " : "",
	    names[op->kind], op->path, op->src ? "<" : "",
	    op->src ? op->src : "", op->fresh ? "*" : "", (long long)op->seq);
	return 0;
}

static int
run_ob_case(struct store *s, const struct ob_case *c, char *buf)
{
	int r;

	for (int i = 0; i < 8 && c->steps[i].path; i++) {
		r = store_outbox_enqueue(s, SLAVE, c->steps[i].path,
		    c->steps[i].kind, i + 1, c->steps[i].src, c->steps[i].flags);
		if (r < 0)
			return r;
	}
	buf[0] = '\0';
	return store_outbox_next(s, SLAVE, 100, dump_op, buf);
}

static int
t_outbox_compaction_table(void)
{
	struct tdb t;
	char buf[512];
	int failed = 0;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	for (size_t i = 0; i < sizeof(ob_cases) / sizeof(ob_cases[0]); i++) {
		const struct ob_case *c = &ob_cases[i];
		int r;

		store_slave_remove(t.s, SLAVE);		/* empties its outbox */
		store_slave_add(t.s, SLAVE, NULL);
		r = run_ob_case(t.s, c, buf);
		if (r != 0 || strcmp(buf, c->want) != 0) {
			printf("  %s: got \"%s\" (%d), want \"%s\"\n", c->name,
			    buf, r, c->want);
			failed = 1;
		}
	}
	tdb_close(&t);
	EXPECT_INT(failed, 0);
	return 0;
}

static int
t_outbox_done_keeps_newer_change(void)
{
	struct tdb t;
	char buf[512] = "";
	int64_t n = -1;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_slave_add(t.s, SLAVE, NULL), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "a", P, 1, NULL, NEW), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "b", P, 2, NULL, 0), 0);
	EXPECT_INT(store_outbox_count(t.s, SLAVE, &n), 0);
	EXPECT_INT(n, 2);
	/* a's put of seq 1 is in flight when a changes again */
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "a", P, 3, NULL, 0), 0);
	EXPECT_INT(store_outbox_done(t.s, SLAVE, "a", 1), 0);
	EXPECT_INT(store_outbox_failed(t.s, SLAVE, "b", "test", NULL), 0);
	EXPECT_INT(store_outbox_done(t.s, SLAVE, "b", 2), 0);
	EXPECT_INT(store_outbox_done(t.s, SLAVE, "b", 2), -ENOENT);
	EXPECT_INT(store_outbox_next(t.s, SLAVE, 10, dump_op, buf), 0);
	/* now the slave has a: deleting it must reach the slave */
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "a", D, 4, NULL, 0), 0);
	EXPECT_INT(store_outbox_count(t.s, SLAVE, &n), 0);
	tdb_close(&t);
	const char *got = buf;
	EXPECT_STR(got, "put a@3");
	EXPECT_INT(n, 1);
	return 0;
}

static int
dump_failing(const struct store_op *op, void *arg)
{
	char *buf = arg;
	size_t n = strlen(buf);

	snprintf(buf + n, 512 - n, "%s%s x%d: %s", n ? "; " : "", op->path,
	    op->attempts, op->error ? op->error : "?");
	return 0;
}

/* One entry that keeps failing is set aside with a growing backoff; what
 * is queued behind it comes out; a newer change starts it over. */
static int
t_outbox_failing_entry_does_not_block(void)
{
	struct tdb t;
	char buf[512] = "", failing[512] = "";
	int64_t d1 = 0, d2 = 0, d3 = 0;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_slave_add(t.s, SLAVE, NULL), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "poison", P, 1, NULL, 0), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "b", P, 2, NULL, 0), 0);
	EXPECT_INT(store_outbox_failed(t.s, SLAVE, "poison", "disk full", &d1), 0);
	EXPECT_INT(store_outbox_failed(t.s, SLAVE, "poison", "disk full", &d2), 0);
	EXPECT_INT(store_outbox_failed(t.s, SLAVE, "poison", "still full", &d3), 0);
	EXPECT_INT(store_outbox_failed(t.s, SLAVE, "nothing", "x", NULL), -ENOENT);
	EXPECT_INT(store_outbox_next_due(t.s, SLAVE, 1, time(NULL), dump_op,
	    buf), 0);
	EXPECT_INT(store_outbox_failing(t.s, SLAVE, 10, dump_failing, failing), 0);
	/* the set-aside entry is pending but not due; both are known */
	int64_t all = 0, due = 0, later = 0;
	EXPECT_INT(store_outbox_count(t.s, SLAVE, &all), 0);
	EXPECT_INT(store_outbox_count_due(t.s, SLAVE, time(NULL), &due), 0);
	EXPECT_INT(store_outbox_count_due(t.s, SLAVE, time(NULL) + 3600, &later), 0);
	EXPECT_INT(all, 2);
	EXPECT_INT(due, 1);
	EXPECT_INT(later, 2);
	EXPECT_INT(store_outbox_has(t.s, SLAVE, "poison"), 1);
	EXPECT_INT(store_outbox_has(t.s, SLAVE, "b"), 1);
	EXPECT_INT(store_outbox_has(t.s, SLAVE, "poiso"), 0);
	EXPECT_INT(store_outbox_has(t.s, "other@example.org", "b"), 0);
	const char *got = buf, *fail = failing;
	EXPECT_STR(got, "put b@2");
	EXPECT_STR(fail, "poison x3: still full");
	EXPECT_INT(d1, 5);
	EXPECT_INT(d2, 10);
	EXPECT_INT(d3, 20);
	for (int i = 0; i < 20; i++)
		store_outbox_failed(t.s, SLAVE, "poison", "x", &d1);
	EXPECT_INT(d1, STORE_RETRY_MAX_S);
	/* the file changes again: a fresh start, due at once */
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "poison", P, 3, NULL, 0), 0);
	buf[0] = failing[0] = '\0';
	EXPECT_INT(store_outbox_next_due(t.s, SLAVE, 10, time(NULL), dump_op,
	    buf), 0);
	EXPECT_INT(store_outbox_failing(t.s, SLAVE, 10, dump_failing, failing), 0);
	tdb_close(&t);
	EXPECT_STR(got, "put poison@3 put b@2");
	EXPECT_STR(fail, "");
	return 0;
}

/* A rename already sent is applied before anything sent later: renaming
 * its destination again is a plain rename of that destination, never
 * "delete it, rename the old source" (which destroyed the slave's copy
 * when the first rename had been applied). */
static int
t_outbox_rename_of_sent_rename_is_plain(void)
{
	struct tdb t;
	char buf[512] = "";
	const char *sent[] = {"b"};

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_slave_add(t.s, SLAVE, NULL), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "b", RN, 1, "a", NEW), 0);
	EXPECT_INT(store_outbox_sent(t.s, SLAVE, sent, 1), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "c", RN, 2, "b", NEW), 0);
	EXPECT_INT(store_outbox_next(t.s, SLAVE, 10, dump_op, buf), 0);
	const char *got = buf;
	EXPECT_STR(got, "rename b<a@1 rename c<b*@2");
	/* the first rename's answer comes: only the second is left */
	EXPECT_INT(store_outbox_done(t.s, SLAVE, "b", 1), 0);
	buf[0] = '\0';
	EXPECT_INT(store_outbox_next(t.s, SLAVE, 10, dump_op, buf), 0);
	tdb_close(&t);
	EXPECT_STR(got, "rename c<b*@2");
	return 0;
}

/* Once a batch has left, the slave may have its paths: a delete or a
 * rename that follows must reach the slave even if the path was new. */
static int
t_outbox_sent_entry_is_not_cancelled(void)
{
	struct tdb t;
	char buf[512] = "";
	const char *paths[] = {"a", "c"};

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_slave_add(t.s, SLAVE, NULL), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "a", P, 1, NULL, NEW), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "c", P, 2, NULL, NEW), 0);
	EXPECT_INT(store_outbox_sent(t.s, SLAVE, paths, 2), 0);
	/* a is deleted and c renamed while their puts are in flight */
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "a", D, 3, NULL, 0), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "d", RN, 4, "c", NEW), 0);
	/* the puts' acks arrive: the newer entries stay */
	EXPECT_INT(store_outbox_done(t.s, SLAVE, "a", 1), 0);
	store_outbox_done(t.s, SLAVE, "c", 2);
	EXPECT_INT(store_outbox_next(t.s, SLAVE, 10, dump_op, buf), 0);
	tdb_close(&t);
	const char *got = buf;
	EXPECT_STR(got, "delete a@3 delete c@4 put d*@4");
	return 0;
}

static int
t_outbox_rejects_bad_requests(void)
{
	struct tdb t;
	int r1, r2, r3, r4;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_slave_add(t.s, SLAVE, NULL), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "a", D, 1, NULL, 0), 0);
	r1 = store_outbox_enqueue(t.s, SLAVE, "b", RN, 2, "a", 0);
	r2 = store_outbox_enqueue(t.s, SLAVE, "b", RN, 2, NULL, 0);
	r3 = store_outbox_enqueue(t.s, SLAVE, "a", MT, 2, NULL, 0);
	r4 = store_outbox_enqueue(t.s, SLAVE, "a", (enum store_op_kind)99, 2,
	    NULL, 0);
	tdb_close(&t);
	EXPECT_INT(r1, -EINVAL);	/* rename of a deleted path */
	EXPECT_INT(r2, -EINVAL);	/* rename without source */
	EXPECT_INT(r3, -EINVAL);	/* meta of a deleted path */
	EXPECT_INT(r4, -EINVAL);
	return 0;
}

/* An entry the slave has no room for stays pending but is not due until
 * its delay (doubling, capped) has passed or the slave reports room; it
 * is said to wait "for the first time" once; a newer change of the path
 * starts over; an older answer cannot mark it. */
static int
t_outbox_waiting_entry_not_due_until_delay_or_wake(void)
{
	struct tdb t;
	char due[512] = "", all[512] = "", wl[512] = "";
	int first = -1, was = -1;
	int64_t total = -1;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_slave_add(t.s, SLAVE, NULL), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "a", P, 1, NULL, NEW), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "b", P, 2, NULL, NEW), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "c", P, 3, NULL, NEW), 0);
	EXPECT_INT(store_outbox_wait(t.s, SLAVE, "a", 1, 1000, 30, 300, &first), 0);
	EXPECT_INT(first, 1);
	EXPECT_INT(store_outbox_next_due(t.s, SLAVE, 10, 1029, dump_op, due), 0);
	EXPECT_STR(due, "put b*@2 put c*@3");
	EXPECT_INT(store_outbox_next(t.s, SLAVE, 10, dump_op, all), 0);
	EXPECT_STR(all, "put a*@1 put b*@2 put c*@3");
	due[0] = '\0';
	EXPECT_INT(store_outbox_next_due(t.s, SLAVE, 1, 1030, dump_op, due), 0);
	EXPECT_STR(due, "put a*@1");
	/* refused again: not new, and twice the delay */
	EXPECT_INT(store_outbox_wait(t.s, SLAVE, "a", 1, 1030, 30, 300, &first), 0);
	EXPECT_INT(first, 0);
	due[0] = '\0';
	EXPECT_INT(store_outbox_next_due(t.s, SLAVE, 1, 1089, dump_op, due), 0);
	EXPECT_STR(due, "put b*@2");
	EXPECT_INT(store_outbox_waiting(t.s, SLAVE, 10, dump_op, wl, &total), 0);
	EXPECT_STR(wl, "put a*@1");
	EXPECT_INT(total, 1);
	/* the slave reports room: due at once, still known to wait */
	EXPECT_INT(store_outbox_wake(t.s, SLAVE), 0);
	due[0] = '\0';
	EXPECT_INT(store_outbox_next_due(t.s, SLAVE, 1, 1031, dump_op, due), 0);
	EXPECT_STR(due, "put a*@1");
	EXPECT_INT(store_outbox_wait(t.s, SLAVE, "a", 1, 1031, 30, 300, &first), 0);
	EXPECT_INT(first, 0);
	/* the delay never grows past the cap */
	for (int i = 0; i < 40; i++)
		EXPECT_INT(store_outbox_wait(t.s, SLAVE, "c", 3, 0, 30, 300,
		    &first), 0);
	due[0] = '\0';
	EXPECT_INT(store_outbox_next_due(t.s, SLAVE, 10, 300, dump_op, due), 0);
	EXPECT_STR(due, "put b*@2 put c*@3");
	/* an answer about an older version cannot mark a newer one */
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "a", P, 4, NULL, 0), 0);
	EXPECT_INT(store_outbox_wait(t.s, SLAVE, "a", 1, 2000, 30, 300, &first),
	    -ENOENT);
	/* room for b after it waited: said once */
	EXPECT_INT(store_outbox_wait(t.s, SLAVE, "b", 2, 0, 30, 300, &first), 0);
	EXPECT_INT(store_outbox_unwait(t.s, SLAVE, "b", &was), 0);
	EXPECT_INT(was, 1);
	EXPECT_INT(store_outbox_unwait(t.s, SLAVE, "b", &was), 0);
	EXPECT_INT(was, 0);
	wl[0] = '\0';
	EXPECT_INT(store_outbox_waiting(t.s, SLAVE, 10, dump_op, wl, &total), 0);
	tdb_close(&t);
	EXPECT_STR(wl, "put c*@3");
	EXPECT_INT(total, 1);
	return 0;
}

/* Waiting for space and failing are kept apart: a file that waits is not
 * "failing"; one that failed and then waits forgets the failure; one that
 * waited and then fails for another reason waits no more, is listed as
 * failing and backs off from the start; room found again starts the
 * count over. A set-aside entry is pending but not due. */
static int
t_outbox_waiting_and_failing_kept_apart(void)
{
	struct tdb t;
	char f1[512] = "", f2[512] = "", f3[512] = "", w1[512] = "",
	    w3[512] = "", all[512] = "", due[512] = "";
	int first = -1, was = -1;
	int64_t total = -1, d = -1, now = time(NULL);

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_slave_add(t.s, SLAVE, NULL), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "a", P, 1, NULL, 0), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SLAVE, "b", P, 2, NULL, 0), 0);
	/* a fails, then waits: a waiting file, not a failing one */
	EXPECT_INT(store_outbox_failed(t.s, SLAVE, "a", "busy", NULL), 0);
	EXPECT_INT(store_outbox_wait(t.s, SLAVE, "a", 1, now, 30, 300, &first), 0);
	EXPECT_INT(first, 1);
	EXPECT_INT(store_outbox_failing(t.s, SLAVE, 10, dump_failing, f1), 0);
	EXPECT_INT(store_outbox_waiting(t.s, SLAVE, 10, dump_op, w1, &total), 0);
	/* b waits, then fails otherwise: failing, first backoff */
	EXPECT_INT(store_outbox_wait(t.s, SLAVE, "b", 2, now, 30, 300, &first), 0);
	EXPECT_INT(store_outbox_wait(t.s, SLAVE, "b", 2, now, 30, 300, &first), 0);
	EXPECT_INT(store_outbox_failed(t.s, SLAVE, "b", "denied", &d), 0);
	EXPECT_INT(store_outbox_failing(t.s, SLAVE, 10, dump_failing, f2), 0);
	/* room for a: no longer waiting, and not failing either */
	EXPECT_INT(store_outbox_unwait(t.s, SLAVE, "a", &was), 0);
	EXPECT_INT(store_outbox_failing(t.s, SLAVE, 10, dump_failing, f3), 0);
	EXPECT_INT(store_outbox_waiting(t.s, SLAVE, 10, dump_op, w3, &total), 0);
	EXPECT_INT(store_outbox_next(t.s, SLAVE, 10, dump_op, all), 0);
	EXPECT_INT(store_outbox_next_due(t.s, SLAVE, 10, now, dump_op, due), 0);
	tdb_close(&t);
	EXPECT_STR(f1, "");
	EXPECT_STR(w1, "put a@1");
	EXPECT_INT(d, 5);
	EXPECT_STR(f2, "b x1: denied");
	EXPECT_INT(was, 1);
	EXPECT_STR(f3, "b x1: denied");
	EXPECT_STR(w3, "");
	EXPECT_INT(total, 0);
	EXPECT_STR(all, "put a@1 put b@2");
	EXPECT_STR(due, "put a@1");
	return 0;
}

/* ---- tombstone collection ------------------------------------------ */

#define SA "a@example.org"
#define SB "b@example.org"

/* Records path as a file, then deletes it; sets *seq to the tombstone's
 * seq. */
static int
tombstone(struct store *s, const char *path, int64_t *seq)
{
	struct store_file f = mkfile(path, 1, 1, 1);
	int r = store_file_put(s, &f, NULL, NULL);

	return r < 0 ? r : store_file_delete(s, path, seq);
}

/* "+" live, "-" tombstone, "." gone: one character per path. */
static void
states(struct store *s, const char *const *paths, char *out)
{
	struct store_file f;

	for (; *paths; paths++, out++) {
		*out = store_file_load(s, *paths, &f) < 0 ? '.' :
		    f.deleted ? '-' : '+';
		if (*out != '.')
			store_file_clear(&f);
	}
	*out = '\0';
}

static int
t_tombstones_collected_up_to_every_slaves_applied_seq(void)
{
	static const char *const paths[] = {"t1", "t2", "t3", "live", NULL};
	struct store_file live = mkfile("live", 1, 1, 2);
	struct tdb t;
	int64_t s1, s2, s3, n = -1, gc = 0;
	char st[8];

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_slave_add(t.s, SA, NULL), 0);
	EXPECT_INT(store_slave_add(t.s, SB, NULL), 0);
	EXPECT_INT(tombstone(t.s, "t1", &s1), 0);
	EXPECT_INT(tombstone(t.s, "t2", &s2), 0);
	EXPECT_INT(tombstone(t.s, "t3", &s3), 0);
	EXPECT_INT(store_file_put(t.s, &live, NULL, NULL), 0);
	/* a has everything, b only up to t2: t3 must stay for b */
	EXPECT_INT(store_slave_applied(t.s, SA, s3 + 10, 1), 0);
	EXPECT_INT(store_slave_applied(t.s, SB, s2, 1), 0);
	EXPECT_INT(store_tombstones_collect(t.s, INT64_MAX, &n), 0);
	states(t.s, paths, st);
	EXPECT_INT(store_meta_get_int(t.s, STORE_META_GC_SEQ, &gc), 0);
	tdb_close(&t);
	EXPECT_INT(n, 2);
	EXPECT_STR(st, "..-+");
	EXPECT_INT(gc, s2);
	return 0;
}

static int
t_tombstones_collected_only_up_to_the_bound(void)
{
	static const char *const paths[] = {"t1", "t2", NULL};
	struct tdb t;
	int64_t s1, s2, n = -1, gc = 0;
	char st[8];
	int rgc;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(tombstone(t.s, "t1", &s1), 0);
	EXPECT_INT(tombstone(t.s, "t2", &s2), 0);
	/* no slaves at all (a slave's own index): only the bound counts */
	EXPECT_INT(store_tombstones_collect(t.s, s1, &n), 0);
	states(t.s, paths, st);
	EXPECT_INT(store_meta_get_int(t.s, STORE_META_GC_SEQ, &gc), 0);
	EXPECT_INT(store_tombstones_collect(t.s, 0, NULL), 0);
	rgc = store_meta_get_int(t.s, STORE_META_GC_SEQ, &gc);
	tdb_close(&t);
	EXPECT_INT(n, 1);
	EXPECT_STR(st, ".-");
	EXPECT_INT(rgc, 0);
	EXPECT_INT(gc, s1);	/* never lowered */
	return 0;
}

static int
t_tombstone_with_pending_outbox_entry_kept(void)
{
	static const char *const paths[] = {"del", "old", "new", "other", NULL};
	struct store_file nf = mkfile("new", 1, 1, 3);
	struct tdb t;
	int64_t sd, so, sn, sx, n1 = -1, n2 = -1;
	char st1[8], st2[8];

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_slave_add(t.s, SA, NULL), 0);
	EXPECT_INT(tombstone(t.s, "del", &sd), 0);
	EXPECT_INT(tombstone(t.s, "old", &so), 0);
	EXPECT_INT(store_file_put(t.s, &nf, NULL, &sn), 0);
	EXPECT_INT(tombstone(t.s, "other", &sx), 0);
	/* the slave is past all of them, but two entries still wait: a
	 * delete of "del" and a rename whose source is "old" */
	EXPECT_INT(store_slave_applied(t.s, SA, sx, 1), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SA, "del", STORE_OP_DELETE, sd,
	    NULL, 0), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SA, "new", STORE_OP_RENAME, sn,
	    "old", 0), 0);
	EXPECT_INT(store_tombstones_collect(t.s, INT64_MAX, &n1), 0);
	states(t.s, paths, st1);
	EXPECT_INT(store_outbox_done(t.s, SA, "del", sd), 0);
	EXPECT_INT(store_outbox_done(t.s, SA, "new", sn), 0);
	EXPECT_INT(store_tombstones_collect(t.s, INT64_MAX, &n2), 0);
	states(t.s, paths, st2);
	tdb_close(&t);
	EXPECT_INT(n1, 1);
	EXPECT_STR(st1, "--+.");
	EXPECT_INT(n2, 2);
	EXPECT_STR(st2, "..+.");
	return 0;
}

static int
t_removed_slave_no_longer_holds_back_collection(void)
{
	static const char *const paths[] = {"t1", NULL};
	struct tdb t;
	int64_t s1, n1 = -1, n2 = -1;
	char st1[4], st2[4];

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_slave_add(t.s, SA, NULL), 0);
	EXPECT_INT(store_slave_add(t.s, SB, NULL), 0);
	EXPECT_INT(tombstone(t.s, "t1", &s1), 0);
	EXPECT_INT(store_outbox_enqueue(t.s, SB, "t1", STORE_OP_DELETE, s1,
	    NULL, 0), 0);
	EXPECT_INT(store_slave_applied(t.s, SA, s1, 1), 0);
	/* b never came back: its applied seq and its outbox hold t1 */
	EXPECT_INT(store_tombstones_collect(t.s, INT64_MAX, &n1), 0);
	states(t.s, paths, st1);
	EXPECT_INT(store_slave_remove(t.s, SB), 0);
	EXPECT_INT(store_tombstones_collect(t.s, INT64_MAX, &n2), 0);
	states(t.s, paths, st2);
	tdb_close(&t);
	EXPECT_INT(n1, 0);
	EXPECT_STR(st1, "-");
	EXPECT_INT(n2, 1);
	EXPECT_STR(st2, ".");
	return 0;
}

static int
t_collected_tombstone_path_recreated_is_added(void)
{
	struct store_file f = mkfile("a", 1, 1, 1);
	struct tdb t;
	enum store_change c = STORE_UNCHANGED;
	int64_t del, seq = 0, n = -1;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(tombstone(t.s, "a", &del), 0);
	EXPECT_INT(store_tombstones_collect(t.s, INT64_MAX, &n), 0);
	EXPECT_INT(store_file_put(t.s, &f, &c, &seq), 0);
	tdb_close(&t);
	EXPECT_INT(n, 1);
	EXPECT_INT(c, STORE_ADDED);	/* as after a tombstone: STORE_OP_NEW */
	EXPECT(seq > del, "seq %lld after the collected %lld", (long long)seq,
	    (long long)del);
	return 0;
}

/* Statements are kept and handed out again: a query of the same text run
 * inside another's walk gets a statement of its own, and both give the
 * right rows, as do a thousand rounds of the same query. */
struct nest {
	struct store *s;
	int outer, inner, depth;
};

static int
nest_cb(const struct store_file *f, void *arg)
{
	struct nest *n = arg;

	(void)f;
	if (n->depth > 0) {
		n->inner++;
		return 0;
	}
	n->outer++;
	n->depth++;
	store_file_list(n->s, NULL, 100, nest_cb, n);
	n->depth--;
	return 0;
}

static int
t_statements_kept_and_nested(void)
{
	struct tdb t;
	struct nest n = {0};
	struct store_file f;
	char name[16];
	int miss = 0;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	n.s = t.s;
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		struct store_file g = mkfile(name, 1, 1, i + 1);
		EXPECT_INT(store_file_put(t.s, &g, NULL, NULL), 0);
	}
	EXPECT_INT(store_file_list(t.s, NULL, 100, nest_cb, &n), 0);
	EXPECT_INT(n.outer, 3);
	EXPECT_INT(n.inner, 9);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "f%d", i % 4);
		int r = store_file_load(t.s, name, &f);
		if (r == 0)
			store_file_clear(&f);
		miss += (r == 0) != (i % 4 != 3);
	}
	tdb_close(&t);
	EXPECT_INT(miss, 0);
	return 0;
}

/* ---- chunk lists --------------------------------------------------- */

static int
t_chunk_lists_kept_by_content_and_collected_long_unused(void)
{
	struct tdb t;
	struct store_file a = mkfile("a", 100000, 1, 0xaa);
	struct store_file b = mkfile("b", 100000, 1, 0xbb);
	uint8_t ka[32], kb[32], *got = NULL;
	size_t len = 0;
	int64_t n = -1;
	long long v1 = 0;

	memset(ka, 0xaa, 32);
	memset(kb, 0xbb, 32);
	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_open(t.path, &t.s), 0);
	EXPECT_INT(store_chunks_get(t.s, ka, &got, &len), -ENOENT);
	EXPECT_INT(store_file_put(t.s, &a, NULL, NULL), 0);
	EXPECT_INT(store_file_put(t.s, &b, NULL, NULL), 0);
	EXPECT_INT(store_chunks_put(t.s, ka, "\001list-a", 7), 0);
	EXPECT_INT(store_chunks_put(t.s, kb, "\001list-b", 7), 0);
	EXPECT_INT(store_chunks_put(t.s, ka, "\001list-A", 7), 0); /* replaced */
	EXPECT_INT(store_chunks_get(t.s, ka, &got, &len), 0);
	EXPECT(len == 7 && memcmp(got, "\001list-A", 7) == 0, "wrong list");
	free(got);
	/* b is deleted: its content's list stays a while (a slave may hold
	 * that version), then goes */
	EXPECT_INT(store_file_delete(t.s, "b", NULL), 0);
	EXPECT_INT(store_tombstones_collect(t.s, 0, NULL), 0);
	EXPECT_INT(store_chunks_get(t.s, kb, &got, &len), 0);
	free(got);
	EXPECT_INT(store_chunks_collect(t.s, INT64_MAX, &n), 0);
	EXPECT_INT(n, 1);
	EXPECT_INT(store_chunks_get(t.s, kb, &got, &len), -ENOENT);
	/* a live one stays whatever the bound */
	EXPECT_INT(store_chunks_get(t.s, ka, &got, &len), 0);
	free(got);
	store_close(t.s);
	t.s = NULL;
	EXPECT_INT(raw_int(t.path, "SELECT count(*) FROM chunks", &v1),
	    SQLITE_OK);
	tdb_close(&t);
	EXPECT_INT(v1, 1);
	return 0;
}

static const struct unit_test tests[] = {
	{"fresh_db_gets_latest_user_version", t_fresh_db_latest_version},
	{"statements_kept_and_nested", t_statements_kept_and_nested},
	{"chunk_lists_kept_by_content_and_collected_long_unused",
	    t_chunk_lists_kept_by_content_and_collected_long_unused},
	{"v1_db_migrates_keeping_data", t_v1_db_migrates_keeping_data},
	{"v1_db_migrates_to_sha256_index", t_v1_db_migrates_to_sha256_index},
	{"too_new_db_refused_and_untouched", t_too_new_db_refused},
	{"not_a_database_refused", t_not_a_database_refused},
	{"wal_mode_and_foreign_keys_on", t_wal_mode_and_foreign_keys_on},
	{"meta_roundtrip", t_meta_roundtrip},
	{"nested_rollback_undoes_inner_only",
	 t_nested_rollback_undoes_inner_only},
	{"seq_monotonic_unchanged_keeps_seq",
	 t_seq_monotonic_and_unchanged_keeps_seq},
	{"put_rejects_incomplete_records", t_put_rejects_incomplete_records},
	{"tombstones_in_changes_since", t_tombstones_in_changes_since},
	{"recreate_after_tombstone_is_added",
	 t_recreate_after_tombstone_is_added},
	{"scan_end_tombstones_unseen_children_first",
	 t_scan_end_tombstones_unseen_children_first},
	{"list_pages_live_records_in_path_order",
	 t_list_pages_live_records_in_path_order},
	{"below_lists_subtree_not_lookalikes",
	 t_below_lists_subtree_not_lookalikes},
	{"find_sha256_live_files_only", t_find_sha256_live_files_only},
	{"slaves_add_remove_list_duplicate",
	 t_slaves_add_remove_list_duplicate},
	{"slave_readd_after_remove_starts_over",
	 t_slave_readd_after_remove_starts_over},
	{"key_pin_load_change", t_key_pin_get_change},
	{"outbox_compaction_table", t_outbox_compaction_table},
	{"outbox_done_keeps_newer_change", t_outbox_done_keeps_newer_change},
	{"outbox_failing_entry_does_not_block",
	    t_outbox_failing_entry_does_not_block},
	{"outbox_rename_of_sent_rename_is_plain",
	    t_outbox_rename_of_sent_rename_is_plain},
	{"outbox_sent_entry_is_not_cancelled",
	    t_outbox_sent_entry_is_not_cancelled},
	{"outbox_waiting_entry_not_due_until_delay_or_wake",
	    t_outbox_waiting_entry_not_due_until_delay_or_wake},
	{"outbox_waiting_and_failing_kept_apart",
	    t_outbox_waiting_and_failing_kept_apart},
	{"outbox_rejects_bad_requests", t_outbox_rejects_bad_requests},
	{"tombstones_collected_up_to_every_slaves_applied_seq",
	    t_tombstones_collected_up_to_every_slaves_applied_seq},
	{"tombstones_collected_only_up_to_the_bound",
	    t_tombstones_collected_only_up_to_the_bound},
	{"tombstone_with_pending_outbox_entry_kept",
	    t_tombstone_with_pending_outbox_entry_kept},
	{"removed_slave_no_longer_holds_back_collection",
	    t_removed_slave_no_longer_holds_back_collection},
	{"collected_tombstone_path_recreated_is_added",
	    t_collected_tombstone_path_recreated_is_added},
};

UNIT_MAIN(tests)

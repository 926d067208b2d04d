/* test_apply.c -- the slave's applier on real directories: each operation
 * applied twice with the disk and the store checked, the content sink
 * (chunks, resume, verification), hostile paths and planted symlinks, and
 * the manifest. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_int.h"	/* the connection, for its settings */
#include "sync/apply.h"
#include "sync/apply_int.h"		/* the list of leftovers */
#include "sync/chunk.h"
#include "sync/path.h"
#include "tests/testutil.h"
#include "tests/unit.h"
#include "agent/util.h"

#define T1 1700000000123456789LL	/* mtimes with nanoseconds */
#define T2 1600000000987654321LL

static const char *const ignores[] = {"*.o", "cache/"};

/* One fixture for all tests: a failed test leaves it set up, and the
 * next setup (or exit) tears it down. */
static struct fx {
	char dir[64];		/* holds root/, out/ and the database */
	char root[96];		/* the mirrored folder */
	char out[96];		/* outside the folder: must stay untouched */
	struct store *s;
	struct apply *a;
} fx;

static void
teardown(void)
{
	apply_free(fx.a);
	store_close(fx.s);
	fx.a = NULL;
	fx.s = NULL;
	if (fx.dir[0] == '\0')
		return;
	/* tests leave read-only directories behind: tu_rmtree copes */
	tu_rmtree(fx.dir);
	fx.dir[0] = '\0';
}

static int
setup(void)
{
	static const struct tu_node dirs[] = {
		{.path = "root/"},
		{.path = "out/"},
	};
	static int registered;
	char db[128];

	if (!registered++) {
		atexit(teardown);
		if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
			gcry_check_version(NULL);
			gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
		}
	}
	teardown();
	if (tu_tmpdir(fx.dir, sizeof(fx.dir)) < 0)
		return -1;
	snprintf(fx.root, sizeof(fx.root), "%s/root", fx.dir);
	snprintf(fx.out, sizeof(fx.out), "%s/out", fx.dir);
	snprintf(db, sizeof(db), "%s/state.db", fx.dir);
	if (tu_tree_make(fx.dir, dirs, sizeof(dirs) / sizeof(dirs[0])) < 0)
		return -1;
	if (store_open(db, &fx.s) < 0)
		return -1;
	return apply_open(fx.root, fx.s, ignores, 2, &fx.a);
}

/* ---- helpers --------------------------------------------------------- */

static const char *
P(const char *rel)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", fx.root, rel);
	return buf[i];
}

static void
sha_of(const void *buf, size_t n, uint8_t out[32])
{
	gcry_md_hash_buffer(GCRY_MD_SHA256, out, buf, n);
}

/* Receives n bytes as path in chunks of `chunk` bytes. */
static int
put_chunks(const char *path, const void *buf, size_t n, size_t chunk,
    uint32_t mode, int64_t mtime)
{
	struct apply_put *p;
	uint8_t sha[32];
	uint64_t have;
	int r;

	sha_of(buf, n, sha);
	if ((r = apply_put_begin(fx.a, path, n, sha, mode, mtime, &p,
	    &have)) < 0)
		return r;
	for (size_t o = have; o < n; o += chunk)
		if ((r = apply_put_write(p, (const uint8_t *)buf + o,
		    n - o < chunk ? n - o : chunk)) < 0) {
			apply_put_abort(p, 0);
			return r;
		}
	return apply_put_finish(p);
}

static int
put_str(const char *path, const char *s, uint32_t mode, int64_t mtime)
{
	return put_chunks(path, s, strlen(s), 7, mode, mtime);
}

/* The content of rel under the root, NUL-terminated; NULL if unreadable.
 * The caller frees. */
static char *
slurp(const char *rel)
{
	FILE *fp = fopen(P(rel), "rb");
	char *buf;
	size_t n;

	if (fp == NULL)
		return NULL;
	buf = calloc(1, 1 << 20);
	n = fread(buf, 1, (1 << 20) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static int
content_is(const char *rel, const char *want)
{
	char *got = slurp(rel);
	int ok = got != NULL && strcmp(got, want) == 0;

	free(got);
	return ok;
}

static int
lstat_rel(const char *rel, struct stat *st)
{
	return lstat(P(rel), st) < 0 ? -errno : 0;
}

static int
exists(const char *rel)
{
	struct stat st;

	return lstat_rel(rel, &st) == 0;
}

/* 1 live, 0 tombstone, -ENOENT never recorded. */
static int
live(const char *path)
{
	struct store_file f;
	int r = store_file_load(fx.s, path, &f);

	if (r < 0)
		return r;
	r = !f.deleted;
	store_file_clear(&f);
	return r;
}

static int64_t
seq_of(const char *path)
{
	struct store_file f;
	int64_t seq = -1;

	if (store_file_load(fx.s, path, &f) == 0)
		seq = f.seq;
	store_file_clear(&f);
	return seq;
}

/* Checks the disk and the live record of path: type, mode (unless a
 * symlink), mtime, and for files the content's checksum. */
static int
check(const char *path, enum store_ftype type, uint32_t mode, int64_t mtime,
    const char *content, const char *target)
{
	struct store_file f;
	struct stat st;
	uint8_t sha[32];
	int r;

	EXPECT_INT(lstat_rel(path, &st), 0);
	EXPECT_INT(util_ts_ns(st.st_mtim), mtime);
	if (type != STORE_SYMLINK)
		EXPECT_INT(st.st_mode & 07777, mode);
	EXPECT_INT(store_file_load(fx.s, path, &f), 0);
	r = f.deleted == 0 && f.type == type && f.mtime_ns == mtime &&
	    f.mode == (st.st_mode & 07777);
	if (type == STORE_FILE) {
		sha_of(content, strlen(content), sha);
		r = r && content_is(path, content) && f.has_sha256 &&
		    memcmp(f.sha256, sha, 32) == 0 &&
		    f.size == (int64_t)strlen(content);
	}
	if (type == STORE_DIR)
		r = r && S_ISDIR(st.st_mode);
	if (type == STORE_SYMLINK)
		r = r && S_ISLNK(st.st_mode) && f.target &&
		    strcmp(f.target, target) == 0;
	store_file_clear(&f);
	EXPECT(r, "record or disk of %s not as expected", path);
	return 0;
}

/* Names in dir (absolute) starting with prefix. */
static int
count_names(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static int
write_plain(const char *abs, const char *s)
{
	FILE *fp = fopen(abs, "w");

	if (fp == NULL)
		return -1;
	fputs(s, fp);
	return fclose(fp);
}

/* ---- metadata operations --------------------------------------------- */

static int
t_mkdir_twice_sets_mode_mtime_record(void)
{
	int64_t s1 = -1;

	EXPECT_INT(setup(), 0);
	for (int round = 0; round < 2; round++) {
		EXPECT_INT(apply_mkdir(fx.a, "d", 0750, T1), 0);
		EXPECT_INT(check("d", STORE_DIR, 0750, T1, NULL, NULL), 0);
		if (round == 0)
			s1 = seq_of("d");
	}
	EXPECT_INT(seq_of("d"), s1);	/* the repeat changed nothing */
	EXPECT_INT(apply_mkdir(fx.a, "d/e", 0700, T2), 0);
	EXPECT_INT(check("d/e", STORE_DIR, 0700, T2, NULL, NULL), 0);
	EXPECT_INT(apply_mkdir(fx.a, "x/y", 0755, T1), -ENOENT);
	EXPECT(!exists("x"), "x was created");
	return 0;
}

static int
t_mkdir_replaces_file_and_symlink(void)
{
	struct stat st;

	EXPECT_INT(setup(), 0);
	EXPECT_INT(chmod(fx.out, 0711), 0);
	EXPECT_INT(put_str("x", "data", 0644, T1), 0);
	EXPECT_INT(apply_symlink(fx.a, "y", fx.out, T1), 0);
	EXPECT_INT(apply_mkdir(fx.a, "x", 0755, T2), 0);
	EXPECT_INT(apply_mkdir(fx.a, "y", 0755, T2), 0);
	EXPECT_INT(check("x", STORE_DIR, 0755, T2, NULL, NULL), 0);
	EXPECT_INT(check("y", STORE_DIR, 0755, T2, NULL, NULL), 0);
	EXPECT_INT(stat(fx.out, &st), 0);
	EXPECT_INT(st.st_mode & 07777, 0711);	/* the link was not followed */
	return 0;
}

static int
t_delete_file_link_dir_twice(void)
{
	static const char *const gone[] = {"f", "l", "d", "d/e", "d/e/g",
	    "d/l2"};
	char buf[600];

	EXPECT_INT(setup(), 0);
	snprintf(buf, sizeof(buf), "%s/keep", fx.out);
	EXPECT_INT(write_plain(buf, "outside"), 0);
	EXPECT_INT(put_str("f", "x", 0644, T1), 0);
	EXPECT_INT(apply_symlink(fx.a, "l", fx.out, T1), 0);
	EXPECT_INT(apply_mkdir(fx.a, "d", 0755, T1), 0);
	EXPECT_INT(apply_mkdir(fx.a, "d/e", 0755, T1), 0);
	EXPECT_INT(put_str("d/e/g", "y", 0644, T1), 0);
	EXPECT_INT(apply_symlink(fx.a, "d/l2", fx.out, T1), 0);
	for (int round = 0; round < 2; round++) {
		EXPECT_INT(apply_delete(fx.a, "f"), 0);
		EXPECT_INT(apply_delete(fx.a, "l"), 0);
		EXPECT_INT(apply_delete(fx.a, "d"), 0);
		for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
			EXPECT(!exists(gone[i]), "%s still there", gone[i]);
			EXPECT_INT(live(gone[i]), 0);
		}
	}
	EXPECT(count_names(fx.out, "") == 1, "outside dir changed");
	EXPECT_INT(apply_delete(fx.a, "never"), 0);
	EXPECT_INT(live("never"), -ENOENT);
	EXPECT_INT(apply_delete(fx.a, "nodir/x"), 0);
	return 0;
}

static int
t_rmdir_removes_subtree_twice(void)
{
	char buf[600];

	EXPECT_INT(setup(), 0);
	snprintf(buf, sizeof(buf), "%s/keep", fx.out);
	EXPECT_INT(write_plain(buf, "outside"), 0);
	EXPECT_INT(apply_mkdir(fx.a, "d", 0755, T1), 0);
	EXPECT_INT(apply_mkdir(fx.a, "d/sub", 0755, T1), 0);
	EXPECT_INT(put_str("d/sub/f", "f", 0644, T1), 0);
	EXPECT_INT(apply_symlink(fx.a, "d/sub/out", fx.out, T1), 0);
	EXPECT_INT(apply_mkdir(fx.a, "d/ro", 0755, T1), 0);
	EXPECT_INT(put_str("d/ro/z", "z", 0444, T1), 0);
	EXPECT_INT(apply_meta(fx.a, "d/ro", 0555, T1), 0);	/* read-only */
	for (int round = 0; round < 2; round++) {
		EXPECT_INT(apply_rmdir(fx.a, "d"), 0);
		EXPECT(!exists("d"), "d still there");
		EXPECT_INT(live("d"), 0);
		EXPECT_INT(live("d/sub/f"), 0);
		EXPECT_INT(live("d/sub/out"), 0);
		EXPECT_INT(live("d/ro/z"), 0);
	}
	EXPECT(count_names(fx.out, "keep") == 1, "outside file removed");
	EXPECT_INT(put_str("plain", "p", 0644, T1), 0);
	EXPECT_INT(apply_rmdir(fx.a, "plain"), 0);	/* whatever is there */
	EXPECT(!exists("plain"), "plain still there");
	EXPECT_INT(live("plain"), 0);
	return 0;
}

static int
t_rename_file_twice_keeps_checksum(void)
{
	int64_t s1 = -1;

	EXPECT_INT(setup(), 0);
	EXPECT_INT(put_str("a", "hello", 0644, T1), 0);
	for (int round = 0; round < 2; round++) {
		EXPECT_INT(apply_rename(fx.a, "a", "b", 0600, T2), 0);
		EXPECT_INT(check("b", STORE_FILE, 0600, T2, "hello", NULL), 0);
		EXPECT(!exists("a"), "a still there");
		EXPECT_INT(live("a"), 0);
		if (round == 0)
			s1 = seq_of("b");
	}
	EXPECT_INT(seq_of("b"), s1);
	EXPECT_INT(apply_rename(fx.a, "a", "c", 0644, T1), -ENOENT);
	EXPECT_INT(apply_rename(fx.a, "b", "nodir/b", 0644, T1), -ENOENT);
	EXPECT_INT(put_str("c", "old", 0644, T1), 0);
	EXPECT_INT(apply_rename(fx.a, "b", "c", 0640, T1), 0);
	EXPECT_INT(check("c", STORE_FILE, 0640, T1, "hello", NULL), 0);
	EXPECT_INT(apply_rename(fx.a, "c", "c/below", 0640, T1), -EINVAL);
	return 0;
}

static int
t_rename_dir_moves_children_records(void)
{
	int64_t s_d0, s_x = -1;

	EXPECT_INT(setup(), 0);
	EXPECT_INT(apply_mkdir(fx.a, "d", 0755, T1), 0);
	EXPECT_INT(apply_mkdir(fx.a, "d/e", 0750, T1), 0);
	EXPECT_INT(put_str("d/x", "xx", 0644, T1), 0);
	EXPECT_INT(put_str("d/e/y", "yy", 0600, T2), 0);
	EXPECT_INT(apply_symlink(fx.a, "d/l", "../target", T1), 0);
	EXPECT_INT(apply_meta(fx.a, "d/e", 0750, T1), 0);	/* y moved it */
	EXPECT_INT(put_str("d0", "look-alike", 0644, T1), 0);
	s_d0 = seq_of("d0");
	for (int round = 0; round < 2; round++) {
		EXPECT_INT(apply_rename(fx.a, "d", "n", 0700, T2), 0);
		EXPECT_INT(check("n", STORE_DIR, 0700, T2, NULL, NULL), 0);
		EXPECT_INT(check("n/e", STORE_DIR, 0750, T1, NULL, NULL), 0);
		EXPECT_INT(check("n/x", STORE_FILE, 0644, T1, "xx", NULL), 0);
		EXPECT_INT(check("n/e/y", STORE_FILE, 0600, T2, "yy", NULL), 0);
		EXPECT_INT(check("n/l", STORE_SYMLINK, 0, T1, NULL,
		    "../target"), 0);
		EXPECT_INT(live("d"), 0);
		EXPECT_INT(live("d/e"), 0);
		EXPECT_INT(live("d/x"), 0);
		EXPECT_INT(live("d/e/y"), 0);
		EXPECT_INT(live("d/l"), 0);
		EXPECT_INT(seq_of("d0"), s_d0);		/* not below d */
		if (round == 0)
			s_x = seq_of("n/x");
	}
	EXPECT_INT(seq_of("n/x"), s_x);
	return 0;
}

static int
t_rename_replaces_directory_or_file(void)
{
	EXPECT_INT(setup(), 0);
	EXPECT_INT(apply_mkdir(fx.a, "t", 0755, T1), 0);
	EXPECT_INT(put_str("t/old", "o", 0644, T1), 0);
	EXPECT_INT(put_str("f", "new", 0644, T1), 0);
	EXPECT_INT(apply_rename(fx.a, "f", "t", 0644, T2), 0);
	EXPECT_INT(check("t", STORE_FILE, 0644, T2, "new", NULL), 0);
	EXPECT_INT(live("t/old"), 0);
	EXPECT_INT(apply_mkdir(fx.a, "src", 0755, T1), 0);
	EXPECT_INT(put_str("src/c", "child", 0644, T1), 0);
	EXPECT_INT(put_str("file2", "x", 0644, T1), 0);
	EXPECT_INT(apply_rename(fx.a, "src", "file2", 0711, T2), 0);
	EXPECT_INT(check("file2", STORE_DIR, 0711, T2, NULL, NULL), 0);
	EXPECT_INT(check("file2/c", STORE_FILE, 0644, T1, "child", NULL), 0);
	EXPECT_INT(live("src/c"), 0);
	return 0;
}

/* A crash after rename(2) but before the records moved: the master
 * repeats the rename, and the repeat moves them. */
static int
t_rename_repeat_after_crash_moves_records(void)
{
	EXPECT_INT(setup(), 0);
	EXPECT_INT(apply_mkdir(fx.a, "d", 0755, T1), 0);
	EXPECT_INT(put_str("d/x", "xx", 0644, T1), 0);
	EXPECT_INT(rename(P("d"), P("n")), 0);
	EXPECT_INT(apply_rename(fx.a, "d", "n", 0755, T2), 0);
	EXPECT_INT(check("n", STORE_DIR, 0755, T2, NULL, NULL), 0);
	EXPECT_INT(check("n/x", STORE_FILE, 0644, T1, "xx", NULL), 0);
	EXPECT_INT(live("d"), 0);
	EXPECT_INT(live("d/x"), 0);
	return 0;
}

static int
t_meta_twice_file_dir_symlink(void)
{
	struct stat st;

	EXPECT_INT(setup(), 0);
	EXPECT_INT(put_str("f", "content", 0644, T1), 0);
	EXPECT_INT(apply_mkdir(fx.a, "d", 0755, T1), 0);
	EXPECT_INT(apply_symlink(fx.a, "l", "t", T1), 0);
	for (int round = 0; round < 2; round++) {
		EXPECT_INT(apply_meta(fx.a, "f", 0600, T2), 0);
		EXPECT_INT(apply_meta(fx.a, "d", 0711, T2), 0);
		EXPECT_INT(apply_meta(fx.a, "l", 0600, T2), 0);
		EXPECT_INT(check("f", STORE_FILE, 0600, T2, "content", NULL), 0);
		EXPECT_INT(check("d", STORE_DIR, 0711, T2, NULL, NULL), 0);
		EXPECT_INT(check("l", STORE_SYMLINK, 0, T2, NULL, "t"), 0);
	}
	EXPECT_INT(lstat_rel("l", &st), 0);
	EXPECT_INT(st.st_mode & 0777, 0777);	/* links have no mode */
	EXPECT_INT(apply_meta(fx.a, "missing", 0644, T1), -ENOENT);
	return 0;
}

static int
t_symlink_twice_replaces_file_and_dir(void)
{
	int64_t s1 = -1;

	EXPECT_INT(setup(), 0);
	for (int round = 0; round < 2; round++) {
		EXPECT_INT(apply_symlink(fx.a, "l", "/etc/passwd", T1), 0);
		EXPECT_INT(check("l", STORE_SYMLINK, 0, T1, NULL,
		    "/etc/passwd"), 0);
		if (round == 0)
			s1 = seq_of("l");
	}
	EXPECT_INT(seq_of("l"), s1);
	EXPECT_INT(put_str("f", "file", 0644, T1), 0);
	EXPECT_INT(apply_symlink(fx.a, "f", "../outside", T2), 0);
	EXPECT_INT(check("f", STORE_SYMLINK, 0, T2, NULL, "../outside"), 0);
	EXPECT_INT(apply_mkdir(fx.a, "d", 0755, T1), 0);
	EXPECT_INT(put_str("d/x", "x", 0644, T1), 0);
	EXPECT_INT(apply_symlink(fx.a, "d", "x", T1), 0);
	EXPECT_INT(check("d", STORE_SYMLINK, 0, T1, NULL, "x"), 0);
	EXPECT_INT(live("d/x"), 0);
	EXPECT_INT(apply_symlink(fx.a, "e", "", T1), -EINVAL);
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 0);
	return 0;
}

/* ---- the content sink ------------------------------------------------ */

static char *
pattern(size_t n, int seed)
{
	char *b = malloc(n + 1);

	for (size_t i = 0; b && i < n; i++)
		b[i] = (char)('a' + (i * 7 + (size_t)seed) % 26);
	if (b)
		b[n] = '\0';
	return b;
}

static int
t_put_in_chunks_installs_verified_file(void)
{
	char *big = pattern(100000, 1);
	int r1, r2;

	EXPECT_INT(setup(), 0);
	EXPECT(big != NULL, "out of memory");
	r1 = put_chunks("big", big, 100000, 4093, 0640, T1);
	r2 = check("big", STORE_FILE, 0640, T1, big, NULL);
	free(big);
	EXPECT_INT(r1, 0);
	EXPECT_INT(r2, 0);
	EXPECT_INT(put_str("empty", "", 0600, T2), 0);
	EXPECT_INT(check("empty", STORE_FILE, 0600, T2, "", NULL), 0);
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 0);
	return 0;
}

static int
t_put_checksum_mismatch_changes_nothing(void)
{
	struct apply_put *p;
	uint8_t sha[32];
	uint64_t have;

	EXPECT_INT(setup(), 0);
	sha_of("hello", 5, sha);
	EXPECT_INT(apply_put_begin(fx.a, "f", 5, sha, 0644, T1, &p, &have), 0);
	EXPECT_INT(apply_put_write(p, "hellO", 5), 0);
	EXPECT_INT(apply_put_finish(p), -EBADMSG);
	EXPECT(!exists("f"), "f installed");
	EXPECT_INT(live("f"), -ENOENT);
	EXPECT_INT(put_str("g", "old", 0644, T1), 0);
	sha_of("new!!", 5, sha);
	EXPECT_INT(apply_put_begin(fx.a, "g", 5, sha, 0644, T2, &p, &have), 0);
	EXPECT_INT(apply_put_write(p, "bad!!", 5), 0);
	EXPECT_INT(apply_put_finish(p), -EBADMSG);
	EXPECT_INT(check("g", STORE_FILE, 0644, T1, "old", NULL), 0);
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 0);
	return 0;
}

static int
t_put_refuses_data_beyond_size_and_limit(void)
{
	struct apply_put *p;
	uint8_t sha[32];
	uint64_t have;

	EXPECT_INT(setup(), 0);
	sha_of("abc", 3, sha);
	EXPECT_INT(apply_put_begin(fx.a, "f", 3, sha, 0644, T1, &p, &have), 0);
	EXPECT_INT(apply_put_write(p, "ab", 2), 0);
	EXPECT_INT(apply_put_write(p, "cd", 2), -EFBIG);
	EXPECT_INT(apply_put_write(p, "c", 1), 0);
	EXPECT_INT(apply_put_finish(p), 0);
	EXPECT_INT(check("f", STORE_FILE, 0644, T1, "abc", NULL), 0);
	apply_set_max_size(fx.a, 10);
	EXPECT_INT(apply_put_begin(fx.a, "big", 11, sha, 0644, T1, &p, &have),
	    -EFBIG);
	EXPECT(!exists("big"), "big created");
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 0);
	return 0;
}

static int
t_put_resumes_after_abort(void)
{
	char *body = pattern(1000, 2);
	struct apply_put *p, *q;
	uint8_t sha[32];
	uint64_t have = 99;
	int r;

	EXPECT_INT(setup(), 0);
	EXPECT(body != NULL, "out of memory");
	sha_of(body, 1000, sha);
	EXPECT_INT(apply_put_begin(fx.a, "f", 1000, sha, 0644, T1, &p, &have),
	    0);
	EXPECT_INT(have, 0);
	EXPECT_INT(apply_put_write(p, body, 500), 0);
	apply_put_abort(p, 1);
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 1);
	EXPECT(!exists("f"), "f visible before verification");
	EXPECT_INT(apply_put_begin(fx.a, "f", 1000, sha, 0644, T1, &p, &have),
	    0);
	EXPECT_INT(have, 500);
	r = apply_put_begin(fx.a, "f", 1000, sha, 0644, T1, &q, &have);
	EXPECT_INT(r, -EBUSY);			/* one session per temp */
	EXPECT_INT(apply_put_write(p, body + 500, 500), 0);
	EXPECT_INT(apply_put_finish(p), 0);
	r = check("f", STORE_FILE, 0644, T1, body, NULL);
	free(body);
	EXPECT_INT(r, 0);
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 0);

	/* finishing short keeps the temp for a resume; abort(0) drops it */
	sha_of("0123456789", 10, sha);
	EXPECT_INT(apply_put_begin(fx.a, "g", 10, sha, 0644, T1, &p, &have), 0);
	EXPECT_INT(apply_put_write(p, "01234", 5), 0);
	EXPECT_INT(apply_put_finish(p), -ENODATA);
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 1);
	EXPECT_INT(apply_put_begin(fx.a, "g", 10, sha, 0644, T1, &p, &have), 0);
	EXPECT_INT(have, 5);
	apply_put_abort(p, 0);
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 0);
	EXPECT(!exists("g"), "g installed");
	return 0;
}

/* A received file's chunk list is kept for its content, cut while it
 * arrived, across a resume too: the same list the chunker cuts from
 * the whole content at once. */
static int
t_put_keeps_chunk_list_across_resume(void)
{
	size_t n = 1 << 20;
	uint8_t *body = malloc(n), sha[32];
	struct chunk_list want = {0}, got = {0};
	struct chunker *c = NULL;
	struct apply_put *p;
	uint64_t have, x = 88172645463325252ull;

	EXPECT_INT(setup(), 0);
	EXPECT(body != NULL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		body[i] = (uint8_t)(x >> 24);
	}
	sha_of(body, n, sha);
	EXPECT_INT(apply_put_begin(fx.a, "big", n, sha, 0644, T1, &p, &have),
	    0);
	EXPECT_INT(apply_put_write(p, body, 300001), 0);
	apply_put_abort(p, 1);
	EXPECT_INT(chunk_load(fx.s, sha, &got), -ENOENT);
	EXPECT_INT(apply_put_begin(fx.a, "big", n, sha, 0644, T1, &p, &have),
	    0);
	EXPECT_INT(have, 300001);
	EXPECT_INT(apply_put_write(p, body + have, n - have), 0);
	EXPECT_INT(apply_put_finish(p), 0);
	EXPECT_INT(chunker_new(&c), 0);
	EXPECT_INT(chunker_feed(c, body, n), 0);
	EXPECT_INT(chunker_finish(c, &want), 0);
	chunker_free(c);
	free(body);
	EXPECT_INT(chunk_load(fx.s, sha, &got), 0);
	EXPECT(got.n == want.n && got.n > 4 &&
	    memcmp(got.v, want.v, got.n * sizeof(*got.v)) == 0,
	    "kept %zu chunks, want %zu", got.n, want.n);
	chunk_list_clear(&got);
	chunk_list_clear(&want);
	return 0;
}

/* A corrupt prefix left by an earlier session fails verification once,
 * is dropped, and the next session starts from zero. */
static int
t_put_corrupt_prefix_detected_then_restarted(void)
{
	struct apply_put *p;
	uint8_t sha[32];
	uint64_t have;

	EXPECT_INT(setup(), 0);
	sha_of("good data!", 10, sha);
	EXPECT_INT(apply_put_begin(fx.a, "f", 10, sha, 0644, T1, &p, &have), 0);
	EXPECT_INT(apply_put_write(p, "BAD D", 5), 0);
	apply_put_abort(p, 1);
	EXPECT_INT(apply_put_begin(fx.a, "f", 10, sha, 0644, T1, &p, &have), 0);
	EXPECT_INT(have, 5);
	EXPECT_INT(apply_put_write(p, "data!", 5), 0);
	EXPECT_INT(apply_put_finish(p), -EBADMSG);
	EXPECT(!exists("f"), "f installed");
	EXPECT_INT(put_str("f", "good data!", 0644, T1), 0);
	EXPECT_INT(check("f", STORE_FILE, 0644, T1, "good data!", NULL), 0);
	return 0;
}

static int
t_put_replaces_directory_and_its_records(void)
{
	EXPECT_INT(setup(), 0);
	EXPECT_INT(apply_mkdir(fx.a, "d", 0755, T1), 0);
	EXPECT_INT(apply_mkdir(fx.a, "d/e", 0755, T1), 0);
	EXPECT_INT(put_str("d/e/x", "x", 0644, T1), 0);
	EXPECT_INT(put_str("d", "now a file", 0600, T2), 0);
	EXPECT_INT(check("d", STORE_FILE, 0600, T2, "now a file", NULL), 0);
	EXPECT_INT(live("d/e"), 0);
	EXPECT_INT(live("d/e/x"), 0);
	EXPECT_INT(put_str("nodir/f", "x", 0644, T1), -ENOENT);
	return 0;
}

/* ---- modes: setuid, setgid and a file's sticky bit never applied ------ */

static void
count_change(const char *path, enum apply_local_kind kind, void *arg)
{
	(void)path;
	(void)kind;
	(*(int *)arg)++;
}

/* Each way a mode reaches the disk (put, have, copy, mkdir, meta,
 * rename) with every special bit asked for: only rwx, and the sticky bit
 * of a directory, arrive; the record says what is on disk, so the slave's
 * own watcher sees no local change. */
static int
t_special_mode_bits_never_applied(void)
{
	static const struct {
		const char *what;
		uint32_t mode;
		uint32_t want_file, want_dir;
	} modes[] = {
		{"setuid+setgid", 06755, 0755, 0755},
		{"setuid", 04700, 0700, 0700},
		{"setgid", 02750, 0750, 0750},
		{"sticky", 01777, 0777, 01777},
		{"all", 07777, 0777, 01777},
		{"plain", 0640, 0640, 0640},
	};
	uint8_t sha[32];
	int flag, changes = 0;

	sha_of("x", 1, sha);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		uint32_t m = modes[i].mode, wf = modes[i].want_file,
		    wd = modes[i].want_dir;

		EXPECT_INT(setup(), 0);
		EXPECT_INT(put_str("f", "x", m, T1), 0);
		EXPECT_INT(check("f", STORE_FILE, wf, T1, "x", NULL), 0);
		EXPECT_INT(apply_have(fx.a, "f", 1, sha, m, T2, &flag), 0);
		EXPECT_INT(flag, 1);
		EXPECT_INT(check("f", STORE_FILE, wf, T2, "x", NULL), 0);
		EXPECT_INT(apply_copy_local(fx.a, "g", 1, sha, m, T1, &flag), 0);
		EXPECT_INT(flag, 1);
		EXPECT_INT(check("g", STORE_FILE, wf, T1, "x", NULL), 0);
		EXPECT_INT(apply_meta(fx.a, "g", 0600, T1), 0);
		EXPECT_INT(apply_meta(fx.a, "g", m, T2), 0);
		EXPECT_INT(check("g", STORE_FILE, wf, T2, "x", NULL), 0);
		EXPECT_INT(apply_rename(fx.a, "g", "h", m, T1), 0);
		EXPECT_INT(check("h", STORE_FILE, wf, T1, "x", NULL), 0);
		EXPECT_INT(apply_mkdir(fx.a, "d", m | 0700, T1), 0);
		EXPECT_INT(check("d", STORE_DIR, wd | 0700, T1, NULL, NULL), 0);
		EXPECT_INT(apply_meta(fx.a, "d", m | 0700, T2), 0);
		EXPECT_INT(check("d", STORE_DIR, wd | 0700, T2, NULL, NULL), 0);
		EXPECT_INT(apply_rename(fx.a, "d", "e", m | 0700, T1), 0);
		EXPECT_INT(check("e", STORE_DIR, wd | 0700, T1, NULL, NULL), 0);
		EXPECT_INT(apply_local_check(fx.a, "", 1, time(NULL),
		    count_change, &changes), 0);
		EXPECT(changes == 0, "%s: %d local changes", modes[i].what,
		    changes);
	}
	return 0;
}

/* ---- hostile paths ---------------------------------------------------- */

/* Runs operation op on path; the rest of the arguments are harmless. */
static int
run_op(int op, const char *path)
{
	struct apply_put *p = NULL;
	uint8_t sha[32];
	uint64_t have;
	int flag, r;

	sha_of("x", 1, sha);
	switch (op) {
	case 0: return apply_mkdir(fx.a, path, 0755, T1);
	case 1: return apply_delete(fx.a, path);
	case 2: return apply_rmdir(fx.a, path);
	case 3: return apply_meta(fx.a, path, 0644, T1);
	case 4: return apply_symlink(fx.a, path, "t", T1);
	case 5: return apply_rename(fx.a, path, "ok", 0644, T1);
	case 6: return apply_rename(fx.a, "ok", path, 0644, T1);
	case 7: return apply_have(fx.a, path, 1, sha, 0644, T1, &flag);
	case 8: return apply_copy_local(fx.a, path, 1, sha, 0644, T1, &flag);
	default:
		r = apply_put_begin(fx.a, path, 1, sha, 0644, T1, &p, &have);
		if (r == 0) {
			apply_put_write(p, "x", 1);
			r = apply_put_finish(p);
		}
		return r;
	}
}

#define N_OPS 10

static int
t_hostile_paths_refused_by_every_operation(void)
{
	static const char *const bad[] = {"../x", "/etc/x", "a/../../x",
	    "a//b", "", ".", "a/", "./a", "..",
	    ".xmpp-sync-tmp.0123", "ok/.xmpp-sync-tmp.x/y",
	    ".xmpp-sync", ".xmpp-sync/local/x"};
	char buf[600];

	EXPECT_INT(setup(), 0);
	EXPECT_INT(put_str("ok", "x", 0644, T1), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		for (int op = 0; op < N_OPS; op++)
			EXPECT(run_op(op, bad[i]) == -EINVAL,
			    "op %d on path %zu not refused", op, i);
	EXPECT_INT(apply_rename(fx.a, "ok", NULL, 0644, T1), -EINVAL);
	EXPECT_INT(count_names(fx.root, ""), 1);	/* only ok */
	EXPECT_INT(check("ok", STORE_FILE, 0644, T1, "x", NULL), 0);
	EXPECT_INT(count_names(fx.out, ""), 0);
	snprintf(buf, sizeof(buf), "%s/x", fx.dir);
	EXPECT(access(buf, F_OK) != 0, "%s created", buf);
	return 0;
}

/* root/link -> a directory outside: nothing goes through it. */
static int
t_planted_symlink_never_followed(void)
{
	char keep[600];

	EXPECT_INT(setup(), 0);
	snprintf(keep, sizeof(keep), "%s/x", fx.out);
	EXPECT_INT(write_plain(keep, "outside"), 0);
	EXPECT_INT(symlink(fx.out, P("link")), 0);
	EXPECT_INT(put_str("ok", "x", 0644, T1), 0);
	for (int op = 0; op < N_OPS; op++) {
		int r = run_op(op, op == 6 ? "link/ok2" : "link/x");

		if (op == 7 || op == 8)	/* have, copy: nothing changes */
			continue;
		EXPECT(r == -ELOOP || r == -ENOTDIR, "op %d gave %d", op, r);
	}
	EXPECT_INT(run_op(9, "link/evil"), run_op(9, "link/x"));
	EXPECT_INT(count_names(fx.out, ""), 1);
	EXPECT(content_is("link/x", "outside"), "outside file changed");
	EXPECT_INT(apply_delete(fx.a, "link"), 0);	/* the link itself */
	EXPECT(!exists("link"), "link still there");
	EXPECT_INT(count_names(fx.out, "x"), 1);
	EXPECT_INT(check("ok", STORE_FILE, 0644, T1, "x", NULL), 0);
	return 0;
}

static int
t_ignored_paths_refused(void)
{
	EXPECT_INT(setup(), 0);
	EXPECT_INT(put_str("x.o", "obj", 0644, T1), -EPERM);
	EXPECT_INT(apply_mkdir(fx.a, "cache", 0755, T1), -EPERM);
	EXPECT(!exists("x.o") && !exists("cache"), "ignored path created");
	EXPECT_INT(put_str("cache", "a file", 0644, T1), 0);	/* dirs only */
	EXPECT_INT(apply_mkdir(fx.a, "a", 0755, T1), 0);
	EXPECT_INT(put_str("a/b.o", "obj", 0644, T1), -EPERM);
	EXPECT_INT(apply_rename(fx.a, "cache", "y.o", 0644, T1), -EPERM);
	EXPECT_INT(check("cache", STORE_FILE, 0644, T1, "a file", NULL), 0);
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 0);
	return 0;
}

/* ---- have, copy ------------------------------------------------------ */

static int
t_have_true_for_same_content_false_after_change(void)
{
	const char *c = "same content";
	uint8_t sha[32], abc[32];
	int have = -1;

	EXPECT_INT(setup(), 0);
	sha_of(c, strlen(c), sha);
	EXPECT_INT(put_str("f", c, 0644, T1), 0);
	EXPECT_INT(apply_have(fx.a, "f", strlen(c), sha, 0600, T2, &have), 0);
	EXPECT_INT(have, 1);
	EXPECT_INT(check("f", STORE_FILE, 0600, T2, c, NULL), 0);

	/* no record: read from disk */
	sha_of("abc", 3, abc);
	EXPECT_INT(write_plain(P("g"), "abc"), 0);
	EXPECT_INT(apply_have(fx.a, "g", 3, abc, 0640, T1, &have), 0);
	EXPECT_INT(have, 1);
	EXPECT_INT(check("g", STORE_FILE, 0640, T1, "abc", NULL), 0);

	/* one byte changed, same size: the mtime moved, so it is read */
	EXPECT_INT(write_plain(P("f"), "Same content"), 0);
	EXPECT_INT(apply_have(fx.a, "f", strlen(c), sha, 0600, T2, &have), 0);
	EXPECT_INT(have, 0);
	EXPECT(content_is("f", "Same content"), "f changed");
	EXPECT_INT(apply_have(fx.a, "f", strlen(c) + 1, sha, 0600, T2, &have),
	    0);
	EXPECT_INT(have, 0);

	EXPECT_INT(apply_mkdir(fx.a, "d", 0755, T1), 0);
	EXPECT_INT(apply_symlink(fx.a, "l", "g", T1), 0);
	EXPECT_INT(apply_have(fx.a, "d", 0, sha, 0644, T1, &have), 0);
	EXPECT_INT(have, 0);
	EXPECT_INT(apply_have(fx.a, "l", 3, abc, 0644, T1, &have), 0);
	EXPECT_INT(have, 0);
	EXPECT_INT(apply_have(fx.a, "missing", 3, abc, 0644, T1, &have), 0);
	EXPECT_INT(have, 0);
	EXPECT_INT(apply_have(fx.a, "nodir/x", 3, abc, 0644, T1, &have), 0);
	EXPECT_INT(have, 0);
	return 0;
}

static int
t_copy_local_from_recorded_file(void)
{
	const char *c = "shared bytes";
	uint8_t sha[32], other[32];
	int done = -1;

	EXPECT_INT(setup(), 0);
	sha_of(c, strlen(c), sha);
	EXPECT_INT(put_str("a", c, 0644, T1), 0);
	EXPECT_INT(apply_mkdir(fx.a, "sub", 0755, T1), 0);
	EXPECT_INT(apply_copy_local(fx.a, "sub/b", strlen(c), sha, 0600, T2,
	    &done), 0);
	EXPECT_INT(done, 1);
	EXPECT_INT(check("sub/b", STORE_FILE, 0600, T2, c, NULL), 0);
	EXPECT_INT(check("a", STORE_FILE, 0644, T1, c, NULL), 0);

	sha_of("unknown", 7, other);
	EXPECT_INT(apply_copy_local(fx.a, "u", 7, other, 0644, T1, &done), 0);
	EXPECT_INT(done, 0);
	EXPECT(!exists("u"), "u created");

	/* both copies changed behind the store's back: not usable */
	EXPECT_INT(write_plain(P("a"), "changed!"), 0);
	EXPECT_INT(write_plain(P("sub/b"), "changed too"), 0);
	EXPECT_INT(apply_copy_local(fx.a, "c", strlen(c), sha, 0644, T1,
	    &done), 0);
	EXPECT_INT(done, 0);
	EXPECT(!exists("c"), "c created");
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 0);
	return 0;
}

/* ---- manifest -------------------------------------------------------- */

static int
collect(const struct store_file *f, void *arg)
{
	char *buf = arg;
	size_t n = strlen(buf);
	static const char types[] = "?fdl";

	snprintf(buf + n, 512 - n, "%s%s:%c", n ? " " : "", f->path,
	    types[f->type]);
	return 0;
}

struct pager {
	char buf[512];
	char last[256];
	int pages;
};

static int
collect_page(const struct store_file *f, void *arg)
{
	struct pager *pg = arg;

	snprintf(pg->last, sizeof(pg->last), "%s", f->path);
	return collect(f, pg->buf);
}

static int
t_manifest_pages_in_path_order(void)
{
	char all[512] = "";
	struct pager pg = {0};
	size_t len;

	EXPECT_INT(setup(), 0);
	EXPECT_INT(put_str("z", "z", 0644, T1), 0);
	EXPECT_INT(apply_mkdir(fx.a, "d", 0755, T1), 0);
	EXPECT_INT(put_str("d/x", "x", 0644, T1), 0);
	EXPECT_INT(apply_mkdir(fx.a, "d/e", 0755, T1), 0);
	EXPECT_INT(put_str("a", "a", 0644, T1), 0);
	EXPECT_INT(put_str("a.b", "ab", 0644, T1), 0);
	EXPECT_INT(put_str("d.x", "dx", 0644, T1), 0);
	EXPECT_INT(apply_symlink(fx.a, "l", "z", T1), 0);
	EXPECT_INT(apply_delete(fx.a, "a.b"), 0);
	EXPECT_INT(apply_manifest(fx.a, NULL, 1000, collect, all), 0);
	EXPECT_STR(all, "a:f d:d d.x:f d/e:d d/x:f l:l z:f");
	do {
		len = strlen(pg.buf);
		EXPECT_INT(apply_manifest(fx.a, pg.pages ? pg.last : NULL, 2,
		    collect_page, &pg), 0);
		pg.pages++;
	} while (strlen(pg.buf) != len && pg.pages < 20);
	EXPECT_STR(pg.buf, all);
	EXPECT_INT(pg.pages, 5);	/* 2+2+2+1, then an empty page */
	return 0;
}

/* A resume cuts the kept prefix back to a boundary; the bytes written
 * after the cut replace what was there, and the whole file verifies. */
static int
t_put_truncate_then_resume(void)
{
	char *body = pattern(1000, 5);
	struct apply_put *p;
	uint8_t sha[32];
	uint64_t have = 0;
	int r;

	EXPECT_INT(setup(), 0);
	EXPECT(body != NULL, "out of memory");
	sha_of(body, 1000, sha);
	EXPECT_INT(apply_put_begin(fx.a, "t", 1000, sha, 0644, T1, &p, &have), 0);
	EXPECT_INT(apply_put_write(p, body, 300), 0);
	EXPECT_INT(apply_put_write(p, "garbage!", 8), 0); /* beyond the cut */
	EXPECT_INT(apply_put_truncate(p, 400), -EINVAL); /* more than written */
	EXPECT_INT(apply_put_truncate(p, 256), 0);
	EXPECT_INT(apply_put_write(p, body + 256, 1000 - 256), 0);
	EXPECT_INT(apply_put_finish(p), 0);
	r = check("t", STORE_FILE, 0644, T1, body, NULL);
	free(body);
	EXPECT_INT(r, 0);
	return 0;
}

/* ---- temp files of interrupted transfers ----------------------------- */

/* Leaves n bytes of a put of body as path behind, as a transfer that was
 * cut off does. */
static int
leave_prefix(const char *path, const char *body, size_t n)
{
	struct apply_put *p;
	uint8_t sha[32];
	uint64_t have;
	int r;

	sha_of(body, strlen(body), sha);
	if ((r = apply_put_begin(fx.a, path, strlen(body), sha, 0644, T1, &p,
	    &have)) < 0)
		return r;
	r = apply_put_write(p, body, n);
	apply_put_abort(p, r == 0);
	return r;
}

static int
t_temps_sweep_removes_old_and_empty_touches_nothing_else(void)
{
	const int64_t old = ((int64_t)time(NULL) - 2 * APPLY_TEMP_MAX_AGE) *
	    1000000000;
	const struct tu_node nodes[] = {
		{.path = "root/.xmpp-sync-tmp.0123", .content = "abandoned",
		    .mtime_ns = old},
		{.path = "root/d/.xmpp-sync-tmp.empty"},
		{.path = "root/d/.xmpp-sync-tmp.young", .content = "may resume"},
		/* not ours: other names, other types, outside, ignored */
		{.path = "root/.xmpp-sync-tmpX", .content = "x", .mtime_ns = old},
		{.path = "root/x.xmpp-sync-tmp.y", .content = "x", .mtime_ns = old},
		{.path = "root/.xmpp-sync-tmp.dir/.xmpp-sync-tmp.in",
		    .content = "x", .mtime_ns = old},
		{.path = "out/.xmpp-sync-tmp.out", .content = "x", .mtime_ns = old},
		{.path = "out/target", .content = "keep"},
		{.path = "root/.xmpp-sync-tmp.link", .link = "../out/target"},
		{.path = "root/lnk", .link = "../out"},
		{.path = "root/cache/.xmpp-sync-tmp.c", .content = "x",
		    .mtime_ns = old},
	};
	static const char *const untouched[] = {".xmpp-sync-tmpX",
	    "x.xmpp-sync-tmp.y", ".xmpp-sync-tmp.dir/.xmpp-sync-tmp.in",
	    ".xmpp-sync-tmp.link", "lnk/.xmpp-sync-tmp.out", "lnk/target",
	    "cache/.xmpp-sync-tmp.c"};
	struct apply_temps t1, t2;

	EXPECT_INT(setup(), 0);
	EXPECT_INT(tu_tree_make(fx.dir, nodes, sizeof(nodes) / sizeof(nodes[0])),
	    0);
	EXPECT_INT(apply_temps_sweep(fx.a, APPLY_TEMP_MAX_AGE, &t1), 0);
	EXPECT(!exists(".xmpp-sync-tmp.0123"), "an old prefix was kept");
	EXPECT(!exists("d/.xmpp-sync-tmp.empty"), "an empty temp was kept");
	EXPECT(exists("d/.xmpp-sync-tmp.young"), "a young prefix was removed");
	apply_temps_release(fx.a, &t2);
	EXPECT(!exists("d/.xmpp-sync-tmp.young"), "released prefix kept");
	for (size_t i = 0; i < sizeof(untouched) / sizeof(untouched[0]); i++)
		EXPECT(exists(untouched[i]), "%s was touched", untouched[i]);
	EXPECT_INT(t1.removed, 2);
	EXPECT_INT(t1.bytes, 9);
	EXPECT_INT(t1.kept, 1);
	EXPECT_INT(t2.removed, 1);
	EXPECT_INT(t2.bytes, 10);
	return 0;
}

static int
t_temps_forget_removes_other_versions_of_the_path(void)
{
	const char *v1 = "version one of f";
	struct apply_temps t1, t2, t3, t4;
	struct apply_put *p;
	uint8_t sha1[32], sha2[32];
	uint64_t have = 0;

	EXPECT_INT(setup(), 0);
	EXPECT_INT(apply_mkdir(fx.a, "d", 0755, T1), 0);
	EXPECT_INT(leave_prefix("f", v1, 7), 0);
	EXPECT_INT(leave_prefix("fg", "another file", 3), 0);
	EXPECT_INT(leave_prefix("d/f", v1, 5), 0);
	sha_of(v1, strlen(v1), sha1);
	sha_of("version two", 11, sha2);
	apply_temps_forget(fx.a, "f", strlen(v1), sha1, &t1);	/* wanted */
	apply_temps_forget(fx.a, "f", 11, sha2, &t2);		/* another */
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 1);	/* fg's */
	EXPECT_INT(count_names(P("d"), PATH_TMP_PREFIX), 1);
	apply_temps_forget(fx.a, "d/f", 0, NULL, &t3);		/* gone */
	apply_temps_forget(fx.a, "fg", 0, NULL, &t4);
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 0);
	EXPECT_INT(count_names(P("d"), PATH_TMP_PREFIX), 0);
	EXPECT_INT(t1.removed, 0);
	EXPECT_INT(t2.removed, 1);
	EXPECT_INT(t2.bytes, 7);
	EXPECT_INT(t3.removed + t4.removed, 2);
	/* the version the master still wants resumes as before */
	EXPECT_INT(leave_prefix("f", v1, 7), 0);
	apply_temps_forget(fx.a, "f", strlen(v1), sha1, &t1);
	EXPECT_INT(apply_put_begin(fx.a, "f", strlen(v1), sha1, 0644, T1, &p,
	    &have), 0);
	apply_put_abort(p, 0);
	EXPECT_INT(have, 7);
	return 0;
}

static int
t_temps_in_use_are_left_alone(void)
{
	struct apply_temps t1, t2, t3;
	struct apply_put *p;
	uint8_t sha[32];
	uint64_t have;

	EXPECT_INT(setup(), 0);
	sha_of("0123456789", 10, sha);
	EXPECT_INT(apply_put_begin(fx.a, "f", 10, sha, 0644, T1, &p, &have), 0);
	EXPECT_INT(apply_put_write(p, "01234", 5), 0);
	EXPECT_INT(apply_temps_sweep(fx.a, 0, &t1), 0);
	apply_temps_forget(fx.a, "f", 0, NULL, &t2);
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 1);
	EXPECT_INT(apply_put_finish(p), -ENODATA);	/* short: kept */
	apply_temps_release(fx.a, &t3);
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 0);
	EXPECT_INT(t1.removed, 0);
	EXPECT_INT(t1.kept, 1);
	EXPECT_INT(t2.removed, 0);
	EXPECT_INT(t3.removed, 1);
	EXPECT_INT(t3.bytes, 5);
	return 0;
}

/* ---- space ------------------------------------------------------------ */

/* Begins receiving size bytes of body as path and writes the first n. */
static int
put_part(const char *path, const char *body, size_t size, size_t n,
    struct apply_put **p)
{
	uint8_t sha[32];
	uint64_t have;
	int r;

	sha_of(body, size, sha);
	if ((r = apply_put_begin(fx.a, path, size, sha, 0644, T1, p, &have)) < 0)
		return r;
	return apply_put_write(*p, body, n);
}

/* The temp path of (path, size bytes of body) and what it holds. */
static int
prefix_of(const char *path, const char *body, size_t size, char *out,
    size_t len, uint64_t *have)
{
	uint8_t sha[32];

	sha_of(body, size, sha);
	return apply_put_prefix(fx.a, path, size, sha, out, len, have);
}

/* An interrupted transfer's prefix is listed and can be dropped; a
 * running session's temp, a temp name in an ignored directory, a
 * symlink with a temp name and ordinary files are neither. */
static int
t_prefixes_listed_and_dropped_never_busy_ones(void)
{
	static const struct tu_node nodes[] = {
		{.path = "sub/"},
		{.path = "cache/"},
		{.path = "cache/" PATH_TMP_PREFIX "00000000000000000000000000000000",
		 .content = "not ours to judge"},
		{.path = PATH_TMP_PREFIX "ffffffffffffffffffffffffffffffff",
		 .link = "sub"},
		{.path = "c.txt", .content = "plain"},
	};
	char *body = pattern(1000, 7), kept[PATH_MAX], busy[PATH_MAX];
	struct apply_put *p, *q;
	struct apply_prefix *v;
	uint64_t have = 0, freed = 0;
	size_t n = 0;

	EXPECT_INT(setup(), 0);
	EXPECT(body != NULL, "out of memory");
	EXPECT_INT(tu_tree_make(fx.root, nodes, sizeof(nodes) / sizeof(nodes[0])), 0);
	EXPECT_INT(put_part("sub/a", body, 1000, 500, &p), 0);
	apply_put_abort(p, 1);
	EXPECT_INT(put_part("b", body, 1000, 100, &q), 0);	/* stays open */
	EXPECT_INT(prefix_of("sub/a", body, 1000, kept, sizeof(kept), &have), 0);
	EXPECT_INT(have, 500);
	EXPECT(strncmp(kept, "sub/" PATH_TMP_PREFIX, 4 + strlen(PATH_TMP_PREFIX))
	    == 0, "temp path %s", kept);
	EXPECT_INT(prefix_of("b", body, 1000, busy, sizeof(busy), &have), 0);
	EXPECT_INT(have, 100);

	EXPECT_INT(apply_prefixes(fx.a, &v, &n), 0);
	EXPECT_INT(n, 1);
	EXPECT_STR(v[0].path, kept);
	EXPECT(v[0].bytes >= 500, "bytes %llu", (unsigned long long)v[0].bytes);
	EXPECT(v[0].mtime_ns > 0, "no mtime");
	apply_prefixes_free(v, n);
	/* a walk, when the list was not whole, finds no more than that */
	fx.a->lost_track = 1;
	EXPECT_INT(apply_prefixes(fx.a, &v, &n), 0);
	EXPECT_INT(n, 1);
	EXPECT_STR(v[0].path, kept);
	apply_prefixes_free(v, n);
	EXPECT_INT(fx.a->lost_track, 0);

	EXPECT_INT(apply_prefix_drop(fx.a, busy, &freed), -EBUSY);
	EXPECT_INT(apply_prefix_drop(fx.a, "c.txt", &freed), -EINVAL);
	EXPECT_INT(apply_prefix_drop(fx.a, PATH_TMP_PREFIX
	    "ffffffffffffffffffffffffffffffff", &freed), -EINVAL);
	EXPECT(exists(PATH_TMP_PREFIX "ffffffffffffffffffffffffffffffff") &&
	    exists("c.txt"), "dropped what was not a prefix");
	EXPECT_INT(apply_prefix_drop(fx.a, kept, &freed), 0);
	EXPECT(freed >= 500, "freed %llu", (unsigned long long)freed);
	EXPECT(!exists(kept), "%s still there", kept);
	EXPECT_INT(apply_prefix_drop(fx.a, kept, &freed), -ENOENT);
	EXPECT_INT((int)fx.a->nleft, 0);	/* forgotten as a leftover */
	/* the next transfer of sub/a starts over */
	EXPECT_INT(prefix_of("sub/a", body, 1000, kept, sizeof(kept), &have), 0);
	EXPECT_INT(have, 0);
	EXPECT_INT(apply_put_write(q, body + 100, 900), 0);
	EXPECT_INT(apply_put_finish(q), 0);
	EXPECT(content_is("b", body), "b not installed");
	free(body);
	return 0;
}

/* The prefixes are the leftovers the applier remembers: one planted
 * behind its back is not listed until the list is found incomplete and
 * a walk finds it; one dropped for room is no leftover any more, and the
 * release removes what is left. */
static int
t_prefixes_are_the_remembered_leftovers(void)
{
	static const struct tu_node nodes[] = {
		{.path = "d/"},
		{.path = "d/" PATH_TMP_PREFIX "0123456789abcdef0123456789abcdef",
		 .content = "planted"},
	};
	struct apply_prefix *v1 = NULL, *v2 = NULL;
	struct apply_temps t;
	size_t n1 = 0, n2 = 0, left = 0;
	uint64_t freed = 0;
	int drop = -1;

	EXPECT_INT(setup(), 0);
	EXPECT_INT(leave_prefix("a", "some content of a", 5), 0);
	EXPECT_INT(tu_tree_make(fx.root, nodes, sizeof(nodes) / sizeof(nodes[0])),
	    0);
	EXPECT_INT(apply_prefixes(fx.a, &v1, &n1), 0);
	fx.a->lost_track = 1;		/* as when one could not be remembered */
	EXPECT_INT(apply_prefixes(fx.a, &v2, &n2), 0);
	for (size_t i = 0; i < n2; i++)
		if (strncmp(v2[i].path, "d/", 2) != 0)
			drop = apply_prefix_drop(fx.a, v2[i].path, &freed);
	left = fx.a->nleft;
	apply_temps_release(fx.a, &t);
	EXPECT_INT(n1, 1);
	EXPECT(n1 == 1 && strncmp(v1[0].path, PATH_TMP_PREFIX,
	    strlen(PATH_TMP_PREFIX)) == 0, "listed %s", n1 ? v1[0].path : "-");
	EXPECT_INT(n2, 2);
	EXPECT_INT(drop, 0);
	EXPECT_INT((int)left, 1);
	EXPECT_INT(t.removed, 1);	/* the planted one */
	EXPECT_INT(t.bytes, 7);
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 0);
	EXPECT_INT(count_names(P("d"), PATH_TMP_PREFIX), 0);
	apply_prefixes_free(v1, n1);
	apply_prefixes_free(v2, n2);
	return 0;
}

/* ---- batches and bundles --------------------------------------------- */

/* Whether a second connection to the database (what a crash would leave)
 * holds a live record of path. */
static int
committed(const char *path)
{
	struct store *o;
	struct store_file f;
	char db[128];
	int r;

	snprintf(db, sizeof(db), "%s/state.db", fx.dir);
	if (store_open(db, &o) < 0)
		return -1;
	r = store_file_load(o, path, &f) == 0 && !f.deleted;
	if (r || f.path)
		store_file_clear(&f);
	store_close(o);
	return r;
}

/* The store's synchronous setting: 1 (NORMAL, lazy commits) or 2 (FULL). */
static int
sync_mode(void)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(fx.s->db, "PRAGMA synchronous", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
t_batch_lazy_commits_until_its_end(void)
{
	EXPECT_INT(setup(), 0);
	EXPECT_INT(sync_mode(), 2);
	EXPECT_INT(apply_batch_begin(fx.a), 0);
	EXPECT_INT(sync_mode(), 1);
	EXPECT_INT(apply_mkdir(fx.a, "d", 0755, T1), 0);
	EXPECT_INT(put_str("d/f", "one", 0644, T1), 0);
	/* each record committed as it is made: a crash of the process
	 * (another connection, here) finds it */
	EXPECT_INT(check("d/f", STORE_FILE, 0644, T1, "one", NULL), 0);
	EXPECT_INT(committed("d"), 1);
	EXPECT_INT(committed("d/f"), 1);
	/* nested: the inner end flushes, the outer goes on, still lazy */
	EXPECT_INT(apply_batch_begin(fx.a), 0);
	EXPECT_INT(put_str("g", "two", 0644, T1), 0);
	EXPECT_INT(apply_batch_end(fx.a), 0);
	EXPECT_INT(sync_mode(), 1);
	EXPECT_INT(committed("g"), 1);
	EXPECT_INT(apply_delete(fx.a, "g"), 0);
	EXPECT_INT(committed("g"), 0);
	EXPECT_INT(apply_batch_end(fx.a), 0);
	EXPECT_INT(sync_mode(), 2);
	EXPECT(!exists("g"), "g still there");
	EXPECT_INT(apply_batch_end(fx.a), -EINVAL);
	return 0;
}

/* What a bundle's hooks saw. */
static struct bundle_log {
	int end[8];
	int skip;		/* start answers 1 for this file, -1: none */
} blog;

static int
blog_start(void *arg, size_t k)
{
	(void)arg;
	return (int)k == blog.skip ? 1 : 0;
}

static void
blog_end(void *arg, size_t k, int r)
{
	(void)arg;
	if (k < 8)
		blog.end[k] = r;
}

/* Feeds files f[0..n) whose stream is data (len bytes) in chunks of
 * chunk bytes, then finishes (or stops after stop bytes and finishes). */
static int
bundle_run(const struct apply_bundle_file *f, size_t n, const char *data,
    size_t len, size_t chunk, size_t *installed)
{
	struct apply_bundle_hooks h = {blog_start, NULL, blog_end, NULL};
	struct apply_bundle *b;
	int r;

	for (size_t i = 0; i < 8; i++)
		blog.end[i] = 99;
	if ((r = apply_bundle_begin(fx.a, f, n, &h, &b)) < 0)
		return r;
	for (size_t o = 0; o < len; o += chunk)
		if ((r = apply_bundle_write(b, (const unsigned char *)data + o,
		    len - o < chunk ? len - o : chunk)) < 0) {
			apply_bundle_abort(b);
			return r;
		}
	return apply_bundle_finish(b, installed);
}

static int
t_bundle_tampered_file_refused_rest_installed(void)
{
	uint8_t sa[32], sb[32], sc[32];
	const struct apply_bundle_file f[] = {
		{"a", 5, sa, 0644, T1}, {"b", 5, sb, 0600, T1},
		{"c", 7, sc, 0640, T2},
	};
	size_t n = 0;

	EXPECT_INT(setup(), 0);
	blog.skip = -1;
	sha_of("alpha", 5, sa);
	sha_of("bravo", 5, sb);
	sha_of("charlie", 7, sc);
	/* b's bytes were changed on the way: b alone is refused */
	EXPECT_INT(bundle_run(f, 3, "alphabrav0charlie", 17, 3, &n), -EBADMSG);
	EXPECT_INT((int)n, 2);
	EXPECT_INT(check("a", STORE_FILE, 0644, T1, "alpha", NULL), 0);
	EXPECT_INT(check("c", STORE_FILE, 0640, T2, "charlie", NULL), 0);
	EXPECT(!exists("b"), "the tampered file is visible");
	EXPECT_INT(live("b"), -ENOENT);
	EXPECT_INT(blog.end[0], 0);
	EXPECT_INT(blog.end[1], -EBADMSG);
	EXPECT_INT(blog.end[2], 0);
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 0);
	/* durable and committed once the bundle is over */
	EXPECT_INT(committed("a"), 1);
	EXPECT_INT(committed("c"), 1);
	/* all of it right, in one write: 0 */
	EXPECT_INT(bundle_run(f, 3, "alphabravocharlie", 17, 17, &n), 0);
	EXPECT_INT((int)n, 3);
	EXPECT_INT(check("b", STORE_FILE, 0600, T1, "bravo", NULL), 0);
	return 0;
}

static int
t_bundle_short_or_long_stream(void)
{
	uint8_t sa[32], sb[32];
	const struct apply_bundle_file f[] = {
		{"a", 5, sa, 0644, T1}, {"b", 5, sb, 0644, T1},
	};
	size_t n = 9;

	EXPECT_INT(setup(), 0);
	blog.skip = -1;
	sha_of("alpha", 5, sa);
	sha_of("bravo", 5, sb);
	/* cut off inside b: a stays, nothing of b */
	EXPECT_INT(bundle_run(f, 2, "alphabr", 7, 2, &n), -ENODATA);
	EXPECT_INT((int)n, 1);
	EXPECT_INT(check("a", STORE_FILE, 0644, T1, "alpha", NULL), 0);
	EXPECT(!exists("b"), "a partial file is visible");
	EXPECT_INT(blog.end[1], -ENODATA);
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 0);
	/* more bytes than announced */
	EXPECT_INT(bundle_run(f, 2, "alphabravoX", 11, 11, &n), -EMSGSIZE);
	EXPECT_INT(count_names(fx.root, PATH_TMP_PREFIX), 0);
	return 0;
}

static int
t_bundle_skips_file_no_longer_wanted(void)
{
	uint8_t sa[32], sb[32], sc[32];
	const struct apply_bundle_file f[] = {
		{"a", 5, sa, 0644, T1}, {"b", 5, sb, 0644, T1},
		{"c", 0, sc, 0644, T1},
	};
	size_t n = 0;

	EXPECT_INT(setup(), 0);
	blog.skip = 1;
	sha_of("alpha", 5, sa);
	sha_of("bravo", 5, sb);
	sha_of("", 0, sc);
	EXPECT_INT(bundle_run(f, 3, "alphabravo", 10, 4, &n), 0);
	EXPECT_INT((int)n, 2);
	EXPECT(!exists("b"), "a skipped file was installed");
	EXPECT_INT(check("a", STORE_FILE, 0644, T1, "alpha", NULL), 0);
	EXPECT_INT(check("c", STORE_FILE, 0644, T1, "", NULL), 0);
	EXPECT_INT(blog.end[1], 1);
	EXPECT_INT(blog.end[2], 0);
	return 0;
}

static const struct unit_test tests[] = {
	{"put_truncate_then_resume", t_put_truncate_then_resume},
	{"batch_lazy_commits_until_its_end",
	 t_batch_lazy_commits_until_its_end},
	{"bundle_tampered_file_refused_rest_installed",
	 t_bundle_tampered_file_refused_rest_installed},
	{"bundle_short_or_long_stream", t_bundle_short_or_long_stream},
	{"bundle_skips_file_no_longer_wanted",
	 t_bundle_skips_file_no_longer_wanted},
	{"mkdir_twice_sets_mode_mtime_record",
	 t_mkdir_twice_sets_mode_mtime_record},
	{"mkdir_replaces_file_and_symlink", t_mkdir_replaces_file_and_symlink},
	{"delete_file_link_dir_twice", t_delete_file_link_dir_twice},
	{"rmdir_removes_subtree_twice", t_rmdir_removes_subtree_twice},
	{"rename_file_twice_keeps_checksum",
	 t_rename_file_twice_keeps_checksum},
	{"rename_dir_moves_children_records",
	 t_rename_dir_moves_children_records},
	{"rename_replaces_directory_or_file",
	 t_rename_replaces_directory_or_file},
	{"rename_repeat_after_crash_moves_records",
	 t_rename_repeat_after_crash_moves_records},
	{"meta_twice_file_dir_symlink", t_meta_twice_file_dir_symlink},
	{"symlink_twice_replaces_file_and_dir",
	 t_symlink_twice_replaces_file_and_dir},
	{"put_in_chunks_installs_verified_file",
	 t_put_in_chunks_installs_verified_file},
	{"put_checksum_mismatch_changes_nothing",
	 t_put_checksum_mismatch_changes_nothing},
	{"put_refuses_data_beyond_size_and_limit",
	 t_put_refuses_data_beyond_size_and_limit},
	{"put_resumes_after_abort", t_put_resumes_after_abort},
	{"put_keeps_chunk_list_across_resume",
	    t_put_keeps_chunk_list_across_resume},
	{"put_corrupt_prefix_detected_then_restarted",
	 t_put_corrupt_prefix_detected_then_restarted},
	{"put_replaces_directory_and_its_records",
	 t_put_replaces_directory_and_its_records},
	{"special_mode_bits_never_applied", t_special_mode_bits_never_applied},
	{"hostile_paths_refused_by_every_operation",
	 t_hostile_paths_refused_by_every_operation},
	{"planted_symlink_never_followed", t_planted_symlink_never_followed},
	{"ignored_paths_refused", t_ignored_paths_refused},
	{"have_true_for_same_content_false_after_change",
	 t_have_true_for_same_content_false_after_change},
	{"copy_local_from_recorded_file", t_copy_local_from_recorded_file},
	{"manifest_pages_in_path_order", t_manifest_pages_in_path_order},
	{"temps_sweep_removes_old_and_empty_touches_nothing_else",
	 t_temps_sweep_removes_old_and_empty_touches_nothing_else},
	{"temps_forget_removes_other_versions_of_the_path",
	 t_temps_forget_removes_other_versions_of_the_path},
	{"temps_in_use_are_left_alone", t_temps_in_use_are_left_alone},
	{"prefixes_listed_and_dropped_never_busy_ones",
	 t_prefixes_listed_and_dropped_never_busy_ones},
	{"prefixes_are_the_remembered_leftovers",
	 t_prefixes_are_the_remembered_leftovers},
};

UNIT_MAIN(tests)

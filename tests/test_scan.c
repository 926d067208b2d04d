/* test_scan.c -- the scanner against a generated tree of 1,000 files,
 * checked with coreutils' sha256sum; rescans hash only what changed. */
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
#include "sync/scan.h"
#include "tests/testutil.h"
#include "tests/unit.h"

#define NFILES 1000
#define NDIRS 10	/* top-level directories, each with NSUB below */
#define NSUB 5

static const char *const ignores[] = {"*.tmp", "cache/"};

struct tree {
	char root[64];
	char db[96];
	struct store *s;
	struct scan_opts o;
	int64_t total_bytes;
};

static void
crypto_init(void)
{
	if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
		gcry_check_version(NULL);
		gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	}
}

static uint64_t
rnd(uint64_t *x)	/* xorshift64: a reproducible tree */
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static int
write_file(const char *path, size_t size, uint64_t *seed)
{
	static uint8_t buf[64 * 1024];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return -1;
	for (size_t i = 0; i < size; i++)
		buf[i] = (uint8_t)rnd(seed);
	if (write(fd, buf, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* file i lives in d<i%NDIRS>/s<i/NDIRS%NSUB>/f<i>.bin */
static void
file_path(char *buf, size_t n, const char *root, int i)
{
	snprintf(buf, n, "%s%sd%d/s%d/f%d.bin", root ? root : "",
	    root ? "/" : "", i % NDIRS, i / NDIRS % NSUB, i);
}

static int
make_dirs(const char *root)
{
	char p[160];

	for (int d = 0; d < NDIRS; d++) {
		snprintf(p, sizeof(p), "%s/d%d", root, d);
		if (mkdir(p, 0755) < 0)
			return -1;
		for (int s = 0; s < NSUB; s++) {
			snprintf(p, sizeof(p), "%s/d%d/s%d", root, d, s);
			if (mkdir(p, 0755) < 0)
				return -1;
		}
	}
	snprintf(p, sizeof(p), "%s/cache", root);	/* ignored dir */
	return mkdir(p, 0755);
}

/* 1,000 files of 0..64 KiB, a symlink, files that must not be synced. */
static int
tree_make(struct tree *t)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	char p[200];

	memset(t, 0, sizeof(*t));
	if (tu_tmpdir(t->root, sizeof(t->root)) < 0)
		return -1;
	snprintf(t->db, sizeof(t->db), "%s.db", t->root);
	if (make_dirs(t->root) < 0)
		return -1;
	for (int i = 0; i < NFILES; i++) {
		size_t size = (size_t)(rnd(&seed) % (64 * 1024 + 1));

		file_path(p, sizeof(p), t->root, i);
		if (write_file(p, size, &seed) < 0)
			return -1;
		t->total_bytes += (int64_t)size;
	}
	snprintf(p, sizeof(p), "%s/link", t->root);
	if (symlink("d0/s0/f0.bin", p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/outside", t->root);	/* not followed */
	if (symlink("/tmp", p) < 0)
		return -1;
	const char *extra[] = {"junk.tmp", "d1/x.tmp", "cache/big",
	    ".xmpp-sync-tmp.abc", "d2/.xmpp-sync-tmp.def"};
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", t->root, extra[i]);
		if (write_file(p, 1000, &seed) < 0)
			return -1;
	}
	t->o = (struct scan_opts){.root = t->root, .ignore = ignores,
	    .n_ignore = 2};
	return store_open(t->db, &t->s) < 0 ? -1 : 0;
}

static void
tree_free(struct tree *t)
{
	static const char *const db_files[] = {"", "-wal", "-shm"};
	char p[128];

	store_close(t->s);
	tu_rmtree(t->root);
	for (size_t i = 0; i < sizeof(db_files) / sizeof(db_files[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", t->db, db_files[i]);
		tu_rmtree(p);
	}
}

static void
hex(const uint8_t *b, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Compares every checksum sha256sum computes under root with the store.
 * Sets *n to the number of files compared. */
static int
compare_with_sha256sum(struct tree *t, int *n)
{
	char cmd[200], line[4200], h[65];
	FILE *p;
	int bad = 0;

	*n = 0;
	snprintf(cmd, sizeof(cmd), "cd '%s' && find . -name '*.bin' -print0 |"
	    " xargs -0 sha256sum", t->root);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), p) != NULL) {
		struct store_file f;
		char *path = line + 64 + 2 + 2;	/* "<hex>  ./path\n" */

		path[strcspn(path, "\n")] = '\0';
		if (store_file_load(t->s, path, &f) < 0) {
			printf("  %s: not in the store\n", path);
			bad++;
			continue;
		}
		hex(f.sha256, h);
		if (f.deleted || strncmp(h, line, 64) != 0) {
			printf("  %s: store %s, sha256sum %.64s\n", path, h, line);
			bad++;
		}
		store_file_clear(&f);
		(*n)++;
	}
	return pclose(p) == 0 && bad == 0 ? 0 : -1;
}

static int
t_first_scan_matches_sha256sum(void)
{
	struct tree t;
	struct scan_stats st;
	struct store_file f;
	int n = 0, r, cmp;

	crypto_init();
	EXPECT_INT(tree_make(&t), 0);
	r = scan_run(t.s, &t.o, &st);
	cmp = compare_with_sha256sum(&t, &n);
	int junk = store_file_load(t.s, "junk.tmp", &f);
	int junk2 = store_file_load(t.s, "d1/x.tmp", &f);
	int cache = store_file_load(t.s, "cache", &f);
	int tmp = store_file_load(t.s, ".xmpp-sync-tmp.abc", &f);
	int tmp2 = store_file_load(t.s, "d2/.xmpp-sync-tmp.def", &f);
	tree_free(&t);
	printf("# %d checksums equal to sha256sum; %lld files, %lld bytes "
	    "hashed\n", n, (long long)st.files_hashed,
	    (long long)st.bytes_hashed);
	EXPECT_INT(r, 0);
	EXPECT_INT(cmp, 0);
	EXPECT_INT(n, NFILES);
	EXPECT_INT(st.files, NFILES);
	EXPECT_INT(st.dirs, NDIRS + NDIRS * NSUB);
	EXPECT_INT(st.symlinks, 2);
	EXPECT_INT(st.files_hashed, NFILES);
	EXPECT_INT(st.bytes_hashed, t.total_bytes);
	EXPECT_INT(st.added, NFILES + NDIRS + NDIRS * NSUB + 2);
	EXPECT_INT(st.changed, 0);
	EXPECT_INT(st.deleted, 0);
	EXPECT_INT(st.skipped, 0);
	EXPECT_INT(junk, -ENOENT);	/* ignored by "*.tmp" */
	EXPECT_INT(junk2, -ENOENT);
	EXPECT_INT(cache, -ENOENT);	/* ignored by "cache/" */
	EXPECT_INT(tmp, -ENOENT);	/* our temp files */
	EXPECT_INT(tmp2, -ENOENT);
	return 0;
}

static int
t_symlinks_stored_not_followed(void)
{
	struct tree t;
	struct scan_stats st;
	struct store_file l, o;
	int64_t n_out = 0;
	int rl, ro;

	crypto_init();
	EXPECT_INT(tree_make(&t), 0);
	EXPECT_INT(scan_run(t.s, &t.o, &st), 0);
	rl = store_file_load(t.s, "link", &l);
	ro = store_file_load(t.s, "outside", &o);
	/* nothing below "outside/" may be recorded */
	struct store_file tmp;
	n_out = store_file_load(t.s, "outside/xs-test", &tmp) == 0;
	tree_free(&t);
	EXPECT_INT(rl, 0);
	EXPECT_INT(l.type, STORE_SYMLINK);
	EXPECT_STR(l.target, "d0/s0/f0.bin");
	EXPECT_INT(l.has_sha256, 0);
	store_file_clear(&l);
	EXPECT_INT(ro, 0);
	EXPECT_STR(o.target, "/tmp");
	store_file_clear(&o);
	EXPECT_INT(n_out, 0);
	EXPECT_INT(st.files, NFILES);	/* /tmp's files were not counted */
	return 0;
}

static int
t_rescan_unchanged_hashes_nothing(void)
{
	struct tree t;
	struct scan_stats st1, st2;
	int64_t seq1, seq2;
	int r;

	crypto_init();
	EXPECT_INT(tree_make(&t), 0);
	EXPECT_INT(scan_run(t.s, &t.o, &st1), 0);
	EXPECT_INT(store_last_seq(t.s, &seq1), 0);
	r = scan_run(t.s, &t.o, &st2);
	EXPECT_INT(store_last_seq(t.s, &seq2), 0);
	tree_free(&t);
	printf("# rescan: %lld files seen, %lld hashed, %lld bytes hashed\n",
	    (long long)st2.files, (long long)st2.files_hashed,
	    (long long)st2.bytes_hashed);
	EXPECT_INT(r, 0);
	EXPECT_INT(st2.files, NFILES);
	EXPECT_INT(st2.bytes_hashed, 0);
	EXPECT_INT(st2.files_hashed, 0);
	EXPECT_INT(st2.added + st2.changed + st2.deleted, 0);
	EXPECT_INT(seq2, seq1);		/* no change, no new seq */
	return 0;
}

static int
sha256sum_of(const char *path, char out[65])
{
	char cmd[200];
	FILE *p;
	int ok;

	snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	ok = fgets(out, 65, p) != NULL && strlen(out) == 64;
	return pclose(p) == 0 && ok ? 0 : -1;
}

static int
t_modified_file_alone_rehashed(void)
{
	struct tree t;
	struct scan_stats st, st2;
	struct store_file f;
	char p[200], want[65], got[65];
	uint64_t seed = 42;
	struct timespec ts[2] = {{0, UTIME_OMIT}, {1000000000, 5}};
	int64_t seq0;

	crypto_init();
	EXPECT_INT(tree_make(&t), 0);
	EXPECT_INT(scan_run(t.s, &t.o, &st), 0);
	EXPECT_INT(store_last_seq(t.s, &seq0), 0);
	/* new content and size */
	file_path(p, sizeof(p), t.root, 13);
	EXPECT_INT(write_file(p, 777, &seed), 0);
	EXPECT_INT(sha256sum_of(p, want), 0);
	EXPECT_INT(scan_run(t.s, &t.o, &st), 0);
	file_path(p, sizeof(p), NULL, 13);
	EXPECT_INT(store_file_load(t.s, p, &f), 0);
	hex(f.sha256, got);
	EXPECT(f.seq > seq0, "seq %lld not after %lld", (long long)f.seq,
	    (long long)seq0);
	store_file_clear(&f);
	/* same content, only the mtime moves */
	file_path(p, sizeof(p), t.root, 14);
	EXPECT_INT(utimensat(AT_FDCWD, p, ts, 0), 0);
	EXPECT_INT(scan_run(t.s, &t.o, &st2), 0);
	tree_free(&t);
	EXPECT_INT(st.files_hashed, 1);
	EXPECT_INT(st.bytes_hashed, 777);
	EXPECT_INT(st.changed, 1);
	const char *pgot = got;
	EXPECT_STR(pgot, want);
	EXPECT_INT(st2.files_hashed, 1);
	EXPECT_INT(st2.changed, 1);	/* the mtime is part of the record */
	return 0;
}

struct tomb {
	const char *path;
	int64_t seq;
	int found;
};

static int
find_tomb(const struct store_file *f, void *arg)
{
	struct tomb *tb = arg;

	if (f->deleted && strcmp(f->path, tb->path) == 0) {
		tb->found = 1;
		tb->seq = f->seq;
	}
	return 0;
}

static int
t_deleted_file_becomes_tombstone(void)
{
	struct tree t;
	struct scan_stats st;
	char p[200], rel[64];
	int64_t seq0;
	struct tomb tb = {0};

	crypto_init();
	EXPECT_INT(tree_make(&t), 0);
	EXPECT_INT(scan_run(t.s, &t.o, &st), 0);
	EXPECT_INT(store_last_seq(t.s, &seq0), 0);
	file_path(p, sizeof(p), t.root, 500);
	file_path(rel, sizeof(rel), NULL, 500);
	EXPECT_INT(unlink(p), 0);
	EXPECT_INT(scan_run(t.s, &t.o, &st), 0);
	tb.path = rel;
	EXPECT_INT(store_changes_since(t.s, seq0, find_tomb, &tb), 0);
	tree_free(&t);
	EXPECT_INT(st.deleted, 1);
	EXPECT_INT(st.files, NFILES - 1);
	EXPECT_INT(st.files_hashed, 0);
	EXPECT_INT(tb.found, 1);
	EXPECT(tb.seq > seq0, "tombstone seq %lld not after %lld",
	    (long long)tb.seq, (long long)seq0);
	return 0;
}

static int
t_unreadable_file_skipped_and_kept(void)
{
	struct tree t;
	struct scan_stats st;
	struct store_file f;
	char p[200], rel[64];
	uint64_t seed = 7;
	int r;

	if (geteuid() == 0)
		return unit_skip("root reads files whatever their mode");
	crypto_init();
	EXPECT_INT(tree_make(&t), 0);
	EXPECT_INT(scan_run(t.s, &t.o, &st), 0);
	file_path(p, sizeof(p), t.root, 7);
	file_path(rel, sizeof(rel), NULL, 7);
	EXPECT_INT(write_file(p, 10, &seed), 0);	/* changed ... */
	EXPECT_INT(chmod(p, 0), 0);			/* ... unreadable */
	r = scan_run(t.s, &t.o, &st);
	int g = store_file_load(t.s, rel, &f);
	tree_free(&t);
	EXPECT_INT(r, 0);
	EXPECT_INT(st.skipped, 1);
	EXPECT_INT(st.deleted, 0);
	EXPECT_INT(g, 0);
	EXPECT_INT(f.deleted, 0);	/* the old record is kept */
	store_file_clear(&f);
	return 0;
}

static int
t_missing_root_is_an_error(void)
{
	struct store *s;
	struct scan_stats st;
	struct scan_opts o = {.root = "/nonexistent/xs-test"};
	char db[sizeof(TU_TMP_TEMPLATE)], path[96];
	int r;

	EXPECT_INT(tu_tmpdir(db, sizeof(db)), 0);
	snprintf(path, sizeof(path), "%s/db", db);
	EXPECT_INT(store_open(path, &s), 0);
	r = scan_run(s, &o, &st);
	store_close(s);
	EXPECT_INT(tu_rmtree(db), 0);
	EXPECT_INT(r, -ENOENT);
	return 0;
}

/* The slave's own area is never recorded, so never mirrored nor in a
 * manifest; the same name deeper down is an ordinary directory. */
static int
t_slave_area_not_recorded(void)
{
	static const struct tu_node nodes[] = {
		{.path = "a.txt", .content = "a\n"},
		{.path = ".xmpp-sync/local/20240101T000000Z/a.txt",
		 .content = "kept\n"},
		{.path = "d/.xmpp-sync/x", .content = "x\n"},
	};
	struct store *s;
	struct store_file f;
	struct scan_stats st;
	char root[sizeof(TU_TMP_TEMPLATE)], db[96];
	struct scan_opts o = {.root = root};
	int r, area, inner, deep;

	crypto_init();
	EXPECT_INT(tu_tmpdir(root, sizeof(root)), 0);
	snprintf(db, sizeof(db), "%s.db", root);
	EXPECT_INT(tu_tree_make(root, nodes, sizeof(nodes) / sizeof(nodes[0])),
	    0);
	EXPECT_INT(store_open(db, &s), 0);
	r = scan_run(s, &o, &st);
	area = store_file_load(s, ".xmpp-sync", &f);
	inner = store_file_load(s, ".xmpp-sync/local/20240101T000000Z/a.txt",
	    &f);
	if ((deep = store_file_load(s, "d/.xmpp-sync/x", &f)) == 0)
		store_file_clear(&f);
	store_close(s);
	unlink(db);
	EXPECT_INT(tu_rmtree(root), 0);
	EXPECT_INT(r, 0);
	EXPECT_INT(area, -ENOENT);
	EXPECT_INT(inner, -ENOENT);
	EXPECT_INT(deep, 0);
	EXPECT_INT(st.files, 2);
	return 0;
}

/* The scanner applies the same ignore rule as the watcher (sync/path.c):
 * "dir/" a directory of that name anywhere, not a file of that name;
 * "/x" only the top-level x; "a/b" that relative path and what is below
 * it, not a deeper a/b; "*.tmp" at any depth. */
static int
t_ignore_patterns_as_the_watcher(void)
{
	static const char *const pats[] = {"dir/", "/x", "a/b", "*.tmp"};
	static const struct tu_node nodes[] = {
		{.path = "dir/"}, {.path = "dir/in"}, {.path = "s/dir/"},
		{.path = "s/dir/in"}, {.path = "s/f/dir", .content = "file"},
		{.path = "x", .content = "top"}, {.path = "s/x", .content = "deep"},
		{.path = "a/b/"}, {.path = "a/b/c"}, {.path = "a/bb"},
		{.path = "q/a/b", .content = "deeper"},
		{.path = "y.tmp"}, {.path = "s/z.tmp"}, {.path = "keep.txt"},
	};
	static const struct {
		const char *path;
		int want;	/* 0: recorded, -ENOENT: ignored */
	} want[] = {
		{"dir", -ENOENT}, {"dir/in", -ENOENT}, {"s/dir", -ENOENT},
		{"s/dir/in", -ENOENT}, {"s/f/dir", 0}, {"x", -ENOENT},
		{"s/x", 0}, {"a/b", -ENOENT}, {"a/b/c", -ENOENT}, {"a/bb", 0},
		{"q/a/b", 0}, {"y.tmp", -ENOENT}, {"s/z.tmp", -ENOENT},
		{"keep.txt", 0}, {"a", 0}, {"q/a", 0},
	};
	char root[sizeof(TU_TMP_TEMPLATE) + 8], tmp[sizeof(TU_TMP_TEMPLATE)];
	char db[sizeof(TU_TMP_TEMPLATE) + 8];
	struct scan_opts o = {.root = root, .ignore = pats, .n_ignore = 4};
	struct scan_stats st;
	struct store *s;
	struct store_file f;
	int bad = 0;

	EXPECT_INT(tu_tmpdir(tmp, sizeof(tmp)), 0);
	snprintf(root, sizeof(root), "%s/root", tmp);
	snprintf(db, sizeof(db), "%s/db", tmp);
	EXPECT_INT(mkdir(root, 0755), 0);
	EXPECT_INT(tu_tree_make(root, nodes, sizeof(nodes) / sizeof(nodes[0])), 0);
	EXPECT_INT(store_open(db, &s), 0);
	EXPECT_INT(scan_run(s, &o, &st), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int r = store_file_load(s, want[i].path, &f);
		if (r == 0)
			store_file_clear(&f);
		if (r != want[i].want) {
			printf("  %s: got %d, want %d\n", want[i].path, r,
			    want[i].want);
			bad = 1;
		}
	}
	store_close(s);
	EXPECT_INT(tu_rmtree(tmp), 0);
	EXPECT_INT(bad, 0);
	return 0;
}

static const struct unit_test tests[] = {
	{"first_scan_matches_sha256sum", t_first_scan_matches_sha256sum},
	{"symlinks_stored_not_followed", t_symlinks_stored_not_followed},
	{"rescan_unchanged_hashes_nothing", t_rescan_unchanged_hashes_nothing},
	{"modified_file_alone_rehashed", t_modified_file_alone_rehashed},
	{"deleted_file_becomes_tombstone", t_deleted_file_becomes_tombstone},
	{"unreadable_file_skipped_and_kept",
	 t_unreadable_file_skipped_and_kept},
	{"missing_root_is_an_error", t_missing_root_is_an_error},
	{"slave_area_not_recorded", t_slave_area_not_recorded},
	{"ignore_patterns_as_the_watcher", t_ignore_patterns_as_the_watcher},
};

UNIT_MAIN(tests)

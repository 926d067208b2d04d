/* test_digest.c -- the index digest (store/digest.c): equal trees give
 * equal digests whatever the order and history of their records; a
 * change to any covered field changes the digest of every ancestor and of
 * nothing else; setuid, setgid and a file's sticky bit are not covered; directory mtimes are not covered; the bytes are exactly
 * those of docs/protocol.md 3.1; and a 10,000-record index is digested
 * fast enough to compare every few minutes. */
#include <errno.h>
#include <gcrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	return store_open(t->path, &t->s);
}

static void
tdb_close(struct tdb *t)
{
	store_close(t->s);
	t->s = NULL;
	tu_rmtree(t->dir);
}

/* A record: 'f' file (size, fill byte of its checksum), 'd' directory,
 * 'l' symlink (target). */
struct rec {
	char kind;
	const char *path;
	uint32_t mode;
	int64_t mtime;
	int64_t size;
	int fill;
	const char *target;
};

static int
put(struct store *s, const struct rec *r)
{
	struct store_file f = {.path = r->path, .mode = r->mode,
	    .mtime_ns = r->mtime, .target = r->target};

	f.type = r->kind == 'd' ? STORE_DIR : r->kind == 'l' ? STORE_SYMLINK :
	    STORE_FILE;
	if (f.type == STORE_FILE) {
		f.size = r->size;
		f.has_sha256 = 1;
		memset(f.sha256, r->fill, 32);
	}
	return store_file_put(s, &f, NULL, NULL);
}

static const struct rec tree[] = {
	{'d', "a", 0755, 100, 0, 0, NULL},
	{'f', "a/x.txt", 0644, 200, 12, 1, NULL},
	{'d', "a/b", 0700, 300, 0, 0, NULL},
	{'f', "a/b/deep", 0600, 400, 3, 2, NULL},
	{'l', "a/b/link", 0777, 500, 0, 0, "../x.txt"},
	{'f', "a.b", 0644, 600, 0, 3, NULL},
	{'d', "a0", 0755, 700, 0, 0, NULL},
	{'f', "a0/y", 0640, 800, 7, 4, NULL},
	{'f', "z\xc3\xa9", 0644, 900, 1, 5, NULL},
	{'d', "e", 0755, 1000, 0, 0, NULL},
};
#define NTREE (sizeof(tree) / sizeof(tree[0]))

static int
put_all(struct store *s, const struct rec *v, size_t n, int reverse)
{
	int r;

	for (size_t i = 0; i < n; i++)
		if ((r = put(s, &v[reverse ? n - 1 - i : i])) < 0)
			return r;
	return 0;
}

static int
digest_of(struct store *s, const char *dir, uint8_t out[32])
{
	struct store_digest d;
	int r = store_digest_dir(s, dir, &d, NULL, NULL);

	memcpy(out, d.digest, 32);
	return r < 0 ? r : d.type == STORE_DIR ? 0 : -ENOTDIR;
}

/* The directories of tree[], the root first. */
static const char *const dirs[] = {"", "a", "a/b", "a0", "e"};
#define NDIRS (sizeof(dirs) / sizeof(dirs[0]))

static int
digest_all(struct store *s, uint8_t out[NDIRS][32])
{
	int r;

	for (size_t i = 0; i < NDIRS; i++)
		if ((r = digest_of(s, dirs[i], out[i])) < 0)
			return r;
	return 0;
}

static int
t_same_tree_same_digest_whatever_the_order(void)
{
	struct tdb a, b;
	uint8_t da[NDIRS][32], db[NDIRS][32];
	struct rec gone = {'f', "a/b/gone", 0644, 1, 1, 9, NULL};

	EXPECT_INT(tdb_open(&a), 0);
	EXPECT_INT(tdb_open(&b), 0);
	EXPECT_INT(put_all(a.s, tree, NTREE, 0), 0);
	/* b: children before parents, a tombstone, a record rewritten */
	EXPECT_INT(put(b.s, &gone), 0);
	EXPECT_INT(put_all(b.s, tree, NTREE, 1), 0);
	EXPECT_INT(store_file_delete(b.s, "a/b/gone", NULL), 0);
	EXPECT_INT(store_file_delete(b.s, "a/x.txt", NULL), 0);
	EXPECT_INT(put(b.s, &tree[1]), 0);
	EXPECT_INT(digest_all(a.s, da), 0);
	EXPECT_INT(digest_all(b.s, db), 0);
	for (size_t i = 0; i < NDIRS; i++)
		EXPECT(memcmp(da[i], db[i], 32) == 0, "digest of '%s'", dirs[i]);
	tdb_close(&a);
	tdb_close(&b);
	return 0;
}

/* Whether digests of dirs changed exactly where want says ('1'). */
static int
check_changed(const char *what, uint8_t before[NDIRS][32],
    uint8_t after[NDIRS][32], const char *want)
{
	for (size_t i = 0; i < NDIRS; i++) {
		int changed = memcmp(before[i], after[i], 32) != 0;
		EXPECT(changed == (want[i] == '1'), "%s: '%s' %s", what, dirs[i],
		    changed ? "changed" : "did not change");
	}
	return 0;
}

static int
t_each_covered_field_changes_every_ancestor_only(void)
{
	/* ancestors of a/b/deep and a/b/link: "", a, a/b */
	static const struct {
		const char *what;
		struct rec r;
	} changes[] = {
		{"size", {'f', "a/b/deep", 0600, 400, 4, 2, NULL}},
		{"mode", {'f', "a/b/deep", 0604, 400, 3, 2, NULL}},
		{"mtime", {'f', "a/b/deep", 0600, 401, 3, 2, NULL}},
		{"checksum", {'f', "a/b/deep", 0600, 400, 3, 7, NULL}},
		{"type", {'l', "a/b/deep", 0777, 400, 0, 0, "x"}},
		{"link text", {'l', "a/b/link", 0777, 500, 0, 0, "../y.txt"}},
		{"link mtime", {'l', "a/b/link", 0777, 501, 0, 0, "../x.txt"}},
		{"directory mode", {'d', "a/b", 0750, 300, 0, 0, NULL}},
	};
	uint8_t before[NDIRS][32], after[NDIRS][32];

	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		struct tdb t;

		EXPECT_INT(tdb_open(&t), 0);
		EXPECT_INT(put_all(t.s, tree, NTREE, 0), 0);
		EXPECT_INT(digest_all(t.s, before), 0);
		EXPECT_INT(put(t.s, &changes[i].r), 0);
		EXPECT_INT(digest_all(t.s, after), 0);
		tdb_close(&t);
		if (check_changed(changes[i].what, before, after, "11100") < 0)
			return -1;
	}
	return 0;
}

/* What a slave never applies (store_mode_mirrored) is not covered, or a
 * master's setuid file would differ from its mirror for ever; a
 * directory's sticky bit, which the slave applies, is. */
static int
t_special_mode_bits_covered_as_mirrored(void)
{
	static const struct {
		const char *what;
		struct rec r;
		const char *want;	/* which of dirs[] change */
	} changes[] = {
		{"setuid file", {'f', "a/b/deep", 04600, 400, 3, 2, NULL}, "00000"},
		{"setgid file", {'f', "a/b/deep", 02600, 400, 3, 2, NULL}, "00000"},
		{"sticky file", {'f', "a/b/deep", 01600, 400, 3, 2, NULL}, "00000"},
		{"setgid directory", {'d', "a/b", 02700, 300, 0, 0, NULL}, "00000"},
		{"setuid directory", {'d', "a/b", 04700, 300, 0, 0, NULL}, "00000"},
		{"sticky directory", {'d', "a/b", 01700, 300, 0, 0, NULL}, "11100"},
	};
	static const struct {
		enum store_ftype type;
		uint32_t mode, want;
	} masks[] = {
		{STORE_FILE, 06755, 0755}, {STORE_FILE, 07777, 0777},
		{STORE_FILE, 0644, 0644}, {STORE_DIR, 07777, 01777},
		{STORE_DIR, 02775, 0775}, {STORE_DIR, 01777, 01777},
		{STORE_SYMLINK, 0777, 0777},
	};
	uint8_t before[NDIRS][32], after[NDIRS][32];

	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++)
		EXPECT_INT(store_mode_mirrored(masks[i].type, masks[i].mode),
		    masks[i].want);
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		struct tdb t;

		EXPECT_INT(tdb_open(&t), 0);
		EXPECT_INT(put_all(t.s, tree, NTREE, 0), 0);
		EXPECT_INT(digest_all(t.s, before), 0);
		EXPECT_INT(put(t.s, &changes[i].r), 0);
		EXPECT_INT(digest_all(t.s, after), 0);
		tdb_close(&t);
		if (check_changed(changes[i].what, before, after,
		    changes[i].want) < 0)
			return -1;
	}
	return 0;
}

static int
t_name_and_presence_change_ancestors_only(void)
{
	struct rec extra = {'f', "a0/new", 0644, 1, 1, 1, NULL};
	uint8_t before[NDIRS][32], after[NDIRS][32];
	struct tdb t;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(put_all(t.s, tree, NTREE, 0), 0);
	EXPECT_INT(digest_all(t.s, before), 0);
	EXPECT_INT(put(t.s, &extra), 0);
	EXPECT_INT(digest_all(t.s, after), 0);
	if (check_changed("added a0/new", before, after, "10010") < 0)
		return -1;
	EXPECT_INT(store_file_delete(t.s, "a0/new", NULL), 0);
	EXPECT_INT(digest_all(t.s, after), 0);
	if (check_changed("a0/new deleted again", before, after, "00000") < 0)
		return -1;
	/* an empty directory is an entry too */
	extra = (struct rec){'d', "e/sub", 0755, 1, 0, 0, NULL};
	EXPECT_INT(put(t.s, &extra), 0);
	EXPECT_INT(digest_all(t.s, after), 0);
	tdb_close(&t);
	return check_changed("added e/sub", before, after, "10001");
}

static int
t_directory_mtime_is_not_covered(void)
{
	struct rec d = tree[2];
	uint8_t before[NDIRS][32], after[NDIRS][32];
	struct tdb t;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(put_all(t.s, tree, NTREE, 0), 0);
	EXPECT_INT(digest_all(t.s, before), 0);
	d.mtime = 123456789;
	EXPECT_INT(put(t.s, &d), 0);
	d = tree[0];
	d.mtime = 987654321;
	EXPECT_INT(put(t.s, &d), 0);
	EXPECT_INT(digest_all(t.s, after), 0);
	tdb_close(&t);
	return check_changed("directory mtimes", before, after, "00000");
}

struct kids {
	char names[16][32];
	enum store_ftype type[16];
	uint8_t digest[16][32];
	size_t n;
};

static int
collect(const struct store_digest_child *c, void *arg)
{
	struct kids *k = arg;

	if (k->n == 16)
		return -E2BIG;
	snprintf(k->names[k->n], sizeof(k->names[0]), "%s", c->name);
	k->type[k->n] = c->type;
	memcpy(k->digest[k->n], c->digest, 32);
	k->n++;
	return 0;
}

static int
t_children_in_byte_order_with_their_digests(void)
{
	struct kids k = {0};
	struct store_digest d, sub;
	struct tdb t;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(put_all(t.s, tree, NTREE, 1), 0);
	EXPECT_INT(store_digest_dir(t.s, NULL, &d, collect, &k), 0);
	EXPECT_INT(d.type, STORE_DIR);
	EXPECT_INT(d.mode, 0);
	/* "a.b" sorts before "a0" and "a/..." is inside a: bytewise names */
	EXPECT_INT(k.n, 5);
	EXPECT_STR(k.names[0], "a");
	EXPECT_STR(k.names[1], "a.b");
	EXPECT_STR(k.names[2], "a0");
	EXPECT_STR(k.names[3], "e");
	EXPECT_STR(k.names[4], "z\xc3\xa9");
	EXPECT_INT(k.type[0], STORE_DIR);
	EXPECT_INT(k.type[1], STORE_FILE);
	/* a child's digest is what asking for it gives */
	EXPECT_INT(store_digest_dir(t.s, "a", &sub, NULL, NULL), 0);
	EXPECT(memcmp(sub.digest, k.digest[0], 32) == 0, "digest of a");
	EXPECT_INT(sub.mode, 0755);
	k.n = 0;
	EXPECT_INT(store_digest_dir(t.s, "a/b", &sub, collect, &k), 0);
	EXPECT_INT(k.n, 2);
	EXPECT_STR(k.names[0], "deep");
	EXPECT_STR(k.names[1], "link");
	EXPECT_INT(k.type[1], STORE_SYMLINK);
	/* a file, and nothing: said, no children */
	k.n = 0;
	EXPECT_INT(store_digest_dir(t.s, "a/x.txt", &sub, collect, &k), 0);
	EXPECT_INT(sub.type, STORE_FILE);
	EXPECT_INT(k.n, 0);
	EXPECT_INT(store_digest_dir(t.s, "nothing", &sub, collect, &k), 0);
	EXPECT_INT(sub.type, 0);
	EXPECT_INT(store_file_delete(t.s, "e", NULL), 0);
	EXPECT_INT(store_digest_dir(t.s, "e", &sub, collect, &k), 0);
	EXPECT_INT(sub.type, 0);
	EXPECT_INT(k.n, 0);
	/* a nonzero callback return stops and is returned */
	k.n = 16;
	EXPECT_INT(store_digest_dir(t.s, NULL, &d, collect, &k), -E2BIG);
	EXPECT_INT(d.type, 0);
	tdb_close(&t);
	return 0;
}

/* A record whose directory has no live record is not part of the tree. */
static int
t_orphans_are_not_covered(void)
{
	struct rec orphan = {'f', "a0/missing/x", 0644, 1, 1, 1, NULL};
	struct rec below_file = {'f', "a.b/x", 0644, 1, 1, 1, NULL};
	uint8_t before[NDIRS][32], after[NDIRS][32];
	struct tdb t;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(put_all(t.s, tree, NTREE, 0), 0);
	EXPECT_INT(digest_all(t.s, before), 0);
	EXPECT_INT(put(t.s, &orphan), 0);
	EXPECT_INT(put(t.s, &below_file), 0);
	EXPECT_INT(digest_all(t.s, after), 0);
	tdb_close(&t);
	return check_changed("orphans", before, after, "00000");
}

/* ---- the bytes of docs/protocol.md 3.1, built here by hand ----------- */

struct buf {
	unsigned char b[512];
	size_t n;
};

static void
b_u32(struct buf *b, uint32_t v)
{
	for (int i = 3; i >= 0; i--)
		b->b[b->n++] = (unsigned char)(v >> (8 * i));
}

static void
b_u64(struct buf *b, uint64_t v)
{
	b_u32(b, (uint32_t)(v >> 32));
	b_u32(b, (uint32_t)v);
}

static void
b_str(struct buf *b, const char *s)
{
	b_u32(b, (uint32_t)strlen(s));
	memcpy(b->b + b->n, s, strlen(s));
	b->n += strlen(s);
}

static void
b_raw(struct buf *b, const void *p, size_t n)
{
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void
sha(const struct buf *b, uint8_t out[32])
{
	gcry_md_hash_buffer(GCRY_MD_SHA256, out, b->b, b->n);
}

static int
t_bytes_are_those_of_the_protocol(void)
{
	static const struct rec small[] = {
		{'d', "d", 0750, 5, 0, 0, NULL},
		{'f', "d/f", 0644, -2, 3, 0xab, NULL},
		{'l', "l", 0777, 7, 0, 0, "d/f"},
	};
	struct buf b = {0};
	uint8_t f[32], d[32], l[32], root[32], fill[32], got[32];
	struct tdb t;

	memset(fill, 0xab, 32);
	b.b[b.n++] = 'f';
	b_str(&b, "f");
	b_u64(&b, 3);
	b_u32(&b, 0644);
	b_u64(&b, (uint64_t)INT64_C(-2));
	b_raw(&b, fill, 32);
	sha(&b, f);
	b.n = 0;
	b.b[b.n++] = 'd';
	b_u32(&b, 0750);
	b_str(&b, "f");
	b.b[b.n++] = 'f';
	b_raw(&b, f, 32);
	sha(&b, d);
	b.n = 0;
	b.b[b.n++] = 'l';
	b_str(&b, "l");
	b_u64(&b, 0);
	b_u32(&b, 0);
	b_u64(&b, 7);
	b_str(&b, "d/f");
	sha(&b, l);
	b.n = 0;
	b.b[b.n++] = 'd';
	b_u32(&b, 0);
	b_str(&b, "d");
	b.b[b.n++] = 'd';
	b_raw(&b, d, 32);
	b_str(&b, "l");
	b.b[b.n++] = 'l';
	b_raw(&b, l, 32);
	sha(&b, root);

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(put_all(t.s, small, 3, 0), 0);
	EXPECT_INT(digest_of(t.s, NULL, got), 0);
	EXPECT(memcmp(got, root, 32) == 0, "root digest as documented");
	EXPECT_INT(digest_of(t.s, "d", got), 0);
	EXPECT(memcmp(got, d, 32) == 0, "directory digest as documented");
	tdb_close(&t);
	return 0;
}

/* ---- cost ------------------------------------------------------------ */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* 10,000 files in 100 directories of 10 subdirectories: the whole index
 * is digested in one pass well under a second (the master asks every few
 * minutes), and a directory of 100 files costs only its subtree. */
static int
t_ten_thousand_records_cost(void)
{
	char p[64];
	struct tdb t;
	struct store_digest d;
	double t0, root_ms, dir_ms;
	int r = 0;

	EXPECT_INT(tdb_open(&t), 0);
	EXPECT_INT(store_begin(t.s), 0);
	for (int i = 0; i < 100 && r == 0; i++) {
		snprintf(p, sizeof(p), "dir%03d", i);
		r = put(t.s, &(struct rec){'d', p, 0755, 1, 0, 0, NULL});
		for (int j = 0; j < 10 && r == 0; j++) {
			snprintf(p, sizeof(p), "dir%03d/sub%d", i, j);
			r = put(t.s, &(struct rec){'d', p, 0755, 1, 0, 0, NULL});
			for (int k = 0; k < 10 && r == 0; k++) {
				snprintf(p, sizeof(p), "dir%03d/sub%d/file-%d.dat",
				    i, j, k);
				r = put(t.s, &(struct rec){'f', p, 0644, i * j + k,
				    k * 1000, k, NULL});
			}
		}
	}
	EXPECT_INT(r, 0);
	EXPECT_INT(store_commit(t.s), 0);
	t0 = now_ms();
	EXPECT_INT(store_digest_dir(t.s, NULL, &d, NULL, NULL), 0);
	root_ms = now_ms() - t0;
	t0 = now_ms();
	EXPECT_INT(store_digest_dir(t.s, "dir050", &d, NULL, NULL), 0);
	dir_ms = now_ms() - t0;
	tdb_close(&t);
	printf("# digest of 11,100 records (10,000 files): root %.1f ms, "
	    "one directory of 110 records %.2f ms\n", root_ms, dir_ms);
	EXPECT(root_ms < 2000, "root digest took %.1f ms", root_ms);
	return 0;
}

#define T(name) {#name, t_##name}

static const struct unit_test tests[] = {
	T(same_tree_same_digest_whatever_the_order),
	T(each_covered_field_changes_every_ancestor_only),
	T(special_mode_bits_covered_as_mirrored),
	T(name_and_presence_change_ancestors_only),
	T(directory_mtime_is_not_covered),
	T(children_in_byte_order_with_their_digests),
	T(orphans_are_not_covered),
	T(bytes_are_those_of_the_protocol),
	T(ten_thousand_records_cost),
};

int
main(int argc, char **argv)
{
	if (gcry_check_version(NULL) == NULL) {
		printf("FAIL test_digest.c/init: libgcrypt\n");
		return 1;
	}
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	return unit_run("test_digest.c", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);
}

/* digest.c -- the index digest: a Merkle tree over directories, computed
 * from the live records on demand (docs/protocol.md 3.1 defines every
 * byte; master and slave must agree on them).
 *
 * One query gives the records below a directory in tree order: the
 * collation "xs_tree" compares paths bytewise with '/' below every other
 * byte (names hold no NUL), so each directory's subtree is contiguous and
 * comes right after it, its children in bytewise order of their names.
 * One pass then keeps a stack of the open directories, each with its own
 * running SHA-256: a record's parent is always on the stack, and a
 * directory is finished (and fed to its parent) when the first record
 * outside it arrives. Memory is the depth of the tree, not its size. */
#include <errno.h>
#include <gcrypt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "agent/util.h"
#include "store/store_int.h"

/* One open directory: its path is the first len bytes of walk.path. */
struct level {
	size_t len;
	gcry_md_hd_t md;	/* NULL until first used; reused after */
};

struct walk {
	struct level *lv;	/* lv[0]: the directory asked about */
	size_t n, cap;
	gcry_md_hd_t leaf;
	char path[PATH_MAX];	/* path of the deepest open directory */
	int (*cb)(const struct store_digest_child *c, void *arg);
	void *arg;
	int err;
};

static int
tree_cmp(void *arg, int na, const void *a, int nb, const void *b)
{
	const unsigned char *x = a, *y = b;
	int n = na < nb ? na : nb;

	(void)arg;
	for (int i = 0; i < n; i++) {
		int cx = x[i] == '/' ? 0 : x[i], cy = y[i] == '/' ? 0 : y[i];
		if (cx != cy)
			return cx - cy;
	}
	return na - nb;
}

int
store_digest_register(struct store *s)
{
	int rc = sqlite3_create_collation_v2(s->db, "xs_tree", SQLITE_UTF8,
	    NULL, tree_cmp, NULL);

	return rc == SQLITE_OK ? 0 : store_err(s, rc, "create collation");
}

static void
put_u32(gcry_md_hd_t md, uint32_t v)
{
	unsigned char b[4] = {v >> 24, v >> 16, v >> 8, v};

	gcry_md_write(md, b, sizeof(b));
}

static void
put_u64(gcry_md_hd_t md, uint64_t v)
{
	put_u32(md, (uint32_t)(v >> 32));
	put_u32(md, (uint32_t)v);
}

static void
put_name(gcry_md_hd_t md, const char *name, size_t len)
{
	put_u32(md, (uint32_t)len);
	gcry_md_write(md, name, len);
}

uint32_t
store_mode_mirrored(enum store_ftype type, uint32_t mode)
{
	return mode & (type == STORE_DIR ? 01777u : 0777u);
}

/* The leaf digest of a file or symlink named name (its last component). */
static void
leaf_digest(gcry_md_hd_t md, const struct store_file *f, const char *name,
    uint8_t out[STORE_DIGEST_LEN])
{
	int link = f->type == STORE_SYMLINK;
	const char *t = f->target ? f->target : "";

	gcry_md_reset(md);
	gcry_md_putc(md, link ? 'l' : 'f');
	put_name(md, name, strlen(name));
	/* a symlink has no size, and its mode cannot be set on Linux */
	put_u64(md, link ? 0 : (uint64_t)f->size);
	put_u32(md, link ? 0 : store_mode_mirrored(STORE_FILE, f->mode));
	put_u64(md, (uint64_t)f->mtime_ns);
	if (link)
		put_name(md, t, strlen(t));
	else
		gcry_md_write(md, f->sha256, 32);
	memcpy(out, gcry_md_read(md, GCRY_MD_SHA256), STORE_DIGEST_LEN);
}

static int
kind_char(enum store_ftype t)
{
	return t == STORE_DIR ? 'd' : t == STORE_SYMLINK ? 'l' : 'f';
}

/* Opens a level for a directory of mode whose path is the first len
 * bytes of w->path. */
static int
level_push(struct walk *w, size_t len, uint32_t mode)
{
	struct level *l;

	size_t had = w->cap;

	if (util_grow(&w->lv, w->n + 1, &w->cap, 16) < 0)
		return -ENOMEM;
	/* slots past n keep their handle for reuse; new ones have none */
	memset(w->lv + had, 0, (w->cap - had) * sizeof(*w->lv));
	l = &w->lv[w->n];
	if (l->md == NULL && gcry_md_open(&l->md, GCRY_MD_SHA256, 0) != 0)
		return -ENOMEM;
	gcry_md_reset(l->md);
	l->len = len;
	gcry_md_putc(l->md, 'd');
	put_u32(l->md, store_mode_mirrored(STORE_DIR, mode));
	w->n++;
	return 0;
}

/* Feeds a child (name, kind, digest) to the innermost open directory;
 * children of the directory asked about also go to the callback. */
static int
add_child(struct walk *w, const char *name, size_t len, int kind,
    const uint8_t d[STORE_DIGEST_LEN])
{
	struct level *l = &w->lv[w->n - 1];
	struct store_digest_child c;

	put_name(l->md, name, len);
	gcry_md_putc(l->md, kind);
	gcry_md_write(l->md, d, STORE_DIGEST_LEN);
	if (w->n > 1 || w->cb == NULL)
		return 0;
	c.name = name;	/* NUL-terminated at len by every caller */
	c.type = kind == 'd' ? STORE_DIR : kind == 'l' ? STORE_SYMLINK :
	    STORE_FILE;
	memcpy(c.digest, d, STORE_DIGEST_LEN);
	return w->cb(&c, w->arg);
}

/* Finishes the innermost directory (never lv[0]) into its parent. */
static int
level_pop(struct walk *w)
{
	struct level *l = &w->lv[--w->n];
	size_t start = w->lv[w->n - 1].len;
	uint8_t d[STORE_DIGEST_LEN];

	memcpy(d, gcry_md_read(l->md, GCRY_MD_SHA256), sizeof(d));
	if (start > 0)
		start++;	/* the '/' */
	w->path[l->len] = '\0';
	return add_child(w, w->path + start, l->len - start, 'd', d);
}

/* Whether level l (not lv[0]) is an ancestor of path. */
static int
is_below(const struct walk *w, const struct level *l, const char *path)
{
	return strncmp(path, w->path, l->len) == 0 && path[l->len] == '/';
}

/* One record, in tree order. A record whose parent directory has no live
 * record is not part of the tree and is skipped. */
static int
walk_record(const struct store_file *f, void *arg)
{
	struct walk *w = arg;
	const char *slash = strrchr(f->path, '/');
	size_t plen = slash ? (size_t)(slash - f->path) : 0, len;
	uint8_t d[STORE_DIGEST_LEN];
	int r;

	while (w->n > 1 && !is_below(w, &w->lv[w->n - 1], f->path))
		if ((r = level_pop(w)) != 0)
			return r;
	if (w->lv[w->n - 1].len != plen)
		return 0;	/* an orphan */
	if (f->type == STORE_DIR) {
		if ((len = strlen(f->path)) >= sizeof(w->path))
			return 0;
		memcpy(w->path, f->path, len + 1);
		return level_push(w, len, f->mode);
	}
	leaf_digest(w->leaf, f, f->path + (slash ? plen + 1 : 0), d);
	return add_child(w, f->path + (slash ? plen + 1 : 0),
	    strlen(f->path) - (slash ? plen + 1 : 0), kind_char(f->type), d);
}

static void
walk_free(struct walk *w)
{
	for (size_t i = 0; i < w->cap; i++)
		if (w->lv[i].md)
			gcry_md_close(w->lv[i].md);
	free(w->lv);
	if (w->leaf)
		gcry_md_close(w->leaf);
}

/* Runs the walk over the records strictly below dir ("" for the root). */
static int
walk_below(struct store *s, struct walk *w, const char *dir)
{
	sqlite3_stmt *st;
	int r;

	if ((r = store_prepare(s, dir[0] == '\0' ?
	    "SELECT " STORE_FILE_COLS " FROM files WHERE deleted = 0"
	    " ORDER BY path COLLATE xs_tree" :
	    "SELECT " STORE_FILE_COLS " FROM files WHERE deleted = 0"
	    " AND path >= ?1 || '/' AND path < ?1 || '0'"
	    " ORDER BY path COLLATE xs_tree", &st)) < 0)
		return r;
	if (dir[0] != '\0')
		store_bind_text(st, 1, dir);
	if ((r = store_walk_rows(s, st, walk_record, w)) != 0)
		return r;
	while (w->n > 1)
		if ((r = level_pop(w)) != 0)
			return r;
	return 0;
}

/* Fills out for what is recorded at dir itself; sets *mode for a
 * directory. Returns 0 or -errno. */
static int
digest_self(struct store *s, struct walk *w, const char *dir,
    struct store_digest *out)
{
	struct store_file f;
	const char *name;
	int r;

	out->type = STORE_DIR;
	out->mode = 0;
	if (dir[0] == '\0')
		return 0;	/* the root: always a directory, mode 0 */
	if ((r = store_file_load(s, dir, &f)) == -ENOENT) {
		out->type = 0;
		return 0;
	}
	if (r < 0)
		return r;
	out->type = f.deleted ? 0 : f.type;
	out->mode = store_mode_mirrored(STORE_DIR, f.mode);
	if (out->type == STORE_FILE || out->type == STORE_SYMLINK) {
		name = strrchr(dir, '/');
		leaf_digest(w->leaf, &f, name ? name + 1 : dir, out->digest);
		out->mode = 0;
	}
	store_file_clear(&f);
	return 0;
}

int
store_digest_dir(struct store *s, const char *dir, struct store_digest *out,
    int (*cb)(const struct store_digest_child *c, void *arg), void *arg)
{
	struct walk w = {.cb = cb, .arg = arg};
	int r;

	memset(out, 0, sizeof(*out));
	if (dir == NULL)
		dir = "";
	if (strlen(dir) >= sizeof(w.path))
		return -ENAMETOOLONG;
	if (gcry_md_open(&w.leaf, GCRY_MD_SHA256, 0) != 0)
		return -ENOMEM;
	if ((r = digest_self(s, &w, dir, out)) < 0 || out->type != STORE_DIR)
		goto out;
	memcpy(w.path, dir, strlen(dir) + 1);
	if ((r = level_push(&w, strlen(dir), out->mode)) == 0 &&
	    (r = walk_below(s, &w, dir)) == 0)
		memcpy(out->digest, gcry_md_read(w.lv[0].md, GCRY_MD_SHA256),
		    STORE_DIGEST_LEN);
out:
	walk_free(&w);
	if (r < 0)
		memset(out, 0, sizeof(*out));
	return r;
}

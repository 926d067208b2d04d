/* apply_ops.c -- metadata operations: mkdir, delete/rmdir, rename, meta,
 * symlink. Each changes the folder, makes the change durable, then
 * records it. See apply.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/log.h"
#include "store/store.h"
#include "sync/apply_int.h"
#include "sync/path.h"
#include "agent/util.h"

/* ---- mkdir ----------------------------------------------------------- */

/* Makes name in dfd a directory, replacing a file or symlink (kept
 * first if it is a local version). */
static int
make_dir(struct apply *a, int dfd, const char *name, const char *path)
{
	struct stat st;
	int r = apply_lstat(dfd, name, &st);

	if (r == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (r < 0 && r != -ENOENT)
		return apply_fail("create directory", path, r);
	if (r == 0 && ((r = apply_keep_old(a, dfd, name, path)) < 0 ||
	    (r = apply_rm_tree(dfd, name, path)) < 0))
		return r;
	if (mkdirat(dfd, name, 0700) < 0)
		return apply_fail("create directory", path, -errno);
	return 0;
}

int
apply_mkdir(struct apply *a, const char *path, uint32_t mode,
    int64_t mtime_ns)
{
	const char *name;
	int dfd, r;

	if ((r = apply_check("create directory", path)) < 0 ||
	    (r = apply_check_ignored(a, "create directory", path, 1)) < 0)
		return r;
	if ((dfd = apply_parent(a, path, &name)) < 0)
		return apply_fail("create directory", path, dfd);
	if ((r = make_dir(a, dfd, name, path)) == 0 &&
	    (r = apply_attrs_at(dfd, name, path, mode, mtime_ns)) == 0 &&
	    (r = apply_fsync_dir(a, dfd, path)) == 0)
		r = apply_record_at(a, dfd, name, path, NULL);
	close(dfd);
	return r;
}

/* ---- delete, rmdir --------------------------------------------------- */

static int
remove_path(struct apply *a, const char *what, const char *path)
{
	const char *name;
	struct stat st;
	int dfd, r;

	if ((r = apply_check(what, path)) < 0)
		return r;
	if ((dfd = apply_parent(a, path, &name)) == -ENOENT)
		return apply_forget_tree(a, path, 1);	/* nothing there */
	if (dfd < 0)
		return apply_fail(what, path, dfd);
	if ((r = apply_lstat(dfd, name, &st)) < 0 && r != -ENOENT) {
		close(dfd);
		return apply_fail(what, path, r);
	}
	if ((r = apply_check_ignored(a, what, path,
	    r == 0 && S_ISDIR(st.st_mode))) == 0 &&
	    (r = apply_keep_old(a, dfd, name, path)) == 0 &&
	    (r = apply_rm_tree(dfd, name, path)) == 0 &&
	    (r = apply_fsync_dir(a, dfd, path)) == 0)
		r = apply_forget_tree(a, path, 1);
	close(dfd);
	return r;
}

int
apply_delete(struct apply *a, const char *path)
{
	return remove_path(a, "delete", path);
}

int
apply_rmdir(struct apply *a, const char *path)
{
	return remove_path(a, "remove directory", path);
}

/* ---- meta ------------------------------------------------------------ */

/* apply_meta() for a checked path. */
static int
set_meta(struct apply *a, const char *path, uint32_t mode, int64_t mtime_ns)
{
	const char *name;
	uint8_t sha[32];
	struct stat st;
	int dfd, r, known = 0;

	if ((dfd = apply_parent(a, path, &name)) < 0)
		return apply_fail("set the metadata of", path, dfd);
	if ((r = apply_lstat(dfd, name, &st)) < 0) {
		close(dfd);
		return apply_fail("set the metadata of", path, r);
	}
	/* the record's checksum, judged by the file as it was before */
	if ((r = apply_check_ignored(a, "set the metadata of", path,
	    S_ISDIR(st.st_mode))) == 0 && S_ISREG(st.st_mode))
		r = known = apply_known_sha(a, path, &st, sha);
	if (r >= 0 && (r = apply_attrs_at(dfd, name, path, mode,
	    mtime_ns)) == 0 && (r = apply_fsync_dir(a, dfd, path)) == 0)
		r = apply_record_at(a, dfd, name, path, known ? sha : NULL);
	close(dfd);
	return r;
}

int
apply_meta(struct apply *a, const char *path, uint32_t mode,
    int64_t mtime_ns)
{
	int r = apply_check("set the metadata of", path);

	return r < 0 ? r : set_meta(a, path, mode, mtime_ns);
}

/* ---- symlink --------------------------------------------------------- */

/* Whether name in dfd is already a symlink with text target. */
static int
same_link(int dfd, const char *name, const char *target)
{
	char buf[PATH_MAX];
	size_t n = strlen(target);
	ssize_t got = readlinkat(dfd, name, buf, sizeof(buf));

	return got >= 0 && (size_t)got == n && memcmp(buf, target, n) == 0;
}

static int
link_mtime(int dfd, const char *name, const char *path, int64_t mtime_ns)
{
	struct timespec ts[2];

	ts[0] = ts[1] = util_ns_ts(mtime_ns);
	if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return apply_fail("set the mtime of", path, -errno);
	return 0;
}

/* Creates the link as tmp with its mtime, then renames it over name, so
 * the path is the old thing or the new link, never nothing. A directory
 * at name is removed first (rename cannot replace it with a link); what
 * is replaced is kept first if it is a local version. */
static int
replace_link(struct apply *a, int dfd, const char *name, const char *path,
    const char *tmp, const char *target, int64_t mtime_ns)
{
	struct timespec ts[2];
	struct stat st;
	int r;

	ts[0] = ts[1] = util_ns_ts(mtime_ns);
	if ((r = apply_rm_tree(dfd, tmp, path)) < 0)	/* a stale temp */
		return r;
	if (symlinkat(target, dfd, tmp) < 0)
		return apply_fail("create symlink", path, -errno);
	if (utimensat(dfd, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0)
		r = apply_fail("set the mtime of", path, -errno);
	if (r == 0)
		r = apply_keep_old(a, dfd, name, path);
	if (r == 0 && apply_lstat(dfd, name, &st) == 0 && S_ISDIR(st.st_mode))
		r = apply_rm_tree(dfd, name, path);
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = apply_fail("create symlink", path, -errno);
	if (r < 0)
		unlinkat(dfd, tmp, 0);
	return r;
}

static int
link_target_ok(const char *path, const char *target)
{
	if (target != NULL && target[0] != '\0' &&
	    strnlen(target, PATH_MAX) < PATH_MAX)
		return 0;
	log_warn("refusing to create symlink %s: empty or too long link text",
	    path);
	return -EINVAL;
}

int
apply_symlink(struct apply *a, const char *path, const char *target,
    int64_t mtime_ns)
{
	char tmp[APPLY_TMP_NAME];
	const char *name;
	int dfd, r;

	if ((r = apply_check("create symlink", path)) < 0 ||
	    (r = link_target_ok(path, target)) < 0 ||
	    (r = apply_check_ignored(a, "create symlink", path, 0)) < 0 ||
	    (r = apply_temp_name(tmp, "symlink", path, target,
	    strlen(target))) < 0)
		return r;
	if ((dfd = apply_parent(a, path, &name)) < 0)
		return apply_fail("create symlink", path, dfd);
	if (same_link(dfd, name, target))
		r = link_mtime(dfd, name, path, mtime_ns);
	else
		r = replace_link(a, dfd, name, path, tmp, target, mtime_ns);
	/* a directory replaced: its records below go; the link's record
	 * replaces its own */
	if (r == 0 && (r = apply_fsync_dir(a, dfd, path)) == 0 &&
	    (r = apply_forget_tree(a, path, 0)) == 0)
		r = apply_record_at(a, dfd, name, path, NULL);
	close(dfd);
	return r;
}

/* ---- rename ---------------------------------------------------------- */

struct mv {
	struct apply *a;
	const char *from, *to;
	int fdir, tdir;		/* the parents; fdir -1 if from's is gone */
	const char *fname, *tname;
	struct stat fst, tst;
	int f_exists, t_exists;
	int forget_to;		/* records at and below to describe the past */
	int known;		/* sha is the moved file's checksum */
	uint8_t sha[32];
};

/* Whether one of a, b is below the other. */
static int
nested(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b), n = na < nb ? na : nb;

	return na != nb && memcmp(a, b, n) == 0 && (na > nb ? a : b)[n] == '/';
}

/* Whether from has a live record: then its records were not moved yet. */
static int
from_recorded(struct mv *m)
{
	struct store_file f;
	int r = store_file_load(m->a->st, m->from, &f);

	if (r == 0) {
		r = !f.deleted;
		store_file_clear(&f);
	}
	return r == -ENOENT ? 0 : r;
}

/* The checksum to record for to: from's record, if it still describes
 * the file (st: the file before its metadata changes); on a repeat, to's
 * own record may. */
static int
mv_known_sha(struct mv *m, const struct stat *st)
{
	int r;

	if (!S_ISREG(st->st_mode))
		return 0;
	r = apply_known_sha(m->a, m->from, st, m->sha);
	if (r == 0 && !m->f_exists)
		r = apply_known_sha(m->a, m->to, st, m->sha);
	m->known = r > 0;
	return r < 0 ? r : 0;
}

/* Opens both parents and looks at both ends. */
static int
mv_open(struct mv *m)
{
	int r;

	if ((m->tdir = apply_parent(m->a, m->to, &m->tname)) < 0)
		return apply_fail("rename to", m->to, m->tdir);
	m->fdir = apply_parent(m->a, m->from, &m->fname);
	if (m->fdir < 0 && m->fdir != -ENOENT)
		return apply_fail("rename", m->from, m->fdir);
	r = m->fdir < 0 ? -ENOENT : apply_lstat(m->fdir, m->fname, &m->fst);
	if (r < 0 && r != -ENOENT)
		return apply_fail("rename", m->from, r);
	m->f_exists = r == 0;
	if ((r = apply_lstat(m->tdir, m->tname, &m->tst)) < 0 && r != -ENOENT)
		return apply_fail("rename to", m->to, r);
	m->t_exists = r == 0;
	if (!m->f_exists && !m->t_exists) {
		log_error("cannot rename %s to %s: neither exists", m->from,
		    m->to);
		return -ENOENT;
	}
	r = S_ISDIR((m->f_exists ? &m->fst : &m->tst)->st_mode);
	if ((r = apply_check_ignored(m->a, "rename", m->from, r)) < 0 ||
	    (r = apply_check_ignored(m->a, "rename to", m->to, r)) < 0)
		return r;
	if ((r = mv_known_sha(m, m->f_exists ? &m->fst : &m->tst)) < 0)
		return r;
	/* on a repeat, to's records are the moved ones unless from's
	 * records show that the first attempt never reached the store */
	if (m->f_exists)
		m->forget_to = m->t_exists;
	else if ((m->forget_to = from_recorded(m)) < 0)
		return m->forget_to;
	return 0;
}

/* Clears the way at to where rename(2) cannot replace what is there (a
 * directory; a file by a directory), then renames. What is replaced at
 * to is kept first if it is a local version. */
static int
mv_rename(struct mv *m)
{
	int r = 0;

	if (m->t_exists && m->tst.st_dev == m->fst.st_dev &&
	    m->tst.st_ino == m->fst.st_ino) {
		/* two links to one file: rename(2) would leave both */
		if (unlinkat(m->fdir, m->fname, 0) < 0)
			return apply_fail("rename", m->from, -errno);
		return 0;
	}
	if (m->t_exists) {
		if ((r = apply_keep_old(m->a, m->tdir, m->tname, m->to)) < 0)
			return r;
		m->t_exists = apply_lstat(m->tdir, m->tname, &m->tst) == 0;
	}
	if (m->t_exists && S_ISDIR(m->tst.st_mode))
		r = apply_rm_tree(m->tdir, m->tname, m->to);
	else if (m->t_exists && S_ISDIR(m->fst.st_mode) &&
	    unlinkat(m->tdir, m->tname, 0) < 0)
		r = apply_fail("rename to", m->to, -errno);
	if (r == 0 && renameat(m->fdir, m->fname, m->tdir, m->tname) < 0)
		r = apply_fail("rename", m->from, -errno);
	return r;
}

/* fsyncs to's directory, and from's if it is another one. */
static int
mv_sync(struct mv *m)
{
	struct stat a, b;
	int r = apply_fsync_dir(m->a, m->tdir, m->to);

	if (r < 0 || m->fdir < 0)
		return r;
	if (fstat(m->fdir, &a) == 0 && fstat(m->tdir, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return 0;
	return apply_fsync_dir(m->a, m->fdir, m->from);
}

/* Puts rec (a record below from) at the same place below to and
 * tombstones it at from. */
static int
mv_child(struct mv *m, struct store_file *rec)
{
	size_t skip = strlen(m->from);
	char np[PATH_MAX];
	int r;

	if ((r = store_file_delete(m->a->st, rec->path, NULL)) < 0 &&
	    r != -ENOENT)
		return r;
	/* both parts were checked; only the length can fail */
	if (path_join(np, sizeof(np), m->to, rec->path + skip + 1) < 0) {
		log_warn("not recording %s below %s: path too long",
		    rec->path + skip + 1, m->to);
		return 0;
	}
	rec->path = np;		/* borrowed for the put; freed as before */
	return store_file_put(m->a->st, rec, NULL, NULL);
}

/* In one transaction: tombstones what was recorded at and below to if it
 * was replaced, moves from's records below it, and records to as it is
 * now. */
static int
mv_records(struct mv *m)
{
	struct apply_recs l = {0};
	int r;

	if ((r = apply_recs_below(m->a, m->from, &l)) < 0 ||
	    (r = store_begin(m->a->st)) < 0) {
		apply_recs_free(&l);
		return r;
	}
	if (m->forget_to)
		r = apply_forget_tree(m->a, m->to, 1);
	for (size_t i = 0; r == 0 && i < l.n; i++) {
		char *own = (char *)l.v[i].path;

		r = mv_child(m, &l.v[i]);
		l.v[i].path = own;
	}
	if (r == 0 && (r = store_file_delete(m->a->st, m->from, NULL)) ==
	    -ENOENT)
		r = 0;
	if (r == 0)
		r = apply_record_at(m->a, m->tdir, m->tname, m->to,
		    m->known ? m->sha : NULL);
	apply_recs_free(&l);
	return apply_end(m->a, r);
}

int
apply_rename(struct apply *a, const char *from, const char *to,
    uint32_t mode, int64_t mtime_ns)
{
	struct mv m = {.a = a, .from = from, .to = to, .fdir = -1,
	    .tdir = -1};
	int r;

	if ((r = apply_check("rename", from)) < 0 ||
	    (r = apply_check("rename to", to)) < 0)
		return r;
	if (strcmp(from, to) == 0)
		return set_meta(a, to, mode, mtime_ns);
	if (nested(from, to)) {
		log_warn("refusing to rename %s to %s: one is inside the other",
		    from, to);
		return -EINVAL;
	}
	if ((r = mv_open(&m)) == 0 && m.f_exists)
		r = mv_rename(&m);
	if (r == 0 && (r = apply_attrs_at(m.tdir, m.tname, to, mode,
	    mtime_ns)) == 0 && (r = mv_sync(&m)) == 0)
		r = mv_records(&m);
	if (m.fdir >= 0)
		close(m.fdir);
	if (m.tdir >= 0)
		close(m.tdir);
	return r;
}

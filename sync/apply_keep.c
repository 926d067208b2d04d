/* apply_keep.c -- the slave's area below PATH_AREA: local versions kept
 * before anything replaces them, old versions while versions are on, and
 * their expiry. See "the slave's area" in apply.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/log.h"
#include "agent/util.h"
#include "store/store.h"
#include "sync/apply_int.h"
#include "sync/path.h"

#define STAMP_SIZE 17		/* "YYYYMMDDTHHMMSSZ" and its NUL */
#define KEEP_TRIES 100		/* the name, then ".1" ... ".99" */
#define KEEP_MAX_DEPTH 256	/* directory levels gone through */
#define COPY_BUF (128 * 1024)
#define DAY_S 86400

enum keep_how { KEEP_LINK, KEEP_MOVE };

/* One keeping job: its stamp, the path being worked on, and where the
 * last thing kept went. */
struct keep {
	struct apply *a;
	char stamp[STAMP_SIZE];
	char path[PATH_MAX];	/* relative to the root */
	char to[PATH_MAX];	/* relative to the root */
	int64_t kept;		/* things placed (not found there already) */
};

/* Names in a directory, but "." and "..". */
struct names {
	char **v;
	size_t n, cap;
};

static void
stamp_make(time_t when, char out[STAMP_SIZE])
{
	struct tm tm;

	if (gmtime_r(&when, &tm) == NULL ||
	    strftime(out, STAMP_SIZE, "%Y%m%dT%H%M%SZ", &tm) == 0)
		snprintf(out, STAMP_SIZE, "19700101T000000Z");
}

/* The STAMP after the last '~' of a version's name (a ".N" may follow).
 * Returns 0 and sets *out, or -EINVAL. */
static int
stamp_parse(const char *name, time_t *out)
{
	const char *t = strrchr(name, '~');
	struct tm tm;
	int n = 0;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || sscanf(t + 1, "%4d%2d%2dT%2d%2d%2dZ%n", &tm.tm_year,
	    &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
	    &n) != 6 || n != STAMP_SIZE - 1 ||
	    (t[1 + n] != '\0' && t[1 + n] != '.'))
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = timegm(&tm);
	return 0;
}

static struct keep *
keep_new(struct apply *a, const char *path, time_t when)
{
	struct keep *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	k->a = a;
	stamp_make(when, k->stamp);
	snprintf(k->path, sizeof(k->path), "%s", path);
	return k;
}

/* Appends "/" name to k->path, whose length is len. Returns 0 or
 * -ENAMETOOLONG. */
static int
path_push(struct keep *k, size_t len, const char *name)
{
	int n = snprintf(k->path + len, sizeof(k->path) - len, "%s%s",
	    len ? "/" : "", name);

	return n < 0 || (size_t)n >= sizeof(k->path) - len ? -ENAMETOOLONG : 0;
}

/* ---- directories ----------------------------------------------------- */

static void
names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Opens the directory name in dfd without following a symlink and lists
 * its names into l (free with names_free() either way), so that entries
 * can be moved away without upsetting readdir. Returns the descriptor,
 * or -errno. */
static int
dir_list(int dfd, const char *name, struct names *l)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC), dup_fd;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return -errno;
	if ((dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0 ||
	    (d = fdopendir(dup_fd)) == NULL) {
		int e = -errno;
		if (dup_fd >= 0)
			close(dup_fd);
		close(fd);
		return e;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (util_grow(&l->v, l->n + 1, &l->cap, 16) < 0 ||
		    (l->v[l->n] = strdup(de->d_name)) == NULL) {
			closedir(d);
			close(fd);
			return -ENOMEM;
		}
		l->n++;
	}
	closedir(d);
	return fd;
}

/* Opens directory rel below the root for *at calls and fsync, making it
 * and its parents (0700) where missing, never through a symlink. Returns
 * the descriptor or -errno. */
static int
area_dir(struct apply *a, const char *rel)
{
	char comp[NAME_MAX + 1];
	const char *p = rel, *end;
	int cur = -1, fd;

	for (;;) {
		int at = cur < 0 ? a->rootfd : cur;
		size_t n;

		end = strchrnul(p, '/');
		n = (size_t)(end - p);
		if (n == 0 || n > NAME_MAX) {
			fd = -ENAMETOOLONG;
			break;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (mkdirat(at, comp, 0700) < 0 && errno != EEXIST) {
			fd = -errno;
			break;
		}
		fd = openat(at, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd < 0) {
			fd = -errno;
			break;
		}
		if (cur >= 0)
			close(cur);
		cur = fd;
		if (*end == '\0')
			return cur;
		p = end + 1;
	}
	if (cur >= 0)
		close(cur);
	return fd;
}

/* ---- placing one file -------------------------------------------------- */

static int
copy_bytes(int in, int out)
{
	char *buf = malloc(COPY_BUF);
	ssize_t n, w;
	int r = 0;

	if (buf == NULL)
		return -ENOMEM;
	while (r == 0 && (n = read(in, buf, COPY_BUF)) != 0) {
		if (n < 0) {
			r = errno == EINTR ? 0 : -errno;
			continue;
		}
		for (ssize_t off = 0; r == 0 && off < n; off += w)
			if ((w = write(out, buf + off, (size_t)(n - off))) < 0)
				r = -errno;
	}
	free(buf);
	return r;
}

/* Copies the file or symlink name in dfd (st: its lstat) to a new tname
 * in tdfd, with its mode and mtime. Returns 0, -EEXIST if tname is
 * taken, or -errno. */
static int
copy_at(int dfd, const char *name, const struct stat *st, int tdfd,
    const char *tname)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	char target[PATH_MAX];
	ssize_t n;
	int in, out, r;

	if (S_ISLNK(st->st_mode)) {
		if ((n = readlinkat(dfd, name, target, sizeof(target) - 1)) < 0)
			return -errno;
		target[n] = '\0';
		return symlinkat(target, tdfd, tname) < 0 ? -errno : 0;
	}
	if ((in = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC)) < 0)
		return -errno;
	if ((out = openat(tdfd, tname, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		r = -errno;
		close(in);
		return r;
	}
	if ((r = copy_bytes(in, out)) == 0 &&
	    (fchmod(out, st->st_mode & 07777) < 0 || futimens(out, ts) < 0 ||
	    fsync(out) < 0))
		r = -errno;
	close(in);
	close(out);
	if (r < 0)
		unlinkat(tdfd, tname, 0);
	return r;
}

/* One try at putting name in dfd (st: its lstat) at tname in tdfd.
 * Returns 0, 1 if that very file is there already, -EEXIST if the name
 * is taken by something else, or -errno. */
static int
place_once(enum keep_how how, int dfd, const char *name,
    const struct stat *st, int tdfd, const char *tname)
{
	struct stat t;

	if (how == KEEP_MOVE) {
		if (renameat2(dfd, name, tdfd, tname, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EINVAL)	/* no RENAME_NOREPLACE here */
			return -errno;
		if (fstatat(tdfd, tname, &t, AT_SYMLINK_NOFOLLOW) == 0)
			return -EEXIST;
		return renameat(dfd, name, tdfd, tname) < 0 ? -errno : 0;
	}
	if (linkat(dfd, name, tdfd, tname, 0) == 0)
		return 0;
	if (errno != EEXIST)	/* another file system, no links here */
		return copy_at(dfd, name, st, tdfd, tname);
	if (fstatat(tdfd, tname, &t, AT_SYMLINK_NOFOLLOW) == 0 &&
	    t.st_dev == st->st_dev && t.st_ino == st->st_ino)
		return 1;
	return -EEXIST;
}

/* Puts name in dfd at tname in tdfd (the last component of k->to), or at
 * tname ".N" while taken, and makes that durable. Returns 0, 1 (there
 * already), or -errno; k->to names the last try. */
static int
place(struct keep *k, enum keep_how how, int dfd, const char *name,
    const struct stat *st, int tdfd)
{
	size_t len = strlen(k->to);
	const char *tname = strrchr(k->to, '/') + 1;
	int r = -EEXIST;

	for (int i = 0; r == -EEXIST && i < KEEP_TRIES; i++) {
		if (i > 0 && snprintf(k->to + len, sizeof(k->to) - len, ".%d",
		    i) >= (int)(sizeof(k->to) - len))
			return -ENAMETOOLONG;
		r = place_once(how, dfd, name, st, tdfd, tname);
	}
	if (r == 0 && fsync(tdfd) < 0)
		r = -errno;
	if (r == 0)
		k->kept++;
	return r;
}

/* Keeps name in dfd (k->path; st: its lstat) below APPLY_AREA_LOCAL/
 * STAMP/ or, with versions, as APPLY_AREA_VERSIONS/PATH~STAMP. Returns
 * as place(). */
static int
keep_one(struct keep *k, int versions, enum keep_how how, int dfd,
    const char *name, const struct stat *st)
{
	char *slash;
	int tdfd, r, n;

	if (versions)
		n = snprintf(k->to, sizeof(k->to), "%s/%s~%s",
		    APPLY_AREA_VERSIONS, k->path, k->stamp);
	else
		n = snprintf(k->to, sizeof(k->to), "%s/%s/%s",
		    APPLY_AREA_LOCAL, k->stamp, k->path);
	if (n < 0 || (size_t)n + 4 > sizeof(k->to))	/* room for ".NN" */
		return -ENAMETOOLONG;
	slash = strrchr(k->to, '/');
	*slash = '\0';
	tdfd = area_dir(k->a, k->to);
	*slash = '/';
	if (tdfd < 0)
		return tdfd;
	r = place(k, how, dfd, name, st, tdfd);
	close(tdfd);
	return r;
}

/* ---- before the applier replaces something ------------------------------ */

/* Whether what is at k->path (st: its lstat) is a local version: no live
 * record, one made before the first sync, or one it does not match.
 * Returns 1, 0, or a store error. */
static int
is_local(struct keep *k, const struct stat *st)
{
	struct store_file f;
	int r = store_file_load(k->a->st, k->path, &f);

	if (r == -ENOENT)
		return 1;
	if (r < 0)
		return r;
	r = f.deleted || f.seq <= k->a->local_seq ||
	    !apply_record_matches(&f, st, 0);
	store_file_clear(&f);
	return r;
}

/* Moves the local version name in dfd (st: its lstat) away, or copies it
 * where it cannot be moved (another file system). Returns 0 or -errno
 * (logged). */
static int
keep_moved(struct keep *k, int dfd, const char *name, const struct stat *st)
{
	int r = keep_one(k, 0, KEEP_MOVE, dfd, name, st);

	if (r == -EXDEV && !S_ISDIR(st->st_mode))
		r = keep_one(k, 0, KEEP_LINK, dfd, name, st);
	if (r < 0) {
		log_error("cannot keep the local version of %s (%s): leaving "
		    "it as it is", k->path, strerror(-r));
		return r;
	}
	log_info("kept the local version of %s as %s", k->path, k->to);
	return 0;
}

/* With versions on, links the file name in dfd (st) below
 * APPLY_AREA_VERSIONS; a failure is only logged. */
static void
keep_version(struct keep *k, int dfd, const char *name, const struct stat *st)
{
	int r;

	if (k->a->versions_days == 0 || !S_ISREG(st->st_mode))
		return;
	if ((r = keep_one(k, 1, KEEP_LINK, dfd, name, st)) < 0)
		log_warn("cannot keep the old version of %s: %s", k->path,
		    strerror(-r));
	else
		log_debug("kept the old version of %s as %s", k->path, k->to);
}

static int keep_old_at(struct keep *k, int dfd, const char *name, int depth);

/* A directory as recorded: each entry on its own. One that cannot be
 * read is kept whole. */
static int
keep_old_dir(struct keep *k, int dfd, const char *name,
    const struct stat *st, int depth)
{
	struct names l = {0};
	size_t len = strlen(k->path);
	int fd, r = 0;

	if (depth >= KEEP_MAX_DEPTH || (fd = dir_list(dfd, name, &l)) == -EACCES) {
		names_free(&l);
		return keep_moved(k, dfd, name, st);
	}
	if (fd < 0) {
		names_free(&l);
		return fd == -ENOENT ? 0 : apply_fail("read", k->path, fd);
	}
	for (size_t i = 0; r == 0 && i < l.n; i++) {
		if (path_is_temp(l.v[i]))
			continue;	/* ours: the removal takes it */
		if ((r = path_push(k, len, l.v[i])) == 0)
			r = keep_old_at(k, fd, l.v[i], depth + 1);
		k->path[len] = '\0';
	}
	close(fd);
	names_free(&l);
	return r;
}

static int
keep_old_at(struct keep *k, int dfd, const char *name, int depth)
{
	struct stat st;
	int r;

	if ((r = apply_lstat(dfd, name, &st)) < 0)
		return r == -ENOENT ? 0 : apply_fail("look at", k->path, r);
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) &&
	    !S_ISLNK(st.st_mode))
		return 0;	/* a fifo, a device: no content to lose */
	if ((r = is_local(k, &st)) < 0)
		return r;
	if (r)
		return keep_moved(k, dfd, name, &st);
	if (S_ISDIR(st.st_mode))
		return keep_old_dir(k, dfd, name, &st, depth);
	keep_version(k, dfd, name, &st);
	return 0;
}

int
apply_keep_old(struct apply *a, int dfd, const char *name, const char *path)
{
	struct keep *k = keep_new(a, path, time(NULL));
	int r;

	if (k == NULL)
		return -ENOMEM;
	r = keep_old_at(k, dfd, name, 0);
	free(k);
	return r;
}

/* ---- when a local change is seen ----------------------------------------- */

static int
keep_local_at(struct keep *k, int dfd, const char *name, int depth)
{
	struct names l = {0};
	size_t len = strlen(k->path);
	struct stat st;
	int fd, r;

	if ((r = apply_lstat(dfd, name, &st)) < 0)
		return r == -ENOENT ? 0 : r;
	if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
		return (r = keep_one(k, 0, KEEP_LINK, dfd, name, &st)) < 0 ?
		    r : 0;
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (depth >= KEEP_MAX_DEPTH)
		return -ELOOP;
	if ((fd = dir_list(dfd, name, &l)) < 0) {
		names_free(&l);
		return fd == -ENOENT ? 0 : fd;
	}
	for (size_t i = 0; r == 0 && i < l.n; i++) {
		if (path_is_temp(l.v[i]))
			continue;
		if ((r = path_push(k, len, l.v[i])) == 0)
			r = keep_local_at(k, fd, l.v[i], depth + 1);
		k->path[len] = '\0';
	}
	close(fd);
	names_free(&l);
	return r;
}

int
apply_keep_local(struct apply *a, int dfd, const char *name,
    const char *path, time_t when)
{
	struct keep *k = keep_new(a, path, when);
	int r;

	if (k == NULL)
		return -ENOMEM;
	if ((r = keep_local_at(k, dfd, name, 0)) < 0)
		log_error("cannot keep the local version of %s: %s", path,
		    strerror(-r));
	else if (k->kept)
		log_info("kept the local version of %s as %s/%s/%s", path,
		    APPLY_AREA_LOCAL, k->stamp, path);
	free(k);
	return r;
}

/* ---- expiry ------------------------------------------------------------ */

/* Removes the versions below name in dfd stamped before cutoff, and the
 * directories that leaves empty. Failures are logged and skipped. */
static void
expire_at(int dfd, const char *name, time_t cutoff, int depth,
    int64_t *removed)
{
	struct names l = {0};
	struct stat st;
	time_t t;
	int fd;

	if (apply_lstat(dfd, name, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		if (stamp_parse(name, &t) < 0 || t >= cutoff)
			return;
		if (unlinkat(dfd, name, 0) == 0)
			(*removed)++;
		else
			log_warn("cannot remove the old version %s: %s", name,
			    strerror(errno));
		return;
	}
	if (depth >= KEEP_MAX_DEPTH || (fd = dir_list(dfd, name, &l)) < 0) {
		names_free(&l);
		return;
	}
	for (size_t i = 0; i < l.n; i++)
		expire_at(fd, l.v[i], cutoff, depth + 1, removed);
	close(fd);
	names_free(&l);
	unlinkat(dfd, name, AT_REMOVEDIR);	/* only if empty now */
}

int
apply_versions_expire(struct apply *a, time_t now, int64_t *removed)
{
	struct names l = {0};
	int64_t n = 0;
	int fd;

	if (removed)
		*removed = 0;
	if (a->versions_days == 0)
		return 0;
	fd = path_open_beneath(a->rootfd, PATH_AREA, O_PATH | O_DIRECTORY, 0);
	if (fd >= 0) {
		int vfd = dir_list(fd, "versions", &l);
		close(fd);
		fd = vfd;
	}
	if (fd == -ENOENT) {
		names_free(&l);
		return 0;
	}
	if (fd < 0) {
		names_free(&l);
		log_error("cannot read %s/%s: %s", a->root, APPLY_AREA_VERSIONS,
		    strerror(-fd));
		return fd;
	}
	for (size_t i = 0; i < l.n; i++)
		expire_at(fd, l.v[i], now - (time_t)a->versions_days * DAY_S, 1,
		    &n);
	close(fd);
	names_free(&l);
	if (removed)
		*removed = n;
	return 0;
}

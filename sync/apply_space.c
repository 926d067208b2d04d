/* apply_space.c -- the free space of the folder's file system, and the
 * resume prefixes interrupted transfers kept, which the slave may drop to
 * make room. See apply.h ("space") and sync/space.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/log.h"
#include "agent/util.h"
#include "sync/apply_int.h"
#include "sync/path.h"
#include "sync/space.h"

/* Deeper directories are not searched for prefixes. */
#define WALK_DEPTH_MAX 128

int
apply_fs(struct apply *a, struct space_fs *out)
{
	int r = space_fs_get(a->rootfd, out);

	if (r < 0)
		log_error("cannot read the free space of %s: %s", a->root,
		    strerror(-r));
	return r;
}

int
apply_put_prefix(struct apply *a, const char *path, uint64_t size,
    const uint8_t sha256[32], char *out, size_t len, uint64_t *have)
{
	char tmp[APPLY_TMP_NAME], dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;
	int r;

	*have = 0;
	if (slash && (size_t)(slash - path) >= sizeof(dir))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 0,
	    path);
	if ((r = apply_put_temp_name(tmp, path, size, sha256)) < 0 ||
	    (r = path_join(out, len, dir, tmp)) < 0)
		return r;
	r = path_open_beneath(a->rootfd, out, O_PATH, 0);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (fstat(r, &st) < 0) {
		int e = -errno;
		close(r);
		return e;
	}
	close(r);
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < size)
		*have = (uint64_t)st.st_size;
	return 0;
}

/* Whether a session holds the temp file name in dfd now (its lock).
 * Returns 1, 0, or -errno when it cannot be opened. */
static int
temp_busy(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC), busy;

	if (fd < 0)
		return -errno;
	busy = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return busy;
}

struct walk {
	struct apply *a;
	dev_t dev;
	struct apply_prefix *v;
	size_t n, cap;
};

/* Adds the temp file name in dfd (st: its lstat) at rel if it is a kept
 * prefix. Returns 0 or -ENOMEM. */
static int
walk_temp(struct walk *w, int dfd, const char *name, const char *rel,
    const struct stat *st)
{
	struct apply_prefix *p;

	if (!S_ISREG(st->st_mode) || st->st_dev != w->dev ||
	    st->st_nlink != 1 || temp_busy(dfd, name) != 0)
		return 0;
	if (util_grow(&w->v, w->n + 1, &w->cap, 16) < 0)
		return -ENOMEM;
	p = &w->v[w->n];
	if ((p->path = strdup(rel)) == NULL)
		return -ENOMEM;
	p->bytes = (uint64_t)st->st_blocks * 512;
	p->mtime_ns = util_ts_ns(st->st_mtim);
	w->n++;
	return 0;
}

static int walk_dir(struct walk *w, int fd, const char *rel, int depth);

/* Looks at the entry name (of type, as readdir says) of the directory
 * dfd, at rel. Returns 0 or -ENOMEM. */
static int
walk_entry(struct walk *w, int dfd, const char *name, unsigned char type,
    const char *rel, int depth)
{
	struct stat st;
	int fd;

	/* most entries are files: no stat for them */
	if (type != DT_DIR && type != DT_UNKNOWN && !path_is_temp(rel))
		return 0;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;	/* gone meanwhile */
	if (path_is_temp(rel))
		return walk_temp(w, dfd, name, rel, &st);
	if (!S_ISDIR(st.st_mode) || st.st_dev != w->dev ||
	    depth >= WALK_DEPTH_MAX || path_ignored((const char *const *)
	    w->a->ignore, w->a->nignore, rel, 1))
		return 0;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0) {
		log_debug("not looking for resume prefixes in %s: %s", rel,
		    strerror(errno));
		return 0;
	}
	return walk_dir(w, fd, rel, depth + 1);
}

/* Lists the prefixes below the directory fd (consumed), at rel. Returns
 * 0 or -ENOMEM. */
static int
walk_dir(struct walk *w, int fd, const char *rel, int depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;
	char sub[PATH_MAX];
	int r = 0;

	if (d == NULL) {
		close(fd);
		return 0;
	}
	while (r == 0 && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    path_join(sub, sizeof(sub), rel, e->d_name) < 0)
			continue;
		r = walk_entry(w, dirfd(d), e->d_name, e->d_type, sub, depth);
	}
	closedir(d);
	return r;
}

int
apply_prefixes(struct apply *a, struct apply_prefix **out, size_t *n)
{
	struct walk w = {.a = a};
	struct stat st;
	int fd, r;

	*out = NULL;
	*n = 0;
	fd = openat(a->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		log_error("cannot read %s: %s", a->root, strerror(-r));
		return r;
	}
	w.dev = st.st_dev;
	if ((r = walk_dir(&w, fd, "", 0)) < 0) {
		apply_prefixes_free(w.v, w.n);
		return r;
	}
	*out = w.v;
	*n = w.n;
	return 0;
}

void
apply_prefixes_free(struct apply_prefix *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

/* Removes name in dfd if it is still the regular file open at fd, which
 * the caller has locked. Returns 0 or -errno. */
static int
drop_locked(int dfd, const char *name, int fd, uint64_t *freed)
{
	struct stat st, now;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
		return -EINVAL;
	if (fstatat(dfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (now.st_dev != st.st_dev || now.st_ino != st.st_ino)
		return -EBUSY;	/* replaced since we opened it */
	if (unlinkat(dfd, name, 0) < 0)
		return -errno;
	*freed = (uint64_t)st.st_blocks * 512;
	return 0;
}

int
apply_prefix_drop(struct apply *a, const char *path, uint64_t *freed)
{
	const char *name;
	int dfd, fd, r;

	*freed = 0;
	if (path_check_relative(path, strlen(path)) < 0 || !path_is_temp(path))
		return -EINVAL;
	if ((dfd = apply_parent(a, path, &name)) < 0)
		return dfd;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd < 0)
		r = errno == ELOOP ? -EINVAL : -errno;
	else if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
	else
		r = drop_locked(dfd, name, fd, freed);
	if (fd >= 0)
		close(fd);
	close(dfd);
	if (r < 0 && r != -EBUSY && r != -ENOENT && r != -EINVAL)
		log_warn("cannot remove the resume prefix %s: %s", path,
		    strerror(-r));
	return r;
}

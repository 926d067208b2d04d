/* apply_space.c -- the free space of the folder's file system, and the
 * resume prefixes interrupted transfers kept (the leftovers apply_temps.c
 * remembers), which the slave may drop to make room. See apply.h
 * ("space") and sync/space.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* Appends the leftover l to *v (*n entries, *cap allocated) if it is a
 * prefix that can go: still there, a regular file of one link on dev,
 * held by no session. Returns 0 or -ENOMEM. */
static int
prefix_add(struct apply *a, const struct apply_leftover *l, dev_t dev,
    struct apply_prefix **v, size_t *n, size_t *cap)
{
	char path[PATH_MAX];
	const char *name;
	struct stat st;
	int dfd, r;

	if (path_join(path, sizeof(path), l->dir, l->name) < 0 ||
	    (dfd = apply_parent(a, path, &name)) < 0)
		return 0;	/* gone with its directory */
	r = apply_lstat(dfd, name, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_dev == dev && st.st_nlink == 1 &&
	    apply_temp_held(dfd, name) == 0;
	close(dfd);
	if (!r)
		return 0;
	if (util_grow(v, *n + 1, cap, 16) < 0 ||
	    ((*v)[*n].path = strdup(path)) == NULL)
		return -ENOMEM;
	(*v)[*n].bytes = (uint64_t)st.st_blocks * 512;
	(*v)[*n].mtime_ns = util_ts_ns(st.st_mtim);
	(*n)++;
	return 0;
}

int
apply_prefixes(struct apply *a, struct apply_prefix **out, size_t *n)
{
	struct apply_prefix *v = NULL;
	struct stat root;
	size_t cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	if ((r = apply_leftovers_find(a)) < 0)
		return r;
	if (fstat(a->rootfd, &root) < 0) {
		r = -errno;
		log_error("cannot read %s: %s", a->root, strerror(-r));
		return r;
	}
	for (size_t i = 0; i < a->nleft; i++)
		if ((r = prefix_add(a, &a->left[i], root.st_dev, &v, n,
		    &cap)) < 0) {
			apply_prefixes_free(v, *n);
			*n = 0;
			return r;
		}
	*out = v;
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
	if (r == 0 || r == -ENOENT)
		apply_leftover_drop(a, path, name);	/* no longer left */
	if (r < 0 && r != -EBUSY && r != -ENOENT && r != -EINVAL)
		log_warn("cannot remove the resume prefix %s: %s", path,
		    strerror(-r));
	return r;
}

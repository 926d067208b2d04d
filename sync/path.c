/* path.c -- see path.h */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "sync/path.h"

/* The component of n bytes at c: not empty, ".", "..", nor too long. */
static int
component_ok(const char *c, size_t n)
{
	if (n == 0 || n > NAME_MAX)
		return 0;
	if (c[0] == '.' && (n == 1 || (n == 2 && c[1] == '.')))
		return 0;
	return 1;
}

int
path_check_relative(const char *p, size_t len)
{
	size_t start = 0;

	if (p == NULL || len == 0 || len >= PATH_MAX)
		return -EINVAL;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)p[i] : '/';

		if (c == '\0')
			return -EINVAL;
		if (c != '/')
			continue;
		if (!component_ok(p + start, i - start))
			return -EINVAL;
		start = i + 1;
	}
	return 0;
}

int
path_check_synced(const char *path)
{
	size_t n = strlen(PATH_TMP_PREFIX);

	if (path == NULL || path_check_relative(path, strlen(path)) < 0)
		return -EINVAL;
	for (const char *c = path; c; c = strchr(c, '/')) {
		if (*c == '/')
			c++;
		if (strncmp(c, PATH_TMP_PREFIX, n) == 0)
			return -EINVAL;
	}
	return 0;
}

int
path_join(char *buf, size_t size, const char *dir, const char *name)
{
	int n;

	if (dir[0] == '\0')
		n = snprintf(buf, size, "%s", name);
	else
		n = snprintf(buf, size, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int
path_is_temp(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strncmp(base, PATH_TMP_PREFIX, strlen(PATH_TMP_PREFIX)) == 0;
}

/* ---- ignore patterns ----------------------------------------------- */

int
path_glob_match(const char *pattern, const char *path, int is_dir)
{
	char pat[PATH_MAX];
	size_t n = strlen(pattern);
	const char *p = pat, *base;

	if (n == 0 || n >= sizeof(pat))
		return 0;
	memcpy(pat, pattern, n + 1);
	if (pat[n - 1] == '/') {		/* directories only */
		if (!is_dir)
			return 0;
		pat[--n] = '\0';
	}
	if (*p == '/')				/* anchored at the root */
		p++;
	if (*p == '\0')
		return 0;
	if (p != pat || strchr(p, '/') != NULL)
		return fnmatch(p, path, FNM_PATHNAME) == 0;
	base = strrchr(path, '/');
	return fnmatch(p, base ? base + 1 : path, 0) == 0;
}

static int
any_match(const char *const *patterns, size_t n, const char *path, int is_dir)
{
	for (size_t i = 0; i < n; i++)
		if (path_glob_match(patterns[i], path, is_dir))
			return 1;
	return 0;
}

int
path_ignored(const char *const *patterns, size_t n, const char *path,
    int is_dir)
{
	char dir[PATH_MAX];
	size_t len = strlen(path);

	if (n == 0)
		return 0;
	if (len >= sizeof(dir))
		return 0;
	for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		memcpy(dir, path, (size_t)(s - path));
		dir[s - path] = '\0';
		if (any_match(patterns, n, dir, 1))
			return 1;
	}
	return any_match(patterns, n, path, is_dir);
}

/* ---- opening beneath a root ----------------------------------------
 *
 * Each exported opener checks its path once, since the walk below would
 * follow a ".." out of the root; what they call among themselves is
 * already checked. */

static int
bad_path(const char *rel)
{
	return rel == NULL || path_check_relative(rel, strlen(rel)) < 0;
}

/* path_open_walk() for a checked rel. */
static int
open_walk(int rootfd, const char *rel, int flags, mode_t mode)
{
	char comp[NAME_MAX + 1];
	const char *p = rel, *slash;
	int cur = rootfd, fd, e;

	while ((slash = strchr(p, '/')) != NULL) {
		memcpy(comp, p, (size_t)(slash - p));
		comp[slash - p] = '\0';
		fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		e = errno;
		if (cur != rootfd)
			close(cur);
		if (fd < 0)
			return -e;
		cur = fd;
		p = slash + 1;
	}
	fd = openat(cur, p, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	e = errno;
	if (cur != rootfd)
		close(cur);
	return fd < 0 ? -e : fd;
}

int
path_open_walk(int rootfd, const char *rel, int flags, mode_t mode)
{
	return bad_path(rel) ? -EINVAL : open_walk(rootfd, rel, flags, mode);
}

/* path_open_beneath() for a checked rel. */
static int
open_beneath(int rootfd, const char *rel, int flags, mode_t mode)
{
#ifdef SYS_openat2
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		    RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));

	if (fd >= 0)
		return (int)fd;
	/* no openat2 (old kernel) or a seccomp filter that forbids it */
	if (errno != ENOSYS && errno != EPERM)
		return -errno;
#endif
	return open_walk(rootfd, rel, flags, mode);
}

int
path_open_beneath(int rootfd, const char *rel, int flags, mode_t mode)
{
	return bad_path(rel) ? -EINVAL : open_beneath(rootfd, rel, flags, mode);
}

int
path_open_parent(int rootfd, const char *rel, const char **name)
{
	char dir[PATH_MAX];
	const char *slash;
	int fd;

	if (bad_path(rel))
		return -EINVAL;
	if ((slash = strrchr(rel, '/')) == NULL) {
		if ((fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0)) < 0)
			return -errno;
		*name = rel;
		return fd;
	}
	memcpy(dir, rel, (size_t)(slash - rel));
	dir[slash - rel] = '\0';
	fd = open_beneath(rootfd, dir, O_PATH | O_DIRECTORY, 0);
	if (fd >= 0)
		*name = slash + 1;
	return fd;
}

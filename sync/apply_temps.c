/* apply_temps.c -- temp files that interrupted transfers left behind:
 * found by a walk at start, remembered while a later session may resume
 * them (apply_space.c lists them as resume prefixes to drop for room),
 * removed once none will. See apply.h.
 *
 * Only what is ours is touched: a name that starts with PATH_TMP_PREFIX,
 * a regular file (never a symlink, directory or device), found beneath
 * the root without following a symlink, on the root's file system,
 * outside ignored directories. A session of ours holds its temp file
 * locked (flock), so a temp file that is locked is in use and stays. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/log.h"
#include "agent/util.h"
#include "sync/apply_int.h"
#include "sync/path.h"

#define LEFT_MAX 4096		/* leftovers remembered; beyond: walk again */
#define WALK_MAX_DEPTH 256	/* directory levels a walk descends */

/* ---- the list of leftovers ------------------------------------------- */

/* Writes the directory part of path to out ("" at the top). */
static int
dir_of(const char *path, char *out, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(out, path, n);
	out[n] = '\0';
	return 0;
}

static int
left_find(const struct apply *a, const char *dir, const char *name)
{
	for (size_t i = 0; i < a->nleft; i++)
		if (strcmp(a->left[i].name, name) == 0 &&
		    strcmp(a->left[i].dir, dir) == 0)
			return (int)i;
	return -1;
}

static void
left_remove_at(struct apply *a, size_t i)
{
	free(a->left[i].dir);
	a->left[i] = a->left[--a->nleft];
}

/* Remembers name in dir; when it cannot, the next release walks. */
static void
left_add_dir(struct apply *a, const char *dir, const char *name)
{
	struct apply_leftover *l;

	if (left_find(a, dir, name) >= 0)
		return;
	if (a->nleft == LEFT_MAX ||
	    util_grow(&a->left, a->nleft + 1, &a->capleft, 16) < 0 ||
	    strlen(name) >= sizeof(l->name)) {
		a->lost_track = 1;
		return;
	}
	l = &a->left[a->nleft];
	if ((l->dir = strdup(dir)) == NULL) {
		a->lost_track = 1;
		return;
	}
	memcpy(l->name, name, strlen(name) + 1);
	a->nleft++;
}

void
apply_leftover_add(struct apply *a, const char *path, const char *tmp)
{
	char dir[PATH_MAX];

	if (dir_of(path, dir, sizeof(dir)) < 0)
		a->lost_track = 1;
	else
		left_add_dir(a, dir, tmp);
}

void
apply_leftover_drop(struct apply *a, const char *path, const char *tmp)
{
	char dir[PATH_MAX];
	int i;

	if (dir_of(path, dir, sizeof(dir)) == 0 &&
	    (i = left_find(a, dir, tmp)) >= 0)
		left_remove_at(a, (size_t)i);
}

void
apply_leftovers_free(struct apply *a)
{
	for (size_t i = 0; i < a->nleft; i++)
		free(a->left[i].dir);
	free(a->left);
	a->left = NULL;
	a->nleft = a->capleft = 0;
}

/* ---- removing one ------------------------------------------------------ */

int
apply_temp_held(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC), held;

	if (fd < 0)
		return -errno;
	held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

/* Opens dir (relative, "" for the root) beneath the root. Returns the
 * descriptor or -errno (not logged). */
static int
open_dir(struct apply *a, const char *dir)
{
	int fd;

	if (dir[0] != '\0')
		return path_open_beneath(a->rootfd, dir, O_RDONLY | O_DIRECTORY, 0);
	fd = openat(a->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Removes the temp file name in dfd (dir: where, for messages) if it is
 * a regular file that no session holds, counting it in *out. A file we
 * may not open cannot be held by a session of ours either. */
static void
temp_remove(int dfd, const char *dir, const char *name,
    struct apply_temps *out)
{
	struct stat st, fst;
	int fd;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return;		/* gone, or not ours */
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd < 0 && errno != EACCES)
		return;
	if (fd >= 0 && (fstat(fd, &fst) < 0 || fst.st_ino != st.st_ino ||
	    fst.st_dev != st.st_dev || flock(fd, LOCK_EX | LOCK_NB) < 0)) {
		close(fd);	/* replaced meanwhile, or in use */
		out->kept++;
		return;
	}
	if (unlinkat(dfd, name, 0) == 0) {
		out->removed++;
		out->bytes += st.st_size;
	} else if (errno != ENOENT)
		log_warn("cannot remove the temp file %s%s%s: %s", dir,
		    dir[0] ? "/" : "", name, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* ---- the walk ---------------------------------------------------------- */

struct walk {
	struct apply *a;
	int find;		/* remove none, remember those not held */
	int all;		/* remove every one, whatever its age */
	time_t older;		/* else those last written before this */
	dev_t dev;		/* the root's file system */
	int depth;
	struct apply_temps *out;
	char path[PATH_MAX];	/* the directory being walked, relative */
};

static void walk_dir(struct walk *w, int fd);

/* A temp file found by the walk: removed when empty or old, else
 * remembered for a session that may resume it; a walk that finds only
 * remembers each one no session holds. */
static void
walk_temp(struct walk *w, int dfd, const char *name)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return;
	if (w->find) {
		if (apply_temp_held(dfd, name) == 0)
			left_add_dir(w->a, w->path, name);
	} else if (!w->all && st.st_size > 0 && st.st_mtime >= w->older) {
		w->out->kept++;
		left_add_dir(w->a, w->path, name);
	} else
		temp_remove(dfd, w->path, name, w->out);
}

/* Descends into name in dfd: a directory on the same file system, not a
 * symlink, not ignored, with a name the scanner would accept. */
static void
walk_sub(struct walk *w, int dfd, const char *name)
{
	size_t len = strlen(w->path), n = strlen(name), sep = len ? 1 : 0;
	struct stat st;
	int fd;

	if (w->depth >= WALK_MAX_DEPTH || len + sep + n >= sizeof(w->path) ||
	    path_check_relative(name, n) < 0 ||
	    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode) || st.st_dev != w->dev)
		return;
	if (sep)
		w->path[len] = '/';
	memcpy(w->path + len + sep, name, n + 1);
	if (!path_ignored((const char *const *)w->a->ignore, w->a->nignore,
	    w->path, 1) && (fd = openat(dfd, name, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) >= 0) {
		w->depth++;
		walk_dir(w, fd);
		w->depth--;
	}
	w->path[len] = '\0';
}

/* Walks the directory fd (consumed). What cannot be read is left alone:
 * the next walk tries again. */
static void
walk_dir(struct walk *w, int fd)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;

	if (d == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (path_is_temp(de->d_name))
			walk_temp(w, dirfd(d), de->d_name);
		else if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)
			walk_sub(w, dirfd(d), de->d_name);
	}
	closedir(d);
}

/* ---- the API ------------------------------------------------------------ */

/* Walks the folder from the root, remembering the leftovers afresh: with
 * find, removing none; else removing every temp file (all) or those last
 * written before older, and empty ones. Returns 0, -ENOMEM, or -errno if
 * the root cannot be read (logged). */
static int
walk_root(struct apply *a, int find, int all, time_t older,
    struct apply_temps *out)
{
	struct walk *w = calloc(1, sizeof(*w));
	struct stat st;
	int fd = -1, r;

	memset(out, 0, sizeof(*out));
	if (w == NULL)
		return -ENOMEM;
	if (fstat(a->rootfd, &st) < 0 || (fd = open_dir(a, "")) < 0) {
		r = fd < 0 ? fd : -errno;
		log_error("cannot look for temp files in %s: %s", a->root,
		    strerror(-r));
		free(w);
		return r;
	}
	*w = (struct walk){.a = a, .find = find, .all = all, .older = older,
	    .dev = st.st_dev, .out = out};
	apply_leftovers_free(a);	/* the walk finds them all again */
	a->lost_track = 0;
	walk_dir(w, fd);
	free(w);
	return 0;
}

int
apply_temps_sweep(struct apply *a, int64_t max_age, struct apply_temps *out)
{
	return walk_root(a, 0, max_age <= 0, time(NULL) - (time_t)max_age, out);
}

int
apply_leftovers_find(struct apply *a)
{
	struct apply_temps t;

	return a->lost_track ? walk_root(a, 1, 0, 0, &t) : 0;
}

void
apply_temps_forget(struct apply *a, const char *path, uint64_t size,
    const uint8_t *sha256, struct apply_temps *out)
{
	static const uint8_t none[32];
	size_t pre = strlen(PATH_TMP_PREFIX) + APPLY_TMP_PATH_HEX;
	char keep[APPLY_TMP_NAME], dir[PATH_MAX];
	int dfd = -1, opened = 0;

	memset(out, 0, sizeof(*out));
	if (a->nleft == 0 || dir_of(path, dir, sizeof(dir)) < 0 ||
	    apply_put_temp_name(keep, path, size, sha256 ? sha256 : none) < 0)
		return;
	for (size_t i = a->nleft; i-- > 0;) {
		const struct apply_leftover *l = &a->left[i];

		if (strcmp(l->dir, dir) != 0 || strncmp(l->name, keep, pre) != 0 ||
		    (sha256 && strcmp(l->name, keep) == 0))
			continue;
		if (!opened++ && (dfd = open_dir(a, dir)) < 0 && dfd != -ENOENT)
			break;	/* try again at the release */
		if (dfd >= 0)
			temp_remove(dfd, dir, l->name, out);
		left_remove_at(a, i);	/* removed, or gone with its directory */
	}
	if (dfd >= 0)
		close(dfd);
}

void
apply_temps_release(struct apply *a, struct apply_temps *out)
{
	memset(out, 0, sizeof(*out));
	if (a->lost_track) {
		apply_temps_sweep(a, 0, out);
		return;
	}
	while (a->nleft > 0) {
		const struct apply_leftover *l = &a->left[a->nleft - 1];
		int dfd = open_dir(a, l->dir);

		if (dfd >= 0) {
			temp_remove(dfd, l->dir, l->name, out);
			close(dfd);
		}
		left_remove_at(a, a->nleft - 1);
	}
}

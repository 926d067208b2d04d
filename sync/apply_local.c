/* apply_local.c -- local changes on a slave: whatever differs from the
 * records is reported, kept below the area and recorded, so that a
 * manifest shows the master what to restore. What the applier wrote
 * itself, it recorded once it was durable, before any event about it can
 * reach the caller (both run on one thread), so it compares equal. See
 * apply_local_check() in apply.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/log.h"
#include "store/store.h"
#include "sync/apply_int.h"
#include "sync/path.h"

#define LOCAL_MAX_DEPTH 1024	/* directory levels walked */
#define LOCAL_PAGE 512		/* records read at a time for the root */

struct local {
	struct apply *a;
	time_t when;
	apply_local_cb cb;
	void *arg;
	int64_t changes;
};

static int
is_ignored(struct apply *a, const char *path, int is_dir)
{
	return path_ignored((const char *const *)a->ignore, a->nignore, path,
	    is_dir);
}

/* dir "/" name, or name at the top; NULL when it does not fit or name is
 * not one a path may hold. The caller frees. */
static char *
child_path(const char *dir, const char *name)
{
	char *p;

	if (path_check_relative(name, strlen(name)) < 0 || path_is_temp(name))
		return NULL;
	if (asprintf(&p, "%s%s%s", dir, dir[0] ? "/" : "", name) < 0)
		return NULL;
	if (path_check_relative(p, strlen(p)) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

static int
report(struct local *l, const char *path, enum apply_local_kind kind)
{
	l->changes++;
	if (l->cb)
		l->cb(path, kind, l->arg);
	return 1;
}

/* Records what is at name in dfd (path), then keeps it (a directory:
 * with everything below it, if keep_dir), in one transaction. Kept after
 * it is recorded: whatever replaces it in between differs from the
 * record, so that is a local version to the applier too. What cannot be
 * kept is left unrecorded: the record is undone, and the applier still
 * sees a local version there. Returns 0, -errno or a store error. */
static int
record_kept(struct local *l, int dfd, const char *name, const char *path,
    int keep)
{
	int r;

	if ((r = store_begin(l->a->st)) < 0)
		return r;
	if ((r = apply_record_at(l->a, dfd, name, path, NULL)) == 0 && keep)
		r = apply_keep_local(l->a, dfd, name, path, l->when);
	return apply_end(l->a, r);
}

/* Records everything below the new directory name in dfd (path), which
 * was kept as a whole: each file and symlink is kept again right after
 * its record is written, since it may have appeared or been replaced
 * since (one kept already is found there and left). What cannot be read
 * or kept is logged and left unrecorded. */
static void
record_below(struct local *l, int dfd, const char *name, const char *path,
    int depth)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (fd < 0 || depth >= LOCAL_MAX_DEPTH || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char *p = strcmp(de->d_name, ".") && strcmp(de->d_name, "..") ?
		    child_path(path, de->d_name) : NULL;

		if (p && apply_lstat(dirfd(d), de->d_name, &st) == 0 &&
		    !is_ignored(l->a, p, S_ISDIR(st.st_mode)) &&
		    record_kept(l, dirfd(d), de->d_name, p,
		    !S_ISDIR(st.st_mode)) == 0 && S_ISDIR(st.st_mode))
			record_below(l, dirfd(d), de->d_name, p, depth + 1);
		free(p);
	}
	closedir(d);
}

/* Nothing at path any more: tombstones its record and those below. */
static int
gone(struct local *l, const char *path)
{
	int r;

	report(l, path, APPLY_LOCAL_DELETED);
	return (r = apply_forget_tree(l->a, path, 1)) < 0 ? r : 1;
}

/* name in dfd (path; st: its lstat) is there; f its live record or NULL. */
static int
present(struct local *l, int dfd, const char *name, const char *path,
    const struct store_file *f, const struct stat *st)
{
	int is_dir = S_ISDIR(st->st_mode), new_dir, r;

	if (is_ignored(l->a, path, is_dir)) {	/* ignored since recorded */
		r = f ? apply_forget_tree(l->a, path, 1) : 0;
		return r < 0 ? r : 0;
	}
	if (!S_ISREG(st->st_mode) && !is_dir && !S_ISLNK(st->st_mode))
		return f ? gone(l, path) : 0;	/* a fifo took its place */
	if (f && apply_record_matches(f, st, 1))
		return 0;
	/* installed by us just before a crash took its record */
	if (f == NULL && apply_intent_matches(l->a, dfd, name, path, st)) {
		log_info("recording %s: installed from the master before a "
		    "crash took its record", path);
		return (r = apply_record_at(l->a, dfd, name, path, NULL)) < 0 ?
		    r : 0;
	}
	report(l, path, f ? APPLY_LOCAL_MODIFIED : APPLY_LOCAL_CREATED);
	new_dir = is_dir && (f == NULL || f->type != STORE_DIR);
	if (f && f->type == STORE_DIR && !is_dir &&
	    (r = apply_forget_tree(l->a, path, 0)) < 0)
		return r;
	/* a directory whose mode changed holds nothing new to keep */
	if ((r = record_kept(l, dfd, name, path, !is_dir || new_dir)) < 0)
		return r;
	if (new_dir)
		record_below(l, dfd, name, path, 0);
	return 1;
}

/* Compares path alone with its record. Returns 1 (a change), 0, or
 * -errno or a store error (logged). */
static int
check_one(struct local *l, const char *path)
{
	struct store_file f;
	const char *name;
	struct stat st;
	int loaded, have, dfd, r;

	if ((r = store_file_load(l->a->st, path, &f)) < 0 && r != -ENOENT)
		return r;
	loaded = r == 0;
	have = loaded && !f.deleted;
	dfd = apply_parent(l->a, path, &name);
	if (dfd >= 0)
		r = apply_lstat(dfd, name, &st);
	else
		r = dfd == -ENOTDIR || dfd == -ELOOP ? -ENOENT : dfd;
	if (r == -ENOENT)	/* also a parent gone or not a directory */
		r = have ? gone(l, path) : 0;
	else if (r < 0)
		r = apply_fail("look at", path, r);
	else
		r = present(l, dfd, name, path, have ? &f : NULL, &st);
	if (dfd >= 0)
		close(dfd);
	if (loaded)
		store_file_clear(&f);
	return r;
}

/* Every live record below dir ("" for all) against the disk. */
static void
deep_records(struct local *l, const char *dir)
{
	struct apply_recs recs = {0};
	char *after = NULL;
	size_t n;

	do {
		int r = dir[0] ? apply_recs_below(l->a, dir, &recs) :
		    apply_recs_page(l->a, after, LOCAL_PAGE, &recs);

		n = r < 0 ? 0 : recs.n;
		for (size_t i = 0; i < n; i++)
			check_one(l, recs.v[i].path);
		free(after);
		after = n ? strdup(recs.v[n - 1].path) : NULL;
		apply_recs_free(&recs);
	} while (dir[0] == '\0' && n == LOCAL_PAGE && after != NULL);
	free(after);
}

/* Every entry on disk below dir ("" for the root) against its record. */
static void
deep_disk(struct local *l, const char *dir, int depth)
{
	int fd = dir[0] ? path_open_beneath(l->a->rootfd, dir,
	    O_RDONLY | O_DIRECTORY, 0) : openat(l->a->rootfd, ".",
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (fd < 0 || depth >= LOCAL_MAX_DEPTH || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char *p = strcmp(de->d_name, ".") && strcmp(de->d_name, "..") ?
		    child_path(dir, de->d_name) : NULL;

		if (p && apply_lstat(dirfd(d), de->d_name, &st) == 0 &&
		    !is_ignored(l->a, p, S_ISDIR(st.st_mode)) &&
		    check_one(l, p) >= 0 && S_ISDIR(st.st_mode))
			deep_disk(l, p, depth + 1);
		free(p);
	}
	closedir(d);
}

int
apply_local_check(struct apply *a, const char *path, int deep, time_t when,
    apply_local_cb cb, void *arg)
{
	struct local l = {.a = a, .when = when, .cb = cb, .arg = arg};
	int r;

	if ((r = store_begin(a->st)) < 0)
		return r;
	if (path[0])
		check_one(&l, path);
	if (deep) {
		deep_records(&l, path);
		deep_disk(&l, path, 0);
	}
	if ((r = apply_end(a, 0)) < 0)
		return r;
	return (int)(l.changes > 1000000 ? 1000000 : l.changes);
}

/* watch_dirs.c -- the watcher thread's table of watched directories: for
 * each wd, the directory's path, device and inode. See watch_int.h.
 *
 * This table, not libinotifytools, says what an event's path is. The
 * library keeps the name a directory had when it was watched and cannot
 * rename its records safely (inotifytools_replace_filename() re-keys its
 * tree while walking it and skips entries); renaming here is a loop over
 * our own array.
 *
 * Entries are removed by clearing their path and dropped for good only
 * when an entry is added, so loops over the table may remove entries as
 * they go. Everything here runs on the watcher thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "sync/watch_int.h"

struct watch_dir *
watch_dirs_find(struct watch_th *t, int wd)
{
	size_t lo = 0, hi = t->ndirs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->dirs[mid].wd < wd)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < t->ndirs && t->dirs[lo].wd == wd && t->dirs[lo].path)
		return &t->dirs[lo];
	return NULL;
}

/* Drops removed entries. Only here and in watch_dirs_add(): loops over
 * the table may remove entries as they go, never move them. */
static void
dirs_compact(struct watch_th *t)
{
	size_t j = 0;

	for (size_t i = 0; i < t->ndirs; i++)
		if (t->dirs[i].path != NULL)
			t->dirs[j++] = t->dirs[i];
	t->ndirs = j;
	t->ngone = 0;
}

int
watch_dirs_add(struct watch_th *t, int wd, dev_t dev, ino_t ino,
    const char *path)
{
	char *p = strdup(path);
	size_t i;

	if (p == NULL)
		return -ENOMEM;
	if (t->ngone >= 64 && t->ngone >= t->ndirs / 2)
		dirs_compact(t);
	if (t->ndirs == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct watch_dir *v = realloc(t->dirs, cap * sizeof(*v));
		if (v == NULL) {
			free(p);
			return -ENOMEM;
		}
		t->dirs = v;
		t->cap = cap;
	}
	/* wds grow, so this is an append unless the kernel wrapped around */
	for (i = t->ndirs; i > 0 && t->dirs[i - 1].wd >= wd; i--)
		;
	if (i < t->ndirs && t->dirs[i].wd == wd) {
		if (t->dirs[i].path == NULL)
			t->ngone--;
		free(t->dirs[i].path);
	} else {
		memmove(&t->dirs[i + 1], &t->dirs[i],
		    (t->ndirs - i) * sizeof(*t->dirs));
		t->ndirs++;
	}
	t->dirs[i] = (struct watch_dir){ wd, dev, ino, p };
	return 0;
}

void
watch_dirs_del(struct watch_th *t, struct watch_dir *d)
{
	free(d->path);
	d->path = NULL;
	t->ngone++;
}

void
watch_dirs_clear(struct watch_th *t)
{
	for (size_t i = 0; i < t->ndirs; i++)
		free(t->dirs[i].path);
	free(t->dirs);
	t->dirs = NULL;
	t->ndirs = t->cap = t->ngone = 0;
}

/* Gives every entry at or under old the same place under new. Returns how
 * many moved; on out of memory the rest are unwatched and a rescan asked
 * for. */
size_t
watch_dirs_rekey(struct watch_th *t, const char *old, const char *new)
{
	size_t olen = strlen(old), n = 0;

	for (size_t i = 0; i < t->ndirs; i++) {
		struct watch_dir *d = &t->dirs[i];
		char *np;

		if (d->path == NULL || !watch_under(d->path, old))
			continue;
		if (asprintf(&np, "%s%s", new, d->path + olen) < 0) {
			watch_ino_rm(t, d);
			watch_queue_push(t->q, "", IN_Q_OVERFLOW, 0, 0);
			continue;
		}
		free(d->path);
		d->path = np;
		n++;
	}
	return n;
}

/* A directory was renamed over the empty directory at path, which is
 * gone: forget its entry. */
void
watch_dirs_drop_replaced(struct watch_th *t, const char *path)
{
	for (size_t i = 0; i < t->ndirs; i++)
		if (t->dirs[i].path && strcmp(t->dirs[i].path, path) == 0)
			watch_ino_dead(t, &t->dirs[i]);
}

/* Stops watching path and everything under it. */
void
watch_dirs_forget(struct watch_th *t, const char *path)
{
	for (size_t i = 0; i < t->ndirs; i++)
		if (t->dirs[i].path && watch_under(t->dirs[i].path, path))
			watch_ino_rm(t, &t->dirs[i]);
}

/* See watch_int.h. Newest first: an older entry with the same inode
 * number can be a deleted directory whose IN_IGNORED is still queued. */
int
watch_dirs_adopt(struct watch_th *t, const char *path, dev_t dev, ino_t ino)
{
	for (size_t i = t->ndirs; i-- > 0;) {
		struct watch_dir *d = &t->dirs[i];
		char *old;

		if (d->path == NULL || d->dev != dev || d->ino != ino)
			continue;
		if (strcmp(d->path, path) == 0 || (old = strdup(d->path)) == NULL)
			return -EEXIST;
		watch_dirs_rekey(t, old, path);
		free(old);
		return WATCH_ELSEWHERE;
	}
	return -ENOENT;
}

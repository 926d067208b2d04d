/* watch_tree.c -- the watcher thread's reading of events: which are worth
 * a record, directories moving (paired here by cookie, so the table in
 * watch_dirs.c follows at once) and appearing (watched and scanned). See
 * watch_int.h.
 *
 * A watch follows its inode, so when a directory is renamed inside the
 * folder its watches stay valid and only the paths in the table change; a
 * directory that moves out is unwatched, one that moves in is watched and
 * scanned, one renamed over an empty directory replaces that one's entry.
 *
 * Everything here runs on the watcher thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "agent/log.h"
#include "sync/path.h"
#include "sync/watch_int.h"

static char *
join(const char *dir, const char *name)
{
	char *s;

	if (asprintf(&s, "%s%s%s", dir, *dir ? "/" : "", name) < 0)
		return NULL;
	return s;
}

/* The ignore rule of sync/path.h, the scanner's too, and our own temp
 * files. */
static int
ignored(const struct watch_th *t, const char *rel, int is_dir)
{
	return path_is_temp(rel) || path_ignored((const char *const *)t->ignore,
	    t->nignore, rel, is_dir);
}

/* Whether renaming a directory can change what is ignored below it: only
 * a pattern with a '/' inside ("a/b", "/a/b") looks at more than one
 * component, and the renamed directory itself is checked by its event. */
static int
rename_changes_ignores(const struct watch_th *t)
{
	for (size_t i = 0; i < t->nignore; i++) {
		const char *p = t->ignore[i] + (t->ignore[i][0] == '/');
		size_t n = strlen(p);

		if (n > 0 && p[n - 1] == '/')
			n--;
		if (memchr(p, '/', n) != NULL)
			return 1;
	}
	return 0;
}

/* ---- directory moves ---- */

/* The directory at path, which moved away with this cookie, left the
 * folder: unwatch it, then tell the loop thread, which reports it deleted
 * (so nothing from inside it can follow the delete). */
static void
moved_out(struct watch_th *t, const char *path, uint32_t cookie)
{
	watch_dirs_forget(t, path);
	watch_queue_push(t->q, path, IN_MOVE_SELF | IN_ISDIR, cookie, 0);
}

static void
dmove_add(struct watch_th *t, const char *path, uint32_t cookie)
{
	size_t len = strlen(path);
	struct watch_dmove *m = malloc(sizeof(*m) + len + 1);

	if (m == NULL) {
		moved_out(t, path, cookie);
		return;
	}
	m->next = NULL;
	m->cookie = cookie;
	m->due = watch_now_ms() + WATCH_MOVE_MS;
	memcpy(m->path, path, len + 1);
	if (t->dmtail)
		t->dmtail->next = m;
	else
		t->dmoves = m;
	t->dmtail = m;
}

static void
dmove_unlink(struct watch_th *t, struct watch_dmove *m,
    struct watch_dmove *prev)
{
	if (prev)
		prev->next = m->next;
	else
		t->dmoves = m->next;
	if (t->dmtail == m)
		t->dmtail = prev;
}

/* Returns the move with this cookie, unlinked (caller frees), or NULL. */
static struct watch_dmove *
dmove_take(struct watch_th *t, uint32_t cookie)
{
	for (struct watch_dmove *m = t->dmoves, *prev = NULL; m;
	    prev = m, m = m->next) {
		if (m->cookie == cookie) {
			dmove_unlink(t, m, prev);
			return m;
		}
	}
	return NULL;
}

/* Unwatches the directories whose MOVED_TO did not come in time: they
 * left the folder. Returns nothing. */
void
watch_tree_expire(struct watch_th *t, int64_t now)
{
	while (t->dmoves && t->dmoves->due <= now) {
		struct watch_dmove *m = t->dmoves;
		dmove_unlink(t, m, NULL);
		moved_out(t, m->path, m->cookie);
		free(m);
	}
}

/* Something new appears at path: a directory that moved away from there
 * is gone for good; unwatch it before path gets a watch of its own. */
static void
dmoves_expire_at(struct watch_th *t, const char *path)
{
	for (struct watch_dmove *m = t->dmoves, *prev = NULL, *n; m; m = n) {
		n = m->next;
		if (strcmp(m->path, path) != 0) {
			prev = m;
			continue;
		}
		dmove_unlink(t, m, prev);
		moved_out(t, m->path, m->cookie);
		free(m);
	}
}

/* Forgets the open moves; report: tell the loop thread they moved out
 * (their watches are gone with the library). */
void
watch_tree_clear_moves(struct watch_th *t, int report)
{
	while (t->dmoves) {
		struct watch_dmove *m = t->dmoves;
		t->dmoves = m->next;
		if (report)
			watch_queue_push(t->q, m->path, IN_MOVE_SELF | IN_ISDIR,
			    m->cookie, 0);
		free(m);
	}
	t->dmtail = NULL;
}

/* ---- new directories ---- */

/* A directory appeared at path: created, moved in, or renamed from
 * another place in the folder (then its MOVED_FROM is in t->dmoves). */
static void
dir_arrived(struct watch_th *t, const char *path, uint32_t mask,
    uint32_t cookie)
{
	struct watch_dmove *m = NULL;
	uint32_t info = 0;
	int r = 0;

	if (mask & IN_MOVED_TO) {
		m = dmove_take(t, cookie);
		watch_dirs_drop_replaced(t, path);
	}
	if (m != NULL && watch_dirs_rekey(t, m->path, path) > 0)
		info = WATCH_REC_KNOWN;
	else if ((r = watch_ino_add(t, path)) == WATCH_ELSEWHERE)
		info = WATCH_REC_KNOWN;
	else if (r == -EEXIST || r == -ENOENT || r == -ENOTDIR)
		info = WATCH_REC_GONE; /* or seen already: nothing to report */
	free(m);
	/* a MOVED_TO always goes out: its MOVED_FROM waits for it */
	if ((mask & IN_CREATE) && (info & WATCH_REC_GONE))
		return;
	watch_queue_push(t->q, path, mask, cookie, info);
	if (info == 0) {
		watch_tree_scan(t, path, WATCH_SCAN_REPORT);
	} else if ((info & WATCH_REC_KNOWN) && rename_changes_ignores(t)) {
		/* "a/b" may now ignore what was watched below, or the other
		 * way round: fix the watches and let the caller rescan */
		watch_tree_scan(t, path, WATCH_SCAN_RECHECK);
		watch_queue_push(t->q, path, IN_Q_OVERFLOW, 0, 0);
	}
}

/* What lstat says about a non-directory that appeared at path. */
static uint32_t
entry_info(struct watch_th *t, const char *path, uint32_t mask)
{
	struct stat st;
	char *abs;
	int r;

	if (asprintf(&abs, "%s%s", t->rootslash, path) < 0)
		return WATCH_REC_GONE;
	r = lstat(abs, &st);
	free(abs);
	if (r < 0 || S_ISDIR(st.st_mode))
		return WATCH_REC_GONE; /* its own events follow */
	if (S_ISLNK(st.st_mode))
		return WATCH_REC_SYMLINK;
	if (S_ISREG(st.st_mode) && st.st_nlink == 1 && (mask & IN_CREATE))
		return WATCH_REC_FRESH;
	return 0;
}

/* One event about the entry at path (relative to the root): keeps the
 * table up to date and queues a record unless the entry is ignored. */
void
watch_tree_event(struct watch_th *t, const char *path, uint32_t mask,
    uint32_t cookie)
{
	int is_dir = (mask & IN_ISDIR) != 0;
	uint32_t info = 0;

	if (mask & (IN_CREATE | IN_MOVED_TO))
		dmoves_expire_at(t, path);
	if (ignored(t, path, is_dir)) {
		/* a watched directory renamed to an ignored name moved out */
		struct watch_dmove *m = (mask & IN_MOVED_TO) && is_dir ?
		    dmove_take(t, cookie) : NULL;
		if (m != NULL)
			moved_out(t, m->path, m->cookie);
		free(m);
		return;
	}
	if (is_dir && (mask & (IN_CREATE | IN_MOVED_TO))) {
		dir_arrived(t, path, mask, cookie);
		return;
	}
	if (is_dir && (mask & IN_MOVED_FROM))
		dmove_add(t, path, cookie);
	if (!is_dir && (mask & (IN_CREATE | IN_MOVED_TO)))
		info = entry_info(t, path, mask);
	if ((mask & IN_CREATE) && (info & WATCH_REC_GONE))
		return;
	watch_queue_push(t->q, path, mask, cookie, info);
}

/* ---- scanning ---- */

struct scanq {
	char **v;
	size_t n, cap;
};

static int
scanq_push(struct scanq *q, char *path)
{
	if (path == NULL)
		return -ENOMEM;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;
		char **v = realloc(q->v, cap * sizeof(*v));
		if (v == NULL) {
			free(path);
			return -ENOMEM;
		}
		q->v = v;
		q->cap = cap;
	}
	q->v[q->n++] = path;
	return 0;
}

/* One entry of a directory being scanned. Returns 0 or -ENOMEM. */
static int
scan_entry(struct watch_th *t, struct scanq *q, int dfd, const char *dir,
    const char *name, int mode)
{
	int report = mode & WATCH_SCAN_REPORT;
	struct stat st;
	char *rel;
	int r;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if ((rel = join(dir, name)) == NULL)
		return -ENOMEM;
	if (ignored(t, rel, S_ISDIR(st.st_mode))) {
		if (S_ISDIR(st.st_mode) && (mode & WATCH_SCAN_RECHECK))
			watch_dirs_forget(t, rel);
		free(rel);
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (report)
			watch_queue_push(t->q, rel, IN_CREATE, 0, WATCH_REC_FOUND |
			    (S_ISLNK(st.st_mode) ? WATCH_REC_SYMLINK : 0));
		free(rel);
		return 0;
	}
	r = watch_ino_add(t, rel);
	if (r == -EEXIST && (mode & WATCH_SCAN_RECHECK))
		return scanq_push(q, rel);
	if (r == -EEXIST || r == -ENOENT || r == -ENOTDIR ||
	    (!report && r < 0)) {
		free(rel);
		return 0;
	}
	if (report)
		watch_queue_push(t->q, rel, IN_CREATE | IN_ISDIR, 0,
		    WATCH_REC_FOUND |
		    (r == WATCH_ELSEWHERE ? WATCH_REC_KNOWN : 0));
	if (r == WATCH_ELSEWHERE) {
		free(rel);
		return 0;
	}
	return scanq_push(q, rel);
}

static int
scan_dir(struct watch_th *t, struct scanq *q, const char *dir, int mode)
{
	char *abs;
	DIR *d;
	struct dirent *e;
	int r = 0;

	if (asprintf(&abs, "%s%s", t->rootslash, dir) < 0)
		return -ENOMEM;
	d = opendir(abs);
	free(abs);
	if (d == NULL)
		return 0; /* gone, or unreadable: nothing to find */
	while (r == 0 && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			r = scan_entry(t, q, dirfd(d), dir, e->d_name, mode);
	}
	closedir(d);
	return r;
}

/* Scans the directory top (watched already) breadth-first and watches
 * the directories found that are not ignored. mode: WATCH_SCAN_REPORT
 * queues everything found as new, parents before their content;
 * WATCH_SCAN_RECHECK also walks directories watched already and unwatches
 * those now ignored. A huge tree keeps only this thread busy; watch_free()
 * cuts it short. */
void
watch_tree_scan(struct watch_th *t, const char *top, int mode)
{
	struct scanq q = { 0 };
	int r = scanq_push(&q, strdup(top));

	for (size_t i = 0; r == 0 && i < q.n && !atomic_load(&t->stop); i++)
		r = scan_dir(t, &q, q.v[i], mode);
	for (size_t i = 0; i < q.n; i++)
		free(q.v[i]);
	free(q.v);
	if (r < 0) {
		log_error("cannot scan %s: out of memory", *top ? top : "root");
		watch_queue_push(t->q, "", IN_Q_OVERFLOW, 0, 0);
	}
}

/* watch_inotify.c -- everything that touches libinotifytools: starting and
 * stopping it, the table of watched directories, scanning new directories
 * and turning inotify events into changes. See watch_int.h.
 *
 * libinotifytools keeps one inotify descriptor and its table of watches
 * (wd <-> directory path) in globals, so every call into it stays in this
 * file and a static flag allows one watcher per process. It also declares
 * an unrelated "struct watch" and exports watch_from_wd() and friends:
 * never call inotifytools_filename_from_watch() here, and never name a
 * function of ours watch_from_*().
 *
 * The library's path table is the truth for "which directory does this wd
 * stand for". Its rules shape the code below:
 * - It gives no access to its descriptor: we find it in /proc/self/fd
 *   right after inotifytools_initialize() and put it into an epoll set of
 *   our own, whose descriptor (watch_fd()) outlives any restart of the
 *   library.
 * - Two records with the same path corrupt its lookups, so before a watch
 *   is added at a path any older record there is removed or renamed.
 * - A record can only be removed while the kernel still has the watch;
 *   after IN_IGNORED it can only be renamed out of the way (to a name
 *   starting with DEAD_PREFIX). Such dead records are counted and, past
 *   WATCH_MAX_DEAD, the library is restarted and the tree rescanned, which
 *   keeps memory bounded.
 * - inotifytools_replace_filename() re-keys its tree while walking it and
 *   misses about half the entries of a large subtree, so after a directory
 *   rename we check every watch we know and repeat the replace until none
 *   keeps the old prefix.
 * - Adding a watch for an inode already watched returns the existing wd
 *   and leaves a duplicate record; IN_MASK_CREATE turns that into EEXIST.
 * - Its reads go through select(), so its descriptor must stay below
 *   FD_SETSIZE: create the watcher early.
 *
 * Our own table (struct watch_dirtab) lists the live wds, sorted, with the
 * directory's device and inode, so we can enumerate watches (the library
 * cannot) and recognise a directory that reappears under another name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <unistd.h>

#include <inotifytools/inotify.h>
#include <inotifytools/inotifytools.h>

#include "agent/log.h"
#include "sync/watch_int.h"

#define DEAD_PREFIX    "\001dead/"
#define READ_BATCH     8192    /* events per call before yielding */
#define MAX_INOTIFY_FDS 256

#define WATCH_MASK (IN_CLOSE_WRITE | IN_ATTRIB | IN_CREATE | IN_DELETE | \
	IN_DELETE_SELF | IN_MOVED_FROM | IN_MOVED_TO | IN_MOVE_SELF |	\
	IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_MASK_CREATE)

/* add_watch() result: the inode was watched under another name; the
 * records were moved to the new name. */
#define WATCHED_ELSEWHERE (-EALREADY)

static int watch_taken; /* the libinotifytools singleton is in use */

/* ---- small helpers ---- */

static char *
join(const char *dir, const char *name)
{
	char *s;

	if (asprintf(&s, "%s%s%s", dir, *dir ? "/" : "", name) < 0)
		return NULL;
	return s;
}

/* Returns the absolute path of rel with a trailing '/', as the library
 * stores directories; caller frees. */
static char *
abs_dir(const struct watch *w, const char *rel)
{
	char *s;

	if (asprintf(&s, "%s%s%s", w->rootslash, rel, *rel ? "/" : "") < 0)
		return NULL;
	return s;
}

/* The ignore rule: a pattern without '/' is matched against the name of
 * each component of the path, one with '/' against each leading part of
 * the path (the entry and its parents); names starting with WATCH_TMP_PREFIX are
 * always ignored. Returns 1 if rel is ignored. */
static int
path_is_ignored(const struct watch *w, const char *rel)
{
	char *buf = strdup(rel);
	int hit = 0;

	if (buf == NULL)
		return 0;
	for (size_t start = 0; !hit && buf[start] != '\0';) {
		size_t end = start + strcspn(buf + start, "/");
		char saved = buf[end];

		buf[end] = '\0';
		if (strncmp(buf + start, WATCH_TMP_PREFIX, strlen(WATCH_TMP_PREFIX)) == 0)
			hit = 1;
		for (size_t i = 0; !hit && i < w->nignore; i++) {
			const char *p = w->ignore[i];
			if (strchr(p, '/') != NULL)
				hit = fnmatch(p, buf, FNM_PATHNAME) == 0;
			else
				hit = fnmatch(p, buf + start, 0) == 0;
		}
		buf[end] = saved;
		start = saved ? end + 1 : end;
	}
	free(buf);
	return hit;
}

/* ---- our table of live wds ---- */

static struct watch_dir *
wtab_find(struct watch_dirtab *t, int wd)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->v[mid].wd < wd)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < t->n && t->v[lo].wd == wd && !t->v[lo].gone)
		return &t->v[lo];
	return NULL;
}

static int
wtab_add(struct watch_dirtab *t, int wd, const struct stat *st)
{
	size_t i = t->n;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct watch_dir *v = realloc(t->v, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	/* wds grow, so this is an append unless the kernel wrapped around */
	while (i > 0 && t->v[i - 1].wd >= wd)
		i--;
	if (i < t->n && t->v[i].wd == wd) {
		t->ngone -= t->v[i].gone;
	} else {
		memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(*t->v));
		t->n++;
	}
	t->v[i] = (struct watch_dir){ wd, 0, st->st_dev, st->st_ino };
	return 0;
}

static void
wtab_del(struct watch_dirtab *t, struct watch_dir *d)
{
	size_t j = 0;

	d->gone = 1;
	if (++t->ngone < 64 || t->ngone < t->n / 2)
		return;
	for (size_t i = 0; i < t->n; i++)
		if (!t->v[i].gone)
			t->v[j++] = t->v[i];
	t->n = j;
	t->ngone = 0;
}

/* ---- the library: start, stop, add and drop watches ---- */

/* Lists this process's inotify descriptors into fds. Returns how many. */
static int
list_inotify_fds(int *fds, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char target[64];
	int n = 0;

	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL && n < max) {
		if (e->d_name[0] == '.')
			continue;
		ssize_t len = readlinkat(dirfd(d), e->d_name, target,
		    sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		if (strcmp(target, "anon_inode:inotify") == 0)
			fds[n++] = atoi(e->d_name);
	}
	closedir(d);
	return n;
}

/* Starts libinotifytools and finds its descriptor. Returns 0 or a
 * negative errno (logged). */
static int
lib_init(struct watch *w)
{
	int before[MAX_INOTIFY_FDS], after[MAX_INOTIFY_FDS];
	int nb = list_inotify_fds(before, MAX_INOTIFY_FDS), na, fd = -1;

	if (!inotifytools_initialize()) {
		int err = inotifytools_error();
		log_error("cannot start inotify: %s", strerror(err));
		return err ? -err : -EIO;
	}
	na = list_inotify_fds(after, MAX_INOTIFY_FDS);
	for (int i = 0; i < na; i++) {
		int seen = 0;
		for (int j = 0; j < nb; j++)
			seen |= after[i] == before[j];
		if (!seen)
			fd = fd == -1 ? after[i] : -2;
	}
	if (fd < 0) {
		log_error("cannot find the inotify descriptor of libinotifytools");
		inotifytools_cleanup();
		return -EIO;
	}
	if (fd >= FD_SETSIZE) {
		log_error("inotify descriptor %d is too high for select", fd);
		inotifytools_cleanup();
		return -EMFILE;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;
		log_error("cannot add inotify to epoll: %s", strerror(err));
		inotifytools_cleanup();
		return -err;
	}
	w->ifd = fd;
	w->mask = WATCH_MASK;
	return 0;
}

/* Throws away what the library still buffers (its buffer is static and
 * would survive a restart), then stops it. */
static void
lib_stop(struct watch *w)
{
	if (w->ifd < 0)
		return;
	for (long i = 0; i < 1000000 && inotifytools_next_events(0, 1); i++)
		;
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->ifd, NULL);
	inotifytools_cleanup();
	w->ifd = -1;
	w->root_wd = -1;
	w->dirs.n = w->dirs.ngone = 0;
	w->lib_dead = 0;
}

static void
degrade(struct watch *w, const char *abs, int err)
{
	if (w->degraded)
		return;
	w->degraded = 1;
	if (err == ENOSPC)
		log_warn("cannot watch %s: inotify watch limit reached "
		    "(fs.inotify.max_user_watches is %d); raise it with "
		    "sysctl fs.inotify.max_user_watches=N; falling back to "
		    "periodic rescans", abs,
		    inotifytools_get_max_user_watches());
	else
		log_warn("cannot watch %s: %s; falling back to periodic rescans",
		    abs, strerror(err));
}

/* The kernel has dropped wd, so the library cannot remove its record:
 * rename it out of the way. */
static void
dead_rename(struct watch *w, int wd)
{
	char dead[32];
	char *name = strdup(inotifytools_filename_from_wd(wd));

	if (name != NULL && *name) {
		snprintf(dead, sizeof(dead), DEAD_PREFIX "%d/", wd);
		inotifytools_replace_filename(name, dead);
		if (++w->lib_dead > w->max_dead)
			w->want_rebuild = 1;
	}
	free(name);
}

/* Stops watching wd (kernel and library), whatever state it is in. */
static void
forget_wd(struct watch *w, int wd)
{
	struct watch_dir *d = wtab_find(&w->dirs, wd);

	if (d != NULL)
		wtab_del(&w->dirs, d);
	if (!inotifytools_remove_watch_by_wd(wd))
		dead_rename(w, wd);
}

/* Stops watching every directory at or under absdir (with trailing '/'). */
static void
forget_tree(struct watch *w, const char *absdir)
{
	size_t len = strlen(absdir), n = 0;
	int *wds = malloc((w->dirs.n + 1) * sizeof(*wds));

	if (wds == NULL) {
		w->want_rebuild = 1;
		return;
	}
	for (size_t i = 0; i < w->dirs.n; i++) {
		const char *name;
		if (w->dirs.v[i].gone)
			continue;
		name = inotifytools_filename_from_wd(w->dirs.v[i].wd);
		if (strncmp(name, absdir, len) == 0)
			wds[n++] = w->dirs.v[i].wd;
	}
	for (size_t i = 0; i < n; i++)
		forget_wd(w, wds[i]);
	free(wds);
}

/* Renames the library's records from olddir to newdir (both absolute,
 * with trailing '/'). The library re-keys its tree while walking it and
 * so renames only about half of many records per call: repeat while that
 * makes progress (about log2(n) calls), restart if it stops. */
static void
rename_records(struct watch *w, const char *olddir, const char *newdir)
{
	size_t len = strlen(olddir), last = (size_t)-1;

	for (;;) {
		size_t stale = 0;
		inotifytools_replace_filename(olddir, newdir);
		for (size_t i = 0; i < w->dirs.n; i++) {
			if (!w->dirs.v[i].gone && strncmp(olddir,
			    inotifytools_filename_from_wd(w->dirs.v[i].wd),
			    len) == 0)
				stale++;
		}
		if (stale == 0)
			return;
		if (stale >= last)
			break;
		last = stale;
	}
	log_warn("watch paths under %s did not follow its rename; restarting",
	    newdir);
	w->want_rebuild = 1;
}

/* The inode st is already watched under another name: move the records
 * there. Returns WATCHED_ELSEWHERE, or -EEXIST if it is not ours. */
static int
adopt_moved(struct watch *w, const char *abs, const struct stat *st)
{
	for (size_t i = 0; i < w->dirs.n; i++) {
		struct watch_dir *d = &w->dirs.v[i];
		if (d->gone || d->dev != st->st_dev || d->ino != st->st_ino)
			continue;
		char *old = strdup(inotifytools_filename_from_wd(d->wd));
		if (old == NULL)
			return -ENOMEM;
		if (strcmp(old, abs) != 0)
			rename_records(w, old, abs);
		free(old);
		return WATCHED_ELSEWHERE;
	}
	return -EEXIST;
}

/* Watches directory rel. Returns 0 (new watch), -EEXIST (already watched
 * at this path), WATCHED_ELSEWHERE, or a negative errno (logged when it
 * degrades the watcher). */
static int
add_watch(struct watch *w, const char *rel)
{
	struct stat st;
	char *abs = abs_dir(w, rel);
	int r = 0, wd;

	if (abs == NULL)
		return -ENOMEM;
	if (lstat(abs, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		r = -ENOTDIR;
		goto out;
	}
	wd = inotifytools_wd_from_filename(abs);
	if (wd > 0) {
		struct watch_dir *d = wtab_find(&w->dirs, wd);
		if (d && d->dev == st.st_dev && d->ino == st.st_ino) {
			r = -EEXIST;
			goto out;
		}
		forget_wd(w, wd); /* a stale record would shadow the new one */
	}
	for (;;) {
		int err = w->fail_add;
		if (err == 0 && inotifytools_watch_file(abs, (int)w->mask))
			break;
		if (err == 0)
			err = inotifytools_error();
		if (err == EINVAL && (w->mask & IN_MASK_CREATE)) {
			w->mask &= ~(uint32_t)IN_MASK_CREATE; /* kernel < 4.18 */
			continue;
		}
		if (err == EEXIST)
			r = adopt_moved(w, abs, &st);
		else if (err == ENOSPC || err == ENOMEM)
			degrade(w, abs, err);
		else
			log_debug("cannot watch %s: %s", abs, strerror(err));
		if (r == 0)
			r = err ? -err : -EIO;
		goto out;
	}
	wd = inotifytools_wd_from_filename(abs);
	if (wd < 0 || wtab_add(&w->dirs, wd, &st) < 0) {
		log_error("cannot record the watch of %s", abs);
		w->want_rebuild = 1;
		r = -EIO;
	}
out:
	free(abs);
	return r;
}

/* ---- scanning directories ---- */

/* Scans directory top (already watched) breadth-first: watches the
 * directories found and, unless silent, reports everything in it as new.
 * Parents are reported before their content. */
static void
scan_tree(struct watch *w, const char *top, int silent)
{
	char **q = NULL;
	size_t qn = 0, qcap = 0;
	char *first = strdup(top);

	if (first == NULL)
		goto oom;
	q = malloc(sizeof(*q));
	if (q == NULL) {
		free(first);
		goto oom;
	}
	q[qn++] = first;
	qcap = 1;
	for (size_t qi = 0; qi < qn; qi++) {
		char *dir = q[qi], *abs = abs_dir(w, dir);
		DIR *d = abs ? opendir(abs) : NULL;
		struct dirent *e;

		free(abs);
		while (d != NULL && (e = readdir(d)) != NULL) {
			struct stat st;
			char *rel;
			int r;

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (fstatat(dirfd(d), e->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if ((rel = join(dir, e->d_name)) == NULL)
				goto oom_in_loop;
			if (path_is_ignored(w, rel)) {
				free(rel);
				continue;
			}
			if (!S_ISDIR(st.st_mode)) {
				if (silent)
					;
				else if (S_ISLNK(st.st_mode))
					watch_emit(w, WATCH_SYMLINK, rel, NULL, 0);
				else
					watch_pend_touch(w, rel, P_CHANGED, 0, 0);
				free(rel);
				continue;
			}
			r = add_watch(w, rel);
			if (r == -EEXIST || r == -ENOENT || r == -ENOTDIR ||
			    (silent && w->degraded)) {
				free(rel);
				continue;
			}
			if (!silent)
				watch_emit(w, WATCH_CREATED_DIR, rel, NULL, 1);
			if (r == WATCHED_ELSEWHERE) {
				if (!silent)
					watch_emit(w, WATCH_RESCAN, rel, NULL, 1);
				free(rel);
				continue;
			}
			if (qn == qcap) {
				char **nq = realloc(q, 2 * qcap * sizeof(*q));
				if (nq == NULL) {
					free(rel);
					goto oom_in_loop;
				}
				q = nq;
				qcap *= 2;
			}
			q[qn++] = rel;
		}
		if (d != NULL)
			closedir(d);
		continue;
oom_in_loop:
		closedir(d);
		for (size_t i = qi; i < qn; i++)
			free(q[i]);
		free(q);
		goto oom;
	}
	for (size_t i = 0; i < qn; i++)
		free(q[i]);
	free(q);
	return;
oom:
	log_error("cannot scan %s: out of memory", *top ? top : "root");
	w->want_rescan = 1;
}

/* Starts the library, watches the root and everything under it. Returns 0
 * (possibly degraded) or a negative errno. */
static int
lib_start(struct watch *w)
{
	int r = lib_init(w);

	if (r < 0)
		return r;
	r = add_watch(w, "");
	if (r < 0 && !w->degraded) {
		log_error("cannot watch %s: %s", w->root, strerror(-r));
		lib_stop(w);
		return r;
	}
	w->root_wd = inotifytools_wd_from_filename(w->rootslash);
	scan_tree(w, "", 1);
	return 0;
}

/* Restarts the library from scratch (too many dead records, or its path
 * table out of step); what happened meanwhile is found by a rescan. */
void
watch_ino_rebuild(struct watch *w)
{
	log_info("restarting inotify watches of %s", w->root);
	w->want_rebuild = 0;
	lib_stop(w);
	watch_moves_clear(w);
	if (lib_start(w) < 0)
		degrade(w, w->root, EIO);
	w->want_rescan = 1;
}

/* ---- event handlers ---- */

static void
on_new_dir(struct watch *w, const char *path)
{
	int r = add_watch(w, path);

	if (r == -EEXIST || r == -ENOENT || r == -ENOTDIR)
		return;
	watch_emit(w, WATCH_CREATED_DIR, path, NULL, 1);
	if (r == WATCHED_ELSEWHERE)
		watch_emit(w, WATCH_RESCAN, path, NULL, 1);
	else
		scan_tree(w, path, 0);
}

/* A non-directory appeared at path (created, or moved in if moved_in). */
static void
on_new_entry(struct watch *w, const char *path, int moved_in)
{
	struct stat st;
	char *abs;
	int r;

	if (asprintf(&abs, "%s%s", w->rootslash, path) < 0) {
		w->want_rescan = 1;
		return;
	}
	r = lstat(abs, &st);
	free(abs);
	if (r < 0)
		return; /* gone already; its delete follows */
	if (S_ISDIR(st.st_mode))
		on_new_dir(w, path);
	else if (S_ISLNK(st.st_mode))
		watch_emit(w, WATCH_SYMLINK, path, NULL, 0);
	else if (S_ISREG(st.st_mode) && st.st_nlink == 1 && !moved_in)
		watch_pend_touch(w, path, P_CHANGED, 0, 1);
	else
		watch_pend_touch(w, path, P_CHANGED, 0, 0);
}

static void
on_rename(struct watch *w, const char *old, const char *new, int is_dir)
{
	watch_emit(w, WATCH_RENAMED, new, old, is_dir);
	watch_pend_rename(w, old, new, is_dir);
	if (!is_dir)
		return;
	char *oabs = abs_dir(w, old), *nabs = abs_dir(w, new);
	if (oabs && nabs) {
		int wd = inotifytools_wd_from_filename(nabs);
		if (wd > 0) /* it replaced an empty directory */
			forget_wd(w, wd);
		rename_records(w, oabs, nabs);
	} else {
		w->want_rebuild = 1;
	}
	free(oabs);
	free(nabs);
}

static void
on_moved_to(struct watch *w, const char *path, uint32_t cookie, int is_dir)
{
	char *old = cookie ? watch_move_take(w, cookie) : NULL;

	watch_moves_expire_at(w, path);
	if (old != NULL)
		on_rename(w, old, path, is_dir);
	else if (is_dir)
		on_new_dir(w, path);
	else
		on_new_entry(w, path, 1);
	free(old);
}

static void
on_root_event(struct watch *w, uint32_t mask)
{
	if (mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED)) {
		log_warn("watched folder %s was moved, deleted or unmounted",
		    w->root);
		w->want_rescan = 1;
	}
}

/* Returns the path of the event's entry relative to the root (caller
 * frees), or NULL if it is not under the root. */
static char *
event_path(const struct watch *w, const struct inotify_event *ev)
{
	const char *dir = inotifytools_filename_from_wd(ev->wd);
	char *s;

	if (strncmp(dir, w->rootslash, w->rslen) != 0)
		return NULL;
	if (asprintf(&s, "%s%s", dir + w->rslen, ev->name) < 0)
		return NULL;
	return s;
}

static void
handle_event(struct watch *w, const struct inotify_event *ev)
{
	uint32_t m = ev->mask;
	int is_dir = (m & IN_ISDIR) != 0;
	struct watch_dir *d;
	char *path;

	if (m & IN_Q_OVERFLOW) {
		log_warn("inotify queue overflowed: rescanning %s", w->root);
		w->want_rescan = 1;
		return;
	}
	if ((d = wtab_find(&w->dirs, ev->wd)) == NULL)
		return; /* a watch we already dropped */
	if (m & IN_IGNORED) {
		wtab_del(&w->dirs, d);
		dead_rename(w, ev->wd);
	}
	if (ev->wd == w->root_wd)
		on_root_event(w, m);
	if (ev->len == 0 || ev->name[0] == '\0')
		return; /* about the directory itself: its parent reports it */
	if ((path = event_path(w, ev)) == NULL)
		return;
	if (path_is_ignored(w, path))
		;
	else if (m & IN_MOVED_FROM)
		watch_move_add(w, path, ev->cookie, is_dir);
	else if (m & IN_MOVED_TO)
		on_moved_to(w, path, ev->cookie, is_dir);
	else if (m & IN_CREATE) {
		watch_moves_expire_at(w, path);
		if (is_dir)
			on_new_dir(w, path);
		else
			on_new_entry(w, path, 0);
	} else if (m & IN_DELETE) {
		watch_emit(w, WATCH_DELETED, path, NULL, is_dir);
		watch_pend_drop(w, path, is_dir);
	} else if (m & IN_CLOSE_WRITE)
		watch_pend_touch(w, path, P_CHANGED, 0, 0);
	else if (m & IN_ATTRIB)
		watch_pend_touch(w, path, P_ATTRIB, is_dir, 0);
	free(path);
}

int
watch_ino_read(struct watch *w)
{
	int n = 0;

	w->more = 0;
	if (w->ifd < 0)
		return 0;
	for (; n < READ_BATCH; n++) {
		struct inotify_event *ev = inotifytools_next_events(0, 1);
		if (ev == NULL)
			break;
		handle_event(w, ev);
	}
	if (n == READ_BATCH) {
		w->more = 1;
		return 0;
	}
	int err = inotifytools_error();
	if (err != 0 && err != EINTR && err != EAGAIN) {
		log_error("cannot read inotify events: %s", strerror(err));
		return -err;
	}
	return 0;
}


int
watch_ino_start(struct watch *w)
{
	return lib_start(w);
}

void
watch_ino_stop(struct watch *w)
{
	lib_stop(w);
}

/* A directory left the folder: stop watching it and everything under it. */
void
watch_ino_forget_dir(struct watch *w, const char *rel)
{
	char *abs = abs_dir(w, rel);

	if (abs != NULL)
		forget_tree(w, abs);
	else
		w->want_rebuild = 1;
	free(abs);
}

void
watch_ino_inject(struct watch *w, uint32_t mask)
{
	struct inotify_event ev = { .wd = -1, .mask = mask };

	handle_event(w, &ev);
}

/* Takes the libinotifytools singleton. Returns 0 or -EBUSY. */
int
watch_ino_claim(void)
{
	if (watch_taken)
		return -EBUSY;
	watch_taken = 1;
	return 0;
}

void
watch_ino_release(void)
{
	watch_taken = 0;
}

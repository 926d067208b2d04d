/* watch.c -- see watch.h. Raw inotify events come from libinotifytools and
 * are turned into watch_event changes here.
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
 *   MAX_DEAD, the library is restarted and the tree rescanned, which keeps
 *   memory bounded.
 * - inotifytools_replace_filename() re-keys its tree while walking it and
 *   misses about half the entries of a large subtree, so after a directory
 *   rename we check every watch we know and repeat the replace until none
 *   keeps the old prefix.
 * - Adding a watch for an inode already watched returns the existing wd
 *   and leaves a duplicate record; IN_MASK_CREATE turns that into EEXIST.
 * - Its reads go through select(), so its descriptor must stay below
 *   FD_SETSIZE: create the watcher early.
 *
 * Our own table (struct wtab) lists the live wds, sorted, with the
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
#include "agent/loop.h"
#include "sync/watch.h"

#define TMP_PREFIX     ".xmpp-sync-tmp."
#define DEAD_PREFIX    "\001dead/"
#define DEBOUNCE_MS    200
#define MOVE_MS        100     /* wait for the MOVED_TO of a MOVED_FROM */
#define OPEN_WAIT_MS   30000   /* longest wait for a created file's close */
#define MAX_PENDING    100000  /* debounced paths plus unpaired moves */
#define MAX_DEAD       4096    /* dead library records before a restart */
#define READ_BATCH     8192    /* events per call before yielding */
#define MAX_INOTIFY_FDS 256

#define WATCH_MASK (IN_CLOSE_WRITE | IN_ATTRIB | IN_CREATE | IN_DELETE | \
	IN_DELETE_SELF | IN_MOVED_FROM | IN_MOVED_TO | IN_MOVE_SELF |	\
	IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_MASK_CREATE)

/* add_watch() result: the inode was watched under another name; the
 * records were moved to the new name. */
#define WATCHED_ELSEWHERE (-EALREADY)

enum { P_CHANGED = 1, P_ATTRIB = 2 };

struct wdir {
	int wd;
	int gone;              /* tombstone, removed on compaction */
	dev_t dev;
	ino_t ino;
};

struct wtab {
	struct wdir *v;
	size_t n, cap, ngone;
};

/* A debounced change: in the hash table by path, and in one of two lists
 * ordered by due time (every entry of a list gets the same delay, so
 * appending keeps the order). */
struct pend {
	struct pend *hnext, *prev, *next;
	char *path;
	int64_t due;
	unsigned flags;
	int is_dir;
	int waiting;           /* created, waiting for its close */
};

struct plist {
	struct pend *head, *tail;
};

/* An IN_MOVED_FROM waiting for its IN_MOVED_TO. */
struct move {
	struct move *next;
	char *path;
	uint32_t cookie;
	int is_dir;
	int64_t due;
};

struct watch {
	char *root;            /* realpath of the root */
	char *rootslash;       /* root with one trailing '/' */
	size_t rslen;
	char **ignore;
	size_t nignore;
	int epfd;              /* what watch_fd() returns */
	int ifd;               /* the library's inotify descriptor */
	uint32_t mask;
	int root_wd;
	long debounce_ms;
	size_t max_pending;
	size_t max_dead;
	int fail_add;          /* test hook: errno for every watch add */

	struct wtab dirs;
	size_t lib_dead;

	struct pend **bucket;
	size_t nbucket, npend;
	struct plist due, wait;

	struct move *mhead, *mtail;
	size_t nmoves;

	int degraded, degraded_sent;
	int want_rescan, want_rebuild, more;

	watch_event_cb cb;     /* set during watch_process()/flush_due() */
	void *cbarg;
	int nsent;
};

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

static int
under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The ignore rule: a pattern without '/' is matched against the name of
 * each component of the path, one with '/' against each leading part of
 * the path (the entry and its parents); names starting with TMP_PREFIX are
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
		if (strncmp(buf + start, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
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

static void
emit(struct watch *w, enum watch_kind kind, const char *path,
    const char *old, int is_dir)
{
	struct watch_event ev = { kind, path, old, is_dir };

	if (w->cb == NULL)
		return;
	w->cb(&ev, w->cbarg);
	w->nsent++;
}

/* ---- our table of live wds ---- */

static struct wdir *
wtab_find(struct wtab *t, int wd)
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
wtab_add(struct wtab *t, int wd, const struct stat *st)
{
	size_t i = t->n;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct wdir *v = realloc(t->v, cap * sizeof(*v));
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
	t->v[i] = (struct wdir){ wd, 0, st->st_dev, st->st_ino };
	return 0;
}

static void
wtab_del(struct wtab *t, struct wdir *d)
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

/* ---- debounced changes ---- */

static size_t
pend_hash(const struct watch *w, const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h & (w->nbucket - 1);
}

static struct pend *
pend_get(const struct watch *w, const char *path)
{
	for (struct pend *p = w->bucket[pend_hash(w, path)]; p; p = p->hnext)
		if (strcmp(p->path, path) == 0)
			return p;
	return NULL;
}

static void
hash_unlink(struct watch *w, struct pend *p)
{
	struct pend **pp = &w->bucket[pend_hash(w, p->path)];

	while (*pp != p)
		pp = &(*pp)->hnext;
	*pp = p->hnext;
}

static void
hash_link(struct watch *w, struct pend *p)
{
	size_t b = pend_hash(w, p->path);

	p->hnext = w->bucket[b];
	w->bucket[b] = p;
}

static void
hash_grow(struct watch *w)
{
	size_t old = w->nbucket;
	struct pend **ob = w->bucket;
	struct pend **nb = calloc(old * 2, sizeof(*nb));

	if (nb == NULL)
		return; /* longer chains, still correct */
	w->bucket = nb;
	w->nbucket = old * 2;
	for (size_t i = 0; i < old; i++) {
		for (struct pend *p = ob[i], *n; p; p = n) {
			n = p->hnext;
			hash_link(w, p);
		}
	}
	free(ob);
}

static void
list_unlink(struct plist *l, struct pend *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		l->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		l->tail = p->prev;
	p->prev = p->next = NULL;
}

static void
list_append(struct plist *l, struct pend *p)
{
	p->prev = l->tail;
	p->next = NULL;
	if (l->tail)
		l->tail->next = p;
	else
		l->head = p;
	l->tail = p;
}

static void
pend_free(struct watch *w, struct pend *p)
{
	hash_unlink(w, p);
	list_unlink(p->waiting ? &w->wait : &w->due, p);
	w->npend--;
	free(p->path);
	free(p);
}

static void
pend_clear(struct watch *w)
{
	while (w->due.head)
		pend_free(w, w->due.head);
	while (w->wait.head)
		pend_free(w, w->wait.head);
}

/* Too much is pending: drop it all and ask for a rescan instead. */
static void
pend_overflow(struct watch *w)
{
	log_warn("more than %zu changes pending: dropping them and rescanning",
	    w->max_pending);
	pend_clear(w);
	w->want_rescan = 1;
}

/* Records flags for path. waiting: a file was just created and is
 * probably still being written; it waits for IN_CLOSE_WRITE. An ATTRIB
 * does not end that wait, a close does. */
static void
pend_touch(struct watch *w, const char *path, unsigned flags, int is_dir,
    int waiting)
{
	struct pend *p = pend_get(w, path);
	int64_t now = loop_now_ms();

	if (p == NULL) {
		if (w->npend + w->nmoves >= w->max_pending) {
			pend_overflow(w);
			return;
		}
		p = calloc(1, sizeof(*p));
		if (p == NULL || (p->path = strdup(path)) == NULL) {
			free(p);
			log_error("cannot queue change of %s: out of memory", path);
			w->want_rescan = 1;
			return;
		}
		hash_link(w, p);
		list_append(waiting ? &w->wait : &w->due, p);
		p->waiting = waiting;
		if (++w->npend > w->nbucket)
			hash_grow(w);
	} else if (!waiting && p->waiting && flags == P_ATTRIB) {
		p->flags |= flags; /* stays waiting, keeps its deadline */
		return;
	} else {
		list_unlink(p->waiting ? &w->wait : &w->due, p);
		list_append(waiting ? &w->wait : &w->due, p);
		p->waiting = waiting;
	}
	p->flags |= flags;
	p->is_dir = is_dir;
	p->due = now + (waiting ? OPEN_WAIT_MS : w->debounce_ms);
}

/* Drops pending changes for path, and under it if subtree. */
static void
pend_drop(struct watch *w, const char *path, int subtree)
{
	struct plist *lists[2] = { &w->due, &w->wait };

	for (int i = 0; i < 2; i++) {
		for (struct pend *p = lists[i]->head, *n; p; p = n) {
			n = p->next;
			if (subtree ? under(p->path, path) : !strcmp(p->path, path))
				pend_free(w, p);
		}
	}
}

/* Moves pending changes from old to new (and under it if subtree); a
 * change already pending at the new path absorbs the moved one. */
static void
pend_rename(struct watch *w, const char *old, const char *new, int subtree)
{
	struct plist *lists[2] = { &w->due, &w->wait };
	size_t olen = strlen(old);

	for (int i = 0; i < 2; i++) {
		for (struct pend *p = lists[i]->head, *n; p; p = n) {
			n = p->next;
			if (subtree ? !under(p->path, old) : strcmp(p->path, old))
				continue;
			char *np;
			if (asprintf(&np, "%s%s", new, p->path + olen) < 0) {
				pend_free(w, p);
				w->want_rescan = 1;
				continue;
			}
			struct pend *q = pend_get(w, np);
			if (q != NULL) {
				q->flags |= p->flags;
				pend_free(w, p);
				free(np);
				continue;
			}
			hash_unlink(w, p);
			free(p->path);
			p->path = np;
			hash_link(w, p);
		}
	}
}

static int64_t
pend_next_due(const struct watch *w)
{
	int64_t t = -1;

	if (w->due.head)
		t = w->due.head->due;
	if (w->wait.head && (t < 0 || w->wait.head->due < t))
		t = w->wait.head->due;
	return t;
}

static void
pend_flush(struct watch *w, int64_t now)
{
	for (;;) {
		struct pend *p = w->due.head;
		if (w->wait.head && (p == NULL || w->wait.head->due < p->due))
			p = w->wait.head;
		if (p == NULL || p->due > now)
			return;
		emit(w, (p->flags & P_CHANGED) ? WATCH_CHANGED : WATCH_ATTRIB,
		    p->path, NULL, p->is_dir);
		pend_free(w, p);
	}
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
	struct wdir *d = wtab_find(&w->dirs, wd);

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
		struct wdir *d = &w->dirs.v[i];
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
		struct wdir *d = wtab_find(&w->dirs, wd);
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
					emit(w, WATCH_SYMLINK, rel, NULL, 0);
				else
					pend_touch(w, rel, P_CHANGED, 0, 0);
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
				emit(w, WATCH_CREATED_DIR, rel, NULL, 1);
			if (r == WATCHED_ELSEWHERE) {
				if (!silent)
					emit(w, WATCH_RESCAN, rel, NULL, 1);
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
static void
rebuild(struct watch *w)
{
	log_info("restarting inotify watches of %s", w->root);
	w->want_rebuild = 0;
	lib_stop(w);
	while (w->mhead) {
		struct move *m = w->mhead;
		w->mhead = m->next;
		free(m->path);
		free(m);
	}
	w->mtail = NULL;
	w->nmoves = 0;
	if (lib_start(w) < 0)
		degrade(w, w->root, EIO);
	w->want_rescan = 1;
}

/* ---- moves ---- */

static void
move_free(struct watch *w, struct move *m, struct move *prev)
{
	if (prev)
		prev->next = m->next;
	else
		w->mhead = m->next;
	if (w->mtail == m)
		w->mtail = prev;
	w->nmoves--;
	free(m->path);
	free(m);
}

/* A MOVED_FROM whose MOVED_TO never came: the entry left the folder. */
static void
move_expire(struct watch *w, struct move *m, struct move *prev)
{
	emit(w, WATCH_DELETED, m->path, NULL, m->is_dir);
	pend_drop(w, m->path, m->is_dir);
	if (m->is_dir) {
		char *abs = abs_dir(w, m->path);
		if (abs != NULL)
			forget_tree(w, abs);
		else
			w->want_rebuild = 1;
		free(abs);
	}
	move_free(w, m, prev);
}

static void
moves_expire_due(struct watch *w, int64_t now)
{
	while (w->mhead && w->mhead->due <= now)
		move_expire(w, w->mhead, NULL);
}

/* Something new appears at path: an earlier move away from path is over. */
static void
moves_expire_at(struct watch *w, const char *path)
{
	for (struct move *m = w->mhead, *prev = NULL, *n; m; m = n) {
		n = m->next;
		if (strcmp(m->path, path) == 0)
			move_expire(w, m, prev);
		else
			prev = m;
	}
}

static void
move_add(struct watch *w, const char *path, uint32_t cookie, int is_dir)
{
	struct move *m;

	if (w->npend + w->nmoves >= w->max_pending && w->mhead)
		move_expire(w, w->mhead, NULL);
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->path = strdup(path)) == NULL) {
		free(m);
		log_error("cannot track move of %s: out of memory", path);
		w->want_rebuild = 1;
		return;
	}
	m->cookie = cookie;
	m->is_dir = is_dir;
	m->due = loop_now_ms() + MOVE_MS;
	if (w->mtail)
		w->mtail->next = m;
	else
		w->mhead = m;
	w->mtail = m;
	w->nmoves++;
}

/* Takes the MOVED_FROM with this cookie out of the list. Returns its path
 * (caller frees) or NULL. */
static char *
move_take(struct watch *w, uint32_t cookie)
{
	for (struct move *m = w->mhead, *prev = NULL; m; prev = m, m = m->next) {
		if (m->cookie != cookie)
			continue;
		char *path = m->path;
		m->path = NULL;
		move_free(w, m, prev);
		return path;
	}
	return NULL;
}

/* ---- event handlers ---- */

static void
on_new_dir(struct watch *w, const char *path)
{
	int r = add_watch(w, path);

	if (r == -EEXIST || r == -ENOENT || r == -ENOTDIR)
		return;
	emit(w, WATCH_CREATED_DIR, path, NULL, 1);
	if (r == WATCHED_ELSEWHERE)
		emit(w, WATCH_RESCAN, path, NULL, 1);
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
		emit(w, WATCH_SYMLINK, path, NULL, 0);
	else if (S_ISREG(st.st_mode) && st.st_nlink == 1 && !moved_in)
		pend_touch(w, path, P_CHANGED, 0, 1);
	else
		pend_touch(w, path, P_CHANGED, 0, 0);
}

static void
on_rename(struct watch *w, const char *old, const char *new, int is_dir)
{
	emit(w, WATCH_RENAMED, new, old, is_dir);
	pend_rename(w, old, new, is_dir);
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
	char *old = cookie ? move_take(w, cookie) : NULL;

	moves_expire_at(w, path);
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
	struct wdir *d;
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
		move_add(w, path, ev->cookie, is_dir);
	else if (m & IN_MOVED_TO)
		on_moved_to(w, path, ev->cookie, is_dir);
	else if (m & IN_CREATE) {
		moves_expire_at(w, path);
		if (is_dir)
			on_new_dir(w, path);
		else
			on_new_entry(w, path, 0);
	} else if (m & IN_DELETE) {
		emit(w, WATCH_DELETED, path, NULL, is_dir);
		pend_drop(w, path, is_dir);
	} else if (m & IN_CLOSE_WRITE)
		pend_touch(w, path, P_CHANGED, 0, 0);
	else if (m & IN_ATTRIB)
		pend_touch(w, path, P_ATTRIB, is_dir, 0);
	free(path);
}

/* ---- the loop side ---- */

static void
send_flags(struct watch *w)
{
	if (w->degraded && !w->degraded_sent) {
		w->degraded_sent = 1;
		emit(w, WATCH_DEGRADED, "", NULL, 1);
	}
	if (w->want_rescan) {
		w->want_rescan = 0;
		emit(w, WATCH_RESCAN, "", NULL, 1);
	}
}

static int
read_events(struct watch *w)
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

static int
run(struct watch *w, int reading, watch_event_cb cb, void *arg)
{
	int r = 0;
	int64_t now;

	w->cb = cb;
	w->cbarg = arg;
	w->nsent = 0;
	send_flags(w);
	if (reading || w->more)
		r = read_events(w);
	now = loop_now_ms();
	moves_expire_due(w, now);
	if (w->want_rebuild && !w->more)
		rebuild(w);
	pend_flush(w, now);
	send_flags(w);
	w->cb = NULL;
	w->cbarg = NULL;
	return r < 0 ? r : w->nsent;
}

/* ---- public API ---- */

int
watch_new(const char *root, char *const *ignore, size_t nignore,
    struct watch **out)
{
	struct watch *w;
	struct stat st;
	int r = -ENOMEM;

	*out = NULL;
	if (watch_taken)
		return -EBUSY;
	if (stat(root, &st) < 0) {
		r = -errno;
		log_error("cannot watch %s: %s", root, strerror(errno));
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("cannot watch %s: not a directory", root);
		return -ENOTDIR;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->epfd = w->ifd = w->root_wd = -1;
	w->debounce_ms = DEBOUNCE_MS;
	w->max_pending = MAX_PENDING;
	w->max_dead = MAX_DEAD;
	w->nbucket = 256;
	if ((w->bucket = calloc(w->nbucket, sizeof(*w->bucket))) == NULL)
		goto fail;
	if ((w->root = realpath(root, NULL)) == NULL) {
		r = -errno;
		goto fail;
	}
	if (asprintf(&w->rootslash, "%s%s", w->root,
	    strcmp(w->root, "/") ? "/" : "") < 0) {
		w->rootslash = NULL;
		goto fail;
	}
	w->rslen = strlen(w->rootslash);
	if (nignore && (w->ignore = calloc(nignore, sizeof(char *))) == NULL)
		goto fail;
	for (; w->nignore < nignore; w->nignore++)
		if ((w->ignore[w->nignore] = strdup(ignore[w->nignore])) == NULL)
			goto fail;
	if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		r = -errno;
		log_error("cannot create epoll descriptor: %s", strerror(errno));
		goto fail;
	}
	if ((r = lib_start(w)) < 0)
		goto fail;
	watch_taken = 1;
	*out = w;
	return 0;
fail:
	watch_taken = 1; /* watch_free() releases it */
	watch_free(w);
	return r;
}

void
watch_free(struct watch *w)
{
	if (w == NULL)
		return;
	lib_stop(w);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->bucket)
		pend_clear(w);
	while (w->mhead)
		move_free(w, w->mhead, NULL);
	free(w->bucket);
	free(w->dirs.v);
	for (size_t i = 0; i < w->nignore; i++)
		free(w->ignore[i]);
	free(w->ignore);
	free(w->root);
	free(w->rootslash);
	free(w);
	watch_taken = 0;
}

int
watch_fd(const struct watch *w)
{
	return w->epfd;
}

void
watch_set_debounce_ms(struct watch *w, long ms)
{
	w->debounce_ms = ms < 0 ? 0 : ms > 60000 ? 60000 : ms;
}

int
watch_process(struct watch *w, watch_event_cb cb, void *arg)
{
	return run(w, 1, cb, arg);
}

int
watch_flush_due(struct watch *w, watch_event_cb cb, void *arg)
{
	return run(w, 0, cb, arg);
}

long
watch_next_timeout_ms(const struct watch *w)
{
	int64_t t = pend_next_due(w), now;

	if (w->more || w->want_rescan || w->want_rebuild ||
	    (w->degraded && !w->degraded_sent))
		return 0;
	if (w->mhead && (t < 0 || w->mhead->due < t))
		t = w->mhead->due;
	if (t < 0)
		return -1;
	now = loop_now_ms();
	return t <= now ? 0 : (long)(t - now);
}

const char *
watch_kind_name(enum watch_kind kind)
{
	static const char *const names[] = {
		"changed", "created_dir", "deleted", "renamed", "attrib",
		"symlink", "rescan", "degraded",
	};

	if ((unsigned)kind < sizeof(names) / sizeof(names[0]))
		return names[kind];
	return "unknown";
}

int
watch_test_inject(struct watch *w, uint32_t mask, watch_event_cb cb,
    void *arg)
{
	struct inotify_event ev = { .wd = -1, .mask = mask };

	w->cb = cb;
	w->cbarg = arg;
	w->nsent = 0;
	handle_event(w, &ev);
	send_flags(w);
	w->cb = NULL;
	return w->nsent;
}

void
watch_test_limits(struct watch *w, size_t max_pending, size_t max_dead,
    int fail_add_errno)
{
	w->max_pending = max_pending;
	w->max_dead = max_dead;
	w->fail_add = fail_add_errno;
}

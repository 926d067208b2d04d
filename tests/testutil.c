/* testutil.c -- see testutil.h */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <strophe.h>

#include "tests/testutil.h"

int
tu_tmpdir(char *buf, size_t size)
{
	if (size < sizeof(TU_TMP_TEMPLATE))
		return -ENAMETOOLONG;
	memcpy(buf, TU_TMP_TEMPLATE, sizeof(TU_TMP_TEMPLATE));
	return mkdtemp(buf) == NULL ? -errno : 0;
}

/* ---- removal ------------------------------------------------------- */

static int rm_at(int dirfd, const char *name, const char *shown);

/* Removes everything in the directory open at fd (closed here). */
static int
rm_children(int fd, const char *shown)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	char sub[PATH_MAX];
	int r = 0, e;

	if (d == NULL) {
		e = -errno;
		close(fd);
		return e;
	}
	/* unlinking entries not yet read does not disturb readdir */
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", shown, de->d_name);
		if ((e = rm_at(dirfd(d), de->d_name, sub)) < 0 && r == 0)
			r = e;
	}
	if (errno != 0 && r == 0)
		r = -errno;
	closedir(d);
	return r;
}

static int
rm_at(int dirfd, const char *name, const char *shown)
{
	struct stat st;
	int fd, r;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode)) {
		/* st says it is a directory, and O_NOFOLLOW refuses a symlink
		 * swapped in since: we never leave the tree */
		if ((st.st_mode & 0700) != 0700)
			fchmodat(dirfd, name, (st.st_mode | 0700) & 07777, 0);
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		r = fd < 0 ? -errno : rm_children(fd, shown);
		if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && r == 0)
			r = -errno;
	} else if (unlinkat(dirfd, name, 0) < 0)
		r = -errno;
	else
		r = 0;
	if (r < 0 && r != -ENOENT)
		fprintf(stderr, "cannot remove %s: %s\n", shown, strerror(-r));
	return r == -ENOENT ? 0 : r;
}

int
tu_rmtree(const char *path)
{
	return rm_at(AT_FDCWD, path, path);
}

/* ---- files --------------------------------------------------------- */

int
tu_write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	const char *p = buf;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	int r = 0;

	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int
tu_read_file(const char *path, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	size_t n = 0, cap = 4096;
	char *b = NULL, *nb;
	ssize_t got;
	int r = 0;

	*buf = NULL;
	if (fd < 0)
		return -errno;
	for (;;) {
		if (b == NULL || n + 1 >= cap) {
			if (b != NULL)
				cap *= 2;
			if ((nb = realloc(b, cap)) == NULL) {
				r = -ENOMEM;
				break;
			}
			b = nb;
		}
		got = read(fd, b + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			r = got < 0 ? -errno : 0;
			break;
		}
		n += (size_t)got;
	}
	close(fd);
	if (r < 0) {
		free(b);
		return r;
	}
	b[n] = '\0';
	*buf = b;
	if (len)
		*len = n;
	return 0;
}

/* ---- building a tree ----------------------------------------------- */

static int
say(int r, const char *what, const char *path)
{
	fprintf(stderr, "tu_tree_make: cannot %s %s: %s\n", what, path,
	    strerror(-r));
	return r;
}

/* mkdir -p of the first len bytes of full (len: the whole string when it
 * is strlen(full)). Directories that exist are fine. */
static int
make_dirs(const char *full, size_t len)
{
	char p[PATH_MAX];
	struct stat st;

	if (len == 0)
		return 0;
	if (len >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, full, len);
	p[len] = '\0';
	for (char *s = p + 1;; s++) {
		int end = *s == '\0';
		if (*s != '/' && !end)
			continue;
		*s = '\0';
		if (mkdir(p, 0755) == 0) {
			if (chmod(p, 0755) < 0)	/* whatever the umask */
				return -errno;
		} else if (errno != EEXIST)
			return -errno;
		if (lstat(p, &st) < 0)
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		if (end)
			return 0;
		*s = '/';
	}
}

static int
set_mtime(const char *path, int64_t ns)
{
	struct timespec ts[2] = {
		{.tv_nsec = UTIME_OMIT},
		{.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000},
	};

	if (ts[1].tv_nsec < 0) {	/* before 1970: nsec must be positive */
		ts[1].tv_sec -= 1;
		ts[1].tv_nsec += 1000000000;
	}
	return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int
make_node(const char *root, const struct tu_node *n)
{
	char full[PATH_MAX];
	size_t len = strlen(n->path);
	const char *slash;
	int r;

	if (len == 0 || n->path[0] == '/')
		return say(-EINVAL, "make", n->path);
	if ((size_t)snprintf(full, sizeof(full), "%s/%s", root, n->path) >=
	    sizeof(full))
		return say(-ENAMETOOLONG, "make", n->path);
	if (n->path[len - 1] == '/') {
		/* modes and times come later, after the children */
		if ((r = make_dirs(full, strlen(full) - 1)) < 0)
			return say(r, "make directory", full);
		return 0;
	}
	slash = strrchr(full, '/');
	if ((r = make_dirs(full, (size_t)(slash - full))) < 0)
		return say(r, "make the parents of", full);
	if (n->link) {
		if (unlink(full) < 0 && errno != ENOENT)
			return say(-errno, "replace", full);
		if (symlink(n->link, full) < 0)
			return say(-errno, "make symlink", full);
	} else {
		const char *c = n->content ? n->content : "";
		if ((r = tu_write_file(full, c, strlen(c),
		    n->mode ? n->mode : 0644)) < 0)
			return say(r, "write", full);
	}
	if (n->mtime_ns && (r = set_mtime(full, n->mtime_ns)) < 0)
		return say(r, "set the mtime of", full);
	return 0;
}

static size_t
depth(const char *path)
{
	size_t d = 0;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

/* Directory nodes get their mode and time, deepest first. */
static int
finish_dirs(const char *root, const struct tu_node *nodes, size_t count)
{
	char full[PATH_MAX];
	size_t maxd = 0;
	int r;

	for (size_t i = 0; i < count; i++)
		if (depth(nodes[i].path) > maxd)
			maxd = depth(nodes[i].path);
	for (size_t d = maxd + 1; d-- > 0;) {
		for (size_t i = 0; i < count; i++) {	/* later rows win */
			const struct tu_node *n = &nodes[i];
			size_t len = strlen(n->path);
			if (n->path[len - 1] != '/' || depth(n->path) != d)
				continue;
			snprintf(full, sizeof(full), "%s/%.*s", root,
			    (int)(len - 1), n->path);
			if (chmod(full, n->mode ? n->mode : 0755) < 0)
				return say(-errno, "chmod", full);
			if (n->mtime_ns && (r = set_mtime(full, n->mtime_ns)) < 0)
				return say(r, "set the mtime of", full);
		}
	}
	return 0;
}

int
tu_tree_make(const char *root, const struct tu_node *nodes, size_t count)
{
	int r;

	for (size_t i = 0; i < count; i++)
		if ((r = make_node(root, &nodes[i])) < 0)
			return r;
	return finish_dirs(root, nodes, count);
}

/* ---- comparing trees ----------------------------------------------- */

struct cmp {
	int flags;
	char *why;
	size_t whylen;
};

static int
differ(struct cmp *c, int r, const char *rel, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->why == NULL || c->whylen == 0)
		return r;
	n = snprintf(c->why, c->whylen, "%s: ", *rel ? rel : ".");
	if (n >= 0 && (size_t)n < c->whylen) {
		va_start(ap, fmt);
		vsnprintf(c->why + n, c->whylen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return r;
}

static int
no_dots(const struct dirent *de)
{
	return strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
}

static int
by_bytes(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void
free_list(struct dirent **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int cmp_dir(struct cmp *c, const char *a, const char *b,
    const char *rel);

static int
cmp_file(struct cmp *c, const char *a, const char *b, const char *rel)
{
	char *da, *db;
	size_t la, lb;
	int r;

	if ((r = tu_read_file(a, &da, &la)) < 0)
		return differ(c, r, rel, "cannot read %s: %s", a, strerror(-r));
	if ((r = tu_read_file(b, &db, &lb)) < 0) {
		free(da);
		return differ(c, r, rel, "cannot read %s: %s", b, strerror(-r));
	}
	if (la != lb)
		r = differ(c, 1, rel, "size %zu, want %zu", lb, la);
	else if (memcmp(da, db, la) != 0)
		r = differ(c, 1, rel, "content differs");
	free(da);
	free(db);
	return r;
}

static int
cmp_link(struct cmp *c, const char *a, const char *b, const char *rel)
{
	char ta[PATH_MAX], tb[PATH_MAX];
	ssize_t na, nb;
	int e;

	if ((na = readlink(a, ta, sizeof(ta) - 1)) < 0 ||
	    (nb = readlink(b, tb, sizeof(tb) - 1)) < 0) {
		e = errno;
		return differ(c, -e, rel, "readlink: %s", strerror(e));
	}
	ta[na] = tb[nb] = '\0';
	return strcmp(ta, tb) == 0 ? 0 :
	    differ(c, 1, rel, "symlink to \"%s\", want \"%s\"", tb, ta);
}

static char
type_of(mode_t m)
{
	return S_ISREG(m) ? 'f' : S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : '?';
}

static int
cmp_entry(struct cmp *c, const char *a, const char *b, const char *rel)
{
	struct stat sa, sb;
	const char *bad = NULL;
	int e;

	if (lstat(a, &sa) < 0)
		bad = a;
	else if (lstat(b, &sb) < 0)
		bad = b;
	if (bad) {
		e = errno;
		return differ(c, -e, rel, "lstat %s: %s", bad, strerror(e));
	}
	if (type_of(sa.st_mode) != type_of(sb.st_mode) ||
	    type_of(sa.st_mode) == '?')
		return differ(c, 1, rel, "type %c, want %c",
		    type_of(sb.st_mode), type_of(sa.st_mode));
	if ((c->flags & TU_CMP_MODE) && !S_ISLNK(sa.st_mode) &&
	    (sa.st_mode & 07777) != (sb.st_mode & 07777))
		return differ(c, 1, rel, "mode %04o, want %04o",
		    (unsigned)(sb.st_mode & 07777), (unsigned)(sa.st_mode & 07777));
	if ((c->flags & TU_CMP_MTIME) &&
	    (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec ||
	    sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec))
		return differ(c, 1, rel, "mtime %lld.%09ld, want %lld.%09ld",
		    (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec,
		    (long long)sa.st_mtim.tv_sec, sa.st_mtim.tv_nsec);
	if (S_ISREG(sa.st_mode))
		return cmp_file(c, a, b, rel);
	if (S_ISLNK(sa.st_mode))
		return cmp_link(c, a, b, rel);
	return cmp_dir(c, a, b, rel);
}

/* Walks the two sorted listings side by side. */
static int
cmp_lists(struct cmp *c, const char *a, const char *b, const char *rel,
    struct dirent **la, int na, struct dirent **lb, int nb)
{
	char pa[PATH_MAX], pb[PATH_MAX], pr[PATH_MAX];
	int i = 0, j = 0, r = 0;

	while (r == 0 && (i < na || j < nb)) {
		int d = i == na ? 1 : j == nb ? -1 :
		    strcmp(la[i]->d_name, lb[j]->d_name);
		const char *name = d <= 0 ? la[i]->d_name : lb[j]->d_name;

		snprintf(pr, sizeof(pr), "%s%s%s", rel, *rel ? "/" : "", name);
		if (d < 0)
			r = differ(c, 1, pr, "missing from %s", b);
		else if (d > 0)
			r = differ(c, 1, pr, "not in %s", a);
		else {
			snprintf(pa, sizeof(pa), "%s/%s", a, name);
			snprintf(pb, sizeof(pb), "%s/%s", b, name);
			r = cmp_entry(c, pa, pb, pr);
		}
		i += d <= 0;
		j += d >= 0;
	}
	return r;
}

static int
cmp_dir(struct cmp *c, const char *a, const char *b, const char *rel)
{
	struct dirent **la = NULL, **lb = NULL;
	int na, nb, r, e;

	if ((na = scandir(a, &la, no_dots, by_bytes)) < 0) {
		e = errno;
		return differ(c, -e, rel, "cannot list %s: %s", a, strerror(e));
	}
	if ((nb = scandir(b, &lb, no_dots, by_bytes)) < 0) {
		e = errno;
		free_list(la, na);
		return differ(c, -e, rel, "cannot list %s: %s", b, strerror(e));
	}
	r = cmp_lists(c, a, b, rel, la, na, lb, nb);
	free_list(la, na);
	free_list(lb, nb);
	return r;
}

int
tu_tree_compare(const char *a, const char *b, int flags, char *why,
    size_t whylen)
{
	struct cmp c = {.flags = flags, .why = why, .whylen = whylen};

	if (why && whylen)
		why[0] = '\0';
	return cmp_dir(&c, a, b, "");
}

/* ---- stanzas ---------------------------------------------------------- */

static xmpp_ctx_t *tu_ctx;
static xmpp_stanza_t *tu_held;

xmpp_ctx_t *
tu_xmpp_ctx(void)
{
	if (tu_ctx == NULL) {
		xmpp_initialize();
		tu_ctx = xmpp_ctx_new(NULL, NULL);
	}
	return tu_ctx;
}

xmpp_stanza_t *
tu_stanza_parse(const char *xml)
{
	if (tu_held)
		xmpp_stanza_release(tu_held);
	tu_held = xmpp_stanza_new_from_string(tu_xmpp_ctx(), xml);
	return tu_held;
}

void
tu_xmpp_done(void)
{
	if (tu_held)
		xmpp_stanza_release(tu_held);
	tu_held = NULL;
	if (tu_ctx) {
		xmpp_ctx_free(tu_ctx);
		xmpp_shutdown();
	}
	tu_ctx = NULL;
}

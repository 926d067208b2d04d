/* apply.c -- the applier's context and the helpers its operations share:
 * path checks, parent directories, attributes, records, removal of
 * subtrees; and the manifest. See apply.h and apply_int.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/log.h"
#include "store/store.h"
#include "sync/apply_int.h"
#include "sync/chunk.h"
#include "sync/hashfile.h"
#include "sync/path.h"
#include "agent/util.h"

#define ESCAPED_MAX 160		/* bytes of a refused path shown in a log */
#define RM_MAX_DEPTH 1024	/* directory levels apply_rm_tree descends */
#define RM_PASSES 3		/* readdir passes before a directory is empty */

static int batch_flush(struct apply *a, int lazy);

/* ---- context --------------------------------------------------------- */

static void
free_ignore(struct apply *a)
{
	for (size_t i = 0; i < a->nignore; i++)
		free(a->ignore[i]);
	free(a->ignore);
}

static int
copy_ignore(struct apply *a, const char *const *ignore, size_t n)
{
	if (n == 0)
		return 0;
	if ((a->ignore = calloc(n, sizeof(*a->ignore))) == NULL)
		return -ENOMEM;
	for (a->nignore = 0; a->nignore < n; a->nignore++)
		if ((a->ignore[a->nignore] = strdup(ignore[a->nignore])) ==
		    NULL)
			return -ENOMEM;
	return 0;
}

int
apply_open(const char *root, struct store *st, const char *const *ignore,
    size_t nignore, struct apply **out)
{
	struct apply *a;
	int r;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -ENOMEM;
	a->rootfd = -1;
	a->st = st;
	a->max_size = APPLY_MAX_SIZE_DEFAULT;
	if ((a->root = strdup(root)) == NULL ||
	    (r = copy_ignore(a, ignore, nignore)) < 0) {
		apply_free(a);
		return -ENOMEM;
	}
	if ((a->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = -errno;
		log_error("cannot open %s: %s", root, strerror(-r));
		apply_free(a);
		return r;
	}
	*out = a;
	return 0;
}

void
apply_free(struct apply *a)
{
	if (a && a->batch_depth > 0) {
		a->batch_depth = 0;
		batch_flush(a, 0);
	}
	if (a)
		free(a->dirs);
	if (a == NULL)
		return;
	if (a->rootfd >= 0)
		close(a->rootfd);
	apply_leftovers_free(a);
	free_ignore(a);
	free(a->root);
	free(a);
}

void
apply_set_max_size(struct apply *a, uint64_t max)
{
	a->max_size = max ? max : APPLY_MAX_SIZE_DEFAULT;
}

void
apply_set_versions(struct apply *a, unsigned days)
{
	a->versions_days = days;
}

void
apply_set_local_seq(struct apply *a, int64_t seq)
{
	a->local_seq = seq;
}

int
apply_manifest(struct apply *a, const char *after, size_t max,
    int (*cb)(const struct store_file *f, void *arg), void *arg)
{
	return store_file_list(a->st, after, max, cb, arg);
}

/* ---- checks and messages --------------------------------------------- */

/* A refused path may hold any byte: show it with \xNN escapes, cut. */
static const char *
escape(char *buf, size_t size, const char *p)
{
	size_t o = 0;

	for (; p && *p && o + 8 < size; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c >= 0x7f || c == '\\')
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	snprintf(buf + o, size - o, "%s", p && *p ? "..." : "");
	return buf;
}

int
apply_check(const char *what, const char *path)
{
	char esc[ESCAPED_MAX];

	if (path_check_synced(path) == 0)
		return 0;
	log_warn("refusing to %s \"%s\": not a clean relative path, or a "
	    "temp file name", what, escape(esc, sizeof(esc), path));
	return -EINVAL;
}

int
apply_check_ignored(struct apply *a, const char *what, const char *path,
    int is_dir)
{
	if (!path_ignored((const char *const *)a->ignore, a->nignore, path,
	    is_dir))
		return 0;
	log_info("refusing to %s %s: ignored here", what, path);
	return -EPERM;
}

int
apply_fail(const char *what, const char *path, int r)
{
	if (r == -ELOOP || r == -ENOTDIR || r == -EXDEV)
		log_warn("refusing to %s %s: a symlink or file is in the way",
		    what, path);
	else
		log_error("cannot %s %s: %s", what, path, strerror(-r));
	return r;
}

/* ---- the file system ------------------------------------------------- */

int
apply_parent(struct apply *a, const char *path, const char **name)
{
	int fd = path_open_parent(a->rootfd, path, name), dfd;

	if (fd < 0)
		return fd;
	/* path_open_parent gives an O_PATH descriptor, which fsync refuses */
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		dfd = -errno;
	close(fd);
	return dfd;
}

int
apply_lstat(int dfd, const char *name, struct stat *st)
{
	return fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* Remembers directory dfd for the batch's next flush (once per
 * directory). Returns 0, or -errno when it cannot (the caller fsyncs). */
static int
dir_remember(struct apply *a, int dfd)
{
	struct stat st;
	int fd;

	if (fstat(dfd, &st) < 0)
		return -errno;
	for (size_t i = 0; i < a->ndirs; i++)
		if (a->dirs[i].dev == st.st_dev && a->dirs[i].ino == st.st_ino)
			return 0;
	if (a->ndirs == APPLY_BATCH_DIRS ||
	    util_grow(&a->dirs, a->ndirs + 1, &a->capdirs, 16) < 0)
		return -ENOMEM;
	if ((fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -errno;
	a->dirs[a->ndirs++] = (struct apply_dirsync){st.st_dev, st.st_ino, fd};
	return 0;
}

int
apply_fsync_dir(struct apply *a, int dfd, const char *path)
{
	if (a->batch_depth > 0 && dir_remember(a, dfd) == 0)
		return 0;
	if (fsync(dfd) == 0)
		return 0;
	return apply_fail("sync the directory of", path, -errno);
}

/* ---- the install in progress ----------------------------------------- */

/* Appends one entry, "HEX SIZE LEN:PATH\n" (the length lets a path hold
 * any byte), to *v (size *cap, used *len). Returns 0 or -ENOMEM. */
static int
intent_add(char **v, size_t *len, size_t *cap, const char *path,
    uint64_t size, const uint8_t sha256[32])
{
	size_t pl = strlen(path), need = *len + 64 + 3 * 21 + pl + 2;
	char *nv;

	if (need > *cap) {
		if ((nv = realloc(*v, need * 2)) == NULL)
			return -ENOMEM;
		*v = nv;
		*cap = need * 2;
	}
	for (int i = 0; i < 32; i++)
		snprintf(*v + *len + 2 * i, 3, "%02x", sha256[i]);
	*len += 64;
	*len += (size_t)snprintf(*v + *len, *cap - *len, " %llu %zu:%s\n",
	    (unsigned long long)size, pl, path);
	return 0;
}

void
apply_intent_set_many(struct apply *a, const char *const *paths,
    const uint64_t *sizes, const uint8_t (*sha256)[32], size_t n)
{
	size_t len = 0, cap = 0;
	char *v = NULL;
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++)
		r = intent_add(&v, &len, &cap, paths[i], sizes[i], sha256[i]);
	if (r == 0 && v && store_meta_set(a->st, APPLY_INTENT_KEY, v) < 0)
		r = -EIO;
	if (r < 0)
		log_debug("cannot note the install of %zu files", n);
	free(v);
}

void
apply_intent_set(struct apply *a, const char *path, uint64_t size,
    const uint8_t sha256[32])
{
	const uint8_t (*one)[32] = (const uint8_t (*)[32])sha256;

	apply_intent_set_many(a, &path, &size, one, 1);
}

/* Whether the intent text v names path with size and checksum want. */
static int
intent_find(const char *v, const char *path, unsigned long long size,
    char want[65])
{
	size_t pl = strlen(path);

	while (*v) {
		unsigned long long sz;
		size_t len;
		int n = 0;

		if (sscanf(v, "%64[0-9a-f] %llu %zu:%n", want, &sz, &len,
		    &n) != 3 || n == 0 || strnlen(v + n, len) < len)
			return 0;
		if (sz == size && len == pl && memcmp(v + n, path, pl) == 0)
			return 1;
		v += n + len;
		if (*v == '\n')
			v++;
	}
	return 0;
}

int
apply_intent_matches(struct apply *a, int dfd, const char *name,
    const char *path, const struct stat *st)
{
	char *v = NULL, want[65];
	struct hashfile h;
	int r = 0;

	if (!S_ISREG(st->st_mode) ||
	    store_meta_dup(a->st, APPLY_INTENT_KEY, &v) < 0 || v == NULL)
		return 0;
	if (intent_find(v, path, (unsigned long long)st->st_size, want) &&
	    hashfile_at(dfd, name, st, &h) == 0) {
		char got[65];
		for (int i = 0; i < 32; i++)
			snprintf(got + 2 * i, 3, "%02x", h.sha256[i]);
		r = strcmp(got, want) == 0;
	}
	free(v);
	return r;
}

/* ---- batches ---------------------------------------------------------- */

int
apply_batch_begin(struct apply *a)
{
	if (a->batch_depth++ == 0)
		store_set_lazy(a->st, 1);
	return 0;
}

/* Makes everything of the batch so far durable: fsyncs the directories
 * it touched, then the store's log (every record is committed as it is
 * made, safe from a crash of the process; the machine's is what this
 * covers). lazy: commits stay lazy for what follows. Returns 0 or
 * -errno. */
static int
batch_flush(struct apply *a, int lazy)
{
	int r = 0;

	/* the directories first: a record never gets durable before the
	 * disk it describes */
	for (size_t i = 0; i < a->ndirs; i++) {
		if (r == 0 && fsync(a->dirs[i].fd) < 0)
			r = apply_fail("sync a directory of", a->root, -errno);
		close(a->dirs[i].fd);
	}
	a->ndirs = 0;
	if (r == 0 && (r = store_make_durable(a->st)) < 0)
		log_error("cannot make the records of a batch durable in %s: %s",
		    a->root, strerror(-r));
	if (lazy)
		store_set_lazy(a->st, 1);
	return r;
}

int
apply_batch_flush(struct apply *a)
{
	return a->batch_depth > 0 ? batch_flush(a, 1) : 0;
}

int
apply_batch_end(struct apply *a)
{
	if (a->batch_depth == 0)
		return -EINVAL;
	return batch_flush(a, --a->batch_depth > 0);
}

/* The bits of mode applied to path (a directory if is_dir): the ones
 * store_mode_mirrored() keeps. Setuid, setgid and a file's sticky bit
 * are never applied, whatever the master says: the refusal is logged. */
static mode_t
mirrored_mode(const char *path, int is_dir, uint32_t mode)
{
	uint32_t m = store_mode_mirrored(is_dir ? STORE_DIR : STORE_FILE,
	    mode);

	if ((mode & 07777) != m)
		log_warn("refusing the setuid, setgid or sticky bits of %s "
		    "(mode %04o): applying %04o", path,
		    (unsigned)(mode & 07777), (unsigned)m);
	return (mode_t)m;
}

int
apply_attrs_fd(int fd, const char *path, uint32_t mode, int64_t mtime_ns)
{
	int r = apply_attrs_fd_nosync(fd, path, mode, mtime_ns);

	if (r == 0 && fsync(fd) < 0)
		return apply_fail("sync", path, -errno);
	return r;
}

int
apply_attrs_fd_nosync(int fd, const char *path, uint32_t mode,
    int64_t mtime_ns)
{
	struct timespec ts[2];
	struct stat st;

	ts[0] = ts[1] = util_ns_ts(mtime_ns);
	if (fstat(fd, &st) < 0)
		return apply_fail("stat", path, -errno);
	if (fchmod(fd, mirrored_mode(path, S_ISDIR(st.st_mode), mode)) < 0)
		return apply_fail("set the mode of", path, -errno);
	if (futimens(fd, ts) < 0)
		return apply_fail("set the mtime of", path, -errno);
	return 0;
}

int
apply_sync_fs(struct apply *a)
{
	return syncfs(a->rootfd) < 0 ? apply_fail("sync the file system of",
	    a->root, -errno) : 0;
}

/* Sets the attributes by name, for what cannot be opened: a symlink
 * (mtime only), something we may not read (a mode without u+r). */
static int
attrs_by_name(int dfd, const char *name, const char *path,
    const struct stat *st, uint32_t mode, int64_t mtime_ns)
{
	struct timespec ts[2];

	ts[0] = ts[1] = util_ns_ts(mtime_ns);
	if (!S_ISLNK(st->st_mode) && fchmodat(dfd, name, mirrored_mode(path,
	    S_ISDIR(st->st_mode), mode), AT_SYMLINK_NOFOLLOW) < 0)
		return apply_fail("set the mode of", path, -errno);
	if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return apply_fail("set the mtime of", path, -errno);
	return 0;
}

int
apply_attrs_at(int dfd, const char *name, const char *path, uint32_t mode,
    int64_t mtime_ns)
{
	struct stat st, fst;
	int fd, r;

	if ((r = apply_lstat(dfd, name, &st)) < 0)
		return apply_fail("set the metadata of", path, r);
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return attrs_by_name(dfd, name, path, &st, mode, mtime_ns);
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd < 0 && errno == EACCES) {
		/* we may change the mode but not read: the new mode applies,
		 * made durable by the directory's fsync at best */
		log_debug("%s is not readable: setting its metadata by name",
		    path);
		return attrs_by_name(dfd, name, path, &st, mode, mtime_ns);
	}
	if (fd < 0)
		return apply_fail("open", path, -errno);
	if (fstat(fd, &fst) < 0 || fst.st_ino != st.st_ino ||
	    fst.st_dev != st.st_dev) {
		close(fd);
		log_warn("%s changed while being updated", path);
		return -EAGAIN;
	}
	r = apply_attrs_fd(fd, path, mode, mtime_ns);
	close(fd);
	return r;
}

/* ---- removal of a subtree -------------------------------------------- */

struct rm {
	dev_t dev;		/* never cross into another file system */
	char path[PATH_MAX];	/* what is being removed, for messages */
};

static int rm_at(struct rm *c, int dfd, const char *name, int depth);

/* Removes everything in the directory fd (closed here). Removing while
 * reading may make readdir skip entries: read again until a pass finds
 * nothing, a bounded number of times. */
static int
rm_contents(struct rm *c, int fd, int depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int r = 0, n = 1;

	if (d == NULL) {
		r = -errno;
		close(fd);
		return apply_fail("read", c->path, r);
	}
	for (int pass = 0; r == 0 && n > 0 && pass < RM_PASSES; pass++) {
		rewinddir(d);
		for (n = 0; r == 0; n++) {
			errno = 0;
			if ((de = readdir(d)) == NULL) {
				if (errno != 0)
					r = apply_fail("read", c->path, -errno);
				break;
			}
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				n--;
			else
				r = rm_at(c, dirfd(d), de->d_name, depth + 1);
		}
	}
	closedir(d);
	return r;
}

/* Removes the directory name in dfd (st: its lstat) with its contents.
 * One without u+rwx is given it first: it is going away anyway. */
static int
rm_dir(struct rm *c, int dfd, const char *name, const struct stat *st,
    int depth)
{
	int fd, r;

	if (st->st_dev != c->dev) {
		log_warn("refusing to remove %s: another file system is "
		    "mounted there", c->path);
		return -EXDEV;
	}
	if (depth > RM_MAX_DEPTH) {
		log_warn("refusing to remove %s: more than %d levels deep",
		    c->path, RM_MAX_DEPTH);
		return -ELOOP;
	}
	if ((st->st_mode & 0700) != 0700 && fchmodat(dfd, name,
	    (st->st_mode & 07777) | 0700, AT_SYMLINK_NOFOLLOW) < 0)
		return apply_fail("remove", c->path, -errno);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : apply_fail("remove", c->path,
		    -errno);
	if ((r = rm_contents(c, fd, depth)) < 0)
		return r;
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return apply_fail("remove", c->path, -errno);
	return 0;
}

static int
rm_at(struct rm *c, int dfd, const char *name, int depth)
{
	size_t len = strlen(c->path);
	struct stat st;
	int r;

	if (depth > 0)		/* messages name the entry; a long one is cut */
		snprintf(c->path + len, sizeof(c->path) - len, "/%s", name);
	if ((r = apply_lstat(dfd, name, &st)) == -ENOENT)
		r = 0;
	else if (r < 0)
		r = apply_fail("remove", c->path, r);
	else if (S_ISDIR(st.st_mode))
		r = rm_dir(c, dfd, name, &st, depth);
	else if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		r = apply_fail("remove", c->path, -errno);
	c->path[len] = '\0';
	return r;
}

int
apply_rm_tree(int dfd, const char *name, const char *path)
{
	struct rm *c = malloc(sizeof(*c));
	struct stat st;
	int r;

	if (c == NULL)
		return -ENOMEM;
	if (fstat(dfd, &st) < 0) {
		r = apply_fail("remove", path, -errno);
		free(c);
		return r;
	}
	c->dev = st.st_dev;
	snprintf(c->path, sizeof(c->path), "%s", path);
	r = rm_at(c, dfd, name, 0);
	free(c);
	return r;
}

/* ---- records --------------------------------------------------------- */

int
apply_known_sha(struct apply *a, const char *path, const struct stat *st,
    uint8_t out[32])
{
	struct store_file f;
	int r, hit;

	if ((r = store_file_load(a->st, path, &f)) < 0)
		return r == -ENOENT ? 0 : r;
	hit = !f.deleted && f.type == STORE_FILE && f.has_sha256 &&
	    f.size == st->st_size && f.mtime_ns == util_ts_ns(st->st_mtim);
	if (hit)
		memcpy(out, f.sha256, 32);
	store_file_clear(&f);
	return hit;
}

int
apply_record_stat(struct apply *a, const char *path, const struct stat *st,
    const uint8_t *sha, const char *target)
{
	struct store_file f = {
		.path = path, .mode = st->st_mode & 07777,
		.mtime_ns = util_ts_ns(st->st_mtim), .target = target,
	};

	if (S_ISREG(st->st_mode)) {
		f.type = STORE_FILE;
		f.size = st->st_size;
		f.has_sha256 = 1;
		memcpy(f.sha256, sha, 32);
	} else if (S_ISDIR(st->st_mode))
		f.type = STORE_DIR;
	else
		f.type = STORE_SYMLINK;
	return store_file_put(a->st, &f, NULL, NULL);
}

/* Reads name (st: its lstat) through SHA-256, keeping its chunk list.
 * Returns 0, 1 if it changed meanwhile (logged; its checksum would
 * describe no state it had), or -errno (logged). */
static int
hash_at(struct apply *a, int dfd, const char *name, const char *path,
    const struct stat *st, uint8_t out[32])
{
	struct chunk_list chunks = {0};
	struct hashfile h;
	int r = hashfile_at_chunks(dfd, name, st, &h, &chunks);

	if (r == -EAGAIN) {
		log_info("not recording %s: it changed while being read", path);
		return 1;
	}
	if (r < 0)
		return apply_fail("read", path, r);
	memcpy(out, h.sha256, 32);
	r = chunk_record(a->st, h.sha256, &chunks);
	chunk_list_clear(&chunks);
	return r;
}

int
apply_record_at(struct apply *a, int dfd, const char *name, const char *path,
    const uint8_t *sha)
{
	char target[PATH_MAX];
	uint8_t sum[32];
	struct stat st;
	ssize_t n;
	int r;

	if ((r = apply_lstat(dfd, name, &st)) < 0)
		return r == -ENOENT ? r : apply_fail("stat", path, r);
	if (S_ISREG(st.st_mode) && sha == NULL) {
		if ((r = apply_known_sha(a, path, &st, sum)) < 0)
			return r;
		if (r == 0 && (r = hash_at(a, dfd, name, path, &st, sum)) != 0)
			return r < 0 ? r : 0;
		sha = sum;
	} else if (S_ISLNK(st.st_mode)) {
		if ((n = readlinkat(dfd, name, target, sizeof(target))) < 0)
			return apply_fail("read the link", path, -errno);
		if ((size_t)n >= sizeof(target)) {
			log_warn("not recording %s: link text too long", path);
			return 0;
		}
		target[n] = '\0';
	} else if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		log_debug("not recording %s: not a file, directory or symlink",
		    path);
		return 0;
	}
	return apply_record_stat(a, path, &st, sha,
	    S_ISLNK(st.st_mode) ? target : NULL);
}

/* ---- lists of records ------------------------------------------------ */

int
apply_end(struct apply *a, int r)
{
	if (r == 0 && (r = store_commit(a->st)) == 0)
		return 0;
	store_rollback(a->st);
	return r;
}

static int
recs_add(const struct store_file *f, void *arg)
{
	struct apply_recs *l = arg;
	struct store_file *c;

	if (util_grow(&l->v, l->n + 1, &l->cap, 16) < 0)
		return -ENOMEM;
	c = &l->v[l->n];
	*c = *f;
	c->path = strdup(f->path);
	c->target = f->target ? strdup(f->target) : NULL;
	l->n++;
	if (c->path == NULL || (f->target && c->target == NULL))
		return -ENOMEM;
	return 0;
}

int
apply_recs_below(struct apply *a, const char *dir, struct apply_recs *l)
{
	return store_file_below(a->st, dir, recs_add, l);
}

int
apply_recs_page(struct apply *a, const char *after, size_t max,
    struct apply_recs *l)
{
	return store_file_list(a->st, after, max, recs_add, l);
}

int
apply_record_matches(const struct store_file *f, const struct stat *st,
    int dir_mode)
{
	switch (f->type) {
	case STORE_FILE:
		return S_ISREG(st->st_mode) && f->size == st->st_size &&
		    f->mtime_ns == util_ts_ns(st->st_mtim) &&
		    f->mode == (st->st_mode & 07777);
	case STORE_SYMLINK:
		return S_ISLNK(st->st_mode) &&
		    f->mtime_ns == util_ts_ns(st->st_mtim);
	case STORE_DIR:
		return S_ISDIR(st->st_mode) &&
		    (!dir_mode || f->mode == (st->st_mode & 07777));
	}
	return 0;
}

void
apply_recs_free(struct apply_recs *l)
{
	for (size_t i = 0; i < l->n; i++)
		store_file_clear(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int
apply_forget_tree(struct apply *a, const char *path, int self)
{
	struct apply_recs l = {0};
	int r;

	if ((r = apply_recs_below(a, path, &l)) < 0 ||
	    (r = store_begin(a->st)) < 0) {
		apply_recs_free(&l);
		return r;
	}
	for (size_t i = l.n; r == 0 && i > 0; i--)	/* deepest first */
		if ((r = store_file_delete(a->st, l.v[i - 1].path, NULL)) ==
		    -ENOENT)
			r = 0;
	if (r == 0 && self &&
	    (r = store_file_delete(a->st, path, NULL)) == -ENOENT)
		r = 0;
	apply_recs_free(&l);
	return apply_end(a, r);
}

/* ---- temp names ------------------------------------------------------ */

/* Writes to out APPLY_TMP_PATH_HEX hex digits and a NUL: the start of
 * the SHA-256 of the n bytes at a and (if b) the m bytes at b. */
static int
hex_digest(char *out, const void *a, size_t n, const void *b, size_t m)
{
	gcry_md_hd_t h;
	const uint8_t *d;

	if (gcry_md_open(&h, GCRY_MD_SHA256, 0) != 0)
		return -ENOMEM;
	gcry_md_write(h, a, n);
	if (b)
		gcry_md_write(h, b, m);
	d = gcry_md_read(h, GCRY_MD_SHA256);
	for (int i = 0; i < APPLY_TMP_PATH_HEX / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	gcry_md_close(h);
	return 0;
}

int
apply_temp_name(char out[APPLY_TMP_NAME], const char *kind, const char *path,
    const void *extra, size_t n)
{
	size_t o = strlen(PATH_TMP_PREFIX);

	memcpy(out, PATH_TMP_PREFIX, o);
	/* "kind" NUL "path" NUL, then the version on its own */
	if (hex_digest(out + o, kind, strlen(kind) + 1, path,
	    strlen(path) + 1) < 0 ||
	    hex_digest(out + o + APPLY_TMP_PATH_HEX, extra, n, NULL, 0) < 0)
		return -ENOMEM;
	return 0;
}

int
apply_put_temp_name(char out[APPLY_TMP_NAME], const char *path,
    uint64_t size, const uint8_t sha256[32])
{
	uint8_t id[40];

	for (int i = 0; i < 8; i++)
		id[i] = (uint8_t)(size >> (56 - 8 * i));
	memcpy(id + 8, sha256, 32);
	return apply_temp_name(out, "put", path, id, sizeof(id));
}

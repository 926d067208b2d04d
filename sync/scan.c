/* scan.c -- see scan.h */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/log.h"
#include "store/store.h"
#include "sync/chunk.h"
#include "sync/hashfile.h"
#include "sync/path.h"
#include "sync/scan.h"
#include "agent/util.h"

#define SCAN_BATCH 512

struct scan {
	struct store *s;
	const struct scan_opts *o;
	struct scan_stats *st;
	size_t pending;			/* records in the open transaction */
	char path[PATH_MAX];		/* relative path of the current entry */
	char target[PATH_MAX];		/* link text of the current symlink */
};

/* Commits every o->batch records so a big tree is not one huge
 * transaction, nor one fsync per file. */
static int
batch_tick(struct scan *c)
{
	size_t max = c->o->batch ? c->o->batch : SCAN_BATCH;
	int r;

	if (++c->pending < max)
		return 0;
	c->pending = 0;
	if ((r = store_commit(c->s)) < 0)
		return r;
	return store_begin(c->s);
}

/* Records f and counts it as added or changed. */
static int
record(struct scan *c, const struct store_file *f)
{
	enum store_change chg;
	int r;

	if ((r = store_file_put(c->s, f, &chg, NULL)) < 0)
		return r;
	if (chg == STORE_ADDED)
		c->st->added++;
	else if (chg == STORE_CHANGED)
		c->st->changed++;
	return batch_tick(c);
}

/* Something at c->path could not be read: keep its record (and, for a
 * directory, the records below it) as they are. */
static int
skip(struct scan *c, int is_dir, const char *why, int err)
{
	int r;

	log_warn("skipping %s: %s: %s", c->path, why, strerror(err));
	c->st->skipped++;
	if ((r = store_scan_seen(c->s, c->path)) < 0 && r != -ENOENT)
		return r;
	return is_dir ? store_scan_seen_below(c->s, c->path) : 0;
}

/* Something vanished between readdir and opening it: its record, if any,
 * becomes a tombstone at the end, as it should. */
static int
vanished(struct scan *c)
{
	log_info("%s vanished during the scan", c->path);
	c->st->skipped++;
	return 0;
}

/* Sets *hit and out to the stored checksum of c->path if its live record
 * still has st's size and mtime. Returns 0 or a store error. */
static int
stored_sha(struct scan *c, const struct stat *st, uint8_t out[32], int *hit)
{
	struct store_file old;
	int r;

	*hit = 0;
	if ((r = store_file_load(c->s, c->path, &old)) < 0)
		return r == -ENOENT ? 0 : r;
	*hit = !old.deleted && old.type == STORE_FILE && old.has_sha256 &&
	    old.size == st->st_size && old.mtime_ns == util_ts_ns(st->st_mtim);
	if (*hit)
		memcpy(out, old.sha256, 32);
	store_file_clear(&old);
	return 0;
}

/* Hashes name into out. Returns 0, 1 if skipped (logged), or a store
 * error. A file that changed while being read is skipped: its checksum
 * would describe no state the file ever had. */
static int
hash_file(struct scan *c, int dfd, const char *name, const struct stat *st,
    uint8_t out[32])
{
	struct chunk_list chunks = {0};
	struct hashfile h;
	int r = hashfile_at_chunks(dfd, name, st, &h, &chunks);

	if (r == 0) {	/* the list first: the record then finds it */
		r = chunk_record(c->s, h.sha256, &chunks);
		chunk_list_clear(&chunks);
		if (r < 0)
			return r;
	}
	if (r == -ENOENT) {
		vanished(c);
		return 1;
	}
	if (r == -EAGAIN) {
		log_info("skipping %s: changed while being read", c->path);
		c->st->skipped++;
		r = store_scan_seen(c->s, c->path);
		return r == 0 || r == -ENOENT ? 1 : r;
	}
	if (r < 0)
		return (r = skip(c, 0, "cannot read", -r)) < 0 ? r : 1;
	c->st->files_hashed++;
	c->st->bytes_hashed += h.size;
	memcpy(out, h.sha256, 32);
	return 0;
}

static int
scan_file(struct scan *c, int dfd, const char *name, const struct stat *st)
{
	struct store_file f = {
		.path = c->path, .type = STORE_FILE, .size = st->st_size,
		.mtime_ns = util_ts_ns(st->st_mtim), .mode = st->st_mode & 07777,
		.has_sha256 = 1,
	};
	int hit, r;

	if ((r = stored_sha(c, st, f.sha256, &hit)) < 0)
		return r;
	if (!hit && (r = hash_file(c, dfd, name, st, f.sha256)) != 0)
		return r < 0 ? r : 0;
	c->st->files++;
	return record(c, &f);
}

static int
scan_link(struct scan *c, int dfd, const char *name, const struct stat *st)
{
	char *target = c->target;
	struct store_file f = {
		.path = c->path, .type = STORE_SYMLINK, .target = target,
		.mtime_ns = util_ts_ns(st->st_mtim), .mode = st->st_mode & 07777,
	};
	ssize_t n = readlinkat(dfd, name, target, PATH_MAX);

	if (n < 0 && errno == ENOENT)
		return vanished(c);
	if (n < 0)
		return skip(c, 0, "cannot read link", errno);
	if (n >= PATH_MAX || memchr(target, '\0', (size_t)n) != NULL)
		return skip(c, 0, "link target", ENAMETOOLONG);
	target[n] = '\0';
	c->st->symlinks++;
	return record(c, &f);
}

static int scan_dir(struct scan *c, DIR *d);

/* Records the directory, then walks it. */
static int
scan_subdir(struct scan *c, int dfd, const char *name, const struct stat *st)
{
	struct store_file f = {
		.path = c->path, .type = STORE_DIR,
		.mtime_ns = util_ts_ns(st->st_mtim), .mode = st->st_mode & 07777,
	};
	DIR *d;
	int fd, e, r;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	e = errno;
	if (fd < 0 && e == ENOENT)
		return vanished(c);
	c->st->dirs++;
	if ((r = record(c, &f)) < 0 || fd < 0) {
		if (fd >= 0)
			close(fd);
		return r < 0 ? r : skip(c, 1, "cannot open directory", e);
	}
	if ((d = fdopendir(fd)) == NULL) {
		e = errno;
		close(fd);
		return skip(c, 1, "cannot read directory", e);
	}
	r = scan_dir(c, d);
	closedir(d);
	return r;
}

/* c->path names the entry name in dfd; files, directories and symlinks
 * are recorded, other types are left alone. */
static int
scan_entry(struct scan *c, int dfd, const char *name)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? vanished(c) :
		    skip(c, 0, "cannot stat", errno);
	if (path_ignored(c->o->ignore, c->o->n_ignore, c->path,
	    S_ISDIR(st.st_mode)))
		return 0;
	if (S_ISREG(st.st_mode))
		return scan_file(c, dfd, name, &st);
	if (S_ISDIR(st.st_mode))
		return scan_subdir(c, dfd, name, &st);
	if (S_ISLNK(st.st_mode))
		return scan_link(c, dfd, name, &st);
	log_debug("skipping %s: not a file, directory or symlink", c->path);
	return 0;
}

/* Appends name to c->path (len bytes long) and scans it. Names that no
 * slave would accept are skipped without printing them. */
static int
scan_name(struct scan *c, int dfd, const char *name, size_t len)
{
	size_t n = strlen(name), sep = len ? 1 : 0;

	if (len + sep + n >= sizeof(c->path) ||
	    path_check_relative(name, n) < 0) {
		log_warn("skipping a name in %s: not allowed (control "
		    "character or too long)", len ? c->path : ".");
		c->st->skipped++;
		return 0;
	}
	if (sep)
		c->path[len] = '/';
	memcpy(c->path + len + sep, name, n + 1);
	return scan_entry(c, dfd, name);
}

static int
scan_dir(struct scan *c, DIR *d)
{
	size_t len = strlen(c->path);
	struct dirent *de;
	int r = 0;

	while (r == 0) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 || path_is_temp(de->d_name))
			continue;
		r = scan_name(c, dirfd(d), de->d_name, len);
		c->path[len] = '\0';
	}
	if (r == 0 && de == NULL && errno != 0) {
		if (len == 0) {		/* the root: no partial truth */
			r = -errno;
			log_error("cannot read %s: %s", c->o->root,
			    strerror(-r));
		} else
			r = skip(c, 1, "cannot read directory", errno);
	}
	return r;
}

/* The walk, in batched transactions, then the deletions. */
static int
scan_walk(struct scan *c, DIR *d)
{
	int64_t gen;
	int r;

	if ((r = store_begin(c->s)) < 0)
		return r;
	if ((r = store_scan_begin(c->s, &gen)) == 0)
		r = scan_dir(c, d);
	if (r == 0)
		r = store_commit(c->s);
	if (r < 0) {
		store_rollback(c->s);
		return r;
	}
	return store_scan_end(c->s, gen, NULL, NULL, &c->st->deleted);
}

int
scan_run(struct store *s, const struct scan_opts *o, struct scan_stats *stats)
{
	struct scan c = {.s = s, .o = o, .st = stats};
	DIR *d;
	int fd, r;

	memset(stats, 0, sizeof(*stats));
	if ((fd = open(o->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (d = fdopendir(fd)) == NULL) {
		r = -errno;
		log_error("cannot open %s: %s", o->root, strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	r = scan_walk(&c, d);
	closedir(d);
	return r;
}

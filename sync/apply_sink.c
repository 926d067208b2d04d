/* apply_sink.c -- received content: the put sink (temp file, resume,
 * verify, install), whether the slave already has a file, and copies of
 * content it holds under another name. See apply.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gcrypt.h>

#include "agent/log.h"
#include "store/store.h"
#include "sync/apply_int.h"
#include "sync/chunk.h"
#include "sync/hashfile.h"
#include "sync/path.h"
#include "agent/util.h"

#define COPY_BUF (128 * 1024)

struct apply_put {
	struct apply *a;
	int dfd;			/* the target's directory */
	int fd;				/* the temp file, locked */
	char *path;
	const char *name;		/* last component, in path */
	char tmp[APPLY_TMP_NAME];
	uint64_t size, written;
	uint64_t flushing;		/* writeback started up to here */
	uint8_t sha256[32];
	uint32_t mode;
	int64_t mtime_ns;
	/* SHA-256 of the first `written` bytes, kept as data arrives so
	 * finishing a large file does not read it all again */
	gcry_md_hd_t md;
	/* and its chunks, cut as it arrives (files of CHUNK_SMALL or more),
	 * kept as the content's chunk list once it is installed; or the list
	 * the content was assembled from (apply_put_set_chunks()) */
	struct chunker *ck;
	struct chunk_list known;
	int ready;			/* verified, attributes set */
	int noted;			/* its install intent is in the store */
};

static void
put_free(struct apply_put *p)
{
	if (p->md)
		gcry_md_close(p->md);
	chunker_free(p->ck);
	chunk_list_clear(&p->known);
	if (p->fd >= 0)
		close(p->fd);
	if (p->dfd >= 0)
		close(p->dfd);
	free(p->path);
	free(p);
}

/* The temp name of (path, size, sha256). */
static int
put_temp_name(struct apply_put *p)
{
	return apply_put_temp_name(p->tmp, p->path, p->size, p->sha256);
}

/* Opens (creating) the temp file and locks it. Something other than a
 * regular file of ours there (a fifo, a directory, a hard link that
 * could lead out of the folder) is removed first. */
static int
put_open_temp(struct apply_put *p)
{
	struct stat st;
	int r;

	if (apply_lstat(p->dfd, p->tmp, &st) == 0 &&
	    (!S_ISREG(st.st_mode) || st.st_nlink != 1) &&
	    (r = apply_rm_tree(p->dfd, p->tmp, p->path)) < 0)
		return r;
	p->fd = openat(p->dfd, p->tmp, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
	if (p->fd < 0)
		return apply_fail("create a temp file for", p->path, -errno);
	if (fstat(p->fd, &st) < 0)
		return apply_fail("stat the temp file of", p->path, -errno);
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		log_warn("refusing to receive %s: its temp file was replaced",
		    p->path);
		return -EEXIST;
	}
	if (flock(p->fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return apply_fail("lock the temp file of", p->path,
			    -errno);
		log_warn("cannot receive %s: another transfer of it is running",
		    p->path);
		return -EBUSY;
	}
	return 0;
}

/* Keeps a proper prefix for resuming; anything else starts over. */
static int
put_resume_point(struct apply_put *p)
{
	struct stat st;

	if (fstat(p->fd, &st) < 0)
		return apply_fail("stat the temp file of", p->path, -errno);
	p->written = (uint64_t)st.st_size;
	if (p->written >= p->size) {
		if (ftruncate(p->fd, 0) < 0)
			return apply_fail("empty the temp file of", p->path,
			    -errno);
		p->written = 0;
	}
	if (lseek(p->fd, (off_t)p->written, SEEK_SET) < 0)
		return apply_fail("seek in the temp file of", p->path, -errno);
	return 0;
}

/* Restarts the running checksum over the first len bytes of the temp
 * file (a kept prefix, read once), leaving the offset at len. */
static int
put_rehash(struct apply_put *p, uint64_t len)
{
	uint8_t buf[65536];
	uint64_t left = len;

	if (p->md == NULL && gcry_md_open(&p->md, GCRY_MD_SHA256, 0) != 0)
		return -ENOMEM;
	gcry_md_reset(p->md);
	chunker_free(p->ck);
	p->ck = NULL;
	if (chunk_wanted((int64_t)p->size) && chunker_new(&p->ck) < 0)
		return -ENOMEM;
	if (lseek(p->fd, 0, SEEK_SET) < 0)
		return apply_fail("seek in the temp file of", p->path, -errno);
	while (left > 0) {
		ssize_t n = read(p->fd, buf, left < sizeof(buf) ? left : sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return apply_fail("read the temp file of", p->path,
			    n < 0 ? -errno : -EIO);
		gcry_md_write(p->md, buf, (size_t)n);
		if (p->ck && chunker_feed(p->ck, buf, (size_t)n) < 0)
			return -ENOMEM;
		left -= (uint64_t)n;
	}
	return lseek(p->fd, (off_t)len, SEEK_SET) < 0 ?
	    apply_fail("seek in the temp file of", p->path, -errno) : 0;
}

static int
put_check(struct apply *a, const char *path, uint64_t size)
{
	int r;

	if ((r = apply_check("receive", path)) < 0 ||
	    (r = apply_check_ignored(a, "receive", path, 0)) < 0)
		return r;
	if (size > a->max_size || size > (uint64_t)INT64_MAX) {
		log_warn("refusing to receive %s: %llu bytes, more than the "
		    "limit of %llu", path, (unsigned long long)size,
		    (unsigned long long)a->max_size);
		return -EFBIG;
	}
	return 0;
}

/* apply_put_begin() for a path put_check() accepted. */
static int
put_begin(struct apply *a, const char *path, uint64_t size,
    const uint8_t sha256[32], uint32_t mode, int64_t mtime_ns,
    struct apply_put **out, uint64_t *have_bytes)
{
	struct apply_put *p;
	int r;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	*p = (struct apply_put){.a = a, .dfd = -1, .fd = -1, .size = size,
	    .mode = mode, .mtime_ns = mtime_ns};
	memcpy(p->sha256, sha256, 32);
	if ((p->path = strdup(path)) == NULL || put_temp_name(p) < 0) {
		put_free(p);
		return -ENOMEM;
	}
	if ((p->dfd = apply_parent(a, p->path, &p->name)) < 0)
		r = apply_fail("receive", path, p->dfd);
	else if ((r = put_open_temp(p)) == 0 && (r = put_resume_point(p)) == 0)
		r = put_rehash(p, p->written);
	if (r < 0) {
		put_free(p);
		return r;
	}
	apply_leftover_drop(a, p->path, p->tmp);	/* ours now */
	*have_bytes = p->written;
	*out = p;
	return 0;
}

int
apply_put_begin(struct apply *a, const char *path, uint64_t size,
    const uint8_t sha256[32], uint32_t mode, int64_t mtime_ns,
    struct apply_put **out, uint64_t *have_bytes)
{
	int r = put_check(a, path, size);

	return r < 0 ? r : put_begin(a, path, size, sha256, mode, mtime_ns, out,
	    have_bytes);
}

const char *
apply_put_path(const struct apply_put *p)
{
	return p->path;
}

int
apply_put_write(struct apply_put *p, const void *buf, size_t n)
{
	const uint8_t *b = buf;
	ssize_t w;

	if (n > p->size - p->written) {
		log_warn("refusing data for %s beyond its size of %llu bytes",
		    p->path, (unsigned long long)p->size);
		return -EFBIG;
	}
	while (n > 0) {
		if ((w = write(p->fd, b, n)) < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return apply_fail("write the temp file of", p->path,
			    -errno);
		gcry_md_write(p->md, b, (size_t)w);
		if (p->ck && chunker_feed(p->ck, b, (size_t)w) < 0)
			return -ENOMEM;
		b += w;
		n -= (size_t)w;
		p->written += (uint64_t)w;
	}
	/* a large file's data starts to the disk while more arrives, so
	 * that the fsync at its end waits for the last part only */
	if (p->written < p->flushing)
		p->flushing = p->written;
	if (p->written - p->flushing >= APPLY_WRITEBACK_STEP) {
		if (sync_file_range(p->fd, (off_t)p->flushing,
		    (off_t)(p->written - p->flushing), SYNC_FILE_RANGE_WRITE) < 0)
			log_debug("cannot start the writeback of %s: %s",
			    p->path, strerror(errno));
		p->flushing = p->written;
	}
	return 0;
}

int
apply_put_truncate(struct apply_put *p, uint64_t len)
{
	if (len > p->written)
		return -EINVAL;
	int r;

	if (ftruncate(p->fd, (off_t)len) < 0) {
		r = -errno;
		log_error("cannot cut the temp file of %s to %llu bytes: %s",
		    p->path, (unsigned long long)len, strerror(errno));
		return r;
	}
	if ((r = put_rehash(p, len)) < 0)
		return r;
	p->written = len;
	return 0;
}

void
apply_put_abort(struct apply_put *p, int keep)
{
	if (p == NULL)
		return;
	if (!keep && unlinkat(p->dfd, p->tmp, 0) < 0 && errno != ENOENT)
		log_warn("cannot remove the temp file of %s: %s", p->path,
		    strerror(errno));
	if (keep)
		apply_leftover_add(p->a, p->path, p->tmp);
	put_free(p);
}

/* Checks length and checksum of the whole temp file (the checksum kept
 * while it was written, over the resumed prefix too). Returns 0,
 * -ENODATA (short: kept), -EBADMSG (removed), or -errno. */
static int
put_verify(struct apply_put *p)
{
	uint8_t sum[32];
	int64_t bytes = 0;
	struct stat st;
	int r = 0;

	if (fstat(p->fd, &st) < 0)
		return apply_fail("stat the temp file of", p->path, -errno);
	if ((uint64_t)st.st_size < p->size) {
		log_warn("cannot install %s: %lld of %llu bytes arrived",
		    p->path, (long long)st.st_size,
		    (unsigned long long)p->size);
		return -ENODATA;
	}
	(void)r;
	bytes = (int64_t)p->written;
	memcpy(sum, gcry_md_read(p->md, GCRY_MD_SHA256), 32);
	if ((uint64_t)st.st_size == p->size && (uint64_t)bytes == p->size &&
	    memcmp(sum, p->sha256, 32) == 0)
		return 0;
	log_warn("refusing %s: its content does not match its checksum",
	    p->path);
	if (unlinkat(p->dfd, p->tmp, 0) < 0)
		log_warn("cannot remove the temp file of %s: %s", p->path,
		    strerror(errno));
	return -EBADMSG;
}

/* Renames the verified temp file over the final name; a directory there
 * goes first, with its subtree. What is replaced is kept first if it is
 * a local version (apply_keep_old()). Sets *was_dir. */
static int
put_install(struct apply_put *p, int *was_dir)
{
	struct stat st;
	int r;

	if ((r = apply_keep_old(p->a, p->dfd, p->name, p->path)) < 0)
		return r;
	*was_dir = apply_lstat(p->dfd, p->name, &st) == 0 &&
	    S_ISDIR(st.st_mode);
	if (*was_dir && (r = apply_rm_tree(p->dfd, p->name, p->path)) < 0)
		return r;
	/* what a crash between the rename and the record leaves is found
	 * at start to be this install, not a local change */
	if (!p->noted)
		apply_intent_set(p->a, p->path, p->size, p->sha256);
	if (renameat(p->dfd, p->tmp, p->dfd, p->name) < 0)
		return apply_fail("install", p->path, -errno);
	return apply_fsync_dir(p->a, p->dfd, p->path);
}

int
apply_put_set_chunks(struct apply_put *p, const struct chunk_list *l)
{
	size_t n = l->n ? l->n : 1;

	chunk_list_clear(&p->known);
	if ((p->known.v = malloc(n * sizeof(*l->v))) == NULL)
		return -ENOMEM;
	memcpy(p->known.v, l->v, l->n * sizeof(*l->v));
	p->known.n = p->known.cap = l->n;
	chunker_free(p->ck);
	p->ck = NULL;
	return 0;
}

/* Keeps the chunk list of the verified content, before its record. */
static int
record_chunks(struct apply_put *p)
{
	struct chunk_list l = {0};
	int r;

	if (p->known.v)
		return chunk_record(p->a->st, p->sha256, &p->known);
	if (p->ck == NULL)
		return 0;
	if ((r = chunker_finish(p->ck, &l)) == 0)
		r = chunk_record(p->a->st, p->sha256, &l);
	chunk_list_clear(&l);
	return r;
}

/* What failed before the rename (r): a temp still there is left for a
 * later session; p is freed. Returns r. */
static int
put_failed(struct apply_put *p, int r)
{
	struct stat st;

	if (r != -EBADMSG && apply_lstat(p->dfd, p->tmp, &st) == 0)
		apply_leftover_add(p->a, p->path, p->tmp);
	put_free(p);
	return r;
}

int
apply_put_ready(struct apply_put *p)
{
	int r;

	if ((r = put_verify(p)) < 0 ||
	    (r = apply_attrs_fd_nosync(p->fd, p->path, p->mode,
	    p->mtime_ns)) < 0)
		return put_failed(p, r);
	p->ready = 1;
	return 0;
}

void
apply_puts_note(struct apply *a, struct apply_put *const *v, size_t n)
{
	const char **paths = calloc(n ? n : 1, sizeof(*paths));
	uint64_t *sizes = calloc(n ? n : 1, sizeof(*sizes));
	uint8_t (*sha)[32] = calloc(n ? n : 1, sizeof(*sha));

	if (paths && sizes && sha) {
		for (size_t i = 0; i < n; i++) {
			paths[i] = v[i]->path;
			sizes[i] = v[i]->size;
			memcpy(sha[i], v[i]->sha256, 32);
			v[i]->noted = 1;
		}
		apply_intent_set_many(a, paths, sizes,
		    (const uint8_t (*)[32])sha, n);
	}
	free(paths);
	free(sizes);
	free(sha);
}

int
apply_put_finish(struct apply_put *p)
{
	struct stat st;
	int r = 0, was_dir = 0;

	/* a put made ready (apply_put_ready()) is durable by now: the
	 * caller synced the file system */
	if (!p->ready && (r = put_verify(p)) == 0)
		r = apply_attrs_fd(p->fd, p->path, p->mode, p->mtime_ns);
	if (r == 0 && (r = put_install(p, &was_dir)) == 0 &&
	    fstat(p->fd, &st) < 0)
		r = apply_fail("stat", p->path, -errno);
	if (r == 0 && was_dir)
		r = apply_forget_tree(p->a, p->path, 0);
	/* the record describes the inode installed, whatever came since */
	if (r == 0)
		r = record_chunks(p);
	if (r == 0)
		r = apply_record_stat(p->a, p->path, &st, p->sha256, NULL);
	/* short, or stuck before the rename: the temp is still there */
	if (r < 0)
		return put_failed(p, r);
	put_free(p);
	return 0;
}

/* ---- have ------------------------------------------------------------ */

/* Opens name (st: its lstat) for reading, checking it is still that
 * file. Returns the descriptor, -EAGAIN if it changed, or -errno. */
static int
open_same(int dfd, const char *name, const struct stat *st)
{
	struct stat fst;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &fst) < 0 || fst.st_dev != st->st_dev ||
	    fst.st_ino != st->st_ino || !S_ISREG(fst.st_mode)) {
		close(fd);
		return -EAGAIN;
	}
	return fd;
}

/* Whether the open file fd (st: its stat) has content sha256: by its
 * record, else by reading it. Returns 1, 0, or -errno (logged). */
static int
same_content(struct apply *a, const char *path, int fd, const struct stat *st,
    const uint8_t sha256[32])
{
	struct hashfile h;
	int r;

	if ((r = apply_known_sha(a, path, st, h.sha256)) < 0)
		return r;
	if (r == 0 && (r = hashfile_fd(fd, st, &h)) == -EAGAIN)
		return 0;	/* changing under us: not what was asked */
	if (r < 0)
		return apply_fail("read", path, r);
	return memcmp(h.sha256, sha256, 32) == 0;
}

/* Applies the metadata to the matching file fd and records it. */
static int
have_confirm(struct apply *a, const char *path, int fd, uint32_t mode,
    int64_t mtime_ns, const uint8_t sha256[32])
{
	struct stat st;
	int r;

	if ((r = apply_attrs_fd(fd, path, mode, mtime_ns)) < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return apply_fail("stat", path, -errno);
	return apply_record_stat(a, path, &st, sha256, NULL);
}

int
apply_have(struct apply *a, const char *path, uint64_t size,
    const uint8_t sha256[32], uint32_t mode, int64_t mtime_ns, int *have)
{
	const char *name;
	struct stat st;
	int dfd, fd, r;

	*have = 0;
	if ((r = apply_check("look up", path)) < 0 ||
	    (r = apply_check_ignored(a, "look up", path, 0)) < 0)
		return r;
	if ((dfd = apply_parent(a, path, &name)) == -ENOENT)
		return 0;
	if (dfd < 0)
		return apply_fail("look up", path, dfd);
	r = apply_lstat(dfd, name, &st);
	if (r < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
		close(dfd);
		return r < 0 && r != -ENOENT ? apply_fail("stat", path, r) : 0;
	}
	fd = open_same(dfd, name, &st);
	close(dfd);
	if (fd == -EACCES || fd == -EAGAIN || fd == -ENOENT)
		return 0;	/* a transfer replaces it */
	if (fd < 0)
		return apply_fail("open", path, fd);
	if ((r = same_content(a, path, fd, &st, sha256)) == 1 &&
	    (r = have_confirm(a, path, fd, mode, mtime_ns, sha256)) == 0)
		*have = 1;
	close(fd);
	return r < 0 ? r : 0;
}

/* ---- copy from a local file ------------------------------------------ */

/* Opens the file recorded as src if it is still as recorded. Returns the
 * descriptor, or -ESTALE (nothing to copy from; logged at debug). */
static int
open_source(struct apply *a, const struct store_file *src)
{
	struct stat st;
	int fd = path_open_beneath(a->rootfd, src->path, O_RDONLY |
	    O_NONBLOCK | O_NOCTTY, 0);

	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size == src->size && util_ts_ns(st.st_mtim) == src->mtime_ns)
		return fd;
	log_debug("cannot copy from %s: not as recorded", src->path);
	if (fd >= 0)
		close(fd);
	return -ESTALE;
}

/* Feeds src from offset `from` into the session. Returns 0 or -errno. */
static int
copy_into(struct apply_put *p, int src, uint64_t from, const char *spath)
{
	uint8_t *buf = malloc(COPY_BUF);
	ssize_t n;
	int r = 0;

	if (buf == NULL)
		return -ENOMEM;
	if (lseek(src, (off_t)from, SEEK_SET) < 0)
		r = apply_fail("seek in", spath, -errno);
	while (r == 0 && (n = read(src, buf, COPY_BUF)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = apply_fail("read", spath, -errno);
		else if ((r = apply_put_write(p, buf, (size_t)n)) == -EFBIG)
			r = -EBADMSG;	/* the source grew: not as recorded */
	}
	free(buf);
	return r;
}

int
apply_copy_local(struct apply *a, const char *path, uint64_t size,
    const uint8_t sha256[32], uint32_t mode, int64_t mtime_ns, int *done)
{
	struct store_file src;
	struct apply_put *p;
	uint64_t have;
	int fd, r;

	*done = 0;
	if ((r = put_check(a, path, size)) < 0)
		return r;
	if ((r = store_file_load_by_sha256(a->st, sha256, &src)) < 0)
		return r == -ENOENT ? 0 : r;
	if ((uint64_t)src.size != size || (fd = open_source(a, &src)) < 0) {
		store_file_clear(&src);
		return 0;
	}
	r = put_begin(a, path, size, sha256, mode, mtime_ns, &p, &have);
	if (r == 0 && (r = copy_into(p, fd, have, src.path)) < 0)
		apply_put_abort(p, r != -EBADMSG);
	else if (r == 0 && (r = apply_put_finish(p)) == 0)
		*done = 1;
	close(fd);
	store_file_clear(&src);
	return r == -EBADMSG || r == -ENODATA ? 0 : r;
}

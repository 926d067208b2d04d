/* jingle/file.c -- the path rule for received names, and the default
 * file sink and source (see jingle.h). The slave applier replaces the sink
 * with its own (same interface); this one is complete enough for tests
 * and the tools: temp file in the folder, SHA-256 while writing, resume
 * from a kept prefix, fsync, rename into place without following
 * symlinks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gcrypt.h>

#include "agent/jingle/jingle.h"
#include "sync/path.h"
#include "agent/log.h"

#define TMP_PREFIX ".xmpp-sync-tmp."

int
jingle_path_check(const char *p)
{
	size_t len;

	/* the folder's one path rule (sync/path.h), plus plain text: no
	 * control characters (XML cannot carry them) and no backslash in a
	 * name offered to a peer, which other systems take as a separator */
	if (p == NULL || (len = strlen(p)) > JINGLE_NAME_MAX || strchr(p, '\\'))
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return -EINVAL;
	return path_check_relative(p, len) < 0 ? -EINVAL : 0;
}

/* ---- SHA-256 ---- */

int
jingle_sha256_file(const char *path, unsigned char out[32])
{
	gcry_md_hd_t md;
	unsigned char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (gcry_md_open(&md, GCRY_MD_SHA256, 0) != 0) {
		close(fd);
		return -ENOMEM;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		gcry_md_write(md, buf, (size_t)n);
	if (n < 0)
		r = -errno;
	else
		memcpy(out, gcry_md_read(md, GCRY_MD_SHA256), 32);
	gcry_md_close(md);
	close(fd);
	return r;
}

/* ---- sink ---- */

struct fsink {
	int rootfd, fd;
	char tmp[64];
	char *name;
	uint64_t size, pos;
	unsigned char want[32];
	int have_want;          /* want is known (at open, or expect()) */
	gcry_md_hd_t md;
};

/* The temp name depends on the offer only, so a retry finds the prefix. */
static void
tmp_name(const struct jingle_file *f, char out[64])
{
	gcry_md_hd_t md;
	char num[32];
	const unsigned char *d;

	gcry_md_open(&md, GCRY_MD_SHA256, 0);
	gcry_md_write(md, f->name, strlen(f->name) + 1);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)f->size);
	gcry_md_write(md, num, strlen(num) + 1);
	gcry_md_write(md, f->sha256, 32);
	d = gcry_md_read(md, GCRY_MD_SHA256);
	memcpy(out, TMP_PREFIX, strlen(TMP_PREFIX));
	for (int i = 0; i < 16; i++)
		snprintf(out + strlen(TMP_PREFIX) + 2 * i, 3, "%02x", d[i]);
	gcry_md_close(md);
}

static void
fsink_free(struct fsink *k, int unlink_tmp)
{
	if (k->fd >= 0)
		close(k->fd);
	if (unlink_tmp)
		unlinkat(k->rootfd, k->tmp, 0);
	if (k->rootfd >= 0)
		close(k->rootfd);
	if (k->md)
		gcry_md_close(k->md);
	free(k->name);
	free(k);
}

/* Hashes the kept prefix [0, have) into k->md. Returns 0 or -errno. */
static int
hash_prefix(struct fsink *k, uint64_t have)
{
	unsigned char buf[65536];
	uint64_t off = 0;

	while (off < have) {
		size_t want = have - off < sizeof(buf) ? have - off : sizeof(buf);
		ssize_t n = pread(k->fd, buf, want, (off_t)off);
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		gcry_md_write(k->md, buf, (size_t)n);
		off += (uint64_t)n;
	}
	return 0;
}

static int
fsink_open(void *arg, const char *peer, const struct jingle_file *f, void **h,
    uint64_t *have)
{
	const char *dir = arg;
	struct fsink *k = calloc(1, sizeof(*k));
	struct stat st;
	int r;

	(void)peer;
	*have = 0;
	if (k == NULL)
		return -ENOMEM;
	k->fd = -1;
	k->size = f->size;
	memcpy(k->want, f->sha256, 32);
	k->have_want = f->has_hash;
	tmp_name(f, k->tmp);
	if ((k->name = strdup(f->name)) == NULL ||
	    gcry_md_open(&k->md, GCRY_MD_SHA256, 0) != 0) {
		fsink_free(k, 0);
		return -ENOMEM;
	}
	k->rootfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (k->rootfd < 0 || (k->fd = openat(k->rootfd, k->tmp, O_RDWR |
	    O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
	    fstat(k->fd, &st) < 0) {
		r = -errno;
		log_error("cannot create %s/%s: %s", dir, k->tmp, strerror(-r));
		fsink_free(k, 0);
		return r;
	}
	/* a prefix is only kept for the same content: without a hash the
	 * temp name says nothing about it */
	if (st.st_size > 0 && ((uint64_t)st.st_size >= f->size ||
	    !f->has_hash)) {
		if (ftruncate(k->fd, 0) < 0)
			log_warn("cannot truncate %s: %s", k->tmp, strerror(errno));
		st.st_size = 0;
	}
	if ((r = hash_prefix(k, (uint64_t)st.st_size)) < 0 ||
	    lseek(k->fd, st.st_size, SEEK_SET) < 0) {
		fsink_free(k, 1);
		return r < 0 ? r : -errno;
	}
	k->pos = (uint64_t)st.st_size;
	*have = k->pos;
	*h = k;
	return 0;
}

static int
fsink_write(void *h, const unsigned char *p, size_t n)
{
	struct fsink *k = h;

	if (n > k->size - k->pos)
		return -EMSGSIZE;
	gcry_md_write(k->md, p, n);
	while (n > 0) {
		ssize_t w = write(k->fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
		k->pos += (uint64_t)w;
	}
	return 0;
}

/* Opens (making them as needed) the directories of name below rootfd
 * without following symlinks; sets *base to the last component. Returns
 * the parent fd or a negative errno. */
static int
open_parent(int rootfd, char *name, char **base)
{
	int fd = dup(rootfd);
	char *p = name, *slash;

	if (fd < 0)
		return -errno;
	while ((slash = strchr(p, '/')) != NULL) {
		*slash = '\0';
		if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST) {
			int r = -errno;
			close(fd);
			return r;
		}
		int next = openat(fd, p, O_DIRECTORY | O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC);
		*slash = '/';
		close(fd);
		if (next < 0)
			return -errno;
		fd = next;
		p = slash + 1;
	}
	*base = p;
	return fd;
}

static int
fsink_expect(void *h, const unsigned char sha256[32])
{
	struct fsink *k = h;

	memcpy(k->want, sha256, 32);
	k->have_want = 1;
	return 0;
}

static int
fsink_finish(void *h)
{
	struct fsink *k = h;
	char *base = NULL;
	int pfd, r;

	if (k->pos != k->size || !k->have_want ||
	    memcmp(gcry_md_read(k->md, GCRY_MD_SHA256), k->want, 32) != 0) {
		log_error("%s: sha-256 mismatch, discarded", k->name);
		fsink_free(k, 1);
		return -EBADMSG;
	}
	if (fsync(k->fd) < 0) {
		r = -errno;
		log_error("cannot fsync %s: %s", k->tmp, strerror(-r));
		fsink_free(k, 1);
		return r;
	}
	if ((pfd = open_parent(k->rootfd, k->name, &base)) < 0) {
		log_error("cannot make the folders of %s: %s", k->name,
		    strerror(-pfd));
		fsink_free(k, 1);
		return pfd;
	}
	if (renameat(k->rootfd, k->tmp, pfd, base) < 0) {
		r = -errno;
		log_error("cannot rename into %s: %s", k->name, strerror(-r));
		close(pfd);
		fsink_free(k, 1);
		return r;
	}
	fsync(pfd);
	close(pfd);
	fsink_free(k, 0);
	return 0;
}

static void
fsink_abort(void *h, int keep)
{
	fsink_free(h, !keep);
}

struct jingle_sink
jingle_file_sink(const char *dir)
{
	struct jingle_sink s = {.open = fsink_open, .write = fsink_write,
	    .expect = fsink_expect, .finish = fsink_finish,
	    .abort = fsink_abort, .arg = (void *)(uintptr_t)dir};
	return s;
}

/* ---- source ---- */

/* Opens <dir>/<name> for reading without following a symlink in any
 * component: a directory swapped for a symlink after the scan must not
 * make us read (and send) a file from outside the folder. Only regular
 * files are sent; O_NONBLOCK keeps a FIFO planted there from blocking. */
static int
fsrc_open(void *arg, const struct jingle_file *f, void *cookie, void **h)
{
	const char *dir = arg;
	struct stat st;
	int root, *fd = malloc(sizeof(*fd));

	(void)cookie;
	if (fd == NULL)
		return -ENOMEM;
	if ((root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		*fd = -errno;
	else {
		*fd = path_open_beneath(root, f->name, O_RDONLY | O_NONBLOCK, 0);
		close(root);
	}
	if (*fd >= 0 && fstat(*fd, &st) == 0 && !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -EINVAL;
	}
	if (*fd < 0) {
		int r = *fd;
		log_error("cannot open %s/%s: %s", dir, f->name,
		    r == -EINVAL ? "not a regular file beneath the folder" :
		    r == -ELOOP || r == -ENOTDIR || r == -EXDEV ?
		    "a symlink on the way" : strerror(-r));
		free(fd);
		return r;
	}
	*h = fd;
	return 0;
}

static ssize_t
fsrc_read(void *h, uint64_t off, unsigned char *p, size_t n)
{
	ssize_t r = pread(*(int *)h, p, n, (off_t)off);

	return r < 0 ? -errno : r;
}

static void
fsrc_close(void *h)
{
	close(*(int *)h);
	free(h);
}

struct jingle_source
jingle_file_source(const char *dir)
{
	struct jingle_source s = {fsrc_open, fsrc_read, fsrc_close,
	    (void *)(uintptr_t)dir};
	return s;
}

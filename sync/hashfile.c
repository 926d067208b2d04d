/* hashfile.c -- see hashfile.h */
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sync/chunk.h"
#include "sync/hashfile.h"
#include "sync/path.h"
#include "agent/util.h"

#define HASHFILE_BUF (128 * 1024)

/* Whether a and b describe the same file in the same state. */
static int
same_state(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    util_ts_ns(a->st_mtim) == util_ts_ns(b->st_mtim) &&
	    util_ts_ns(a->st_ctim) == util_ts_ns(b->st_ctim);
}

/* Reads fd from offset 0 to its end through SHA-256 into out and sets
 * *bytes; with a chunker ck, through it too, in the same pass. Returns 0,
 * -ENOMEM, the chunker's error or pread's -errno. */
static int
digest(int fd, uint8_t out[32], int64_t *bytes, struct chunker *ck)
{
	uint8_t *buf = malloc(HASHFILE_BUF);
	gcry_md_hd_t h;
	ssize_t n;
	int r = 0;

	*bytes = 0;
	if (buf == NULL || gcry_md_open(&h, GCRY_MD_SHA256, 0) != 0) {
		free(buf);
		return -ENOMEM;
	}
	while ((n = pread(fd, buf, HASHFILE_BUF, (off_t)*bytes)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		gcry_md_write(h, buf, (size_t)n);
		*bytes += n;
		if (ck && (r = chunker_feed(ck, buf, (size_t)n)) < 0)
			break;
	}
	if (r == 0)
		memcpy(out, gcry_md_read(h, GCRY_MD_SHA256), 32);
	gcry_md_close(h);
	free(buf);
	return r;
}

int
hashfile_fd_chunks(int fd, const struct stat *expect, struct hashfile *out,
    struct chunk_list *chunks)
{
	struct stat before, after;
	struct chunker *ck = NULL;
	int64_t bytes;
	int r;

	if (chunks)
		chunk_list_clear(chunks);
	if (fstat(fd, &before) < 0)
		return -errno;
	if (expect && !same_state(expect, &before))
		return -EAGAIN;
	if (!S_ISREG(before.st_mode))
		return -EINVAL;
	if (chunks && chunk_wanted(before.st_size) &&
	    (r = chunker_new(&ck)) < 0)
		return r;
	if ((r = digest(fd, out->sha256, &bytes, ck)) == 0 && ck)
		r = chunker_finish(ck, chunks);
	chunker_free(ck);
	if (r == 0 && fstat(fd, &after) < 0)
		r = -errno;
	if (r == 0 && (!same_state(&before, &after) ||
	    bytes != before.st_size))
		r = -EAGAIN;
	if (r < 0) {
		if (chunks)
			chunk_list_clear(chunks);
		return r;
	}
	out->size = bytes;
	out->mtime_ns = util_ts_ns(before.st_mtim);
	return 0;
}

int
hashfile_fd(int fd, const struct stat *expect, struct hashfile *out)
{
	return hashfile_fd_chunks(fd, expect, out, NULL);
}

int
hashfile_at(int dirfd, const char *path, const struct stat *expect,
    struct hashfile *out)
{
	return hashfile_at_chunks(dirfd, path, expect, out, NULL);
}

int
hashfile_at_chunks(int dirfd, const char *path, const struct stat *expect,
    struct hashfile *out, struct chunk_list *chunks)
{
	int fd, r;

	/* O_NONBLOCK: a fifo planted since the caller's stat must not hang
	 * us; hashfile_fd() then refuses it */
	fd = path_open_beneath(dirfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY,
	    0);
	if (fd < 0)
		return fd;
	r = hashfile_fd_chunks(fd, expect, out, chunks);
	close(fd);
	return r;
}

int
hashfile_read_at(int dirfd, const char *path, void *buf, size_t cap,
    struct hashfile *out)
{
	struct stat before, after;
	size_t got = 0;
	ssize_t n;
	int fd, r = 0;

	fd = path_open_beneath(dirfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY,
	    0);
	if (fd < 0)
		return fd;
	if (fstat(fd, &before) < 0)
		r = -errno;
	else if (!S_ISREG(before.st_mode))
		r = -EINVAL;
	else if ((uint64_t)before.st_size > cap)
		r = -EFBIG;
	/* one byte more than the size tells a file that grew meanwhile */
	while (r == 0 && got <= (size_t)before.st_size && got < cap) {
		n = pread(fd, (char *)buf + got, cap - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		else if (n == 0)
			break;
		else
			got += (size_t)n;
	}
	if (r == 0 && fstat(fd, &after) < 0)
		r = -errno;
	if (r == 0 && (!same_state(&before, &after) ||
	    got != (size_t)before.st_size))
		r = -EAGAIN;
	close(fd);
	if (r < 0)
		return r;
	gcry_md_hash_buffer(GCRY_MD_SHA256, out->sha256, buf, got);
	out->size = (int64_t)got;
	out->mtime_ns = util_ts_ns(before.st_mtim);
	return 0;
}

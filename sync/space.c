/* space.c -- see space.h */
#include <errno.h>
#include <stdlib.h>
#include <sys/statvfs.h>

#include "sync/space.h"

int
space_fs_get(int fd, struct space_fs *out)
{
	struct statvfs sv;
	uint64_t unit;

	if (fstatvfs(fd, &sv) < 0)
		return -errno;
	unit = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
	out->size = (uint64_t)sv.f_blocks * unit;
	out->avail = (uint64_t)sv.f_bavail * unit;
	out->block = unit ? unit : 1;
	return 0;
}

uint64_t
space_blocks(const struct space_fs *fs, uint64_t n)
{
	uint64_t b = fs->block ? fs->block : 1, r = n % b;

	return r == 0 || n > UINT64_MAX - (b - r) ? n : n + (b - r);
}

uint64_t
space_room(const struct space_fs *fs, uint64_t min_free, uint64_t reserved)
{
	uint64_t keep = min_free > UINT64_MAX - reserved ? UINT64_MAX :
	    min_free + reserved;

	return fs->avail > keep ? fs->avail - keep : 0;
}

/* Oldest first; of the same age, largest first. */
static int
cand_cmp(const void *pa, const void *pb)
{
	const struct space_cand *a = pa, *b = pb;

	if (a->mtime_ns != b->mtime_ns)
		return a->mtime_ns < b->mtime_ns ? -1 : 1;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return 0;
}

int
space_decide(uint64_t room, uint64_t need, struct space_cand *c, size_t n,
    size_t *ndrop)
{
	uint64_t got = room;

	*ndrop = 0;
	if (need <= room)
		return 0;
	if (n > 1)
		qsort(c, n, sizeof(*c), cand_cmp);
	for (size_t i = 0; i < n; i++) {
		got = c[i].bytes > UINT64_MAX - got ? UINT64_MAX : got + c[i].bytes;
		if (got >= need) {
			*ndrop = i + 1;
			return 0;
		}
	}
	return -ENOSPC;
}

/* mktree -- benchmark helper: a reproducible tree of small files.
 *
 *   mktree DIR FILES DIRS MIN MAX [SEED]
 *
 * Makes DIRS directories d0 .. d(DIRS-1) below DIR and spreads FILES files
 * over them (f0, f1, ... round robin), each of a size drawn uniformly from
 * MIN..MAX bytes and filled with pseudo-random bytes (xorshift64*, so the
 * same SEED gives the same tree and nothing compresses). Prints the total
 * number of bytes written. Exit status 0, or 1 with a message. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t
next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

int
main(int argc, char **argv)
{
	static unsigned char buf[1 << 20];
	char path[4096];
	uint64_t seed, total = 0;
	long files, dirs, min, max;

	if (argc < 6 || argc > 7) {
		fprintf(stderr, "usage: mktree DIR FILES DIRS MIN MAX [SEED]\n");
		return 1;
	}
	files = atol(argv[2]);
	dirs = atol(argv[3]);
	min = atol(argv[4]);
	max = atol(argv[5]);
	seed = argc == 7 ? strtoull(argv[6], NULL, 10) : 1;
	if (seed == 0)
		seed = 1;
	if (files < 0 || dirs < 1 || min < 0 || max < min ||
	    max > (long)sizeof(buf)) {
		fprintf(stderr, "mktree: bad sizes or counts\n");
		return 1;
	}
	for (long d = 0; d < dirs; d++) {
		snprintf(path, sizeof(path), "%s/d%ld", argv[1], d);
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			fprintf(stderr, "mktree: %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	for (long i = 0; i < files; i++) {
		long size = min + (long)(next(&seed) % (uint64_t)(max - min + 1));
		int fd;

		for (long k = 0; k < size; k += 8) {
			uint64_t v = next(&seed);
			memcpy(buf + k, &v, size - k < 8 ? (size_t)(size - k) : 8);
		}
		snprintf(path, sizeof(path), "%s/d%ld/f%ld", argv[1], i % dirs, i);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0 ||
		    write(fd, buf, (size_t)size) != size || close(fd) < 0) {
			fprintf(stderr, "mktree: %s: %s\n", path, strerror(errno));
			return 1;
		}
		total += (uint64_t)size;
	}
	printf("%" PRIu64 "\n", total);
	return 0;
}

/* test_hasher.c -- the hashing thread, driven without an event loop:
 * results arrive through hasher_process() once hasher_fd() is readable,
 * with the right checksum, size and chunk list; a missing file reports its error; a
 * queued path is busy until its result is delivered. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/crypto/crypto.h"
#include "sync/chunk.h"
#include "sync/hasher.h"
#include "tests/testutil.h"
#include "tests/unit.h"

struct got {
	int n;
	char path[64];
	int err;
	int64_t size;
	char hex[65];
	size_t nchunks;
	int64_t chunked;	/* the sum of their lengths */
};

static void
on_done(const struct hasher_result *r, void *arg)
{
	struct got *g = arg;	/* g[0].n counts; g[1], g[2] hold results */
	struct got *slot = &g[g->n + 1];

	if (g->n < 2) {
		snprintf(slot->path, sizeof(slot->path), "%s", r->path);
		slot->err = r->err;
		slot->size = r->size;
		slot->nchunks = r->chunks->n;
		slot->chunked = chunk_list_size(r->chunks);
		for (int i = 0; i < 32; i++)
			sprintf(slot->hex + 2 * i, "%02x", r->sha256[i]);
	}
	g->n++;
}

/* Writes n bytes of xorshift64 noise to path. */
static int
write_noise(const char *path, size_t n)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint8_t *buf = malloc(n);
	int r;

	if (buf == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)(x >> 24);
	}
	r = tu_write_file(path, buf, n, 0644);
	free(buf);
	return r;
}

/* Waits up to 10 s for the results until g counts want of them. */
static void
wait_results(struct hasher *h, struct got *g, int want)
{
	struct pollfd p = {.fd = hasher_fd(h), .events = POLLIN};

	for (int i = 0; i < 100 && g[0].n < want; i++)
		if (poll(&p, 1, 100) > 0)
			hasher_process(h, on_done, g);
}

static int
t_hashes_off_the_loop_and_reports_errors(void)
{
	char dir[sizeof(TU_TMP_TEMPLATE)], cmd[256], want[65] = "";
	struct got g[3];
	struct hasher *h;
	int rootfd;
	FILE *f;

	memset(g, 0, sizeof(g));
	EXPECT_INT(tu_tmpdir(dir, sizeof(dir)), 0);
	snprintf(cmd, sizeof(cmd), "%s/big", dir);
	EXPECT_INT(write_noise(cmd, 5000000), 0);
	/* coreutils computes the checksum we expect, independently */
	snprintf(cmd, sizeof(cmd), "sha256sum %s/big", dir);
	EXPECT((f = popen(cmd, "r")) != NULL, "popen");
	EXPECT(fscanf(f, "%64s", want) == 1, "sha256sum output");
	pclose(f);
	rootfd = open(dir, O_RDONLY | O_DIRECTORY);
	EXPECT_INT(hasher_new(rootfd, &h), 0);
	EXPECT_INT(hasher_submit(h, "big"), 0);
	EXPECT(hasher_busy(h, "big"), "a queued path is busy");
	EXPECT(!hasher_busy(h, "other"), "another path is not busy");
	wait_results(h, g, 1);
	EXPECT_INT(g[0].n, 1);
	EXPECT(!hasher_busy(h, "big"), "still busy after delivery");
	EXPECT_STR(g[1].path, "big");
	EXPECT_INT(g[1].err, 0);
	EXPECT_INT(g[1].size, 5000000);
	EXPECT_STR(g[1].hex, want);
	/* cut in the same pass: about 70 chunks covering the file */
	EXPECT(g[1].nchunks > 40 && g[1].nchunks < 100, "%zu chunks",
	    g[1].nchunks);
	EXPECT_INT(g[1].chunked, 5000000);
	EXPECT_INT(hasher_submit(h, "missing"), 0);
	wait_results(h, g, 2);
	EXPECT_INT(g[2].err, -ENOENT);
	EXPECT_INT(hasher_process(h, on_done, g), 0);	/* nothing left */
	hasher_free(h);
	close(rootfd);
	EXPECT_INT(tu_rmtree(dir), 0);
	return 0;
}

static const struct unit_test tests[] = {
	{"hashes_off_the_loop_and_reports_errors",
	 t_hashes_off_the_loop_and_reports_errors},
};

int
main(int argc, char **argv)
{
	if (crypto_global_init() < 0) {
		printf("FAIL test_hasher.c/init: libgcrypt\n");
		return 1;
	}
	return unit_run("test_hasher.c", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
}

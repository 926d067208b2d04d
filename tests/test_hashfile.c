/* test_hashfile.c -- hashing a file that may be changing: the checksum,
 * size and mtime of a quiet file; -EAGAIN for a file that is not the one
 * the caller stat'ed, or whose bytes do not match its size; no symlink
 * followed on the way; a directory refused; the descriptor's offset kept. */
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/crypto/crypto.h"
#include "sync/chunk.h"
#include "sync/hashfile.h"
#include "tests/unit.h"
#include "agent/util.h"

struct fx {
	char dir[32];
	int dfd;
};

static int
fx_open(struct fx *fx)
{
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/xs-test.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	fx->dfd = open(fx->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fx->dfd < 0 ? -1 : 0;
}

static void
fx_close(struct fx *fx)
{
	char cmd[64];

	close(fx->dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fx->dir);
}

/* Writes n bytes of a pattern to name; sets want to their SHA-256. */
static int
put(struct fx *fx, const char *name, size_t n, uint8_t want[32])
{
	char *buf = malloc(n ? n : 1);
	int fd = openat(fx->dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int ok;

	for (size_t i = 0; buf && i < n; i++)
		buf[i] = (char)(i * 7 + 3);
	ok = buf && fd >= 0 && write(fd, buf, n) == (ssize_t)n;
	if (ok && want)
		gcry_md_hash_buffer(GCRY_MD_SHA256, want, buf, n);
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok ? 0 : -1;
}

static int
t_quiet_file_checksum_size_mtime(void)
{
	struct fx fx;
	struct hashfile h;
	struct stat st;
	uint8_t want[32];

	EXPECT(fx_open(&fx) == 0, "fixture");
	EXPECT(mkdirat(fx.dfd, "d", 0755) == 0, "mkdir");
	EXPECT(put(&fx, "d/f", 300000, want) == 0, "write");	/* > 1 buffer */
	EXPECT(fstatat(fx.dfd, "d/f", &st, 0) == 0, "stat");
	EXPECT_INT(hashfile_at(fx.dfd, "d/f", &st, &h), 0);
	EXPECT_INT(h.size, 300000);
	EXPECT_INT(h.mtime_ns, util_ts_ns(st.st_mtim));
	EXPECT(memcmp(h.sha256, want, 32) == 0, "checksum differs");
	EXPECT_INT(hashfile_at(fx.dfd, "d/f", NULL, &h), 0);
	EXPECT(memcmp(h.sha256, want, 32) == 0, "checksum without expect");
	EXPECT_INT(hashfile_at(fx.dfd, "d/missing", NULL, &h), -ENOENT);
	fx_close(&fx);
	return 0;
}

static int
t_changed_since_stat_is_eagain(void)
{
	struct fx fx;
	struct hashfile h;
	struct stat st;
	int fd;

	EXPECT(fx_open(&fx) == 0, "fixture");
	EXPECT(put(&fx, "f", 1000, NULL) == 0, "write");
	EXPECT(fstatat(fx.dfd, "f", &st, 0) == 0, "stat");
	EXPECT((fd = openat(fx.dfd, "f", O_WRONLY | O_APPEND)) >= 0, "open");
	EXPECT(write(fd, "x", 1) == 1, "append");
	close(fd);
	EXPECT_INT(hashfile_at(fx.dfd, "f", &st, &h), -EAGAIN);
	/* replaced by another file of the same size */
	EXPECT(fstatat(fx.dfd, "f", &st, 0) == 0, "stat");
	EXPECT(put(&fx, "g", 1001, NULL) == 0, "write");
	EXPECT(renameat(fx.dfd, "g", fx.dfd, "f") == 0, "rename");
	EXPECT_INT(hashfile_at(fx.dfd, "f", &st, &h), -EAGAIN);
	fx_close(&fx);
	return 0;
}

/* A /proc file says size 0 and yields bytes: what was read is not the
 * file's size, as when a writer appends during the read. */
static int
t_bytes_not_matching_size_is_eagain(void)
{
	struct hashfile h;
	int fd = open("/proc/self/status", O_RDONLY);

	if (fd < 0)
		return unit_skip("no /proc");
	EXPECT_INT(hashfile_fd(fd, NULL, &h), -EAGAIN);
	close(fd);
	return 0;
}

static int
t_symlink_on_the_way_not_followed(void)
{
	struct fx fx;
	struct hashfile h;
	int r;

	EXPECT(fx_open(&fx) == 0, "fixture");
	EXPECT(mkdirat(fx.dfd, "real", 0755) == 0, "mkdir");
	EXPECT(put(&fx, "real/f", 10, NULL) == 0, "write");
	EXPECT(symlinkat("real", fx.dfd, "link") == 0, "symlink dir");
	EXPECT(symlinkat("real/f", fx.dfd, "flink") == 0, "symlink file");
	r = hashfile_at(fx.dfd, "link/f", NULL, &h);
	EXPECT(r == -ELOOP || r == -ENOTDIR || r == -EXDEV,
	    "a symlinked directory was followed: %d", r);
	r = hashfile_at(fx.dfd, "flink", NULL, &h);
	EXPECT(r == -ELOOP || r == -EXDEV, "a symlink was followed: %d", r);
	EXPECT_INT(hashfile_at(fx.dfd, "real", NULL, &h), -EINVAL);
	fx_close(&fx);
	return 0;
}

static int
t_offset_kept_whole_file_hashed(void)
{
	struct fx fx;
	struct hashfile h;
	uint8_t want[32];
	int fd;

	EXPECT(fx_open(&fx) == 0, "fixture");
	EXPECT(put(&fx, "f", 5000, want) == 0, "write");
	EXPECT((fd = openat(fx.dfd, "f", O_RDONLY)) >= 0, "open");
	EXPECT(lseek(fd, 123, SEEK_SET) == 123, "seek");
	EXPECT_INT(hashfile_fd(fd, NULL, &h), 0);
	EXPECT(memcmp(h.sha256, want, 32) == 0, "not the whole file");
	EXPECT_INT(lseek(fd, 0, SEEK_CUR), 123);
	close(fd);
	fx_close(&fx);
	return 0;
}

/* The chunks of name's n bytes, cut by a chunker over the same pattern
 * put() writes. */
static int
chunks_of_pattern(size_t n, struct chunk_list *out)
{
	uint8_t *buf = malloc(n);
	struct chunker *c;
	int r;

	if (buf == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	if ((r = chunker_new(&c)) == 0) {
		if ((r = chunker_feed(c, buf, n)) == 0)
			r = chunker_finish(c, out);
		chunker_free(c);
	}
	free(buf);
	return r;
}

static int
t_chunks_cut_in_the_same_pass_as_the_checksum(void)
{
	struct fx fx;
	struct hashfile h;
	struct chunk_list got = {0}, want = {0};
	uint8_t sum[32];
	size_t n = 3 * CHUNK_MAX + 12345;

	EXPECT_INT(fx_open(&fx), 0);
	EXPECT_INT(put(&fx, "big", n, sum), 0);
	EXPECT_INT(put(&fx, "small", CHUNK_SMALL - 1, NULL), 0);
	EXPECT_INT(hashfile_at_chunks(fx.dfd, "big", NULL, &h, &got), 0);
	EXPECT(memcmp(h.sha256, sum, 32) == 0, "wrong checksum");
	EXPECT_INT(chunks_of_pattern(n, &want), 0);
	EXPECT(got.n == want.n && got.n >= 4 &&
	    memcmp(got.v, want.v, got.n * sizeof(*got.v)) == 0,
	    "%zu chunks, want the chunker's %zu", got.n, want.n);
	EXPECT_INT(chunk_list_size(&got), n);
	/* below CHUNK_SMALL no list; an error leaves none either */
	EXPECT_INT(hashfile_at_chunks(fx.dfd, "small", NULL, &h, &got), 0);
	EXPECT_INT(got.n, 0);
	EXPECT_INT(hashfile_at_chunks(fx.dfd, "gone", NULL, &h, &got), -ENOENT);
	EXPECT_INT(got.n, 0);
	chunk_list_clear(&want);
	fx_close(&fx);
	return 0;
}

static const struct unit_test tests[] = {
	{"quiet_file_checksum_size_mtime", t_quiet_file_checksum_size_mtime},
	{"chunks_cut_in_the_same_pass_as_the_checksum",
	 t_chunks_cut_in_the_same_pass_as_the_checksum},
	{"changed_since_stat_is_eagain", t_changed_since_stat_is_eagain},
	{"bytes_not_matching_size_is_eagain",
	 t_bytes_not_matching_size_is_eagain},
	{"symlink_on_the_way_not_followed", t_symlink_on_the_way_not_followed},
	{"offset_kept_whole_file_hashed", t_offset_kept_whole_file_hashed},
};

int
main(int argc, char **argv)
{
	if (crypto_global_init() < 0) {
		printf("FAIL test_hashfile.c/init: libgcrypt\n");
		return 1;
	}
	return unit_run("test_hashfile.c", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);
}

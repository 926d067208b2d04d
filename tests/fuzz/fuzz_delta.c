/* fuzz_delta.c -- a slave taking any delta stream (agent/mirror/delta.c:
 * the chunk count, the packed list, the chunks) for a fixed new version
 * of a file it holds: it must refuse what does not build exactly that
 * version, leave its own version in place and no temp file behind, and
 * never crash.
 *
 * Input: byte 0 is the write size (0: everything at once, n: n bytes at a
 * time), the rest the plaintext of the stream. The slave's folder, made
 * once per process in $TMPDIR, holds "f": FUZZ_DELTA_BASE bytes of
 * xorshift64 noise from seed 1; the new version is that with 4096 bytes
 * from offset 150000 inverted and 5000 bytes of noise from seed 2
 * appended. A stream the sink takes must have installed exactly the new
 * version; then "f" is put back.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/crypto/crypto.h"
#include "agent/log.h"
#include "agent/mirror/mirror_int.h"
#include "store/store.h"
#include "sync/apply.h"
#include "sync/chunk.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_DELTA_BASE 300000
#define FUZZ_DELTA_NEW (FUZZ_DELTA_BASE + 5000)

static struct {
	char dir[256], root[300], db[300];
	struct store *st;
	struct apply *a;
	uint8_t base[FUZZ_DELTA_BASE], nv[FUZZ_DELTA_NEW];
	uint8_t base_sha[32], nv_sha[32];
} fx;

static void
noise(uint8_t *p, size_t n, uint64_t x)
{
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

/* Receives b as "f" the ordinary way, which also keeps its chunk list. */
static void
put(const uint8_t *b, size_t n, const uint8_t sha[32])
{
	struct apply_put *p;
	uint64_t have;

	fuzz_check(apply_put_begin(fx.a, "f", n, sha, 0644, 1, &p, &have) == 0);
	fuzz_check(have == 0 || apply_put_truncate(p, 0) == 0);
	fuzz_check(apply_put_write(p, b, n) == 0);
	fuzz_check(apply_put_finish(p) == 0);
}

static void
teardown(void)
{
	char path[600];
	struct dirent *e;
	DIR *d;

	apply_free(fx.a);
	store_close(fx.st);
	if ((d = opendir(fx.root)) != NULL) {
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.' || strncmp(e->d_name, ".xmpp",
			    5) == 0) {
				snprintf(path, sizeof(path), "%s/%s", fx.root,
				    e->d_name);
				unlink(path);
			}
		closedir(d);
	}
	rmdir(fx.root);
	if ((d = opendir(fx.dir)) != NULL) {
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.') {
				snprintf(path, sizeof(path), "%s/%s", fx.dir,
				    e->d_name);
				unlink(path);
			}
		closedir(d);
	}
	rmdir(fx.dir);
}

static void
setup(void)
{
	const char *tmp = getenv("TMPDIR");

	fuzz_check(crypto_global_init() == 0);
	log_set_level(LOG_LVL_ERROR);
	snprintf(fx.dir, sizeof(fx.dir), "%s/xs-fuzz-delta.XXXXXX",
	    tmp ? tmp : "/tmp");
	fuzz_check(mkdtemp(fx.dir) != NULL);
	snprintf(fx.root, sizeof(fx.root), "%s/root", fx.dir);
	snprintf(fx.db, sizeof(fx.db), "%s/state.db", fx.dir);
	fuzz_check(mkdir(fx.root, 0755) == 0);
	fuzz_check(store_open(fx.db, &fx.st) == 0);
	fuzz_check(apply_open(fx.root, fx.st, NULL, 0, &fx.a) == 0);
	atexit(teardown);
	noise(fx.base, sizeof(fx.base), 1);
	memcpy(fx.nv, fx.base, sizeof(fx.base));
	for (size_t i = 0; i < 4096; i++)
		fx.nv[150000 + i] ^= 0xff;
	noise(fx.nv + FUZZ_DELTA_BASE, 5000, 2);
	gcry_md_hash_buffer(GCRY_MD_SHA256, fx.base_sha, fx.base,
	    sizeof(fx.base));
	gcry_md_hash_buffer(GCRY_MD_SHA256, fx.nv_sha, fx.nv, sizeof(fx.nv));
	put(fx.base, sizeof(fx.base), fx.base_sha);
}

/* Whether "f" holds exactly b. */
static int
holds(const uint8_t *b, size_t n)
{
	char path[600];
	uint8_t *got = malloc(n + 1);
	int fd, same = 0;
	ssize_t r;

	snprintf(path, sizeof(path), "%s/f", fx.root);
	if (got != NULL && (fd = open(path, O_RDONLY)) >= 0) {
		r = read(fd, got, n + 1);
		same = r == (ssize_t)n && memcmp(got, b, n) == 0;
		close(fd);
	}
	free(got);
	return same;
}

static int
temps(void)
{
	DIR *d = opendir(fx.root);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)) != NULL)
		n += strncmp(e->d_name, ".xmpp-sync-tmp.", 15) == 0;
	if (d)
		closedir(d);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct mirror_dsink_args in = {.path = "f", .size = FUZZ_DELTA_NEW,
	    .mode = 0644, .mtime_ns = 1};
	struct mirror_dsink *s;
	size_t step;
	int r = 0;

	if (size < 1)
		return 0;
	if (!ready++)
		setup();
	step = data[0] ? data[0] : size;
	data++, size--;
	in.stream = size;
	memcpy(in.sha256, fx.nv_sha, 32);
	memcpy(in.base, fx.base_sha, 32);
	fuzz_check(mirror_delta_sink_open(fx.a, fx.st, &in, &s) == 0);
	for (size_t o = 0; r == 0 && o < size; o += step)
		r = mirror_delta_sink_write(s, data + o, size - o < step ?
		    size - o : step);
	if (r < 0)
		mirror_delta_sink_abort(s, 0);
	else
		r = mirror_delta_sink_finish(s);
	fuzz_check(temps() == 0);
	if (r == 0) {
		/* taken: it is the new version, whole; put the old one back */
		fuzz_check(holds(fx.nv, sizeof(fx.nv)));
		put(fx.base, sizeof(fx.base), fx.base_sha);
	} else
		fuzz_check(holds(fx.base, sizeof(fx.base)));
	return 0;
}

/* test_delta.c -- a new version assembled on the slave from the chunks it
 * holds and those it receives (apply_delta_*): after an append and a
 * rewrite in the middle, an insertion at the start, or a copy under a new
 * name (a hint), only a small part lacks, and feeding exactly those bytes
 * in any pieces installs the new version, recorded with its chunk list; a
 * tampered received chunk, a local file changed since its list was kept,
 * or a list that lies about the content are refused with nothing visible,
 * the old version in place and no temp file left; an interrupted session
 * resumes at a chunk boundary. Through the mirror's delta stream
 * (agent/mirror/delta.c): the master's stream of a planned delta, fed to
 * the slave's delta sink in any pieces, installs the new version; an
 * altered byte, a cut stream, a list count out of bounds or a version
 * the slave no longer holds are refused with nothing visible. A file kept
 * as a donor before its delete (apply_donor_*) serves the delta of
 * another path, and is refused once it changed. A mirror stream cut off
 * half way resumes at a record boundary from the verified prefix. */
#include <dirent.h>
#include <errno.h>
#include <gcrypt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/crypto/crypto.h"
#include "agent/mirror/mirror_int.h"
#include "store/store.h"
#include "sync/apply.h"
#include "sync/chunk.h"
#include "sync/path.h"
#include "tests/testutil.h"
#include "tests/unit.h"

#define MIB (1024 * 1024)
#define T1 1700000000123456789LL

static struct fx {
	char dir[64];
	char root[96];
	struct store *s;
	struct apply *a;
} fx;

static void
teardown(void)
{
	apply_free(fx.a);
	store_close(fx.s);
	fx.a = NULL;
	fx.s = NULL;
	if (fx.dir[0])
		tu_rmtree(fx.dir);
	fx.dir[0] = '\0';
}

static int
setup(void)
{
	char db[128];

	teardown();
	if (tu_tmpdir(fx.dir, sizeof(fx.dir)) < 0)
		return -1;
	snprintf(fx.root, sizeof(fx.root), "%s/root", fx.dir);
	snprintf(db, sizeof(db), "%s/state.db", fx.dir);
	if (mkdir(fx.root, 0755) < 0 || store_open(db, &fx.s) < 0)
		return -1;
	return apply_open(fx.root, fx.s, NULL, 0, &fx.a);
}

static uint8_t *
noise(size_t n, uint64_t x)
{
	uint8_t *b = malloc(n + 1);

	for (size_t i = 0; b && i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		b[i] = (uint8_t)(x >> 24);
	}
	return b;
}

static int
cut(const uint8_t *b, size_t n, struct chunk_list *out)
{
	struct chunker *c;
	int r;

	if ((r = chunker_new(&c)) < 0)
		return r;
	if ((r = chunker_feed(c, b, n)) == 0)
		r = chunker_finish(c, out);
	chunker_free(c);
	return r;
}

/* Receives b (n bytes) as path the ordinary way: the slave's version. */
static int
put_whole(const char *path, const uint8_t *b, size_t n)
{
	struct apply_put *p;
	uint8_t sha[32];
	uint64_t have;
	int r;

	gcry_md_hash_buffer(GCRY_MD_SHA256, sha, b, n);
	if ((r = apply_put_begin(fx.a, path, n, sha, 0644, T1, &p, &have)) < 0)
		return r;
	if ((r = apply_put_write(p, b, n)) < 0) {
		apply_put_abort(p, 0);
		return r;
	}
	return apply_put_finish(p);
}

/* What a master would send: the bytes of the chunks d lacks, in order.
 * Sets *len. */
static uint8_t *
lacking(const struct apply_delta *d, const uint8_t *b,
    const struct chunk_list *l, size_t *len)
{
	uint8_t *out = malloc(chunk_list_size(l) + 1);
	uint64_t off = 0;

	*len = 0;
	for (size_t i = 0; out && i < l->n; off += l->v[i++].len)
		if (apply_delta_lacks(d, i)) {
			memcpy(out + *len, b + off, l->v[i].len);
			*len += l->v[i].len;
		}
	return out;
}

/* Whether the file at rel holds exactly b (n bytes). */
static int
holds(const char *rel, const uint8_t *b, size_t n)
{
	char path[256], *got = NULL;
	size_t len = 0;
	int same;

	snprintf(path, sizeof(path), "%s/%s", fx.root, rel);
	if (tu_read_file(path, &got, &len) < 0)
		return 0;
	same = len == n && memcmp(got, b, n) == 0;
	free(got);
	return same;
}

/* Number of our temp files in the root. */
static int
temps(void)
{
	DIR *dir = opendir(fx.root);
	struct dirent *e;
	int n = 0;

	while (dir && (e = readdir(dir)) != NULL)
		n += strncmp(e->d_name, PATH_TMP_PREFIX,
		    strlen(PATH_TMP_PREFIX)) == 0;
	if (dir)
		closedir(dir);
	return n;
}

/* Assembles nv (nn bytes) at path from what the slave holds (hints: more
 * sources), feeding the lacking bytes `step` at a time; sets *sent to
 * their count. Returns apply_delta_finish()'s code or the first error. */
static int
assemble(const char *path, const uint8_t *nv, size_t nn,
    const char *const *hints, size_t nhints, size_t step, size_t *sent)
{
	struct chunk_list l = {0};
	struct apply_delta *d;
	uint8_t sha[32], *send;
	size_t len;
	int r;

	gcry_md_hash_buffer(GCRY_MD_SHA256, sha, nv, nn);
	if ((r = cut(nv, nn, &l)) < 0)
		return r;
	r = apply_delta_begin(fx.a, path, nn, sha, 0644, T1, &l, hints,
	    nhints, 0, &d);
	if (r < 0) {
		chunk_list_clear(&l);
		return r;
	}
	send = lacking(d, nv, &l, &len);
	*sent = len;
	if (send == NULL || apply_delta_lacking_bytes(d) != len)
		r = -EPROTO;
	for (size_t o = 0; r == 0 && o < len; o += step)
		r = apply_delta_write(d, send + o, len - o < step ? len - o :
		    step);
	if (r == 0)
		r = apply_delta_finish(d);
	else
		apply_delta_abort(d, 0);
	free(send);
	chunk_list_clear(&l);
	return r;
}

static int
t_append_and_rewrite_in_middle_sends_little(void)
{
	size_t n = 8 * MIB, nn = n + MIB, sent = 0;
	uint8_t *old = noise(n, 1), *nv = malloc(nn);
	struct chunk_list kept = {0};
	uint8_t sha[32];

	EXPECT_INT(setup(), 0);
	EXPECT(old && nv, "no memory");
	EXPECT_INT(put_whole("f", old, n), 0);
	memcpy(nv, old, n);
	for (size_t i = 0; i < 4096; i++)
		nv[n / 2 + i] ^= 0xff;
	uint8_t *tail = noise(MIB, 2);
	memcpy(nv + n, tail, MIB);
	free(tail);
	EXPECT_INT(assemble("f", nv, nn, NULL, 0, 100000, &sent), 0);
	EXPECT(holds("f", nv, nn), "f is not the new version");
	/* 1 MiB appended, 4 KiB rewritten: the chunks around them */
	EXPECT(sent >= MIB && sent <= MIB + 3 * CHUNK_MAX, "%zu bytes sent",
	    sent);
	printf("  8 MiB + 1 MiB appended + 4 KiB rewritten: %zu bytes sent\n",
	    sent);
	gcry_md_hash_buffer(GCRY_MD_SHA256, sha, nv, nn);
	EXPECT_INT(chunk_load(fx.s, sha, &kept), 0);	/* for the next one */
	EXPECT_INT(chunk_list_size(&kept), nn);
	EXPECT_INT(temps(), 0);
	chunk_list_clear(&kept);
	free(old);
	free(nv);
	return 0;
}

static int
t_insert_at_start_sends_one_chunk(void)
{
	size_t n = 8 * MIB, sent = 0;
	uint8_t *old = noise(n, 3), *nv = malloc(n + 100);

	EXPECT_INT(setup(), 0);
	EXPECT(old && nv, "no memory");
	EXPECT_INT(put_whole("doc", old, n), 0);
	memset(nv, 'x', 100);
	memcpy(nv + 100, old, n);
	EXPECT_INT(assemble("doc", nv, n + 100, NULL, 0, 1, &sent), 0);
	EXPECT(holds("doc", nv, n + 100), "doc is not the new version");
	EXPECT(sent <= CHUNK_MAX + 100, "%zu bytes sent", sent);
	printf("  8 MiB, 100 bytes inserted at the start: %zu bytes sent\n",
	    sent);
	free(old);
	free(nv);
	return 0;
}

static int
t_copy_under_new_name_sends_nothing_with_a_hint(void)
{
	static const char *const hint[] = {"dir/../x", "orig"};
	size_t n = 4 * MIB, sent = 0;
	uint8_t *old = noise(n, 4);

	EXPECT_INT(setup(), 0);
	EXPECT(old, "no memory");
	EXPECT_INT(put_whole("orig", old, n), 0);
	/* the refused hint is skipped; the good one serves every chunk */
	EXPECT_INT(assemble("copy", old, n, hint, 2, 65536, &sent), 0);
	EXPECT_INT(sent, 0);
	EXPECT(holds("copy", old, n), "copy is not the content");
	EXPECT(holds("orig", old, n), "orig changed");
	/* without a source everything is sent */
	EXPECT_INT(assemble("other", old, n, NULL, 0, 65536, &sent), 0);
	EXPECT_INT(sent, n);
	free(old);
	return 0;
}

/* Starts a delta of nv over the slave's f and returns the session. */
static struct apply_delta *
start(const uint8_t *nv, size_t nn, struct chunk_list *l)
{
	struct apply_delta *d = NULL;
	uint8_t sha[32];

	gcry_md_hash_buffer(GCRY_MD_SHA256, sha, nv, nn);
	if (cut(nv, nn, l) < 0 || apply_delta_begin(fx.a, "f", nn, sha, 0644,
	    T1, l, NULL, 0, 0, &d) < 0)
		return NULL;
	return d;
}

static int
t_tampered_received_chunk_refused_nothing_visible(void)
{
	size_t n = 4 * MIB, len;
	uint8_t *old = noise(n, 5), *nv = noise(n, 5), *send;
	struct chunk_list l = {0};
	struct apply_delta *d;

	EXPECT_INT(setup(), 0);
	EXPECT(old && nv, "no memory");
	EXPECT_INT(put_whole("f", old, n), 0);
	memset(nv + MIB, 0, 5000);
	EXPECT((d = start(nv, n, &l)) != NULL, "cannot start");
	send = lacking(d, nv, &l, &len);
	EXPECT(send != NULL && len > 0, "nothing lacks");
	send[len / 2] ^= 1;	/* altered on the way (or a lying master) */
	EXPECT_INT(apply_delta_write(d, send, len), -EBADMSG);
	apply_delta_abort(d, 0);
	EXPECT(holds("f", old, n), "f changed");
	EXPECT_INT(temps(), 0);
	/* bytes beyond what lacks are refused too */
	EXPECT((d = start(nv, n, &l)) != NULL, "cannot start");
	send[len / 2] ^= 1;
	EXPECT_INT(apply_delta_write(d, send, len), 0);
	EXPECT_INT(apply_delta_write(d, "x", 1), -EFBIG);
	EXPECT_INT(apply_delta_finish(d), 0);
	EXPECT(holds("f", nv, n), "f is not the new version");
	chunk_list_clear(&l);
	free(send);
	free(old);
	free(nv);
	return 0;
}

static int
t_local_file_changed_since_recorded_refused(void)
{
	size_t n = 4 * MIB;
	uint8_t *old = noise(n, 6), *nv = noise(n + 10, 6), sha[32];
	struct chunk_list l = {0};
	struct apply_delta *d;
	char path[256];
	FILE *f;

	EXPECT_INT(setup(), 0);
	EXPECT(old && nv, "no memory");
	EXPECT_INT(put_whole("f", old, n), 0);
	/* a byte of the slave's copy rots, size and record unchanged */
	snprintf(path, sizeof(path), "%s/f", fx.root);
	EXPECT((f = fopen(path, "r+")) != NULL, "open");
	fseek(f, 3 * MIB, SEEK_SET);
	fputc(old[3 * MIB] ^ 0x80, f);
	fclose(f);
	/* the new version shares that chunk (it only appends to f): the
	 * local copy is refused when the assembly reaches it, here before
	 * the first chunk that lacks */
	gcry_md_hash_buffer(GCRY_MD_SHA256, sha, nv, n + 10);
	EXPECT_INT(cut(nv, n + 10, &l), 0);
	EXPECT_INT(apply_delta_begin(fx.a, "f", n + 10, sha, 0644, T1, &l,
	    NULL, 0, 0, &d), -EBADMSG);
	EXPECT_INT(temps(), 0);
	old[3 * MIB] ^= 0x80;
	EXPECT(holds("f", old, n), "f changed");
	chunk_list_clear(&l);
	free(old);
	free(nv);
	return 0;
}

static int
t_list_that_lies_about_the_content_refused(void)
{
	size_t n = 2 * MIB;
	uint8_t *old = noise(n, 7), *nv = noise(n, 8), sha[32];
	struct chunk_list l = {0};
	struct apply_delta *d;

	EXPECT_INT(setup(), 0);
	EXPECT(old && nv, "no memory");
	EXPECT_INT(put_whole("f", old, n), 0);
	/* the chunks are old's, the checksum nv's: every chunk verifies,
	 * the whole file does not */
	EXPECT_INT(cut(old, n, &l), 0);
	gcry_md_hash_buffer(GCRY_MD_SHA256, sha, nv, n);
	EXPECT_INT(apply_delta_begin(fx.a, "f", n, sha, 0644, T1, &l, NULL, 0,
	    0, &d), 0);
	EXPECT_INT(apply_delta_lacking_bytes(d), 0);
	EXPECT_INT(apply_delta_finish(d), -EBADMSG);
	EXPECT(holds("f", old, n), "f changed");
	EXPECT_INT(temps(), 0);
	/* a list that does not add up to the size is refused at once */
	EXPECT_INT(apply_delta_begin(fx.a, "f", n + 1, sha, 0644, T1, &l, NULL,
	    0, 0, &d), -EINVAL);
	chunk_list_clear(&l);
	free(old);
	free(nv);
	return 0;
}

static int
t_interrupted_session_resumes_at_a_chunk_boundary(void)
{
	size_t n = 4 * MIB, len, sent = 0;
	uint8_t *old = noise(n, 9), *nv = noise(2 * n, 9), *send, sha[32];
	int r;
	struct chunk_list l = {0};
	struct apply_delta *d;

	EXPECT_INT(setup(), 0);
	EXPECT(old && nv, "no memory");
	EXPECT_INT(put_whole("f", old, n), 0);
	EXPECT((d = start(nv, 2 * n, &l)) != NULL, "cannot start");
	send = lacking(d, nv, &l, &len);
	EXPECT(send != NULL && len > MIB, "%zu lacking", len);
	EXPECT_INT(apply_delta_write(d, send, MIB + 777), 0);
	EXPECT_INT(apply_delta_finish(d), -ENODATA);	/* cut off: kept */
	EXPECT_INT(temps(), 1);
	EXPECT(holds("f", old, n), "f changed");
	/* a fresh session ignores the prefix: it lacks what it lacked */
	gcry_md_hash_buffer(GCRY_MD_SHA256, sha, nv, 2 * n);
	r = apply_delta_begin(fx.a, "f", 2 * n, sha, 0644, T1, &l, NULL, 0,
	    APPLY_DELTA_FRESH, &d);
	EXPECT_INT(r, 0);
	EXPECT_INT(apply_delta_lacking_bytes(d), len);
	apply_delta_abort(d, 0);
	/* cut off again; the next session finds the verified prefix and
	 * lacks less */
	EXPECT((d = start(nv, 2 * n, &l)) != NULL, "cannot start");
	EXPECT_INT(apply_delta_lacking_bytes(d), len);
	EXPECT_INT(apply_delta_write(d, send, MIB + 777), 0);
	EXPECT_INT(apply_delta_finish(d), -ENODATA);
	EXPECT_INT(assemble("f", nv, 2 * n, NULL, 0, 4096, &sent), 0);
	EXPECT(sent < len - MIB + CHUNK_MAX && sent >= len - MIB - 777,
	    "%zu sent after a resume, %zu lacked", sent, len);
	EXPECT(holds("f", nv, 2 * n), "f is not the new version");
	EXPECT_INT(temps(), 0);
	chunk_list_clear(&l);
	free(send);
	free(old);
	free(nv);
	return 0;
}

/* ---- the mirror's delta stream ---------------------------------------- */

struct membuf {
	const uint8_t *b;
	size_t n;
};

static int
mem_open(void *arg, const struct jingle_file *f, void *cookie, void **h)
{
	(void)f;
	(void)cookie;
	*h = arg;
	return 0;
}

static ssize_t
mem_read(void *h, uint64_t off, unsigned char *p, size_t n)
{
	const struct membuf *m = h;

	if (off >= m->n)
		return 0;
	n = n < m->n - off ? n : m->n - off;
	memcpy(p, m->b + off, n);
	return (ssize_t)n;
}

static void
mem_close(void *h)
{
	(void)h;
}

/* The master's side: the stream that brings nv (nn bytes) to a slave
 * holding old, read through the source as the engine reads it, in
 * 64 KiB reads. Returns it (free()) and sets *len, or NULL. */
static uint8_t *
master_stream(const uint8_t *old, size_t n, const uint8_t *nv, size_t nn,
    size_t *len)
{
	struct membuf mb = {nv, nn};
	struct jingle_source inner = {mem_open, mem_read, mem_close, &mb};
	struct jingle_file real = {.name = (char *)"f"};
	struct chunk_list l = {0};
	struct mirror_delta *d = NULL;
	uint8_t sha[32], base[32], *out = NULL;
	void *h = NULL;
	uint64_t off = 0;
	ssize_t k = 1;

	gcry_md_hash_buffer(GCRY_MD_SHA256, sha, nv, nn);
	gcry_md_hash_buffer(GCRY_MD_SHA256, base, old, n);
	if (cut(nv, nn, &l) < 0 || chunk_record(fx.s, sha, &l) < 0 ||
	    mirror_delta_plan(fx.s, sha, nn, base, &d) < 0 ||
	    (out = malloc(mirror_delta_size(d))) == NULL ||
	    mirror_delta_src_open(&inner, &real, NULL, d, &h) < 0)
		goto out;
	while (k > 0 && off < mirror_delta_size(d)) {
		k = mirror_delta_src_read(h, off, out + off, 65536);
		/* a short read before the end would stall the encryption */
		if (k > 0 && k < 65536 && off + (uint64_t)k < mirror_delta_size(d))
			k = -1;
		off += k > 0 ? (uint64_t)k : 0;
	}
	mirror_delta_src_close(h);
	*len = (size_t)off;
	if (k < 0 || off != mirror_delta_size(d)) {
		free(out);
		out = NULL;
	}
out:
	mirror_delta_free(d);
	chunk_list_clear(&l);
	return out;
}

/* The slave's side: feeds stream (len bytes) `step` at a time. Returns
 * the first error or the finish's code. */
static int
slave_take(const uint8_t *old, size_t n, const uint8_t *nv, size_t nn,
    const uint8_t *stream, size_t len, size_t step)
{
	struct mirror_dsink_args in = {.path = "f", .size = nn, .stream = len,
	    .mode = 0644, .mtime_ns = T1};
	struct mirror_dsink *s;
	int r;

	gcry_md_hash_buffer(GCRY_MD_SHA256, in.sha256, nv, nn);
	gcry_md_hash_buffer(GCRY_MD_SHA256, in.base, old, n);
	if ((r = mirror_delta_sink_open(fx.a, fx.s, &in, &s)) < 0)
		return r;
	for (size_t o = 0; r == 0 && o < len; o += step)
		r = mirror_delta_sink_write(s, stream + o, len - o < step ?
		    len - o : step);
	if (r < 0) {
		mirror_delta_sink_abort(s, 0);
		return r;
	}
	return mirror_delta_sink_finish(s);
}

static int
t_mirror_stream_in_any_pieces_installs_new_version(void)
{
	static const size_t steps[] = {1, 3, 4096, 1 << 20};
	size_t n = 4 * MIB, nn = n + 5000, len = 0;
	uint8_t *old = noise(n, 11), *nv = noise(nn, 11), *st;

	EXPECT(old && nv, "no memory");
	for (size_t i = 0; i < 4096; i++)
		nv[MIB + i] ^= 0x33;
	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		EXPECT_INT(setup(), 0);
		EXPECT_INT(put_whole("f", old, n), 0);
		EXPECT((st = master_stream(old, n, nv, nn, &len)) != NULL,
		    "no stream");
		EXPECT(len < 3 * CHUNK_MAX, "a %zu-byte stream", len);
		EXPECT_INT(slave_take(old, n, nv, nn, st, len, steps[k]), 0);
		free(st);
		EXPECT(holds("f", nv, nn), "f is not the new version (step %zu)",
		    steps[k]);
		EXPECT_INT(temps(), 0);
	}
	free(old);
	free(nv);
	return 0;
}

static int
t_mirror_stream_altered_cut_or_stale_refused(void)
{
	size_t n = 2 * MIB, nn = n + 100, len = 0;
	uint8_t *old = noise(n, 12), *nv = noise(nn, 12), *st;

	EXPECT_INT(setup(), 0);
	EXPECT(old && nv, "no memory");
	EXPECT_INT(put_whole("f", old, n), 0);
	EXPECT((st = master_stream(old, n, nv, nn, &len)) != NULL, "no stream");
	st[len - 7] ^= 1;			/* a chunk's byte */
	EXPECT_INT(slave_take(old, n, nv, nn, st, len, 999), -EBADMSG);
	st[len - 7] ^= 1;
	EXPECT_INT(slave_take(old, n, nv, nn, st, len - 1, 999), -EBADMSG);
	st[12] ^= 1;				/* a hash in the list */
	EXPECT_INT(slave_take(old, n, nv, nn, st, len, 999), -EBADMSG);
	st[12] ^= 1;
	st[0] = 0x7f;				/* a count out of bounds */
	EXPECT_INT(slave_take(old, n, nv, nn, st, len, 999), -EBADMSG);
	st[0] = 0;
	EXPECT(holds("f", old, n), "f changed");
	EXPECT_INT(temps(), 0);
	/* the slave's version is not the one the master planned from */
	EXPECT_INT(put_whole("f", nv, nn), 0);
	EXPECT_INT(slave_take(old, n, nv, nn, st, len, 999), -EBADMSG);
	EXPECT(holds("f", nv, nn), "f changed");
	free(st);
	free(old);
	free(nv);
	return 0;
}

/* A session cut off keeps its verified prefix; the next one, given the
 * first one's list, resumes at a record boundary at or before the cut,
 * skips what it has, and installs the new version. Without the slave's
 * version it starts from the first byte. */
static int
t_mirror_stream_cut_off_resumes(void)
{
	size_t n = 8 * MIB, len = 0, cutat;
	uint8_t *old = noise(n, 13), *nv = noise(n, 13), *st, *tail;
	struct mirror_dsink_args in = {.path = "f", .size = n, .mode = 0644,
	    .mtime_ns = T1};
	struct chunk_list saved = {0};
	struct mirror_dsink *s;
	uint64_t have = 0;

	EXPECT_INT(setup(), 0);
	EXPECT(old && nv && (tail = noise(n / 2, 14)) != NULL, "no memory");
	memcpy(nv + n / 2, tail, n / 2);	/* the second half is new */
	free(tail);
	EXPECT_INT(put_whole("f", old, n), 0);
	EXPECT((st = master_stream(old, n, nv, n, &len)) != NULL, "no stream");
	in.stream = len;
	gcry_md_hash_buffer(GCRY_MD_SHA256, in.sha256, nv, n);
	gcry_md_hash_buffer(GCRY_MD_SHA256, in.base, old, n);

	cutat = len / 2 + 12345;
	EXPECT_INT(mirror_delta_sink_open(fx.a, fx.s, &in, &s), 0);
	EXPECT_INT(mirror_delta_sink_write(s, st, cutat), 0);
	EXPECT(mirror_delta_sink_list(s) != NULL, "no list");
	EXPECT_INT(chunk_list_copy(&saved, mirror_delta_sink_list(s)), 0);
	mirror_delta_sink_abort(s, 1);
	EXPECT_INT(temps(), 1);

	EXPECT_INT(mirror_delta_sink_open(fx.a, fx.s, &in, &s), 0);
	EXPECT_INT(mirror_delta_sink_resume(s, &saved, &have), 0);
	printf("  cut at stream byte %zu of %zu: resumed at %llu\n", cutat,
	    len, (unsigned long long)have);
	EXPECT(have > len / 4 && have <= cutat, "resumed at %llu",
	    (unsigned long long)have);
	EXPECT_INT(have % CRYPTO_RECORD_PLAIN, 0);
	EXPECT_INT(mirror_delta_sink_write(s, st + have, len - have), 0);
	EXPECT_INT(mirror_delta_sink_finish(s), 0);
	EXPECT(holds("f", nv, n), "f is not the new version");
	EXPECT_INT(temps(), 0);

	/* the version it applied to is gone: no resume, no prefix used */
	EXPECT_INT(mirror_delta_sink_open(fx.a, fx.s, &in, &s), 0);
	EXPECT_INT(mirror_delta_sink_resume(s, &saved, &have), 0);
	EXPECT_INT(have, 0);
	mirror_delta_sink_abort(s, 0);
	chunk_list_clear(&saved);
	free(st);
	free(old);
	free(nv);
	return 0;
}

/* Feeds d the bytes of nv it lacks, in one piece, and finishes it. */
static int
feed_finish(struct apply_delta *d, const uint8_t *nv,
    const struct chunk_list *l, size_t *sent)
{
	uint8_t *send = lacking(d, nv, l, sent);
	int r = send == NULL ? -ENOMEM : *sent ? apply_delta_write(d, send,
	    *sent) : 0;

	free(send);
	if (r < 0) {
		apply_delta_abort(d, 0);
		return r;
	}
	return apply_delta_finish(d);
}

/* A file kept as a donor before its delete serves the delta of a new
 * file; only a file as recorded is kept; a donor that changed since is
 * refused with nothing visible; dropping it leaves no temp file. */
static int
t_deleted_file_kept_as_donor(void)
{
	size_t n = 4 * MIB, nn = n + 100000, sent = 0;
	uint8_t *old = noise(n, 7), *nv = malloc(nn), sha[32], dsha[32];
	struct chunk_list l = {0};
	struct apply_delta *d = NULL;
	char *name = NULL, path[256];
	uint64_t size = 0;

	EXPECT_INT(setup(), 0);
	EXPECT(old && nv, "no memory");
	memcpy(nv, old, n);
	memset(nv + n, 'a', nn - n);
	gcry_md_hash_buffer(GCRY_MD_SHA256, sha, nv, nn);
	EXPECT_INT(cut(nv, nn, &l), 0);
	EXPECT_INT(put_whole("old", old, n), 0);
	EXPECT_INT(put_whole("edited", old, n), 0);

	/* no record, or not the recorded version: no donor */
	EXPECT_INT(apply_donor_keep(fx.a, "none", &name, dsha, &size),
	    -ENOENT);
	snprintf(path, sizeof(path), "%s/edited", fx.root);
	EXPECT_INT(tu_write_file(path, "local", 5, 0644), 0);
	EXPECT_INT(apply_donor_keep(fx.a, "edited", &name, dsha, &size),
	    -ENOENT);
	EXPECT(name == NULL, "a name for no donor");
	EXPECT_INT(temps(), 0);

	EXPECT_INT(apply_donor_keep(fx.a, "old", &name, dsha, &size), 0);
	EXPECT_INT(size, n);
	EXPECT_INT(temps(), 1);
	EXPECT_INT(apply_delete(fx.a, "old"), 0);
	EXPECT_INT(apply_delta_begin_donor(fx.a, "new", nn, sha, 0644, T1, &l,
	    name, dsha, APPLY_DELTA_FRESH, &d), 0);
	EXPECT_INT(feed_finish(d, nv, &l, &sent), 0);
	EXPECT(holds("new", nv, nn), "new is not the new version");
	EXPECT(sent <= 100000 + CHUNK_MAX, "%zu bytes sent", sent);
	printf("  4 MiB deleted, 100000 bytes appended under a new name: %zu "
	    "bytes sent\n", sent);

	/* the donor changed behind us: refused, nothing visible */
	snprintf(path, sizeof(path), "%s/%s", fx.root, name);
	memset(old, 'b', 65536);
	EXPECT_INT(tu_write_file(path, old, n, 0644), 0);
	d = NULL;
	EXPECT_INT(apply_delta_begin_donor(fx.a, "again", nn, sha, 0644, T1,
	    &l, name, dsha, APPLY_DELTA_FRESH, &d), -EBADMSG);
	EXPECT_INT(tu_write_file(path, old, 10, 0644), 0);
	EXPECT_INT(apply_delta_begin_donor(fx.a, "again", nn, sha, 0644, T1,
	    &l, name, dsha, APPLY_DELTA_FRESH, &d), -ENOENT);
	EXPECT(!holds("again", nv, nn), "again installed");
	EXPECT_INT(temps(), 1);
	apply_donor_drop(fx.a, name);
	EXPECT_INT(temps(), 0);
	free(name);
	chunk_list_clear(&l);
	free(old);
	free(nv);
	return 0;
}

static const struct unit_test tests[] = {
	{"append_and_rewrite_in_middle_sends_little",
	    t_append_and_rewrite_in_middle_sends_little},
	{"insert_at_start_sends_one_chunk", t_insert_at_start_sends_one_chunk},
	{"copy_under_new_name_sends_nothing_with_a_hint",
	    t_copy_under_new_name_sends_nothing_with_a_hint},
	{"tampered_received_chunk_refused_nothing_visible",
	    t_tampered_received_chunk_refused_nothing_visible},
	{"local_file_changed_since_recorded_refused",
	    t_local_file_changed_since_recorded_refused},
	{"list_that_lies_about_the_content_refused",
	    t_list_that_lies_about_the_content_refused},
	{"interrupted_session_resumes_at_a_chunk_boundary",
	    t_interrupted_session_resumes_at_a_chunk_boundary},
	{"mirror_stream_in_any_pieces_installs_new_version",
	    t_mirror_stream_in_any_pieces_installs_new_version},
	{"mirror_stream_altered_cut_or_stale_refused",
	    t_mirror_stream_altered_cut_or_stale_refused},
	{"deleted_file_kept_as_donor", t_deleted_file_kept_as_donor},
	{"mirror_stream_cut_off_resumes", t_mirror_stream_cut_off_resumes},
};

int
main(int argc, char **argv)
{
	int r;

	if (crypto_global_init() < 0) {
		printf("FAIL test_delta.c/init: libgcrypt\n");
		return 1;
	}
	r = unit_run("test_delta.c", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
	teardown();
	return r;
}

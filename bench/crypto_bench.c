/* crypto_bench.c -- what the record format costs over plain AES-256-GCM.
 *
 * 256 MiB are encrypted and decrypted (a) with libgcrypt's AES-256-GCM
 * as one message in 64 KiB gcry_cipher_encrypt/decrypt calls and (b)
 * through crypto_stream in 64 KiB records, pushed in pieces of 4 KiB,
 * 64 KiB and 1 MiB (64 KiB ciphertext pushes do not line up with the
 * 65552-byte records, so the decryptor buffers). Two consumers:
 *
 *   copy      the output must end up in a 256 MiB buffer: raw GCM writes
 *             there directly, the stream's sink has to copy (worst case
 *             for the stream; the round trip is checked here)
 *   in place  the consumer reads the output where it is, as write(2) to
 *             a socket or file would: raw GCM writes into one 64 KiB
 *             buffer, the sink gets the stream's record buffer
 *
 * Raw and stream runs alternate and each figure is the best of RUNS, as
 * the machine is shared. Overhead = (stream time / raw time - 1), for
 * encryption and decryption together.
 *
 *   make DEVELOPER=1 build/std/bench/crypto_bench
 *   ./build/std/bench/crypto_bench [MiB]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gcrypt.h>

#include "agent/crypto/crypto.h"
#include "agent/crypto/crypto_int.h"

#define CHUNK	65536
#define RUNS	5

/* Where the output goes: copied into p, or only counted (p == NULL). */
struct dst {
	uint8_t *p;
	size_t len;
};

static int
dst_sink(void *arg, const void *buf, size_t len)
{
	struct dst *d = arg;

	if (d->p != NULL)
		memcpy(d->p + d->len, buf, len);
	d->len += len;
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "crypto_bench: %s failed\n", what);
	exit(1);
}

/* One GCM message over len bytes in CHUNK-sized calls; out_step 0 writes
 * every chunk to the same CHUNK bytes at out. Returns seconds. */
static double
raw_pass(int enc, const uint8_t *key, const uint8_t *iv, const uint8_t *in,
    uint8_t *out, size_t out_step, size_t len, uint8_t *tag)
{
	gcry_cipher_hd_t h;
	double t = now();

	if (gcry_cipher_open(&h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, 0)
	    || gcry_cipher_setkey(h, key, 32) || gcry_cipher_setiv(h, iv, 12))
		die("raw setup");
	for (size_t off = 0; off < len; off += CHUNK) {
		size_t n = len - off < CHUNK ? len - off : CHUNK;
		uint8_t *o = out + (out_step ? off : 0);

		if ((enc ? gcry_cipher_encrypt(h, o, n, in + off, n)
		    : gcry_cipher_decrypt(h, o, n, in + off, n)) != 0)
			die("raw crypt");
	}
	if (enc ? gcry_cipher_gettag(h, tag, 16) != 0
	    : out_step && gcry_cipher_checktag(h, tag, 16) != 0)
		die("raw tag");
	gcry_cipher_close(h);
	return now() - t;
}

/* The whole file through a crypto_stream, pushed in `push` pieces.
 * Returns seconds. */
static double
stream_pass(int enc, const uint8_t *key, const uint8_t *nonce,
    const uint8_t *in, size_t inlen, uint8_t *out, size_t plain, size_t push)
{
	struct crypto_stream *s;
	struct dst d = {out, 0};
	double t = now();

	if (crypto_stream_new(enc, key, nonce, plain, "bench", &s) != 0)
		die("stream setup");
	for (size_t off = 0; off < inlen; off += push) {
		size_t n = inlen - off < push ? inlen - off : push;

		if (crypto_stream_push(s, in + off, n, dst_sink, &d) != 0)
			die("stream push");
	}
	if (crypto_stream_finish(s, dst_sink, &d) != 0)
		die("stream finish");
	crypto_stream_free(s);
	return now() - t;
}

struct bufs {
	uint8_t key[32], nonce[12], tag[16];
	uint8_t *pt, *ct, *back, *rawct, *small;
	size_t len, wire;
};

static double
best(double a, double b)
{
	return a < b ? a : b;
}

static void
report(const char *label, size_t len, double e, double d, double raw)
{
	char pct[16] = "-";

	if (raw > 0)
		snprintf(pct, sizeof(pct), "%.1f%%", ((e + d) / raw - 1) * 100);
	printf("%-34s %8.0f %8.0f %8.0f %9s\n", label, len / e / 1e6,
	    len / d / 1e6, 2 * len / (e + d) / 1e6, pct);
}

/* One consumer model: raw GCM, then the stream at each push size. */
static void
bench_consumer(struct bufs *b, int copy)
{
	static const size_t pushes[] = {4096, 65536, 1 << 20};
	double re = 1e9, rd = 1e9, se[3], sd[3];
	uint8_t *rout = copy ? b->back : b->small;
	uint8_t *sout = copy ? b->back : NULL;

	for (int p = 0; p < 3; p++)
		se[p] = sd[p] = 1e9;
	for (int r = 0; r < RUNS; r++) {
		re = best(re, raw_pass(1, b->key, b->nonce, b->pt,
		    copy ? b->rawct : b->small, copy, b->len, b->tag));
		rd = best(rd, raw_pass(0, b->key, b->nonce, b->rawct, rout,
		    copy, b->len, b->tag));
		for (int p = 0; p < 3; p++) {
			se[p] = best(se[p], stream_pass(1, b->key, b->nonce,
			    b->pt, b->len, copy ? b->ct : NULL, b->len,
			    pushes[p]));
			sd[p] = best(sd[p], stream_pass(0, b->key, b->nonce,
			    b->ct, b->wire, sout, b->len, pushes[p]));
			if (copy && memcmp(b->pt, b->back, b->len) != 0)
				die("record round trip");
		}
	}
	printf("%s:\n", copy ? "copy (output lands in a 256 MiB buffer)"
	    : "in place (consumer reads the output where it is)");
	report("  raw gcm, 64 KiB calls", b->len, re, rd, 0);
	for (int p = 0; p < 3; p++) {
		char label[64];

		snprintf(label, sizeof(label), "  records, %zu KiB pushes",
		    pushes[p] >> 10);
		report(label, b->len, se[p], sd[p], re + rd);
	}
}

int
main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	struct bufs b = {.len = mib << 20};

	if (crypto_global_init() != 0 || mib == 0)
		return 1;
	b.wire = crypto_ciphertext_size(b.len);
	b.pt = malloc(b.len);
	b.ct = malloc(b.wire);
	b.rawct = malloc(b.len);
	b.back = malloc(b.len);
	b.small = malloc(CHUNK);
	if (!b.pt || !b.ct || !b.rawct || !b.back || !b.small)
		die("malloc");
	gcry_randomize(b.key, sizeof(b.key), GCRY_STRONG_RANDOM);
	gcry_randomize(b.nonce, sizeof(b.nonce), GCRY_STRONG_RANDOM);
	for (size_t i = 0; i < b.len; i++)
		b.pt[i] = (uint8_t)(i * 131 + (i >> 16));
	/* fault every page in before timing */
	memset(b.ct, 1, b.wire);
	memset(b.rawct, 1, b.len);
	memset(b.back, 1, b.len);
	printf("crypto_bench: %zu MiB, libgcrypt %s, best of %d, "
	    "MB = 10^6 bytes\n", mib, gcry_check_version(NULL), RUNS);
	printf("%-34s %8s %8s %8s %9s\n", "", "enc MB/s", "dec MB/s",
	    "both", "overhead");
	bench_consumer(&b, 1);
	bench_consumer(&b, 0);
	free(b.pt);
	free(b.ct);
	free(b.rawct);
	free(b.back);
	free(b.small);
	return 0;
}

/* fuzzseed -- writes seed inputs for the records fuzz target: real
 * encrypted streams made with the crypto API, under the target's fixed
 * key, each behind the header tests/fuzz/fuzz_records.c reads.
 *
 *   fuzzseed DIR      writes DIR/seed-<size>-<start>-<step>
 *
 * The plaintext is a fixed pattern; the sizes cover an empty file, one
 * short record, a full record and its empty final one, a 70000-byte file
 * (as in tests/test_crypto.c), and streams resumed at records 1 and 2.
 * Exit status 0 on success, 1 on failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/crypto/crypto_int.h"
#include "tests/fuzz/fuzz.h"

struct buf {
	uint8_t *p;
	size_t len;
};

static int
append(void *arg, const void *p, size_t n)
{
	struct buf *b = arg;

	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/* Encrypts size pattern bytes from record start into b (after the
 * header). Returns 0 or a negative errno. */
static int
encrypt(uint64_t size, uint64_t start, struct buf *b)
{
	static const uint8_t key[CRYPTO_AES_KEY_LEN] = FUZZ_RECORDS_KEY;
	static const uint8_t nonce[CRYPTO_NONCE_LEN] = FUZZ_RECORDS_NONCE;
	struct crypto_stream *s;
	uint8_t byte;
	int r;

	if ((r = crypto_stream_new(1, key, nonce, size, "seed", &s)) < 0)
		return r;
	r = crypto_stream_start_at(s, start);
	for (uint64_t i = start * CRYPTO_RECORD_PLAIN; r == 0 && i < size; i++) {
		byte = (uint8_t)(i * 7 + 3);
		r = crypto_stream_push(s, &byte, 1, append, b);
	}
	if (r == 0)
		r = crypto_stream_finish(s, append, b);
	crypto_stream_free(s);
	return r;
}

static int
write_seed(const char *dir, uint32_t size, uint8_t start, uint8_t step)
{
	struct buf b = {malloc(FUZZ_RECORDS_HEADER +
	    crypto_ciphertext_size(size)), FUZZ_RECORDS_HEADER};
	char path[4096];
	FILE *f;
	int r;

	if (b.p == NULL)
		return -1;
	for (int i = 0; i < 4; i++)
		b.p[i] = (uint8_t)(size >> (8 * i));
	b.p[4] = step;
	b.p[5] = start;
	snprintf(path, sizeof(path), "%s/seed-%u-%u-%u", dir, size, start,
	    step);
	r = encrypt(size, start, &b);
	if (r == 0 && ((f = fopen(path, "w")) == NULL ||
	    fwrite(b.p, 1, b.len, f) != b.len || fclose(f) != 0))
		r = -1;
	if (r != 0)
		fprintf(stderr, "fuzzseed: cannot write %s\n", path);
	free(b.p);
	return r;
}

int
main(int argc, char **argv)
{
	static const struct { uint32_t size; uint8_t start, step; } seeds[] = {
		{0, 0, 0}, {3, 0, 1}, {1000, 0, 7}, {65536, 0, 0},
		{70000, 0, 255}, {65537, 1, 3}, {2 * 65536 + 10, 2, 0},
	};

	if (argc != 2) {
		fprintf(stderr, "usage: fuzzseed DIR\n");
		return 1;
	}
	if (crypto_global_init() < 0)
		return 1;
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		if (write_seed(argv[1], seeds[i].size, seeds[i].start,
		    seeds[i].step) != 0)
			return 1;
	return 0;
}

/* fuzz_records.c -- the record layer (agent/crypto/stream.c) decrypting
 * any ciphertext under a fixed key: it must reject what it was not given
 * by the encryptor, and never crash.
 *
 * Input: a 6-byte header, then the ciphertext.
 *   bytes 0-3  the bound plaintext size, u32 little-endian, taken modulo
 *              FUZZ_MAX_PLAIN (so streams of a few records stay cheap)
 *   byte 4     the push size: 0 pushes everything at once, n pushes n
 *              bytes at a time
 *   byte 5     the record to start at (crypto_stream_start_at), modulo
 *              the number of records
 * A stream that decrypts and verifies must encrypt back, under the same
 * key, nonce and start, to exactly the ciphertext it came from.
 * tests/tools/fuzzseed writes real streams in this format.
 */
#include <errno.h>

#include "agent/crypto/crypto_int.h"
#include "agent/log.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_MAX_PLAIN (3 * CRYPTO_RECORD_PLAIN + 1)
#define HEADER FUZZ_RECORDS_HEADER

struct out {
	uint8_t *p;
	size_t len, cap;
};

static int
collect(void *arg, const void *buf, size_t len)
{
	struct out *o = arg;

	fuzz_check(len > 0 && o->len + len <= o->cap);
	memcpy(o->p + o->len, buf, len);
	o->len += len;
	return 0;
}

static struct crypto_stream *
stream(int encrypt, uint64_t size, uint64_t start)
{
	static const uint8_t key[CRYPTO_AES_KEY_LEN] = FUZZ_RECORDS_KEY;
	static const uint8_t nonce[CRYPTO_NONCE_LEN] = FUZZ_RECORDS_NONCE;
	struct crypto_stream *s;

	fuzz_check(crypto_stream_new(encrypt, key, nonce, size, "fuzz", &s)
	    == 0);
	fuzz_check(crypto_stream_start_at(s, start) == 0);
	return s;
}

/* Encrypts plain again and compares with the wire bytes it came from. */
static void
encrypt_back(uint64_t size, uint64_t start, const struct out *plain,
    const uint8_t *wire, size_t len)
{
	struct crypto_stream *s = stream(1, size, start);
	struct out o = {malloc(len + 1), 0, len};

	fuzz_check(o.p != NULL);
	fuzz_check(crypto_stream_push(s, plain->p, plain->len, collect, &o)
	    == 0);
	fuzz_check(crypto_stream_finish(s, collect, &o) == 0);
	fuzz_check(o.len == len && memcmp(o.p, wire, len) == 0);
	crypto_stream_free(s);
	free(o.p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t plain, start;
	size_t step, off = 0, len;
	struct crypto_stream *s;
	struct out o;
	int r = 0;

	if (size < HEADER || crypto_global_init() < 0)
		return 0;
	log_set_level(LOG_LVL_ERROR);
	plain = (data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
	    (uint32_t)data[3] << 24) % FUZZ_MAX_PLAIN;
	step = data[4];
	start = data[5] % (plain / CRYPTO_RECORD_PLAIN + 1);
	data += HEADER;
	len = size - HEADER;
	o = (struct out){malloc(len + 1), 0, len};
	fuzz_check(o.p != NULL);
	s = stream(0, plain, start);
	while (r == 0 && off < len) {
		size_t n = step == 0 || step > len - off ? len - off : step;
		r = crypto_stream_push(s, data + off, n, collect, &o);
		off += n;
	}
	if (r == 0)
		r = crypto_stream_finish(s, collect, &o);
	fuzz_check(r == 0 || r == -EBADMSG);
	crypto_stream_free(s);
	if (r == 0)
		encrypt_back(plain, start, &o, data, len);
	free(o.p);
	return 0;
}

/* crypto_stream.c -- the record layer: AES-256-GCM over 64 KiB records,
 * cut independently of how the transport chunks the bytes.
 * See crypto.h for the contracts, docs/protocol.md ("Records") for the
 * wire format:
 *
 *   record i = AES-256-GCM(key, nonce_i, ad_i, plaintext_i) || tag_i
 *   nonce_i  = nonce base XOR (0^32 || u64be(i))
 *   ad_i     = u64be(i) || final (0x00 or 0x01)
 *
 * Every record but the last holds exactly 65536 bytes of plaintext; the
 * last one holds 0..65535 bytes and is marked final. So a full-size
 * record is never final and the decryptor can open it as soon as it has
 * all of it; whatever is buffered at finish must be the final record.
 *
 * Memory: one record buffer per stream. Large pushes that start on a
 * record boundary are processed straight from the caller's buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gcrypt.h>

#include "agent/crypto_impl.h"
#include "agent/log.h"

struct crypto_stream {
	gcry_cipher_hd_t h;	/* key inside, in secure memory */
	int encrypt;
	int err;		/* sticky: once failed, always failed */
	int started;		/* a push or finish has happened */
	int finished;
	uint64_t rec;		/* index of the next record */
	uint64_t plain;		/* plaintext offset of the next record */
	uint64_t size;		/* bound plaintext size of the file */
	size_t fill;		/* bytes buffered in buf */
	uint8_t nonce[CRYPTO_NONCE_LEN];
	char name[128];		/* for log messages */
	uint8_t buf[CRYPTO_RECORD_WIRE];
};

void
crypto_record_nonce(const uint8_t base[CRYPTO_NONCE_LEN], uint64_t i,
    uint8_t out[CRYPTO_NONCE_LEN])
{
	memcpy(out, base, CRYPTO_NONCE_LEN);
	for (int k = 0; k < 8; k++)
		out[CRYPTO_NONCE_LEN - 1 - k] ^= (uint8_t)(i >> (8 * k));
}

void
crypto_record_ad(uint64_t i, int final, uint8_t out[CRYPTO_AD_LEN])
{
	for (int k = 0; k < 8; k++)
		out[7 - k] = (uint8_t)(i >> (8 * k));
	out[8] = final ? 1 : 0;
}

int
crypto_stream_new(int encrypt, const uint8_t key[CRYPTO_AES_KEY_LEN],
    const uint8_t nonce[CRYPTO_NONCE_LEN], uint64_t size, const char *name,
    struct crypto_stream **out)
{
	struct crypto_stream *s;
	gpg_error_t e;

	if (size > CRYPTO_MAX_PLAIN)
		return -EINVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_error("out of memory");
		return -ENOMEM;
	}
	e = gcry_cipher_open(&s->h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM,
	    GCRY_CIPHER_SECURE);
	if (e == 0)
		e = gcry_cipher_setkey(s->h, key, CRYPTO_AES_KEY_LEN);
	if (e != 0) {
		log_error("cannot set up aes-256-gcm: %s", gcry_strerror(e));
		crypto_stream_free(s);
		return -EIO;
	}
	s->encrypt = encrypt;
	s->size = size;
	memcpy(s->nonce, nonce, CRYPTO_NONCE_LEN);
	snprintf(s->name, sizeof(s->name), "%s", name ? name : "?");
	*out = s;
	return 0;
}

void
crypto_stream_free(struct crypto_stream *s)
{
	if (s == NULL)
		return;
	gcry_cipher_close(s->h);	/* wipes the key schedule */
	crypto_wipe(s, sizeof(*s));
	free(s);
}

int
crypto_stream_start_at(struct crypto_stream *s, uint64_t record)
{
	if (s->started || record >= CRYPTO_MAX_RECORDS ||
	    record * CRYPTO_RECORD_PLAIN > s->size) {
		log_error("file %s: cannot start at record %llu", s->name,
		    (unsigned long long)record);
		return -EINVAL;
	}
	s->rec = record;
	s->plain = record * CRYPTO_RECORD_PLAIN;
	return 0;
}

/* Sets up the cipher for the next record. */
static gpg_error_t
record_begin(struct crypto_stream *s, int final)
{
	uint8_t iv[CRYPTO_NONCE_LEN], ad[CRYPTO_AD_LEN];
	gpg_error_t e;

	crypto_record_nonce(s->nonce, s->rec, iv);
	crypto_record_ad(s->rec, final, ad);
	e = gcry_cipher_setiv(s->h, iv, sizeof(iv));
	if (e == 0)
		e = gcry_cipher_authenticate(s->h, ad, sizeof(ad));
	return e;
}

/* Encrypts n plaintext bytes at in (may be s->buf) into s->buf, appends
 * the tag and hands the record to the sink. */
static int
seal(struct crypto_stream *s, const uint8_t *in, size_t n, int final,
    crypto_sink_fn sink, void *arg)
{
	gpg_error_t e = record_begin(s, final);

	if (e == 0)
		e = in == s->buf ? gcry_cipher_encrypt(s->h, s->buf, n, NULL, 0)
		    : gcry_cipher_encrypt(s->h, s->buf, n, in, n);
	if (e == 0)
		e = gcry_cipher_gettag(s->h, s->buf + n, CRYPTO_TAG_LEN);
	if (e != 0) {
		log_error("file %s: cannot encrypt record %llu: %s", s->name,
		    (unsigned long long)s->rec, gcry_strerror(e));
		return -EIO;
	}
	s->rec++;
	s->plain += n;
	return sink(arg, s->buf, n + CRYPTO_TAG_LEN);
}

/* Authenticates and decrypts one record of wire bytes at in (may be
 * s->buf) into s->buf and hands the plaintext to the sink. */
static int
open_record(struct crypto_stream *s, const uint8_t *in, size_t wire,
    int final, crypto_sink_fn sink, void *arg)
{
	size_t n = wire - CRYPTO_TAG_LEN;
	gpg_error_t e = record_begin(s, final);

	if (e == 0)
		e = in == s->buf ? gcry_cipher_decrypt(s->h, s->buf, n, NULL, 0)
		    : gcry_cipher_decrypt(s->h, s->buf, n, in, n);
	if (e == 0)
		e = gcry_cipher_checktag(s->h, in + n, CRYPTO_TAG_LEN);
	if (gpg_err_code(e) == GPG_ERR_CHECKSUM) {
		crypto_wipe(s->buf, n);
		log_error("file %s: record %llu failed authentication",
		    s->name, (unsigned long long)s->rec);
		return -EBADMSG;
	}
	if (e != 0) {
		log_error("file %s: cannot decrypt record %llu: %s", s->name,
		    (unsigned long long)s->rec, gcry_strerror(e));
		return -EIO;
	}
	s->rec++;
	s->plain += n;
	return n > 0 ? sink(arg, s->buf, n) : 0;	/* empty final record */
}

/* Encryptor: whole records straight from in, the rest via s->buf. */
static int
push_plain(struct crypto_stream *s, const uint8_t *in, size_t len,
    crypto_sink_fn sink, void *arg)
{
	int rc = 0;

	if (len > s->size - s->plain - s->fill) {
		log_error("file %s: more data than the %llu bytes declared",
		    s->name, (unsigned long long)s->size);
		return -EINVAL;
	}
	while (len > 0 && rc == 0) {
		size_t n = CRYPTO_RECORD_PLAIN - s->fill;

		if (s->fill == 0 && len >= CRYPTO_RECORD_PLAIN) {
			rc = seal(s, in, n, 0, sink, arg);
		} else {
			n = len < n ? len : n;
			memcpy(s->buf + s->fill, in, n);
			s->fill += n;
			/* A full record is never the final one. */
			if (s->fill == CRYPTO_RECORD_PLAIN) {
				s->fill = 0;
				rc = seal(s, s->buf, CRYPTO_RECORD_PLAIN, 0,
				    sink, arg);
			}
		}
		in += n;
		len -= n;
	}
	return rc;
}

/* A full-size record must leave room for the final one after it. */
static int
check_full_record(struct crypto_stream *s)
{
	if (s->size - s->plain < CRYPTO_RECORD_PLAIN) {
		log_error("file %s: stream is longer than the %llu bytes "
		    "declared", s->name, (unsigned long long)s->size);
		return -EBADMSG;
	}
	return 0;
}

/* Decryptor: whole records straight from in, the rest via s->buf. */
static int
push_wire(struct crypto_stream *s, const uint8_t *in, size_t len,
    crypto_sink_fn sink, void *arg)
{
	int rc = 0;

	while (len > 0 && rc == 0) {
		size_t n = CRYPTO_RECORD_WIRE - s->fill;

		if (s->fill == 0 && len >= CRYPTO_RECORD_WIRE) {
			if ((rc = check_full_record(s)) == 0)
				rc = open_record(s, in, n, 0, sink, arg);
		} else {
			n = len < n ? len : n;
			memcpy(s->buf + s->fill, in, n);
			s->fill += n;
			if (s->fill == CRYPTO_RECORD_WIRE) {
				s->fill = 0;
				if ((rc = check_full_record(s)) == 0)
					rc = open_record(s, s->buf,
					    CRYPTO_RECORD_WIRE, 0, sink, arg);
			}
		}
		in += n;
		len -= n;
	}
	return rc;
}

int
crypto_stream_push(struct crypto_stream *s, const void *buf, size_t len,
    crypto_sink_fn sink, void *arg)
{
	if (s->err != 0)
		return s->err;
	if (s->finished || sink == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	s->started = 1;
	if (len == 0)
		return 0;
	s->err = s->encrypt ? push_plain(s, buf, len, sink, arg)
	    : push_wire(s, buf, len, sink, arg);
	return s->err;
}

static int
finish_plain(struct crypto_stream *s, crypto_sink_fn sink, void *arg)
{
	if (s->plain + s->fill != s->size) {
		log_error("file %s: %llu bytes of data, %llu declared",
		    s->name, (unsigned long long)(s->plain + s->fill),
		    (unsigned long long)s->size);
		return -EINVAL;
	}
	return seal(s, s->buf, s->fill, 1, sink, arg);
}

static int
finish_wire(struct crypto_stream *s, crypto_sink_fn sink, void *arg)
{
	if (s->fill < CRYPTO_TAG_LEN) {
		log_error("file %s: stream ends without its final record",
		    s->name);
		return -EBADMSG;
	}
	if (s->plain + s->fill - CRYPTO_TAG_LEN != s->size) {
		log_error("file %s: stream ends at %llu bytes, %llu declared",
		    s->name,
		    (unsigned long long)(s->plain + s->fill - CRYPTO_TAG_LEN),
		    (unsigned long long)s->size);
		return -EBADMSG;
	}
	return open_record(s, s->buf, s->fill, 1, sink, arg);
}

int
crypto_stream_finish(struct crypto_stream *s, crypto_sink_fn sink, void *arg)
{
	if (s->err != 0)
		return s->err;
	if (s->finished || sink == NULL)
		return -EINVAL;
	s->started = 1;
	s->finished = 1;
	s->err = s->encrypt ? finish_plain(s, sink, arg)
	    : finish_wire(s, sink, arg);
	return s->err;
}

uint64_t
crypto_ciphertext_size(uint64_t plain_size)
{
	if (plain_size > CRYPTO_MAX_PLAIN)
		return 0;
	return plain_size +
	    CRYPTO_TAG_LEN * (plain_size / CRYPTO_RECORD_PLAIN + 1);
}

int
crypto_resume_point(uint64_t plain_have, uint64_t plain_size,
    uint64_t *record, uint64_t *plain_off, uint64_t *wire_off)
{
	uint64_t r;

	if (plain_size > CRYPTO_MAX_PLAIN || plain_have > plain_size)
		return -EINVAL;
	r = plain_have / CRYPTO_RECORD_PLAIN;
	if (record != NULL)
		*record = r;
	if (plain_off != NULL)
		*plain_off = r * CRYPTO_RECORD_PLAIN;
	if (wire_off != NULL)
		*wire_off = r * CRYPTO_RECORD_WIRE;
	return 0;
}

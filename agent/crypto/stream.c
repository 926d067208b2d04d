/* crypto/stream.c -- the record layer: AES-256-GCM over 64 KiB records,
 * cut independently of how the transport chunks the bytes.
 * See crypto.h for the contracts, docs/protocol.md ("Records") for the
 * wire format:
 *
 *   record i = AES-256-GCM(key, nonce_i, ad_i, plaintext_i) || tag_i
 *   nonce_i  = nonce base XOR (0^32 || u64be(i))
 *   ad_i     = u64be(i) || final (0x00 or 0x01)
 *
 * Every record but the last holds exactly 65536 bytes of plaintext; the
 * last one holds 0..65535 bytes and is marked final. Both ends know the
 * file size (it is bound into the key and signed), so the length of
 * every record and which one is final are known before its first byte
 * arrives. That lets each push run through GCM straight away, into the
 * record buffer, whatever its size: no staging copy. The decryptor keeps
 * a record's plaintext in that buffer until the tag has verified.
 *
 * Memory: one record buffer per stream.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gcrypt.h>

#include "agent/crypto/crypto_int.h"
#include "agent/log.h"

struct crypto_stream {
	gcry_cipher_hd_t h;	/* key inside, in secure memory */
	int encrypt;
	int err;		/* sticky: once failed, always failed */
	int started;		/* a push or finish has happened */
	int finished;		/* finish was called */
	int in_record;		/* h is set up for record rec */
	int done;		/* the final record went through */
	uint64_t rec;		/* index of the current record */
	uint64_t last;		/* index of the final record */
	uint64_t size;		/* bound plaintext size of the file */
	size_t rec_len;		/* plaintext bytes of record rec */
	size_t body;		/* of those, processed so far */
	size_t tag_fill;	/* tag bytes received (decryptor) */
	uint8_t nonce[CRYPTO_NONCE_LEN];
	char name[128];		/* for log messages */
	uint8_t buf[CRYPTO_RECORD_WIRE];	/* body, then tag */
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
	s->last = size / CRYPTO_RECORD_PLAIN;
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
	return 0;
}

/* Sets up the cipher for record s->rec: nonce, associated data, and
 * the record's length, all known from the bound size. */
static int
record_begin(struct crypto_stream *s)
{
	uint8_t iv[CRYPTO_NONCE_LEN], ad[CRYPTO_AD_LEN];
	int final = s->rec == s->last;
	gpg_error_t e;

	crypto_record_nonce(s->nonce, s->rec, iv);
	crypto_record_ad(s->rec, final, ad);
	e = gcry_cipher_setiv(s->h, iv, sizeof(iv));
	if (e == 0)
		e = gcry_cipher_authenticate(s->h, ad, sizeof(ad));
	if (e != 0) {
		log_error("file %s: cannot start record %llu: %s", s->name,
		    (unsigned long long)s->rec, gcry_strerror(e));
		return -EIO;
	}
	s->rec_len = final ? s->size % CRYPTO_RECORD_PLAIN : CRYPTO_RECORD_PLAIN;
	s->body = s->tag_fill = 0;
	s->in_record = 1;
	return 0;
}

/* The current record is through: on to the next one, or done. */
static void
record_end(struct crypto_stream *s)
{
	s->in_record = 0;
	if (s->rec == s->last)
		s->done = 1;
	else
		s->rec++;
}

/* Encryptor: appends the tag and hands body || tag to the sink. */
static int
seal(struct crypto_stream *s, crypto_sink_fn sink, void *arg)
{
	gpg_error_t e = gcry_cipher_gettag(s->h, s->buf + s->rec_len,
	    CRYPTO_TAG_LEN);

	if (e != 0) {
		log_error("file %s: cannot seal record %llu: %s", s->name,
		    (unsigned long long)s->rec, gcry_strerror(e));
		return -EIO;
	}
	record_end(s);
	return sink(arg, s->buf, s->rec_len + CRYPTO_TAG_LEN);
}

/* Encryptor: each push goes through GCM into the record buffer; a full
 * record is sealed at once, the final one only by finish. */
static int
push_plain(struct crypto_stream *s, const uint8_t *in, size_t len,
    crypto_sink_fn sink, void *arg)
{
	int rc = 0;

	while (len > 0 && rc == 0) {
		size_t n;

		if (!s->in_record && (rc = record_begin(s)) != 0)
			break;
		if (s->body == s->rec_len) {
			log_error("file %s: more data than the %llu bytes "
			    "declared", s->name, (unsigned long long)s->size);
			return -EINVAL;
		}
		n = s->rec_len - s->body < len ? s->rec_len - s->body : len;
		if (gcry_cipher_encrypt(s->h, s->buf + s->body, n, in, n)) {
			log_error("file %s: cannot encrypt", s->name);
			return -EIO;
		}
		s->body += n;
		in += n;
		len -= n;
		if (s->body == s->rec_len && s->rec != s->last)
			rc = seal(s, sink, arg);
	}
	return rc;
}

/* Decryptor: the tag is complete; release the plaintext if it is good. */
static int
open_record(struct crypto_stream *s, crypto_sink_fn sink, void *arg)
{
	gpg_error_t e = gcry_cipher_checktag(s->h, s->buf + s->rec_len,
	    CRYPTO_TAG_LEN);
	size_t n = s->rec_len;

	if (gpg_err_code(e) == GPG_ERR_CHECKSUM) {
		crypto_wipe(s->buf, n);
		log_error("file %s: record %llu failed authentication",
		    s->name, (unsigned long long)s->rec);
		return -EBADMSG;
	}
	if (e != 0) {
		log_error("file %s: cannot check record %llu: %s", s->name,
		    (unsigned long long)s->rec, gcry_strerror(e));
		return -EIO;
	}
	record_end(s);
	return n > 0 ? sink(arg, s->buf, n) : 0;	/* empty final record */
}

/* Decryptor: body bytes go through GCM into the record buffer, tag bytes
 * are collected after it; plaintext leaves only via open_record. */
static int
push_wire(struct crypto_stream *s, const uint8_t *in, size_t len,
    crypto_sink_fn sink, void *arg)
{
	int rc = 0;

	while (len > 0 && rc == 0) {
		size_t n;

		if (s->done) {
			log_error("file %s: stream is longer than the %llu "
			    "bytes declared", s->name,
			    (unsigned long long)s->size);
			return -EBADMSG;
		}
		if (!s->in_record && (rc = record_begin(s)) != 0)
			break;
		if (s->body < s->rec_len) {
			n = s->rec_len - s->body < len ? s->rec_len - s->body
			    : len;
			if (gcry_cipher_decrypt(s->h, s->buf + s->body, n, in,
			    n)) {
				log_error("file %s: cannot decrypt", s->name);
				return -EIO;
			}
			s->body += n;
		} else {
			n = CRYPTO_TAG_LEN - s->tag_fill < len ?
			    CRYPTO_TAG_LEN - s->tag_fill : len;
			memcpy(s->buf + s->rec_len + s->tag_fill, in, n);
			if ((s->tag_fill += n) == CRYPTO_TAG_LEN)
				rc = open_record(s, sink, arg);
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

static uint64_t
position(const struct crypto_stream *s)
{
	return s->done ? s->size
	    : s->rec * CRYPTO_RECORD_PLAIN + (s->in_record ? s->body : 0);
}

static int
finish_plain(struct crypto_stream *s, crypto_sink_fn sink, void *arg)
{
	int rc;

	if (!s->in_record && (rc = record_begin(s)) != 0)
		return rc;
	if (s->rec != s->last || s->body != s->rec_len) {
		log_error("file %s: %llu bytes of data, %llu declared",
		    s->name, (unsigned long long)position(s),
		    (unsigned long long)s->size);
		return -EINVAL;
	}
	return seal(s, sink, arg);
}

static int
finish_wire(struct crypto_stream *s)
{
	if (!s->done) {
		log_error("file %s: stream ends in record %llu before the "
		    "final record verified (%llu of %llu bytes)", s->name,
		    (unsigned long long)s->rec,
		    (unsigned long long)position(s),
		    (unsigned long long)s->size);
		return -EBADMSG;
	}
	return 0;
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
	s->err = s->encrypt ? finish_plain(s, sink, arg) : finish_wire(s);
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

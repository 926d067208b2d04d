/* crypto/crypto.c -- libgcrypt set-up and the primitives the rest of the crypto
 * module builds on: secure memory, X25519, Ed25519, SHA-256, HKDF.
 * See crypto.h for the module and crypto_int.h for these contracts.
 *
 * libgcrypt is a process-wide singleton; it is configured here and
 * nowhere else.
 */
#include <errno.h>
#include <string.h>

#include <gcrypt.h>

#include "agent/crypto/crypto_int.h"
#include "agent/log.h"

#define NEED_LIBGCRYPT	"1.10.0"
/* Secure memory: enough for the identity, HMAC contexts and the cipher
 * contexts of a few dozen concurrent transfers; grows on demand. */
#define SECMEM_INITIAL	(64 * 1024)
#define SECMEM_EXPAND	(64 * 1024)

int
crypto_global_init(void)
{
	if (gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P))
		return 0;
	if (gcry_check_version(NEED_LIBGCRYPT) == NULL) {
		log_error("libgcrypt %s is too old, need %s",
		    gcry_check_version(NULL), NEED_LIBGCRYPT);
		return -EIO;
	}
	/* libgcrypt answers an error when it cannot mlock the pool, but the
	 * pool works; secrets may then reach swap. Say so once, in our log
	 * rather than libgcrypt's stderr line, and go on. */
	gcry_control(GCRYCTL_DISABLE_SECMEM_WARN);
	if (gcry_control(GCRYCTL_INIT_SECMEM, SECMEM_INITIAL, 0) != 0)
		log_warn("cannot lock secure memory (mlock), keys may be "
		    "swapped out: raise RLIMIT_MEMLOCK (systemd: "
		    "LimitMEMLOCK=) to at least %d KiB", SECMEM_INITIAL / 1024);
	gcry_control(GCRYCTL_AUTO_EXPAND_SECMEM, SECMEM_EXPAND, 0);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	return 0;
}

void *
crypto_secure_alloc(size_t n)
{
	void *p = gcry_malloc_secure(n);

	if (p == NULL)
		log_error("cannot allocate %zu bytes of secure memory", n);
	return p;
}

void
crypto_secure_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	crypto_wipe(p, n);
	gcry_free(p);
}

void
crypto_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

void
crypto_random(void *p, size_t n, int long_term)
{
	/* The levels libgcrypt's manual gives for session keys and for
	 * long-term key material. */
	if (!long_term) {
		gcry_randomize(p, n, GCRY_STRONG_RANDOM);
		return;
	}
	gcry_randomize(p, n, GCRY_VERY_STRONG_RANDOM);
	/* That level starts a jitter-entropy collector that libgcrypt
	 * would keep (128 KiB) for the life of the process; long-term keys
	 * are made once, so release it now (re-created on demand). */
	gcry_control(GCRYCTL_CLOSE_RANDOM_DEVICE, 0);
}

static int
all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int
crypto_x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t *point)
{
	static const uint8_t base[32] = {9};
	gpg_error_t e;

	/* libgcrypt clamps the scalar and masks the top bit of the point
	 * as RFC 7748 asks; the test vectors hold it to that. */
	e = gcry_ecc_mul_point(GCRY_ECC_CURVE25519, out, scalar,
	    point ? point : base);
	if (e != 0) {
		log_error("x25519 failed: %s", gcry_strerror(e));
		crypto_wipe(out, 32);
		return -EIO;
	}
	if (all_zero(out, 32)) {
		log_error("x25519 peer key is a low-order point");
		return -EINVAL;
	}
	return 0;
}

int
crypto_ed25519_public(uint8_t pub[32], const uint8_t seed[32])
{
	gcry_sexp_t key = NULL;
	gcry_ctx_t ctx = NULL;
	gcry_mpi_t q = NULL;
	unsigned int nbits = 0;
	const void *qp;
	gpg_error_t e;
	int rc = -EIO;

	e = gcry_sexp_build(&key, NULL,
	    "(private-key(ecc(curve Ed25519)(flags eddsa)(d %b)))", 32, seed);
	if (e == 0)
		e = gcry_mpi_ec_new(&ctx, key, NULL);
	if (e == 0 && (q = gcry_mpi_ec_get_mpi("q@eddsa", ctx, 1)) == NULL)
		e = GPG_ERR_BAD_SECKEY;
	if (e == 0) {
		qp = gcry_mpi_get_opaque(q, &nbits);
		if (qp != NULL && nbits == 256) {
			memcpy(pub, qp, 32);
			rc = 0;
		} else
			e = GPG_ERR_INV_LENGTH;
	}
	if (rc != 0)
		log_error("cannot derive ed25519 public key: %s",
		    gcry_strerror(e));
	gcry_mpi_release(q);
	gcry_ctx_release(ctx);
	gcry_sexp_release(key);
	return rc;
}

/* Copies the n-byte value of token name in sexp into out. */
static int
sexp_bytes(gcry_sexp_t sexp, const char *name, uint8_t *out, size_t n)
{
	gcry_sexp_t t = gcry_sexp_find_token(sexp, name, 0);
	const char *p;
	size_t len = 0;
	int rc = -EIO;

	if (t != NULL && (p = gcry_sexp_nth_data(t, 1, &len)) != NULL &&
	    len == n) {
		memcpy(out, p, n);
		rc = 0;
	}
	gcry_sexp_release(t);
	return rc;
}

int
crypto_ed25519_sign(const uint8_t seed[32], const uint8_t pub[32],
    const void *msg, size_t len, uint8_t sig[64])
{
	gcry_sexp_t key = NULL, data = NULL, s = NULL;
	gpg_error_t e;
	int rc = -EIO;

	e = gcry_sexp_build(&key, NULL,
	    "(private-key(ecc(curve Ed25519)(flags eddsa)(q %b)(d %b)))",
	    32, pub, 32, seed);
	if (e == 0)
		e = gcry_sexp_build(&data, NULL,
		    "(data(flags eddsa)(hash-algo sha512)(value %b))",
		    (int)len, msg);
	if (e == 0)
		e = gcry_pk_sign(&s, data, key);
	if (e == 0 && sexp_bytes(s, "r", sig, 32) == 0 &&
	    sexp_bytes(s, "s", sig + 32, 32) == 0)
		rc = 0;
	if (rc != 0)
		log_error("ed25519 signing failed: %s",
		    e ? gcry_strerror(e) : "unexpected signature form");
	gcry_sexp_release(s);
	gcry_sexp_release(data);
	gcry_sexp_release(key);
	return rc;
}

int
crypto_verify(const uint8_t ed25519_pub[CRYPTO_KEY_LEN], const void *msg,
    size_t len, const uint8_t sig[CRYPTO_SIG_LEN])
{
	gcry_sexp_t key = NULL, data = NULL, s = NULL;
	gpg_error_t e;

	if (len > INT32_MAX)
		return -EBADMSG;
	e = gcry_sexp_build(&key, NULL,
	    "(public-key(ecc(curve Ed25519)(flags eddsa)(q %b)))",
	    32, ed25519_pub);
	if (e == 0)
		e = gcry_sexp_build(&data, NULL,
		    "(data(flags eddsa)(hash-algo sha512)(value %b))",
		    (int)len, msg);
	if (e == 0)
		e = gcry_sexp_build(&s, NULL,
		    "(sig-val(eddsa(r %b)(s %b)))", 32, sig, 32, sig + 32);
	if (e == 0)
		e = gcry_pk_verify(s, data, key);
	gcry_sexp_release(s);
	gcry_sexp_release(data);
	gcry_sexp_release(key);
	return e == 0 ? 0 : -EBADMSG;
}

void
crypto_sha256(uint8_t out[32], const void *a, size_t alen, const void *b,
    size_t blen)
{
	gcry_buffer_t iov[2] = {
		{.size = alen, .len = alen, .data = (void *)a},
		{.size = blen, .len = blen, .data = (void *)b},
	};

	gcry_md_hash_buffers(GCRY_MD_SHA256, 0, out, iov, blen ? 2 : 1);
}

/* One HMAC-SHA-256 over up to three pieces, key in secure memory. */
static int
hmac3(const void *key, size_t klen, const void *a, size_t alen,
    const void *b, size_t blen, const void *c, size_t clen, uint8_t out[32])
{
	gcry_md_hd_t h;
	gpg_error_t e;

	e = gcry_md_open(&h, GCRY_MD_SHA256,
	    GCRY_MD_FLAG_HMAC | GCRY_MD_FLAG_SECURE);
	if (e != 0) {
		log_error("cannot open hmac-sha256: %s", gcry_strerror(e));
		return -EIO;
	}
	e = gcry_md_setkey(h, key, klen);
	if (e != 0) {
		log_error("cannot set hmac key: %s", gcry_strerror(e));
		gcry_md_close(h);
		return -EIO;
	}
	if (alen > 0)
		gcry_md_write(h, a, alen);
	if (blen > 0)
		gcry_md_write(h, b, blen);
	if (clen > 0)
		gcry_md_write(h, c, clen);
	memcpy(out, gcry_md_read(h, GCRY_MD_SHA256), 32);
	gcry_md_close(h);
	return 0;
}

int
crypto_hkdf_sha256(const void *salt, size_t salt_len, const void *ikm,
    size_t ikm_len, const void *info, size_t info_len, uint8_t *okm,
    size_t okm_len)
{
	static const uint8_t zero_salt[32];
	uint8_t *prk, *t;
	size_t tlen = 0, done = 0;
	int rc = 0;

	if (okm_len > 255 * 32)
		return -EINVAL;
	if (salt_len == 0) {	/* RFC 5869 2.2: HashLen zeros */
		salt = zero_salt;
		salt_len = sizeof(zero_salt);
	}
	if ((prk = crypto_secure_alloc(64)) == NULL)
		return -ENOMEM;
	t = prk + 32;
	/* Extract: PRK = HMAC(salt, IKM). */
	rc = hmac3(salt, salt_len, ikm, ikm_len, NULL, 0, NULL, 0, prk);
	/* Expand: T(i) = HMAC(PRK, T(i-1) || info || i). */
	for (uint8_t i = 1; rc == 0 && done < okm_len; i++) {
		size_t n = okm_len - done < 32 ? okm_len - done : 32;

		rc = hmac3(prk, 32, t, tlen, info, info_len, &i, 1, t);
		if (rc == 0)
			memcpy(okm + done, t, n);
		tlen = 32;
		done += n;
	}
	crypto_secure_free(prk, 64);
	if (rc != 0)
		crypto_wipe(okm, okm_len);
	return rc;
}

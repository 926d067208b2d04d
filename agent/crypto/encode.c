/* crypto/encode.c -- text forms of key material: hex, base64 (RFC 4648)
 * and fingerprints. See crypto.h for the contracts.
 *
 * Decoders treat their input as hostile: lengths are bounded by the
 * caller's buffer, and anything that is not the canonical form is
 * refused rather than repaired.
 */
#include <errno.h>
#include <string.h>

#include "agent/crypto/crypto_int.h"

static const char hexdig[] = "0123456789abcdef";
static const char b64dig[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
crypto_hex_encode(const uint8_t *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hexdig[in[i] >> 4];
		out[2 * i + 1] = hexdig[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
crypto_hex_decode(const char *hex, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int hi = hexval((unsigned char)hex[2 * i]);
		int lo = hi < 0 ? -1 : hexval((unsigned char)hex[2 * i + 1]);

		if (lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return hex[2 * len] == '\0' ? 0 : -EINVAL;
}

int
crypto_fingerprint(const uint8_t x25519_pub[CRYPTO_KEY_LEN],
    const uint8_t ed25519_pub[CRYPTO_KEY_LEN], char *out, size_t len)
{
	uint8_t h[CRYPTO_SHA256_LEN];
	char *p = out;

	if (len < CRYPTO_FPR_SIZE)
		return -EINVAL;
	crypto_sha256(h, x25519_pub, CRYPTO_KEY_LEN, ed25519_pub,
	    CRYPTO_KEY_LEN);
	for (size_t i = 0; i < sizeof(h); i++) {
		if (i > 0 && i % 4 == 0)
			*p++ = ' ';
		*p++ = hexdig[h[i] >> 4];
		*p++ = hexdig[h[i] & 15];
	}
	*p = '\0';
	return 0;
}

int
crypto_fingerprint_match(const char *text,
    const uint8_t x25519_pub[CRYPTO_KEY_LEN],
    const uint8_t ed25519_pub[CRYPTO_KEY_LEN])
{
	uint8_t want[CRYPTO_SHA256_LEN], got[CRYPTO_SHA256_LEN], diff = 0;
	size_t n = 0;

	if (text == NULL)
		return -EINVAL;
	for (const char *p = text; *p != '\0'; p++) {
		int v = hexval((unsigned char)*p);

		if (v < 0) {
			if (strchr(" \t:-", *p) == NULL)
				return -EINVAL;
			continue;
		}
		if (n >= 2 * sizeof(got))
			return -EINVAL;
		if (n % 2 == 0)
			got[n / 2] = (uint8_t)(v << 4);
		else
			got[n / 2] |= (uint8_t)v;
		n++;
	}
	if (n != 2 * sizeof(got))
		return -EINVAL;
	crypto_sha256(want, x25519_pub, CRYPTO_KEY_LEN, ed25519_pub,
	    CRYPTO_KEY_LEN);
	for (size_t i = 0; i < sizeof(want); i++)
		diff |= want[i] ^ got[i];
	return diff == 0 ? 0 : -EKEYREJECTED;
}

int
crypto_base64_encode(const void *in, size_t len, char *out, size_t cap)
{
	const uint8_t *s = in;
	size_t i, o = 0;

	if (cap < (len + 2) / 3 * 4 + 1)
		return -EINVAL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | s[i + 1] << 8 | s[i + 2];

		out[o++] = b64dig[v >> 18];
		out[o++] = b64dig[v >> 12 & 63];
		out[o++] = b64dig[v >> 6 & 63];
		out[o++] = b64dig[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)s[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)s[i + 1] << 8;
		out[o++] = b64dig[v >> 18];
		out[o++] = b64dig[v >> 12 & 63];
		out[o++] = i + 1 < len ? b64dig[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return 0;
}

static int
b64val(int c)
{
	const char *p = c != '\0' ? strchr(b64dig, c) : NULL;

	return p ? (int)(p - b64dig) : -1;
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int
crypto_base64_decode(const char *text, uint8_t *out, size_t cap,
    size_t *outlen)
{
	uint32_t acc = 0;
	size_t n = 0, o = 0, pad = 0;

	for (const char *p = text; *p != '\0'; p++) {
		int c = (unsigned char)*p, v;

		if (is_space(c))
			continue;
		if (c == '=') {
			if (n % 4 < 2 || ++pad > 2)
				return -EINVAL;
			n++;
			continue;
		}
		if (pad > 0 || (v = b64val(c)) < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		if (++n % 4 != 0)
			continue;
		if (o + 3 > cap)
			return -EINVAL;
		out[o++] = (uint8_t)(acc >> 16);
		out[o++] = (uint8_t)(acc >> 8);
		out[o++] = (uint8_t)acc;
		acc = 0;
	}
	if (n % 4 != 0)
		return -EINVAL;
	if (pad > 0) {
		/* The last quantum had 4 - pad characters in acc. */
		size_t keep = 3 - pad;
		uint32_t v = acc << (6 * pad);

		if ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff)))
			return -EINVAL;	/* non-zero unused bits */
		if (o + keep > cap)
			return -EINVAL;
		out[o++] = (uint8_t)(v >> 16);
		if (keep == 2)
			out[o++] = (uint8_t)(v >> 8);
	}
	*outlen = o;
	return 0;
}

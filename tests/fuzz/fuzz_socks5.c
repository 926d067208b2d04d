/* fuzz_socks5.c -- the SOCKS5 handshake (agent/jingle/socks5.c) on any
 * bytes, through s5b_parse() the way the socket code drives it: bytes
 * arrive in chunks into the same 320-byte buffer, each complete message
 * is consumed, and the state moves on.
 *
 * Input: one control byte, then the peer's bytes. Bit 0 of the control
 * byte picks the side we play (0: server, reading greeting then
 * request; 1: client, reading method choice then reply); the other bits
 * give the chunk size, 1..128 bytes per read.
 */
#include <errno.h>

#include "agent/jingle/jingle_int.h"
#include "tests/fuzz/fuzz.h"

#define INBUF 320  /* as struct s5b's */

/* Checks what s5b_parse said about the len bytes at in. */
static void
check_answer(enum s5b_msg k, long n, size_t len, const char *dst)
{
	fuzz_check(n == 0 || n == -EPROTO || (n == -EACCES &&
	    k == S5B_MSG_REPLY) || (n > 0 && (size_t)n <= len));
	if (k == S5B_MSG_REQUEST && n > 0) {
		fuzz_check(strlen(dst) == S5B_DST_LEN);
		for (size_t i = 0; i < S5B_DST_LEN; i++)
			fuzz_check((dst[i] >= '0' && dst[i] <= '9') ||
			    (dst[i] >= 'a' && dst[i] <= 'f'));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum s5b_msg order[2][2] = {
		{S5B_MSG_GREETING, S5B_MSG_REQUEST},
		{S5B_MSG_CHOICE, S5B_MSG_REPLY},
	};
	unsigned char *in = malloc(INBUF);
	char dst[S5B_DST_LEN + 1];
	size_t inlen = 0, chunk, step = 0;
	int side;

	fuzz_check(in != NULL);
	if (size == 0)
		goto out;
	side = data[0] & 1;
	chunk = (size_t)(data[0] >> 1) + 1;
	data++;
	size--;
	while (step < 2) {
		size_t n = chunk < size ? chunk : size;
		long r = 0;

		if (inlen == INBUF)
			break;  /* the socket code fails with -EPROTO here */
		if (n > INBUF - inlen)
			n = INBUF - inlen;
		memcpy(in + inlen, data, n);
		inlen += n;
		data += n;
		size -= n;
		while (step < 2) {
			enum s5b_msg k = order[side][step];
			dst[0] = '\0';
			r = s5b_parse(k, in, inlen, k == S5B_MSG_REQUEST ? dst :
			    NULL);
			check_answer(k, r, inlen, dst);
			if (r <= 0)
				break;
			memmove(in, in + r, inlen - (size_t)r);
			inlen -= (size_t)r;
			step++;
		}
		if (r < 0 || n == 0)
			break;
	}
out:
	free(in);
	return 0;
}

/* fuzz_ibb.c -- IBB stanza parsing (agent/jingle/ibb.c) on any bytes:
 * they are parsed as one XML stanza and handed to ibb_parse() twice, with
 * the engine's 64 KiB buffer and with one of a few bytes (so "more data
 * than negotiated" is reached), each exactly as large as it claims so a
 * write past its end is seen. The raw bytes also go to the base64
 * decoder on their own.
 *
 * What is accepted must survive a round trip through ibb_open_new() /
 * ibb_data_new() / ibb_close_new() and ibb_parse() again.
 */
#include <errno.h>

#include "agent/jingle/jingle_int.h"
#include "tests/fuzz/fuzz.h"

#define BIG JINGLE_CHUNK
#define SMALL 5

static void
round_trip(xmpp_ctx_t *ctx, const struct ibb_msg *a, const unsigned char *data)
{
	unsigned char *buf = malloc(BIG);
	xmpp_stanza_t *iq = NULL;
	struct ibb_msg b;
	char err[96];

	fuzz_check(buf != NULL);
	if (a->kind == IBB_OPEN)
		iq = ibb_open_new(ctx, "p@example.org/r", a->sid, a->block_size);
	else if (a->kind == IBB_DATA)
		iq = ibb_data_new(ctx, "p@example.org/r", a->sid, a->seq, data,
		    a->len);
	else
		iq = ibb_close_new(ctx, "p@example.org/r", a->sid);
	fuzz_check(iq != NULL);
	fuzz_check(ibb_parse(iq, buf, BIG, &b, err, sizeof(err)) == 0);
	fuzz_check(a->kind == b.kind && strcmp(a->sid, b.sid) == 0 &&
	    a->block_size == b.block_size && a->seq == b.seq &&
	    a->len == b.len && memcmp(data, buf, a->len) == 0);
	xmpp_stanza_release(iq);
	free(buf);
}

static void
parse_stanza(xmpp_ctx_t *ctx, xmpp_stanza_t *st)
{
	unsigned char *big = malloc(BIG), *small = malloc(SMALL);
	struct ibb_msg m;
	char err[96];
	int r;

	fuzz_check(big && small);
	r = ibb_parse(st, big, BIG, &m, err, sizeof(err));
	fuzz_check(r == 0 || r == -EINVAL || r == -EMSGSIZE);
	fuzz_check(r < 0 || m.len <= BIG);
	if (r == 0)
		round_trip(ctx, &m, big);
	r = ibb_parse(st, small, SMALL, &m, err, sizeof(err));
	fuzz_check(r == 0 || r == -EINVAL || r == -EMSGSIZE);
	fuzz_check(r < 0 || m.len <= SMALL);
	free(big);
	free(small);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
	unsigned char *out = malloc(SMALL);
	xmpp_stanza_t *st;
	long n;

	fuzz_check(out != NULL);
	n = ibb_b64_decode((const char *)data, size, out, SMALL);
	fuzz_check(n == -EINVAL || n == -EMSGSIZE || (n >= 0 && n <= SMALL));
	free(out);
	if (ctx && (st = fuzz_stanza(ctx, data, size)) != NULL) {
		parse_stanza(ctx, st);
		xmpp_stanza_release(st);
	}
	if (ctx)
		xmpp_ctx_free(ctx);
	return 0;
}

/* jingle/ibb.c -- see jingle_int.h */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/jingle/jingle_int.h"

uint16_t
ibb_seq_next(uint16_t s)
{
	return (uint16_t)(s + 1u);
}

static xmpp_stanza_t *
ibb_iq(xmpp_ctx_t *ctx, const char *to, const char *name, const char *sid,
    xmpp_stanza_t **child)
{
	char *id = xmpp_uuid_gen(ctx);
	xmpp_stanza_t *iq = xmpp_iq_new(ctx, "set", id ? id : "ibb");

	if (id)
		xmpp_free(ctx, id);
	if (iq == NULL)
		return NULL;
	xmpp_stanza_set_to(iq, to);
	if ((*child = jingle_xml_child(iq, name, IBB_NS)) == NULL) {
		xmpp_stanza_release(iq);
		return NULL;
	}
	xmpp_stanza_set_attribute(*child, "sid", sid);
	return iq;
}

xmpp_stanza_t *
ibb_open_new(xmpp_ctx_t *ctx, const char *to, const char *sid,
    unsigned block_size)
{
	xmpp_stanza_t *c, *iq = ibb_iq(ctx, to, "open", sid, &c);
	char buf[16];

	if (iq == NULL)
		return NULL;
	snprintf(buf, sizeof(buf), "%u", block_size);
	xmpp_stanza_set_attribute(c, "block-size", buf);
	xmpp_stanza_set_attribute(c, "stanza", "iq");
	return iq;
}

xmpp_stanza_t *
ibb_data_new(xmpp_ctx_t *ctx, const char *to, const char *sid, uint16_t seq,
    const unsigned char *p, size_t n)
{
	xmpp_stanza_t *c, *iq = ibb_iq(ctx, to, "data", sid, &c);
	char buf[8], *b64;
	int r;

	if (iq == NULL)
		return NULL;
	snprintf(buf, sizeof(buf), "%u", (unsigned)seq);
	xmpp_stanza_set_attribute(c, "seq", buf);
	if (n == 0)
		return iq;
	b64 = xmpp_base64_encode(ctx, p, n);
	r = b64 ? jingle_xml_text(c, b64) : -ENOMEM;
	if (b64)
		xmpp_free(ctx, b64);
	if (r < 0) {
		xmpp_stanza_release(iq);
		return NULL;
	}
	return iq;
}

xmpp_stanza_t *
ibb_close_new(xmpp_ctx_t *ctx, const char *to, const char *sid)
{
	xmpp_stanza_t *c;

	return ibb_iq(ctx, to, "close", sid, &c);
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

long
ibb_b64_decode(const char *in, size_t inlen, unsigned char *out, size_t cap)
{
	unsigned acc = 0;
	int nbits = 0, pad = 0;
	size_t n = 0, chars = 0;

	for (size_t i = 0; i < inlen; i++) {
		int c = (unsigned char)in[i], v;
		if (c == '\n' || c == '\r')
			continue;
		chars++;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || (v = b64val(c)) < 0)
			return -EINVAL;
		acc = (acc << 6) | (unsigned)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			if (n == cap)
				return -EMSGSIZE;
			out[n++] = (unsigned char)(acc >> nbits);
			acc &= (1u << nbits) - 1;
		}
	}
	if (chars % 4 != 0 || pad > 2 || acc != 0)
		return -EINVAL;
	return (long)n;
}

static int
perr(char *err, size_t len, const char *msg)
{
	snprintf(err, len, "%s", msg);
	return -EINVAL;
}

static int
parse_data(xmpp_stanza_t *c, unsigned char *buf, size_t cap,
    struct ibb_msg *m, char *err, size_t errlen)
{
	const char *seq = xmpp_stanza_get_attribute(c, "seq");
	uint64_t v;
	char *t;
	long n;

	if (jingle_xml_u64(seq, 65535, &v) < 0)
		return perr(err, errlen, "bad seq");
	m->seq = (uint16_t)v;
	t = xmpp_stanza_get_text(c);
	if (t == NULL) {
		m->len = 0;
		return 0;
	}
	n = ibb_b64_decode(t, strlen(t), buf, cap);
	xmpp_free(xmpp_stanza_get_context(c), t);
	if (n == -EMSGSIZE) {
		perr(err, errlen, "block larger than negotiated");
		return -EMSGSIZE;
	}
	if (n < 0)
		return perr(err, errlen, "bad base64");
	m->len = (size_t)n;
	return 0;
}

int
ibb_parse(xmpp_stanza_t *iq, unsigned char *buf, size_t cap,
    struct ibb_msg *m, char *err, size_t errlen)
{
	xmpp_stanza_t *c = xmpp_stanza_get_child_by_ns(iq, IBB_NS);
	const char *name, *sid;
	uint64_t v;

	memset(m, 0, sizeof(*m));
	if (c == NULL || (name = xmpp_stanza_get_name(c)) == NULL)
		return perr(err, errlen, "no ibb element");
	sid = xmpp_stanza_get_attribute(c, "sid");
	if (sid == NULL || sid[0] == '\0' || strlen(sid) > IBB_SID_MAX)
		return perr(err, errlen, "missing or bad sid");
	memcpy(m->sid, sid, strlen(sid) + 1);
	if (strcmp(name, "open") == 0) {
		const char *st = xmpp_stanza_get_attribute(c, "stanza");
		m->kind = IBB_OPEN;
		if (st && strcmp(st, "iq") != 0)
			return perr(err, errlen, "only stanza='iq' is supported");
		if (jingle_xml_u64(xmpp_stanza_get_attribute(c, "block-size"),
		    IBB_BLOCK_MAX, &v) < 0 || v == 0)
			return perr(err, errlen, "bad block-size");
		m->block_size = (unsigned)v;
		return 0;
	}
	if (strcmp(name, "close") == 0) {
		m->kind = IBB_CLOSE;
		return 0;
	}
	if (strcmp(name, "data") == 0) {
		m->kind = IBB_DATA;
		return parse_data(c, buf, cap, m, err, errlen);
	}
	return perr(err, errlen, "unknown ibb element");
}

/* jingle/ibb.h -- XEP-0047 In-Band Bytestreams, the stanza layer: build and
 * parse <open/>, <data/> and <close/> (IQ stanzas only), and the 16-bit
 * sequence numbers that wrap from 65535 to 0. The flow (window of
 * unacknowledged <data/>, which session a sid belongs to) lives in
 * agent/jingle_data.c.
 */
#ifndef XS_IBB_H
#define XS_IBB_H

#include <stddef.h>
#include <stdint.h>

#include <strophe.h>

#define IBB_NS "http://jabber.org/protocol/ibb"
#define IBB_SID_MAX 128
#define IBB_BLOCK_MAX 65535

enum ibb_kind { IBB_NONE = 0, IBB_OPEN, IBB_DATA, IBB_CLOSE };

struct ibb_msg {
	enum ibb_kind kind;
	char sid[IBB_SID_MAX + 1];
	unsigned block_size;   /* open */
	uint16_t seq;          /* data */
	size_t len;            /* data: decoded bytes in the caller's buffer */
};

/* Makes <iq type='set' to id=fresh><open .../></iq>. Returns the stanza
 * (release it) or NULL. */
xmpp_stanza_t *ibb_open_new(xmpp_ctx_t *ctx, const char *to, const char *sid,
    unsigned block_size);

/* Makes an IQ with <data seq sid>base64(p, n)</data>. Returns the stanza
 * (release it) or NULL. */
xmpp_stanza_t *ibb_data_new(xmpp_ctx_t *ctx, const char *to, const char *sid,
    uint16_t seq, const unsigned char *p, size_t n);

/* Makes an IQ with <close sid/>. Returns the stanza (release it) or NULL. */
xmpp_stanza_t *ibb_close_new(xmpp_ctx_t *ctx, const char *to, const char *sid);

/* Parses the IBB child of an IQ set. Data is decoded into buf (cap
 * bytes; more is an error). Returns 0, or -EINVAL with a short reason in
 * err, or -EMSGSIZE when the data exceeds cap. */
int ibb_parse(xmpp_stanza_t *iq, unsigned char *buf, size_t cap,
    struct ibb_msg *m, char *err, size_t errlen);

/* Returns the sequence number after s (65535 is followed by 0). */
uint16_t ibb_seq_next(uint16_t s);

/* Decodes base64 (RFC 4648, padding required, no whitespace but line
 * breaks) into out (cap bytes). Returns the decoded length, or -EINVAL /
 * -EMSGSIZE. */
long ibb_b64_decode(const char *in, size_t inlen, unsigned char *out,
    size_t cap);

#endif

/* xmpp/stanza.c -- see xmpp.h */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/xmpp/xmpp.h"

int
stanza_bare_jid(const char *jid, char *buf, size_t len)
{
	size_t n;

	if (jid == NULL)
		return -EINVAL;
	n = strcspn(jid, "/");
	if (n == 0 || n >= len)
		return -EINVAL;
	memcpy(buf, jid, n);
	buf[n] = '\0';
	return 0;
}

int
stanza_jid_matches(const char *jid, const char *bare)
{
	char b[1100];
	const char *at1, *at2;

	if (stanza_bare_jid(jid, b, sizeof(b)) < 0 || bare == NULL)
		return 0;
	at1 = strchr(b, '@');
	at2 = strchr(bare, '@');
	if (at1 == NULL || at2 == NULL || at1 - b != at2 - bare)
		return 0;
	return strncmp(b, bare, (size_t)(at1 - b)) == 0 &&
	    strcasecmp(at1, at2) == 0;
}

int
stanza_jid_is_peer(const char *jid, const char *peer)
{
	char bare[1100];
	const char *r1, *r2;

	if (jid == NULL || peer == NULL || (r2 = strchr(peer, '/')) == NULL)
		return stanza_jid_matches(jid, peer);
	if ((size_t)(r2 - peer) >= sizeof(bare))
		return 0;
	memcpy(bare, peer, (size_t)(r2 - peer));
	bare[r2 - peer] = '\0';
	r1 = strchr(jid, '/');
	return r1 && strcmp(r1, r2) == 0 && stanza_jid_matches(jid, bare);
}

xmpp_stanza_t *
stanza_iq_result(xmpp_ctx_t *ctx, xmpp_stanza_t *iq)
{
	const char *id = xmpp_stanza_get_id(iq);
	const char *from = xmpp_stanza_get_from(iq);
	xmpp_stanza_t *r = xmpp_iq_new(ctx, "result", id ? id : "");

	if (r && from)
		xmpp_stanza_set_to(r, from);
	return r;
}

xmpp_stanza_t *
stanza_add_child(xmpp_ctx_t *ctx, xmpp_stanza_t *parent, const char *name,
    const char *ns)
{
	xmpp_stanza_t *c = xmpp_stanza_new(ctx);

	if (c == NULL)
		return NULL;
	xmpp_stanza_set_name(c, name);
	if (ns)
		xmpp_stanza_set_ns(c, ns);
	xmpp_stanza_add_child(parent, c);
	xmpp_stanza_release(c); /* parent holds it now */
	return c;
}

xmpp_stanza_t *
stanza_iq_error(xmpp_ctx_t *ctx, xmpp_stanza_t *iq, const char *type,
    const char *cond, const char *app, const char *app_ns, const char *text)
{
	xmpp_stanza_t *r = stanza_iq_result(ctx, iq), *err, *t, *txt;

	if (r == NULL)
		return NULL;
	xmpp_stanza_set_type(r, "error");
	err = stanza_add_child(ctx, r, "error", NULL);
	if (err == NULL) {
		xmpp_stanza_release(r);
		return NULL;
	}
	xmpp_stanza_set_type(err, type);
	stanza_add_child(ctx, err, cond, NS_STANZAS);
	if (text && (t = stanza_add_child(ctx, err, "text", NS_STANZAS))) {
		txt = xmpp_stanza_new(ctx);
		if (txt) {
			xmpp_stanza_set_text(txt, text);
			xmpp_stanza_add_child(t, txt);
			xmpp_stanza_release(txt);
		}
	}
	if (app)
		stanza_add_child(ctx, err, app, app_ns);
	return r;
}

void
stanza_send_iq_error(xmpp_conn_t *conn, xmpp_stanza_t *iq, const char *type,
    const char *cond, const char *app, const char *app_ns, const char *text)
{
	xmpp_stanza_t *r = stanza_iq_error(xmpp_conn_get_context(conn), iq,
	    type, cond, app, app_ns, text);

	if (r) {
		xmpp_send(conn, r);
		xmpp_stanza_release(r);
	}
}

xmpp_stanza_t *
stanza_first_element(xmpp_stanza_t *st)
{
	for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c;
	    c = xmpp_stanza_get_next(c))
		if (xmpp_stanza_is_tag(c))
			return c;
	return NULL;
}

int
stanza_b64_decode_exact(xmpp_ctx_t *ctx, const char *b64, unsigned char *out,
    size_t want)
{
	unsigned char *buf = NULL;
	size_t n = 0;

	if (b64 == NULL || strlen(b64) > 4 * want + 8)
		return -EINVAL;
	xmpp_base64_decode_bin(ctx, b64, strlen(b64), &buf, &n);
	if (buf == NULL || n != want) {
		if (buf)
			xmpp_free(ctx, buf);
		return -EINVAL;
	}
	memcpy(out, buf, want);
	xmpp_free(ctx, buf);
	return 0;
}

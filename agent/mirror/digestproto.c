/* mirror/digestproto.c -- the <digest/> request and answer of the index
 * digest exchange (docs/protocol.md 3.1): built from the store's digest,
 * read back with every count, length, name and number bounded. See
 * mirror_int.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/crypto/crypto.h"
#include "agent/mirror/mirror_int.h"
#include "agent/xmpp/xmpp.h"
#include "sync/path.h"

int
sync_digest_name_check(const char *name)
{
	if (name == NULL || strchr(name, '/') != NULL ||
	    path_check_synced(name) < 0)
		return -EINVAL;
	return 0;
}

int
sync_digest_request_build(xmpp_ctx_t *ctx, xmpp_stanza_t *iq,
    const char *path, const char *after)
{
	xmpp_stanza_t *q = stanza_add_child(ctx, iq, "digest", NS_XS_META);

	if (q == NULL || (path && path[0] &&
	    sync_name_attr_set(q, "path", path) < 0) ||
	    (after && sync_name_attr_set(q, "after", after) < 0))
		return -ENOMEM;
	return 0;
}

int
sync_digest_request_parse(xmpp_stanza_t *el, struct sync_digest_request *rq,
    const char **why)
{
	int has_p = xmpp_stanza_get_attribute(el, "path") ||
	    xmpp_stanza_get_attribute(el, "path64");
	int has_a = xmpp_stanza_get_attribute(el, "after") ||
	    xmpp_stanza_get_attribute(el, "after64");

	rq->path = sync_name_attr_get(el, "path", rq->pbuf, sizeof(rq->pbuf));
	rq->after = sync_name_attr_get(el, "after", rq->abuf, sizeof(rq->abuf));
	*why = "unsafe path";
	if ((has_p && rq->path == NULL) ||
	    (rq->path && path_check_synced(rq->path) < 0))
		return -EINVAL;
	*why = "bad name in after";
	if ((has_a && rq->after == NULL) ||
	    (rq->after && sync_digest_name_check(rq->after) < 0))
		return -EINVAL;
	return 0;
}

size_t
sync_digest_head_wire_max(const char *path)
{
	/* escaping takes at most 6 bytes a byte ("&quot;"), base64 less;
	 * the iq, <digest/> and its other attributes fit in 400 */
	return 400 + (path ? 6 * strlen(path) + 8 : 0);
}

size_t
sync_digest_child_wire_max(const char *name)
{
	/* <c n='' y='f' h='64 hex digits'/> and the base64 form's "64" */
	return 100 + 6 * strlen(name) + 8;
}

static const char *
kind_name(enum store_ftype t)
{
	return t == STORE_DIR ? "d" : t == STORE_FILE ? "f" :
	    t == STORE_SYMLINK ? "l" : "-";
}

static int
kind_parse(const char *y, int none_ok, enum store_ftype *out)
{
	if (y == NULL || y[0] == '\0' || y[1] != '\0')
		return -EINVAL;
	switch (y[0]) {
	case 'd': *out = STORE_DIR; return 0;
	case 'f': *out = STORE_FILE; return 0;
	case 'l': *out = STORE_SYMLINK; return 0;
	case '-': *out = 0; return none_ok ? 0 : -EINVAL;
	}
	return -EINVAL;
}

int
sync_digest_answer_set(xmpp_stanza_t *el, const char *path,
    const struct store_digest *d, int more)
{
	char h[2 * STORE_DIGEST_LEN + 1], m[16];

	if (path && path[0] && sync_name_attr_set(el, "path", path) < 0)
		return -ENOMEM;
	xmpp_stanza_set_attribute(el, "y", kind_name(d->type));
	if (d->type == 0)
		return 0;
	if (d->type == STORE_DIR) {
		snprintf(m, sizeof(m), "%o", (unsigned)(d->mode & 07777));
		xmpp_stanza_set_attribute(el, "m", m);
		xmpp_stanza_set_attribute(el, "more", more ? "1" : "0");
	}
	crypto_hex_encode(d->digest, STORE_DIGEST_LEN, h);
	return xmpp_stanza_set_attribute(el, "h", h) == XMPP_EOK ? 0 : -ENOMEM;
}

int
sync_digest_child_build(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
    const struct store_digest_child *c)
{
	xmpp_stanza_t *el = stanza_add_child(ctx, parent, "c", NULL);
	char h[2 * STORE_DIGEST_LEN + 1];

	if (el == NULL || sync_name_attr_set(el, "n", c->name) < 0)
		return -ENOMEM;
	xmpp_stanza_set_attribute(el, "y", kind_name(c->type));
	crypto_hex_encode(c->digest, STORE_DIGEST_LEN, h);
	return xmpp_stanza_set_attribute(el, "h", h) == XMPP_EOK ? 0 : -ENOMEM;
}

/* The answer's own attributes. */
static int
parse_self(xmpp_stanza_t *el, struct sync_digest *out, const char **why)
{
	const char *more = xmpp_stanza_get_attribute(el, "more");
	long long m;

	*why = "bad kind";
	if (kind_parse(xmpp_stanza_get_attribute(el, "y"), 1, &out->type) < 0)
		return -EINVAL;
	if (out->type == 0)
		return 0;
	*why = "bad digest";
	if (sync_hex_parse(xmpp_stanza_get_attribute(el, "h"), out->digest,
	    STORE_DIGEST_LEN) < 0)
		return -EINVAL;
	if (out->type != STORE_DIR)
		return 0;
	*why = "bad mode";
	if (sync_num_parse(xmpp_stanza_get_attribute(el, "m"), 8, 0, 07777,
	    &m) < 0)
		return -EINVAL;
	out->mode = (uint32_t)m;
	*why = "bad more";
	if (more && strcmp(more, "0") != 0 && strcmp(more, "1") != 0)
		return -EINVAL;
	out->more = more && more[0] == '1';
	return 0;
}

/* One <c/>, which must sort after prev (NULL: anything); a name sent as
 * base64 is decoded into out->names at *names, which counts the bytes of
 * names so far. */
static int
parse_child(xmpp_stanza_t *c, const char *prev, size_t *names,
    struct sync_digest *out, const char **why)
{
	struct sync_digest_child *ch = &out->c[out->n];
	const char *ns = xmpp_stanza_get_ns(c);
	char *buf = out->names + *names + out->n;
	size_t room = sizeof(out->names) - *names - out->n;

	*why = "not a child entry";
	if (strcmp(xmpp_stanza_get_name(c), "c") != 0 ||
	    (ns != NULL && strcmp(ns, NS_XS_META) != 0))
		return -EINVAL;
	ch->name = sync_name_attr_get(c, "n", buf, room);
	*why = "unsafe name";
	if (sync_digest_name_check(ch->name) < 0)
		return -EINVAL;
	*why = "names out of order";
	if (prev && strcmp(prev, ch->name) >= 0)
		return -EINVAL;
	*why = "too many bytes of names";
	if ((*names += strlen(ch->name)) > SYNC_DIGEST_PAGE_NAMES)
		return -EINVAL;
	*why = "bad child kind or digest";
	if (kind_parse(xmpp_stanza_get_attribute(c, "y"), 0, &ch->type) < 0 ||
	    sync_hex_parse(xmpp_stanza_get_attribute(c, "h"), ch->digest,
	    STORE_DIGEST_LEN) < 0)
		return -EINVAL;
	return 0;
}

int
sync_digest_parse(xmpp_stanza_t *el, const char *after,
    struct sync_digest *out, const char **why)
{
	const char *prev = after;
	size_t names = 0;
	int r;

	out->type = 0;
	out->mode = 0;
	out->more = 0;
	out->n = 0;
	if ((r = parse_self(el, out, why)) < 0)
		return r;
	for (xmpp_stanza_t *c = xmpp_stanza_get_children(el); c;
	    c = xmpp_stanza_get_next(c)) {
		if (!xmpp_stanza_is_tag(c))
			continue;
		*why = out->type == STORE_DIR ? "too many children" :
		    "children of something not a directory";
		if (out->type != STORE_DIR || out->n == SYNC_DIGEST_PAGE)
			goto bad;
		if ((r = parse_child(c, prev, &names, out, why)) < 0)
			goto bad;
		prev = out->c[out->n++].name;
	}
	*why = "more without children";
	if (out->more && out->n == 0)
		goto bad;
	return 0;
bad:
	out->n = 0;
	return -EINVAL;
}

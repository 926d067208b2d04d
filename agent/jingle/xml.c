/* jingle/xml.c -- see jingle_int.h */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/jingle/jingle_int.h"

static const char *const action_names[] = {
	[JA_SESSION_INITIATE] = "session-initiate",
	[JA_SESSION_ACCEPT] = "session-accept",
	[JA_SESSION_TERMINATE] = "session-terminate",
	[JA_SESSION_INFO] = "session-info",
	[JA_TRANSPORT_INFO] = "transport-info",
	[JA_TRANSPORT_REPLACE] = "transport-replace",
	[JA_TRANSPORT_ACCEPT] = "transport-accept",
	[JA_TRANSPORT_REJECT] = "transport-reject",
	[JA_CONTENT_ADD] = "content-add",
	[JA_CONTENT_ACCEPT] = "content-accept",
	[JA_CONTENT_MODIFY] = "content-modify",
	[JA_CONTENT_REJECT] = "content-reject",
	[JA_CONTENT_REMOVE] = "content-remove",
	[JA_DESCRIPTION_INFO] = "description-info",
	[JA_SECURITY_INFO] = "security-info",
};
#define NACTIONS (sizeof(action_names) / sizeof(action_names[0]))

static const char *const reason_names[JINGLE_R_COUNT] = {
	[JINGLE_R_SUCCESS] = "success",
	[JINGLE_R_DECLINE] = "decline",
	[JINGLE_R_BUSY] = "busy",
	[JINGLE_R_CANCEL] = "cancel",
	[JINGLE_R_CONNECTIVITY_ERROR] = "connectivity-error",
	[JINGLE_R_EXPIRED] = "expired",
	[JINGLE_R_FAILED_APPLICATION] = "failed-application",
	[JINGLE_R_FAILED_TRANSPORT] = "failed-transport",
	[JINGLE_R_GENERAL_ERROR] = "general-error",
	[JINGLE_R_GONE] = "gone",
	[JINGLE_R_INCOMPATIBLE_PARAMETERS] = "incompatible-parameters",
	[JINGLE_R_MEDIA_ERROR] = "media-error",
	[JINGLE_R_SECURITY_ERROR] = "security-error",
	[JINGLE_R_TIMEOUT] = "timeout",
	[JINGLE_R_UNSUPPORTED_APPLICATIONS] = "unsupported-applications",
	[JINGLE_R_UNSUPPORTED_TRANSPORTS] = "unsupported-transports",
};

const char *const *
jingle_features(void)
{
	static const char *const features[] = {
		JINGLE_NS, JINGLE_NS_FT, JINGLE_NS_S5B, JINGLE_NS_IBB, IBB_NS,
		JINGLE_NS_HASH, "urn:xmpp:hash-function-text-names:sha-256",
		NULL,
	};
	return features;
}

const char *
jingle_reason_name(enum jingle_reason r)
{
	if (r <= JINGLE_R_NONE || r >= JINGLE_R_COUNT)
		return "general-error";
	return reason_names[r];
}

enum jingle_reason
jingle_reason_parse(const char *name)
{
	for (int i = 1; i < JINGLE_R_COUNT; i++)
		if (strcmp(name, reason_names[i]) == 0)
			return (enum jingle_reason)i;
	return JINGLE_R_NONE;
}

enum jingle_action
jingle_xml_action_parse(const char *s)
{
	for (size_t i = 1; s != NULL && i < NACTIONS; i++)
		if (action_names[i] && strcmp(s, action_names[i]) == 0)
			return (enum jingle_action)i;
	return JA_NONE;
}

const char *
jingle_xml_action_name(enum jingle_action a)
{
	if ((size_t)a >= NACTIONS || action_names[a] == NULL)
		return "?";
	return action_names[a];
}

int
jingle_xml_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 20)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* ---- parsing ---- */

struct perr {
	char *buf;
	size_t len;
};

static int
fail(struct perr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
fail(struct perr *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->buf, e->len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Copies attribute `name` of el into dst (size max+1). Missing and
 * required, or too long: fails. Missing and optional: empty string. */
static int
attr_copy(struct perr *e, xmpp_stanza_t *el, const char *name, char *dst,
    size_t max, int required)
{
	const char *v = xmpp_stanza_get_attribute(el, name);

	dst[0] = '\0';
	if (v == NULL || v[0] == '\0') {
		if (required)
			return fail(e, "missing %s on <%s/>", name,
			    xmpp_stanza_get_name(el));
		return 0;
	}
	if (strlen(v) > max)
		return fail(e, "%s too long", name);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/* Copies the text of el into dst (size max+1); too long fails. */
static int
text_copy(struct perr *e, xmpp_stanza_t *el, char *dst, size_t max,
    const char *what)
{
	char *t = xmpp_stanza_get_text(el);
	int r = 0;

	dst[0] = '\0';
	if (t == NULL)
		return 0;
	if (strlen(t) > max)
		r = fail(e, "%s too long", what);
	else
		memcpy(dst, t, strlen(t) + 1);
	xmpp_free(xmpp_stanza_get_context(el), t);
	return r;
}

/* XEP-0082 date-time: YYYY-MM-DDThh:mm:ss[.sss](Z|+hh:mm). Returns 0 or
 * -EINVAL. */
static int
parse_date(const char *s, int64_t *out)
{
	struct tm tm;
	const char *p;
	long off = 0;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -EINVAL;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -EINVAL;
		off = (hh * 60L + mm) * 60 * (*p == '-' ? -1 : 1);
	} else if (*p != 'Z' && *p != '\0')
		return -EINVAL;
	*out = (int64_t)timegm(&tm) - off;
	return 0;
}

static int
parse_hash(struct perr *e, xmpp_stanza_t *h, struct jingle_file *f)
{
	const char *algo = xmpp_stanza_get_attribute(h, "algo");
	char b64[64];
	unsigned char *bin = NULL;
	size_t binlen = 0;
	xmpp_ctx_t *ctx = xmpp_stanza_get_context(h);
	int r;

	if (algo == NULL || strcmp(algo, "sha-256") != 0)
		return 0; /* other algorithms are ignored */
	if ((r = text_copy(e, h, b64, sizeof(b64) - 1, "hash")) < 0)
		return r;
	if (b64[0] == '\0') {
		/* XEP-0234 before 0.19: an empty <hash/> names the
		 * algorithm of a checksum that follows, as <hash-used/> */
		f->hash_later = 1;
		return 0;
	}
	xmpp_base64_decode_bin(ctx, b64, strlen(b64), &bin, &binlen);
	if (bin == NULL || binlen != 32) {
		if (bin)
			xmpp_free(ctx, bin);
		return fail(e, "bad sha-256 hash");
	}
	memcpy(f->sha256, bin, 32);
	f->has_hash = 1;
	xmpp_free(ctx, bin);
	return 0;
}

static int
parse_file(struct perr *e, xmpp_stanza_t *file, struct jingle_msg *m)
{
	xmpp_stanza_t *c;
	char num[32];
	int r;

	m->has_file = 1;
	m->file.name = m->name_buf;
	m->file.mtime = -1;
	for (c = xmpp_stanza_get_children(file); c; c = xmpp_stanza_get_next(c)) {
		const char *n = xmpp_stanza_get_name(c);
		if (!xmpp_stanza_is_tag(c) || n == NULL)
			continue;
		if (strcmp(n, "name") == 0) {
			if ((r = text_copy(e, c, m->name_buf, JINGLE_NAME_MAX,
			    "file name")) < 0)
				return r;
		} else if (strcmp(n, "size") == 0) {
			if ((r = text_copy(e, c, num, sizeof(num) - 1, "size")) < 0)
				return r;
			if (jingle_xml_u64(num, UINT64_MAX / 2, &m->file.size) < 0)
				return fail(e, "bad file size");
		} else if (strcmp(n, "date") == 0) {
			if ((r = text_copy(e, c, num, sizeof(num) - 1, "date")) < 0)
				return r;
			if (parse_date(num, &m->file.mtime) < 0)
				m->file.mtime = -1;
		} else if (strcmp(n, "hash") == 0) {
			if ((r = parse_hash(e, c, &m->file)) < 0)
				return r;
		} else if (strcmp(n, "hash-used") == 0) {
			const char *algo = xmpp_stanza_get_attribute(c, "algo");
			if (algo && strcmp(algo, "sha-256") == 0)
				m->file.hash_later = 1;
		} else if (strcmp(n, "range") == 0) {
			const char *o = xmpp_stanza_get_attribute(c, "offset");
			m->has_range = 1;
			m->range_offset = 0;
			if (o && jingle_xml_u64(o, UINT64_MAX / 2,
			    &m->range_offset) < 0)
				return fail(e, "bad range offset");
		}
	}
	return 0;
}

static int
parse_candidate(struct perr *e, xmpp_stanza_t *c, struct jingle_cand *k)
{
	char num[16], type[16];
	uint64_t v;
	int r;

	if ((r = attr_copy(e, c, "cid", k->cid, JX_CID_MAX, 1)) < 0 ||
	    (r = attr_copy(e, c, "host", k->host, JX_HOST_MAX, 1)) < 0 ||
	    (r = attr_copy(e, c, "jid", k->jid, JX_JID_MAX, 1)) < 0 ||
	    (r = attr_copy(e, c, "port", num, sizeof(num) - 1, 0)) < 0)
		return r;
	if (num[0] == '\0')
		v = 1080;
	else if (jingle_xml_u64(num, 65535, &v) < 0 || v == 0)
		return fail(e, "bad candidate port '%s'", num);
	k->port = (uint16_t)v;
	if ((r = attr_copy(e, c, "priority", num, sizeof(num) - 1, 1)) < 0)
		return r;
	if (jingle_xml_u64(num, UINT32_MAX, &v) < 0)
		return fail(e, "bad candidate priority");
	k->priority = (uint32_t)v;
	if ((r = attr_copy(e, c, "type", type, sizeof(type) - 1, 0)) < 0)
		return r;
	if (type[0] == '\0' || strcmp(type, "direct") == 0)
		k->type = JC_DIRECT;
	else if (strcmp(type, "proxy") == 0)
		k->type = JC_PROXY;
	else if (strcmp(type, "assisted") == 0)
		k->type = JC_ASSISTED;
	else if (strcmp(type, "tunnel") == 0)
		k->type = JC_TUNNEL;
	else
		return fail(e, "bad candidate type");
	return 0;
}

static int
parse_s5b(struct perr *e, xmpp_stanza_t *t, struct jingle_transport *tr)
{
	xmpp_stanza_t *c;
	const char *mode = xmpp_stanza_get_attribute(t, "mode");
	int r;

	tr->type = JT_S5B;
	if ((r = attr_copy(e, t, "sid", tr->sid, JX_SID_MAX, 1)) < 0 ||
	    (r = attr_copy(e, t, "dstaddr", tr->dstaddr, JX_CID_MAX, 0)) < 0)
		return r;
	if (mode && strcmp(mode, "tcp") != 0)
		return fail(e, "unsupported s5b mode");
	for (c = xmpp_stanza_get_children(t); c; c = xmpp_stanza_get_next(c)) {
		const char *n = xmpp_stanza_get_name(c);
		if (!xmpp_stanza_is_tag(c) || n == NULL)
			continue;
		if (strcmp(n, "candidate") == 0) {
			if (tr->ncands == JX_MAX_CANDS)
				return fail(e, "too many candidates");
			if ((r = parse_candidate(e, c,
			    &tr->cands[tr->ncands])) < 0)
				return r;
			tr->ncands++;
		} else if (strcmp(n, "candidate-used") == 0) {
			tr->has_used = 1;
			if ((r = attr_copy(e, c, "cid", tr->used_cid,
			    JX_CID_MAX, 1)) < 0)
				return r;
		} else if (strcmp(n, "activated") == 0) {
			tr->has_activated = 1;
			if ((r = attr_copy(e, c, "cid", tr->activated_cid,
			    JX_CID_MAX, 1)) < 0)
				return r;
		} else if (strcmp(n, "candidate-error") == 0)
			tr->cand_error = 1;
		else if (strcmp(n, "proxy-error") == 0)
			tr->proxy_error = 1;
	}
	return 0;
}

static int
parse_ibb(struct perr *e, xmpp_stanza_t *t, struct jingle_transport *tr)
{
	char num[16];
	uint64_t v;
	int r;

	tr->type = JT_IBB;
	if ((r = attr_copy(e, t, "sid", tr->sid, JX_SID_MAX, 1)) < 0 ||
	    (r = attr_copy(e, t, "block-size", num, sizeof(num) - 1, 0)) < 0)
		return r;
	tr->block_size = 4096;
	if (num[0] != '\0') {
		if (jingle_xml_u64(num, 65535, &v) < 0 || v == 0)
			return fail(e, "bad block-size");
		tr->block_size = (unsigned)v;
	}
	return 0;
}

static int
parse_content(struct perr *e, xmpp_stanza_t *c, struct jingle_msg *m)
{
	const char *creator = xmpp_stanza_get_attribute(c, "creator");
	const char *senders = xmpp_stanza_get_attribute(c, "senders");
	xmpp_stanza_t *d, *t, *f;
	int r;

	m->has_content = 1;
	m->content = c;
	if ((r = attr_copy(e, c, "name", m->content_name, JX_CID_MAX, 1)) < 0)
		return r;
	m->creator_initiator = creator == NULL || strcmp(creator, "initiator") == 0;
	if (creator && !m->creator_initiator && strcmp(creator, "responder") != 0)
		return fail(e, "bad content creator");
	m->senders = 3;
	if (senders) {
		if (strcmp(senders, "initiator") == 0) m->senders = 1;
		else if (strcmp(senders, "responder") == 0) m->senders = 2;
		else if (strcmp(senders, "none") == 0) m->senders = 0;
		else if (strcmp(senders, "both") != 0)
			return fail(e, "bad content senders");
	}
	d = xmpp_stanza_get_child_by_name_and_ns(c, "description", JINGLE_NS_FT);
	if (d && (f = xmpp_stanza_get_child_by_name(d, "file")) != NULL &&
	    (r = parse_file(e, f, m)) < 0)
		return r;
	if ((t = xmpp_stanza_get_child_by_name_and_ns(c, "transport",
	    JINGLE_NS_S5B)) != NULL)
		return parse_s5b(e, t, &m->tr);
	if ((t = xmpp_stanza_get_child_by_name_and_ns(c, "transport",
	    JINGLE_NS_IBB)) != NULL)
		return parse_ibb(e, t, &m->tr);
	if (xmpp_stanza_get_child_by_name(c, "transport") != NULL)
		m->tr.type = JT_OTHER;
	return 0;
}

static int
parse_reason(struct perr *e, xmpp_stanza_t *rs, struct jingle_msg *m)
{
	xmpp_stanza_t *c;

	m->reason = JINGLE_R_GENERAL_ERROR;
	for (c = xmpp_stanza_get_children(rs); c; c = xmpp_stanza_get_next(c)) {
		const char *n = xmpp_stanza_get_name(c);
		if (!xmpp_stanza_is_tag(c) || n == NULL)
			continue;
		if (strcmp(n, "text") == 0) {
			char *t = xmpp_stanza_get_text(c);
			if (t) {
				snprintf(m->reason_text, sizeof(m->reason_text),
				    "%s", t);
				xmpp_free(xmpp_stanza_get_context(c), t);
			}
		} else if (jingle_reason_parse(n) != JINGLE_R_NONE)
			m->reason = jingle_reason_parse(n);
	}
	(void)e;
	return 0;
}

/* XEP-0234 8.2: <checksum><file><hash/>...</file></checksum> in a
 * session-info. Only a SHA-256 of the whole file counts; hashes of a
 * range and other algorithms are passed over. */
static int
parse_checksum(struct perr *e, xmpp_stanza_t *ck, struct jingle_msg *m)
{
	xmpp_stanza_t *f = xmpp_stanza_get_child_by_name(ck, "file"), *c;
	struct jingle_file got;
	int r;

	m->has_checksum = 1;
	memset(&got, 0, sizeof(got));
	for (c = f ? xmpp_stanza_get_children(f) : NULL; c;
	    c = xmpp_stanza_get_next(c)) {
		const char *n = xmpp_stanza_get_name(c);
		if (!xmpp_stanza_is_tag(c) || n == NULL || strcmp(n, "hash") != 0)
			continue;
		if ((r = parse_hash(e, c, &got)) < 0)
			return r;
	}
	if (got.has_hash) {
		memcpy(m->checksum, got.sha256, 32);
		m->checksum_sha256 = 1;
	}
	return 0;
}

int
jingle_xml_parse(xmpp_stanza_t *iq, struct jingle_msg *m, char *err,
    size_t errlen)
{
	struct perr e = {err, errlen};
	xmpp_stanza_t *j, *c;
	int r, ncontent = 0;

	memset(m, 0, sizeof(*m));
	err[0] = '\0';
	j = xmpp_stanza_get_child_by_name_and_ns(iq, "jingle", JINGLE_NS);
	if (j == NULL)
		return fail(&e, "no <jingle/> element");
	const char *a = xmpp_stanza_get_attribute(j, "action");
	if (a == NULL)
		return fail(&e, "missing action");
	if ((r = attr_copy(&e, j, "sid", m->sid, JX_SID_MAX, 1)) < 0)
		return r;
	if ((m->action = jingle_xml_action_parse(a)) == JA_NONE) {
		fail(&e, "unknown action");
		return -ENOTSUP;
	}
	if ((r = attr_copy(&e, j, "initiator", m->initiator, JX_JID_MAX, 0)) < 0 ||
	    (r = attr_copy(&e, j, "responder", m->responder, JX_JID_MAX, 0)) < 0)
		return r;
	for (c = xmpp_stanza_get_children(j); c; c = xmpp_stanza_get_next(c)) {
		const char *n = xmpp_stanza_get_name(c);
		if (!xmpp_stanza_is_tag(c) || n == NULL)
			continue;
		if (strcmp(n, "content") == 0) {
			if (++ncontent > 1)
				return fail(&e, "more than one content");
			if ((r = parse_content(&e, c, m)) < 0)
				return r;
		} else if (strcmp(n, "reason") == 0) {
			if ((r = parse_reason(&e, c, m)) < 0)
				return r;
		} else if (strcmp(n, "received") == 0 &&
		    xmpp_stanza_get_ns(c) &&
		    strcmp(xmpp_stanza_get_ns(c), JINGLE_NS_FT) == 0)
			m->info_received = 1;
		else if (strcmp(n, "checksum") == 0 && xmpp_stanza_get_ns(c) &&
		    strcmp(xmpp_stanza_get_ns(c), JINGLE_NS_FT) == 0) {
			if ((r = parse_checksum(&e, c, m)) < 0)
				return r;
		} else
			m->info_unknown = 1;
	}
	return 0;
}

/* ---- building ---- */

xmpp_stanza_t *
jingle_xml_child(xmpp_stanza_t *parent, const char *name, const char *ns)
{
	xmpp_stanza_t *c = xmpp_stanza_new(xmpp_stanza_get_context(parent));

	if (c == NULL)
		return NULL;
	xmpp_stanza_set_name(c, name);
	if (ns)
		xmpp_stanza_set_ns(c, ns);
	xmpp_stanza_add_child_ex(parent, c, 0);
	return c;
}

int
jingle_xml_text(xmpp_stanza_t *el, const char *text)
{
	xmpp_stanza_t *t = xmpp_stanza_new(xmpp_stanza_get_context(el));

	if (t == NULL)
		return -ENOMEM;
	xmpp_stanza_set_text(t, text);
	xmpp_stanza_add_child_ex(el, t, 0);
	return 0;
}

static int
text_child(xmpp_stanza_t *parent, const char *name, const char *text)
{
	xmpp_stanza_t *c = jingle_xml_child(parent, name, NULL);

	return c ? jingle_xml_text(c, text) : -ENOMEM;
}

xmpp_stanza_t *
jingle_xml_iq(xmpp_ctx_t *ctx, const char *to, enum jingle_action a,
    const char *sid, const char *initiator, const char *responder,
    xmpp_stanza_t **jingle)
{
	char *id = xmpp_uuid_gen(ctx);
	xmpp_stanza_t *iq = xmpp_iq_new(ctx, "set", id ? id : "jingle");
	xmpp_stanza_t *j;

	if (id)
		xmpp_free(ctx, id);
	if (iq == NULL)
		return NULL;
	xmpp_stanza_set_to(iq, to);
	j = jingle_xml_child(iq, "jingle", JINGLE_NS);
	if (j == NULL) {
		xmpp_stanza_release(iq);
		return NULL;
	}
	xmpp_stanza_set_attribute(j, "action", jingle_xml_action_name(a));
	xmpp_stanza_set_attribute(j, "sid", sid);
	if (initiator)
		xmpp_stanza_set_attribute(j, "initiator", initiator);
	if (responder)
		xmpp_stanza_set_attribute(j, "responder", responder);
	*jingle = j;
	return iq;
}

xmpp_stanza_t *
jingle_xml_add_content(xmpp_stanza_t *jingle, const char *name)
{
	xmpp_stanza_t *c = jingle_xml_child(jingle, "content", NULL);

	if (c == NULL)
		return NULL;
	xmpp_stanza_set_attribute(c, "creator", "initiator");
	xmpp_stanza_set_attribute(c, "name", name);
	xmpp_stanza_set_attribute(c, "senders", "initiator");
	return c;
}

int
jingle_xml_add_file(xmpp_stanza_t *content, const struct jingle_file *f,
    const uint64_t *range)
{
	xmpp_ctx_t *ctx = xmpp_stanza_get_context(content);
	xmpp_stanza_t *d, *file, *h;
	char buf[64];

	d = jingle_xml_child(content, "description", JINGLE_NS_FT);
	if (d == NULL || (file = jingle_xml_child(d, "file", NULL)) == NULL)
		return -ENOMEM;
	/* XEP-0234 5: RECOMMENDED when offering; we never know better than
	 * the default, and an opaque offer carries ciphertext */
	if (text_child(file, "media-type", "application/octet-stream") < 0 ||
	    text_child(file, "name", f->name) < 0)
		return -ENOMEM;
	snprintf(buf, sizeof(buf), "%" PRIu64, f->size);
	if (text_child(file, "size", buf) < 0)
		return -ENOMEM;
	if (f->mtime >= 0) {
		time_t t = (time_t)f->mtime;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (text_child(file, "date", buf) < 0)
			return -ENOMEM;
	}
	if (f->has_hash) {
		char *b64 = xmpp_base64_encode(ctx, f->sha256, 32);
		if (b64 == NULL)
			return -ENOMEM;
		h = jingle_xml_child(file, "hash", JINGLE_NS_HASH);
		if (h)
			xmpp_stanza_set_attribute(h, "algo", "sha-256");
		int r = h ? jingle_xml_text(h, b64) : -ENOMEM;
		xmpp_free(ctx, b64);
		if (r < 0)
			return r;
	} else if (f->hash_later) {
		h = jingle_xml_child(file, "hash-used", JINGLE_NS_HASH);
		if (h == NULL)
			return -ENOMEM;
		xmpp_stanza_set_attribute(h, "algo", "sha-256");
	}
	if (range) {
		xmpp_stanza_t *rg = jingle_xml_child(file, "range", NULL);
		if (rg == NULL)
			return -ENOMEM;
		snprintf(buf, sizeof(buf), "%" PRIu64, *range);
		if (*range > 0)
			xmpp_stanza_set_attribute(rg, "offset", buf);
	}
	return 0;
}

int
jingle_xml_add_checksum(xmpp_stanza_t *jingle, const char *cname,
    const unsigned char sha256[32])
{
	xmpp_ctx_t *ctx = xmpp_stanza_get_context(jingle);
	xmpp_stanza_t *ck, *f, *h;
	char *b64;
	int r;

	ck = jingle_xml_child(jingle, "checksum", JINGLE_NS_FT);
	if (ck == NULL || (f = jingle_xml_child(ck, "file", NULL)) == NULL ||
	    (h = jingle_xml_child(f, "hash", JINGLE_NS_HASH)) == NULL)
		return -ENOMEM;
	xmpp_stanza_set_attribute(ck, "creator", "initiator");
	xmpp_stanza_set_attribute(ck, "name", cname);
	xmpp_stanza_set_attribute(h, "algo", "sha-256");
	if ((b64 = xmpp_base64_encode(ctx, sha256, 32)) == NULL)
		return -ENOMEM;
	r = jingle_xml_text(h, b64);
	xmpp_free(ctx, b64);
	return r;
}

static int
add_candidate(xmpp_stanza_t *t, const struct jingle_cand *k)
{
	xmpp_stanza_t *c = jingle_xml_child(t, "candidate", NULL);
	char buf[16];

	if (c == NULL)
		return -ENOMEM;
	xmpp_stanza_set_attribute(c, "cid", k->cid);
	xmpp_stanza_set_attribute(c, "host", k->host);
	xmpp_stanza_set_attribute(c, "jid", k->jid);
	snprintf(buf, sizeof(buf), "%u", (unsigned)k->port);
	xmpp_stanza_set_attribute(c, "port", buf);
	snprintf(buf, sizeof(buf), "%" PRIu32, k->priority);
	xmpp_stanza_set_attribute(c, "priority", buf);
	xmpp_stanza_set_attribute(c, "type",
	    k->type == JC_PROXY ? "proxy" : "direct");
	return 0;
}

int
jingle_xml_add_transport(xmpp_stanza_t *content,
    const struct jingle_transport *tr)
{
	xmpp_stanza_t *t, *c;
	char buf[16];

	if (tr->type == JT_IBB) {
		t = jingle_xml_child(content, "transport", JINGLE_NS_IBB);
		if (t == NULL)
			return -ENOMEM;
		snprintf(buf, sizeof(buf), "%u", tr->block_size);
		xmpp_stanza_set_attribute(t, "block-size", buf);
		xmpp_stanza_set_attribute(t, "sid", tr->sid);
		return 0;
	}
	t = jingle_xml_child(content, "transport", JINGLE_NS_S5B);
	if (t == NULL)
		return -ENOMEM;
	xmpp_stanza_set_attribute(t, "sid", tr->sid);
	if (tr->ncands > 0 || tr->dstaddr[0]) {
		xmpp_stanza_set_attribute(t, "mode", "tcp");
		if (tr->dstaddr[0])
			xmpp_stanza_set_attribute(t, "dstaddr", tr->dstaddr);
	}
	for (unsigned i = 0; i < tr->ncands; i++)
		if (add_candidate(t, &tr->cands[i]) < 0)
			return -ENOMEM;
	c = NULL;
	if (tr->has_used) {
		if ((c = jingle_xml_child(t, "candidate-used", NULL)) == NULL)
			return -ENOMEM;
		xmpp_stanza_set_attribute(c, "cid", tr->used_cid);
	} else if (tr->has_activated) {
		if ((c = jingle_xml_child(t, "activated", NULL)) == NULL)
			return -ENOMEM;
		xmpp_stanza_set_attribute(c, "cid", tr->activated_cid);
	} else if (tr->cand_error) {
		if (jingle_xml_child(t, "candidate-error", NULL) == NULL)
			return -ENOMEM;
	} else if (tr->proxy_error) {
		if (jingle_xml_child(t, "proxy-error", NULL) == NULL)
			return -ENOMEM;
	}
	return 0;
}

int
jingle_xml_add_reason(xmpp_stanza_t *jingle, enum jingle_reason r,
    const char *text)
{
	xmpp_stanza_t *rs = jingle_xml_child(jingle, "reason", NULL);

	if (rs == NULL || jingle_xml_child(rs, jingle_reason_name(r), NULL) == NULL)
		return -ENOMEM;
	if (text && text[0])
		return text_child(rs, "text", text);
	return 0;
}

xmpp_stanza_t *
jingle_xml_error(xmpp_stanza_t *iq, const char *type, const char *cond,
    const char *jcond, const char *text)
{
	xmpp_ctx_t *ctx = xmpp_stanza_get_context(iq);
	xmpp_stanza_t *r = xmpp_stanza_new(ctx), *e, *t;
	const char *id = xmpp_stanza_get_id(iq);
	const char *from = xmpp_stanza_get_from(iq);

	if (r == NULL)
		return NULL;
	xmpp_stanza_set_name(r, "iq");
	xmpp_stanza_set_type(r, "error");
	if (id)
		xmpp_stanza_set_id(r, id);
	if (from)
		xmpp_stanza_set_to(r, from);
	if ((e = jingle_xml_child(r, "error", NULL)) == NULL)
		goto nomem;
	xmpp_stanza_set_type(e, type);
	if (jingle_xml_child(e, cond, "urn:ietf:params:xml:ns:xmpp-stanzas") == NULL)
		goto nomem;
	if (jcond && jingle_xml_child(e, jcond, JINGLE_NS_ERR) == NULL)
		goto nomem;
	if (text) {
		t = jingle_xml_child(e, "text", "urn:ietf:params:xml:ns:xmpp-stanzas");
		if (t == NULL || jingle_xml_text(t, text) < 0)
			goto nomem;
	}
	return r;
nomem:
	xmpp_stanza_release(r);
	return NULL;
}

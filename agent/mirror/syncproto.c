/* mirror/syncproto.c -- see mirror_int.h */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gcrypt.h>

#include "agent/crypto/crypto.h"
#include "agent/xmpp/xmpp.h"
#include "agent/mirror/mirror_int.h"
#include "sync/path.h"
#include "sync/plan.h"

static const char *const kinds[] = {
	[STORE_OP_PUT] = "put", [STORE_OP_DELETE] = "delete",
	[STORE_OP_MKDIR] = "mkdir", [STORE_OP_RMDIR] = "rmdir",
	[STORE_OP_RENAME] = "rename", [STORE_OP_META] = "meta",
	[STORE_OP_SYMLINK] = "symlink",
};

const char *
sync_kind_name(enum store_op_kind k)
{
	if ((size_t)k < sizeof(kinds) / sizeof(kinds[0]) && kinds[k])
		return kinds[k];
	return "?";
}

/* Exactly 2 * n hex digits (n <= 32) into out, which is left alone on
 * failure. Returns 0 or -EINVAL. */
static int
unhex(const char *s, uint8_t *out, size_t n)
{
	uint8_t b[32];

	if (s == NULL || n > sizeof(b) || crypto_hex_decode(s, b, n) < 0)
		return -EINVAL;
	memcpy(out, b, n);
	return 0;
}

int
sync_text_safe(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		uint32_t cp;
		int n;

		if (*p < 0x80) {
			if (*p < 0x20 || *p == 0x7f)
				return 0;
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0)
			cp = *p & 0x1f, n = 1;
		else if ((*p & 0xf0) == 0xe0)
			cp = *p & 0x0f, n = 2;
		else if ((*p & 0xf8) == 0xf0)
			cp = *p & 0x07, n = 3;
		else
			return 0;
		for (int i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		/* overlong forms, surrogates, beyond Unicode, non-characters */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
			return 0;
		p += n + 1;
	}
	return 1;
}

size_t
sync_op_wire_max(const char *path, const char *from, const char *target)
{
	/* a name goes as text, each of & < > " ' escaped (at most 6 bytes
	 * for 1), or as base64 of its bytes, 4 * (n + 2) / 3; the attribute
	 * takes 8 more, and the rest of an <op/> fits in 200 */
	const char *s[] = {path, from, target};
	size_t n = 200;

	for (size_t i = 0; i < 3; i++) {
		size_t len;
		if (s[i] == NULL)
			continue;
		len = strlen(s[i]);
		if (sync_text_safe(s[i])) {
			n += len + 8;
			for (const char *c = s[i]; *c; c++)
				if (strchr("&<>\"'", *c))
					n += 5;
		} else
			n += 4 * ((len + 2) / 3) + 8;
	}
	return n;
}

size_t
sync_remove_wire_max(const char *path)
{
	/* <op k='rmdir' p='' q='19 digits'/> and the name: 64 for the rest */
	return sync_op_wire_max(path, NULL, NULL) - 200 + 64;
}

void
sync_wire_name(const char *path, char *out)
{
	size_t n = strlen(path);
	uint8_t h[32];

	if (n < SYNC_WIRE_NAME_MAX && sync_text_safe(path) &&
	    strchr(path, '\\') == NULL &&
	    strncmp(path, SYNC_WIRE_PREFIX, strlen(SYNC_WIRE_PREFIX)) != 0) {
		memcpy(out, path, n + 1);
		return;
	}
	gcry_md_hash_buffer(GCRY_MD_SHA256, h, path, n);
	memcpy(out, SYNC_WIRE_PREFIX, strlen(SYNC_WIRE_PREFIX));
	crypto_hex_encode(h, 16, out + strlen(SYNC_WIRE_PREFIX));
}

void
sync_opaque_name(char out[SYNC_OPAQUE_SIZE])
{
	uint8_t r[16];

	/* a name need only be unguessable and unique: the nonce generator
	 * (libgcrypt's strong one reseeds per call and took 9 % of the
	 * master's time at a hundred puts a batch) */
	gcry_create_nonce(r, sizeof(r));
	memcpy(out, SYNC_OPAQUE_PREFIX, sizeof(SYNC_OPAQUE_PREFIX) - 1);
	crypto_hex_encode(r, sizeof(r), out + sizeof(SYNC_OPAQUE_PREFIX) - 1);
}

int
sync_opaque_check(const char *s)
{
	size_t p = sizeof(SYNC_OPAQUE_PREFIX) - 1;

	if (s == NULL || strlen(s) != SYNC_OPAQUE_SIZE - 1 ||
	    strncmp(s, SYNC_OPAQUE_PREFIX, p) != 0)
		return -EINVAL;
	for (s += p; *s; s++)
		if (!isdigit((unsigned char)*s) && (*s < 'a' || *s > 'f'))
			return -EINVAL;
	return 0;
}

int
sync_name_attr_set(xmpp_stanza_t *el, const char *name, const char *s)
{
	char attr[8], *b64;
	size_t cap;
	int r;

	if (sync_text_safe(s))
		return xmpp_stanza_set_attribute(el, name, s) == XMPP_EOK ? 0 : -ENOMEM;
	cap = 4 * (strlen(s) + 2) / 3 + 1;
	if ((b64 = malloc(cap)) == NULL)
		return -ENOMEM;
	snprintf(attr, sizeof(attr), "%s64", name);
	r = crypto_base64_encode(s, strlen(s), b64, cap) < 0 ? -ENOMEM :
	    xmpp_stanza_set_attribute(el, attr, b64) == XMPP_EOK ? 0 : -ENOMEM;
	free(b64);
	return r;
}

const char *
sync_name_attr_get(xmpp_stanza_t *el, const char *name, char *buf, size_t cap)
{
	const char *s = xmpp_stanza_get_attribute(el, name), *b;
	char attr[8];
	size_t n = 0;

	snprintf(attr, sizeof(attr), "%s64", name);
	b = xmpp_stanza_get_attribute(el, attr);
	if (s != NULL || b == NULL)
		return b == NULL ? s : NULL;
	if (crypto_base64_decode(b, (uint8_t *)buf, cap - 1, &n) < 0 ||
	    memchr(buf, '\0', n) != NULL)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static void
set_num(xmpp_stanza_t *el, const char *name, const char *fmt, long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), fmt, v);
	xmpp_stanza_set_attribute(el, name, buf);
}

int
sync_op_build(xmpp_ctx_t *ctx, xmpp_stanza_t *parent, const struct sync_op *o)
{
	xmpp_stanza_t *el = stanza_add_child(ctx, parent, "op", NULL);
	char h[65];

	if (el == NULL)
		return -ENOMEM;
	xmpp_stanza_set_attribute(el, "k", sync_kind_name(o->kind));
	if (sync_name_attr_set(el, "p", o->path) < 0 ||
	    (o->from && sync_name_attr_set(el, "f", o->from) < 0) ||
	    (o->target && sync_name_attr_set(el, "l", o->target) < 0))
		return -ENOMEM;
	if (o->kind == STORE_OP_PUT)
		set_num(el, "s", "%lld", (long long)o->size);
	if (o->kind == STORE_OP_PUT && o->wire)
		xmpp_stanza_set_attribute(el, "w", o->wire);
	if (o->kind == STORE_OP_PUT && o->content64)
		xmpp_stanza_set_attribute(el, "c", o->content64);
	if (o->kind == STORE_OP_PUT && o->bundled && o->content64 == NULL)
		xmpp_stanza_set_attribute(el, "g", "1");
	if (o->kind == STORE_OP_PUT && o->delta)
		xmpp_stanza_set_attribute(el, "x", "1");
	if (o->has_sha256) {
		crypto_hex_encode(o->sha256, 32, h);
		xmpp_stanza_set_attribute(el, "h", h);
	}
	if (o->kind != STORE_OP_DELETE && o->kind != STORE_OP_RMDIR) {
		set_num(el, "m", "%llo", (long long)o->mode);
		set_num(el, "t", "%lld", (long long)o->mtime_ns);
	}
	set_num(el, "q", "%lld", (long long)o->seq);
	return 0;
}

static int
num(const char *s, int base, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	/* plain digits, a '-' where negatives are allowed: strtoll alone
	 * would also take blanks and '+' */
	if (s == NULL || !(isdigit((unsigned char)s[0]) ||
	    (s[0] == '-' && lo < 0 && isdigit((unsigned char)s[1]))))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, base);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

int
sync_op_parse(xmpp_stanza_t *el, struct sync_op *o, const char **why)
{
	const char *k = xmpp_stanza_get_attribute(el, "k"), *ns, *x;
	long long v;

	memset(o, 0, sizeof(*o));
	*why = "unknown operation";
	for (size_t i = 1; k && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i] && strcmp(k, kinds[i]) == 0)
			o->kind = (enum store_op_kind)i;
	ns = xmpp_stanza_get_ns(el);
	if (o->kind == 0 || strcmp(xmpp_stanza_get_name(el), "op") != 0 ||
	    (ns != NULL && strcmp(ns, NS_XS_META) != 0))
		return -EINVAL;
	o->path = sync_name_attr_get(el, "p", o->dec[0], sizeof(o->dec[0]));
	*why = "unsafe or missing path";
	if (path_check_synced(o->path) < 0)
		return -EINVAL;
	o->from = sync_name_attr_get(el, "f", o->dec[1], sizeof(o->dec[1]));
	if (o->kind == STORE_OP_RENAME && path_check_synced(o->from) < 0)
		return -EINVAL;
	o->target = sync_name_attr_get(el, "l", o->dec[2], sizeof(o->dec[2]));
	*why = "symlink without a sane target";
	if (o->kind == STORE_OP_SYMLINK && (o->target == NULL ||
	    o->target[0] == '\0' || strlen(o->target) >= 4096))
		return -EINVAL;
	*why = "bad size, mode, mtime or checksum";
	if (o->kind == STORE_OP_PUT) {
		if (num(xmpp_stanza_get_attribute(el, "s"), 10, 0, INT64_MAX, &v) < 0 ||
		    unhex(xmpp_stanza_get_attribute(el, "h"), o->sha256, 32) < 0)
			return -EINVAL;
		o->size = (uint64_t)v;
		o->has_sha256 = 1;
		o->wire = xmpp_stanza_get_attribute(el, "w");
		*why = "bad transfer name";
		if (o->wire && sync_opaque_check(o->wire) < 0)
			return -EINVAL;
		/* checked for size here, decoded (and verified against the
		 * checksum) where it is installed */
		o->content64 = xmpp_stanza_get_attribute(el, "c");
		*why = "bad inline content";
		if (o->content64 && (o->size > SYNC_INLINE_MAX ||
		    strlen(o->content64) != 4 * ((o->size + 2) / 3)))
			return -EINVAL;
		/* may travel in the batch's bundle; anything else than "1"
		 * is an old or odd master's: the put travels alone */
		{
			const char *b = xmpp_stanza_get_attribute(el, "g");
			o->bundled = b && strcmp(b, "1") == 0 &&
			    o->content64 == NULL && o->size <= SYNC_BUNDLE_MEMBER_MAX;
		}
		/* the master can send it as a delta: anything else is no */
		x = xmpp_stanza_get_attribute(el, "x");
		o->delta = x && strcmp(x, "1") == 0;
		*why = "bad size, mode, mtime or checksum";
	}
	if (o->kind != STORE_OP_DELETE && o->kind != STORE_OP_RMDIR) {
		if (num(xmpp_stanza_get_attribute(el, "m"), 8, 0, 07777, &v) < 0)
			return -EINVAL;
		o->mode = (uint32_t)v;
		if (num(xmpp_stanza_get_attribute(el, "t"), 10, INT64_MIN, INT64_MAX, &v) < 0)
			return -EINVAL;
		o->mtime_ns = v;
	}
	if (num(xmpp_stanza_get_attribute(el, "q"), 10, 0, INT64_MAX, &v) == 0)
		o->seq = v;
	return 0;
}

int
sync_entry_build(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
    const struct store_file *f)
{
	xmpp_stanza_t *el = stanza_add_child(ctx, parent, "e", NULL);
	char h[65];

	if (el == NULL)
		return -ENOMEM;
	if (sync_name_attr_set(el, "p", f->path) < 0 ||
	    (f->target && sync_name_attr_set(el, "l", f->target) < 0))
		return -ENOMEM;
	xmpp_stanza_set_attribute(el, "y", f->type == STORE_DIR ? "d" :
	    f->type == STORE_SYMLINK ? "l" : "f");
	set_num(el, "s", "%lld", (long long)f->size);
	set_num(el, "m", "%llo", (long long)f->mode);
	set_num(el, "t", "%lld", (long long)f->mtime_ns);
	if (f->has_sha256) {
		crypto_hex_encode(f->sha256, 32, h);
		xmpp_stanza_set_attribute(el, "h", h);
	}
	return 0;
}

int
sync_entry_parse(xmpp_stanza_t *el, struct plan_entry *out)
{
	char pbuf[4096], lbuf[4096];
	const char *p = sync_name_attr_get(el, "p", pbuf, sizeof(pbuf));
	const char *y = xmpp_stanza_get_attribute(el, "y");
	const char *l = sync_name_attr_get(el, "l", lbuf, sizeof(lbuf));
	long long s, m, t;

	memset(out, 0, sizeof(*out));
	if (path_check_synced(p) < 0 || y == NULL || strlen(y) != 1 ||
	    (l != NULL && strlen(l) >= sizeof(lbuf)) ||
	    strchr("fdl", y[0]) == NULL ||
	    num(xmpp_stanza_get_attribute(el, "s"), 10, 0, INT64_MAX, &s) < 0 ||
	    num(xmpp_stanza_get_attribute(el, "m"), 8, 0, 07777, &m) < 0 ||
	    num(xmpp_stanza_get_attribute(el, "t"), 10, INT64_MIN, INT64_MAX, &t) < 0)
		return -EINVAL;
	out->type = y[0] == 'd' ? STORE_DIR : y[0] == 'l' ? STORE_SYMLINK : STORE_FILE;
	out->size = s;
	out->mode = (uint32_t)m;
	out->mtime_ns = t;
	if (unhex(xmpp_stanza_get_attribute(el, "h"), out->sha256, 32) == 0)
		out->has_sha256 = 1;
	if ((out->path = strdup(p)) == NULL || (l && (out->target = strdup(l)) == NULL)) {
		free(out->path);
		out->path = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* The helpers above, for the other parsers of this protocol
 * (digestproto.c). */
int
sync_hex_parse(const char *s, uint8_t *out, size_t n)
{
	return unhex(s, out, n);
}

int
sync_num_parse(const char *s, int base, long long lo, long long hi,
    long long *out)
{
	return num(s, base, lo, hi, out);
}

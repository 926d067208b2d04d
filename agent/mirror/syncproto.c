/* mirror/syncproto.c -- see mirror_int.h */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void
hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 2 * n hex digits (n <= 32) into out, which is left alone on
 * failure. Returns 0 or -EINVAL. */
static int
unhex(const char *s, uint8_t *out, size_t n)
{
	uint8_t b[32];

	if (s == NULL || n > sizeof(b) || strlen(s) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(out, b, n);
	return 0;
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
	xmpp_stanza_set_attribute(el, "p", o->path);
	if (o->from)
		xmpp_stanza_set_attribute(el, "f", o->from);
	if (o->target)
		xmpp_stanza_set_attribute(el, "l", o->target);
	if (o->kind == STORE_OP_PUT)
		set_num(el, "s", "%lld", (long long)o->size);
	if (o->has_sha256) {
		hex(o->sha256, 32, h);
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

	if (s == NULL || *s == '\0')
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
	const char *k = xmpp_stanza_get_attribute(el, "k");
	long long v;

	memset(o, 0, sizeof(*o));
	*why = "unknown operation";
	for (size_t i = 1; k && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i] && strcmp(k, kinds[i]) == 0)
			o->kind = (enum store_op_kind)i;
	if (o->kind == 0 || strcmp(xmpp_stanza_get_name(el), "op") != 0)
		return -EINVAL;
	o->path = xmpp_stanza_get_attribute(el, "p");
	*why = "unsafe or missing path";
	if (path_check_synced(o->path) < 0)
		return -EINVAL;
	o->from = xmpp_stanza_get_attribute(el, "f");
	if (o->kind == STORE_OP_RENAME && path_check_synced(o->from) < 0)
		return -EINVAL;
	o->target = xmpp_stanza_get_attribute(el, "l");
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
	xmpp_stanza_set_attribute(el, "p", f->path);
	xmpp_stanza_set_attribute(el, "y", f->type == STORE_DIR ? "d" :
	    f->type == STORE_SYMLINK ? "l" : "f");
	set_num(el, "s", "%lld", (long long)f->size);
	set_num(el, "m", "%llo", (long long)f->mode);
	set_num(el, "t", "%lld", (long long)f->mtime_ns);
	if (f->has_sha256) {
		hex(f->sha256, 32, h);
		xmpp_stanza_set_attribute(el, "h", h);
	}
	if (f->target)
		xmpp_stanza_set_attribute(el, "l", f->target);
	return 0;
}

int
sync_entry_parse(xmpp_stanza_t *el, struct plan_entry *out)
{
	const char *p = xmpp_stanza_get_attribute(el, "p");
	const char *y = xmpp_stanza_get_attribute(el, "y");
	const char *l = xmpp_stanza_get_attribute(el, "l");
	long long s, m, t;

	memset(out, 0, sizeof(*out));
	if (path_check_synced(p) < 0 || y == NULL || strlen(y) != 1 ||
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

/* fuzz_syncproto.c -- the metadata protocol parser (agent/mirror/
 * syncproto.c) on any bytes: they are parsed as one XML stanza, and every
 * element near the top (the IQ, its <sync/> or <manifest/>, their
 * children) goes through sync_op_parse() and sync_entry_parse(), as the
 * slave and the master do with what a peer sends.
 *
 * What is accepted must survive a round trip: built again with
 * sync_op_build() / sync_entry_build() and parsed once more, it gives the
 * same struct.
 */
#include "agent/mirror/mirror_int.h"
#include "agent/xmpp/xmpp.h"
#include "sync/plan.h"
#include "tests/fuzz/fuzz.h"

#define DEPTH 3  /* iq > sync > op */

static void
op_round_trip(xmpp_ctx_t *ctx, const struct sync_op *a)
{
	xmpp_stanza_t *parent = xmpp_stanza_new(ctx), *el;
	struct sync_op b;
	const char *why;

	fuzz_check(parent != NULL);
	xmpp_stanza_set_name(parent, "sync");
	fuzz_check(sync_op_build(ctx, parent, a) == 0);
	el = xmpp_stanza_get_children(parent);
	fuzz_check(sync_op_parse(el, &b, &why) == 0);
	fuzz_check(a->kind == b.kind && fuzz_streq(a->path, b.path) &&
	    fuzz_streq(a->from, b.from) && fuzz_streq(a->target, b.target) &&
	    fuzz_streq(a->wire, b.wire));
	fuzz_check(a->size == b.size && a->has_sha256 == b.has_sha256 &&
	    memcmp(a->sha256, b.sha256, 32) == 0 && a->mode == b.mode &&
	    a->mtime_ns == b.mtime_ns && a->seq == b.seq &&
	    a->delta == b.delta);
	xmpp_stanza_release(parent);
}

static void
entry_round_trip(xmpp_ctx_t *ctx, const struct plan_entry *a)
{
	xmpp_stanza_t *parent = xmpp_stanza_new(ctx);
	struct store_file f = {.path = a->path, .type = a->type,
	    .size = a->size, .mtime_ns = a->mtime_ns, .mode = a->mode,
	    .has_sha256 = a->has_sha256, .target = a->target};
	struct plan_entry b;

	fuzz_check(parent != NULL);
	memcpy(f.sha256, a->sha256, 32);
	xmpp_stanza_set_name(parent, "manifest");
	fuzz_check(sync_entry_build(ctx, parent, &f) == 0);
	fuzz_check(sync_entry_parse(xmpp_stanza_get_children(parent), &b) == 0);
	fuzz_check(fuzz_streq(a->path, b.path) && a->type == b.type &&
	    a->size == b.size && a->mtime_ns == b.mtime_ns &&
	    a->mode == b.mode && a->has_sha256 == b.has_sha256 &&
	    fuzz_streq(a->target, b.target));
	if (a->has_sha256)  /* else the bytes mean nothing */
		fuzz_check(memcmp(a->sha256, b.sha256, 32) == 0);
	plan_entries_clear(&b, 1);
	xmpp_stanza_release(parent);
}

/* An accepted checksum was written as 64 hex digits (protocol.md: "h is
 * a lowercase hex SHA-256"; upper case is tolerated). */
static void
check_hex(xmpp_stanza_t *el, int has_sha256)
{
	const char *h = xmpp_stanza_get_attribute(el, "h");

	if (!has_sha256)
		return;
	fuzz_check(h != NULL && strlen(h) == 64);
	fuzz_check(strspn(h, "0123456789abcdefABCDEF") == 64);
}

static void
visit(xmpp_ctx_t *ctx, xmpp_stanza_t *el, int depth)
{
	struct sync_op o;
	struct plan_entry e;
	const char *why;

	if (sync_op_parse(el, &o, &why) == 0) {
		check_hex(el, o.has_sha256);
		op_round_trip(ctx, &o);
	} else
		fuzz_check(why != NULL);
	if (sync_entry_parse(el, &e) == 0) {
		check_hex(el, e.has_sha256);
		entry_round_trip(ctx, &e);
		plan_entries_clear(&e, 1);
	}
	if (depth == DEPTH)
		return;
	for (xmpp_stanza_t *c = xmpp_stanza_get_children(el); c;
	    c = xmpp_stanza_get_next(c))
		if (xmpp_stanza_is_tag(c))
			visit(ctx, c, depth + 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
	xmpp_stanza_t *st;

	if (ctx == NULL)
		return 0;
	if ((st = fuzz_stanza(ctx, data, size)) != NULL) {
		visit(ctx, st, 1);
		xmpp_stanza_release(st);
	}
	xmpp_ctx_free(ctx);
	return 0;
}

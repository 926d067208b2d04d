/* fuzz_digest.c -- the index digest exchange's parsers (agent/mirror/
 * digestproto.c) on any bytes: they are parsed as one XML stanza, and the
 * top element and its children go through sync_digest_parse() (as the
 * master reads a slave's answer) and sync_digest_request_parse() (as the
 * slave reads the master's request). Names may come as base64 (n64).
 *
 * What is accepted must keep the bounds (at most SYNC_DIGEST_PAGE
 * children, SYNC_DIGEST_PAGE_NAMES bytes of names, names one checked
 * component in strictly increasing order) and survive a round trip:
 * built again with sync_digest_answer_set() / sync_digest_child_build()
 * and parsed once more, it gives the same page.
 */
#include "agent/mirror/mirror_int.h"
#include "agent/xmpp/xmpp.h"
#include "tests/fuzz/fuzz.h"

static void
check_page(const struct sync_digest *d, const char *after)
{
	size_t names = 0;

	fuzz_check(d->n <= SYNC_DIGEST_PAGE);
	fuzz_check(d->n == 0 || d->type == STORE_DIR);
	fuzz_check(!d->more || d->n > 0);
	for (size_t i = 0; i < d->n; i++) {
		fuzz_check(sync_digest_name_check(d->c[i].name) == 0);
		fuzz_check(strchr(d->c[i].name, '/') == NULL);
		if (i > 0)
			fuzz_check(strcmp(d->c[i - 1].name, d->c[i].name) < 0);
		else if (after)
			fuzz_check(strcmp(after, d->c[0].name) < 0);
		names += strlen(d->c[i].name);
	}
	fuzz_check(names <= SYNC_DIGEST_PAGE_NAMES);
}

static void
round_trip(xmpp_ctx_t *ctx, const struct sync_digest *a)
{
	xmpp_stanza_t *el = xmpp_stanza_new(ctx);
	struct store_digest d = {.type = a->type, .mode = a->mode};
	struct sync_digest *b = malloc(sizeof(*b));
	const char *why;

	fuzz_check(el != NULL && b != NULL);
	memcpy(d.digest, a->digest, sizeof(d.digest));
	xmpp_stanza_set_name(el, "digest");
	for (size_t i = 0; i < a->n; i++) {
		struct store_digest_child c = {.name = a->c[i].name,
		    .type = a->c[i].type};
		memcpy(c.digest, a->c[i].digest, sizeof(c.digest));
		fuzz_check(sync_digest_child_build(ctx, el, &c) == 0);
	}
	fuzz_check(sync_digest_answer_set(el, NULL, &d, a->more) == 0);
	fuzz_check(sync_digest_parse(el, NULL, b, &why) == 0);
	fuzz_check(a->type == b->type && a->n == b->n && a->more == b->more);
	if (a->type != 0)
		fuzz_check(memcmp(a->digest, b->digest, sizeof(a->digest)) == 0);
	if (a->type == STORE_DIR)
		fuzz_check(a->mode == b->mode);
	for (size_t i = 0; i < a->n; i++)
		fuzz_check(strcmp(a->c[i].name, b->c[i].name) == 0 &&
		    a->c[i].type == b->c[i].type &&
		    memcmp(a->c[i].digest, b->c[i].digest, 32) == 0);
	free(b);
	xmpp_stanza_release(el);
}

static void
visit(xmpp_ctx_t *ctx, xmpp_stanza_t *el, struct sync_digest *d)
{
	struct sync_digest_request *rq = malloc(sizeof(*rq));
	const char *why;

	fuzz_check(rq != NULL);
	if (sync_digest_request_parse(el, rq, &why) == 0) {
		fuzz_check(rq->after == NULL ||
		    sync_digest_name_check(rq->after) == 0);
		if (sync_digest_parse(el, rq->after, d, &why) == 0)
			check_page(d, rq->after);
	}
	free(rq);
	if (sync_digest_parse(el, NULL, d, &why) == 0) {
		check_page(d, NULL);
		round_trip(ctx, d);
	} else
		fuzz_check(why != NULL && d->n == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
	struct sync_digest *d = malloc(sizeof(*d));
	xmpp_stanza_t *st;

	if (ctx == NULL || d == NULL) {
		free(d);
		if (ctx)
			xmpp_ctx_free(ctx);
		return 0;
	}
	if ((st = fuzz_stanza(ctx, data, size)) != NULL) {
		visit(ctx, st, d);
		for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c;
		    c = xmpp_stanza_get_next(c))
			if (xmpp_stanza_is_tag(c))
				visit(ctx, c, d);
		xmpp_stanza_release(st);
	}
	free(d);
	xmpp_ctx_free(ctx);
	return 0;
}

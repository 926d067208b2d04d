/* fuzz_jingle_xml.c -- the Jingle XML layer (agent/jingle/xml.c) on any
 * bytes: they are parsed as one XML stanza and handed to
 * jingle_xml_parse(), as the engine does with every <iq type='set'/>
 * carrying <jingle/>.
 *
 * What is accepted must survive a round trip: built again with the
 * jingle_xml_ builders and parsed once more, it gives the same message
 * (as far as the builders can say it: they write creator and senders as
 * 'initiator', candidate types as direct or proxy, one s5b report, and no
 * date before 1970 or after 9999).
 */
#include <errno.h>

#include "agent/jingle/jingle_int.h"
#include "tests/fuzz/fuzz.h"

#define YEAR_10000 253402300800LL  /* the first date strftime %Y breaks */

static void
same_file(const struct jingle_msg *a, const struct jingle_msg *b)
{
	fuzz_check(a->has_file == b->has_file);
	if (!a->has_file)
		return;
	fuzz_check(strcmp(a->name_buf, b->name_buf) == 0 &&
	    a->file.size == b->file.size &&
	    a->file.has_hash == b->file.has_hash &&
	    memcmp(a->file.sha256, b->file.sha256, 32) == 0);
	if (a->file.mtime >= 0 && a->file.mtime < YEAR_10000)
		fuzz_check(a->file.mtime == b->file.mtime);
	fuzz_check(a->has_range == b->has_range &&
	    a->range_offset == b->range_offset);
}

static void
same_cand(const struct jingle_cand *a, const struct jingle_cand *b)
{
	fuzz_check(strcmp(a->cid, b->cid) == 0 &&
	    strcmp(a->host, b->host) == 0 && strcmp(a->jid, b->jid) == 0 &&
	    a->port == b->port && a->priority == b->priority);
	if (a->type == JC_DIRECT || a->type == JC_PROXY)
		fuzz_check(a->type == b->type);
}

static void
same_transport(const struct jingle_transport *a,
    const struct jingle_transport *b)
{
	if (a->type == JT_OTHER || a->type == JT_NONE) {
		fuzz_check(b->type == JT_NONE);
		return;
	}
	fuzz_check(a->type == b->type && strcmp(a->sid, b->sid) == 0);
	if (a->type == JT_IBB) {
		fuzz_check(a->block_size == b->block_size);
		return;
	}
	fuzz_check(strcmp(a->dstaddr, b->dstaddr) == 0 &&
	    a->ncands == b->ncands);
	for (unsigned i = 0; i < a->ncands; i++)
		same_cand(&a->cands[i], &b->cands[i]);
	/* the builder sends the first of: used, activated, error */
	fuzz_check(a->has_used == b->has_used);
	if (a->has_used) {
		fuzz_check(strcmp(a->used_cid, b->used_cid) == 0);
		return;
	}
	fuzz_check(a->has_activated == b->has_activated);
	if (a->has_activated) {
		fuzz_check(strcmp(a->activated_cid, b->activated_cid) == 0);
		return;
	}
	fuzz_check(a->cand_error == b->cand_error);
	if (!a->cand_error)
		fuzz_check(a->proxy_error == b->proxy_error);
}

/* Builds the IQ that says what a says. Returns it (release it). */
static xmpp_stanza_t *
rebuild(xmpp_ctx_t *ctx, const struct jingle_msg *a)
{
	xmpp_stanza_t *jn, *c, *iq;

	iq = jingle_xml_iq(ctx, "peer@example.org/r", a->action, a->sid,
	    a->initiator[0] ? a->initiator : NULL,
	    a->responder[0] ? a->responder : NULL, &jn);
	fuzz_check(iq != NULL);
	if (a->has_content) {
		fuzz_check((c = jingle_xml_add_content(jn, a->content_name))
		    != NULL);
		if (a->has_file)
			fuzz_check(jingle_xml_add_file(c, &a->file,
			    a->has_range ? &a->range_offset : NULL) == 0);
		if (a->tr.type == JT_S5B || a->tr.type == JT_IBB)
			fuzz_check(jingle_xml_add_transport(c, &a->tr) == 0);
	}
	if (a->reason != JINGLE_R_NONE)
		fuzz_check(jingle_xml_add_reason(jn, a->reason,
		    a->reason_text) == 0);
	return iq;
}

static void
round_trip(xmpp_ctx_t *ctx, const struct jingle_msg *a)
{
	struct jingle_msg *b = malloc(sizeof(*b));
	xmpp_stanza_t *iq = rebuild(ctx, a);
	char err[160];

	fuzz_check(b != NULL);
	fuzz_check(jingle_xml_parse(iq, b, err, sizeof(err)) == 0);
	fuzz_check(a->action == b->action && strcmp(a->sid, b->sid) == 0 &&
	    strcmp(a->initiator, b->initiator) == 0 &&
	    strcmp(a->responder, b->responder) == 0);
	fuzz_check(a->has_content == b->has_content &&
	    strcmp(a->content_name, b->content_name) == 0);
	same_file(a, b);
	same_transport(&a->tr, &b->tr);
	fuzz_check(a->reason == b->reason &&
	    strcmp(a->reason_text, b->reason_text) == 0);
	free(b);
	xmpp_stanza_release(iq);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
	struct jingle_msg *m = malloc(sizeof(*m));
	xmpp_stanza_t *st;
	char err[160];
	int r;

	if (ctx && m && (st = fuzz_stanza(ctx, data, size)) != NULL) {
		r = jingle_xml_parse(st, m, err, sizeof(err));
		fuzz_check(r == 0 || r == -EINVAL || r == -ENOTSUP);
		fuzz_check(memchr(err, '\0', sizeof(err)) != NULL);
		if (r == 0)
			round_trip(ctx, m);
		xmpp_stanza_release(st);
	}
	free(m);
	if (ctx)
		xmpp_ctx_free(ctx);
	return 0;
}

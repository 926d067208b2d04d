/* jingle/jingle.c -- see jingle.h. The engine: IQ dispatch, the session state
 * machine of XEP-0166 for one XEP-0234 file per session, the queue with
 * its per-peer window, and the timeouts of every stage.
 *
 * Lifetime rule: a session that ends is unlinked at once and freed at the
 * next tick, so code that triggered the end may still look at it (check
 * s->state == SS_ENDED and return).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gcrypt.h>

#include "agent/jingle/jingle_int.h"
#include "agent/log.h"

#define TICK_MS 200
#define DEFAULT_TIMEOUT_MS 30000
#define PROXY_DISCO_MAX_MS 5000


/* ---- output and pending IQs ---- */

void
jingle_out(struct jingle *j, xmpp_stanza_t *st)
{
	if (j->out_fn)
		j->out_fn(j->out_arg, st);
	else if (j->xc)
		xmpp_send(j->xc, st);
}

int
jingle_iq_send(struct jingle *j, xmpp_stanza_t *iq, uint64_t serial,
    enum piq_kind kind, int aux)
{
	struct piq *p = calloc(1, sizeof(*p));
	const char *id = xmpp_stanza_get_id(iq);

	if (p == NULL || id == NULL || (p->id = strdup(id)) == NULL) {
		free(p);
		xmpp_stanza_release(iq);
		return -ENOMEM;
	}
	p->serial = serial;
	p->kind = kind;
	p->aux = aux;
	p->sent_ms = loop_now_ms();
	p->next = j->piqs;
	j->piqs = p;
	jingle_out(j, iq);
	xmpp_stanza_release(iq);
	return 0;
}

static void
piq_free(struct jingle *j, struct piq *p)
{
	(void)j;
	free(p->id);
	free(p);
}

static void
send_result(struct jingle *j, xmpp_stanza_t *iq)
{
	xmpp_stanza_t *r = xmpp_iq_new(j->ctx, "result", xmpp_stanza_get_id(iq));

	if (r == NULL)
		return;
	if (xmpp_stanza_get_from(iq))
		xmpp_stanza_set_to(r, xmpp_stanza_get_from(iq));
	jingle_out(j, r);
	xmpp_stanza_release(r);
}

static void
send_error(struct jingle *j, xmpp_stanza_t *iq, const char *type,
    const char *cond, const char *jcond, const char *text)
{
	xmpp_stanza_t *r = jingle_xml_error(iq, type, cond, jcond, text);

	if (r == NULL)
		return;
	jingle_out(j, r);
	xmpp_stanza_release(r);
}

/* The first condition element of an <error/> reply, for logs. */
static const char *
error_cond(xmpp_stanza_t *st)
{
	xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(st, "error"), *c;

	for (c = e ? xmpp_stanza_get_children(e) : NULL; c;
	    c = xmpp_stanza_get_next(c))
		if (xmpp_stanza_is_tag(c) && strcmp(xmpp_stanza_get_name(c),
		    "text") != 0)
			return xmpp_stanza_get_name(c);
	return "timeout";
}

/* ---- sessions ---- */

struct session *
jingle_session_by_serial(struct jingle *j, uint64_t serial)
{
	for (struct session *s = j->sessions; s; s = s->next)
		if (s->serial == serial)
			return s;
	return NULL;
}

static struct session *
session_find(struct jingle *j, const char *peer, const char *sid)
{
	for (struct session *s = j->sessions; s; s = s->next)
		if (strcmp(s->sid, sid) == 0 && strcmp(s->peer, peer) == 0)
			return s;
	return NULL;
}

void
jingle_touch(struct session *s)
{
	s->deadline_ms = loop_now_ms() + s->j->cfg.timeout_ms;
}

int
jingle_transport_allowed(const struct jingle *j, enum cfg_transport t)
{
	for (size_t i = 0; i < j->cfg.ntransports; i++)
		if (j->cfg.transports[i] == t)
			return 1;
	return 0;
}

static void
info_of(const struct session *s, struct jingle_info *in)
{
	in->sid = s->sid;
	in->peer = s->peer;
	in->sending = s->sending;
	in->file = &s->file;
	in->offset = s->offset;
	in->cookie = s->cookie;
}

static const char *
ttype_name(const struct session *s)
{
	if (s->ttype == JT_IBB)
		return "ibb";
	return s->via_proxy ? "proxy" : "s5b";
}

static void
log_end(const struct session *s, int err, enum jingle_reason r,
    const char *text)
{
	int64_t ms = loop_now_ms() - s->started_ms;

	if (err == 0)
		log_info("%s %s %s %s: done, %llu bytes (from offset %llu) over "
		    "%s in %lld ms", s->sending ? "sent" : "received",
		    s->file.name, s->sending ? "to" : "from", s->peer,
		    (unsigned long long)s->wire_done,
		    (unsigned long long)s->offset, ttype_name(s), (long long)ms);
	else
		log_warn("transfer of %s %s %s failed: %s%s%s (sid %s)",
		    s->file.name, s->sending ? "to" : "from", s->peer,
		    jingle_reason_name(r), text ? ": " : "", text ? text : "",
		    s->sid);
}

static void
send_terminate(struct session *s, enum jingle_reason r, const char *text)
{
	xmpp_stanza_t *jn, *iq;

	iq = jingle_xml_iq(s->j->ctx, s->peer, JA_SESSION_TERMINATE, s->sid,
	    NULL, NULL, &jn);
	if (iq == NULL)
		return;
	jingle_xml_add_reason(jn, r, text);
	jingle_iq_send(s->j, iq, 0, PIQ_JINGLE, JA_SESSION_TERMINATE);
}

static void pump_queue(struct jingle *j);

void
jingle_session_end(struct session *s, int err, enum jingle_reason r,
    const char *text, int tell_peer)
{
	struct jingle *j = s->j;
	struct session **pp;
	struct jingle_info in;
	int keep = r != JINGLE_R_MEDIA_ERROR && r != JINGLE_R_SECURITY_ERROR;

	if (s->state == SS_ENDED)
		return;
	if (tell_peer && j->me)
		send_terminate(s, r, text);
	log_end(s, err, r, text);
	if (err != 0)
		j->failures[jingle_session_transport(s)]++;
	jingle_s5b_free(s);
	jingle_data_free(s, keep);
	s->state = SS_ENDED;
	for (pp = &j->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->next = j->dead;
	j->dead = s;
	info_of(s, &in);
	if (j->cb.done)
		j->cb.done(j->cb.arg, &in, err, r, text);
	pump_queue(j);
}

static struct session *
session_new(struct jingle *j, const char *peer, const struct jingle_file *f)
{
	struct session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->file = *f;
	s->file.name = strdup(f->name);
	if (s->file.name == NULL || strlen(peer) > JX_JID_MAX) {
		free(s->file.name);
		free(s);
		return NULL;
	}
	s->wire = s->file;
	s->j = j;
	s->serial = ++j->next_serial;
	s->data_fd = -1;
	s->started_ms = loop_now_ms();
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	jingle_touch(s);
	return s;
}

static void
session_link(struct jingle *j, struct session *s)
{
	s->next = j->sessions;
	j->sessions = s;
}

static void
session_free(struct session *s)
{
	if (s->early_info)
		xmpp_stanza_release(s->early_info);
	free(s->file.name);
	free(s);
}

static void
random_id(struct jingle *j, char *out, size_t len)
{
	char *u = xmpp_uuid_gen(j->ctx);

	snprintf(out, len, "%s", u ? u : "x");
	if (u)
		xmpp_free(j->ctx, u);
}

/* ---- initiator ---- */

/* Fills t with the transport of family s->fam. Returns 0, or -ENOENT when
 * no family is left. */
static int
choose_transport(struct session *s, struct jingle_transport *t)
{
	struct jingle *j = s->j;
	char tsid[64];

	for (; s->fam < j->nfams; s->fam++) {
		memset(t, 0, sizeof(*t));
		random_id(j, tsid, sizeof(tsid));
		if (j->fams[s->fam] == JT_IBB) {
			s->ttype = JT_IBB;
			t->type = JT_IBB;
			snprintf(s->ibb_sid, sizeof(s->ibb_sid), "%s", tsid);
			snprintf(t->sid, sizeof(t->sid), "%s", tsid);
			t->block_size = s->block_size = j->cfg.ibb_block_size;
			return 0;
		}
		if (jingle_s5b_offer(s, tsid, NULL) > 0) {
			s->ttype = JT_S5B;
			*t = s->s5->ours;
			return 0;
		}
		log_info("no SOCKS5 candidate to offer for %s, skipping s5b",
		    s->file.name);
		jingle_s5b_free(s);
	}
	return -ENOENT;
}

static void
session_start(struct jingle *j, struct queued *q)
{
	struct session *s = session_new(j, q->peer, &q->file);
	struct jingle_transport *t = calloc(1, sizeof(*t));
	struct jingle_info in;
	xmpp_stanza_t *iq, *jn, *c;
	const uint64_t zero = 0;
	int r = -ENOMEM;

	if (s == NULL || t == NULL)
		goto fail;
	s->cookie = q->cookie;
	s->sending = 1;
	random_id(j, s->sid, sizeof(s->sid));
	snprintf(s->initiator_jid, sizeof(s->initiator_jid), "%s", j->me);
	snprintf(s->responder_jid, sizeof(s->responder_jid), "%s", s->peer);
	snprintf(s->cname, sizeof(s->cname), "f");
	session_link(j, s);
	s->state = SS_PENDING;
	if ((r = j->cfg.source.open(j->cfg.source.arg, &s->file, s->cookie,
	    &s->src_h)) < 0) {
		s->src_h = NULL;
		jingle_session_end(s, r, JINGLE_R_MEDIA_ERROR,
		    "cannot open the source", 0);
		goto out;
	}
	if (choose_transport(s, t) < 0) {
		jingle_session_end(s, -ENOTSUP, JINGLE_R_UNSUPPORTED_TRANSPORTS,
		    "no usable transport", 0);
		goto out;
	}
	if (j->cb.wire_file) {
		j->cb.wire_file(j->cb.arg, &s->file, &s->wire);
		s->wire.name = s->file.name;
	}
	iq = jingle_xml_iq(j->ctx, s->peer, JA_SESSION_INITIATE, s->sid,
	    j->me, NULL, &jn);
	c = iq ? jingle_xml_add_content(jn, s->cname) : NULL;
	info_of(s, &in);
	/* <range/>: we honour the offset a session-accept asks for */
	if (c == NULL || jingle_xml_add_file(c, &s->wire, &zero) < 0 ||
	    jingle_xml_add_transport(c, t) < 0 ||
	    (j->cb.content_build &&
	    (r = j->cb.content_build(j->cb.arg, &in, c)) < 0)) {
		if (iq)
			xmpp_stanza_release(iq);
		jingle_session_end(s, r < 0 ? r : -ENOMEM,
		    JINGLE_R_GENERAL_ERROR, "cannot build session-initiate", 0);
		goto out;
	}
	log_debug("offering %s (%llu bytes) to %s, sid %s, transport %s",
	    s->file.name, (unsigned long long)s->file.size, s->peer, s->sid,
	    s->ttype == JT_IBB ? "ibb" : "s5b");
	jingle_iq_send(j, iq, s->serial, PIQ_JINGLE, JA_SESSION_INITIATE);
	goto out;
fail:
	if (s)
		session_free(s);
	if (j->cb.done) {
		struct jingle_info fi = {.peer = q->peer, .sending = 1,
		    .file = &q->file, .cookie = q->cookie, .sid = ""};
		j->cb.done(j->cb.arg, &fi, r, JINGLE_R_GENERAL_ERROR,
		    "out of memory");
	}
out:
	free(t);
}

static unsigned
peer_inflight(struct jingle *j, const char *peer)
{
	unsigned n = 0;

	for (struct session *s = j->sessions; s; s = s->next)
		if (s->sending && strcmp(s->peer, peer) == 0)
			n++;
	return n;
}

static void
pump_queue(struct jingle *j)
{
	struct queued **pp = &j->qhead, *q;

	if (j->me == NULL || j->proxy_state == 1)
		return;
	while ((q = *pp) != NULL) {
		if (peer_inflight(j, q->peer) >= j->cfg.window) {
			pp = &q->next;
			continue;
		}
		*pp = q->next;
		if (j->qtail == q)
			j->qtail = NULL;
		session_start(j, q);
		free(q->file.name);
		free(q->peer);
		free(q);
		/* the list may have changed under us (callbacks) */
		pp = &j->qhead;
	}
	j->qtail = NULL;
	for (q = j->qhead; q; q = q->next)
		j->qtail = q;
}

int
jingle_send(struct jingle *j, const char *peer, const struct jingle_file *f,
    void *cookie)
{
	struct queued *q;

	if (jingle_path_check(f->name) < 0 || strchr(peer, '/') == NULL ||
	    strlen(peer) > JX_JID_MAX)
		return -EINVAL;
	if (j->cfg.source.open == NULL)
		return -ENOTSUP;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -ENOMEM;
	q->file = *f;
	q->file.name = strdup(f->name);
	q->peer = strdup(peer);
	q->cookie = cookie;
	if (q->file.name == NULL || q->peer == NULL) {
		free(q->file.name);
		free(q->peer);
		free(q);
		return -ENOMEM;
	}
	if (j->qtail)
		j->qtail->next = q;
	else
		j->qhead = q;
	j->qtail = q;
	pump_queue(j);
	return 0;
}

unsigned
jingle_pending(const struct jingle *j)
{
	unsigned n = 0;

	for (const struct session *s = j->sessions; s; s = s->next)
		n++;
	for (const struct queued *q = j->qhead; q; q = q->next)
		n++;
	return n;
}

/* ---- handling of each action ---- */

/* Starts moving bytes once the transport is agreed: the filter and the
 * byte counts depend on the range. */
static int
begin_transfer(struct session *s)
{
	int r = jingle_data_begin(s);

	if (r < 0) {
		jingle_session_end(s, r, JINGLE_R_FAILED_APPLICATION,
		    "cannot set up the data path", 1);
		return r;
	}
	return 0;
}

static void
on_accept(struct session *s, struct jingle_msg *m)
{
	if (m->has_range && m->range_offset <= s->file.size)
		s->offset = m->range_offset;
	if (m->tr.type != s->ttype || (s->ttype == JT_IBB &&
	    strcmp(m->tr.sid, s->ibb_sid) != 0) || (s->ttype == JT_S5B &&
	    strcmp(m->tr.sid, s->s5->ours.sid) != 0)) {
		jingle_session_end(s, -EPROTO, JINGLE_R_INCOMPATIBLE_PARAMETERS,
		    "accepted a different transport", 1);
		return;
	}
	if (s->offset)
		log_info("%s: peer has %llu bytes, resuming from there",
		    s->file.name, (unsigned long long)s->offset);
	s->state = SS_NEGOTIATE;
	jingle_touch(s);
	if (begin_transfer(s) < 0)
		return;
	if (s->ttype == JT_IBB) {
		if (m->tr.block_size < s->block_size)
			s->block_size = m->tr.block_size;
		jingle_data_ibb_start(s);
	} else
		jingle_s5b_start(s, &m->tr);
}

static void
send_transport_action(struct session *s, enum jingle_action a,
    const struct jingle_transport *t)
{
	xmpp_stanza_t *jn, *c, *iq;

	iq = jingle_xml_iq(s->j->ctx, s->peer, a, s->sid, NULL, NULL, &jn);
	c = iq ? jingle_xml_add_content(jn, s->cname) : NULL;
	if (c == NULL || (t && jingle_xml_add_transport(c, t) < 0)) {
		if (iq)
			xmpp_stanza_release(iq);
		return;
	}
	if (!s->sending)
		xmpp_stanza_set_attribute(c, "creator", "initiator");
	jingle_iq_send(s->j, iq, s->serial, PIQ_JINGLE, a);
}

void
jingle_send_transport_info(struct session *s, const struct jingle_transport *t)
{
	send_transport_action(s, JA_TRANSPORT_INFO, t);
}

void
jingle_transport_failed(struct session *s, const char *why)
{
	struct jingle_transport t;

	if (!s->sending) {
		/* the initiator decides on a replacement; wait for it */
		log_info("%s: %s; waiting for the peer's fallback", s->file.name,
		    why);
		jingle_touch(s);
		return;
	}
	jingle_s5b_free(s);
	s->fam++;
	if (s->fam >= s->j->nfams || choose_transport(s, &t) < 0 ||
	    t.type != JT_IBB) {
		jingle_session_end(s, -ENETUNREACH, JINGLE_R_FAILED_TRANSPORT,
		    why, 1);
		return;
	}
	log_warn("fallback: %s for %s to %s; replacing the transport with ibb",
	    why, s->file.name, s->peer);
	s->replacing = 1;
	jingle_touch(s);
	send_transport_action(s, JA_TRANSPORT_REPLACE, &t);
}

static void
on_transport_replace(struct session *s, struct jingle_msg *m)
{
	struct jingle_transport t;

	memset(&t, 0, sizeof(t));
	if (m->tr.type != JT_IBB || !jingle_transport_allowed(s->j,
	    CFG_TRANSPORT_IBB)) {
		t = m->tr;
		send_transport_action(s, JA_TRANSPORT_REJECT, &t);
		log_warn("%s: refused the peer's transport-replace (%s not "
		    "allowed here)", s->file.name,
		    m->tr.type == JT_IBB ? "ibb" : "that transport");
		return;
	}
	jingle_s5b_free(s);
	s->ttype = JT_IBB;
	snprintf(s->ibb_sid, sizeof(s->ibb_sid), "%s", m->tr.sid);
	s->block_size = m->tr.block_size < s->j->cfg.ibb_block_size ?
	    m->tr.block_size : s->j->cfg.ibb_block_size;
	t.type = JT_IBB;
	snprintf(t.sid, sizeof(t.sid), "%s", s->ibb_sid);
	t.block_size = s->block_size;
	log_warn("fallback: %s switches to ibb at the peer's request",
	    s->file.name);
	jingle_touch(s);
	send_transport_action(s, JA_TRANSPORT_ACCEPT, &t);
}

static void
on_transport_accept(struct session *s, struct jingle_msg *m)
{
	s->replacing = 0;
	if (m->tr.type != JT_IBB || strcmp(m->tr.sid, s->ibb_sid) != 0) {
		jingle_session_end(s, -EPROTO, JINGLE_R_INCOMPATIBLE_PARAMETERS,
		    "accepted a different transport", 1);
		return;
	}
	if (m->tr.block_size < s->block_size)
		s->block_size = m->tr.block_size;
	jingle_touch(s);
	jingle_data_ibb_start(s);
}

static void
on_terminate(struct session *s, struct jingle_msg *m)
{
	enum jingle_reason r = m->reason ? m->reason : JINGLE_R_GENERAL_ERROR;
	const char *text = m->reason_text[0] ? m->reason_text : NULL;

	if (r == JINGLE_R_SUCCESS && s->sending &&
	    (s->state == SS_WAIT_END || s->state == SS_TRANSFER ||
	    s->state == SS_NEGOTIATE)) {
		jingle_session_end(s, 0, r, text, 0);
		return;
	}
	if (r == JINGLE_R_SUCCESS)
		r = JINGLE_R_GENERAL_ERROR; /* success before the data is in */
	jingle_session_end(s, -ECONNABORTED, r, text ? text :
	    "ended by the peer", 0);
}

void
jingle_send_checksum(struct session *s)
{
	xmpp_stanza_t *iq, *jn;

	/* XEP-0234 5: "Once a hash has been calculated by the File Sender,
	 * the File Sender SHOULD inform the File Receiver of the hash value
	 * as described in Checksum." Only an offer that said <hash-used/>
	 * needs it: one with the <hash/> told it already (8.2), and an
	 * opaque offer must not tell it at all */
	if (!s->sending || !s->wire.hash_later || s->wire.has_hash ||
	    !s->file.has_hash)
		return;
	iq = jingle_xml_iq(s->j->ctx, s->peer, JA_SESSION_INFO, s->sid, NULL,
	    NULL, &jn);
	if (iq == NULL || jingle_xml_add_checksum(jn, s->cname,
	    s->file.sha256) < 0) {
		if (iq)
			xmpp_stanza_release(iq);
		return;
	}
	jingle_iq_send(s->j, iq, s->serial, PIQ_JINGLE, JA_SESSION_INFO);
}

/* Receiver: the sender's session-info <checksum/> (XEP-0234 8.2). For an
 * offer with <hash-used/> it is the hash the file is verified against;
 * when the hash is known already it must be the same. */
static void
on_checksum(struct session *s, const struct jingle_msg *m)
{
	struct jingle *j = s->j;
	int r;

	if (s->sending || !m->checksum_sha256)
		return;	/* nothing we could check against */
	if (s->file.has_hash) {
		if (memcmp(s->file.sha256, m->checksum, 32) != 0)
			jingle_session_end(s, -EBADMSG, JINGLE_R_MEDIA_ERROR,
			    "the checksum is not the offered hash", 1);
		return;
	}
	if (!s->file.hash_later || s->sink_h == NULL)
		return;
	if ((r = j->cfg.sink.expect(s->sink_h, m->checksum)) < 0) {
		jingle_session_end(s, r, JINGLE_R_FAILED_APPLICATION,
		    "cannot take the checksum", 1);
		return;
	}
	memcpy(s->file.sha256, m->checksum, 32);
	s->file.has_hash = 1;
	log_debug("%s: checksum from %s", s->file.name, s->peer);
	if (s->checksum_by_ms) {
		s->checksum_by_ms = 0;
		jingle_data_receive_done(s);
	}
}

/* Checks that an action fits the session's state. Returns 0 or -EPROTO. */
static int
in_order(const struct session *s, enum jingle_action a)
{
	switch (a) {
	case JA_SESSION_ACCEPT:
		return s->sending && (s->state == SS_PENDING ||
		    s->state == SS_WAIT_ACCEPT) ? 0 : -EPROTO;
	case JA_TRANSPORT_INFO:
		return s->state == SS_NEGOTIATE && s->ttype == JT_S5B &&
		    s->s5 ? 0 : -EPROTO;
	case JA_TRANSPORT_REPLACE:
		return !s->sending && s->state == SS_NEGOTIATE ? 0 : -EPROTO;
	case JA_TRANSPORT_ACCEPT:
	case JA_TRANSPORT_REJECT:
		return s->sending && s->replacing ? 0 : -EPROTO;
	default:
		return 0;
	}
}

/* Acts on a transport-info that came before the session-accept, now that
 * the accept is in. Its IQ was acked already, so a bad one ends the
 * session. */
static void
early_info(struct jingle *j, struct session *s)
{
	xmpp_stanza_t *iq = s->early_info;
	struct jingle_msg *m;
	const char *why = "out of order";
	char err[160];

	if (iq == NULL)
		return;
	s->early_info = NULL;
	if (s->state != SS_ENDED && (m = malloc(sizeof(*m))) != NULL) {
		if (jingle_xml_parse(iq, m, err, sizeof(err)) < 0)
			why = "unreadable";
		else if (in_order(s, m->action) == 0 &&
		    jingle_s5b_info(s, &m->tr, &why) == 0) {
			jingle_s5b_info(s, &m->tr, NULL);
			why = NULL;
		}
		if (why)
			jingle_session_end(s, -EPROTO, JINGLE_R_FAILED_TRANSPORT,
			    why, 1);
		free(m);
	}
	(void)j;
	xmpp_stanza_release(iq);
}

/* An action for an existing session. The IQ is acked (or answered with
 * an error) before the session reacts, so the peer sees our ack first. */
static void
on_action(struct jingle *j, struct session *s, xmpp_stanza_t *iq,
    struct jingle_msg *m)
{
	const char *why = NULL;

	/* the responder's candidate-used (or candidate-error) may overtake
	 * its session-accept: the session is still PENDING, where
	 * transport-info is allowed; it is acked now and acted on once the
	 * accept has set up the bytestream */
	if (m->action == JA_TRANSPORT_INFO && s->sending &&
	    s->ttype == JT_S5B && s->early_info == NULL &&
	    (s->state == SS_PENDING || s->state == SS_WAIT_ACCEPT)) {
		s->early_info = xmpp_stanza_clone(iq);
		send_result(j, iq);
		return;
	}
	if (in_order(s, m->action) < 0) {
		send_error(j, iq, "cancel", "unexpected-request", "out-of-order",
		    NULL);
		return;
	}
	if (m->action == JA_TRANSPORT_INFO &&
	    jingle_s5b_info(s, &m->tr, &why) < 0) {
		send_error(j, iq, "modify", "bad-request", NULL, why);
		return;
	}
	switch (m->action) {
	case JA_SESSION_ACCEPT:
		send_result(j, iq);
		on_accept(s, m);
		early_info(j, s);
		return;
	case JA_SESSION_TERMINATE:
		send_result(j, iq);
		on_terminate(s, m);
		return;
	case JA_SESSION_INFO:
		/* XEP-0166, informational messages: an empty one is a ping;
		 * "If the party that receives an informational message does
		 * not understand the payload, it MUST return a
		 * <feature-not-implemented/> error with a Jingle-specific
		 * error condition of <unsupported-info/>." */
		if (m->info_unknown && !m->has_checksum && !m->info_received) {
			send_error(j, iq, "cancel", "feature-not-implemented",
			    "unsupported-info", NULL);
			return;
		}
		send_result(j, iq);
		if (m->has_checksum)
			on_checksum(s, m);
		return;
	case JA_TRANSPORT_INFO:
		send_result(j, iq);
		jingle_s5b_info(s, &m->tr, NULL); /* now act on it */
		return;
	case JA_TRANSPORT_REPLACE:
		send_result(j, iq);
		on_transport_replace(s, m);
		return;
	case JA_TRANSPORT_ACCEPT:
		send_result(j, iq);
		on_transport_accept(s, m);
		return;
	case JA_TRANSPORT_REJECT:
		send_result(j, iq);
		jingle_session_end(s, -ENETUNREACH, JINGLE_R_FAILED_TRANSPORT,
		    "the peer rejected the fallback transport", 1);
		return;
	default:
		send_error(j, iq, "cancel", "feature-not-implemented",
		    "unsupported-info", NULL);
		return;
	}
}

/* ---- responder: an offer ---- */

/* Checks an offer before a session exists. Returns 0, or -EINVAL after
 * sending the error reply. */
static int
check_offer(struct jingle *j, xmpp_stanza_t *iq, const char *from,
    const struct jingle_msg *m)
{
	const char *bad = NULL;

	if (session_find(j, from, m->sid)) {
		send_error(j, iq, "cancel", "unexpected-request", "out-of-order",
		    "session exists");
		return -EINVAL;
	}
	if (m->initiator[0] && strcmp(m->initiator, from) != 0)
		bad = "initiator is not the sender";
	else if (!m->has_content || !m->has_file || m->name_buf[0] == '\0')
		bad = "no file offered";
	else if (m->senders != 1)
		bad = "only offers where the initiator sends are supported";
	else if (!m->file.has_hash && !m->file.hash_later &&
	    j->cb.accept_offer == NULL)
		bad = "no sha-256 hash";
	if (bad) {
		log_warn("bad offer from %s: %s", from, bad);
		send_error(j, iq, "modify", "bad-request", NULL, bad);
		return -EINVAL;
	}
	if (jingle_path_check(m->file.name) < 0) {
		log_warn("refused an offer from %s: unsafe file name", from);
		send_error(j, iq, "modify", "not-acceptable", NULL,
		    "unsafe file name");
		return -EINVAL;
	}
	if (j->me == NULL || j->cfg.sink.open == NULL) {
		send_error(j, iq, "cancel", "service-unavailable", NULL, NULL);
		return -EINVAL;
	}
	return 0;
}

/* Decides on an acked offer. Returns JINGLE_R_NONE to accept, or the
 * reason to reject it with (text filled). */
static enum jingle_reason
judge_offer(struct session *s, const struct jingle_msg *m, char *text,
    size_t len)
{
	struct jingle *j = s->j;
	struct jingle_info in;
	int r;

	if (!((m->tr.type == JT_IBB &&
	    jingle_transport_allowed(j, CFG_TRANSPORT_IBB)) ||
	    (m->tr.type == JT_S5B &&
	    (jingle_transport_allowed(j, CFG_TRANSPORT_S5B) ||
	    jingle_transport_allowed(j, CFG_TRANSPORT_PROXY))))) {
		snprintf(text, len, "transport not allowed here");
		return JINGLE_R_UNSUPPORTED_TRANSPORTS;
	}
	if (j->cb.accept_offer &&
	    (r = j->cb.accept_offer(j->cb.arg, s->peer, &s->file)) != 0) {
		snprintf(text, len, "offer declined");
		return r > 0 && r < JINGLE_R_COUNT ? (enum jingle_reason)r :
		    JINGLE_R_DECLINE;
	}
	s->file.name = s->wire.name;	/* the callback keeps the name */
	if (j->cfg.max_file_size && s->file.size > j->cfg.max_file_size) {
		snprintf(text, len, "file too large (%llu > %llu bytes)",
		    (unsigned long long)s->file.size,
		    (unsigned long long)j->cfg.max_file_size);
		return JINGLE_R_MEDIA_ERROR;
	}
	/* XEP-0234 5: "Either a <hash/> or a <hash-used/> element MUST be
	 * included when offering a file"; with <hash-used/> the value
	 * follows in a <checksum/>, which the sink must be able to take */
	if (!s->file.has_hash && !(s->file.hash_later && j->cfg.sink.expect)) {
		snprintf(text, len, "no sha-256 hash");
		return JINGLE_R_DECLINE;
	}
	if (m->has_range && m->range_offset > 0) {
		snprintf(text, len, "an offer of part of a file is not supported");
		return JINGLE_R_FAILED_APPLICATION;
	}
	info_of(s, &in);
	if (j->cb.content_read &&
	    (r = j->cb.content_read(j->cb.arg, &in, m->content)) != 0) {
		snprintf(text, len, "content refused");
		return r > 0 && r < JINGLE_R_COUNT ? (enum jingle_reason)r :
		    JINGLE_R_SECURITY_ERROR;
	}
	return JINGLE_R_NONE;
}

static void
send_accept(struct session *s, const struct jingle_msg *m)
{
	struct jingle *j = s->j;
	struct jingle_transport *t = calloc(1, sizeof(*t));
	xmpp_stanza_t *iq, *jn, *c;

	if (t == NULL)
		goto fail;
	if (m->tr.type == JT_S5B) {
		s->ttype = JT_S5B;
		if (jingle_s5b_offer(s, m->tr.sid, &m->tr) < 0)
			goto fail;
		*t = s->s5->ours;
	} else {
		s->ttype = JT_IBB;
		snprintf(s->ibb_sid, sizeof(s->ibb_sid), "%s", m->tr.sid);
		s->block_size = m->tr.block_size < j->cfg.ibb_block_size ?
		    m->tr.block_size : j->cfg.ibb_block_size;
		t->type = JT_IBB;
		snprintf(t->sid, sizeof(t->sid), "%s", s->ibb_sid);
		t->block_size = s->block_size;
	}
	/* XEP-0166 7.1: 'responder' is RECOMMENDED in a session-accept,
	 * 'initiator' only in a session-initiate (SHOULD NOT elsewhere);
	 * XEP-0234 6.1: the accept's <range/> says the receiver supports
	 * ranged transfers, its offset where to resume */
	iq = jingle_xml_iq(j->ctx, s->peer, JA_SESSION_ACCEPT, s->sid,
	    NULL, j->me, &jn);
	c = iq ? jingle_xml_add_content(jn, s->cname) : NULL;
	if (c == NULL || jingle_xml_add_file(c, &s->wire, &s->offset) < 0 ||
	    jingle_xml_add_transport(c, t) < 0) {
		if (iq)
			xmpp_stanza_release(iq);
		goto fail;
	}
	jingle_iq_send(j, iq, s->serial, PIQ_JINGLE, JA_SESSION_ACCEPT);
	free(t);
	return;
fail:
	free(t);
	jingle_session_end(s, -ENOMEM, JINGLE_R_GENERAL_ERROR,
	    "cannot build session-accept", 1);
}

static void
on_initiate(struct jingle *j, xmpp_stanza_t *iq, const char *from,
    struct jingle_msg *m)
{
	struct session *s;
	enum jingle_reason rej;
	uint64_t have = 0;
	char text[160];
	int r;

	if (check_offer(j, iq, from, m) < 0)
		return;
	if ((s = session_new(j, from, &m->file)) == NULL) {
		send_error(j, iq, "wait", "resource-constraint", NULL, NULL);
		return;
	}
	snprintf(s->sid, sizeof(s->sid), "%s", m->sid);
	snprintf(s->initiator_jid, sizeof(s->initiator_jid), "%s", from);
	snprintf(s->responder_jid, sizeof(s->responder_jid), "%s", j->me);
	snprintf(s->cname, sizeof(s->cname), "%s", m->content_name);
	s->state = SS_NEGOTIATE;
	session_link(j, s);
	send_result(j, iq);
	if ((rej = judge_offer(s, m, text, sizeof(text))) != JINGLE_R_NONE) {
		jingle_session_end(s, -EPERM, rej, text, 1);
		return;
	}
	if ((r = j->cfg.sink.open(j->cfg.sink.arg, s->peer, &s->file,
	    &s->sink_h, &have)) < 0) {
		s->sink_h = NULL;
		snprintf(text, sizeof(text), "cannot store the file: %s",
		    strerror(-r));
		jingle_session_end(s, r, JINGLE_R_MEDIA_ERROR, text, 1);
		return;
	}
	s->offset = have < s->file.size ? have : 0;
	if (begin_transfer(s) < 0)
		return;
	send_accept(s, m);
	if (s->state == SS_ENDED)
		return;
	if (s->ttype == JT_S5B)
		jingle_s5b_start(s, &m->tr);
	if (s->state == SS_ENDED || s->wire_done != s->wire_total)
		return;
	/* nothing to receive: finish, over IBB once the sender has opened
	 * and closed its (empty) bytestream (XEP-0261) */
	if (s->ttype == JT_IBB)
		s->ibb_close_by_ms = loop_now_ms() + IBB_CLOSE_WAIT_MS;
	else
		jingle_data_receive_done(s);
}

/* ---- IQ entry points ---- */

static void
on_jingle_set(struct jingle *j, xmpp_stanza_t *iq)
{
	const char *from = xmpp_stanza_get_from(iq);
	struct jingle_msg *m = malloc(sizeof(*m));
	struct session *s;
	char err[160];
	int r;

	if (m == NULL)
		return;
	if (from == NULL || strchr(from, '/') == NULL ||
	    strlen(from) > JX_JID_MAX) {
		send_error(j, iq, "modify", "bad-request", NULL,
		    "sender must be a full JID");
		goto out;
	}
	if ((r = jingle_xml_parse(iq, m, err, sizeof(err))) < 0) {
		log_warn("bad jingle request from %s: %s", from, err);
		if (r == -ENOTSUP)
			send_error(j, iq, "cancel", "feature-not-implemented",
			    NULL, err);
		else
			send_error(j, iq, "modify", "bad-request", NULL, err);
		goto out;
	}
	if (m->action == JA_SESSION_INITIATE) {
		on_initiate(j, iq, from, m);
		goto out;
	}
	if ((s = session_find(j, from, m->sid)) == NULL) {
		if (m->action != JA_SESSION_TERMINATE)
			log_debug("%s for unknown session %s from %s",
			    jingle_xml_action_name(m->action), m->sid, from);
		send_error(j, iq, "cancel", "item-not-found", "unknown-session",
		    NULL);
		goto out;
	}
	on_action(j, s, iq, m);
out:
	free(m);
}

static void
on_reply(struct jingle *j, xmpp_stanza_t *st)
{
	const char *id = xmpp_stanza_get_id(st);
	const char *type = xmpp_stanza_get_type(st);
	int ok = type && strcmp(type, "result") == 0;
	struct piq **pp, *p = NULL;
	struct session *s;

	for (pp = &j->piqs; id && *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0) {
			p = *pp;
			*pp = p->next;
			break;
		}
	if (p == NULL)
		return;
	if (p->serial == 0) {
		if (p->kind != PIQ_JINGLE)
			jingle_proxy_reply(j, p->kind, st, ok);
		goto out;
	}
	if ((s = jingle_session_by_serial(j, p->serial)) == NULL)
		goto out;
	switch (p->kind) {
	case PIQ_JINGLE:
		if (ok) {
			if (p->aux == JA_SESSION_INITIATE && s->state == SS_PENDING) {
				s->state = SS_WAIT_ACCEPT;
				jingle_touch(s);
			}
		} else if (p->aux == JA_SESSION_INFO) {
			/* informational: a peer that cannot use it decides
			 * for itself what to do without it */
			log_info("%s: %s answered our session-info with %s",
			    s->file.name, s->peer, st ? error_cond(st) :
			    "nothing");
		} else if (p->aux == JA_SESSION_INITIATE) {
			char text[128];
			snprintf(text, sizeof(text), "offer refused: %s",
			    st ? error_cond(st) : "timeout");
			jingle_session_end(s, -ECONNREFUSED,
			    JINGLE_R_GENERAL_ERROR, text, 0);
		} else {
			char text[128];
			snprintf(text, sizeof(text), "peer answered %s with %s",
			    jingle_xml_action_name((enum jingle_action)p->aux),
			    st ? error_cond(st) : "nothing");
			jingle_session_end(s, -EPROTO, JINGLE_R_GENERAL_ERROR,
			    text, 1);
		}
		break;
	case PIQ_IBB_OPEN:
		if (!ok)
			jingle_session_end(s, -ENETUNREACH,
			    JINGLE_R_FAILED_TRANSPORT, "ibb open refused", 1);
		else
			jingle_data_ibb_acked(s, 1);
		break;
	case PIQ_IBB_DATA:
		jingle_data_ibb_acked(s, ok);
		break;
	case PIQ_ACTIVATE:
		jingle_s5b_activate_reply(s, ok);
		break;
	default:
		break;
	}
out:
	free(p->id);
	free(p);
}

void
jingle_input(struct jingle *j, xmpp_stanza_t *st)
{
	const char *type = xmpp_stanza_get_type(st);
	const char *name = xmpp_stanza_get_name(st);

	if (name == NULL || strcmp(name, "iq") != 0 || type == NULL)
		return;
	if (strcmp(type, "result") == 0 || strcmp(type, "error") == 0) {
		on_reply(j, st);
		return;
	}
	if (strcmp(type, "set") != 0)
		return;
	/* the owner decides who may talk to the engine at all; nobody else
	 * gets past this line, and gets what the server would answer for a
	 * resource that is not online (XEP-0166 5.2: service-unavailable for
	 * a policy of not talking to unknown entities) */
	if (j->cb.authorize && j->cb.authorize(j->cb.arg,
	    xmpp_stanza_get_from(st)) != 0) {
		send_error(j, st, "cancel", "service-unavailable", NULL, NULL);
		return;
	}
	if (xmpp_stanza_get_child_by_name_and_ns(st, "jingle", JINGLE_NS))
		on_jingle_set(j, st);
	else if (xmpp_stanza_get_child_by_ns(st, IBB_NS))
		jingle_data_ibb_in(j, st);
}

static int
on_iq_set(xmpp_conn_t *xc, xmpp_stanza_t *st, void *arg)
{
	(void)xc;
	jingle_input(arg, st);
	return 1;
}

/* libstrophe keeps one registration per handler function and userdata:
 * the IBB namespace needs a function of its own. */
static int
on_ibb_set(xmpp_conn_t *xc, xmpp_stanza_t *st, void *arg)
{
	(void)xc;
	jingle_input(arg, st);
	return 1;
}

/* Answers to our IQs. One handler for all of them, matched against our
 * own short list of outstanding IQs: libstrophe 0.12 keeps every id ever
 * given to xmpp_id_handler_add() in a hash table of fixed size, so the
 * cost of each answer grew with the number of IQs sent before (measured:
 * 1.07 s per 10,000 pings at first, 2.47 s after 40,000; flat at 1.05 s
 * this way). */
static int
on_iq_reply(xmpp_conn_t *xc, xmpp_stanza_t *st, void *arg)
{
	const char *type = xmpp_stanza_get_type(st);

	(void)xc;
	if (type && (strcmp(type, "result") == 0 || strcmp(type, "error") == 0))
		on_reply(arg, st);
	return 1;
}

/* ---- timers ---- */

static void
expire_piqs(struct jingle *j, int64_t now)
{
	struct piq **pp = &j->piqs, *p;

	while ((p = *pp) != NULL) {
		if (now - p->sent_ms < (int64_t)j->cfg.timeout_ms) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		struct session *s = jingle_session_by_serial(j, p->serial);
		if (p->serial == 0 && p->kind != PIQ_JINGLE)
			jingle_proxy_reply(j, p->kind, NULL, 0);
		else if (s && p->kind != PIQ_IBB_CLOSE &&
		    !(p->kind == PIQ_JINGLE && p->aux == JA_SESSION_TERMINATE))
			jingle_session_end(s, -ETIMEDOUT, JINGLE_R_TIMEOUT,
			    "no answer from the peer", 1);
		piq_free(j, p);
		pp = &j->piqs; /* ending a session may have sent more */
	}
}

static long
on_tick(struct loop *l, void *arg)
{
	struct jingle *j = arg;
	int64_t now = loop_now_ms();
	struct session *s, *next;

	(void)l;
	while ((s = j->dead) != NULL) {
		j->dead = s->next;
		session_free(s);
	}
	expire_piqs(j, now);
	for (s = j->sessions; s; s = next) {
		next = s->next;
		if (s->ibb_close_by_ms) {
			if (jingle_data_ibb_tick(s, now))
				next = j->sessions; /* the list changed */
			continue;
		}
		if (s->checksum_by_ms) {
			if (now >= s->checksum_by_ms) {
				s->checksum_by_ms = 0;
				jingle_session_end(s, -EBADMSG,
				    JINGLE_R_MEDIA_ERROR,
				    "no checksum from the sender", 1);
				next = j->sessions;
			}
			continue;
		}
		if (now > s->deadline_ms) {
			jingle_session_end(s, -ETIMEDOUT, JINGLE_R_TIMEOUT,
			    "stage timed out", 1);
			next = j->sessions; /* the list changed */
		}
	}
	if (j->proxy_state == 1 && now - j->proxy_started_ms > PROXY_DISCO_MAX_MS) {
		log_info("no SOCKS5 proxy found in time; going on without");
		j->proxy_state = 2;
	}
	pump_queue(j);
	return TICK_MS;
}

/* ---- engine ---- */

static void
set_families(struct jingle *j)
{
	j->nfams = 0;
	for (size_t i = 0; i < j->cfg.ntransports; i++) {
		enum jingle_ttype t = j->cfg.transports[i] == CFG_TRANSPORT_IBB ?
		    JT_IBB : JT_S5B;
		if (j->nfams == 0 || (j->nfams == 1 && j->fams[0] != t))
			j->fams[j->nfams++] = t;
	}
}

int
jingle_new(struct loop *l, xmpp_conn_t *xc, const struct jingle_config *cfg,
    const struct jingle_callbacks *cb, struct jingle **out)
{
	struct jingle *j = calloc(1, sizeof(*j));

	*out = NULL;
	if (j == NULL)
		return -ENOMEM;
	if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
		gcry_check_version(NULL);
		gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	}
	j->l = l;
	j->xc = xc;
	j->ctx = xc ? xmpp_conn_get_context(xc) : NULL;
	j->cfg = *cfg;
	if (cb)
		j->cb = *cb;
	j->lfd = -1;
	if (j->cfg.ntransports == 0) {
		j->cfg.transports[0] = CFG_TRANSPORT_S5B;
		j->cfg.transports[1] = CFG_TRANSPORT_PROXY;
		j->cfg.transports[2] = CFG_TRANSPORT_IBB;
		j->cfg.ntransports = 3;
	}
	if (j->cfg.window == 0)
		j->cfg.window = 8;
	if (j->cfg.ibb_block_size == 0 || j->cfg.ibb_block_size > IBB_BLOCK_MAX)
		j->cfg.ibb_block_size = 16384;
	if (j->cfg.timeout_ms == 0)
		j->cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
	set_families(j);
	j->tick = loop_timer_add(l, TICK_MS, on_tick, j);
	if (j->tick < 0) {
		free(j);
		return -ENOMEM;
	}
	if (xc) {
		xmpp_handler_add(xc, on_iq_set, JINGLE_NS, "iq", "set", j);
		xmpp_handler_add(xc, on_ibb_set, IBB_NS, "iq", "set", j);
		xmpp_handler_add(xc, on_iq_reply, NULL, "iq", NULL, j);
	}
	*out = j;
	return 0;
}

void
jingle_set_output(struct jingle *j, void (*fn)(void *, xmpp_stanza_t *),
    void *arg)
{
	j->out_fn = fn;
	j->out_arg = arg;
}

void
jingle_set_ctx(struct jingle *j, xmpp_ctx_t *ctx)
{
	j->ctx = ctx;
}

void
jingle_online(struct jingle *j, const char *me)
{
	free(j->me);
	j->me = NULL;
	if (me == NULL) {
		while (j->sessions)
			jingle_session_end(j->sessions, -ENOTCONN,
			    JINGLE_R_CONNECTIVITY_ERROR, "disconnected", 0);
		j->proxy_state = 0;
		return;
	}
	if ((j->me = strdup(me)) == NULL)
		return;
	jingle_proxy_discover(j);
	pump_queue(j);
}

void
jingle_peer_gone(struct jingle *j, const char *peer)
{
	struct session *s, *next;

	for (s = j->sessions; s; s = next) {
		next = s->next;
		/* an earlier end may have started queued sessions: they are
		 * new entries at the head and are not for this peer's old
		 * sessions, so only sessions with peer are ended */
		if (strcmp(s->peer, peer) == 0) {
			jingle_session_end(s, -ENOTCONN, JINGLE_R_GONE,
			    "peer went offline", 0);
			next = j->sessions; /* the list changed: start over */
		}
	}
}

void
jingle_free(struct jingle *j)
{
	struct session *s;
	struct queued *q;
	struct piq *p;

	if (j == NULL)
		return;
	j->cb.done = NULL;
	/* the queue goes first: ending a session would start the next */
	while ((q = j->qhead) != NULL) {
		j->qhead = q->next;
		free(q->file.name);
		free(q->peer);
		free(q);
	}
	j->qtail = NULL;
	while (j->sessions)
		jingle_session_end(j->sessions, -ECANCELED, JINGLE_R_GONE,
		    "shutting down", j->me != NULL);
	while ((s = j->dead) != NULL) {
		j->dead = s->next;
		session_free(s);
	}
	while ((p = j->piqs) != NULL) {
		j->piqs = p->next;
		piq_free(j, p);
	}
	if (j->xc) {
		xmpp_handler_delete(j->xc, on_iq_set);
		xmpp_handler_delete(j->xc, on_ibb_set);
		xmpp_handler_delete(j->xc, on_iq_reply);
	}
	jingle_listener_close(j);
	loop_timer_del(j->l, j->tick);
	free(j->me);
	free(j);
}

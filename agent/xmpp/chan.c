/* xmpp/chan.c -- the sealed channel between peers: see xmpp.h, and
 * docs/protocol.md ("Peer channel") for the wire format.
 *
 * It sits between the peer table and whoever listens to it: a peer that
 * peer.c trusts gets a handshake (the master starts it; the slave
 * answers only a peer peer.c trusts), and only once the channel is up
 * does the listener hear that the peer is trusted. The keys live in
 * agent/crypto/ (struct crypto_channel); this file moves stanzas.
 *
 * Requests in the sealed-only namespaces arrive in <sealed/>, are
 * opened here and handed to service_dispatch_sealed(); replies go back
 * through chan_reply(). Our own requests leave through chan_send(),
 * whose answers come to answer() first (the service's table of awaited
 * answers, service_expect()), which opens them before the sender's
 * handler sees them.
 *
 * A peer is what peer.c names it (a bare JID, or a full JID when several
 * daemons share an account) and is met at exactly the full JID that
 * proved its key. The keys are bound to both bare JIDs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "agent/crypto/crypto.h"
#include "agent/log.h"
#include "agent/loop.h"
#include "agent/util.h"
#include "agent/xmpp/xmpp.h"

#define HS_TIMEOUT_MS 20000   /* a handshake unanswered this long is retried */
#define HS_RETRY_MS 2000      /* after the peer said "not yet" */
#define HS_FAIL_MS 10000      /* after a handshake that did not verify */
#define MAX_PENDING 4096      /* our sealed requests awaiting an answer */

struct cpeer {
	char name[1100];        /* the peer as peer.c names it */
	char bare[1024];        /* its bare JID, bound into the keys */
	char full[1100];        /* the full JID peer.c trusts, or "" */
	int up;                 /* the listener was told it is trusted */
	struct crypto_channel *cur, *prev; /* prev: answers still on their way */
	struct crypto_handshake *hs;       /* ours, in flight */
	char hs_id[40];
	int64_t hs_at_ms, retry_at_ms;
};

struct pending {
	char id[48];
	char full[1100];        /* asked of: the answer comes from there */
	xmpp_handler h;
	void *arg;
};

struct chan {
	const struct cfg *cfg;
	const struct crypto_identity *id;
	struct peers *peers;
	struct service *svc;
	xmpp_conn_t *conn;      /* while online */
	peers_trust_cb cb;
	void *cb_arg;
	struct cpeer **v;
	size_t n, cap;
	struct pending *pend;
	size_t npend, cappend;
	unsigned seq;
};

int
chan_new(const struct cfg *cfg, const struct crypto_identity *id,
    struct peers *peers, struct service *svc, struct chan **out)
{
	struct chan *c = calloc(1, sizeof(*c));

	*out = c;
	if (c == NULL)
		return -ENOMEM;
	c->cfg = cfg;
	c->id = id;
	c->peers = peers;
	c->svc = svc;
	return 0;
}

void
chan_set_listener(struct chan *c, peers_trust_cb cb, void *arg)
{
	c->cb = cb;
	c->cb_arg = arg;
}

static void
peer_keys_drop(struct cpeer *cp)
{
	crypto_handshake_free(cp->hs);
	crypto_channel_free(cp->cur);
	crypto_channel_free(cp->prev);
	cp->hs = NULL;
	cp->cur = cp->prev = NULL;
	cp->hs_id[0] = '\0';
}

static void
pending_drop(struct chan *c, size_t i)
{
	service_forget(c->svc, c->pend[i].id);
	c->pend[i] = c->pend[--c->npend];
}

void
chan_free(struct chan *c)
{
	if (c == NULL)
		return;
	/* the service outlives us: nothing it awaits may call back here */
	while (c->npend)
		pending_drop(c, c->npend - 1);
	for (size_t i = 0; i < c->n; i++) {
		if (c->v[i]->hs_id[0])
			service_forget(c->svc, c->v[i]->hs_id);
		peer_keys_drop(c->v[i]);
		free(c->v[i]);
	}
	free(c->v);
	free(c->pend);
	free(c);
}

static int
is_initiator(const struct chan *c)
{
	return c->cfg->role == CFG_ROLE_MASTER;
}

/* The peer peer.c names name, added if add and new. */
static struct cpeer *
peer_find(struct chan *c, const char *name, int add)
{
	struct cpeer *cp;

	for (size_t i = 0; name && i < c->n; i++)
		if (strcmp(c->v[i]->name, name) == 0)
			return c->v[i];
	if (!add || name == NULL || strlen(name) >= sizeof(cp->name))
		return NULL;
	if (util_grow(&c->v, c->n + 1, &c->cap, 16) < 0 ||
	    (cp = calloc(1, sizeof(*cp))) == NULL)
		return NULL;
	if (stanza_bare_jid(name, cp->bare, sizeof(cp->bare)) < 0) {
		free(cp);
		return NULL;
	}
	snprintf(cp->name, sizeof(cp->name), "%s", name);
	c->v[c->n++] = cp;
	return cp;
}

/* The peer trusted at exactly this full JID, else NULL. */
static struct cpeer *
peer_at(struct chan *c, const char *full)
{
	for (size_t i = 0; full && i < c->n; i++)
		if (c->v[i]->full[0] && strcmp(c->v[i]->full, full) == 0)
			return c->v[i];
	return NULL;
}

/* The peer with a channel up at exactly this full JID, else NULL. */
static struct cpeer *
peer_up(struct chan *c, const char *full)
{
	struct cpeer *cp = peer_at(c, full);

	return cp && cp->up && cp->cur ? cp : NULL;
}

/* The channel is gone (trust lost, or it could not go on): keys wiped,
 * our requests to it forgotten, the listener told. */
static void
peer_down(struct chan *c, struct cpeer *cp)
{
	int was = cp->up;

	peer_keys_drop(cp);
	for (size_t i = c->npend; i-- > 0;)
		if (strcmp(c->pend[i].full, cp->full) == 0)
			pending_drop(c, i);
	cp->up = 0;
	if (was && c->cb)
		c->cb(c->cb_arg, cp->name, cp->full[0] ? cp->full : NULL, 0);
}

/* A new session is in place: the old one stays for what is under way. */
static void
peer_install(struct chan *c, struct cpeer *cp, struct crypto_channel *ch)
{
	char hex[17];

	crypto_channel_free(cp->prev);
	cp->prev = cp->cur;
	cp->cur = ch;
	crypto_channel_session_hex(ch, hex);
	if (cp->up) {
		log_debug("%s: new channel keys (session %s)", cp->full, hex);
		return;
	}
	cp->up = 1;
	log_info("%s: sealed channel up (session %s)", cp->full, hex);
	if (c->cb)
		c->cb(c->cb_arg, cp->name, cp->full, 1);
}

/* Our own bare JID, bound into the keys. */
static const char *
me_bare(const struct chan *c, char *buf, size_t len)
{
	return stanza_bare_jid(c->cfg->jid, buf, len) == 0 ? buf : c->cfg->jid;
}

/* ---- handshake --------------------------------------------------------- */

/* Whether a (possibly NULL) sender is exactly this full JID. */
static int
same_jid(const char *from, const char *full)
{
	return from && full[0] && strcmp(from, full) == 0;
}

static int on_hs_answer(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg);

static void
hs_start(struct chan *c, struct cpeer *cp)
{
	xmpp_ctx_t *ctx = xmpp_conn_get_context(c->conn);
	uint8_t x[32], e[32], ed[32], rnd[4];
	char b64[64], me[1024];
	xmpp_stanza_t *iq, *q;

	if (cp->hs || peers_keys(c->peers, cp->full, x, ed) < 0)
		return;
	if (crypto_handshake_start(c->id, x, me_bare(c, me, sizeof(me)),
	    cp->bare, &cp->hs, e) < 0) {
		cp->retry_at_ms = loop_now_ms() + HS_FAIL_MS;
		return;
	}
	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	snprintf(cp->hs_id, sizeof(cp->hs_id), "ch-%02x%02x%02x%02x-%u",
	    rnd[0], rnd[1], rnd[2], rnd[3], ++c->seq);
	crypto_base64_encode(e, sizeof(e), b64, sizeof(b64));
	if ((iq = xmpp_iq_new(ctx, "set", cp->hs_id)) == NULL)
		return;
	xmpp_stanza_set_to(iq, cp->full);
	if ((q = stanza_add_child(ctx, iq, "handshake", NS_XS_CHANNEL)))
		xmpp_stanza_set_attribute(q, "e", b64);
	if (service_expect(c->svc, cp->hs_id, on_hs_answer, c) < 0) {
		xmpp_stanza_release(iq);
		crypto_handshake_free(cp->hs);
		cp->hs = NULL;
		cp->hs_id[0] = '\0';
		cp->retry_at_ms = loop_now_ms() + HS_RETRY_MS;
		return;
	}
	xmpp_send(c->conn, iq);
	xmpp_stanza_release(iq);
	cp->hs_at_ms = loop_now_ms();
	log_debug("%s: channel handshake sent", cp->full);
}

/* Initiator: the responder's key and its confirmation, a sealed empty
 * result that only the holder of the pinned key could have made. */
static void
hs_finish(struct chan *c, struct cpeer *cp, xmpp_stanza_t *q)
{
	xmpp_ctx_t *ctx = xmpp_conn_get_context(c->conn);
	const char *conf = q ? xmpp_stanza_get_attribute(q, "confirm") : NULL;
	struct crypto_channel *ch = NULL;
	char *plain = NULL;
	size_t len = 0;
	uint8_t e[32];

	if (q == NULL || conf == NULL ||
	    stanza_b64_decode_exact(ctx, xmpp_stanza_get_attribute(q, "e"), e,
	    32) < 0 || crypto_handshake_finish(cp->hs, e, &ch) < 0) {
		log_warn("%s: malformed channel handshake answer", cp->full);
		goto fail;
	}
	if (crypto_channel_open(ch, "result", cp->hs_id, conf, &plain,
	    &len) < 0 || len != 0) {
		log_error("%s: channel handshake does not verify against its "
		    "pinned key; no sync traffic with it", cp->full);
		goto fail;
	}
	free(plain);
	crypto_handshake_free(cp->hs);
	cp->hs = NULL;
	cp->hs_id[0] = '\0';
	peer_install(c, cp, ch);
	return;
fail:
	free(plain);
	crypto_channel_free(ch);
	crypto_handshake_free(cp->hs);
	cp->hs = NULL;
	cp->hs_id[0] = '\0';
	cp->retry_at_ms = loop_now_ms() + HS_FAIL_MS;
}

static int
on_hs_answer(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	struct chan *c = arg;
	const char *id = xmpp_stanza_get_id(st), *type = xmpp_stanza_get_type(st);
	struct cpeer *cp = NULL;

	(void)conn;
	if (type == NULL || (strcmp(type, "result") != 0 &&
	    strcmp(type, "error") != 0))
		return 1;
	for (size_t i = 0; i < c->n && id; i++)
		if (c->v[i]->hs && strcmp(c->v[i]->hs_id, id) == 0)
			cp = c->v[i];
	if (cp == NULL)
		return 0;	/* dropped meanwhile */
	if (!same_jid(xmpp_stanza_get_from(st), cp->full))
		return 1;
	if (strcmp(type, "error") == 0) {
		log_debug("%s did not take our channel handshake yet; again in "
		    "%d s", cp->full, HS_RETRY_MS / 1000);
		crypto_handshake_free(cp->hs);
		cp->hs = NULL;
		cp->hs_id[0] = '\0';
		cp->retry_at_ms = loop_now_ms() + HS_RETRY_MS;
		return 0;
	}
	hs_finish(c, cp, xmpp_stanza_get_child_by_ns(st, NS_XS_CHANNEL));
	return 0;
}

/* Responder: only a peer whose pinned key peer.c saw proven at this full
 * JID; the handshake proves the same keys again. */
static void
on_handshake(xmpp_conn_t *conn, xmpp_stanza_t *iq, xmpp_stanza_t *q,
    void *arg)
{
	struct chan *c = arg;
	xmpp_ctx_t *ctx = xmpp_conn_get_context(conn);
	const char *from = xmpp_stanza_get_from(iq), *id = xmpp_stanza_get_id(iq);
	uint8_t x[32], ed[32], e[32], er[32];
	struct crypto_channel *ch = NULL;
	struct cpeer *cp;
	char b64[64], *conf = NULL, me[1024];
	xmpp_stanza_t *r, *h;

	if (is_initiator(c) || !peers_trusted(c->peers, from) ||
	    peers_keys(c->peers, from, x, ed) < 0 ||
	    (cp = peer_at(c, from)) == NULL) {
		log_debug("channel handshake from %s refused: not a peer whose "
		    "key we saw proven", from ? from : "(no sender)");
		stanza_send_iq_error(conn, iq, "wait", "not-authorized", NULL,
		    NULL, NULL);
		return;
	}
	if (strcmp(xmpp_stanza_get_type(iq), "set") != 0 ||
	    strcmp(xmpp_stanza_get_name(q), "handshake") != 0 ||
	    stanza_b64_decode_exact(ctx, xmpp_stanza_get_attribute(q, "e"), e,
	    32) < 0 ||
	    crypto_handshake_respond(c->id, x, me_bare(c, me, sizeof(me)),
	    cp->bare, e, er, &ch) < 0 ||
	    crypto_channel_seal(ch, "result", id, "", 0, &conf) < 0) {
		crypto_channel_free(ch);
		stanza_send_iq_error(conn, iq, "modify", "bad-request", NULL,
		    NULL, NULL);
		return;
	}
	crypto_base64_encode(er, sizeof(er), b64, sizeof(b64));
	if ((r = stanza_iq_result(ctx, iq)) != NULL &&
	    (h = stanza_add_child(ctx, r, "handshake", NS_XS_CHANNEL))) {
		xmpp_stanza_set_attribute(h, "e", b64);
		xmpp_stanza_set_attribute(h, "confirm", conf);
		xmpp_send(conn, r);
	}
	if (r)
		xmpp_stanza_release(r);
	free(conf);
	peer_install(c, cp, ch);
}

/* ---- sealing ----------------------------------------------------------- */

/* A copy of iq's addressing (type, id, to, from) with one child <sealed/>
 * holding payload (may be NULL: an empty message) sealed under ch.
 * Returns the new stanza or NULL (logged). */
static xmpp_stanza_t *
seal_iq(struct crypto_channel *ch, xmpp_ctx_t *ctx, xmpp_stanza_t *iq,
    xmpp_stanza_t *payload)
{
	const char *type = xmpp_stanza_get_type(iq), *id = xmpp_stanza_get_id(iq);
	char *text = NULL, *b64 = NULL;
	size_t len = 0;
	xmpp_stanza_t *out = NULL, *s, *t, *e;
	int rc;

	if (payload && xmpp_stanza_to_text(payload, &text, &len) != 0) {
		log_error("cannot serialize a stanza to seal it");
		return NULL;
	}
	rc = crypto_channel_seal(ch, type, id, text ? text : "", len, &b64);
	if (text)
		xmpp_free(ctx, text);
	if (rc < 0) {
		log_error("cannot seal a %s stanza: %s", type, strerror(-rc));
		return NULL;
	}
	if ((out = xmpp_iq_new(ctx, type, id)) == NULL ||
	    (s = stanza_add_child(ctx, out, "sealed", NS_XS_SEALED)) == NULL ||
	    (t = xmpp_stanza_new(ctx)) == NULL) {
		if (out)
			xmpp_stanza_release(out);
		free(b64);
		return NULL;
	}
	xmpp_stanza_set_text(t, b64);
	xmpp_stanza_add_child(s, t);
	xmpp_stanza_release(t);
	free(b64);
	if (xmpp_stanza_get_to(iq))
		xmpp_stanza_set_to(out, xmpp_stanza_get_to(iq));
	/* an error says no more than that, in clear, as RFC 6120 wants an
	 * <error/>; the real one is inside */
	if (strcmp(type, "error") == 0 &&
	    (e = stanza_add_child(ctx, out, "error", NULL)) != NULL) {
		xmpp_stanza_set_type(e, "cancel");
		stanza_add_child(ctx, e, "undefined-condition", NS_STANZAS);
	}
	return out;
}

/* The plaintext as exactly one element: libstrophe's parser stops after
 * the first, so it reads the text inside a wrapper and wants one element
 * child and nothing else. Returns the element (a reference) or NULL. */
static xmpp_stanza_t *
one_element(xmpp_ctx_t *ctx, const char *plain, size_t len)
{
	static const char open[] = "<w>", close[] = "</w>";
	char *buf = malloc(len + sizeof(open) + sizeof(close));
	xmpp_stanza_t *w, *c, *el = NULL;
	int n = 0;

	if (buf == NULL)
		return NULL;
	memcpy(buf, open, sizeof(open) - 1);
	memcpy(buf + sizeof(open) - 1, plain, len);
	memcpy(buf + sizeof(open) - 1 + len, close, sizeof(close));
	w = xmpp_stanza_new_from_string(ctx, buf);
	free(buf);
	if (w == NULL)
		return NULL;
	for (c = xmpp_stanza_get_children(w); c; c = xmpp_stanza_get_next(c)) {
		n++;
		el = c;
	}
	if (n != 1 || !xmpp_stanza_is_tag(el))
		el = NULL;
	else
		el = xmpp_stanza_copy(el);
	xmpp_stanza_release(w);
	return el;
}

int
chan_unseal(xmpp_ctx_t *ctx, struct crypto_channel *cur,
    struct crypto_channel *prev, xmpp_stanza_t *st, xmpp_stanza_t **out_st,
    const char **why)
{
	const char *type = xmpp_stanza_get_type(st), *id = xmpp_stanza_get_id(st);
	xmpp_stanza_t *sealed = xmpp_stanza_get_child_by_ns(st, NS_XS_SEALED);
	char *b64 = sealed ? xmpp_stanza_get_text(sealed) : NULL, *plain = NULL;
	struct crypto_channel *ch = NULL;
	xmpp_stanza_t *out = NULL, *inner = NULL;
	size_t len = 0;
	int rc = -ESTALE;

	*out_st = NULL;
	if (b64 && cur && crypto_channel_owns(cur, b64))
		ch = cur;
	else if (b64 && prev && crypto_channel_owns(prev, b64))
		ch = prev;
	if (ch && type)
		rc = crypto_channel_open(ch, type, id, b64, &plain, &len);
	else if (ch)
		rc = -EBADMSG;
	if (b64)
		xmpp_free(ctx, b64);
	*why = rc == -ESTALE ? "no such session" : rc < 0 ?
	    "it does not authenticate (altered, replayed or misdirected)" : NULL;
	if (rc < 0)
		return rc == -ESTALE ? -ESTALE : -EBADMSG;
	rc = -EINVAL;
	if (len > 0 && (strlen(plain) != len ||
	    (inner = one_element(ctx, plain, len)) == NULL)) {
		*why = "its content is not one XML element";
		goto out;
	}
	if ((out = xmpp_iq_new(ctx, type, id)) == NULL) {
		*why = "out of memory";
		rc = -ENOMEM;
		goto out;
	}
	if (xmpp_stanza_get_from(st))
		xmpp_stanza_set_from(out, xmpp_stanza_get_from(st));
	if (xmpp_stanza_get_to(st))
		xmpp_stanza_set_to(out, xmpp_stanza_get_to(st));
	if (inner)
		xmpp_stanza_add_child(out, inner);
	*out_st = out;
	rc = 0;
out:
	if (inner)
		xmpp_stanza_release(inner);
	free(plain);
	return rc;
}

/* Opens the <sealed/> child of st from cp (chan_unseal()). Returns the
 * opened stanza, or NULL with *why set. */
static xmpp_stanza_t *
open_iq(struct cpeer *cp, xmpp_ctx_t *ctx, xmpp_stanza_t *st,
    const char **why)
{
	xmpp_stanza_t *out = NULL;

	chan_unseal(ctx, cp->cur, cp->prev, st, &out, why);
	return out;
}

static int answer(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg);

int
chan_send(struct chan *c, xmpp_stanza_t *iq, xmpp_handler h, void *arg)
{
	const char *to = xmpp_stanza_get_to(iq), *id = xmpp_stanza_get_id(iq);
	struct cpeer *cp = c->conn ? peer_up(c, to) : NULL;
	xmpp_stanza_t *out;

	if (cp == NULL || id == NULL) {
		log_debug("not sending to %s: no sealed channel with it",
		    to ? to : "(nobody)");
		xmpp_stanza_release(iq);
		return -ENOTCONN;
	}
	out = seal_iq(cp->cur, xmpp_conn_get_context(c->conn), iq,
	    stanza_first_element(iq));
	xmpp_stanza_release(iq);
	if (out == NULL)
		return -EIO;
	if (h && (c->npend == MAX_PENDING || util_grow(&c->pend, c->npend + 1,
	    &c->cappend, 16) < 0)) {
		xmpp_stanza_release(out);
		return -ENOMEM;
	}
	if (h) {
		struct pending *p = &c->pend[c->npend++];
		snprintf(p->id, sizeof(p->id), "%s", xmpp_stanza_get_id(out));
		snprintf(p->full, sizeof(p->full), "%s", cp->full);
		p->h = h;
		p->arg = arg;
		if (service_expect(c->svc, p->id, answer, c) < 0) {
			c->npend--;
			xmpp_stanza_release(out);
			return -ENOMEM;
		}
	}
	xmpp_send(c->conn, out);
	xmpp_stanza_release(out);
	return 0;
}

void
chan_cancel(struct chan *c, const char *id)
{
	for (size_t i = 0; i < c->npend; i++)
		if (strcmp(c->pend[i].id, id) == 0) {
			pending_drop(c, i);
			return;
		}
}

/* An answer that could not be taken, as the handler sees it: an error. */
static xmpp_stanza_t *
refused_answer(xmpp_ctx_t *ctx, xmpp_stanza_t *st)
{
	xmpp_stanza_t *r = xmpp_iq_new(ctx, "error", xmpp_stanza_get_id(st)), *e;

	if (r == NULL)
		return NULL;
	if (xmpp_stanza_get_from(st))
		xmpp_stanza_set_from(r, xmpp_stanza_get_from(st));
	if ((e = stanza_add_child(ctx, r, "error", NULL)) != NULL) {
		xmpp_stanza_set_type(e, "cancel");
		stanza_add_child(ctx, e, "not-acceptable", NS_STANZAS);
	}
	return r;
}

/* What the service calls with the answer to every sealed request we sent
 * (service_expect()): opens it and hands it to the sender's handler. */
static int
answer(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	struct chan *c = arg;
	xmpp_ctx_t *ctx = xmpp_conn_get_context(conn);
	const char *id = xmpp_stanza_get_id(st), *type = xmpp_stanza_get_type(st);
	const char *from = xmpp_stanza_get_from(st), *why = NULL;
	xmpp_stanza_t *sealed, *opened = NULL;
	struct cpeer *cp;
	struct pending p;
	size_t i;

	if (type == NULL || (strcmp(type, "result") != 0 &&
	    strcmp(type, "error") != 0))
		return 1;	/* a request that happens to use the id */
	for (i = 0; i < c->npend && id; i++)
		if (strcmp(c->pend[i].id, id) == 0)
			break;
	if (id == NULL || i == c->npend)
		return 0;
	if (!same_jid(from, c->pend[i].full))
		return 1;	/* not from whom we asked */
	p = c->pend[i];
	c->pend[i] = c->pend[--c->npend];
	cp = peer_at(c, from);
	sealed = xmpp_stanza_get_child_by_ns(st, NS_XS_SEALED);
	if (sealed && cp)
		opened = open_iq(cp, ctx, st, &why);
	else if (strcmp(type, "error") == 0)
		opened = xmpp_stanza_clone(st);	/* the server's, or a refusal */
	else
		why = "it is not sealed";
	if (opened == NULL) {
		log_warn("refused an answer from %s: %s", from,
		    why ? why : "no channel");
		opened = refused_answer(ctx, st);
	}
	if (opened) {
		p.h(conn, opened, p.arg);
		xmpp_stanza_release(opened);
	}
	/* the peer no longer knows our session (it restarted): a new one */
	if (cp && is_initiator(c) && strcmp(type, "error") == 0 && !sealed &&
	    xmpp_stanza_get_child_by_name(st, "error") &&
	    xmpp_stanza_get_child_by_ns(xmpp_stanza_get_child_by_name(st,
	    "error"), NS_XS_CHANNEL) && cp->up) {
		log_info("%s: it lost our channel; a new handshake", cp->full);
		peer_down(c, cp);
	}
	return 0;
}

void
chan_reply(struct chan *c, xmpp_stanza_t *req, xmpp_stanza_t *reply)
{
	const char *to = xmpp_stanza_get_from(req);
	struct cpeer *cp = c->conn ? peer_up(c, to) : NULL;
	xmpp_stanza_t *out;

	if (cp == NULL) {
		log_debug("answer to %s dropped: the channel went away", to);
		return;
	}
	if ((out = seal_iq(cp->cur, xmpp_conn_get_context(c->conn), reply,
	    stanza_first_element(reply))) == NULL)
		return;
	xmpp_send(c->conn, out);
	xmpp_stanza_release(out);
}

void
chan_reply_error(struct chan *c, xmpp_stanza_t *req, const char *type,
    const char *cond)
{
	xmpp_stanza_t *r;

	if (c->conn == NULL || (r = stanza_iq_error(xmpp_conn_get_context(c->conn),
	    req, type, cond, NULL, NULL, NULL)) == NULL)
		return;
	chan_reply(c, req, r);
	xmpp_stanza_release(r);
}

/* A sealed request: opened, then handed to the sealed-only routes. */
static void
on_sealed(xmpp_conn_t *conn, xmpp_stanza_t *iq, xmpp_stanza_t *q, void *arg)
{
	struct chan *c = arg;
	const char *from = xmpp_stanza_get_from(iq), *why = NULL;
	struct cpeer *cp = peer_up(c, from);
	xmpp_stanza_t *opened, *inner;

	if (cp == NULL) {
		log_warn("refused a sealed request from %s: no channel with it",
		    from ? from : "(no sender)");
		stanza_send_iq_error(conn, iq, "cancel", "not-acceptable",
		    "no-session", NS_XS_CHANNEL, NULL);
		return;
	}
	(void)q;
	if ((opened = open_iq(cp, xmpp_conn_get_context(conn), iq,
	    &why)) == NULL) {
		log_warn("refused a sealed request from %s: %s", from, why);
		if (why && strcmp(why, "no such session") == 0)
			stanza_send_iq_error(conn, iq, "cancel",
			    "not-acceptable", "no-session", NS_XS_CHANNEL, NULL);
		else
			stanza_send_iq_error(conn, iq, "modify", "bad-request",
			    NULL, NULL, NULL);
		return;
	}
	inner = stanza_first_element(opened);
	if (inner == NULL || service_dispatch_sealed(c->svc, conn, opened,
	    inner) < 0) {
		log_warn("refused a sealed request from %s: nothing here takes "
		    "%s", from, inner && xmpp_stanza_get_ns(inner) ?
		    xmpp_stanza_get_ns(inner) : "an empty one");
		chan_reply_error(c, opened, "cancel", "service-unavailable");
	}
	xmpp_stanza_release(opened);
}

/* ---- trust, connection, time ------------------------------------------- */

void
chan_peer_trust(void *arg, const char *bare, const char *full, int trusted)
{
	struct chan *c = arg;
	struct cpeer *cp = peer_find(c, bare, trusted);

	if (cp == NULL)
		return;
	if (!trusted) {
		peer_down(c, cp);
		cp->full[0] = '\0';
		return;
	}
	if (cp->full[0] && strcmp(cp->full, full) != 0)
		peer_down(c, cp);	/* another session of the peer */
	snprintf(cp->full, sizeof(cp->full), "%s", full);
	cp->retry_at_ms = 0;
	if (is_initiator(c) && c->conn)
		hs_start(c, cp);
}

void
chan_online(struct chan *c, xmpp_conn_t *conn)
{
	c->conn = conn;
	service_route(c->svc, NS_XS_CHANNEL, on_handshake, c);
	service_route(c->svc, NS_XS_SEALED, on_sealed, c);
}

void
chan_offline(struct chan *c)
{
	for (size_t i = 0; i < c->n; i++) {
		peer_down(c, c->v[i]);
		c->v[i]->full[0] = '\0';
	}
	while (c->npend)
		pending_drop(c, c->npend - 1);
	c->conn = NULL;
}

void
chan_tick(struct chan *c)
{
	int64_t now = loop_now_ms();

	if (c->conn == NULL || !is_initiator(c))
		return;
	for (size_t i = 0; i < c->n; i++) {
		struct cpeer *cp = c->v[i];
		if (cp->full[0] == '\0' || !peers_trusted(c->peers, cp->full))
			continue;
		if (cp->hs && now - cp->hs_at_ms > HS_TIMEOUT_MS) {
			log_warn("%s did not answer our channel handshake; "
			    "again", cp->full);
			crypto_handshake_free(cp->hs);
			cp->hs = NULL;
			service_forget(c->svc, cp->hs_id);
			cp->hs_id[0] = '\0';
		}
		if (cp->hs == NULL && now >= cp->retry_at_ms &&
		    (cp->cur == NULL || crypto_channel_needs_rekey(cp->cur)))
			hs_start(c, cp);
	}
}

int
chan_up(struct chan *c, const char *full)
{
	return peer_up(c, full) != NULL;
}

/* xmpp/peer.c -- see xmpp.h */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "agent/crypto/crypto.h"
#include "agent/json.h"
#include "agent/log.h"
#include "agent/xmpp/xmpp.h"
#include "store/store.h"

#define MAX_PEERS 1024
#define NONCE_LEN 16
#define PAIR_CONTEXT "xmpp-sync pair 0"

struct peer {
	char jid[1024];          /* bare */
	char full[1100];         /* full JID while online, else "" */
	enum peer_key key;
	int proven;              /* key proven since it came online */
	int has_pin;
	uint8_t x25519[CRYPTO_KEY_LEN], ed25519[CRYPTO_KEY_LEN];
	uint8_t nonce[NONCE_LEN];
	char pair_id[40];        /* outstanding identity query, or "" */
	char *expected_fpr;      /* from slave add --fingerprint, or NULL */
	int64_t last_seen, last_sync, backlog;
};

struct peers {
	const struct cfg *cfg;
	struct store *st;
	const struct crypto_identity *id;
	xmpp_conn_t *conn;       /* while online, else NULL */
	struct service *svc;     /* while online, else NULL */
	struct peer *v[MAX_PEERS];
	size_t n;
	unsigned seq;
	peers_trust_cb cb;
	void *cb_arg;
};

void
peers_set_listener(struct peers *p, peers_trust_cb cb, void *arg)
{
	p->cb = cb;
	p->cb_arg = arg;
}

/* Tells the listener that pe lost the trust it had. */
static void
untrust(struct peers *p, struct peer *pe)
{
	if (pe->proven && p->cb)
		p->cb(p->cb_arg, pe->jid, pe->full[0] ? pe->full : NULL, 0);
	pe->proven = 0;
}

static void
trust(struct peers *p, struct peer *pe)
{
	pe->proven = 1;
	if (p->cb)
		p->cb(p->cb_arg, pe->jid, pe->full, 1);
}

const char *
peer_key_name(enum peer_key k)
{
	switch (k) {
	case PEER_KEY_UNVERIFIED: return "unverified";
	case PEER_KEY_PINNED: return "pinned";
	case PEER_KEY_CHANGED: return "CHANGED";
	case PEER_KEY_MISMATCH: return "MISMATCH";
	}
	return "?";
}

/* The peer a sender belongs to. A peer registered by full JID (one daemon
 * of an account that runs several) wins over one registered by the bare
 * JID of the same account, so a message meant for one folder never reaches
 * the other. */
static struct peer *
find(const struct peers *p, const char *jid)
{
	for (int full = 1; full >= 0; full--)
		for (size_t i = 0; i < p->n; i++)
			if ((strchr(p->v[i]->jid, '/') != NULL) == full &&
			    stanza_jid_is_peer(jid, p->v[i]->jid))
				return p->v[i];
	return NULL;
}

static void
load_pin(struct peers *p, struct peer *pe)
{
	struct store_peer_key k;

	if (store_peer_key_load(p->st, pe->jid, &k) < 0)
		return;
	pe->has_pin = 1;
	memcpy(pe->x25519, k.x25519, sizeof(pe->x25519));
	memcpy(pe->ed25519, k.ed25519, sizeof(pe->ed25519));
	pe->key = k.changed ? PEER_KEY_CHANGED : PEER_KEY_PINNED;
}

static struct peer *
add_peer(struct peers *p, const char *jid, const char *fpr)
{
	struct peer *pe;

	if (p->n == MAX_PEERS) {
		log_error("more than %d peers: %s ignored", MAX_PEERS, jid);
		return NULL;
	}
	if ((pe = calloc(1, sizeof(*pe))) == NULL)
		return NULL;
	snprintf(pe->jid, sizeof(pe->jid), "%s", jid);
	pe->expected_fpr = fpr ? strdup(fpr) : NULL;
	load_pin(p, pe);
	p->v[p->n++] = pe;
	return pe;
}

static void
drop_peer(struct peers *p, size_t i)
{
	untrust(p, p->v[i]);
	free(p->v[i]->expected_fpr);
	free(p->v[i]);
	p->v[i] = p->v[--p->n];
}

/* Refreshes what the store knows of a slave: key state, sync progress. */
static int
refresh_slave(const struct store_slave *sl, void *arg)
{
	struct peers *p = arg;
	struct peer *pe = find(p, sl->jid);

	if (pe == NULL)
		return 0;
	pe->last_sync = sl->last_sync;
	if (sl->last_seen > pe->last_seen)
		pe->last_seen = sl->last_seen;
	if (sl->key_state == STORE_KEY_CHANGED)
		pe->key = PEER_KEY_CHANGED;
	store_outbox_count(p->st, sl->jid, &pe->backlog);
	return 0;
}

int
peers_new(const struct cfg *cfg, struct store *st,
    const struct crypto_identity *id, struct peers **out)
{
	struct peers *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return -ENOMEM;
	p->cfg = cfg;
	p->st = st;
	p->id = id;
	if (cfg->role == CFG_ROLE_SLAVE && add_peer(p, cfg->master, NULL) == NULL) {
		free(p);
		return -ENOMEM;
	}
	*out = p;
	if (cfg->role == CFG_ROLE_MASTER)
		peers_reload(p);
	return 0;
}

void
peers_free(struct peers *p)
{
	if (p == NULL)
		return;
	/* teardown is not a loss of trust: whoever listened may already be
	 * gone (the daemon frees the mirror first) */
	p->cb = NULL;
	if (p->svc)	/* freed after us: it must not ask us any more */
		service_set_gate(p->svc, NULL, NULL);
	while (p->n)
		drop_peer(p, 0);
	free(p);
}

/* Presence to `to` (NULL: initial presence) of `type` (NULL: available);
 * answer: it answers the peer's own, <answer xmlns=NS_XS_PAIR/> says so. */
static void
send_presence(struct peers *p, const char *to, const char *type, int answer)
{
	xmpp_ctx_t *ctx = xmpp_conn_get_context(p->conn);
	xmpp_stanza_t *pr = xmpp_presence_new(ctx);

	if (pr == NULL)
		return;
	if (to)
		xmpp_stanza_set_to(pr, to);
	if (type)
		xmpp_stanza_set_type(pr, type);
	if (answer && stanza_add_child(ctx, pr, "answer", NS_XS_PAIR) == NULL) {
		xmpp_stanza_release(pr);
		return;
	}
	xmpp_send(p->conn, pr);
	xmpp_stanza_release(pr);
}

/* The byte string an identity answer signs (see xmpp.h). Returns its
 * length, or 0 if it does not fit. */
static size_t
pair_statement(uint8_t *buf, size_t cap, const char *responder,
    const char *requester, const uint8_t nonce[NONCE_LEN],
    const uint8_t *x25519, const uint8_t *ed25519)
{
	size_t a = sizeof(PAIR_CONTEXT), b = strlen(responder) + 1,
	    c = strlen(requester) + 1, n = a + b + c + NONCE_LEN + 64;

	if (n > cap)
		return 0;
	memcpy(buf, PAIR_CONTEXT, a);
	memcpy(buf + a, responder, b);
	memcpy(buf + a + b, requester, c);
	memcpy(buf + a + b + c, nonce, NONCE_LEN);
	memcpy(buf + a + b + c + NONCE_LEN, x25519, 32);
	memcpy(buf + a + b + c + NONCE_LEN + 32, ed25519, 32);
	return n;
}

static int on_pair_result(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg);

/* Asks a peer that just came online to prove its identity key. */
static void
start_pairing(struct peers *p, struct peer *pe)
{
	xmpp_ctx_t *ctx = xmpp_conn_get_context(p->conn);
	char nonce64[64];
	xmpp_stanza_t *iq, *q;

	if (pe->pair_id[0] || pe->full[0] == '\0')
		return;
	if (getrandom(pe->nonce, NONCE_LEN, 0) != NONCE_LEN)
		return;
	crypto_base64_encode(pe->nonce, NONCE_LEN, nonce64, sizeof(nonce64));
	snprintf(pe->pair_id, sizeof(pe->pair_id), "pair-%02x%02x%02x%02x-%u",
	    pe->nonce[0], pe->nonce[1], pe->nonce[2], pe->nonce[3], ++p->seq);
	if ((iq = xmpp_iq_new(ctx, "get", pe->pair_id)) == NULL)
		return;
	xmpp_stanza_set_to(iq, pe->full);
	if ((q = stanza_add_child(ctx, iq, "identity", NS_XS_PAIR)))
		xmpp_stanza_set_attribute(q, "nonce", nonce64);
	if (service_expect(p->svc, pe->pair_id, on_pair_result, p) < 0) {
		pe->pair_id[0] = '\0';
		xmpp_stanza_release(iq);
		return;
	}
	xmpp_send(p->conn, iq);
	xmpp_stanza_release(iq);
	log_debug("asked %s to prove its identity key", pe->full);
}

/* Answers an identity query: only to our peers. */
static void
on_pair_query(xmpp_conn_t *conn, xmpp_stanza_t *iq, xmpp_stanza_t *q,
    void *arg)
{
	struct peers *p = arg;
	xmpp_ctx_t *ctx = xmpp_conn_get_context(conn);
	const char *from = xmpp_stanza_get_from(iq);
	const uint8_t *x = crypto_identity_x25519_get(p->id);
	const uint8_t *e = crypto_identity_ed25519_get(p->id);
	uint8_t nonce[NONCE_LEN], stmt[4200], sig[CRYPTO_SIG_LEN];
	char req[1100], b64[3][140];
	xmpp_stanza_t *r, *id;
	size_t n;

	if (from == NULL || !peers_known(p, from)) {
		log_warn("refused an identity query from %s: not %s",
		    from ? from : "(no sender)", p->cfg->role == CFG_ROLE_SLAVE ?
		    "our master" : "a registered slave");
		stanza_send_iq_error(conn, iq, "auth", "forbidden", NULL, NULL, NULL);
		return;
	}
	if (strcmp(xmpp_stanza_get_type(iq), "get") != 0 ||
	    strcmp(xmpp_stanza_get_name(q), "identity") != 0 ||
	    stanza_b64_decode_exact(ctx, xmpp_stanza_get_attribute(q, "nonce"),
	    nonce, NONCE_LEN) < 0 || stanza_bare_jid(from, req, sizeof(req)) < 0) {
		stanza_send_iq_error(conn, iq, "modify", "bad-request", NULL, NULL,
		    "want <identity nonce='16 bytes of base64'/>");
		return;
	}
	n = pair_statement(stmt, sizeof(stmt), p->cfg->jid, req, nonce, x, e);
	if (n == 0 || crypto_sign(p->id, stmt, n, sig) < 0) {
		stanza_send_iq_error(conn, iq, "wait", "internal-server-error",
		    NULL, NULL, NULL);
		return;
	}
	crypto_base64_encode(x, 32, b64[0], sizeof(b64[0]));
	crypto_base64_encode(e, 32, b64[1], sizeof(b64[1]));
	crypto_base64_encode(sig, sizeof(sig), b64[2], sizeof(b64[2]));
	if ((r = stanza_iq_result(ctx, iq)) == NULL)
		return;
	if ((id = stanza_add_child(ctx, r, "identity", NS_XS_PAIR))) {
		xmpp_stanza_set_attribute(id, "x25519", b64[0]);
		xmpp_stanza_set_attribute(id, "ed25519", b64[1]);
		xmpp_stanza_set_attribute(id, "sig", b64[2]);
	}
	xmpp_send(conn, r);
	xmpp_stanza_release(r);
}

/* Decides what a proven key means: first contact, the expected one, the
 * pinned one, or a change. */
static void
judge_key(struct peers *p, struct peer *pe, const uint8_t x[32],
    const uint8_t e[32])
{
	char fpr[CRYPTO_FPR_SIZE], old[CRYPTO_FPR_SIZE];

	crypto_fingerprint(x, e, fpr, sizeof(fpr));
	if (pe->has_pin) {
		if (memcmp(x, pe->x25519, 32) == 0 && memcmp(e, pe->ed25519, 32) == 0) {
			if (pe->key == PEER_KEY_CHANGED) {
				/* an earlier change is not forgotten by a
				 * return to the old key: the operator decides */
				log_error("%s: key state is CHANGED; traffic stays "
				    "stopped until the operator acts", pe->jid);
				return;
			}
			pe->key = PEER_KEY_PINNED;
			log_info("%s proved its pinned key (%s)", pe->full, fpr);
			trust(p, pe);
			return;
		}
		crypto_fingerprint(pe->x25519, pe->ed25519, old, sizeof(old));
		pe->key = PEER_KEY_CHANGED;
		untrust(p, pe);
		store_peer_key_mark_changed(p->st, pe->jid, x, e);
		log_error("KEY CHANGED: %s now presents key %s, but %s is pinned; "
		    "ALL TRAFFIC WITH %s IS STOPPED. If the change is expected, %s",
		    pe->jid, fpr, old, pe->jid, p->cfg->role == CFG_ROLE_MASTER ?
		    "run: xmpp-sync slave remove JID && xmpp-sync slave add JID "
		    "--fingerprint NEW" : "run on this slave: xmpp-sync forget JID");
		return;
	}
	if (pe->expected_fpr) {
		int m = crypto_fingerprint_match(pe->expected_fpr, x, e);
		if (m != 0) {
			pe->key = PEER_KEY_MISMATCH;
			log_error("%s presents key %s, not the fingerprint given at "
			    "slave add (%s); refusing it", pe->jid, fpr,
			    pe->expected_fpr);
			return;
		}
	}
	if (store_peer_key_pin(p->st, pe->jid, x, e) < 0)
		return;
	pe->has_pin = 1;
	memcpy(pe->x25519, x, 32);
	memcpy(pe->ed25519, e, 32);
	pe->key = PEER_KEY_PINNED;
	log_info("pinned the key of %s: %s (%s)", pe->jid, fpr,
	    pe->expected_fpr ? "matches the fingerprint given" :
	    "trust on first use");
	trust(p, pe);
}

static int
on_pair_result(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	struct peers *p = arg;
	xmpp_ctx_t *ctx = xmpp_conn_get_context(conn);
	const char *id = xmpp_stanza_get_id(st), *type = xmpp_stanza_get_type(st);
	uint8_t x[32], e[32], sig[CRYPTO_SIG_LEN], stmt[4200];
	char bare[1100];
	struct peer *pe = NULL;
	xmpp_stanza_t *q;
	size_t n;

	/* an id handler sees every stanza with that id, also a peer's own
	 * request that happens to use it: only results and errors count */
	if (type == NULL || (strcmp(type, "result") != 0 && strcmp(type, "error") != 0))
		return 1;
	for (size_t i = 0; i < p->n && id; i++)
		if (strcmp(p->v[i]->pair_id, id) == 0)
			pe = p->v[i];
	if (pe == NULL)
		return 0; /* the peer was removed meanwhile */
	pe->pair_id[0] = '\0';
	if (!stanza_jid_is_peer(xmpp_stanza_get_from(st), pe->jid) ||
	    stanza_bare_jid(pe->jid, bare, sizeof(bare)) < 0)
		return 0;
	if (type && strcmp(type, "error") == 0) {
		log_warn("%s refused to prove its identity key (is it an "
		    "xmpp-sync agent that knows us?)", pe->jid);
		return 0;
	}
	q = xmpp_stanza_get_child_by_ns(st, NS_XS_PAIR);
	if (q == NULL ||
	    stanza_b64_decode_exact(ctx, xmpp_stanza_get_attribute(q, "x25519"), x, 32) < 0 ||
	    stanza_b64_decode_exact(ctx, xmpp_stanza_get_attribute(q, "ed25519"), e, 32) < 0 ||
	    stanza_b64_decode_exact(ctx, xmpp_stanza_get_attribute(q, "sig"), sig, sizeof(sig)) < 0) {
		log_warn("%s sent a malformed identity answer", pe->jid);
		return 0;
	}
	n = pair_statement(stmt, sizeof(stmt), bare, p->cfg->jid, pe->nonce, x, e);
	if (n == 0 || crypto_verify(e, stmt, n, sig) < 0) {
		log_error("%s: identity proof does not verify; ignoring it", pe->jid);
		return 0;
	}
	judge_key(p, pe, x, e);
	return 0;
}

/* The answer to our disco#info query: says what the peer can do. */
static int
on_peer_disco(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	static const char *const want[] = {NS_XS_PAIR, NS_XS_META, NS_XS_JET,
	    "urn:xmpp:jingle:1", "urn:xmpp:jingle:apps:file-transfer:5"};
	const char *from = xmpp_stanza_get_from(st), *type = xmpp_stanza_get_type(st);
	xmpp_stanza_t *q = xmpp_stanza_get_child_by_ns(st, NS_DISCO_INFO);

	(void)conn;
	(void)arg;
	if (type == NULL || (strcmp(type, "result") != 0 && strcmp(type, "error") != 0))
		return 1; /* not the answer: keep waiting */
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int found = 0;
		for (xmpp_stanza_t *f = q ? xmpp_stanza_get_children(q) : NULL;
		    f && !found; f = xmpp_stanza_get_next(f)) {
			const char *var = xmpp_stanza_is_tag(f) ?
			    xmpp_stanza_get_attribute(f, "var") : NULL;
			found = var && strcmp(var, want[i]) == 0;
		}
		if (!found) {
			log_warn("%s does not advertise %s: is it an xmpp-sync agent "
			    "of a compatible version?", from ? from : "peer", want[i]);
			return 0;
		}
	}
	log_debug("%s advertises every feature we need", from ? from : "peer");
	return 0;
}

/* Asks a peer what it supports (XEP-0030). */
static void
query_disco(struct peers *p, struct peer *pe)
{
	xmpp_ctx_t *ctx = xmpp_conn_get_context(p->conn);
	char id[64];
	xmpp_stanza_t *iq;

	snprintf(id, sizeof(id), "disco-%u-%u", (unsigned)getpid(), ++p->seq);
	if ((iq = xmpp_iq_new(ctx, "get", id)) == NULL)
		return;
	xmpp_stanza_set_to(iq, pe->full);
	stanza_add_child(ctx, iq, "query", NS_DISCO_INFO);
	if (service_expect(p->svc, id, on_peer_disco, p) < 0) {
		xmpp_stanza_release(iq);
		return;
	}
	xmpp_send(p->conn, iq);
	xmpp_stanza_release(iq);
}

int
peers_presence_plan(const char *known, const char *from, int answer)
{
	int plan = PEERS_PRES_ONLINE;

	if (answer)
		return plan;
	plan |= PEERS_PRES_ANSWER;
	if (known && known[0] && from && strcmp(known, from) == 0)
		plan |= PEERS_PRES_RESET;
	return plan;
}

static void
peer_came_online(struct peers *p, struct peer *pe, const char *from,
    int answer)
{
	int was = pe->full[0] != '\0';

	/* a peer that (re)appears may have missed our directed presence */
	if (answer)
		send_presence(p, from, NULL, 1);
	if (was && strcmp(pe->full, from) != 0) {
		untrust(p, pe); /* another session: it proves its key again */
		if (strchr(pe->jid, '/') == NULL)
			log_warn("%s is online as %s, then as %s: if that account "
			    "runs more than one xmpp-sync daemon, name the one for "
			    "this folder by its full JID (%s/RESOURCE)", pe->jid,
			    pe->full, from, pe->jid);
	}
	snprintf(pe->full, sizeof(pe->full), "%s", from);
	pe->last_seen = time(NULL);
	if (p->cfg->role == CFG_ROLE_MASTER)
		store_slave_seen(p->st, pe->jid, pe->last_seen);
	if (!was) {
		log_info("%s is online", from);
		query_disco(p, pe);
	}
	if (!pe->proven)
		start_pairing(p, pe);
}

static void
peer_went_offline(struct peers *p, struct peer *pe)
{
	if (pe->full[0])
		log_info("%s went offline", pe->full);
	untrust(p, pe);
	pe->full[0] = '\0';
	pe->pair_id[0] = '\0';
}

static int
on_presence(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	struct peers *p = arg;
	const char *from = xmpp_stanza_get_from(st);
	const char *type = xmpp_stanza_get_type(st);
	struct peer *pe;

	(void)conn;
	if (from == NULL || (p->conn && xmpp_conn_get_bound_jid(p->conn) &&
	    strcmp(from, xmpp_conn_get_bound_jid(p->conn)) == 0))
		return 1; /* our own presence, reflected by the server */
	pe = find(p, from);
	if (type && strcmp(type, "subscribe") == 0) {
		/* peers see each other by directed presence, not the roster:
		 * nobody else ever learns that we are online */
		log_debug("ignored a presence subscription from %s", from);
		return 1;
	}
	if (pe == NULL) {
		log_debug("presence from %s ignored: not a peer", from);
		return 1;
	}
	if (type == NULL) {
		int plan = peers_presence_plan(pe->full, from,
		    xmpp_stanza_get_child_by_name_and_ns(st, "answer",
		    NS_XS_PAIR) != NULL);
		if (plan & PEERS_PRES_RESET) {
			log_info("%s logged in again without going offline "
			    "first: starting afresh with it", from);
			peer_went_offline(p, pe);
		}
		peer_came_online(p, pe, from, (plan & PEERS_PRES_ANSWER) != 0);
	} else if (strcmp(type, "unavailable") == 0 && strcmp(pe->full, from) == 0)
		peer_went_offline(p, pe);
	return 1;
}

/* The service's gate: a sender on one of our peers' accounts (any
 * resource: a peer named by full JID is still asked who it is by its
 * other resources' requests, which then fail on trust, not here). */
static int
known_account(void *arg, const char *from)
{
	const struct peers *p = arg;
	char bare[1100];

	for (size_t i = 0; i < p->n; i++)
		if (stanza_bare_jid(p->v[i]->jid, bare, sizeof(bare)) == 0 &&
		    stanza_jid_matches(from, bare))
			return 1;
	return 0;
}

void
peers_online(struct peers *p, struct service *svc, xmpp_conn_t *conn)
{
	p->conn = conn;
	p->svc = svc;
	service_set_gate(svc, known_account, p);
	service_route(svc, NS_XS_PAIR, on_pair_query, p);
	xmpp_handler_add(conn, on_presence, NULL, "presence", NULL, p);
	/* initial presence makes this session available (the server only
	 * delivers presence to available resources; our roster is empty, so
	 * it goes to nobody); then directed presence to each peer: the server
	 * tells them when we go */
	send_presence(p, NULL, NULL, 0);
	for (size_t i = 0; i < p->n; i++)
		send_presence(p, p->v[i]->jid, NULL, 0);
}

void
peers_offline(struct peers *p)
{
	p->conn = NULL;
	for (size_t i = 0; i < p->n; i++) {
		if (p->svc && p->v[i]->pair_id[0])
			service_forget(p->svc, p->v[i]->pair_id);
		untrust(p, p->v[i]);
		p->v[i]->full[0] = '\0';
		p->v[i]->pair_id[0] = '\0';
	}
}

struct reload_ctx {
	struct peers *p;
	char **seen;
	size_t nseen;
};

static int
reload_one(const struct store_slave *sl, void *arg)
{
	struct reload_ctx *rc = arg;
	struct peers *p = rc->p;
	struct peer *pe = find(p, sl->jid);
	char **s;

	if ((s = realloc(rc->seen, (rc->nseen + 1) * sizeof(*s))) == NULL)
		return -ENOMEM;
	rc->seen = s;
	if ((s[rc->nseen] = strdup(sl->jid)) == NULL)
		return -ENOMEM;
	rc->nseen++;
	if (pe)
		return 0;
	if ((pe = add_peer(p, sl->jid, sl->fingerprint)) == NULL)
		return 0;
	log_info("slave %s registered", sl->jid);
	if (p->conn)
		send_presence(p, sl->jid, NULL, 0);
	return 0;
}

void
peers_reload(struct peers *p)
{
	struct reload_ctx rc = {.p = p};

	if (p->cfg->role != CFG_ROLE_MASTER)
		return;
	if (store_slave_list(p->st, 0, reload_one, &rc) < 0)
		goto out;
	for (size_t i = p->n; i-- > 0;) {
		size_t k;
		for (k = 0; k < rc.nseen; k++)
			if (strcmp(rc.seen[k], p->v[i]->jid) == 0)
				break;
		if (k < rc.nseen)
			continue;
		log_info("slave %s removed: no more traffic to it", p->v[i]->jid);
		if (p->conn)
			send_presence(p, p->v[i]->jid, "unavailable", 0);
		drop_peer(p, i);
	}
	store_slave_list(p->st, 0, refresh_slave, p);
out:
	for (size_t k = 0; k < rc.nseen; k++)
		free(rc.seen[k]);
	free(rc.seen);
}

int
peers_known(const struct peers *p, const char *from)
{
	return from && find(p, from) != NULL;
}

int
peers_trusted(const struct peers *p, const char *from)
{
	struct peer *pe = from ? find(p, from) : NULL;

	return pe && pe->proven && pe->key == PEER_KEY_PINNED &&
	    strcmp(pe->full, from) == 0;
}

int
peers_keys(const struct peers *p, const char *from, uint8_t x25519[32],
    uint8_t ed25519[32])
{
	struct peer *pe = from ? find(p, from) : NULL;

	if (pe == NULL || !pe->has_pin || pe->key != PEER_KEY_PINNED)
		return -ENOENT;
	memcpy(x25519, pe->x25519, 32);
	memcpy(ed25519, pe->ed25519, 32);
	return 0;
}

#define STATUS_FAILING_MAX 20

struct failing_out {
	char *buf;
	size_t off, len;
	int json, n;
};

/* One outbox entry that failed, for status: why, how often, and when it
 * is tried again. */
static int
failing_line(const struct store_op *op, void *arg)
{
	struct failing_out *o = arg;
	long long in = op->retry_at - (long long)time(NULL);

	if (in < 0)
		in = 0;
	if (o->json) {
		o->off = json_addf(o->buf, o->off, o->len, "%s{\"path\":",
		    o->n ? "," : "");
		o->off = json_str(o->buf, o->off, o->len, op->path);
		o->off = json_addf(o->buf, o->off, o->len, ",\"attempts\":%d,"
		    "\"retry_in_s\":%lld,\"error\":", op->attempts, in);
		o->off = json_str(o->buf, o->off, o->len, op->error);
		o->off = json_addf(o->buf, o->off, o->len, "}");
	} else
		o->off = json_addf(o->buf, o->off, o->len, "    failing: %s "
		    "(%d attempts, next in %lld s): %s\n", op->path,
		    op->attempts, in, op->error ? op->error : "?");
	o->n++;
	return 0;
}

static size_t
failing_status(const struct peers *p, const char *jid, char *buf,
    size_t off, size_t len, int json)
{
	struct failing_out o = {buf, off, len, json, 0};

	if (p->cfg->role != CFG_ROLE_MASTER)
		return off;
	if (json)
		o.off = json_addf(buf, o.off, len, ",\"failing\":[");
	store_outbox_failing(p->st, jid, STATUS_FAILING_MAX, failing_line, &o);
	if (json)
		o.off = json_addf(buf, o.off, len, "]");
	return o.off;
}

int
peers_foreach(const struct peers *p,
    int (*fn)(const struct peer_info *in, void *arg), void *arg)
{
	int r = 0;

	for (size_t i = 0; i < p->n && r == 0; i++) {
		const struct peer *pe = p->v[i];
		struct peer_info in = {.jid = pe->jid,
		    .full = pe->full[0] ? pe->full : NULL, .key = (int)pe->key,
		    .proven = pe->proven, .backlog = pe->backlog,
		    .last_sync = pe->last_sync, .last_seen = pe->last_seen};
		r = fn(&in, arg);
	}
	return r;
}

size_t
peers_status_json(const struct peers *p, char *buf, size_t off, size_t len)
{
	char fpr[CRYPTO_FPR_SIZE];

	off = json_addf(buf, off, len, "[");
	for (size_t i = 0; i < p->n; i++) {
		const struct peer *pe = p->v[i];
		off = json_addf(buf, off, len, "%s{\"jid\":", i ? "," : "");
		off = json_str(buf, off, len, pe->jid);
		off = json_addf(buf, off, len, ",\"online\":%s,\"full_jid\":",
		    pe->full[0] ? "true" : "false");
		off = json_str(buf, off, len, pe->full[0] ? pe->full : NULL);
		off = json_addf(buf, off, len, ",\"key\":\"%s\",\"key_proven\":%s,"
		    "\"fingerprint\":", peer_key_name(pe->key),
		    pe->proven ? "true" : "false");
		if (pe->has_pin)
			crypto_fingerprint(pe->x25519, pe->ed25519, fpr, sizeof(fpr));
		off = json_str(buf, off, len, pe->has_pin ? fpr : NULL);
		off = json_addf(buf, off, len, ",\"backlog\":%lld,\"last_seen\":",
		    (long long)pe->backlog);
		off = json_time(buf, off, len, pe->last_seen);
		off = json_addf(buf, off, len, ",\"last_sync\":");
		off = json_time(buf, off, len, pe->last_sync);
		off = failing_status(p, pe->jid, buf, off, len, 1);
		off = json_addf(buf, off, len, "}");
	}
	return json_addf(buf, off, len, "]");
}

size_t
peers_status_text(const struct peers *p, char *buf, size_t off, size_t len)
{
	char fpr[CRYPTO_FPR_SIZE], t1[32], t2[32];

	if (p->n == 0)
		return json_addf(buf, off, len, "  (none)\n");
	for (size_t i = 0; i < p->n; i++) {
		const struct peer *pe = p->v[i];
		if (pe->has_pin)
			crypto_fingerprint(pe->x25519, pe->ed25519, fpr, sizeof(fpr));
		off = json_addf(buf, off, len, "  %s: %s%s%s, key %s%s, backlog "
		    "%lld, last sync %s, last seen %s\n    fingerprint %s\n",
		    pe->jid, pe->full[0] ? "online as " : "offline",
		    pe->full[0] ? pe->full : "", "",
		    peer_key_name(pe->key), pe->key == PEER_KEY_PINNED &&
		    pe->full[0] && !pe->proven ? " (not yet proven)" : "",
		    (long long)pe->backlog, time_text(t1, sizeof(t1), pe->last_sync),
		    time_text(t2, sizeof(t2), pe->last_seen),
		    pe->has_pin ? fpr : "(none)");
		off = failing_status(p, pe->jid, buf, off, len, 0);
	}
	return off;
}

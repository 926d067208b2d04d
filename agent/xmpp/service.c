/* xmpp/service.c -- see xmpp.h */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/log.h"
#include "agent/loop.h"
#include "agent/util.h"
#include "agent/xmpp/xmpp.h"

#define MAX_ROUTES 16
#define MAX_FEATURES 24
#define PING_IDLE_MS 30000    /* ping after this much silence */
#define PING_TIMEOUT_MS 20000 /* and give up after this */
#define WAIT_MAX_MS (10 * 60 * 1000) /* an answer later than this is dropped */
#define REFUSED_LOG_MS 10000  /* at most one line about strangers this often */

struct route {
	const char *ns;
	service_iq_fn fn;  /* NULL: handled elsewhere */
	void *arg;
	int sealed;        /* only through service_dispatch_sealed() */
};

/* Someone waiting for the answer to an IQ it sent. */
struct wait {
	char id[64];
	xmpp_handler fn;
	void *arg;
	int64_t since_ms;
};

struct service {
	service_gate_fn gate;      /* who may talk to us at all; NULL: all */
	void *gate_arg;
	int64_t refused_log_ms;    /* last refusal logged */
	unsigned refused_quiet;    /* refusals not logged since */
	struct wait *waits;        /* outstanding IQs of ours */
	size_t nwaits, capwaits;
	struct route routes[MAX_ROUTES];
	int nroutes;
	const char *features[MAX_FEATURES];
	int nfeatures;
	int64_t last_traffic_ms;
	int64_t ping_sent_ms;      /* 0: none outstanding */
	unsigned ping_seq;
	char ping_id[32];
	void (*out_fn)(void *arg, xmpp_stanza_t *st); /* tests: replies */
	void *out_arg;
};

/* Sends st (a reply of ours) and releases it. */
static void
out(struct service *s, xmpp_conn_t *conn, xmpp_stanza_t *st)
{
	if (st == NULL)
		return;
	if (s->out_fn)
		s->out_fn(s->out_arg, st);
	else
		xmpp_send(conn, st);
	xmpp_stanza_release(st);
}

static void
out_error(struct service *s, xmpp_conn_t *conn, xmpp_stanza_t *iq,
    const char *type, const char *cond, const char *text)
{
	out(s, conn, stanza_iq_error(xmpp_conn_get_context(conn), iq, type,
	    cond, NULL, NULL, text));
}

void
service_set_output(struct service *s, void (*fn)(void *, xmpp_stanza_t *),
    void *arg)
{
	s->out_fn = fn;
	s->out_arg = arg;
}

int
service_new(struct service **out)
{
	struct service *s = calloc(1, sizeof(*s));

	*out = s;
	if (s == NULL)
		return -ENOMEM;
	static const char *const base[] = {
		NS_DISCO_INFO, NS_PING,
	};
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		s->features[s->nfeatures++] = base[i];
	s->last_traffic_ms = loop_now_ms();
	return 0;
}

void
service_free(struct service *s)
{
	if (s)
		free(s->waits);
	free(s);
}

int
service_expect(struct service *s, const char *id, xmpp_handler fn, void *arg)
{
	int64_t now = loop_now_ms();
	size_t i;

	if (id == NULL || strlen(id) >= sizeof(s->waits[0].id) || fn == NULL)
		return -EINVAL;
	/* answers that never came (a peer gone, a reconnection) must not
	 * pile up over months of uptime */
	for (i = 0; i < s->nwaits;)
		if (now - s->waits[i].since_ms > WAIT_MAX_MS)
			s->waits[i] = s->waits[--s->nwaits];
		else
			i++;
	if (util_grow(&s->waits, s->nwaits + 1, &s->capwaits, 8) < 0)
		return -ENOMEM;
	i = s->nwaits++;
	snprintf(s->waits[i].id, sizeof(s->waits[i].id), "%s", id);
	s->waits[i].fn = fn;
	s->waits[i].arg = arg;
	s->waits[i].since_ms = now;
	return 0;
}

void
service_forget(struct service *s, const char *id)
{
	for (size_t i = 0; i < s->nwaits;)
		if (strcmp(s->waits[i].id, id) == 0)
			s->waits[i] = s->waits[--s->nwaits];
		else
			i++;
}

size_t
service_waiting(const struct service *s)
{
	return s->nwaits;
}

/* A result or error: to whoever waits for that id. The handler may send
 * and wait again, so the table can change under us. */
static void
answer(struct service *s, xmpp_conn_t *conn, xmpp_stanza_t *st)
{
	const char *id = xmpp_stanza_get_id(st);
	struct wait w;

	for (size_t i = 0; id && i < s->nwaits; i++) {
		if (strcmp(s->waits[i].id, id) != 0)
			continue;
		w = s->waits[i];
		s->waits[i] = s->waits[--s->nwaits];
		if (w.fn(conn, st, w.arg) != 0 &&
		    service_expect(s, w.id, w.fn, w.arg) == 0)
			s->waits[s->nwaits - 1].since_ms = w.since_ms;
		return;
	}
}

static int
add_route(struct service *s, const char *ns, service_iq_fn fn, void *arg,
    int sealed)
{
	for (int i = 0; i < s->nroutes; i++)
		if (strcmp(s->routes[i].ns, ns) == 0)
			return -EEXIST;
	if (s->nroutes == MAX_ROUTES)
		return -ENOSPC;
	s->routes[s->nroutes++] = (struct route){ns, fn, arg, sealed};
	return 0;
}

int
service_route(struct service *s, const char *ns, service_iq_fn fn, void *arg)
{
	return add_route(s, ns, fn, arg, 0);
}

int
service_route_sealed(struct service *s, const char *ns, service_iq_fn fn,
    void *arg)
{
	return add_route(s, ns, fn, arg, 1);
}

int
service_route_external(struct service *s, const char *ns)
{
	return add_route(s, ns, NULL, NULL, 0);
}

int
service_dispatch_sealed(struct service *s, xmpp_conn_t *conn,
    xmpp_stanza_t *iq, xmpp_stanza_t *payload)
{
	const char *ns = xmpp_stanza_get_ns(payload);

	for (int i = 0; ns && i < s->nroutes; i++)
		if (s->routes[i].sealed && strcmp(s->routes[i].ns, ns) == 0) {
			s->routes[i].fn(conn, iq, payload, s->routes[i].arg);
			return 0;
		}
	return -ENOENT;
}

int
service_add_feature(struct service *s, const char *feature)
{
	if (s->nfeatures == MAX_FEATURES)
		return -ENOSPC;
	s->features[s->nfeatures++] = feature;
	return 0;
}

static void
answer_disco(struct service *s, xmpp_conn_t *conn, xmpp_stanza_t *iq)
{
	xmpp_ctx_t *ctx = xmpp_conn_get_context(conn);
	xmpp_stanza_t *r = stanza_iq_result(ctx, iq), *q, *id, *f;

	if (r == NULL)
		return;
	q = stanza_add_child(ctx, r, "query", NS_DISCO_INFO);
	if (q && (id = stanza_add_child(ctx, q, "identity", NULL))) {
		xmpp_stanza_set_attribute(id, "category", "client");
		xmpp_stanza_set_attribute(id, "type", "bot");
		xmpp_stanza_set_attribute(id, "name", "xmpp-sync " XS_VERSION);
	}
	for (int i = 0; q && i < s->nfeatures; i++)
		if ((f = stanza_add_child(ctx, q, "feature", NULL)))
			xmpp_stanza_set_attribute(f, "var", s->features[i]);
	out(s, conn, r);
}

/* Whether ns is handled by a handler registered elsewhere. */
static int
is_external(const struct service *s, const char *ns)
{
	for (int i = 0; i < s->nroutes; i++)
		if (s->routes[i].fn == NULL && strcmp(s->routes[i].ns, ns) == 0)
			return 1;
	return 0;
}

void
service_set_gate(struct service *s, service_gate_fn fn, void *arg)
{
	s->gate = fn;
	s->gate_arg = arg;
}

/* Whether from may talk to us: our server (a JID without a local part)
 * always, others when the gate says they belong to a peer's account. */
static int
admitted(const struct service *s, const char *from)
{
	if (from == NULL || strchr(from, '@') == NULL)
		return 1;
	return s->gate == NULL || s->gate(s->gate_arg, from);
}

/* A stranger's request: answered exactly as the server answers for a
 * resource that is not online (RFC 6120 8.5.3.2.1), so it learns nothing,
 * not even that we are here; logged, but at most once in a while. */
static void
refuse_stranger(struct service *s, xmpp_conn_t *conn, xmpp_stanza_t *iq,
    const char *ns)
{
	int64_t now = loop_now_ms();

	out_error(s, conn, iq, "cancel", "service-unavailable", NULL);
	if (s->refused_log_ms && now - s->refused_log_ms < REFUSED_LOG_MS) {
		s->refused_quiet++;
		return;
	}
	if (s->refused_quiet)
		log_warn("refused %u more requests from others than our peers",
		    s->refused_quiet);
	log_warn("refused a request (%s) from %s, not a peer: answered "
	    "service-unavailable", ns ? ns : "no payload",
	    xmpp_stanza_get_from(iq));
	s->refused_log_ms = now;
	s->refused_quiet = 0;
}

static int
on_iq(xmpp_conn_t *conn, xmpp_stanza_t *iq, void *arg)
{
	struct service *s = arg;
	const char *type = xmpp_stanza_get_type(iq), *ns;
	xmpp_stanza_t *payload;

	s->last_traffic_ms = loop_now_ms();
	if (type && (strcmp(type, "result") == 0 || strcmp(type, "error") == 0)) {
		answer(s, conn, iq);
		return 1;
	}
	if (type == NULL || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
		return 1;
	payload = stanza_first_element(iq);
	ns = payload ? xmpp_stanza_get_ns(payload) : NULL;
	if (!admitted(s, xmpp_stanza_get_from(iq))) {
		/* the Jingle engine's own handler refuses the same way */
		if (ns == NULL || !is_external(s, ns))
			refuse_stranger(s, conn, iq, ns);
		return 1;
	}
	if (ns == NULL) {
		out_error(s, conn, iq, "modify", "bad-request",
		    "iq without a payload");
		return 1;
	}
	if (strcmp(ns, NS_DISCO_INFO) == 0 && strcmp(type, "get") == 0 &&
	    xmpp_stanza_get_attribute(payload, "node") == NULL) {
		answer_disco(s, conn, iq);
		return 1;
	}
	if (strcmp(ns, NS_PING) == 0 && strcmp(type, "get") == 0) {
		out(s, conn, stanza_iq_result(xmpp_conn_get_context(conn), iq));
		return 1;
	}
	for (int i = 0; i < s->nroutes; i++) {
		if (strcmp(s->routes[i].ns, ns) != 0)
			continue;
		if (s->routes[i].sealed) {
			/* no downgrade: what must be sealed never counts in
			 * clear, whoever sends it */
			log_warn("refused a %s request from %s: sent in "
			    "clear, it must travel sealed",
			    xmpp_stanza_get_name(payload),
			    xmpp_stanza_get_from(iq) ?
			    xmpp_stanza_get_from(iq) : "the server");
			out_error(s, conn, iq, "cancel", "not-acceptable",
			    NULL);
		} else if (s->routes[i].fn)
			s->routes[i].fn(conn, iq, payload, s->routes[i].arg);
		return 1;
	}
	log_debug("iq %s in %s from %s: not handled", type, ns,
	    xmpp_stanza_get_from(iq) ? xmpp_stanza_get_from(iq) : "server");
	out_error(s, conn, iq, "cancel", "service-unavailable", NULL);
	return 1;
}

void
service_input(struct service *s, xmpp_conn_t *conn, xmpp_stanza_t *iq)
{
	on_iq(conn, iq, s);
}

static int
on_any(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	struct service *s = arg;

	(void)conn;
	(void)st;
	s->last_traffic_ms = loop_now_ms();
	return 1;
}

static int
on_pong(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	struct service *s = arg;

	(void)conn;
	(void)st;
	s->ping_sent_ms = 0;
	s->last_traffic_ms = loop_now_ms();
	return 0; /* one-shot */
}

void
service_attach(struct service *s, xmpp_conn_t *conn)
{
	xmpp_handler_add(conn, on_iq, NULL, "iq", NULL, s);
	xmpp_handler_add(conn, on_any, NULL, "presence", NULL, s);
	xmpp_handler_add(conn, on_any, NULL, "message", NULL, s);
	s->ping_sent_ms = 0;
	s->last_traffic_ms = loop_now_ms();
}

void
service_saw_traffic(struct service *s)
{
	s->last_traffic_ms = loop_now_ms();
}

int
service_keepalive(struct service *s, xmpp_conn_t *conn)
{
	int64_t now = loop_now_ms();
	xmpp_ctx_t *ctx = xmpp_conn_get_context(conn);
	xmpp_stanza_t *iq;

	if (s->ping_sent_ms)
		return now - s->ping_sent_ms > PING_TIMEOUT_MS;
	if (now - s->last_traffic_ms < PING_IDLE_MS)
		return 0;
	snprintf(s->ping_id, sizeof(s->ping_id), "ping-%u", ++s->ping_seq);
	iq = xmpp_iq_new(ctx, "get", s->ping_id);
	if (iq == NULL)
		return 0;
	stanza_add_child(ctx, iq, "ping", NS_PING);
	service_forget(s, s->ping_id);
	if (service_expect(s, s->ping_id, on_pong, s) < 0) {
		xmpp_stanza_release(iq);
		return 0;
	}
	xmpp_send(conn, iq);
	xmpp_stanza_release(iq);
	s->ping_sent_ms = now;
	return 0;
}

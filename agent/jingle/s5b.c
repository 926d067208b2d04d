/* jingle/s5b.c -- XEP-0260 negotiation for one session, our listening
 * socket for direct candidates, and finding the server's XEP-0065 proxy.
 *
 * Both sides offer candidates and try the other's, highest priority first.
 * Each reports candidate-used (the first that worked) or candidate-error;
 * when both reports are in, the used candidate with the higher priority
 * wins (the initiator's pick on a tie). A winning proxy candidate is
 * activated by the side that offered it, which then says <activated/>.
 * dst.addr is SHA-1(transport sid + owner of the candidate + the other
 * party): the transport's sid, never the session's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/jingle/jingle_int.h"
#include "agent/log.h"

#define NS_BYTESTREAMS "http://jabber.org/protocol/bytestreams"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define CONNECT_TIMEOUT_MS 5000
#define MAX_LOCAL_ADDRS 8
#define MAX_DISCO_ITEMS 32

/* ---- local addresses and the listener ---- */

/* Fills hosts with the addresses of interfaces that are up: others first,
 * loopback last (it only helps when both agents share a host). Returns
 * the count. */
static int
local_addrs(char hosts[][JX_HOST_MAX + 1], int max)
{
	struct ifaddrs *ifa, *i;
	int n = 0;

	if (getifaddrs(&ifa) < 0)
		return 0;
	for (int pass = 0; pass < 2; pass++)
		for (i = ifa; i && n < max; i = i->ifa_next) {
			void *a;
			int lo = (i->ifa_flags & IFF_LOOPBACK) != 0;
			if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) ||
			    lo != pass)
				continue;
			if (i->ifa_addr->sa_family == AF_INET)
				a = &((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			else if (i->ifa_addr->sa_family == AF_INET6) {
				struct in6_addr *a6 =
				    &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
				if (IN6_IS_ADDR_LINKLOCAL(a6))
					continue;
				a = a6;
			} else
				continue;
			inet_ntop(i->ifa_addr->sa_family, a, hosts[n],
			    JX_HOST_MAX + 1);
			n++;
		}
	freeifaddrs(ifa);
	return n;
}

static struct session *
session_by_dst_in(struct jingle *j, const char *dst)
{
	for (struct session *s = j->sessions; s; s = s->next)
		if (s->s5 && strcmp(s->s5->dst_in, dst) == 0)
			return s;
	return NULL;
}

static int
match_in(void *arg, const char *dst)
{
	struct session *s = session_by_dst_in(arg, dst);

	return s && !s->s5->decided ? 0 : -EACCES;
}

static void established(struct session *s, int fd);

static void
served(struct s5b *c, int err, void *arg)
{
	struct jingle *j = arg;
	struct session *s;
	int fd;

	for (size_t i = 0; i < sizeof(j->incoming) / sizeof(j->incoming[0]); i++)
		if (j->incoming[i] == c)
			j->incoming[i] = NULL;
	s = err ? NULL : session_by_dst_in(j, s5b_get_dst(c));
	if (s == NULL || s->s5->nin == JINGLE_MAX_SOCKS) {
		s5b_free(c);
		return;
	}
	fd = s5b_take_fd(c);
	s->s5->in_fds[s->s5->nin++] = fd;
	log_debug("s5b: peer %s connected to our candidate", s->peer);
	if (s->s5->decided == 3)  /* nominated before the handshake ended */
		established(s, fd);
}

static void
on_listen(struct loop *l, int lfd, unsigned ev, void *arg)
{
	struct jingle *j = arg;
	const size_t max = sizeof(j->incoming) / sizeof(j->incoming[0]);
	struct s5b *c;
	int fd;

	(void)ev;
	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		size_t i;
		for (i = 0; i < max && j->incoming[i]; i++)
			;
		if (i == max) {
			close(fd);
			continue;
		}
		if (s5b_serve(l, fd, CONNECT_TIMEOUT_MS, match_in, served, j,
		    &c) == 0)
			j->incoming[i] = c;
	}
}

int
jingle_listener_open(struct jingle *j)
{
	int fd, r;

	if (j->lfd >= 0)
		return 0;
	j->lport = j->cfg.s5b_listen_port;
	if ((fd = s5b_listen(j->cfg.s5b_listen, &j->lport)) < 0) {
		log_warn("cannot listen for SOCKS5 connections on %s port %u: %s",
		    j->cfg.s5b_listen ? j->cfg.s5b_listen : "every address",
		    (unsigned)j->cfg.s5b_listen_port, strerror(-fd));
		return fd;
	}
	if ((r = loop_fd_add(j->l, fd, LOOP_READ, on_listen, j)) < 0) {
		close(fd);
		return r;
	}
	j->lfd = fd;
	log_debug("s5b: listening on %s port %u", j->cfg.s5b_listen ?
	    j->cfg.s5b_listen : "every address", (unsigned)j->lport);
	return 0;
}

void
jingle_listener_close(struct jingle *j)
{
	for (size_t i = 0; i < sizeof(j->incoming) / sizeof(j->incoming[0]); i++) {
		s5b_free(j->incoming[i]);
		j->incoming[i] = NULL;
	}
	if (j->lfd >= 0) {
		loop_fd_del(j->l, j->lfd);
		close(j->lfd);
		j->lfd = -1;
	}
}

/* ---- candidates ---- */

/* Type preference, XEP-0260 2.2: 126 for a direct candidate, 10 for a
 * proxy. Which transports may be used at all is `transports`. */
static uint32_t
type_pref(const struct jingle *j, enum cfg_transport t)
{
	(void)j;
	return t == CFG_TRANSPORT_PROXY ? 10 : 126;
}

static void
cand_id(struct jingle *j, char *out)
{
	char *u = xmpp_uuid_gen(j->ctx);

	snprintf(out, JX_CID_MAX + 1, "%.16s", u ? u : "c");
	if (u)
		xmpp_free(j->ctx, u);
}

/* Whether the initiator already offered host:port (theirs may be NULL). */
static int
offered(const struct jingle_transport *theirs, const char *host,
    unsigned port)
{
	for (unsigned i = 0; theirs && i < theirs->ncands; i++)
		if (theirs->cands[i].port == port &&
		    strcmp(theirs->cands[i].host, host) == 0)
			return 1;
	return 0;
}

static void
add_direct(struct session *s, const struct jingle_transport *theirs)
{
	struct jingle *j = s->j;
	struct jingle_transport *t = &s->s5->ours;
	char hosts[MAX_LOCAL_ADDRS][JX_HOST_MAX + 1];
	int n;

	if (jingle_listener_open(j) < 0)
		return;
	if (j->cfg.s5b_host) {
		snprintf(hosts[0], sizeof(hosts[0]), "%s", j->cfg.s5b_host);
		n = 1;
	} else
		n = local_addrs(hosts, MAX_LOCAL_ADDRS);
	for (int i = 0; i < n && t->ncands < JX_MAX_CANDS; i++) {
		unsigned port = j->cfg.s5b_port ? j->cfg.s5b_port : j->lport;
		if (offered(theirs, hosts[i], port))
			continue;
		struct jingle_cand *k = &t->cands[t->ncands++];
		cand_id(j, k->cid);
		memcpy(k->host, hosts[i], sizeof(k->host));
		snprintf(k->jid, sizeof(k->jid), "%s", j->me);
		k->port = port;
		k->type = JC_DIRECT;
		k->priority = (type_pref(j, CFG_TRANSPORT_S5B) << 16) +
		    (uint32_t)(65535 - i);
	}
}

static void
add_proxy(struct session *s, const struct jingle_transport *theirs)
{
	struct jingle *j = s->j;
	struct jingle_transport *t = &s->s5->ours;
	struct jingle_cand *k;

	/* the initiator offered the same proxy (both use our server's):
	 * offering it again would make it take our candidate for its own */
	if (!j->proxy_host[0] || t->ncands == JX_MAX_CANDS ||
	    offered(theirs, j->proxy_host, j->proxy_port))
		return;
	k = &t->cands[t->ncands++];
	cand_id(j, k->cid);
	snprintf(k->host, sizeof(k->host), "%s", j->proxy_host);
	snprintf(k->jid, sizeof(k->jid), "%s", j->proxy_jid);
	k->port = j->proxy_port;
	k->type = JC_PROXY;
	k->priority = (type_pref(j, CFG_TRANSPORT_PROXY) << 16) + 65535;
}

int
jingle_s5b_offer(struct session *s, const char *tsid,
    const struct jingle_transport *theirs)
{
	struct jingle *j = s->j;
	struct s5b_neg *n;

	jingle_s5b_free(s);
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return -ENOMEM;
	s->s5 = n;
	n->used_fd = n->proxy_fd = -1;
	n->used_idx = n->their_used_idx = -1;
	n->ours.type = JT_S5B;
	snprintf(n->ours.sid, sizeof(n->ours.sid), "%s", tsid);
	s5b_dstaddr(tsid, j->me, s->peer, n->dst_in);
	s5b_dstaddr(tsid, s->peer, j->me, n->dst_out);
	snprintf(n->ours.dstaddr, sizeof(n->ours.dstaddr), "%s", n->dst_in);
	if (jingle_transport_allowed(j, CFG_TRANSPORT_S5B))
		add_direct(s, theirs);
	if (jingle_transport_allowed(j, CFG_TRANSPORT_PROXY))
		add_proxy(s, theirs);
	return (int)n->ours.ncands;
}

/* ---- trying the peer's candidates ---- */

static void try_next(struct session *s);
static void decide(struct session *s);

static void
report(struct session *s, int used_idx)
{
	struct jingle_transport *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return;
	t->type = JT_S5B;
	snprintf(t->sid, sizeof(t->sid), "%s", s->s5->ours.sid);
	if (used_idx >= 0) {
		t->has_used = 1;
		snprintf(t->used_cid, sizeof(t->used_cid), "%s",
		    s->s5->theirs.cands[used_idx].cid);
	} else
		t->cand_error = 1;
	s->s5->sent_report = 1;
	jingle_send_transport_info(s, t);
	free(t);
}

static void
on_out(struct s5b *c, int err, void *arg)
{
	struct session *s = arg;
	struct s5b_neg *n = s->s5;
	struct jingle_cand *k = &n->theirs.cands[n->next_try - 1];

	n->trying = NULL;
	if (err) {
		log_info("s5b: candidate %s:%u (%s) of %s failed: %s", k->host,
		    (unsigned)k->port, k->type == JC_PROXY ? "proxy" : "direct",
		    s->peer, strerror(-err));
		s5b_free(c);
		try_next(s);
		return;
	}
	n->used_fd = s5b_take_fd(c);
	n->used_idx = (int)n->next_try - 1;
	log_debug("s5b: connected to %s:%u for %s", k->host, (unsigned)k->port,
	    s->file.name);
	report(s, n->used_idx);
	decide(s);
}

static void
try_next(struct session *s)
{
	struct s5b_neg *n = s->s5;

	while (n->next_try < n->theirs.ncands) {
		struct jingle_cand *k = &n->theirs.cands[n->next_try++];
		int r = s5b_connect(s->j->l, k->host, k->port, n->dst_out,
		    CONNECT_TIMEOUT_MS, on_out, s, &n->trying);
		if (r == 0)
			return;
		log_info("s5b: cannot connect to %s:%u: %s", k->host,
		    (unsigned)k->port, strerror(-r));
	}
	if (n->theirs.ncands)
		log_info("s5b: none of the %u candidates of %s worked",
		    n->theirs.ncands, s->peer);
	report(s, -1);
	decide(s);
}

static int
by_priority(const void *a, const void *b)
{
	const struct jingle_cand *x = a, *y = b;

	return x->priority < y->priority ? 1 : x->priority > y->priority ? -1 : 0;
}

void
jingle_s5b_start(struct session *s, const struct jingle_transport *theirs)
{
	struct jingle *j = s->j;
	struct s5b_neg *n = s->s5;
	int direct = jingle_transport_allowed(j, CFG_TRANSPORT_S5B);
	int proxy = jingle_transport_allowed(j, CFG_TRANSPORT_PROXY);

	if (n == NULL)
		return;
	n->theirs.ncands = 0;
	for (unsigned i = 0; i < theirs->ncands; i++) {
		const struct jingle_cand *k = &theirs->cands[i];
		if (k->type == JC_PROXY ? proxy : direct)
			n->theirs.cands[n->theirs.ncands++] = *k;
	}
	qsort(n->theirs.cands, n->theirs.ncands, sizeof(n->theirs.cands[0]),
	    by_priority);
	try_next(s);
}

/* ---- deciding, activating ---- */

static void
close_fd(struct jingle *j, int *fd)
{
	(void)j;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The transport is ready on fd: everything else is closed. */
static void
established(struct session *s, int fd)
{
	struct s5b_neg *n = s->s5;

	if (n->used_fd == fd)
		n->used_fd = -1;
	if (n->proxy_fd == fd)
		n->proxy_fd = -1;
	for (unsigned i = 0; i < n->nin; i++)
		if (n->in_fds[i] == fd)
			n->in_fds[i] = -1;
	jingle_s5b_free(s);
	jingle_data_socket(s, fd);
}

static void
on_proxy(struct s5b *c, int err, void *arg)
{
	struct session *s = arg;
	struct s5b_neg *n = s->s5;
	xmpp_stanza_t *iq, *q, *a;
	char *id;

	n->proxy_conn = NULL;
	if (err) {
		struct jingle_transport t = {.type = JT_S5B, .proxy_error = 1};
		s5b_free(c);
		snprintf(t.sid, sizeof(t.sid), "%s", n->ours.sid);
		jingle_send_transport_info(s, &t);
		jingle_transport_failed(s, "cannot reach our own SOCKS5 proxy");
		return;
	}
	n->proxy_fd = s5b_take_fd(c);
	id = xmpp_uuid_gen(s->j->ctx);
	iq = xmpp_iq_new(s->j->ctx, "set", id ? id : "act");
	if (id)
		xmpp_free(s->j->ctx, id);
	if (iq == NULL)
		return;
	xmpp_stanza_set_to(iq, s->j->proxy_jid);
	q = jingle_xml_child(iq, "query", NS_BYTESTREAMS);
	a = q ? jingle_xml_child(q, "activate", NULL) : NULL;
	if (a == NULL) {
		xmpp_stanza_release(iq);
		return;
	}
	xmpp_stanza_set_attribute(q, "sid", n->ours.sid);
	jingle_xml_text(a, s->peer);
	jingle_iq_send(s->j, iq, s->serial, PIQ_ACTIVATE, 0);
}

void
jingle_s5b_activate_reply(struct session *s, int ok)
{
	struct s5b_neg *n = s->s5;
	struct jingle_transport t = {.type = JT_S5B};

	if (n == NULL || n->their_used_idx < 0)
		return;
	snprintf(t.sid, sizeof(t.sid), "%s", n->ours.sid);
	if (!ok) {
		t.proxy_error = 1;
		jingle_send_transport_info(s, &t);
		jingle_transport_failed(s, "the SOCKS5 proxy refused activation");
		return;
	}
	t.has_activated = 1;
	snprintf(t.activated_cid, sizeof(t.activated_cid), "%s",
	    n->ours.cands[n->their_used_idx].cid);
	jingle_send_transport_info(s, &t);
	established(s, n->proxy_fd);
}

static void
use_proxy_log(struct session *s, const char *whose)
{
	s->via_proxy = 1;
	if (jingle_transport_allowed(s->j, CFG_TRANSPORT_S5B))
		log_warn("fallback: no direct SOCKS5 connection for %s with %s; "
		    "using %s proxy", s->file.name, s->peer, whose);
	else
		log_info("s5b: using %s proxy for %s", whose, s->file.name);
}

/* Picks the winner once both reports are known (XEP-0260). */
static void
decide(struct session *s)
{
	struct s5b_neg *n = s->s5;
	struct jingle_cand *mine, *theirs;
	int use_mine;

	if (n == NULL || !n->sent_report || !n->got_report || n->decided)
		return;
	mine = n->used_idx >= 0 ? &n->theirs.cands[n->used_idx] : NULL;
	theirs = n->their_used_idx >= 0 ? &n->ours.cands[n->their_used_idx] : NULL;
	if (mine == NULL && theirs == NULL) {
		n->decided = 1;
		jingle_transport_failed(s, "no SOCKS5 candidate worked");
		return;
	}
	if (mine && theirs)
		use_mine = mine->priority != theirs->priority ?
		    mine->priority > theirs->priority : s->sending;
	else
		use_mine = mine != NULL;
	if (use_mine) {
		n->decided = mine->type == JC_PROXY ? 2 : 1;
		if (mine->type == JC_PROXY) {
			use_proxy_log(s, "the peer's");
			n->waiting_activated = 1;
			jingle_touch(s);
			return;
		}
		established(s, n->used_fd);
		return;
	}
	if (theirs->type == JC_PROXY) {
		n->decided = 2;
		use_proxy_log(s, "our");
		if (s5b_connect(s->j->l, theirs->host, theirs->port, n->dst_in,
		    CONNECT_TIMEOUT_MS, on_proxy, s, &n->proxy_conn) < 0)
			jingle_transport_failed(s, "cannot reach our SOCKS5 proxy");
		return;
	}
	n->decided = 1;
	for (unsigned i = 0; i < n->nin; i++)
		if (n->in_fds[i] >= 0) {
			established(s, n->in_fds[i]);
			return;
		}
	n->decided = 3; /* their handshake is still finishing: served() */
}

int
jingle_s5b_info(struct session *s, const struct jingle_transport *t,
    const char **why)
{
	struct s5b_neg *n = s->s5;
	int idx = -1;

	if (n == NULL || t->type != JT_S5B || strcmp(t->sid, n->ours.sid) != 0) {
		if (why)
			*why = "unknown transport sid";
		return -EINVAL;
	}
	if (t->has_used) {
		for (unsigned i = 0; i < n->ours.ncands; i++)
			if (strcmp(n->ours.cands[i].cid, t->used_cid) == 0)
				idx = (int)i;
		if (idx < 0 || n->got_report) {
			if (why)
				*why = idx < 0 ? "unknown candidate" :
				    "candidate already reported";
			return -EINVAL;
		}
	}
	if (t->has_activated && (!n->waiting_activated || n->used_idx < 0 ||
	    strcmp(t->activated_cid, n->theirs.cands[n->used_idx].cid) != 0)) {
		if (why)
			*why = "unexpected activated";
		return -EINVAL;
	}
	if (why)
		return 0; /* checked only */
	if (t->has_used || t->cand_error) {
		n->their_used_idx = t->has_used ? idx : -1;
		n->got_report = 1;
		decide(s);
	} else if (t->has_activated) {
		n->waiting_activated = 0;
		established(s, n->used_fd);
	} else if (t->proxy_error)
		jingle_transport_failed(s, "the peer's SOCKS5 proxy failed");
	return 0;
}

void
jingle_s5b_free(struct session *s)
{
	struct s5b_neg *n = s->s5;

	if (n == NULL)
		return;
	s5b_free(n->trying);
	s5b_free(n->proxy_conn);
	close_fd(s->j, &n->used_fd);
	close_fd(s->j, &n->proxy_fd);
	for (unsigned i = 0; i < n->nin; i++)
		close_fd(s->j, &n->in_fds[i]);
	free(n);
	s->s5 = NULL;
}

/* ---- the server's proxy (XEP-0065 via XEP-0030) ---- */

static void
query_iq(struct jingle *j, const char *to, const char *ns,
    enum piq_kind kind)
{
	char *id = xmpp_uuid_gen(j->ctx);
	xmpp_stanza_t *iq = xmpp_iq_new(j->ctx, "get", id ? id : "disco");

	if (id)
		xmpp_free(j->ctx, id);
	if (iq == NULL)
		return;
	xmpp_stanza_set_to(iq, to);
	if (jingle_xml_child(iq, "query", ns) == NULL) {
		xmpp_stanza_release(iq);
		return;
	}
	j->disco_pending++;
	jingle_iq_send(j, iq, 0, kind, 0);
}

void
jingle_proxy_discover(struct jingle *j)
{
	char *domain;

	j->proxy_host[0] = '\0';
	j->disco_pending = 0;
	if (!jingle_transport_allowed(j, CFG_TRANSPORT_PROXY)) {
		j->proxy_state = 2;
		return;
	}
	j->proxy_state = 1;
	j->proxy_started_ms = loop_now_ms();
	if (j->cfg.proxy_jid) {
		query_iq(j, j->cfg.proxy_jid, NS_BYTESTREAMS, PIQ_PROXY_QUERY);
		return;
	}
	domain = xmpp_jid_domain(j->ctx, j->me);
	if (domain == NULL) {
		j->proxy_state = 2;
		return;
	}
	query_iq(j, domain, NS_DISCO_ITEMS, PIQ_DISCO_ITEMS);
	xmpp_free(j->ctx, domain);
}

static void
got_items(struct jingle *j, xmpp_stanza_t *st)
{
	xmpp_stanza_t *q = xmpp_stanza_get_child_by_ns(st, NS_DISCO_ITEMS), *c;
	int n = 0;

	for (c = q ? xmpp_stanza_get_children(q) : NULL; c && n < MAX_DISCO_ITEMS;
	    c = xmpp_stanza_get_next(c)) {
		const char *jid = xmpp_stanza_get_attribute(c, "jid");
		if (!xmpp_stanza_is_tag(c) || strcmp(xmpp_stanza_get_name(c),
		    "item") != 0 || jid == NULL || strlen(jid) > JX_JID_MAX)
			continue;
		query_iq(j, jid, NS_DISCO_INFO, PIQ_DISCO_INFO);
		n++;
	}
}

static void
got_info(struct jingle *j, xmpp_stanza_t *st)
{
	xmpp_stanza_t *q = xmpp_stanza_get_child_by_ns(st, NS_DISCO_INFO), *c;
	const char *from = xmpp_stanza_get_from(st);

	if (from == NULL || j->proxy_jid[0])
		return;
	for (c = q ? xmpp_stanza_get_children(q) : NULL; c;
	    c = xmpp_stanza_get_next(c)) {
		const char *cat = xmpp_stanza_get_attribute(c, "category");
		const char *type = xmpp_stanza_get_attribute(c, "type");
		if (xmpp_stanza_is_tag(c) &&
		    strcmp(xmpp_stanza_get_name(c), "identity") == 0 &&
		    cat && type && strcmp(cat, "proxy") == 0 &&
		    strcmp(type, "bytestreams") == 0) {
			snprintf(j->proxy_jid, sizeof(j->proxy_jid), "%s", from);
			query_iq(j, from, NS_BYTESTREAMS, PIQ_PROXY_QUERY);
			return;
		}
	}
}

static void
got_streamhost(struct jingle *j, xmpp_stanza_t *st)
{
	xmpp_stanza_t *q = xmpp_stanza_get_child_by_ns(st, NS_BYTESTREAMS);
	xmpp_stanza_t *h = q ? xmpp_stanza_get_child_by_name(q, "streamhost") : NULL;
	const char *jid, *host, *port;
	uint64_t p;

	if (h == NULL)
		return;
	jid = xmpp_stanza_get_attribute(h, "jid");
	host = xmpp_stanza_get_attribute(h, "host");
	port = xmpp_stanza_get_attribute(h, "port");
	if (jid == NULL || host == NULL || strlen(jid) > JX_JID_MAX ||
	    strlen(host) > JX_HOST_MAX ||
	    jingle_xml_u64(port ? port : "1080", 65535, &p) < 0 || p == 0)
		return;
	snprintf(j->proxy_jid, sizeof(j->proxy_jid), "%s", jid);
	snprintf(j->proxy_host, sizeof(j->proxy_host), "%s", host);
	j->proxy_port = (uint16_t)p;
	log_info("SOCKS5 proxy %s at %s:%u", jid, host, (unsigned)p);
}

void
jingle_proxy_reply(struct jingle *j, enum piq_kind kind, xmpp_stanza_t *st,
    int ok)
{
	if (j->disco_pending)
		j->disco_pending--;
	if (ok && st) {
		if (kind == PIQ_DISCO_ITEMS)
			got_items(j, st);
		else if (kind == PIQ_DISCO_INFO)
			got_info(j, st);
		else if (kind == PIQ_PROXY_QUERY)
			got_streamhost(j, st);
	}
	if (j->proxy_state == 1 && (j->disco_pending == 0 || j->proxy_host[0])) {
		if (!j->proxy_host[0])
			log_info("no SOCKS5 proxy on the server");
		j->proxy_state = 2;
	}
}

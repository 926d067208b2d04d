/* doctor.c -- see agent.h: `xmpp-sync doctor`, which checks what this
 * configuration needs, one verdict line each with the fix for what is
 * wrong: the state directory, the server's address, TLS and its
 * certificate, the login, the server's proxy and stanza size, the
 * in-band rate, the peers and their pinned keys. It logs in with a
 * resource of its own, so a running daemon is not disturbed. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <resolv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/crypto/crypto.h"
#include "agent/log.h"
#include "agent/loop.h"
#include "agent/xmpp/xmpp.h"
#include "store/store.h"

#define DOC_TIMEOUT_MS 10000
#define DOC_CONNECT_MS 5000
#define NS_BYTESTREAMS "http://jabber.org/protocol/bytestreams"
#define RATE_BLOCK 16384          /* an IBB block, as the daemon sends it */
#define RATE_BLOCKS 48
#define RATE_MS 6000              /* the longest the measurement takes */
#define RATE_GOOD 1000000         /* bytes/s below which IBB crawls */

enum verdict { V_OK, V_WARN, V_FAIL };

struct doctor {
	const struct cfg *cfg;
	struct cfg dcfg;           /* cfg with the doctor's own resource */
	struct conn *conn;
	struct service *svc;       /* answers we wait for */
	struct store *st;
	int fails, warns;
	/* one IQ in flight */
	unsigned seq;
	char wait_id[64];
	xmpp_stanza_t *reply;
	/* in-band rate: our own messages coming back */
	uint64_t rx_bytes;
	int rx_count;
	int64_t rx_last_ms;
};

static void
verdict(struct doctor *d, enum verdict v, const char *what, const char *fix,
    const char *fmt, ...)
{
	static const char *const tags[] = {"ok  ", "warn", "FAIL"};
	va_list ap;

	printf("%s  %-8s ", tags[v], what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (v != V_OK && fix)
		printf("      fix: %s\n", fix);
	d->fails += v == V_FAIL;
	d->warns += v == V_WARN;
	fflush(stdout);
}

/* ---- local checks ---------------------------------------------------- */

static void
check_folder(struct doctor *d)
{
	int slave = d->cfg->role == CFG_ROLE_SLAVE;

	if (access(d->cfg->dir, slave ? R_OK | W_OK | X_OK : R_OK | X_OK) == 0)
		verdict(d, V_OK, "config", NULL, "%s: %s %s, folder %s (%s)",
		    d->cfg->path, slave ? "slave" : "master", d->cfg->jid,
		    d->cfg->dir, slave ? "writable" : "readable");
	else
		verdict(d, V_FAIL, "config", slave ? "let this user write to "
		    "the folder (its owner, or its group: see xmpp-sync(1), "
		    "Running under systemd)" : "let this user read the folder",
		    "%s: folder %s is not %s by this user: %s", d->cfg->path,
		    d->cfg->dir, slave ? "writable" : "readable", strerror(errno));
}

static void
check_state(struct doctor *d)
{
	struct crypto_identity *id = NULL;
	struct stat st;
	int saved = log_get_level();

	if (stat(d->cfg->state_dir, &st) < 0) {
		verdict(d, V_FAIL, "state", "run: xmpp-sync -c CONF init",
		    "%s: %s", d->cfg->state_dir, strerror(errno));
		return;
	}
	if (st.st_uid != geteuid()) {
		verdict(d, V_FAIL, "state", "chown -R the state directory to the "
		    "user the daemon runs as", "%s belongs to uid %u, not to this "
		    "user (uid %u)", d->cfg->state_dir, (unsigned)st.st_uid,
		    (unsigned)geteuid());
		return;
	}
	if (st.st_mode & 0077)
		verdict(d, V_WARN, "state", "chmod 0700 the state directory",
		    "%s is mode %04o: others may list it", d->cfg->state_dir,
		    (unsigned)(st.st_mode & 07777));
	log_set_level(LOG_LVL_ERROR);
	if (state_open(d->cfg, &d->st, &id) != XS_EXIT_OK) {
		log_set_level((enum log_level)saved);
		verdict(d, V_FAIL, "state", "run: xmpp-sync -c CONF init (or "
		    "restore the state directory from a backup)",
		    "%s: the database or the identity key cannot be opened",
		    d->cfg->state_dir);
		return;
	}
	log_set_level((enum log_level)saved);
	crypto_identity_free(id);
	verdict(d, V_OK, "state", NULL, "%s: database and identity key open",
	    d->cfg->state_dir);
}

/* ---- the server's address ------------------------------------------- */

/* Looks up _xmpp-client._tcp.DOMAIN; sets host and *port from the first
 * answer. Returns 0, or -ENOENT when there is none. */
static int
srv_lookup(const char *domain, char *host, size_t hlen, unsigned *port)
{
	unsigned char ans[4096];
	char name[512];
	ns_msg msg;
	ns_rr rr;
	int n;

	snprintf(name, sizeof(name), "_xmpp-client._tcp.%s", domain);
	n = res_query(name, ns_c_in, ns_t_srv, ans, sizeof(ans));
	if (n <= 0 || ns_initparse(ans, n, &msg) < 0)
		return -ENOENT;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 ||
		    ns_rr_type(rr) != ns_t_srv || ns_rr_rdlen(rr) < 7)
			continue;
		*port = ns_get16(ns_rr_rdata(rr) + 4);
		if (dn_expand(ns_msg_base(msg), ns_msg_end(msg),
		    ns_rr_rdata(rr) + 6, host, (int)hlen) < 0)
			continue;
		return 0;
	}
	return -ENOENT;
}

/* Connects to host:port within DOC_CONNECT_MS. Returns 0 or a negative
 * errno (-EHOSTUNREACH when the name does not resolve). */
static int
tcp_probe(const char *host, unsigned port, char *addr, size_t alen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	char service[16];
	int r = -ECONNREFUSED;

	snprintf(service, sizeof(service), "%u", port);
	if (getaddrinfo(host, service, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int err = 0;
		socklen_t el = sizeof(err);

		if (fd < 0)
			continue;
		getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, (socklen_t)alen,
		    NULL, 0, NI_NUMERICHOST);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
		    errno != EINPROGRESS)
			err = errno;
		else if (poll(&p, 1, DOC_CONNECT_MS) != 1)
			err = ETIMEDOUT;
		else
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
		close(fd);
		if (err == 0) {
			r = 0;
			break;
		}
		r = -err;
	}
	freeaddrinfo(res);
	return r;
}

static int
check_server(struct doctor *d)
{
	const char *domain = strchr(d->cfg->jid, '@') + 1;
	char host[256], addr[64] = "?";
	unsigned port = 5222;
	int r;

	if (d->cfg->server_host) {
		snprintf(host, sizeof(host), "%s", d->cfg->server_host);
		port = d->cfg->server_port ? d->cfg->server_port : 5222;
	} else if (srv_lookup(domain, host, sizeof(host), &port) < 0) {
		snprintf(host, sizeof(host), "%s", domain);
		port = 5222;
	}
	r = tcp_probe(host, port, addr, sizeof(addr));
	if (r == 0) {
		verdict(d, V_OK, "server", NULL, "%s port %u (%s) accepts "
		    "connections%s", host, port, addr, d->cfg->server_host ?
		    " (server = in the configuration)" : "");
		return 0;
	}
	verdict(d, V_FAIL, "server", d->cfg->server_host ? "check 'server =' "
	    "and that the server listens there (firewall?)" : "publish a DNS "
	    "SRV record _xmpp-client._tcp for the domain, or set 'server = "
	    "host:port'", "%s port %u: %s", host, port, r == -EHOSTUNREACH ?
	    "the name does not resolve" : strerror(-r));
	return r;
}

/* ---- the XMPP session ----------------------------------------------- */

static int
on_reply(xmpp_conn_t *xc, xmpp_stanza_t *st, void *arg)
{
	struct doctor *d = arg;

	(void)xc;
	if (d->reply == NULL)
		d->reply = xmpp_stanza_copy(st);
	return 0;
}

/* Runs the connection until done(d) or timeout_ms pass, or it drops.
 * Returns 0 when done, -ETIMEDOUT or -ENOTCONN. */
static int
run_until(struct doctor *d, int (*done)(struct doctor *), long timeout_ms)
{
	int64_t end = loop_now_ms() + timeout_ms;

	while (!done(d)) {
		if (loop_now_ms() >= end)
			return -ETIMEDOUT;
		conn_run_once(d->conn, 50);
		if (conn_get_state(d->conn) == CONN_OFFLINE && !done(d))
			return -ENOTCONN;
	}
	return 0;
}

static int
got_reply(struct doctor *d)
{
	return d->reply != NULL;
}

/* Sends an IQ get to `to` with an empty child `name` in ns and waits for
 * the answer. Returns 0 and sets d->reply (release it), or a negative
 * errno. */
static int
iq_get(struct doctor *d, const char *to, const char *name, const char *ns)
{
	xmpp_ctx_t *ctx = conn_get_ctx(d->conn);
	xmpp_conn_t *xc = conn_get_strophe(d->conn);
	xmpp_stanza_t *iq;
	int r;

	if (d->reply) {
		xmpp_stanza_release(d->reply);
		d->reply = NULL;
	}
	snprintf(d->wait_id, sizeof(d->wait_id), "doctor-%u", ++d->seq);
	if ((iq = xmpp_iq_new(ctx, "get", d->wait_id)) == NULL)
		return -ENOMEM;
	xmpp_stanza_set_to(iq, to);
	stanza_add_child(ctx, iq, name, ns);
	if ((r = service_expect(d->svc, d->wait_id, on_reply, d)) < 0) {
		xmpp_stanza_release(iq);
		return r;
	}
	xmpp_send(xc, iq);
	xmpp_stanza_release(iq);
	r = run_until(d, got_reply, DOC_TIMEOUT_MS);
	if (r < 0)
		service_forget(d->svc, d->wait_id);
	return r;
}

static int
is_result(xmpp_stanza_t *st)
{
	const char *t = st ? xmpp_stanza_get_type(st) : NULL;

	return t && strcmp(t, "result") == 0;
}

static int
settled(struct doctor *d)
{
	return conn_get_state(d->conn) != CONN_CONNECTING;
}

static int
check_login(struct doctor *d)
{
	const char *why = "";
	enum conn_fail f;
	char *pw = NULL;

	d->dcfg = *d->cfg;
	snprintf(d->dcfg.resource, sizeof(d->dcfg.resource), "%.*s-doctor",
	    CFG_RESOURCE_MAX - 7, d->cfg->resource);
	if (cfg_password_read(d->cfg, &pw) < 0) {
		verdict(d, V_FAIL, "login", "make the password file mode 0600 "
		    "and readable by this user, or set $" CFG_PASSWORD_ENV,
		    "no password");
		return -EACCES;
	}
	if (conn_new(&d->dcfg, pw, NULL, NULL, &d->conn) < 0 ||
	    conn_start(d->conn) < 0) {
		cfg_password_free(pw);
		verdict(d, V_FAIL, "login", NULL, "cannot start a connection");
		return -EIO;
	}
	cfg_password_free(pw);
	run_until(d, settled, 30000);
	if (conn_get_state(d->conn) == CONN_ONLINE) {
		service_attach(d->svc, conn_get_strophe(d->conn));
		verdict(d, V_OK, "tls", NULL, "STARTTLS, certificate verified "
		    "against %s", d->cfg->ca_file ? d->cfg->ca_file :
		    "the system store");
		verdict(d, V_OK, "login", NULL, "as %s",
		    conn_get_bound_jid(d->conn));
		return 0;
	}
	f = conn_get_failure(d->conn, &why);
	if (f == CONN_FAIL_TLS) {
		verdict(d, V_FAIL, "tls", d->cfg->ca_file ? "point 'ca_file =' "
		    "at the CA that signed the server's certificate, or have "
		    "the server send its whole chain" : "have the server send "
		    "its whole certificate chain, or set 'ca_file =' to a "
		    "private CA", "%s", why);
		return -EPROTO;
	}
	verdict(d, V_OK, "tls", NULL, "no certificate problem seen");
	verdict(d, V_FAIL, "login", f == CONN_FAIL_AUTH ? "check the password "
	    "file and that the account exists on the server" : NULL, "%s",
	    why[0] ? why : "failed");
	return -EIO;
}

/* The server's XEP-0065 proxy: found with disco, its address asked for,
 * and connected to. */
static void
check_proxy(struct doctor *d)
{
	const char *domain = strchr(d->cfg->jid, '@') + 1;
	char proxy[512] = "", host[256] = "", addr[64] = "?";
	unsigned port = 0;
	xmpp_stanza_t *q, *it;
	int n = 0, r;

	if (iq_get(d, domain, "query", NS_DISCO_ITEMS) < 0 ||
	    !is_result(d->reply)) {
		verdict(d, V_WARN, "proxy65", NULL, "the server does not "
		    "answer disco#items");
		return;
	}
	q = stanza_first_element(d->reply);
	q = q ? xmpp_stanza_copy(q) : NULL;
	for (it = q ? xmpp_stanza_get_children(q) : NULL; it && !proxy[0] &&
	    n < 32; it = xmpp_stanza_get_next(it), n++) {
		const char *jid = xmpp_stanza_get_attribute(it, "jid");
		xmpp_stanza_t *id;
		if (jid == NULL || iq_get(d, jid, "query", NS_DISCO_INFO) < 0 ||
		    !is_result(d->reply))
			continue;
		for (id = xmpp_stanza_get_children(stanza_first_element(
		    d->reply)); id; id = xmpp_stanza_get_next(id)) {
			const char *c = xmpp_stanza_get_attribute(id, "category");
			const char *t = xmpp_stanza_get_attribute(id, "type");
			if (c && t && strcmp(c, "proxy") == 0 &&
			    strcmp(t, "bytestreams") == 0)
				snprintf(proxy, sizeof(proxy), "%s", jid);
		}
	}
	if (q)
		xmpp_stanza_release(q);
	if (!proxy[0]) {
		verdict(d, V_WARN, "proxy65", "enable a SOCKS5 proxy on the "
		    "server (Prosody: Component \"proxy.DOMAIN\" \"proxy65\")",
		    "the server offers no SOCKS5 proxy: without a direct "
		    "connection, files go in-band (slow)");
		return;
	}
	if (iq_get(d, proxy, "query", NS_BYTESTREAMS) == 0 &&
	    is_result(d->reply)) {
		xmpp_stanza_t *sh = xmpp_stanza_get_child_by_name(
		    stanza_first_element(d->reply), "streamhost");
		const char *h = sh ? xmpp_stanza_get_attribute(sh, "host") : NULL;
		const char *p = sh ? xmpp_stanza_get_attribute(sh, "port") : NULL;
		if (h && p) {
			snprintf(host, sizeof(host), "%s", h);
			port = (unsigned)strtoul(p, NULL, 10);
		}
	}
	if (!host[0]) {
		verdict(d, V_WARN, "proxy65", "set proxy65_address on the "
		    "server", "%s does not say where it listens", proxy);
		return;
	}
	if ((r = tcp_probe(host, port, addr, sizeof(addr))) == 0)
		verdict(d, V_OK, "proxy65", NULL, "%s at %s port %u is "
		    "reachable", proxy, host, port);
	else
		verdict(d, V_WARN, "proxy65", "let this host reach that port, or "
		    "set proxy65_address on the server to an address it can "
		    "reach", "%s at %s port %u: %s", proxy, host, port,
		    strerror(-r));
}

static int
on_message(xmpp_conn_t *xc, xmpp_stanza_t *st, void *arg)
{
	struct doctor *d = arg;
	const char *id = xmpp_stanza_get_id(st);
	char *text;

	(void)xc;
	if (id == NULL || strncmp(id, "doctor-rate-", 12) != 0)
		return 1;
	text = xmpp_message_get_body(st);
	d->rx_bytes += text ? strlen(text) : 0;
	d->rx_count++;
	d->rx_last_ms = loop_now_ms();
	free(text);
	return 1;
}

static int
rate_done(struct doctor *d)
{
	return d->rx_count == RATE_BLOCKS;
}

/* Sends RATE_BLOCKS messages the size of IBB blocks (base64 of
 * RATE_BLOCK bytes) to our own full JID and measures how fast they come
 * back: what a server's per-client limit (Prosody mod_limits, ejabberd
 * shapers) leaves for in-band transfers, and whether stanzas that big
 * pass at all. */
static void
check_rate(struct doctor *d)
{
	xmpp_ctx_t *ctx = conn_get_ctx(d->conn);
	xmpp_conn_t *xc = conn_get_strophe(d->conn);
	size_t blen = (RATE_BLOCK + 2) / 3 * 4;
	char *body = malloc(blen + 1), id[32];
	int64_t start;
	uint64_t rate;

	if (body == NULL)
		return;
	memset(body, 'A', blen);
	body[blen] = '\0';
	xmpp_handler_add(xc, on_message, NULL, "message", NULL, d);
	start = loop_now_ms();
	for (int i = 0; i < RATE_BLOCKS; i++) {
		xmpp_stanza_t *m = xmpp_message_new(ctx, "normal",
		    conn_get_bound_jid(d->conn), NULL);
		snprintf(id, sizeof(id), "doctor-rate-%d", i);
		xmpp_stanza_set_id(m, id);
		xmpp_message_set_body(m, body);
		xmpp_send(xc, m);
		xmpp_stanza_release(m);
	}
	free(body);
	run_until(d, rate_done, RATE_MS);
	xmpp_handler_delete(xc, on_message);
	if (d->rx_count == 0) {
		verdict(d, V_FAIL, "ibb", "raise the server's stanza size limit "
		    "(Prosody: c2s_stanza_size_limit; ejabberd: max_stanza_size) "
		    "above 32 KB, or use only s5b and proxy in 'transports'",
		    "no stanza of %zu bytes came back within %d s: the server "
		    "drops or refuses in-band blocks", blen, RATE_MS / 1000);
		return;
	}
	/* bytes that came back, over the time they took */
	rate = d->rx_bytes * 1000 / (uint64_t)(d->rx_last_ms > start ?
	    d->rx_last_ms - start : 1);
	if (rate >= RATE_GOOD && d->rx_count == RATE_BLOCKS)
		verdict(d, V_OK, "ibb", NULL, "in-band rate %llu kB/s, stanzas "
		    "of %zu bytes pass", (unsigned long long)(rate / 1000), blen);
	else
		verdict(d, V_WARN, "ibb", "raise the per-client rate for this "
		    "account: Prosody mod_limits, limits = { c2s = { rate = "
		    "\"10mb/s\" } } (or unload \"limits\"); ejabberd: the "
		    "c2s_shaper / shaper normal rate",
		    "in-band rate only %llu kB/s (%d of %d blocks back in %d s):"
		    " files that cannot go direct or through the proxy crawl",
		    (unsigned long long)(rate / 1000), d->rx_count, RATE_BLOCKS,
		    RATE_MS / 1000);
}

/* ---- peers ------------------------------------------------------------ */

/* Pings the peer's daemon: bare JIDs name the default resource. */
static void
check_presence(struct doctor *d, const char *jid)
{
	char full[2200];

	if (strchr(jid, '/'))
		snprintf(full, sizeof(full), "%s", jid);
	else
		snprintf(full, sizeof(full), "%s/%s", jid, CFG_RESOURCE_DEFAULT);
	if (iq_get(d, full, "ping", NS_PING) == 0 && is_result(d->reply))
		verdict(d, V_OK, "peer", NULL, "%s is online", full);
	else
		verdict(d, V_WARN, "peer", "start xmpp-sync there (a bare JID "
		    "means resource " CFG_RESOURCE_DEFAULT "; name another one "
		    "as user@domain/resource)", "%s does not answer: offline",
		    full);
}

static void
check_key(struct doctor *d, const char *jid, int key_state)
{
	if (key_state == STORE_KEY_PINNED)
		verdict(d, V_OK, "key", NULL, "%s: key pinned", jid);
	else if (key_state == STORE_KEY_CHANGED)
		verdict(d, V_FAIL, "key", d->cfg->role == CFG_ROLE_MASTER ?
		    "check the new fingerprint out of band, then: slave remove "
		    "JID; slave add JID --fingerprint NEW" : "check the new "
		    "fingerprint out of band, then: xmpp-sync forget JID",
		    "%s presented another key: traffic with it is stopped", jid);
	else
		verdict(d, V_WARN, "key", "compare fingerprints out of band (slave "
		    "add --fingerprint) to rule out a man in the middle",
		    "%s: no key pinned yet; the first one seen will be", jid);
}

struct slaves_ctx {
	struct doctor *d;
	int online;
	int n;
};

static int
each_slave(const struct store_slave *sl, void *arg)
{
	struct slaves_ctx *c = arg;

	c->n++;
	check_key(c->d, sl->jid, sl->key_state);
	if (c->online)
		check_presence(c->d, sl->jid);
	return 0;
}

static void
check_peers(struct doctor *d, int online)
{
	struct store_peer_key k;
	int r;

	if (d->st == NULL)
		return;
	if (d->cfg->role == CFG_ROLE_MASTER) {
		struct slaves_ctx c = {d, online, 0};
		store_slave_list(d->st, 0, each_slave, &c);
		if (c.n == 0)
			verdict(d, V_WARN, "peer", "xmpp-sync -c CONF slave add "
			    "JID", "no slave is registered");
		return;
	}
	r = store_peer_key_load(d->st, d->cfg->master, &k);
	check_key(d, d->cfg->master, r < 0 ? STORE_KEY_UNVERIFIED :
	    k.changed ? STORE_KEY_CHANGED : STORE_KEY_PINNED);
	if (online)
		check_presence(d, d->cfg->master);
}

int
doctor_run(const struct cfg *cfg)
{
	struct doctor d = {.cfg = cfg};
	int online = 0;

	check_folder(&d);
	check_state(&d);
	xmpp_initialize();
	if (service_new(&d.svc) < 0) {
		store_close(d.st);
		xmpp_shutdown();
		return XS_EXIT_FAILURE;
	}
	if (check_server(&d) == 0 && check_login(&d) == 0) {
		online = 1;
		check_proxy(&d);
		check_rate(&d);
	}
	check_peers(&d, online);
	if (d.reply)
		xmpp_stanza_release(d.reply);
	conn_free(d.conn);
	service_free(d.svc);
	store_close(d.st);
	xmpp_shutdown();
	if (d.fails == 0 && d.warns == 0)
		printf("doctor: all good\n");
	else
		printf("doctor: %d problem%s, %d warning%s\n", d.fails,
		    d.fails == 1 ? "" : "s", d.warns, d.warns == 1 ? "" : "s");
	return d.fails ? XS_EXIT_FAILURE : XS_EXIT_OK;
}

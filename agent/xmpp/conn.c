/* xmpp/conn.c -- see xmpp.h */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/xmpp/xmpp.h"
#include "agent/log.h"
#include "agent/loop.h"

#define ATTEMPT_DEADLINE_MS 30000

struct conn {
	xmpp_ctx_t *ctx;
	xmpp_conn_t *xc;
	xmpp_log_t strophe_log;
	const struct cfg *cfg;
	conn_event_cb cb;
	void *cb_arg;
	enum conn_state state;
	enum conn_fail fail;
	char fail_text[512];
	int tls_failed;      /* set by the certificate check */
	int auth_failed;     /* set when libstrophe reports a SASL failure */
	int was_secured;
	int tcp_up;          /* the TCP connection of this attempt was made */
	long long attempt_started_ms;
	int fd;              /* the socket, from the sockopt callback; -1 */
	unsigned fd_gen;     /* bumped for every new socket */
};

/* libstrophe's certificate callback carries no user pointer, so the
 * connections of this process are found by their xmpp_conn_t here. This
 * table is the only state of the file outside struct conn. */
#define MAX_CONNS 4
static struct conn *conns[MAX_CONNS];

static struct conn *
conn_lookup(const xmpp_conn_t *xc)
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i] && conns[i]->xc == xc)
			return conns[i];
	return NULL;
}

static void
set_fail(struct conn *c, enum conn_fail f, const char *text)
{
	c->fail = f;
	snprintf(c->fail_text, sizeof(c->fail_text), "%s", text);
}

/* Records a TLS failure once, with what failed and against which CAs. */
static void
tls_failed(struct conn *c, const char *what)
{
	if (c->tls_failed)
		return;
	c->tls_failed = 1;
	snprintf(c->fail_text, sizeof(c->fail_text),
	    "server certificate not trusted: %s (checked against %s; "
	    "set ca_file for a private CA)", what,
	    c->cfg->ca_file ? c->cfg->ca_file : "the system CA store");
}

/* libstrophe's log lines go to ours at debug level. SASL and certificate
 * failures are recognised here because libstrophe 0.12 reports them only
 * in its log (its certificate callback is not called when the chain does
 * not verify). */
static void
strophe_log(void *arg, xmpp_log_level_t level, const char *area,
    const char *msg)
{
	struct conn *c = arg;
	const char *r;

	(void)level;
	if (strcmp(area, "xmpp") == 0 && strstr(msg, "auth failed") != NULL)
		c->auth_failed = 1;
	if (strcmp(area, "tls") == 0 &&
	    (r = strstr(msg, "verification FAILED, result=")) != NULL) {
		char what[160];
		snprintf(what, sizeof(what), "%s", r + 28);
		tls_failed(c, what);
	}
	if (strcmp(area, "xmpp") == 0 && strcmp(msg, "connection successful") == 0)
		c->tcp_up = 1;
	if (strcmp(area, "conn") == 0 && strstr(msg, "Couldn't start TLS"))
		tls_failed(c, "TLS handshake failed");
	/* never log the SASL exchange */
	if (strstr(msg, "xmpp-sasl") != NULL)
		return;
	log_debug("libstrophe %s: %s", area, msg);
}

/* Called by libstrophe when a presented certificate does not verify: the
 * answer is always no. */
static int
certfail(const xmpp_tlscert_t *cert, const char *errormsg)
{
	struct conn *c = conn_lookup(xmpp_tlscert_get_conn(cert));
	const char *subj = xmpp_tlscert_get_string(cert, XMPP_CERT_SUBJECT);
	char what[400];

	if (c != NULL) {
		snprintf(what, sizeof(what), "%s (subject \"%s\")",
		    errormsg ? errormsg : "verification failed",
		    subj ? subj : "?");
		tls_failed(c, what);
	}
	return 0;
}

static void
went_down(struct conn *c, int error, xmpp_stream_error_t *se)
{
	int was_online = c->state == CONN_ONLINE;
	char buf[300];

	c->state = CONN_OFFLINE;
	c->fd = -1;
	if (c->tls_failed)
		c->fail = CONN_FAIL_TLS; /* text set by certfail() */
	else if (c->auth_failed)
		set_fail(c, CONN_FAIL_AUTH, "authentication failed: the server "
		    "refused the password for this JID");
	else if (se && se->type == XMPP_SE_CONFLICT)
		set_fail(c, CONN_FAIL_CONFLICT, "another client logged in with "
		    "the same resource and the server closed this session");
	else if (se) {
		snprintf(buf, sizeof(buf), "stream error from server%s%s",
		    se->text ? ": " : "", se->text ? se->text : "");
		set_fail(c, CONN_FAIL_STREAM, buf);
	} else if (!was_online && c->tcp_up && !c->was_secured && error == 0 &&
	    c->fail != CONN_FAIL_TIMEOUT)
		set_fail(c, CONN_FAIL_TLS, "no TLS: the server closed the stream "
		    "before TLS was established (does it offer STARTTLS?)");
	else if (c->fail != CONN_FAIL_TIMEOUT) {
		snprintf(buf, sizeof(buf), "%s%s",
		    was_online ? "connection lost" : "cannot connect",
		    error ? ": " : "");
		if (error)
			strncat(buf, strerror(error), sizeof(buf) - strlen(buf) - 1);
		set_fail(c, CONN_FAIL_NETWORK, buf);
	}
	if (was_online && c->cb)
		c->cb(c, 0, c->cb_arg);
}

static void
conn_handler(xmpp_conn_t *xc, xmpp_conn_event_t ev, int error,
    xmpp_stream_error_t *se, void *arg)
{
	struct conn *c = arg;

	(void)xc;
	if (xmpp_conn_is_secured(c->xc))
		c->was_secured = 1;
	if (ev == XMPP_CONN_CONNECT) {
		c->state = CONN_ONLINE;
		c->fail = CONN_FAIL_NONE;
		c->fail_text[0] = '\0';
		if (!xmpp_conn_is_secured(c->xc)) {
			/* cannot happen with MANDATORY_TLS; refuse anyway */
			set_fail(c, CONN_FAIL_TLS, "stream is not encrypted");
			xmpp_disconnect(c->xc);
			return;
		}
		if (c->cb)
			c->cb(c, 1, c->cb_arg);
		return;
	}
	if (ev == XMPP_CONN_DISCONNECT || ev == XMPP_CONN_FAIL)
		went_down(c, error, se);
}

/* libstrophe hands us each new socket before connecting: remember it for
 * the event loop and turn on TCP keepalive. */
static int
sockopt_cb(xmpp_conn_t *xc, void *sock)
{
	struct conn *c = conn_lookup(xc);

	int one = 1;

	if (c) {
		c->fd = *(int *)sock;
		c->fd_gen++;
	}
	/* stanzas are small and answered: Nagle would add ~40 ms to each
	 * round trip of the signalling */
	setsockopt(*(int *)sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return xmpp_sockopt_cb_keepalive(xc, sock);
}

int
conn_new(const struct cfg *cfg, const char *password, conn_event_cb cb,
    void *arg, struct conn **out)
{
	struct conn *c = calloc(1, sizeof(*c));
	char jid[1100];
	int slot = -1;

	*out = NULL;
	for (int i = 0; i < MAX_CONNS && slot < 0; i++)
		if (conns[i] == NULL)
			slot = i;
	if (c == NULL || slot < 0) {
		free(c);
		return -ENOMEM;
	}
	c->cfg = cfg;
	c->cb = cb;
	c->cb_arg = arg;
	c->strophe_log.handler = strophe_log;
	c->strophe_log.userdata = c;
	c->ctx = xmpp_ctx_new(NULL, &c->strophe_log);
	c->xc = c->ctx ? xmpp_conn_new(c->ctx) : NULL;
	if (c->xc == NULL) {
		conn_free(c);
		return -ENOMEM;
	}
	snprintf(jid, sizeof(jid), "%s/%s", cfg->jid, cfg->resource);
	xmpp_conn_set_jid(c->xc, jid);
	xmpp_conn_set_pass(c->xc, password);
	xmpp_conn_set_flags(c->xc, XMPP_CONN_FLAG_MANDATORY_TLS);
	if (cfg->ca_file)
		xmpp_conn_set_cafile(c->xc, cfg->ca_file);
	xmpp_conn_set_certfail_handler(c->xc, certfail);
	xmpp_conn_set_sockopt_callback(c->xc, sockopt_cb);
	c->fd = -1;
	conns[slot] = c;
	*out = c;
	return 0;
}

int
conn_start(struct conn *c)
{
	int r;

	c->tls_failed = c->auth_failed = c->was_secured = c->tcp_up = 0;
	c->fail = CONN_FAIL_NONE;
	c->fail_text[0] = '\0';
	c->attempt_started_ms = loop_now_ms();
	c->state = CONN_CONNECTING;
	r = xmpp_connect_client(c->xc, c->cfg->server_host,
	    c->cfg->server_port, conn_handler, c);
	if (r != XMPP_EOK) {
		c->state = CONN_OFFLINE;
		set_fail(c, CONN_FAIL_NETWORK, "cannot start connecting "
		    "(bad server address?)");
		return -EINVAL;
	}
	return 0;
}

void
conn_run_once(struct conn *c, unsigned long timeout_ms)
{
	xmpp_run_once(c->ctx, timeout_ms);
	if (c->state == CONN_CONNECTING &&
	    loop_now_ms() - c->attempt_started_ms > ATTEMPT_DEADLINE_MS) {
		set_fail(c, CONN_FAIL_TIMEOUT, "no login within 30 s");
		xmpp_disconnect(c->xc);
	}
}

void
conn_stop(struct conn *c)
{
	if (c->state != CONN_OFFLINE)
		xmpp_disconnect(c->xc);
}

enum conn_state
conn_get_state(const struct conn *c)
{
	return c->state;
}

enum conn_fail
conn_get_failure(const struct conn *c, const char **text)
{
	if (text)
		*text = c->fail_text;
	return c->fail;
}

const char *
conn_get_bound_jid(const struct conn *c)
{
	return c->state == CONN_ONLINE ? xmpp_conn_get_bound_jid(c->xc) : NULL;
}

int
conn_get_fd(const struct conn *c, unsigned *gen)
{
	if (gen)
		*gen = c->fd_gen;
	return c->state == CONN_OFFLINE ? -1 : c->fd;
}

xmpp_conn_t *
conn_get_strophe(struct conn *c)
{
	return c->xc;
}

xmpp_ctx_t *
conn_get_ctx(struct conn *c)
{
	return c->ctx;
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i] == c)
			conns[i] = NULL;
	if (c->xc)
		xmpp_conn_release(c->xc);
	if (c->ctx)
		xmpp_ctx_free(c->ctx);
	free(c);
}

/* jft -- Jingle file-transfer test driver: one XMPP client (the account
 * and CA of a config written by tests/lib/harness.sh) running the loop
 * with the Jingle engine.
 *
 *   jft -c CONF [options] send PEER ROOT [NAME...]
 *       offers ROOT/NAME (default: every regular file directly in ROOT,
 *       sorted) to PEER (full JID); exits 0 when every file arrived
 *   jft -c CONF [options] recv DIR
 *       accepts offers into DIR; with --count N exits after N files
 *   jft -c CONF probe PEER
 *       sends malformed and out-of-order Jingle/IBB requests to PEER and
 *       prints each reply ("probe NAME error COND [JINGLE-COND]" or
 *       "probe NAME result") and each request PEER sends ("peer ACTION
 *       REASON"); exits after all replies plus two seconds
 *
 * options: --transports s5b,proxy,ibb   --window N   --block N
 *          --s5b-port P (advertise this port for direct candidates)
 *          --timeout MS   --max-size N   --count N   -v
 *          --rate BYTES_PER_S (sender cap per session)
 *          --hash-used (sender: offer with <hash-used algo='sha-256'/>
 *          and send the hash in a session-info <checksum/> after the data)
 * Prints one line per file ("sent NAME ok", "received NAME ok ...",
 * "... failed REASON: TEXT") and "total N files B bytes in T ms".
 *
 * It speaks plain XEP-0234 (no xmpp-sync encryption, real names, sizes
 * and hashes), accepts offers from anyone, and answers disco#info (the
 * engine's features: Jingle, file transfer, both transports, the hashes
 * of XEP-0300) and ping, so another Jingle client can be pointed at it
 * by hand (docs/hacking.md).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "agent/config.h"
#include "agent/xmpp/xmpp.h"
#include "agent/jingle/jingle.h"
#include "agent/log.h"
#include "agent/loop.h"
#include "agent/util.h"

struct tool {
	struct cfg *cfg;
	struct conn *conn;
	struct loop *l;
	struct jingle *j;
	int sending;
	const char *peer, *root;
	char **names;
	size_t nnames;
	unsigned done, ok, want;
	uint64_t bytes;
	int64_t t0;
	int submitted, rc, finished, probing;
	int names_owned;        /* names came from list_dir() */
};

static void
on_done(void *arg, const struct jingle_info *in, int err,
    enum jingle_reason r, const char *text)
{
	struct tool *t = arg;

	t->done++;
	if (err == 0) {
		t->ok++;
		t->bytes += in->file->size;
		printf("%s %s ok %llu offset %llu\n",
		    in->sending ? "sent" : "received", in->file->name,
		    (unsigned long long)in->file->size,
		    (unsigned long long)in->offset);
	} else
		printf("%s %s failed %s: %s\n", in->sending ? "send" : "receive",
		    in->file->name, jingle_reason_name(r), text ? text : "");
	fflush(stdout);
	if (t->sending && t->done == t->nnames) {
		printf("total %u files %llu bytes in %lld ms\n", t->ok,
		    (unsigned long long)t->bytes,
		    (long long)(loop_now_ms() - t->t0));
		t->rc = t->ok == t->nnames ? 0 : 1;
		t->finished = 1;
		loop_stop(t->l);
	}
	if (!t->sending && t->want && t->ok >= t->want) {
		t->rc = 0;
		t->finished = 1;
		loop_stop(t->l);
	}
}


/* ---- probe mode: hostile requests ---- */

#define H "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define INIT(sid, name, size, tr) "<iq type='set' to='%1$s' id='%3$s'>" \
	"<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' " \
	"initiator='%2$s' sid='" sid "'><content creator='initiator' " \
	"name='f' senders='initiator'><description xmlns='" JINGLE_NS_FT "'>" \
	"<file><name>" name "</name><size>" size "</size><hash xmlns='" \
	JINGLE_NS_HASH "' algo='sha-256'>" H "</hash></file></description>" \
	tr "</content></jingle></iq>"
#define IBBT "<transport xmlns='" JINGLE_NS_IBB "' sid='i1' block-size='4096'/>"

static const struct probe {
	const char *name, *xml;
} probes[] = {
	{"missing_sid", "<iq type='set' to='%1$s' id='%3$s'><jingle xmlns='"
	    JINGLE_NS "' action='session-initiate' initiator='%2$s'/></iq>"},
	{"unknown_action", "<iq type='set' to='%1$s' id='%3$s'><jingle xmlns='"
	    JINGLE_NS "' action='session-dance' sid='p2'/></iq>"},
	{"bad_candidate_port", INIT("p3", "port.bin", "10",
	    "<transport xmlns='" JINGLE_NS_S5B "' sid='t3' mode='tcp'>"
	    "<candidate cid='c1' host='127.0.0.1' jid='%2$s' port='99999' "
	    "priority='8257536' type='direct'/></transport>")},
	{"dotdot_name", INIT("p4", "../evil", "10", IBBT)},
	{"absolute_name", INIT("p5", "/tmp/xs-evil-abs", "10", IBBT)},
	{"inner_dotdot_name", INIT("p6", "a/../../evil2", "10", IBBT)},
	{"unknown_session", "<iq type='set' to='%1$s' id='%3$s'><jingle xmlns='"
	    JINGLE_NS "' action='transport-info' sid='nope'/></iq>"},
	{"too_large", INIT("p8", "big.bin", "99999999999999", IBBT)},
	{"ooo_initiate", INIT("p9", "ooo.bin", "10", IBBT)},
	{"ooo_accept", "<iq type='set' to='%1$s' id='%3$s'><jingle xmlns='"
	    JINGLE_NS "' action='session-accept' sid='p9' responder='%1$s'/></iq>"},
	{"ibb_unknown_sid", "<iq type='set' to='%1$s' id='%3$s'><data xmlns="
	    "'http://jabber.org/protocol/ibb' sid='zz' seq='0'>AAAA</data></iq>"},
	{"no_hash", "<iq type='set' to='%1$s' id='%3$s'><jingle xmlns='"
	    JINGLE_NS "' action='session-initiate' initiator='%2$s' sid='p12'>"
	    "<content creator='initiator' name='f' senders='initiator'>"
	    "<description xmlns='" JINGLE_NS_FT "'><file><name>nohash</name>"
	    "<size>1</size></file></description>" IBBT "</content></jingle></iq>"},
};
#define NPROBES (sizeof(probes) / sizeof(probes[0]))

static int
probe_reply(xmpp_conn_t *xc, xmpp_stanza_t *st, void *arg)
{
	struct tool *t = arg;
	const char *id = xmpp_stanza_get_id(st), *type = xmpp_stanza_get_type(st);
	xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(st, "error"), *c;
	char conds[200] = "";

	(void)xc;
	for (c = e ? xmpp_stanza_get_children(e) : NULL; c;
	    c = xmpp_stanza_get_next(c))
		if (xmpp_stanza_is_tag(c) && strcmp(xmpp_stanza_get_name(c),
		    "text") != 0) {
			strncat(conds, " ", sizeof(conds) - strlen(conds) - 1);
			strncat(conds, xmpp_stanza_get_name(c),
			    sizeof(conds) - strlen(conds) - 1);
		}
	printf("probe %s %s%s\n", probes[atoi(id + 6)].name, type, conds);
	fflush(stdout);
	t->done++;
	return 0;
}

/* Acks whatever the peer sends and prints the action and reason. */
static int
probe_incoming(xmpp_conn_t *xc, xmpp_stanza_t *st, void *arg)
{
	xmpp_stanza_t *j = xmpp_stanza_get_child_by_ns(st, JINGLE_NS), *r, *c;
	xmpp_stanza_t *res = xmpp_iq_new(xmpp_conn_get_context(xc), "result",
	    xmpp_stanza_get_id(st));
	const char *reason = "-";

	(void)arg;
	xmpp_stanza_set_to(res, xmpp_stanza_get_from(st));
	xmpp_send(xc, res);
	xmpp_stanza_release(res);
	if (j == NULL)
		return 1;
	r = xmpp_stanza_get_child_by_name(j, "reason");
	for (c = r ? xmpp_stanza_get_children(r) : NULL; c;
	    c = xmpp_stanza_get_next(c))
		if (xmpp_stanza_is_tag(c) && strcmp(xmpp_stanza_get_name(c),
		    "text") != 0)
			reason = xmpp_stanza_get_name(c);
	printf("peer %s %s %s\n", xmpp_stanza_get_attribute(j, "action"),
	    xmpp_stanza_get_attribute(j, "sid"), reason);
	fflush(stdout);
	return 1;
}

static void
probe_start(struct tool *t)
{
	xmpp_conn_t *xc = conn_get_strophe(t->conn);
	xmpp_ctx_t *ctx = conn_get_ctx(t->conn);
	char xml[4096], id[16];

	xmpp_handler_add(xc, probe_incoming, NULL, "iq", "set", t);
	for (size_t i = 0; i < NPROBES; i++) {
		snprintf(id, sizeof(id), "probe-%zu", i);
		snprintf(xml, sizeof(xml), probes[i].xml, t->peer,
		    conn_get_bound_jid(t->conn), id);
		xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, xml);
		if (st == NULL) {
			fprintf(stderr, "jft: bad probe %s\n", probes[i].name);
			continue;
		}
		xmpp_id_handler_add(xc, probe_reply, id, t);
		xmpp_send(xc, st);
		xmpp_stanza_release(st);
	}
	t->t0 = loop_now_ms();
}

static long
probe_tick(struct loop *l, void *arg)
{
	struct tool *t = arg;

	if (t->t0 && (loop_now_ms() - t->t0 > 10000 ||
	    (t->done == NPROBES && loop_now_ms() - t->t0 > 2000))) {
		t->rc = t->done == NPROBES ? 0 : 1;
		t->finished = 1;
		loop_stop(l);
		return LOOP_TIMER_END;
	}
	return 100;
}

static int
submit(struct tool *t)
{
	char path[8192];
	struct jingle_file f;
	struct stat st;
	int r;

	t->t0 = loop_now_ms();
	for (size_t i = 0; i < t->nnames; i++) {
		snprintf(path, sizeof(path), "%s/%s", t->root, t->names[i]);
		memset(&f, 0, sizeof(f));
		if (stat(path, &st) < 0 ||
		    (r = jingle_sha256_file(path, f.sha256)) < 0) {
			fprintf(stderr, "jft: cannot read %s\n", path);
			return -1;
		}
		f.name = t->names[i];
		f.size = (uint64_t)st.st_size;
		f.mtime = st.st_mtime;
		f.has_hash = 1;
		if ((r = jingle_send(t->j, t->peer, &f, NULL)) < 0) {
			fprintf(stderr, "jft: cannot send %s: %s\n", path,
			    strerror(-r));
			return -1;
		}
	}
	return 0;
}

/* ---- disco#info and ping: what another client asks first ---- */

static int
on_disco(xmpp_conn_t *xc, xmpp_stanza_t *st, void *arg)
{
	xmpp_ctx_t *ctx = xmpp_conn_get_context(xc);
	xmpp_stanza_t *q = xmpp_stanza_get_child_by_ns(st,
	    "http://jabber.org/protocol/disco#info"), *r, *rq, *c;

	(void)arg;
	if (q == NULL || xmpp_stanza_get_attribute(q, "node") != NULL)
		return 1;
	if ((r = stanza_iq_result(ctx, st)) == NULL)
		return 1;
	rq = stanza_add_child(ctx, r, "query",
	    "http://jabber.org/protocol/disco#info");
	if (rq && (c = stanza_add_child(ctx, rq, "identity", NULL))) {
		xmpp_stanza_set_attribute(c, "category", "client");
		xmpp_stanza_set_attribute(c, "type", "pc");
		xmpp_stanza_set_attribute(c, "name", "jft");
	}
	for (const char *const *f = jingle_features(); rq && *f; f++)
		if ((c = stanza_add_child(ctx, rq, "feature", NULL)))
			xmpp_stanza_set_attribute(c, "var", *f);
	if (rq && (c = stanza_add_child(ctx, rq, "feature", NULL)))
		xmpp_stanza_set_attribute(c, "var",
		    "http://jabber.org/protocol/disco#info");
	if (rq && (c = stanza_add_child(ctx, rq, "feature", NULL)))
		xmpp_stanza_set_attribute(c, "var", "urn:xmpp:ping");
	xmpp_send(xc, r);
	xmpp_stanza_release(r);
	return 1;
}

static int
on_ping(xmpp_conn_t *xc, xmpp_stanza_t *st, void *arg)
{
	xmpp_stanza_t *r = stanza_iq_result(xmpp_conn_get_context(xc), st);

	(void)arg;
	if (r) {
		xmpp_send(xc, r);
		xmpp_stanza_release(r);
	}
	return 1;
}

/* --hash-used: the offer names the algorithm, the engine sends the hash
 * after the data (XEP-0234 8.2). */
static void
wire_hash_later(void *arg, const struct jingle_file *f, struct jingle_file *w)
{
	(void)arg;
	(void)f;
	w->has_hash = 0;
	w->hash_later = 1;
}

/* libstrophe's socket, captured when it is made, so the loop wakes up
 * when the server sends something instead of polling. The callback has
 * no user pointer: this is the tool's one global. */
static int strophe_fd = -1;

static int
on_sockopt(xmpp_conn_t *xc, void *sock)
{
	int one = 1;

	(void)xc;
	strophe_fd = *(int *)sock;
	/* small stanzas back to back: without this, Nagle and delayed ACKs
	 * add 40 ms to many round trips */
	setsockopt(strophe_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return xmpp_sockopt_cb_keepalive(xc, sock);
}

static void
on_strophe_fd(struct loop *l, int fd, unsigned ev, void *arg)
{
	(void)l; (void)fd; (void)ev; (void)arg;
	/* the idle hook runs libstrophe right after this */
}

static void
on_conn(struct conn *c, int online, void *arg)
{
	struct tool *t = arg;

	if (t->j)
		jingle_online(t->j, online ? conn_get_bound_jid(c) : NULL);
	if (online && strophe_fd >= 0)
		loop_fd_add(t->l, strophe_fd, LOOP_READ, on_strophe_fd, t);
	if (!online && strophe_fd >= 0) {
		loop_fd_del(t->l, strophe_fd);
		strophe_fd = -1;
	}
	if (online) {
		/* initial presence: some servers route IQs only to available
		 * resources */
		xmpp_stanza_t *p = xmpp_presence_new(conn_get_ctx(c));
		xmpp_send(conn_get_strophe(c), p);
		xmpp_stanza_release(p);
		printf("connected as %s\n", conn_get_bound_jid(c));
		fflush(stdout);
	}
	if (online && t->probing && !t->submitted) {
		t->submitted = 1;
		probe_start(t);
	}
	if (online && t->sending && !t->submitted) {
		t->submitted = 1;
		if (submit(t) < 0) {
			t->rc = 2;
			loop_stop(t->l);
		}
	}
	if (!online && !t->finished) {
		fprintf(stderr, "jft: connection lost\n");
		t->rc = 3;
		loop_stop(t->l);
	}
}

static long
idle(struct loop *l, void *arg)
{
	struct tool *t = arg;

	(void)l;
	/* libstrophe reads at most 4 KiB per call; drain what TLS holds */
	for (int i = 0; i < 8; i++)
		conn_run_once(t->conn, 0);
	return t->j && jingle_pending(t->j) ? 1 : 10;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
list_dir(struct tool *t)
{
	DIR *d = opendir(t->root);
	struct dirent *e;
	char path[8192];
	struct stat st;
	size_t cap = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", t->root, e->d_name);
		if (e->d_name[0] == '.' || stat(path, &st) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (util_grow(&t->names, t->nnames + 1, &cap, 64) < 0)
			break;
		t->names[t->nnames++] = strdup(e->d_name);
		t->names_owned = 1;
	}
	closedir(d);
	qsort(t->names, t->nnames, sizeof(*t->names), cmp_str);
	return 0;
}

static int
parse_transports(const char *s, struct jingle_config *jc)
{
	char buf[64], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", s);
	jc->ntransports = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (jc->ntransports == CFG_MAX_TRANSPORTS)
			return -1;
		if (strcmp(tok, "s5b") == 0)
			jc->transports[jc->ntransports++] = CFG_TRANSPORT_S5B;
		else if (strcmp(tok, "proxy") == 0)
			jc->transports[jc->ntransports++] = CFG_TRANSPORT_PROXY;
		else if (strcmp(tok, "ibb") == 0)
			jc->transports[jc->ntransports++] = CFG_TRANSPORT_IBB;
		else
			return -1;
	}
	return jc->ntransports ? 0 : -1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: jft -c CONF [options] send PEER ROOT [NAME...]\n"
	    "       jft -c CONF [options] recv DIR\n"
	    "       jft -c CONF probe PEER\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct tool t = {.rc = 1};
	struct jingle_config jc = {0};
	struct jingle_callbacks cb = {.done = on_done, .arg = &t};
	const char *conf = NULL, *transports = NULL;
	char *pw = NULL;
	int i, r;

	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "-v") == 0) {
			log_set_level(LOG_LVL_DEBUG);
			continue;
		}
		if (strcmp(o, "--hash-used") == 0) {
			cb.wire_file = wire_hash_later;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(o, "-c") == 0) conf = v;
		else if (strcmp(o, "--transports") == 0) transports = v;
		else if (strcmp(o, "--window") == 0) jc.window = (unsigned)atoi(v);
		else if (strcmp(o, "--block") == 0) jc.ibb_block_size = (unsigned)atoi(v);
		else if (strcmp(o, "--s5b-port") == 0) jc.s5b_port = (unsigned short)atoi(v);
		else if (strcmp(o, "--timeout") == 0) jc.timeout_ms = (unsigned)atoi(v);
		else if (strcmp(o, "--max-size") == 0) jc.max_file_size = strtoull(v, NULL, 10);
		else if (strcmp(o, "--count") == 0) t.want = (unsigned)atoi(v);
		else if (strcmp(o, "--rate") == 0) jc.max_rate = strtoull(v, NULL, 10);
		else usage();
	}
	if (conf == NULL || i >= argc)
		usage();
	log_set_timestamps(1);
	if (cfg_load(conf, &t.cfg) < 0)
		return 2;
	if (log_get_level() < t.cfg->log_level)
		log_set_level(t.cfg->log_level);
	if (transports == NULL) {
		memcpy(jc.transports, t.cfg->transports, sizeof(jc.transports));
		jc.ntransports = t.cfg->ntransports;
	} else if (parse_transports(transports, &jc) < 0)
		usage();
	if (jc.max_file_size == 0)
		jc.max_file_size = t.cfg->max_file_size;
	jc.s5b_host = t.cfg->s5b_offer;
	if (strcmp(argv[i], "send") == 0 && i + 2 < argc) {
		t.sending = 1;
		t.peer = argv[i + 1];
		t.root = argv[i + 2];
		jc.source = jingle_file_source(t.root);
		if (i + 3 < argc) {
			t.names = argv + i + 3;
			t.nnames = (size_t)(argc - i - 3);
		} else if (list_dir(&t) < 0) {
			fprintf(stderr, "jft: cannot list %s\n", t.root);
			return 2;
		}
	} else if (strcmp(argv[i], "recv") == 0 && i + 1 < argc) {
		t.root = argv[i + 1];
		jc.sink = jingle_file_sink(t.root);
	} else if (strcmp(argv[i], "probe") == 0 && i + 1 < argc) {
		t.probing = 1;
		t.peer = argv[i + 1];
	} else
		usage();
	if (cfg_password_read(t.cfg, &pw) < 0 || loop_new(&t.l) < 0)
		return 2;
	r = conn_new(t.cfg, pw, on_conn, &t, &t.conn);
	cfg_password_free(pw);
	if (r < 0 || (!t.probing &&
	    jingle_new(t.l, conn_get_strophe(t.conn), &jc, &cb, &t.j) < 0))
		return 2;
	xmpp_conn_set_sockopt_callback(conn_get_strophe(t.conn), on_sockopt);
	xmpp_handler_add(conn_get_strophe(t.conn), on_disco,
	    "http://jabber.org/protocol/disco#info", "iq", "get", &t);
	xmpp_handler_add(conn_get_strophe(t.conn), on_ping, "urn:xmpp:ping",
	    "iq", "get", &t);
	loop_set_idle(t.l, idle, &t);
	if (t.probing)
		loop_timer_add(t.l, 100, probe_tick, &t);
	if (conn_start(t.conn) < 0)
		return 3;
	loop_run(t.l);
	jingle_free(t.j);
	t.j = NULL;
	for (i = 0; i < 20 && conn_get_state(t.conn) != CONN_OFFLINE; i++) {
		if (i == 0)
			conn_stop(t.conn);
		conn_run_once(t.conn, 50);
	}
	conn_free(t.conn);
	loop_free(t.l);
	for (size_t k = 0; t.names_owned && k < t.nnames; k++)
		free(t.names[k]);
	if (t.names_owned)
		free(t.names);
	cfg_free(t.cfg);
	return t.rc;
}

/* jft -- Jingle file-transfer test driver: one XMPP client (the account
 * and CA of a config written by tests/lib/harness.sh) running the loop
 * with the Jingle engine.
 *
 *   jft -c CONF [options] send PEER ROOT [NAME...]
 *       offers ROOT/NAME (default: every regular file directly in ROOT,
 *       sorted) to PEER (full JID); exits 0 when every file arrived
 *   jft -c CONF [options] recv DIR
 *       accepts offers into DIR; with --count N exits after N files
 *
 * options: --transports s5b,proxy,ibb   --window N   --block N
 *          --s5b-port P (advertise this port for direct candidates)
 *          --timeout MS   --max-size N   --count N   -v
 * Prints one line per file ("sent NAME ok", "received NAME ok ...",
 * "... failed REASON: TEXT") and "total N files B bytes in T ms".
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/config.h"
#include "agent/conn.h"
#include "agent/jingle.h"
#include "agent/log.h"
#include "agent/loop.h"

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
	int submitted, rc, finished;
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

static void
on_conn(struct conn *c, int online, void *arg)
{
	struct tool *t = arg;

	jingle_online(t->j, online ? conn_get_bound_jid(c) : NULL);
	if (online) {
		/* initial presence: some servers route IQs only to available
		 * resources */
		xmpp_stanza_t *p = xmpp_presence_new(conn_get_ctx(c));
		xmpp_send(conn_get_strophe(c), p);
		xmpp_stanza_release(p);
		printf("connected as %s\n", conn_get_bound_jid(c));
		fflush(stdout);
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
	return jingle_pending(t->j) ? 1 : 10;
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
		if (t->nnames == cap) {
			cap = cap ? cap * 2 : 64;
			t->names = realloc(t->names, cap * sizeof(*t->names));
		}
		t->names[t->nnames++] = strdup(e->d_name);
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
	    "       jft -c CONF [options] recv DIR\n");
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
	} else
		usage();
	if (cfg_password_read(t.cfg, &pw) < 0 || loop_new(&t.l) < 0)
		return 2;
	r = conn_new(t.cfg, pw, on_conn, &t, &t.conn);
	cfg_password_free(pw);
	if (r < 0 || jingle_new(t.l, conn_get_strophe(t.conn), &jc, &cb, &t.j) < 0)
		return 2;
	loop_set_idle(t.l, idle, &t);
	if (conn_start(t.conn) < 0)
		return 3;
	loop_run(t.l);
	jingle_free(t.j);
	for (i = 0; i < 20 && conn_get_state(t.conn) != CONN_OFFLINE; i++) {
		if (i == 0)
			conn_stop(t.conn);
		conn_run_once(t.conn, 50);
	}
	conn_free(t.conn);
	loop_free(t.l);
	cfg_free(t.cfg);
	return t.rc;
}

/* xsend -- test helper: log in to an XMPP server, send stanzas given as
 * XML text, print every stanza received (one per line) for a while.
 *
 *   xsend JID PASSWORD HOST PORT CAFILE SECONDS [STANZA ...]
 *
 * Sends initial presence first. Exits 0 after SECONDS, 2 if login fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <strophe.h>

struct st {
	int online, failed;
	char **stanzas;
	int n;
};

static int
on_stanza(xmpp_conn_t *conn, xmpp_stanza_t *s, void *arg)
{
	char *buf = NULL;
	size_t len = 0;

	(void)conn;
	(void)arg;
	if (xmpp_stanza_to_text(s, &buf, &len) == XMPP_EOK) {
		printf("RECV %s\n", buf);
		fflush(stdout);
		xmpp_free(xmpp_conn_get_context(conn), buf);
	}
	return 1;
}

static void
on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int err,
    xmpp_stream_error_t *se, void *arg)
{
	struct st *st = arg;
	xmpp_ctx_t *ctx = xmpp_conn_get_context(conn);

	(void)err;
	(void)se;
	if (ev != XMPP_CONN_CONNECT) {
		st->failed = 1;
		return;
	}
	st->online = 1;
	xmpp_handler_add(conn, on_stanza, NULL, NULL, NULL, st);
	xmpp_stanza_t *pr = xmpp_presence_new(ctx);
	xmpp_send(conn, pr);
	xmpp_stanza_release(pr);
	for (int i = 0; i < st->n; i++) {
		xmpp_stanza_t *s = xmpp_stanza_new_from_string(ctx, st->stanzas[i]);
		if (s == NULL) {
			fprintf(stderr, "xsend: cannot parse: %s\n", st->stanzas[i]);
			continue;
		}
		xmpp_send(conn, s);
		xmpp_stanza_release(s);
		printf("SENT %s\n", st->stanzas[i]);
	}
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct st st = {0};
	xmpp_ctx_t *ctx;
	xmpp_conn_t *conn;
	time_t end;

	if (argc < 7) {
		fprintf(stderr, "usage: xsend JID PASSWORD HOST PORT CAFILE SECONDS [STANZA...]\n");
		return 2;
	}
	st.stanzas = argv + 7;
	st.n = argc - 7;
	xmpp_initialize();
	ctx = xmpp_ctx_new(NULL, NULL);
	conn = xmpp_conn_new(ctx);
	xmpp_conn_set_jid(conn, argv[1]);
	xmpp_conn_set_pass(conn, argv[2]);
	xmpp_conn_set_cafile(conn, argv[5]);
	xmpp_conn_set_flags(conn, XMPP_CONN_FLAG_MANDATORY_TLS);
	if (xmpp_connect_client(conn, argv[3], (unsigned short)atoi(argv[4]),
	    on_conn, &st) != XMPP_EOK)
		return 2;
	end = time(NULL) + atoi(argv[6]);
	while (time(NULL) < end && !st.failed)
		xmpp_run_once(ctx, 100);
	if (!st.online) {
		fprintf(stderr, "xsend: login failed\n");
		return 2;
	}
	xmpp_disconnect(conn);
	for (int i = 0; i < 20 && !st.failed; i++)
		xmpp_run_once(ctx, 50);
	xmpp_conn_release(conn);
	xmpp_ctx_free(ctx);
	xmpp_shutdown();
	return 0;
}

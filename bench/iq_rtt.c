/* iq_rtt -- benchmark: is the cost of an IQ round trip flat over many IQs?
 *
 *   iq_rtt JID PASSWORD HOST PORT CAFILE COUNT MODE
 *
 * Logs in, then keeps 32 pings to the server in flight until COUNT have
 * been answered, and prints the milliseconds each 10,000 took. MODE
 * "service" waits for answers the way the agent does (service_expect());
 * MODE "libstrophe" registers one xmpp_id_handler_add() per ping, which
 * libstrophe 0.12 never forgets. The last line compares the last 10,000
 * with the first: "flat" when within 1.2 times, else "GROWS".
 * Exit status: 0 flat, 1 grows, 2 could not log in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "agent/loop.h"
#include "agent/xmpp/xmpp.h"

#define WINDOW 32
#define STEP 10000

struct bench {
	struct service *svc;
	int count, sent, done, own, failed, online;
	int64_t last_ms;
	double first, latest;
};

static int on_answer(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg);

static void
send_ping(xmpp_conn_t *conn, struct bench *b)
{
	xmpp_ctx_t *ctx = xmpp_conn_get_context(conn);
	char id[32], *dom;
	xmpp_stanza_t *iq;

	snprintf(id, sizeof(id), "rtt-%d", b->sent++);
	if ((iq = xmpp_iq_new(ctx, "get", id)) == NULL)
		return;
	dom = xmpp_jid_domain(ctx, xmpp_conn_get_bound_jid(conn));
	xmpp_stanza_set_to(iq, dom);
	xmpp_free(ctx, dom);
	stanza_add_child(ctx, iq, "ping", NS_PING);
	if (b->own)
		service_expect(b->svc, id, on_answer, b);
	else
		xmpp_id_handler_add(conn, on_answer, id, b);
	xmpp_send(conn, iq);
	xmpp_stanza_release(iq);
}

static int
on_answer(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	struct bench *b = arg;
	const char *type = xmpp_stanza_get_type(st);

	if (type == NULL || (strcmp(type, "result") && strcmp(type, "error")))
		return 1;
	if (++b->done % STEP == 0) {
		int64_t now = loop_now_ms();
		double ms = (double)(now - b->last_ms);
		printf("%6d answers: %6.0f ms for the last %d\n", b->done, ms, STEP);
		fflush(stdout);
		if (b->done == STEP)
			b->first = ms;
		b->latest = ms;
		b->last_ms = now;
	}
	if (b->sent < b->count)
		send_ping(conn, b);
	return 0;
}

static void
on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int err,
    xmpp_stream_error_t *se, void *arg)
{
	struct bench *b = arg;

	(void)err;
	(void)se;
	if (ev != XMPP_CONN_CONNECT) {
		b->failed = 1;
		return;
	}
	b->online = 1;
	service_attach(b->svc, conn);
	b->last_ms = loop_now_ms();
	for (int i = 0; i < WINDOW && b->sent < b->count; i++)
		send_ping(conn, b);
}

int
main(int argc, char **argv)
{
	struct bench b = {0};
	xmpp_ctx_t *ctx;
	xmpp_conn_t *conn;

	if (argc != 8 || (strcmp(argv[7], "service") && strcmp(argv[7], "libstrophe"))) {
		fprintf(stderr, "usage: iq_rtt JID PASSWORD HOST PORT CAFILE COUNT "
		    "service|libstrophe\n");
		return 2;
	}
	b.count = atoi(argv[6]);
	b.own = strcmp(argv[7], "service") == 0;
	if (b.count < STEP || service_new(&b.svc) < 0)
		return 2;
	xmpp_initialize();
	ctx = xmpp_ctx_new(NULL, NULL);
	conn = xmpp_conn_new(ctx);
	xmpp_conn_set_jid(conn, argv[1]);
	xmpp_conn_set_pass(conn, argv[2]);
	xmpp_conn_set_cafile(conn, argv[5]);
	xmpp_conn_set_flags(conn, XMPP_CONN_FLAG_MANDATORY_TLS);
	if (xmpp_connect_client(conn, argv[3], (unsigned short)atoi(argv[4]),
	    on_conn, &b) != XMPP_EOK)
		return 2;
	while (b.done < b.count && !b.failed)
		xmpp_run_once(ctx, 100);
	if (!b.online || b.failed)
		return 2;
	printf("%s: last %d took %.2f x the first (%s)\n", argv[7], STEP,
	    b.latest / b.first, b.latest <= 1.2 * b.first ? "flat" : "GROWS");
	xmpp_disconnect(conn);
	xmpp_conn_release(conn);
	xmpp_ctx_free(ctx);
	xmpp_shutdown();
	service_free(b.svc);
	return b.latest <= 1.2 * b.first ? 0 : 1;
}

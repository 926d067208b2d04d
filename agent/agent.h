/* agent.h -- the daemon's context object and what happens on connection
 * events: peers (the master's slaves, or the slave's master), pairing and
 * key pinning, presence, and the status report. daemon.c owns the loop and
 * the connection and calls in here. */
#ifndef XS_AGENT_H
#define XS_AGENT_H

#include <stdint.h>
#include <time.h>

#include "agent/config.h"
#include "agent/xmpp/conn.h"

struct loop;
struct service;
struct control;
struct peers;
struct store;
struct crypto_identity;
struct mirror;

struct agent {
	const struct cfg *cfg;
	struct loop *loop;
	struct conn *conn;
	struct service *svc;
	struct control *control;
	struct peers *peers;    /* agent/peer.c */
	struct store *store;
	struct crypto_identity *id;
	struct mirror *mirror;  /* agent/mirror*.c */
	int sigfd, lockfd;
	int fd_registered;      /* the XMPP socket as registered, or -1 */
	unsigned fd_gen;
	enum conn_state conn_state;
	int ever_online;
	unsigned failures;
	int64_t retry_at_ms;
	time_t online_since;
	int stopping;
	int exit_status;
};

/* Opens what the agent needs beyond the connection (store, keys).
 * Returns XS_EXIT_OK or an exit status after logging why. */
int agent_open(struct agent *a);

/* Releases what agent_open() made. Safe after a failed agent_open(). */
void agent_close(struct agent *a);

/* The connection came up (handlers are to be registered, presence sent)
 * or went down. */
void agent_went_online(struct agent *a);
void agent_went_offline(struct agent *a);

/* Called about once a second from the loop. */
void agent_tick(struct agent *a);

/* Rereads the slave list from the store (after `slave add/remove`). */
void agent_reload(struct agent *a);

/* Returns the status report as JSON text (caller frees), or NULL. */
char *agent_status_json(struct agent *a);

/* Returns the status report as text for people (caller frees), or NULL. */
char *agent_status_text(struct agent *a);

#endif

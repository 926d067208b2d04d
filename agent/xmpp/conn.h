/* xmpp/conn.h -- the XMPP connection (libstrophe): TLS with certificate
 * verification, SASL, and the reason a connection attempt failed.
 *
 * TLS is mandatory: a server without STARTTLS, or whose certificate does
 * not verify against the system store (or ca_file), is refused and the
 * failing check is logged. Passwords come from cfg_password_read().
 */
#ifndef XS_CONN_H
#define XS_CONN_H

#include <strophe.h>

#include "agent/config.h"

struct conn;

enum conn_state {
	CONN_OFFLINE = 0,
	CONN_CONNECTING,
	CONN_ONLINE,
};

/* Why the last attempt ended; CONN_FAIL_NONE while connected. */
enum conn_fail {
	CONN_FAIL_NONE = 0,
	CONN_FAIL_NETWORK,   /* resolve, connect, or the stream dropped */
	CONN_FAIL_TLS,       /* certificate not trusted, or no TLS offered */
	CONN_FAIL_AUTH,      /* the server refused our credentials */
	CONN_FAIL_STREAM,    /* the server closed the stream with an error */
	CONN_FAIL_TIMEOUT,   /* no login within the attempt deadline */
};

/* Called when the connection comes up (online = 1) or goes down (0). */
typedef void (*conn_event_cb)(struct conn *c, int online, void *arg);

/* Makes a connection object for the account in cfg; password is copied.
 * Returns 0 and sets *out (free with conn_free()), or -ENOMEM. */
int conn_new(const struct cfg *cfg, const char *password, conn_event_cb cb,
    void *arg, struct conn **out);

/* Starts a connection attempt (non-blocking; progress happens in
 * conn_run_once()). Returns 0, or a negative errno if it cannot start. */
int conn_start(struct conn *c);

/* Runs libstrophe's event loop once, waiting at most timeout_ms. Also
 * enforces the attempt deadline. Returns nothing; see conn_get_state(). */
void conn_run_once(struct conn *c, unsigned long timeout_ms);

/* Closes the stream politely (the state becomes CONN_OFFLINE after the
 * server answers or the socket closes). Returns nothing. */
void conn_stop(struct conn *c);

/* Returns the current state. */
enum conn_state conn_get_state(const struct conn *c);

/* Returns why the last attempt failed, and a borrowed description. */
enum conn_fail conn_get_failure(const struct conn *c, const char **text);

/* Returns the full JID bound by the server while online, else NULL
 * (borrowed). */
const char *conn_get_bound_jid(const struct conn *c);

/* Returns the socket of the current attempt for the event loop, or -1
 * when offline; *gen (if not NULL) changes whenever the socket is a new
 * one, even if the number is reused. */
int conn_get_fd(const struct conn *c, unsigned *gen);

/* Returns the libstrophe objects, borrowed, to register handlers and send
 * stanzas. */
xmpp_conn_t *conn_get_strophe(struct conn *c);
xmpp_ctx_t *conn_get_ctx(struct conn *c);

/* Frees the connection (closing it first without waiting). */
void conn_free(struct conn *c);

#endif

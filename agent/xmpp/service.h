/* xmpp/service.h -- the IQ front door: one handler for every IQ get/set, which
 * dispatches by the namespace of the first child element, answers
 * disco#info and ping itself, and replies service-unavailable to anything
 * nobody handles (RFC 6120 8.4). Also keeps the server connection checked
 * with XEP-0199 pings. */
#ifndef XS_SERVICE_H
#define XS_SERVICE_H

#include <strophe.h>

struct service;

/* An IQ handler: gets every IQ get/set whose first child has its
 * namespace. It must send exactly one reply (result or error). */
typedef void (*service_iq_fn)(xmpp_conn_t *conn, xmpp_stanza_t *iq,
    xmpp_stanza_t *payload, void *arg);

/* Makes the service. Returns 0 and sets *out (free with service_free()),
 * or -ENOMEM. */
int service_new(struct service **out);

/* Frees the service. NULL is allowed. */
void service_free(struct service *s);

/* Routes IQs whose payload is in ns to fn. Returns 0, -ENOSPC when the
 * table is full, or -EEXIST. */
int service_route(struct service *s, const char *ns, service_iq_fn fn,
    void *arg);

/* Declares that ns is handled by a handler registered elsewhere (for
 * example the Jingle engine); such IQs are left alone. Returns like
 * service_route(). */
int service_route_external(struct service *s, const char *ns);

/* Adds a feature to our disco#info answer. The string is borrowed and must
 * outlive the service. Returns 0 or -ENOSPC. */
int service_add_feature(struct service *s, const char *feature);

/* Registers the handlers on a connection; call on every (re)connect before
 * anything is sent. Returns nothing. */
void service_attach(struct service *s, xmpp_conn_t *conn);

/* Sends a ping to the server when the connection has been quiet; called
 * about once a second. Returns 1 if the server failed to answer a ping
 * within the limit (the caller should drop the connection), else 0. */
int service_keepalive(struct service *s, xmpp_conn_t *conn);

/* Notes that something arrived from the server (any stanza counts as a
 * sign of life). */
void service_saw_traffic(struct service *s);

#endif

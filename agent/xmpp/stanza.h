/* xmpp/stanza.h -- small helpers over libstrophe stanzas: replies, errors,
 * JIDs. Nothing here keeps state. */
#ifndef XS_STANZA_H
#define XS_STANZA_H

#include <stddef.h>
#include <strophe.h>

/* Our own namespaces (docs/protocol.md). */
#define NS_XS_PAIR "urn:xmpp-sync:pair:0"
#define NS_XS_META "urn:xmpp-sync:meta:0"
#define NS_XS_JET  "urn:xmpp-sync:jet:0"

#define NS_DISCO_INFO  "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_PING        "urn:xmpp:ping"
#define NS_STANZAS     "urn:ietf:params:xml:ns:xmpp-stanzas"

/* Copies the bare part of jid (no resource) into buf. Returns 0, or
 * -EINVAL if jid is NULL or does not fit. */
int stanza_bare_jid(const char *jid, char *buf, size_t len);

/* Returns 1 if the bare part of jid equals bare (case-insensitive in the
 * domain, exact in the local part), else 0. */
int stanza_jid_matches(const char *jid, const char *bare);

/* Makes the result reply to an IQ (to/from swapped, same id). Returns a new
 * stanza (release with xmpp_stanza_release()) or NULL. */
xmpp_stanza_t *stanza_iq_result(xmpp_ctx_t *ctx, xmpp_stanza_t *iq);

/* Makes an error reply to an IQ: type is "cancel", "modify", "auth" or
 * "wait"; cond an RFC 6120 condition ("forbidden", "bad-request", ...);
 * app/app_ns an optional application condition element (NULL for none);
 * text an optional human-readable text. Returns a new stanza or NULL. */
xmpp_stanza_t *stanza_iq_error(xmpp_ctx_t *ctx, xmpp_stanza_t *iq,
    const char *type, const char *cond, const char *app, const char *app_ns,
    const char *text);

/* Sends an error reply (see stanza_iq_error()) and releases it. */
void stanza_send_iq_error(xmpp_conn_t *conn, xmpp_stanza_t *iq,
    const char *type, const char *cond, const char *app, const char *app_ns,
    const char *text);

/* Returns the first child element of st, or NULL (borrowed). */
xmpp_stanza_t *stanza_first_element(xmpp_stanza_t *st);

/* Adds a child element <name xmlns=ns/> to parent. Returns the child
 * (borrowed: owned by parent) or NULL. */
xmpp_stanza_t *stanza_add_child(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
    const char *name, const char *ns);

/* Base64 with libstrophe's codec into a caller buffer: returns 0, or
 * -EINVAL if the input is not base64 of exactly want bytes. */
int stanza_b64_decode_exact(xmpp_ctx_t *ctx, const char *b64,
    unsigned char *out, size_t want);

#endif

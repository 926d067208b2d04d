/* xmpp/xmpp.h -- everything that speaks to the XMPP server: the connection
 * (conn_), the IQ front door (service_), stanza helpers (stanza_) and the
 * peers we pair with and their keys (peer_). The one public header of
 * agent/xmpp/. */
#ifndef XS_XMPP_H
#define XS_XMPP_H

#include <stddef.h>
#include <stdint.h>
#include <strophe.h>

#include "agent/config.h"

/* The XMPP connection (libstrophe): TLS with certificate
 * verification, SASL, and the reason a connection attempt failed.
 *
 * TLS is mandatory: a server without STARTTLS, or whose certificate does
 * not verify against the system store (or ca_file), is refused and the
 * failing check is logged. Passwords come from cfg_password_read().
 */

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
	CONN_FAIL_CONFLICT,  /* another client took our full JID (resource) */
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

/* The IQ front door: one handler for every IQ get/set, which
 * dispatches by the namespace of the first child element, answers
 * disco#info and ping itself, and replies service-unavailable to anything
 * nobody handles (RFC 6120 8.4). Also keeps the server connection checked
 * with XEP-0199 pings. */

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

/* Routes IQs whose payload is in ns to fn, but only after they arrived
 * sealed and were opened (service_dispatch_sealed(), called by the
 * channel): the same payload in clear is refused with not-acceptable and
 * a log line, so no peer can downgrade. Returns like service_route(). */
int service_route_sealed(struct service *s, const char *ns, service_iq_fn fn,
    void *arg);

/* Hands an opened request (iq with its plaintext payload) to the
 * sealed-only route of payload's namespace. Returns 0 when a route took
 * it (and answers it), -ENOENT when none exists. */
int service_dispatch_sealed(struct service *s, xmpp_conn_t *conn,
    xmpp_stanza_t *iq, xmpp_stanza_t *payload);

/* Declares that ns is handled by a handler registered elsewhere (for
 * example the Jingle engine); such IQs are left alone. Returns like
 * service_route(). */
int service_route_external(struct service *s, const char *ns);

/* Waits for the answer (result or error) to an IQ we send with this id:
 * fn(conn, answer, arg) is called once it arrives; it returns 0 when done,
 * nonzero to go on waiting. Use this, not xmpp_id_handler_add(): libstrophe
 * 0.12 keeps every id it was given for the life of the connection, so its
 * lookups slow down with every IQ ever sent. Waits unanswered for 10
 * minutes are dropped. Returns 0, -EINVAL (id too long, fn NULL) or
 * -ENOMEM. */
int service_expect(struct service *s, const char *id, xmpp_handler fn,
    void *arg);

/* Stops waiting for the answer to id. Returns nothing. */
void service_forget(struct service *s, const char *id);

/* Returns how many answers are awaited (for tests and status). */
size_t service_waiting(const struct service *s);

/* Says whether the sender full JID from belongs to one of our peers'
 * accounts (any resource): 1 yes, 0 no. */
typedef int (*service_gate_fn)(void *arg, const char *from);

/* Sets who may talk to us: an IQ get or set from anyone else (our server
 * excepted) is answered service-unavailable, as the server answers for a
 * resource that is offline, whatever its namespace (disco#info and ping
 * included), and logged at most once every 10 s. fn NULL admits all.
 * Returns nothing. */
void service_set_gate(struct service *s, service_gate_fn fn, void *arg);

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

/* Unit tests: the replies the service makes (disco#info, ping, errors)
 * go to fn, which must not keep st, instead of conn. Returns nothing. */
void service_set_output(struct service *s,
    void (*fn)(void *arg, xmpp_stanza_t *st), void *arg);

/* Unit tests: handles one incoming IQ as the connection's handler would;
 * conn may be one that never connected (its context builds the replies).
 * Returns nothing. */
void service_input(struct service *s, xmpp_conn_t *conn, xmpp_stanza_t *iq);

/* Small helpers over libstrophe stanzas: replies, errors,
 * JIDs. Nothing here keeps state. */

/* Our own namespaces (docs/protocol.md). */
#define NS_XS_PAIR "urn:xmpp-sync:pair:0"
#define NS_XS_META "urn:xmpp-sync:meta:0"
#define NS_XS_JET  "urn:xmpp-sync:jet:0"
#define NS_XS_CHANNEL "urn:xmpp-sync:channel:0"
#define NS_XS_SEALED  "urn:xmpp-sync:sealed:0"

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

/* Returns 1 if the sender jid (a full JID) is the peer named peer: any
 * resource of it if peer is a bare JID, that one resource if peer is a
 * full JID (one daemon of an account that runs several). Else 0. */
int stanza_jid_is_peer(const char *jid, const char *peer);

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

/* The agents we talk to: a master's registered slaves, or a
 * slave's one master. Presence (who is online, at which full JID),
 * subscriptions, pairing (exchange of identity keys, proven by signature)
 * and key pinning (trust on first use or an expected fingerprint; a
 * changed key stops all traffic with that peer).
 *
 * Pairing, namespace urn:xmpp-sync:pair:0 (docs/protocol.md):
 *   <iq type='get'><identity xmlns='urn:xmpp-sync:pair:0' nonce='B64'/></iq>
 *   <iq type='result'><identity xmlns='urn:xmpp-sync:pair:0'
 *        x25519='B64' ed25519='B64' sig='B64'/></iq>
 * sig = Ed25519 over "xmpp-sync pair 0" NUL responder-bare NUL
 * requester-bare NUL nonce(16) x25519(32) ed25519(32), so the answer proves
 * possession of the key, is fresh, and names both ends.
 */

struct store;
struct service;
struct crypto_identity;
struct crypto_channel;
struct peers;

enum peer_key {
	PEER_KEY_UNVERIFIED = 0,  /* no key seen yet */
	PEER_KEY_PINNED,          /* key pinned (and, if online, proven) */
	PEER_KEY_CHANGED,         /* offered another key: traffic stopped */
	PEER_KEY_MISMATCH,        /* not the fingerprint given at slave add */
};

/* Makes the peer table for cfg's role, loading peers from the store.
 * Borrowed: cfg, st, id (must outlive the table). Returns 0 and sets *out
 * (free with peers_free()), or a negative errno. */
int peers_new(const struct cfg *cfg, struct store *st,
    const struct crypto_identity *id, struct peers **out);

/* Told when a peer becomes trusted (its pinned key proven in this
 * session; full is its full JID) or stops being trusted (full: the JID
 * that was trusted, if known). */
typedef void (*peers_trust_cb)(void *arg, const char *bare, const char *full,
    int trusted);

/* Sets the one trust listener; cb NULL removes it. Returns nothing. */
void peers_set_listener(struct peers *p, peers_trust_cb cb, void *arg);

/* Frees the table without telling the listener (teardown is no loss of
 * trust). NULL is allowed. Returns nothing. */
void peers_free(struct peers *p);

/* Registers routes and handlers (pairing IQs, presence) on a fresh
 * connection and sends directed presence to each peer. */
void peers_online(struct peers *p, struct service *svc, xmpp_conn_t *conn);

/* The connection is gone: every peer is offline. */
void peers_offline(struct peers *p);

/* What an available presence from a peer calls for (docs/protocol.md,
 * section 0). An agent sends directed presence to its peers when it logs
 * in (a hello) and answers each hello with presence that carries
 * <answer xmlns=NS_XS_PAIR/>; an answer is never answered. A hello from
 * the very full JID we hold online is a new session whose unavailable
 * presence never reached us (its server was killed, or the link between
 * two servers broke): that peer starts afresh. known is the full JID we
 * hold the peer online at ("" or NULL: offline), from the sender, answer
 * 1 if the presence is an answer. Returns PEERS_PRES_* flags. */
#define PEERS_PRES_ONLINE 1   /* the peer is online at from */
#define PEERS_PRES_RESET  2   /* first take it offline (and untrusted) */
#define PEERS_PRES_ANSWER 4   /* answer with our presence */
int peers_presence_plan(const char *known, const char *from, int answer);

/* Compares the table with the store's slave list (master): new slaves get
 * a subscription and pairing, removed ones are unsubscribed and forgotten.
 * Returns nothing; errors are logged. */
void peers_reload(struct peers *p);

/* Returns 1 if the sender full JID `from` belongs to a peer that we may
 * exchange data with right now (registered, key pinned and proven in this
 * session), else 0. */
int peers_trusted(const struct peers *p, const char *from);

/* Returns 1 if `from` is one of our peers at all (registered slave, or our
 * master), whatever its key state, else 0. */
int peers_known(const struct peers *p, const char *from);

/* Returns the pinned keys of the peer whose bare JID matches from, or
 * -ENOENT if it has none or is not trusted. Keys copied into the buffers. */
int peers_keys(const struct peers *p, const char *from, uint8_t x25519[32],
    uint8_t ed25519[32]);

/* One peer as peers_foreach() reports it; strings borrowed for the
 * duration of the callback. */
struct peer_info {
	const char *jid;        /* as registered: bare, or full for one daemon */
	const char *full;       /* full JID while online, else NULL */
	int key;                /* enum peer_key */
	int proven;             /* key proven in this session */
	int64_t backlog;        /* master: pending outbox entries */
	int64_t last_sync;      /* unix time of the last complete sync, or 0 */
	int64_t last_seen;      /* unix time it was last online, or 0 */
};

/* Calls fn for every peer in the order of the list; stops when fn returns
 * nonzero. Returns what the last call of fn returned, or 0. */
int peers_foreach(const struct peers *p,
    int (*fn)(const struct peer_info *in, void *arg), void *arg);

/* Appends the peers' part of the status report, as a JSON array of
 * objects, to buf (at most len bytes in all). Returns the new length. */
size_t peers_status_json(const struct peers *p, char *buf, size_t off,
    size_t len);

/* Appends the same as human-readable lines. Returns the new length. */
size_t peers_status_text(const struct peers *p, char *buf, size_t off,
    size_t len);

/* Returns the name of a key state for status output. */
const char *peer_key_name(enum peer_key k);

/* The sealed channel between peers (chan.c; docs/protocol.md, "Peer
 * channel"). Once peer.c trusts a peer, the master runs a handshake with
 * it (namespace urn:xmpp-sync:channel:0) and the slave answers; only then
 * is the channel's listener told that the peer is trusted, and from then
 * on every request in a sealed-only namespace (service_route_sealed())
 * and every answer to one travels as <sealed xmlns='urn:xmpp-sync:
 * sealed:0'>BASE64</sealed>, encrypted and authenticated by
 * agent/crypto/ (crypto_channel_seal()). Keys are renewed by a new
 * handshake after CRYPTO_CHANNEL_REKEY messages and on every new trust
 * (a reconnect of either side).
 */
struct chan;

/* Makes the channel table. Borrowed: cfg, id, peers, svc (must outlive
 * it). Returns 0 and sets *out (free with chan_free()), or -ENOMEM. */
int chan_new(const struct cfg *cfg, const struct crypto_identity *id,
    struct peers *peers, struct service *svc, struct chan **out);

/* Wipes every key and frees the table without telling the listener.
 * NULL is allowed. */
void chan_free(struct chan *c);

/* Sets the one listener, told as peers_set_listener() says, but only
 * once the channel with the peer is up (and when it goes). cb NULL
 * removes it. */
void chan_set_listener(struct chan *c, peers_trust_cb cb, void *arg);

/* The listener to give peers_set_listener() (arg: the chan): a peer
 * became trusted, or stopped being trusted. */
void chan_peer_trust(void *arg, const char *bare, const char *full,
    int trusted);

/* Registers the routes on a fresh connection; offline drops every
 * channel (the listener is told) and every request in flight. */
void chan_online(struct chan *c, xmpp_conn_t *conn);
void chan_offline(struct chan *c);

/* Called about once a second: handshakes that are due (new trust, a
 * retry, or keys that sealed their share of messages). */
void chan_tick(struct chan *c);

/* Returns 1 when the channel with the peer at this full JID is up. */
int chan_up(struct chan *c, const char *full);

/* Sends iq (consumed; to and id set) to a peer with its first child
 * sealed. h (may be NULL) gets the answer opened: a result with the
 * plaintext payload, or an error (the peer's, or not-acceptable when the
 * answer did not open or came unsealed). Returns 0, -ENOTCONN when no
 * channel is up with iq's `to` (nothing sent), -ENOMEM or -EIO. */
int chan_send(struct chan *c, xmpp_stanza_t *iq, xmpp_handler h, void *arg);

/* Forgets the handler of our request id (no call when it answers). */
void chan_cancel(struct chan *c, const char *id);

/* Sends reply (not consumed) to the sender of the opened request req,
 * sealed; an error's condition and text travel inside too. Dropped (a
 * debug line) when the channel went away meanwhile. */
void chan_reply(struct chan *c, xmpp_stanza_t *req, xmpp_stanza_t *reply);

/* The parser behind every sealed stanza that arrives: opens the
 * <sealed/> child of st under cur or prev (the one whose session it
 * names; either may be NULL), bound to st's type and id, and parses the
 * plaintext, which must be empty or exactly one XML element. Returns 0
 * and *out, a new stanza with st's type, id, from and to and that element
 * as its only child (release it); -ESTALE when it names neither session,
 * -EBADMSG when it does not authenticate, -EINVAL when the plaintext is
 * not one element, -ENOMEM; *why then says why, for a log line. */
int chan_unseal(xmpp_ctx_t *ctx, struct crypto_channel *cur,
    struct crypto_channel *prev, xmpp_stanza_t *st, xmpp_stanza_t **out,
    const char **why);

/* A sealed error reply to req: type and RFC 6120 condition, no text. */
void chan_reply_error(struct chan *c, xmpp_stanza_t *req, const char *type,
    const char *cond);

#endif

/* xmpp/peer.h -- the agents we talk to: a master's registered slaves, or a
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
#ifndef XS_PEER_H
#define XS_PEER_H

#include <stdint.h>
#include <strophe.h>

#include "agent/config.h"

struct store;
struct service;
struct crypto_identity;
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

/* Sets the one trust listener. */
void peers_set_listener(struct peers *p, peers_trust_cb cb, void *arg);

/* Frees the table. NULL is allowed. */
void peers_free(struct peers *p);

/* Registers routes and handlers (pairing IQs, presence) on a fresh
 * connection and sends directed presence to each peer. */
void peers_online(struct peers *p, struct service *svc, xmpp_conn_t *conn);

/* The connection is gone: every peer is offline. */
void peers_offline(struct peers *p);

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

/* Appends the peers' part of the status report, as a JSON array of
 * objects, to buf (at most len bytes in all). Returns the new length. */
size_t peers_status_json(const struct peers *p, char *buf, size_t off,
    size_t len);

/* Appends the same as human-readable lines. Returns the new length. */
size_t peers_status_text(const struct peers *p, char *buf, size_t off,
    size_t len);

/* Returns the name of a key state for status output. */
const char *peer_key_name(enum peer_key k);

#endif

/* mirror/mirror.h -- the sync engine on the wire: what master and slave say to
 * each other (syncproto_ in mirror_int.h) and the file transfers between them
 * (agent/jingle/jingle.h, encrypted with agent/crypto/crypto.h). The master side feeds
 * the watcher and scans into the planner (sync/plan.h) and drains each
 * slave's outbox; the slave side applies (sync/apply.h). */
#ifndef XS_MIRROR_H
#define XS_MIRROR_H

#include <stdint.h>
#include <strophe.h>

#include "agent/config.h"

struct loop;
struct store;
struct crypto_identity;
struct peers;
struct chan;
struct service;
struct mirror;
struct jingle;

struct mirror_env {
	const struct cfg *cfg;
	struct loop *loop;
	struct store *st;
	const struct crypto_identity *id;
	struct peers *peers;
	struct chan *chan;      /* sealed channel: every sync request */
	struct service *svc;
	xmpp_conn_t *xc;
};

/* Sets up the side of cfg's role: a first scan of the folder, then (master)
 * the watcher and periodic rescans, or (slave) the applier. env is copied;
 * what it points to must outlive the mirror. Returns 0 and sets *out
 * (free with mirror_free()), or a negative errno after logging why. */
int mirror_new(const struct mirror_env *env, struct mirror **out);

/* Frees the mirror. NULL is allowed. */
void mirror_free(struct mirror *m);

/* The connection is up as full JID me, or down (me = NULL). */
void mirror_online(struct mirror *m, const char *me);

/* A peer's trust changed: trusted = 1 once its pinned key is proven in
 * this session (full is its full JID), 0 when it goes away (full: the JID
 * it had, or NULL); its transfers then end at once. */
void mirror_peer(struct mirror *m, const char *bare, const char *full,
    int trusted);

/* Called about once a second. */
void mirror_tick(struct mirror *m);

/* What the mirror did since it was made, for progress and metrics. */
struct mirror_counters {
	uint64_t files_sent, bytes_sent, files_received, bytes_received;
	uint64_t ops_sent, ops_applied;
	/* bytes_sent counts what crossed (a delta's stream, a resumed
	 * transfer's rest); these the sizes of the files sent, and how many
	 * went as deltas */
	uint64_t file_bytes_sent, deltas_sent;
};

/* Fills *out. Returns nothing. */
void mirror_counters_get(const struct mirror *m, struct mirror_counters *out);

/* The real path of a transfer in flight as jingle_progress_foreach()
 * reports it (its Jingle name, opaque, and the sender's cookie). Returns
 * it (borrowed, valid until the transfer ends), or name when the mirror
 * does not know the transfer. */
const char *mirror_transfer_path(const struct mirror *m, const char *name,
    void *cookie);

/* Returns the Jingle engine (borrowed; NULL before mirror_new() made
 * it), for the progress of transfers in status and metrics. */
const struct jingle *mirror_jingle_get(const struct mirror *m);

/* Appends {"bytes_sent":N,...} counters for status, and
 * "waiting_for_space": the files that wait for room on a slave's disk.
 * Returns the new offset. */
size_t mirror_status_json(const struct mirror *m, char *buf, size_t off,
    size_t len);

/* Appends one line per file waiting for space, nothing when none does.
 * Returns the new offset. */
size_t mirror_status_text(const struct mirror *m, char *buf, size_t off,
    size_t len);

#endif

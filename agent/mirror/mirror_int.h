/* mirror/mirror_int.h -- shared between agent/mirror*.c only. */
#ifndef XS_MIRROR_INT_H
#define XS_MIRROR_INT_H

#include <stdint.h>

#include "agent/jingle/jingle.h"
#include "agent/mirror/mirror.h"
#include "agent/mirror/syncproto.h"
#include "store/store.h"

struct plan;
struct watch;
struct apply;
struct crypto_stream;
struct hasher;

#define MIRROR_MAX_SLAVES 256
#define MIRROR_MAX_INFLIGHT 64   /* content transfers queued per slave */

/* A stream made while building or reading <security/>, waiting for the
 * engine to ask for the session's filter. */
struct pending_stream {
	char sid[128];
	struct crypto_stream *cs;
	int encrypt;
};

/* Master: what we know of one slave in this session. */
struct mslave {
	char jid[1024];
	char full[1100];        /* "" unless trusted now */
	enum { MS_IDLE, MS_HELLO, MS_MANIFEST, MS_READY } phase;
	char iq_id[48];         /* the one request in flight, or "" */
	struct plan_entry *man; /* manifest being collected */
	size_t nman, capman;
	char *inflight[MIRROR_MAX_INFLIGHT]; /* paths being transferred */
	int64_t inflight_seq[MIRROR_MAX_INFLIGHT];
	size_t ninflight;
	int64_t retry_at_ms;    /* after a failure, wait until then */
	int64_t complete_sent;  /* seq last reported as complete */
	/* the batch in flight: what each <op/> was */
	struct {
		char *path;
		int64_t seq;
		enum store_op_kind kind;
		uint64_t size;
		uint8_t sha256[32];
		int64_t mtime_ns;
	} batch[SYNC_MAX_OPS];
	size_t nbatch;
};

/* Slave: a file the master announced with a put we answered "need". */
struct expect {
	char *path;
	uint64_t size;
	uint8_t sha256[32];
	uint32_t mode;
	int64_t mtime_ns;
};

struct mirror {
	struct mirror_env env;
	struct jingle *jingle;
	int online;
	char me[1100];
	struct pending_stream pend[64];
	uint64_t bytes_sent, bytes_received, files_sent, files_received;
	uint64_t ops_sent, ops_applied;
	/* master */
	struct plan *plan;
	struct watch *watch;
	struct hasher *hasher;  /* large files are hashed off the loop */
	int64_t next_rescan_ms;
	int64_t watch_timer;
	int degraded;
	struct mslave *slaves[MIRROR_MAX_SLAVES];
	size_t nslaves;
	/* slave */
	struct apply *apply;
	int dirty;              /* local changes found since the last sync */
	struct expect *expect;
	size_t nexpect, capexpect;
};

/* mirror.c: the <security/> element and encryption filter hooks. */
void mirror_crypto_callbacks(struct mirror *m, struct jingle_callbacks *cb);
void mirror_pending_drop(struct mirror *m, const char *sid);

/* mirror_master.c */
int mirror_master_new(struct mirror *m);
void mirror_master_free(struct mirror *m);
void mirror_master_peer(struct mirror *m, const char *bare, const char *full,
    int trusted);
void mirror_master_tick(struct mirror *m);
void mirror_master_done(struct mirror *m, const struct jingle_info *in,
    int err, enum jingle_reason reason, const char *text);

/* mirror_slave.c */
int mirror_slave_new(struct mirror *m);
void mirror_slave_free(struct mirror *m);
void mirror_slave_sink(struct mirror *m, struct jingle_sink *sink);
int mirror_slave_accept(void *arg, const char *peer,
    const struct jingle_file *f);

#endif

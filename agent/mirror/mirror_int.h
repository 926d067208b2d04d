/* mirror/mirror_int.h -- shared between the files of agent/mirror/ only (and
 * their unit tests): the master's and slave's state, and the sync protocol
 * parser and builder (syncproto_). */
#ifndef XS_MIRROR_INT_H
#define XS_MIRROR_INT_H

#include <stdint.h>
#include <strophe.h>
#include <time.h>

#include "agent/jingle/jingle.h"
#include "agent/mirror/mirror.h"
#include "store/store.h"

/* The metadata protocol between master and slave, namespace
 * urn:xmpp-sync:meta:0 (docs/protocol.md, "Metadata"): one operation per
 * <op/> element, as attributes; this file turns them into structs and
 * back, and bounds everything it reads.
 *
 *   <op k='put|mkdir|symlink|meta|rename|delete|rmdir' p='PATH'
 *       [f='FROM'] [s='SIZE'] [h='SHA256 HEX'] [m='MODE OCTAL']
 *       [t='MTIME NS'] [l='LINK TARGET'] [q='SEQ'] [w='NAME']
 *       [c='BASE64'] [x='1']/>
 *
 * Names are bytes: a path, rename source or link target that is not
 * valid UTF-8 free of control characters (what XML can carry unchanged)
 * travels as base64 of its bytes in p64, f64 or l64 instead.
 */

/* Operations per <sync/> batch: at most SYNC_MAX_OPS to a slave whose
 * hello says it takes that many (ops='512'), SYNC_MAX_OPS_OLD to one that
 * does not; of them at most SYNC_MAX_PUTS puts (a bundle's files). */
#define SYNC_MAX_OPS 512
#define SYNC_MAX_OPS_OLD 128
#define SYNC_MAX_PUTS 128
/* A file this small travels inside its put (attribute c, base64), sealed
 * with the batch, instead of in a Jingle session of its own. */
#define SYNC_INLINE_MAX 8192
#define SYNC_INLINE_B64 (4 * ((SYNC_INLINE_MAX + 2) / 3))
/* To a slave that takes bundles, a batch carries at most this much
 * content inline (a lone change arrives at once, a crowd of small files
 * goes in the bundle, a batch to a session, not 6 to a stanza). */
#define SYNC_INLINE_BATCH 8192
/* Files above SYNC_INLINE_MAX and up to this size may travel together:
 * one Jingle session carries the content of every put of a batch that the
 * slave marked for the batch's bundle, one after the other, in the order
 * of the batch (docs/protocol.md, "Bundles"). Larger files travel alone,
 * in sessions that can resume. */
#define SYNC_BUNDLE_MEMBER_MAX (1 << 20)
#define SYNC_MANIFEST_PAGE 400  /* entries per manifest page */
/* A stanza stays below ejabberd's default max_stanza_size (65536 bytes)
 * whatever the names: batches and manifest pages are cut by the
 * worst-case size of what they hold. They travel sealed, as base64 (4/3
 * of the plaintext and 40 bytes), so the plaintext gets 40 KiB. */
#define SYNC_STANZA_BUDGET (40 * 1024)
/* Jingle file names: a path that is not plain text travels as this prefix
 * and 32 hex digits of the SHA-256 of its bytes (the real name is in the
 * sync operation that announced the transfer). */
#define SYNC_WIRE_PREFIX ".xmpp-sync-h."
#define SYNC_WIRE_NAME_MAX 4096
/* An opaque transfer name (docs/protocol.md 2): the master picks one at
 * random for every put it announces (w='...' in the sealed <op/>) and
 * offers the content under it, so the Jingle <file/> names nothing. */
#define SYNC_OPAQUE_PREFIX "xs-"
#define SYNC_OPAQUE_SIZE (sizeof(SYNC_OPAQUE_PREFIX) + 32)

struct sync_op {
	enum store_op_kind kind;
	const char *path;       /* borrowed from the stanza or the store */
	const char *from;       /* rename source, else NULL */
	const char *target;     /* symlink text, else NULL */
	const char *wire;       /* put: the opaque transfer name, or NULL */
	const char *content64;  /* put: the content in base64 (a file of at
				 * most SYNC_INLINE_MAX bytes), or NULL */
	int bundled;            /* put: may travel in the batch's bundle */
	int delta;              /* put: x='1', the master can send the
				 * chunks the slave lacks (delta.c) */
	uint64_t size;
	int has_sha256;
	uint8_t sha256[32];
	uint32_t mode;
	int64_t mtime_ns;
	int64_t seq;
	/* where decoded p64/f64/l64 names live (path etc. point here) */
	char dec[3][4096];
};

/* Returns the wire name of an operation kind ("put", ...). */
const char *sync_kind_name(enum store_op_kind k);

/* Whether s is valid UTF-8 of characters XML carries unchanged in an
 * attribute (no control characters, no U+FFFE/U+FFFF). Returns 1 or 0. */
int sync_text_safe(const char *s);

/* The bytes an <op/> (or a manifest entry) for these strings can take at
 * most on the wire, escaping and base64 included (NULL counts 0). Returns
 * the size in bytes. */
size_t sync_op_wire_max(const char *path, const char *from, const char *target);

/* The same for a delete or rmdir of path, which carries less. */
size_t sync_remove_wire_max(const char *path);

/* Writes into out (SYNC_WIRE_NAME_MAX bytes) the name under which path is
 * offered in a Jingle session: path itself when it is plain text that
 * any Jingle peer takes as a file name, else SYNC_WIRE_PREFIX and a hash.
 * Returns nothing. */
void sync_wire_name(const char *path, char *out);

/* Writes a fresh random opaque transfer name into out
 * (SYNC_OPAQUE_SIZE bytes). Returns nothing. */
void sync_opaque_name(char out[SYNC_OPAQUE_SIZE]);

/* Whether s has the form sync_opaque_name() gives. Returns 0 or
 * -EINVAL. */
int sync_opaque_check(const char *s);

/* Sets attribute name (at most 5 bytes) of el to the string s, or
 * name64 to base64 of its bytes when s is not plain text
 * (sync_text_safe()). Returns 0 or -ENOMEM. */
int sync_name_attr_set(xmpp_stanza_t *el, const char *name, const char *s);

/* Reads a string written by sync_name_attr_set(): attribute name, or
 * name64 decoded into buf (cap bytes, NUL added); never both. Returns the
 * string (borrowed from el or buf), or NULL when absent, both present, or
 * not base64 of a NUL-free string shorter than cap. */
const char *sync_name_attr_get(xmpp_stanza_t *el, const char *name, char *buf,
    size_t cap);

/* Adds <op/> for o under parent. Returns 0 or -ENOMEM. */
int sync_op_build(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
    const struct sync_op *o);

/* Reads an <op/> element into o (strings borrowed from el). The border
 * for paths from the master: checks every path with path_check_synced()
 * and every number's range. Returns 0 or -EINVAL with *why set to a
 * static description. */
int sync_op_parse(xmpp_stanza_t *el, struct sync_op *o, const char **why);

/* Adds a manifest entry <e p= y='f|d|l' s= h= m= t= l=/> for f under
 * parent. Returns 0 or -ENOMEM. */
int sync_entry_build(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
    const struct store_file *f);

/* Reads a manifest entry; strings in *out are copied (free with
 * plan_entries_clear()). The border for paths from a slave: checks the
 * path with path_check_synced() and every number's range. Returns 0 or
 * -EINVAL/-ENOMEM. */
struct plan_entry;
int sync_entry_parse(xmpp_stanza_t *el, struct plan_entry *out);

/* Exactly 2 * n hex digits (n <= 32) into out, left alone on failure.
 * Returns 0 or -EINVAL. */
int sync_hex_parse(const char *s, uint8_t *out, size_t n);

/* The whole of s as a number in base (as strtoll(3) reads it) within
 * [lo, hi] into *out. Returns 0 or -EINVAL. */
int sync_num_parse(const char *s, int base, long long lo, long long hi,
    long long *out);

/* The index digest exchange (docs/protocol.md 3.1; digestproto.c):
 *
 *   <digest path='DIR' after='NAME'/>                        the request
 *   <digest path='DIR' y='d|f|l|-' m='MODE' h='HEX' more='0|1'>
 *     <c n='NAME' y='f|d|l' h='HEX'/> ...                    the answer
 *   </digest>
 *
 * Names travel as paths do (sync_name_attr_set()): one that is not plain
 * text goes as base64 of its bytes in path64, after64 or n64.
 */
#define SYNC_DIGEST_PAGE 400            /* children per answer */
#define SYNC_DIGEST_PAGE_NAMES 32768    /* bytes of names per answer */

struct sync_digest_child {
	const char *name;       /* one component; borrowed from the stanza or
				 * the page's names[] */
	enum store_ftype type;
	uint8_t digest[STORE_DIGEST_LEN];
};

/* One page of an answer. */
struct sync_digest {
	enum store_ftype type;  /* at the path: STORE_DIR, STORE_FILE,
				 * STORE_SYMLINK, or 0 for nothing */
	uint32_t mode;          /* a directory's */
	uint8_t digest[STORE_DIGEST_LEN];
	int more;               /* children follow the last one */
	size_t n;
	struct sync_digest_child c[SYNC_DIGEST_PAGE];
	/* where names sent as base64 are decoded to */
	char names[SYNC_DIGEST_PAGE_NAMES + SYNC_DIGEST_PAGE];
};

/* A parsed request; path and after point into the stanza or the bufs. */
struct sync_digest_request {
	const char *path;       /* NULL: the root */
	const char *after;      /* NULL: from the first child */
	char pbuf[4096], abuf[256];
};

/* Whether name is one path component that path_check_synced() accepts.
 * Returns 0 or -EINVAL. */
int sync_digest_name_check(const char *name);

/* Adds <digest path= after=/> in our namespace under iq (path NULL or
 * "": the root; after NULL: from the first child). Returns 0 or
 * -ENOMEM. */
int sync_digest_request_build(xmpp_ctx_t *ctx, xmpp_stanza_t *iq,
    const char *path, const char *after);

/* Reads a request into *rq. The border for both names: the path passes
 * path_check_synced(), after sync_digest_name_check(). Returns 0 or
 * -EINVAL with *why set to a static description. */
int sync_digest_request_parse(xmpp_stanza_t *el,
    struct sync_digest_request *rq, const char **why);

/* Sets the attributes of an answer el: path (NULL: none, the root) and
 * what d says is there. Returns 0 or -ENOMEM. */
int sync_digest_answer_set(xmpp_stanza_t *el, const char *path,
    const struct store_digest *d, int more);

/* The bytes an answer's own element (for path; NULL: the root) and a
 * <c/> for name take at most on the wire, escaping or base64 included:
 * a page stays within SYNC_STANZA_BUDGET. Return the size in bytes. */
size_t sync_digest_head_wire_max(const char *path);
size_t sync_digest_child_wire_max(const char *name);

/* Adds <c n= y= h=/> for c under parent. Returns 0 or -ENOMEM. */
int sync_digest_child_build(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
    const struct store_digest_child *c);

/* Reads one answer page el into *out. Refuses (-EINVAL, *why set to a
 * static description) a page with an unknown kind, a bad mode or digest,
 * children of something that is not a directory, any other element,
 * more than SYNC_DIGEST_PAGE children or SYNC_DIGEST_PAGE_NAMES bytes of
 * names, a name that is not one checked component, names that do not
 * strictly increase after `after` (NULL: none), or more='1' without
 * children. Returns 0 or -EINVAL. */
int sync_digest_parse(xmpp_stanza_t *el, const char *after,
    struct sync_digest *out, const char **why);

struct plan;
struct watch;
struct apply;
struct crypto_stream;
struct hasher;

#define MIRROR_MAX_SLAVES 256
#define MIRROR_MAX_INFLIGHT 64   /* content transfers queued per slave */
/* paths in transfers: a bundle holds up to a batch's worth, and a few
 * bundles are in flight while the next batches go out */
#define MIRROR_INFLIGHT_CAP (5 * SYNC_MAX_PUTS)
/* after a bundle failed, the slave's puts travel alone for this long, so
 * that one that keeps failing is set aside on its own */
#define MIRROR_NOBUNDLE_MS 30000
/* bundles announced by the master and not yet received, per slave */
#define MIRROR_MAX_BUNDLES 16

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
	char *inflight[MIRROR_INFLIGHT_CAP]; /* paths being transferred */
	int64_t inflight_seq[MIRROR_INFLIGHT_CAP];
	size_t ninflight;
	size_t nxfers;          /* transfers (sessions) in flight */
	int64_t retry_at_ms;    /* after a failure, wait until then */
	int64_t complete_sent;  /* seq last reported as complete */
	int answering;          /* on_sync is working through batch[] */
	int recheck;            /* it has local changes: hello again */
	/* the batch in flight: what each <op/> was */
	struct {
		char *path;
		int64_t seq;
		enum store_op_kind kind;
		uint64_t size;
		uint8_t sha256[32];
		int64_t mtime_ns;
		char wire[SYNC_OPAQUE_SIZE]; /* a put's transfer name */
		int bundled;    /* offered for the bundle */
	} batch[SYNC_MAX_OPS];
	char bundle_wire[SYNC_OPAQUE_SIZE]; /* the batch's bundle, or "" */
	int bundles;                        /* it said it takes bundles */
	int max_ops;                        /* per batch, as it said */
	int64_t nobundle_until_ms;          /* puts travel alone until then */
	size_t nbatch;
	struct digest_round *digest; /* the comparison in progress, or NULL */
	int64_t digest_at_ms;   /* compare digests once idle from then on */
	/* its disk, as it last reported (space_master.c) */
	uint64_t space_free, space_min;
	/* paths whose delta failed: sent whole next time (delta.c) */
	char *whole[16];
	size_t whole_next;
};

/* Slave: a file the master announced with a put we answered "need". */
struct expect {
	char *path;
	char *wire;             /* the Jingle name it is offered under */
	uint64_t size;
	uint8_t sha256[32];
	uint32_t mode;
	int64_t mtime_ns;
	int has_base;           /* we answered b: a delta may come (delta.c) */
	uint8_t base[32];       /* the version we hold, that it applies to */
	char *donor;            /* where base is, if not at path (apply.h) */
	uint8_t dsha[32];       /* the donor's version */
	struct chunk_list *rlist; /* of a delta session cut off, to resume */
	uint8_t rbase[32];      /* the base it applied to */
};

/* Slave: a bundle the master will send (puts of one batch answered
 * "need" for it): the files' contents one after the other, in this order. */
struct bundle_expect {
	char wire[SYNC_OPAQUE_SIZE];
	struct bundle_member {
		char *path;
		uint64_t size;
		uint8_t sha256[32];
		uint32_t mode;
		int64_t mtime_ns;
	} *mem;
	size_t n;
	uint64_t total;
};

/* Slave: its own folder watched for local changes (local.c). */
struct slave_local {
	int64_t timer;          /* drives the watcher and the notice */
	int degraded;           /* some folder unwatched: periodic checks */
	int64_t next_check_ms;  /* degraded: next check of the whole folder */
	int64_t next_expire_ms; /* next expiry of old versions */
	int64_t gen;            /* local changes seen */
	int64_t manifest_gen;   /* gen when the last manifest began */
	int manifest_seen;      /* a manifest began in this session */
	int64_t notify_at_ms;   /* tell the master then; 0: nothing to tell */
	int64_t burst_ms;       /* when the first change not told was seen */
	time_t burst_stamp;     /* its wall-clock time: where it is kept */
	int64_t logged, unlogged; /* change lines of this burst */
	char master[1100];      /* the master's full JID while trusted */
	char iq_id[32];         /* our notice in flight, or "" */
	int64_t iq_sent_ms;
	unsigned iq_seq;
	const char *ren_from, *ren_to; /* a rename being checked */
	int ren_gone, ren_logged;
};

struct mirror {
	struct mirror_env env;
	struct jingle *jingle;
	int online;
	char me[1100];
	struct pending_stream pend[64];
	uint64_t bytes_sent, bytes_received, files_sent, files_received;
	uint64_t ops_sent, ops_applied;
	/* master: sizes of the files sent (bytes_sent counts what crossed:
	 * less for deltas and resumes), and how many went as deltas */
	uint64_t file_bytes_sent, deltas_sent;
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
	struct sspace *space;   /* room on the disk (space_slave.c) */
	int dirty;              /* local changes found since the last sync */
	int64_t next_gc_ms;     /* collect our tombstones when in sync after */
	struct slave_local local;
	struct expect *expect;
	size_t nexpect, capexpect;
	struct bundle_expect bundles[MIRROR_MAX_BUNDLES];
	size_t nbundles;
	struct jingle_source files;	/* master: reads beneath dir */
};

/* mirror.c: the <security/> element and encryption filter hooks. */
void mirror_crypto_callbacks(struct mirror *m, struct jingle_callbacks *cb);
void mirror_pending_drop(struct mirror *m, const char *sid);

/* mirror_master.c */
int mirror_master_new(struct mirror *m);
/* The master's file source: reads the transfer's real path (the offer
 * carries its Jingle name, which may be a hash: sync_wire_name()). */
void mirror_master_source(struct mirror *m, struct jingle_source *src);
void mirror_master_free(struct mirror *m);
void mirror_master_peer(struct mirror *m, const char *bare, const char *full,
    int trusted);
void mirror_master_tick(struct mirror *m);
/* The real path of the transfer whose cookie this is, or NULL. */
const char *mirror_master_xfer_path(const void *cookie);
/* slave.c: the real path of the file expected under Jingle name wire, or
 * NULL. */
const char *mirror_slave_wire_path(const struct mirror *m, const char *wire);
void mirror_master_done(struct mirror *m, const struct jingle_info *in,
    int err);

/* master.c, for digest.c: what the rest of master.c uses to talk to a
 * slave. send: sends iq (consumed) as the slave's one request in flight,
 * h gets the answer; answer: the slave whose request st answers, NULL for
 * a stale answer; pump: gives the slave its next batch. */
void mirror_master_send(struct mirror *m, struct mslave *ms,
    xmpp_stanza_t *iq, xmpp_handler h);
struct mslave *mirror_master_answer(struct mirror *m, xmpp_stanza_t *st);
void mirror_master_pump(struct mirror *m, struct mslave *ms);

/* digest.c: comparing index digests (docs/protocol.md 3.1).
 * poll: the master found nothing to send to ms: starts a comparison if
 * one is due and the slave is idle. reset: drops the comparison in
 * progress (the slave went away or came back); the next is due at once.
 * answer: the slave's side, an answer to the <digest/> request q. */
void mirror_digest_poll(struct mirror *m, struct mslave *ms);
void mirror_digest_reset(struct mslave *ms);
void mirror_digest_answer(struct mirror *m, xmpp_conn_t *conn,
    xmpp_stanza_t *iq, xmpp_stanza_t *q);
/* space_master.c: a file a slave answered "space" for waits in the
 * outbox (store_outbox_wait) with a growing delay between asks, while the
 * files that fit go first; the slave's <space/> request (it has room
 * again) makes every waiting file due at once. */

/* <space free= min=/> from the trusted slave ms (master.c checked who
 * sent it): a file waiting for space may fit now; every waiting file is
 * due. Returns nothing. */
void mirror_wait_space(struct mirror *m, struct mslave *ms, xmpp_stanza_t *q);

/* The slave answered s to batch entry i (its <r/> element r). Returns 1
 * if the file now waits for space (logged once per file), else 0 (a file
 * that waited and fits now is logged as such). */
int mirror_wait_answer(struct mirror *m, struct mslave *ms, size_t i,
    xmpp_stanza_t *r, const char *s);

/* Every file waiting for ms is due now (it came back online). */
void mirror_wait_wake(struct mirror *m, struct mslave *ms);

/* Status: the waiting files of every slave as a JSON array, or as text
 * lines. Return the new offset. */
size_t mirror_wait_status_json(const struct mirror *m, char *buf, size_t off,
    size_t len);
size_t mirror_wait_status_text(const struct mirror *m, char *buf, size_t off,
    size_t len);

/* delta.c: a changed file sent as the chunks the slave lacks
 * (docs/protocol.md 2, "Delta transfers"). A delta session is offered
 * under the put's transfer name with DELTA_PREFIX for
 * SYNC_OPAQUE_PREFIX. */
#define DELTA_PREFIX "xd-"
_Static_assert(sizeof(DELTA_PREFIX) == sizeof(SYNC_OPAQUE_PREFIX),
    "a delta name is a transfer name with another prefix");

struct mirror_delta;

/* Master: plans the stream that brings the content sha256 (size bytes)
 * to a slave holding the content base, from the chunk lists the store
 * keeps of both. Returns 0 and sets *out (free with mirror_delta_free()),
 * -ENOENT if either list is not kept, -ESTALE if the list is not of size
 * bytes, -E2BIG if the delta would be no smaller than the file, -ENOMEM
 * or a store error. */
int mirror_delta_plan(struct store *st, const uint8_t sha256[32],
    uint64_t size, const uint8_t base[32], struct mirror_delta **out);

/* Frees d; NULL is allowed. */
void mirror_delta_free(struct mirror_delta *d);

/* Returns the plaintext size of d's stream; mirror_delta_content()
 * the bytes of chunks in it. */
uint64_t mirror_delta_size(const struct mirror_delta *d);
uint64_t mirror_delta_content(const struct mirror_delta *d);

/* Master: a source handle reading the file real through inner, whole
 * (d NULL) or as d's stream (d borrowed: it must outlive the handle).
 * Read and close it with mirror_delta_src_read() and _close(), which make
 * the jingle_source of the master. Returns 0 and sets *h, or the inner
 * open's error. */
int mirror_delta_src_open(const struct jingle_source *inner,
    const struct jingle_file *real, void *cookie,
    const struct mirror_delta *d, void **h);
ssize_t mirror_delta_src_read(void *h, uint64_t off, unsigned char *p,
    size_t n);
void mirror_delta_src_close(void *h);

/* Master: whether path is to be sent whole to ms (its last delta
 * failed). Returns 1 or 0. */
int mirror_delta_whole(const struct mslave *ms, const char *path);

/* Master: remembers (whole = 1) or forgets (0) that path goes whole to
 * ms; it remembers the last 16 paths. Returns nothing. */
void mirror_delta_whole_set(struct mslave *ms, const char *path, int whole);

/* Master: forgets every path of ms. */
void mirror_delta_whole_clear(struct mslave *ms);

/* Slave: sets base to the SHA-256 of the live file recorded at path if
 * the store keeps its chunk list (the version a delta can apply to).
 * Returns 0, -ENOENT or a store error. */
int mirror_delta_base(struct store *st, const char *path, uint8_t base[32]);

/* The plaintext size of a stream of wire bytes on the wire (the inverse
 * of crypto_ciphertext_size()). Returns 0, or -EINVAL if no plaintext
 * size gives wire. */
int mirror_delta_plain_size(uint64_t wire, uint64_t *plain);

/* The largest stream a delta of a size-byte file can be. */
uint64_t mirror_delta_max_size(uint64_t size);

struct mirror_dsink;
struct mirror_dsink_args {
	const char *path;
	uint64_t size, stream;	/* of the file, of the delta stream */
	uint8_t sha256[32], base[32];
	uint32_t mode;
	int64_t mtime_ns;
	const char *donor;	/* base is there, not at path (or NULL) */
};

/* Slave: the sink of a delta session (all checks are in the write and
 * finish calls). Returns 0 and sets *out (end it with _finish() or
 * _abort()), or -ENOMEM. */
int mirror_delta_sink_open(struct apply *a, struct store *st,
    const struct mirror_dsink_args *in, struct mirror_dsink **out);

/* Takes the next n bytes of the stream. Returns 0, -EBADMSG if the
 * stream does not fit the slave's version or a chunk its checksum
 * (logged: fetch the file whole), or the applier's error. */
int mirror_delta_sink_write(struct mirror_dsink *s, const unsigned char *p,
    size_t n);

/* Installs the assembled file as apply_delta_finish(); -EBADMSG for a
 * stream that ended early. s is freed. */
int mirror_delta_sink_finish(struct mirror_dsink *s);

/* Gives up; keep = 1 leaves the verified prefix for a resume (with the
 * list mirror_delta_sink_list() gives), 0 nothing. s is freed; NULL is
 * allowed. */
void mirror_delta_sink_abort(struct mirror_dsink *s, int keep);

/* A session cut off left a prefix of the new version, whose chunks were
 * l (that session's list, kept by the caller): starts the assembly from
 * that prefix, cut back to a chunk boundary, if the stream is the one
 * planned then, and sets *have to the stream byte to resume from (a
 * record boundary; what comes before the resume point is skipped). *have
 * = 0 when it cannot resume: the session starts from its first byte.
 * Returns 0 or -ENOMEM. */
int mirror_delta_sink_resume(struct mirror_dsink *s, const struct chunk_list *l,
    uint64_t *have);

/* The new version's chunk list, once the session's head is in (or it
 * resumed); NULL before. Valid until the session ends. */
const struct chunk_list *mirror_delta_sink_list(const struct mirror_dsink *s);

/* mirror_slave.c */
int mirror_slave_new(struct mirror *m);
void mirror_slave_free(struct mirror *m);
void mirror_slave_sink(struct mirror *m, struct jingle_sink *sink);
int mirror_slave_accept(void *arg, const char *peer, struct jingle_file *f);
/* The master's opaque offer (jingle_callbacks.wire_file). */
void mirror_wire_file(void *arg, const struct jingle_file *f,
    struct jingle_file *wire);

/* local.c: the slave watches its own folder. What the applier wrote it
 * recorded, so only what differs from the records is a local change: it
 * is logged, kept below .xmpp-sync/local/ and recorded, the slave is
 * dirty (kept across restarts), and a burst of changes is told to the
 * master in one <dirty/> notice, which makes it reconcile by manifest. */

/* After the applier is open: starts the watcher, compares the folder
 * with the index (a slave with no state just records it), loads the
 * dirty mark, expires old versions. Returns 0 or a negative errno
 * (logged); without inotify it carries on with periodic checks. */
int mirror_local_start(struct mirror *m);
void mirror_local_stop(struct mirror *m);
/* Called about once a second. */
void mirror_local_tick(struct mirror *m);
/* The master is trusted at full JID full, or gone (NULL). */
void mirror_local_master(struct mirror *m, const char *full);
/* The master begins a manifest (its first page). */
void mirror_local_manifest(struct mirror *m);
/* The master says the slave mirrors its state: the dirty mark goes if no
 * local change came after the last manifest began (else the master is
 * told again). */
void mirror_local_synced(struct mirror *m);
/* space_slave.c: the slave keeps min_free free on its disk. A put is
 * admitted (the room is promised to it until its transfer ends) or waits
 * for space; a waiting file is checked again periodically and the master
 * told when one fits. */
struct sres;

/* Sets up and frees the slave's space state. new returns 0 or -ENOMEM. */
int mirror_space_new(struct mirror *m);
void mirror_space_free(struct mirror *m);

/* A put of path (size bytes, checksum sha256) needs its content: admits
 * it, dropping resume prefixes of other transfers if that makes the room.
 * Returns 0 (admitted), or -ENOSPC: it waits for space (logged once per
 * file), and mirror_space_answer() says why. */
int mirror_space_admit(struct mirror *m, const char *path, uint64_t size,
    const uint8_t sha256[32]);

/* The admitted path needs no transfer after all (copied locally, or it
 * failed): its room is free again. */
void mirror_space_release(struct mirror *m, const char *path);

/* Adds free='BYTES' and min='BYTES' (as last measured) to r, the answer
 * to a put that waits, or a <space/> element. */
void mirror_space_answer(struct mirror *m, xmpp_stanza_t *r);

/* A session starts receiving path with have bytes held: checks the room
 * for the rest again. Returns 0 and sets *out (NULL if memory was short;
 * pass it to the calls below), or -ENOSPC: it waits for space. */
int mirror_space_open(struct mirror *m, const char *path, uint64_t size,
    const uint8_t sha256[32], uint64_t have, struct sres **out);

/* Before n more bytes of x are written: they must not eat into the
 * reserve (prefixes of other transfers go if that helps). Returns 0, or
 * -ENOSPC: stop, keep the prefix; it waits for space. */
int mirror_space_write(struct mirror *m, struct sres *x, size_t n);

/* x's session ended (a temp file it kept is a leftover of the applier,
 * a resume prefix to drop when room is short). */
void mirror_space_end(struct mirror *m, struct sres *x);

/* The master is trusted now at full, or gone (trusted = 0). */
void mirror_space_peer(struct mirror *m, const char *full, int trusted);

/* Called about once a second: every 10 s, looks at the waiting files
 * again and tells the master when one fits. */
void mirror_space_tick(struct mirror *m);

/* Status: the waiting files as a JSON array, or as text lines. Return
 * the new offset. */
size_t mirror_space_status_json(const struct mirror *m, char *buf, size_t off,
    size_t len);
size_t mirror_space_status_text(const struct mirror *m, char *buf, size_t off,
    size_t len);

#endif

/* jingle/jingle.h -- the Jingle file-transfer engine (XEP-0166 + XEP-0234).
 *
 * One engine per XMPP connection. The sending side (master) calls
 * jingle_send() for each file; the engine keeps up to `window` sessions in
 * flight per peer and queues the rest. The receiving side (slave) is driven
 * entirely by incoming session-initiate requests, which the owner accepts
 * or rejects through jingle_callbacks.accept_offer.
 *
 * Transports, in the order of jingle_config.transports: XEP-0260 SOCKS5
 * with direct candidates (s5b.c, socks5.c), the same with the server's
 * XEP-0065 proxy (s5b.c), and XEP-0261 IBB (ibb.c) as the
 * last resort via transport-replace. Everything runs inside the daemon's
 * loop (agent/loop.h); libstrophe handlers run from xmpp_run_once(), which
 * the owner calls every iteration.
 *
 * Data path (constant memory, whatever the file size):
 *   sender:   source --read--> filter --bytes--> transport
 *   receiver: transport --bytes--> filter --> sink
 * The filter is where end-to-end encryption (agent/crypto/crypto.h) plugs in; the
 * default filter passes bytes through.
 *
 * Sizes on the wire: <size/> and <range offset/> are always PLAINTEXT
 * sizes. The number of bytes that cross the transport is
 * filter.wire_len(plaintext bytes to send); without a filter the two are
 * equal. The receiver finishes when exactly that many bytes arrived, and
 * treats more as hostile.
 *
 * The receiver verifies the SHA-256 of the whole plaintext file (also after
 * a ranged resume) before anything appears at the final path; that check
 * is the sink's job (see jingle_sink.finish) because only the sink can read
 * the prefix it kept. An offer that names only the algorithm
 * (<hash-used/>) is accepted when the sink can take the value later
 * (jingle_sink.expect): the data is held in the sink until the sender's
 * <checksum/> arrives, at most JINGLE_CHECKSUM_WAIT_MS after the last
 * byte, and the transfer fails (nothing visible) without it.
 *
 * For the owner of the loop (see tests/tools/jft.c for a working example):
 * - watch libstrophe's socket in the loop (xmpp_conn_set_sockopt_callback
 *   hands it over) and call xmpp_run_once(ctx, 0) a few times per
 *   iteration: it reads at most 4 KiB per call, and TLS may hold more
 *   than the socket shows. Polling instead adds its period to every
 *   signalling round trip.
 * - set TCP_NODELAY on that socket: Jingle signalling is small stanzas
 *   back to back, which Nagle and delayed ACKs stall by 40 ms each.
 * - a session that ends is reported through callbacks.done exactly once;
 *   jingle_free() reports nothing.
 */
#ifndef XS_JINGLE_H
#define XS_JINGLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <strophe.h>

#include "agent/config.h"
#include "agent/loop.h"

#define JINGLE_NS       "urn:xmpp:jingle:1"
#define JINGLE_NS_ERR   "urn:xmpp:jingle:errors:1"
#define JINGLE_NS_FT    "urn:xmpp:jingle:apps:file-transfer:5"
#define JINGLE_NS_S5B   "urn:xmpp:jingle:transports:s5b:1"
#define JINGLE_NS_IBB   "urn:xmpp:jingle:transports:ibb:1"
#define JINGLE_NS_HASH  "urn:xmpp:hashes:2"

#define JINGLE_NAME_MAX 4096 /* longest relative path accepted, bytes */
/* receiver: how long after the last byte the <checksum/> of an offer
 * with <hash-used/> is waited for (at most the stage timeout) */
#define JINGLE_CHECKSUM_WAIT_MS 10000

/* Why a session ended (XEP-0166 reason conditions). */
enum jingle_reason {
	JINGLE_R_NONE = 0,
	JINGLE_R_SUCCESS,
	JINGLE_R_DECLINE,
	JINGLE_R_BUSY,
	JINGLE_R_CANCEL,
	JINGLE_R_CONNECTIVITY_ERROR,
	JINGLE_R_EXPIRED,
	JINGLE_R_FAILED_APPLICATION,
	JINGLE_R_FAILED_TRANSPORT,
	JINGLE_R_GENERAL_ERROR,
	JINGLE_R_GONE,
	JINGLE_R_INCOMPATIBLE_PARAMETERS,
	JINGLE_R_MEDIA_ERROR,
	JINGLE_R_SECURITY_ERROR,
	JINGLE_R_TIMEOUT,
	JINGLE_R_UNSUPPORTED_APPLICATIONS,
	JINGLE_R_UNSUPPORTED_TRANSPORTS,
	JINGLE_R_COUNT
};

/* The XEP-0234 file description. name is the path relative to the
 * mirrored folder, '/'-separated. */
struct jingle_file {
	char *name;
	uint64_t size;          /* plaintext bytes */
	int64_t mtime;          /* seconds since the epoch; -1: unknown */
	unsigned char sha256[32];
	int has_hash;
	/* no SHA-256 value yet, but one will follow: an offer with
	 * <hash-used algo='sha-256'/> (XEP-0234 5) whose sender sends the
	 * value in a session-info <checksum/> (8.2). On the sender, set in
	 * the wire file (see wire_file) to offer this way: the engine then
	 * sends the checksum of file once the data is out. */
	int hash_later;
};

/* What the callbacks learn about a session; all borrowed, valid for the
 * duration of the call. */
struct jingle_info {
	const char *sid;        /* the Jingle session id */
	const char *peer;       /* the peer's full JID */
	int sending;            /* 1 on the sender (initiator) */
	const struct jingle_file *file;
	uint64_t offset;        /* first plaintext byte transferred (range) */
	void *cookie;           /* what the sender gave jingle_send() */
};

/* A growable byte buffer that filters append to. */
struct jingle_buf {
	unsigned char *data;
	size_t len, cap;
};

/* Appends n bytes. Returns 0 or -ENOMEM. */
int jingle_buf_put(struct jingle_buf *b, const void *p, size_t n);

/* A byte-stream filter: plaintext -> wire on the sender, wire -> plaintext
 * on the receiver. process() is called with the bytes in order and last=1
 * exactly once at the end of the stream (possibly with n = 0); it appends
 * what it produces to out. A receiver-side error (-EBADMSG: authentication
 * failed) ends the session with security-error. */
struct jingle_filter {
	int (*process)(void *st, const unsigned char *in, size_t n, int last,
	    struct jingle_buf *out);
	/* wire bytes for len plaintext bytes; NULL: identity */
	uint64_t (*wire_len)(void *st, uint64_t len);
	void (*free)(void *st);
	void *st;
};

/* Where received data goes (the slave applier implements the real one;
 * jingle_file_sink() is a simple default). All calls happen in the loop. */
struct jingle_sink {
	/* Prepares to receive f from peer. Sets *h, and *have to the
	 * number of bytes of f already held from an interrupted transfer
	 * (0: start from scratch; must be < f->size to be used).
	 * Returns 0 or a negative errno (the offer is declined). */
	int (*open)(void *arg, const char *peer, const struct jingle_file *f,
	    void **h, uint64_t *have);
	/* Appends plaintext. Returns 0 or a negative errno. */
	int (*write)(void *h, const unsigned char *p, size_t n);
	/* The SHA-256 that finish() verifies against, for a file opened
	 * without one (f->has_hash == 0: the offer said <hash-used/>; such
	 * an open never resumes). Returns 0 or a negative errno. NULL: the
	 * sink needs the hash at open, and such offers are declined. */
	int (*expect)(void *h, const unsigned char sha256[32]);
	/* All bytes are in: verifies the SHA-256 of the whole file and
	 * makes it visible at its final path, then frees h. Returns 0,
	 * -EBADMSG on a hash mismatch (nothing made visible), or another
	 * negative errno. */
	int (*finish)(void *h);
	/* Gives up and frees h. keep != 0: keep the bytes so far for a
	 * later resume (an interrupted transfer); 0: remove them (hostile or
	 * corrupt data). */
	void (*abort)(void *h, int keep);
	void *arg;
};

/* Where sent data comes from (the master's outbox supplies the real one;
 * jingle_file_source() reads files under a directory). */
struct jingle_source {
	/* Opens the file behind f for reading. Returns 0 or a negative errno. */
	int (*open)(void *arg, const struct jingle_file *f, void *cookie,
	    void **h);
	/* Reads up to n bytes at off. Returns bytes read (0 at the end) or a
	 * negative errno. */
	ssize_t (*read)(void *h, uint64_t off, unsigned char *p, size_t n);
	void (*close)(void *h);
	void *arg;
};

/* The owner's decisions and notifications. Any may be NULL except where
 * noted. */
struct jingle_callbacks {
	/* Both sides: whether peer (full JID, possibly NULL) may send the
	 * engine any Jingle or IBB request. Nonzero: the request is answered
	 * with service-unavailable (XEP-0166 5.2: the answer to an entity
	 * one does not talk to, and what the server answers for a resource
	 * that is offline) and nothing else happens (the callback logs why).
	 * NULL: everyone may. */
	int (*authorize)(void *arg, const char *peer);
	/* Receiver: accept (return 0) or reject (a jingle_reason, usually
	 * JINGLE_R_DECLINE) an offer from peer (full JID). The engine has
	 * already checked the name (a safe relative path). f is the offer as
	 * it came; the callback may replace its size, mtime and hash with
	 * what it knows the file to be (an opaque offer, see wire_file), never
	 * its name. The engine then checks max_file_size and that a SHA-256
	 * is known. NULL accepts every offer that passed those checks and
	 * carries a hash. */
	int (*accept_offer)(void *arg, const char *peer, struct jingle_file *f);
	/* Sender: what the <file/> element of f says, in *wire (a copy of f
	 * on entry; its name stays f's). An opaque offer puts the size of the
	 * stream the transport carries and no date or hash there. NULL: the
	 * file as it is. Returns nothing. */
	void (*wire_file)(void *arg, const struct jingle_file *f,
	    struct jingle_file *wire);
	/* Sender: adds children (e.g. the <security/> element) to the
	 * outgoing <content/> of a session-initiate. Returns 0 or a negative
	 * errno (the session fails before it starts). */
	int (*content_build)(void *arg, const struct jingle_info *in,
	    xmpp_stanza_t *content);
	/* Receiver: reads the incoming <content/>. Returns 0 or a
	 * jingle_reason to reject the offer with (e.g. SECURITY_ERROR when a
	 * mandatory <security/> is missing). */
	int (*content_read)(void *arg, const struct jingle_info *in,
	    xmpp_stanza_t *content);
	/* Both sides: sets *out to the filter for this session, once the
	 * range is known. Returns 0 or a negative errno. NULL: no filter. */
	int (*filter_new)(void *arg, const struct jingle_info *in,
	    struct jingle_filter *out);
	/* Both sides: a session ended. err is 0 on success or a negative
	 * errno; reason is what went (or came) over the wire; text may be
	 * NULL. On the sender, failure means the file goes back to the outbox. */
	void (*done)(void *arg, const struct jingle_info *in, int err,
	    enum jingle_reason reason, const char *text);
	void *arg;
};

struct jingle_config {
	enum cfg_transport transports[CFG_MAX_TRANSPORTS]; /* in order */
	size_t ntransports;      /* 0: s5b, proxy, ibb */
	uint64_t max_file_size;  /* receiver; 0: no limit */
	unsigned window;         /* sessions in flight per peer; 0: 8 */
	unsigned ibb_block_size; /* bytes per IBB <data/>; 0: 16384 */
	unsigned timeout_ms;     /* per stage; 0: 30000 */
	uint64_t max_rate;       /* sender: bytes/s per session; 0: no cap */
	/* Direct SOCKS5 candidates: the host and port to advertise instead
	 * of the local addresses and the listening port (port forwarding;
	 * tests point them at a closed port). NULL/0: discovered. */
	const char *s5b_host;
	unsigned short s5b_port;
	/* Where the direct SOCKS5 listener binds: an IP literal (NULL: every
	 * address) and a port (0: any free one). */
	const char *s5b_listen;
	unsigned short s5b_listen_port;
	/* The XEP-0065 proxy; NULL: found with disco on the server. */
	const char *proxy_jid;
	struct jingle_sink sink;     /* receiver; required to receive */
	struct jingle_source source; /* sender; required to send */
};

struct jingle;

/* Makes an engine on l and xc and registers its IQ handlers (Jingle, IBB).
 * cfg and cb are copied; the sink/source arg pointers must outlive the
 * engine. xc may be NULL (unit tests: stanzas go to jingle_set_output()).
 * Call jingle_online() each time the connection comes up. Returns 0 and
 * sets *out (free with jingle_free()), or a negative errno. */
int jingle_new(struct loop *l, xmpp_conn_t *xc, const struct jingle_config *cfg,
    const struct jingle_callbacks *cb, struct jingle **out);

/* Tells the engine the connection is up as full JID `me` (discovers the
 * proxy, starts queued sessions) or down (me = NULL: every session fails
 * with -ENOTCONN and queued work stays queued). Returns nothing. */
void jingle_online(struct jingle *j, const char *me);

/* The peer (full JID) went offline: ends its sessions at once without
 * telling it (a receiver keeps the bytes so far for a resume; a sender's
 * files go back to the owner through callbacks.done). Returns nothing. */
void jingle_peer_gone(struct jingle *j, const char *peer);

/* Queues the transfer of f to peer (full JID). f is copied; cookie is
 * handed back in jingle_info. Returns 0 or a negative errno (-EINVAL for a
 * bad name or peer). The outcome arrives through callbacks.done. */
int jingle_send(struct jingle *j, const char *peer, const struct jingle_file *f,
    void *cookie);

/* Returns the number of sessions in flight plus queued transfers. */
unsigned jingle_pending(const struct jingle *j);

/* Transports as progress and metrics name them (jingle_transport_name). */
enum {
	JINGLE_T_NONE = 0,      /* not chosen yet */
	JINGLE_T_S5B,           /* direct SOCKS5 */
	JINGLE_T_PROXY,         /* SOCKS5 through the server's proxy */
	JINGLE_T_IBB,           /* in-band */
	JINGLE_NTRANSPORTS
};

/* Returns "none", "s5b", "proxy" or "ibb" for a JINGLE_T_* value. */
const char *jingle_transport_name(int t);

/* One transfer in flight, as jingle_progress_foreach() reports it; the
 * strings are borrowed for the duration of the callback. */
struct jingle_progress {
	const char *peer;       /* full JID */
	const char *name;       /* the file's name on the wire */
	int sending;            /* 1: we send, 0: we receive */
	int transport;          /* JINGLE_T_* */
	uint64_t bytes_done;    /* plaintext bytes of the file held by the
				 * receiver so far, resumed prefix included */
	uint64_t bytes_total;   /* plaintext size of the file */
	uint64_t rate_bps;      /* bytes per second since bytes started to
				 * flow in this session; 0 before */
	void *cookie;           /* sender: what jingle_send() was given */
};

/* Calls fn for every session that has started (queued transfers are only
 * counted by jingle_pending()), newest first; stops early when fn returns
 * nonzero. Returns what the last call of fn returned, or 0. */
int jingle_progress_foreach(const struct jingle *j,
    int (*fn)(const struct jingle_progress *p, void *arg), void *arg);

/* Returns how many sessions failed on transport t (JINGLE_T_*) since the
 * engine was made, or 0 for an unknown t. */
uint64_t jingle_failures_get(const struct jingle *j, int t);

/* Ends every session (terminate with cancel/gone, no callbacks), removes
 * handlers, closes sockets and frees the engine. NULL is allowed. */
void jingle_free(struct jingle *j);

/* Unit tests: stanzas the engine would send go to fn instead of the
 * connection (which may be NULL). Returns nothing. */
void jingle_set_output(struct jingle *j,
    void (*fn)(void *arg, xmpp_stanza_t *st), void *arg);

/* Unit tests without a connection: the libstrophe context to build
 * stanzas with. Returns nothing. */
void jingle_set_ctx(struct jingle *j, xmpp_ctx_t *ctx);

/* Unit tests: processes one incoming stanza as the handlers would.
 * Returns nothing. */
void jingle_input(struct jingle *j, xmpp_stanza_t *st);

/* Returns the disco#info features of the engine, NULL-terminated
 * (static): Jingle, XEP-0234, both transports, IBB, and the hashes of
 * XEP-0300 6 ("an entity ... MUST advertise" urn:xmpp:hashes:2 and each
 * hash function it supports: sha-256). */
const char *const *jingle_features(void);

/* Returns the XEP-0166 element name of a reason ("success", ...), or
 * "general-error" for unknown values. */
const char *jingle_reason_name(enum jingle_reason r);

/* Returns the reason for an element name, or JINGLE_R_NONE. */
enum jingle_reason jingle_reason_parse(const char *name);

/* Returns 0 if p is a safe relative path by the rule of sync/path.h
 * (path_check_relative: no leading '/', no empty, "." or ".." components)
 * that is also plain text for a file name offered to any peer: at most
 * JINGLE_NAME_MAX bytes, no control characters and no backslash (other
 * systems take it as a separator). Else -EINVAL. */
int jingle_path_check(const char *p);

/* Default sink: writes to <dir>/.xmpp-sync-tmp.<id>, where id is derived
 * from (name, size, hash) so an interrupted transfer of the same file is
 * found again and resumed; verifies SHA-256, fsyncs, renames into place
 * without following symlinks. dir must outlive the sink. Returns the
 * sink (no allocation). */
struct jingle_sink jingle_file_sink(const char *dir);

/* Default source: reads the regular file <dir>/<name>, never through a
 * symlink in any component (path_open_beneath). Returns the source. */
struct jingle_source jingle_file_source(const char *dir);

/* Computes the SHA-256 of the file at path (blocking; tools and tests).
 * Returns 0 or a negative errno. */
int jingle_sha256_file(const char *path, unsigned char out[32]);

#endif

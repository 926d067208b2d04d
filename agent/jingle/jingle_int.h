/* jingle/jingle_int.h -- what the files of the Jingle engine share (not for the
 * rest of the daemon, which uses agent/jingle/jingle.h; unit tests may use it):
 *
 *   jingle.c   engine, IQ dispatch, session state machine, timeouts
 *   xml.c      stanza parsing and building (jingle_xml_)
 *   s5b.c      XEP-0260 negotiation (candidates, nomination, proxy)
 *   data.c     moving bytes: source -> filter -> socket/IBB -> filter -> sink
 *   file.c     default file sink and source, path rule, SHA-256
 *   socks5.c   SOCKS5 handshakes (s5b_)
 *   ibb.c      IBB stanzas (ibb_)
 */
#ifndef XS_JINGLE_INT_H
#define XS_JINGLE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <strophe.h>

#include "agent/jingle/jingle.h"
#include "agent/loop.h"

/* Jingle stanzas: parse one incoming <jingle/> IQ into a
 * bounded struct, and build every outgoing action.
 *
 * Parsing is strict and bounded: every string has a maximum length, every
 * list a maximum count, numbers are range-checked; anything else is a
 * bad-request with a short explanation, never a crash. The parser knows
 * the shape of the elements, not the session state (jingle.c).
 */

#define JX_SID_MAX   128
#define JX_JID_MAX   1024
#define JX_CID_MAX   64
#define JX_HOST_MAX  256
#define JX_TEXT_MAX  256
#define JX_MAX_CANDS 16

enum jingle_action {
	JA_NONE = 0,
	JA_SESSION_INITIATE,
	JA_SESSION_ACCEPT,
	JA_SESSION_TERMINATE,
	JA_SESSION_INFO,
	JA_TRANSPORT_INFO,
	JA_TRANSPORT_REPLACE,
	JA_TRANSPORT_ACCEPT,
	JA_TRANSPORT_REJECT,
	JA_CONTENT_ADD,
	JA_CONTENT_ACCEPT,
	JA_CONTENT_MODIFY,
	JA_CONTENT_REJECT,
	JA_CONTENT_REMOVE,
	JA_DESCRIPTION_INFO,
	JA_SECURITY_INFO,
};

enum jingle_ttype { JT_NONE = 0, JT_S5B, JT_IBB, JT_OTHER };

enum jingle_ctype { JC_DIRECT = 1, JC_PROXY, JC_ASSISTED, JC_TUNNEL };

struct jingle_cand {
	char cid[JX_CID_MAX + 1];
	char host[JX_HOST_MAX + 1];
	char jid[JX_JID_MAX + 1];
	uint16_t port;
	uint32_t priority;
	enum jingle_ctype type;
};

/* The transport element of a content, either flavour. */
struct jingle_transport {
	enum jingle_ttype type;
	char sid[JX_SID_MAX + 1];
	/* s5b */
	char dstaddr[JX_CID_MAX + 1];
	struct jingle_cand cands[JX_MAX_CANDS];
	unsigned ncands;
	int has_used;  char used_cid[JX_CID_MAX + 1];
	int has_activated;  char activated_cid[JX_CID_MAX + 1];
	int cand_error, proxy_error;
	/* ibb */
	unsigned block_size;
};

struct jingle_msg {
	enum jingle_action action;
	char sid[JX_SID_MAX + 1];
	char initiator[JX_JID_MAX + 1];
	char responder[JX_JID_MAX + 1];
	int has_content;
	char content_name[JX_CID_MAX + 1];
	int creator_initiator;  /* creator='initiator' (the default) */
	int senders;            /* 0 none, 1 initiator, 2 responder, 3 both */
	xmpp_stanza_t *content; /* borrowed from the IQ */
	int has_file;
	struct jingle_file file;       /* name points into name_buf */
	char name_buf[JINGLE_NAME_MAX + 1];
	int has_range;
	uint64_t range_offset;
	struct jingle_transport tr;
	enum jingle_reason reason;
	char reason_text[JX_TEXT_MAX + 1];
	int info_received;      /* session-info with <received/> */
	int info_unknown;       /* a payload we do not know (session-info) */
	int has_checksum;       /* session-info with <checksum/> */
	int checksum_sha256;    /* ... naming the SHA-256 of the whole file */
	unsigned char checksum[32];
};

/* Returns the action for its attribute value, or JA_NONE. */
enum jingle_action jingle_xml_action_parse(const char *s);

/* Returns the attribute value of an action. */
const char *jingle_xml_action_name(enum jingle_action a);

/* Parses the <jingle/> child of an IQ set into *m. On failure writes a
 * short reason to err (for the bad-request text) and returns -EINVAL, or
 * -ENOTSUP for an unknown action (feature-not-implemented). */
int jingle_xml_parse(xmpp_stanza_t *iq, struct jingle_msg *m, char *err,
    size_t errlen);

/* Makes <iq type='set' to=peer id=fresh><jingle action sid .../></iq>.
 * initiator/responder may be NULL. Sets *jingle to the borrowed child.
 * Returns the IQ (release with xmpp_stanza_release()) or NULL. */
xmpp_stanza_t *jingle_xml_iq(xmpp_ctx_t *ctx, const char *to,
    enum jingle_action a, const char *sid, const char *initiator,
    const char *responder, xmpp_stanza_t **jingle);

/* Adds <content creator='initiator' name senders='initiator'/> to
 * jingle. Returns the borrowed content element or NULL. */
xmpp_stanza_t *jingle_xml_add_content(xmpp_stanza_t *jingle, const char *name);

/* Adds the XEP-0234 <description><file/></description> to content:
 * media-type (application/octet-stream), name, size, date (if known),
 * the SHA-256 <hash/>, or <hash-used/> for one that follows in a
 * <checksum/> (f->hash_later), and with range != NULL a <range/> (which
 * says ranged transfers are supported) with offset=*range if that is
 * not 0. Returns 0 or -ENOMEM. */
int jingle_xml_add_file(xmpp_stanza_t *content, const struct jingle_file *f,
    const uint64_t *range);

/* Adds the XEP-0234 <checksum creator='initiator' name=cname><file>
 * <hash algo='sha-256'/></file></checksum> of a session-info to jingle.
 * Returns 0 or -ENOMEM. */
int jingle_xml_add_checksum(xmpp_stanza_t *jingle, const char *cname,
    const unsigned char sha256[32]);

/* Adds a transport element described by t (s5b: sid, dstaddr,
 * candidates and at most one of used/error/activated/proxy-error; ibb:
 * sid, block-size) to content. Returns 0 or -ENOMEM. */
int jingle_xml_add_transport(xmpp_stanza_t *content,
    const struct jingle_transport *t);

/* Adds <reason><cond/><text/></reason>; text may be NULL. Returns 0 or
 * -ENOMEM. */
int jingle_xml_add_reason(xmpp_stanza_t *jingle, enum jingle_reason r,
    const char *text);

/* Builds an error reply to iq: type ("cancel", "modify", ...), the
 * stanza condition (e.g. "item-not-found"), an optional Jingle condition
 * ("unknown-session", "out-of-order", ...) and optional text. Returns the
 * reply (release it) or NULL. */
xmpp_stanza_t *jingle_xml_error(xmpp_stanza_t *iq, const char *type,
    const char *cond, const char *jcond, const char *text);

/* Makes a child element <name xmlns=ns/> of parent (ns may be NULL).
 * Returns it (borrowed) or NULL. */
xmpp_stanza_t *jingle_xml_child(xmpp_stanza_t *parent, const char *name,
    const char *ns);

/* Adds a text child to el. Returns 0 or -ENOMEM. */
int jingle_xml_text(xmpp_stanza_t *el, const char *text);

/* Parses a decimal uint64 with no sign, spaces or overflow. Returns 0 or
 * -EINVAL. */
int jingle_xml_u64(const char *s, uint64_t max, uint64_t *out);

/* SOCKS5 bytestream connections (XEP-0065 / RFC 1928 subset) on
 * the event loop: the client side (connect to a candidate or a proxy) and
 * the server side (a peer connecting to our listening socket). Only what
 * XEP-0065 uses: no authentication, CONNECT, address type "domain name"
 * carrying the 40-hex-digit dst.addr, port 0.
 *
 * A struct s5b lives only during the handshake. When it completes, the
 * callback runs with err = 0 and the owner takes the socket with
 * s5b_take_fd(); on failure (err < 0) the owner frees it. All sockets are
 * non-blocking and never block the loop, except that a candidate host
 * that is not a numeric address is resolved with getaddrinfo().
 */

#define S5B_DST_LEN 40 /* hex SHA-1 */

/* The four messages of the handshake, in the order they travel. */
enum s5b_msg {
	S5B_MSG_GREETING,  /* client: 05, n, n methods (one must be 00) */
	S5B_MSG_CHOICE,    /* server: 05 00 (no authentication) */
	S5B_MSG_REQUEST,   /* client: 05 01 00 03 40 dst.addr 00 00 */
	S5B_MSG_REPLY,     /* server: 05 status 00 atyp addr port */
};

/* Reads a message of kind k from the start of p, of which len bytes
 * have arrived: no I/O, no state, so the socket code and the fuzzer
 * share it. For S5B_MSG_REQUEST the dst.addr (40 lowercase hex digits)
 * is copied into dst (S5B_DST_LEN + 1 bytes); dst is unused otherwise
 * and may be NULL. Returns the message's length once it is complete and
 * acceptable, 0 when more bytes are needed, -EPROTO for a malformed
 * message or one XEP-0065 does not use, or -EACCES for a reply whose
 * status refuses the request. */
long s5b_parse(enum s5b_msg k, const unsigned char *p, size_t len,
    char *dst);

struct s5b;

/* Handshake finished: err is 0 or a negative errno (-ETIMEDOUT,
 * -ECONNREFUSED, -EPROTO for a bad reply, -EACCES when refused). The
 * callback may free c or take its fd; s5b does not touch c afterwards. */
typedef void (*s5b_done_cb)(struct s5b *c, int err, void *arg);

/* Server side: decides whether a requested dst.addr is expected.
 * Returns 0 to accept, a negative errno to refuse (reply "not allowed"). */
typedef int (*s5b_match_cb)(void *arg, const char *dst);

/* Computes dst.addr = hex(SHA-1(sid || requester || target)) into out
 * (41 bytes, NUL-terminated). Returns nothing. */
void s5b_dstaddr(const char *sid, const char *requester, const char *target,
    char out[S5B_DST_LEN + 1]);

/* Connects to host:port and asks for dst. Returns 0 and sets *out (free
 * with s5b_free() unless taken), or a negative errno; cb is then called
 * exactly once, never from inside this call. */
int s5b_connect(struct loop *l, const char *host, uint16_t port,
    const char *dst, long timeout_ms, s5b_done_cb cb, void *arg,
    struct s5b **out);

/* Runs the server side on an accepted socket fd (made non-blocking here;
 * owned by c from now on). Returns 0 and sets *out, or a negative errno
 * (fd is closed). cb is called once the reply is sent, or on failure. */
int s5b_serve(struct loop *l, int fd, long timeout_ms, s5b_match_cb match,
    s5b_done_cb cb, void *arg, struct s5b **out);

/* Returns the dst.addr requested (server) or asked for (client),
 * borrowed. */
const char *s5b_get_dst(const struct s5b *c);

/* Returns the owner's tag (set with s5b_set_tag), for callbacks. */
void *s5b_get_tag(const struct s5b *c);
void s5b_set_tag(struct s5b *c, void *tag);

/* After a successful handshake: returns the socket (no longer watched by
 * the loop; the caller closes it) and frees c. */
int s5b_take_fd(struct s5b *c);

/* Stops watching, closes the socket and frees c. NULL is allowed. */
void s5b_free(struct s5b *c);

/* Opens a non-blocking listening TCP socket on addr (an IP literal; NULL:
 * every address, IPv6 dual-stack when available) and port *port (0: an
 * ephemeral one). Returns the fd and sets *port to the port bound, or a
 * negative errno (-EINVAL: addr is not an IP literal). */
int s5b_listen(const char *addr, uint16_t *port);

/* XEP-0047 In-Band Bytestreams, the stanza layer: build and
 * parse <open/>, <data/> and <close/> (IQ stanzas only), and the 16-bit
 * sequence numbers that wrap from 65535 to 0. The flow (window of
 * unacknowledged <data/>, which session a sid belongs to) lives in
 * data.c.
 */

#define IBB_NS "http://jabber.org/protocol/ibb"
#define IBB_SID_MAX 128
#define IBB_BLOCK_MAX 65535

enum ibb_kind { IBB_NONE = 0, IBB_OPEN, IBB_DATA, IBB_CLOSE };

struct ibb_msg {
	enum ibb_kind kind;
	char sid[IBB_SID_MAX + 1];
	unsigned block_size;   /* open */
	uint16_t seq;          /* data */
	size_t len;            /* data: decoded bytes in the caller's buffer */
};

/* Makes <iq type='set' to id=fresh><open .../></iq>. Returns the stanza
 * (release it) or NULL. */
xmpp_stanza_t *ibb_open_new(xmpp_ctx_t *ctx, const char *to, const char *sid,
    unsigned block_size);

/* Makes an IQ with <data seq sid>base64(p, n)</data>. Returns the stanza
 * (release it) or NULL. */
xmpp_stanza_t *ibb_data_new(xmpp_ctx_t *ctx, const char *to, const char *sid,
    uint16_t seq, const unsigned char *p, size_t n);

/* Makes an IQ with <close sid/>. Returns the stanza (release it) or NULL. */
xmpp_stanza_t *ibb_close_new(xmpp_ctx_t *ctx, const char *to, const char *sid);

/* Parses the IBB child of an IQ set. Data is decoded into buf (cap
 * bytes; more is an error). Returns 0, or -EINVAL with a short reason in
 * err, or -EMSGSIZE when the data exceeds cap. */
int ibb_parse(xmpp_stanza_t *iq, unsigned char *buf, size_t cap,
    struct ibb_msg *m, char *err, size_t errlen);

/* Returns the sequence number after s (65535 is followed by 0). */
uint16_t ibb_seq_next(uint16_t s);

/* Decodes base64 (RFC 4648, padding required, no whitespace but line
 * breaks) into out (cap bytes). Returns the decoded length, or -EINVAL /
 * -EMSGSIZE. */
long ibb_b64_decode(const char *in, size_t inlen, unsigned char *out,
    size_t cap);

#define JINGLE_CHUNK 65536      /* bytes read from a source or socket at once */
#define JINGLE_IBB_WINDOW 8     /* unacknowledged IBB <data/> per session */
#define JINGLE_MAX_SOCKS 8      /* SOCKS5 connections per session */

enum sess_state {
	SS_PENDING = 1,  /* initiator: session-initiate sent, not acked */
	SS_WAIT_ACCEPT,  /* initiator: acked, waiting for session-accept */
	SS_NEGOTIATE,    /* transport being set up */
	SS_TRANSFER,     /* bytes flowing */
	SS_WAIT_END,     /* sender: all bytes out, waiting for the verdict */
	SS_ENDED,        /* finished; freed at the next tick */
};

/* Kinds of IQ we wait for a reply to. */
enum piq_kind {
	PIQ_JINGLE = 1,  /* aux: enum jingle_action */
	PIQ_IBB_OPEN,
	PIQ_IBB_DATA,
	PIQ_IBB_CLOSE,
	PIQ_DISCO_ITEMS,
	PIQ_DISCO_INFO,
	PIQ_PROXY_QUERY,
	PIQ_ACTIVATE,
};

struct piq {
	struct piq *next;
	char *id;
	uint64_t serial;        /* the session (0: the engine) */
	enum piq_kind kind;
	int aux;
	int64_t sent_ms;
};

/* SOCKS5 negotiation state of one session (jingle_s5b.c). */
struct s5b_neg {
	struct jingle_transport ours, theirs;  /* candidates offered */
	char dst_in[S5B_DST_LEN + 1];   /* their connections to our candidates */
	char dst_out[S5B_DST_LEN + 1];  /* our connections to theirs */
	unsigned next_try;              /* index into theirs.cands (sorted) */
	struct s5b *trying;             /* connection attempt in progress */
	int used_fd;                    /* connected to theirs.cands[used_idx] */
	int used_idx;
	int sent_report;                /* candidate-used or candidate-error sent */
	int got_report;                 /* theirs received */
	int their_used_idx;             /* -1: candidate-error */
	int in_fds[JINGLE_MAX_SOCKS];   /* accepted on our listener, handshaken */
	unsigned nin;
	struct s5b *proxy_conn;         /* we activate our own proxy candidate */
	int proxy_fd;
	int waiting_activated;          /* their proxy candidate won */
	int decided;
};

struct session {
	struct session *next;
	struct jingle *j;
	uint64_t serial;
	char sid[JX_SID_MAX + 1];
	char peer[JX_JID_MAX + 1];
	char initiator_jid[JX_JID_MAX + 1];
	char responder_jid[JX_JID_MAX + 1];
	char cname[JX_CID_MAX + 1];  /* the content's name */
	int sending;            /* we are the initiator and the sender */
	xmpp_stanza_t *early_info; /* a transport-info that came before the
				    * session-accept, acted on after it */
	struct jingle_file file;
	/* what <file/> says on the wire: file itself, or what wire_file
	 * made of it (an opaque offer); name is file's */
	struct jingle_file wire;
	void *cookie;
	enum sess_state state;
	int64_t deadline_ms;
	uint64_t offset;        /* range offset (plaintext) */
	uint64_t wire_total;    /* bytes that must cross the transport */
	uint64_t wire_done;
	size_t fam;             /* index into cfg.transports being tried */
	enum jingle_ttype ttype;
	int replacing;          /* transport-replace sent, no answer yet */
	int via_proxy;          /* the SOCKS5 stream goes through a proxy */
	struct s5b_neg *s5;
	int data_fd;            /* the chosen SOCKS5 socket, -1 if none */
	/* IBB */
	char ibb_sid[JX_SID_MAX + 1];
	unsigned block_size;
	uint16_t ibb_seq;
	unsigned ibb_inflight;
	int ibb_open;
	int64_t ibb_close_by_ms;  /* all data in: the sender's <close/> awaited
				   * until then before terminating (0: no) */
	int64_t checksum_by_ms;   /* all data in, the offer said <hash-used/>:
				   * its <checksum/> awaited until then (0: no) */
	/* data path */
	void *src_h, *sink_h;
	struct jingle_filter filter;
	int has_filter;
	struct jingle_buf buf;  /* filter output not yet sent/written */
	size_t buf_off;
	uint64_t read_off;      /* next plaintext byte to read from the source */
	int src_done;           /* the filter has seen last=1 */
	int64_t started_ms;
	int64_t xfer_ms;        /* when bytes started to flow */
	int64_t rate_timer;     /* pending resume after a rate pause */
};

struct queued {
	struct queued *next;
	char *peer;
	struct jingle_file file;
	void *cookie;
};

struct jingle {
	struct loop *l;
	xmpp_conn_t *xc;
	xmpp_ctx_t *ctx;
	struct jingle_config cfg;
	struct jingle_callbacks cb;
	char *me;
	struct session *sessions;
	struct session *dead;
	struct queued *qhead, *qtail;
	struct piq *piqs;
	uint64_t next_serial;
	int64_t tick;
	/* the server's SOCKS5 proxy (XEP-0065) */
	int proxy_state;        /* 0 unknown, 1 querying, 2 known/none */
	int64_t proxy_started_ms;
	unsigned disco_pending;
	char proxy_jid[JX_JID_MAX + 1];
	char proxy_host[JX_HOST_MAX + 1];
	uint16_t proxy_port;
	/* transport families in the configured order: JT_S5B (direct and
	 * proxy candidates together) and JT_IBB */
	enum jingle_ttype fams[2];
	size_t nfams;
	/* our listening socket for direct candidates */
	int lfd;
	uint16_t lport;
	struct s5b *incoming[32];
	void (*out_fn)(void *arg, xmpp_stanza_t *st);
	void *out_arg;
	/* failed sessions by transport, for metrics (progress.c) */
	uint64_t failures[JINGLE_NTRANSPORTS];
	unsigned char scratch[JINGLE_CHUNK];
};

/* jingle.c */
void jingle_out(struct jingle *j, xmpp_stanza_t *st);
int jingle_iq_send(struct jingle *j, xmpp_stanza_t *iq, uint64_t serial,
    enum piq_kind kind, int aux);
void jingle_session_end(struct session *s, int err, enum jingle_reason r,
    const char *text, int tell_peer);
struct session *jingle_session_by_serial(struct jingle *j, uint64_t serial);
void jingle_touch(struct session *s);
int jingle_transport_allowed(const struct jingle *j, enum cfg_transport t);

/* progress.c */
/* Which transport a session uses, for progress and metrics: one of
 * JINGLE_T_*, JINGLE_T_NONE before one is chosen. */
int jingle_session_transport(const struct session *s);
void jingle_transport_failed(struct session *s, const char *why);
void jingle_send_transport_info(struct session *s,
    const struct jingle_transport *t);
/* Sender: all data is out; sends the session-info <checksum/> if the
 * offer said <hash-used/> instead of the hash. Returns nothing. */
void jingle_send_checksum(struct session *s);

/* jingle_s5b.c */
/* Makes our candidates for s; theirs (the initiator's offer, when we
 * respond; NULL when we initiate) is left out: XEP-0260 2.2, the
 * responder MUST NOT offer a host and port the initiator offered. Returns
 * the number of candidates or -ENOMEM. */
int jingle_s5b_offer(struct session *s, const char *tsid,
    const struct jingle_transport *theirs);
void jingle_s5b_start(struct session *s, const struct jingle_transport *theirs);
int jingle_s5b_info(struct session *s, const struct jingle_transport *t,
    const char **why);
void jingle_s5b_free(struct session *s);
void jingle_s5b_activate_reply(struct session *s, int ok);
void jingle_proxy_discover(struct jingle *j);
void jingle_proxy_reply(struct jingle *j, enum piq_kind kind,
    xmpp_stanza_t *st, int ok);
int jingle_listener_open(struct jingle *j);
void jingle_listener_close(struct jingle *j);

/* jingle_data.c */
int jingle_data_begin(struct session *s);
void jingle_data_socket(struct session *s, int fd);
void jingle_data_ibb_start(struct session *s);
void jingle_data_ibb_acked(struct session *s, int ok);
void jingle_data_ibb_in(struct jingle *j, xmpp_stanza_t *iq);
int jingle_data_receive_done(struct session *s);

/* Receiver over IBB: all data arrived but the sender has not closed the
 * bytestream; after IBB_CLOSE_WAIT_MS the session ends without its
 * <close/>. Called from the engine's tick. Returns 1 if the session
 * ended (the list of sessions changed), else 0. */
#define IBB_CLOSE_WAIT_MS 2000
int jingle_data_ibb_tick(struct session *s, int64_t now);
void jingle_data_free(struct session *s, int keep);

#endif

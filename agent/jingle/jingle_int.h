/* jingle/jingle_int.h -- what the files of the Jingle engine share (not for the
 * rest of the daemon, which uses agent/jingle.h):
 *
 *   jingle.c       engine, IQ dispatch, session state machine, timeouts
 *   jingle_xml.c   stanza parsing and building
 *   jingle_s5b.c   XEP-0260 negotiation (candidates, nomination, proxy)
 *   jingle_data.c  moving bytes: source -> filter -> socket/IBB -> filter -> sink
 *   jingle_file.c  default file sink and source, path rule, SHA-256
 *   s5b.c, ibb.c   SOCKS5 handshakes and IBB stanzas
 */
#ifndef XS_JINGLE_INT_H
#define XS_JINGLE_INT_H

#include "agent/jingle/jingle.h"
#include "agent/jingle/xml.h"
#include "agent/jingle/socks5.h"

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
	struct jingle_file file;
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
void jingle_transport_failed(struct session *s, const char *why);
void jingle_send_transport_info(struct session *s,
    const struct jingle_transport *t);

/* jingle_s5b.c */
int jingle_s5b_offer(struct session *s, const char *tsid);
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
void jingle_data_free(struct session *s, int keep);

#endif

/* jingle/data.c -- moving the bytes of a session, in constant memory:
 *
 *   sender:   source.read (64 KiB) -> filter -> socket write / IBB <data/>
 *   receiver: socket read / IBB <data/> -> filter -> sink.write
 *
 * The sender reads the next chunk only when the previous one is out, so
 * at most one chunk (plus what the filter adds) is buffered per session.
 * IBB keeps at most JINGLE_IBB_WINDOW <data/> IQs unacknowledged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/jingle/jingle_int.h"
#include "agent/log.h"
#include "agent/util.h"

#define ROUNDS_PER_EVENT 16  /* chunks per readiness callback: fairness */

int
jingle_buf_put(struct jingle_buf *b, const void *p, size_t n)
{
	if (n > SIZE_MAX - b->len ||
	    util_grow(&b->data, b->len + n, &b->cap, 4096) < 0)
		return -ENOMEM;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static int
run_filter(struct session *s, const unsigned char *p, size_t n, int last)
{
	if (s->has_filter)
		return s->filter.process(s->filter.st, p, n, last, &s->buf);
	return jingle_buf_put(&s->buf, p, n);
}

int
jingle_data_begin(struct session *s)
{
	struct jingle *j = s->j;
	struct jingle_info in = {.sid = s->sid, .peer = s->peer,
	    .sending = s->sending, .file = &s->file, .offset = s->offset,
	    .cookie = s->cookie};
	uint64_t plain = s->file.size - s->offset;
	int r;

	if (j->cb.filter_new && !s->has_filter) {
		if ((r = j->cb.filter_new(j->cb.arg, &in, &s->filter)) < 0)
			return r;
		s->has_filter = s->filter.process != NULL;
	}
	s->read_off = s->offset;
	s->wire_total = s->has_filter && s->filter.wire_len ?
	    s->filter.wire_len(s->filter.st, plain) : plain;
	s->wire_done = 0;
	s->buf.len = s->buf_off = 0;
	return 0;
}

/* Sender: makes sure s->buf holds unsent bytes, unless all is out.
 * Returns 0 or a negative errno. */
static int
fill(struct session *s)
{
	struct jingle *j = s->j;
	uint64_t left = s->file.size - s->read_off;
	size_t want = left < JINGLE_CHUNK ? (size_t)left : JINGLE_CHUNK;
	ssize_t n = 0;
	int r;

	if (s->buf_off < s->buf.len || s->src_done)
		return 0;
	s->buf.len = s->buf_off = 0;
	if (want) {
		n = j->cfg.source.read(s->src_h, s->read_off, j->scratch, want);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO; /* the file shrank under us */
	}
	s->read_off += (uint64_t)n;
	if ((r = run_filter(s, j->scratch, (size_t)n,
	    s->read_off == s->file.size)) < 0)
		return r;
	if (s->read_off == s->file.size)
		s->src_done = 1;
	return 0;
}

static size_t
pending(const struct session *s)
{
	return s->buf.len - s->buf_off;
}

static void
source_failed(struct session *s, int err)
{
	char text[128];

	snprintf(text, sizeof(text), "cannot read the file: %s", strerror(-err));
	jingle_session_end(s, err, JINGLE_R_MEDIA_ERROR, text, 1);
}

/* Receiver: the last byte is in. Verifies through the sink and ends the
 * session either way. Returns 0 if it was not yet complete. */
int
jingle_data_receive_done(struct session *s)
{
	struct jingle *j = s->j;
	void *h = s->sink_h;
	int r;

	if (s->sending || s->wire_done != s->wire_total || h == NULL)
		return 0;
	if (!s->file.has_hash) {
		/* the offer said <hash-used/>: nothing is verified, made
		 * visible or acknowledged before its <checksum/> is in */
		if (s->checksum_by_ms == 0) {
			int64_t wait = JINGLE_CHECKSUM_WAIT_MS;
			if (wait > (int64_t)j->cfg.timeout_ms)
				wait = j->cfg.timeout_ms;
			s->checksum_by_ms = loop_now_ms() + wait;
			log_debug("%s: all data in, waiting for the checksum",
			    s->file.name);
		}
		return 0;
	}
	if (s->wire_total == 0 && s->has_filter) {
		s->buf.len = 0;
		if (s->filter.process(s->filter.st, NULL, 0, 1, &s->buf) < 0) {
			jingle_session_end(s, -EBADMSG, JINGLE_R_SECURITY_ERROR,
			    "stream failed authentication", 1);
			return 1;
		}
		if (s->buf.len && j->cfg.sink.write(h, s->buf.data,
		    s->buf.len) < 0) {
			jingle_session_end(s, -EIO, JINGLE_R_FAILED_APPLICATION,
			    "cannot write", 1);
			return 1;
		}
	}
	s->sink_h = NULL;
	r = j->cfg.sink.finish(h);
	if (r == 0)
		jingle_session_end(s, 0, JINGLE_R_SUCCESS, NULL, 1);
	else if (r == -EBADMSG)
		jingle_session_end(s, r, JINGLE_R_MEDIA_ERROR,
		    "sha-256 mismatch", 1);
	else
		jingle_session_end(s, r, JINGLE_R_FAILED_APPLICATION,
		    "cannot store the file", 1);
	return 1;
}

/* Receiver: n wire bytes arrived. Ends the session on hostile input. */
static void
deliver(struct session *s, const unsigned char *p, size_t n)
{
	struct jingle *j = s->j;
	int last, r;

	if (n > s->wire_total - s->wire_done) {
		jingle_session_end(s, -EMSGSIZE, JINGLE_R_MEDIA_ERROR,
		    "more data than the declared size", 1);
		return;
	}
	s->wire_done += n;
	last = s->wire_done == s->wire_total;
	if (s->has_filter) {
		s->buf.len = 0;
		if (s->filter.process(s->filter.st, p, n, last, &s->buf) < 0) {
			jingle_session_end(s, -EBADMSG, JINGLE_R_SECURITY_ERROR,
			    "stream failed authentication", 1);
			return;
		}
		p = s->buf.data;
		n = s->buf.len;
	}
	if (n && (r = j->cfg.sink.write(s->sink_h, p, n)) < 0) {
		char text[128];
		snprintf(text, sizeof(text), "cannot write: %s", strerror(-r));
		jingle_session_end(s, r, JINGLE_R_FAILED_APPLICATION, text, 1);
		return;
	}
	jingle_touch(s);
	if (!last)
		return;
	/* XEP-0261: the sender closes the bytestream (<close/>, its result)
	 * and only then is the session terminated; a sender that never
	 * closes is not waited for long */
	if (s->ttype == JT_IBB && s->ibb_open) {
		s->ibb_close_by_ms = loop_now_ms() + IBB_CLOSE_WAIT_MS;
		return;
	}
	jingle_data_receive_done(s);
}

int
jingle_data_ibb_tick(struct session *s, int64_t now)
{
	if (s->ibb_close_by_ms == 0 || now < s->ibb_close_by_ms)
		return 0;
	s->ibb_close_by_ms = 0;
	log_debug("%s: no ibb <close/> from the sender; ending the session",
	    s->file.name);
	return jingle_data_receive_done(s);
}

/* ---- rate cap (sender) ---- */

static void ibb_pump(struct session *s);

static long
rate_resume(struct loop *l, void *arg)
{
	struct session *s = arg;

	s->rate_timer = 0;
	if (s->data_fd >= 0)
		loop_fd_mod(l, s->data_fd, LOOP_READ | LOOP_WRITE);
	else
		ibb_pump(s);
	return LOOP_TIMER_END;
}

/* Returns 1 (and arranges to resume) when the session is ahead of
 * max_rate, else 0. */
static int
over_rate(struct session *s)
{
	uint64_t rate = s->j->cfg.max_rate;
	int64_t el = loop_now_ms() - s->xfer_ms;

	if (rate == 0 || s->wire_done * 1000 <= rate * (uint64_t)(el > 0 ? el : 0))
		return 0;
	if (s->rate_timer == 0) {
		if (s->data_fd >= 0)
			loop_fd_mod(s->j->l, s->data_fd, LOOP_READ);
		s->rate_timer = loop_timer_add(s->j->l, 20, rate_resume, s);
	}
	return 1;
}

/* ---- SOCKS5 socket ---- */

static void
sock_send(struct session *s)
{
	for (int i = 0; i < ROUNDS_PER_EVENT && !over_rate(s); i++) {
		int r = fill(s);
		if (r < 0) {
			source_failed(s, r);
			return;
		}
		if (pending(s) == 0) {
			/* All out. Half-close: Prosody's proxy65 leaves the
			 * tail of a stream in its read buffer until the socket
			 * becomes readable again, which EOF does. Keep the
			 * socket until the verdict. */
			shutdown(s->data_fd, SHUT_WR);
			loop_fd_mod(s->j->l, s->data_fd, LOOP_READ);
			s->state = SS_WAIT_END;
			jingle_touch(s);
			jingle_send_checksum(s);
			return;
		}
		ssize_t w = send(s->data_fd, s->buf.data + s->buf_off,
		    pending(s), MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			jingle_session_end(s, -errno, JINGLE_R_CONNECTIVITY_ERROR,
			    "bytestream broken", 1);
			return;
		}
		s->buf_off += (size_t)w;
		s->wire_done += (uint64_t)w;
		jingle_touch(s);
	}
}

static void
sock_recv(struct session *s)
{
	struct jingle *j = s->j;

	for (int i = 0; i < ROUNDS_PER_EVENT && s->state == SS_TRANSFER; i++) {
		ssize_t n = recv(s->data_fd, j->scratch, JINGLE_CHUNK, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			n = 0;
		}
		if (n == 0 && s->wire_done == s->wire_total) {
			/* all in, the checksum still to come: the sender's
			 * half-close is the end of the stream */
			loop_fd_del(j->l, s->data_fd);
			return;
		}
		if (n == 0) {
			jingle_session_end(s, -ECONNRESET,
			    JINGLE_R_CONNECTIVITY_ERROR,
			    "bytestream closed before the end", 1);
			return;
		}
		deliver(s, j->scratch, (size_t)n);
	}
}

static void
on_sock(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct session *s = arg;
	char c;

	(void)l;
	if (!s->sending) {
		sock_recv(s);
		return;
	}
	if ((ev & (LOOP_READ | LOOP_ERROR)) &&
	    recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
		/* the receiver closed: it will tell us why over XMPP */
		loop_fd_del(l, fd);
		if (s->state != SS_WAIT_END)
			jingle_session_end(s, -ECONNRESET,
			    JINGLE_R_CONNECTIVITY_ERROR,
			    "bytestream closed by the peer", 1);
		return;
	}
	if (s->state == SS_TRANSFER && (ev & LOOP_WRITE))
		sock_send(s);
}

void
jingle_data_socket(struct session *s, int fd)
{
	s->data_fd = fd;
	s->state = SS_TRANSFER;
	s->xfer_ms = loop_now_ms();
	jingle_touch(s);
	if (loop_fd_add(s->j->l, fd, s->sending ? LOOP_READ | LOOP_WRITE :
	    LOOP_READ, on_sock, s) < 0) {
		jingle_session_end(s, -EIO, JINGLE_R_GENERAL_ERROR,
		    "cannot watch the bytestream", 1);
		return;
	}
	log_debug("%s: bytestream ready", s->file.name);
	if (!s->sending)
		jingle_data_receive_done(s);
}

/* ---- IBB ---- */

static void
ibb_pump(struct session *s)
{
	struct jingle *j = s->j;

	while (s->state == SS_TRANSFER && s->ibb_inflight < JINGLE_IBB_WINDOW &&
	    !over_rate(s)) {
		int r = fill(s);
		if (r < 0) {
			source_failed(s, r);
			return;
		}
		if (pending(s) == 0) {
			if (s->ibb_inflight)
				return;
			xmpp_stanza_t *iq = ibb_close_new(j->ctx, s->peer,
			    s->ibb_sid);
			if (iq)
				jingle_iq_send(j, iq, s->serial, PIQ_IBB_CLOSE, 0);
			s->state = SS_WAIT_END;
			jingle_touch(s);
			jingle_send_checksum(s);
			return;
		}
		size_t n = pending(s) < s->block_size ? pending(s) : s->block_size;
		xmpp_stanza_t *iq = ibb_data_new(j->ctx, s->peer, s->ibb_sid,
		    s->ibb_seq, s->buf.data + s->buf_off, n);
		if (iq == NULL) {
			jingle_session_end(s, -ENOMEM, JINGLE_R_GENERAL_ERROR,
			    "out of memory", 1);
			return;
		}
		s->ibb_seq = ibb_seq_next(s->ibb_seq);
		s->ibb_inflight++;
		s->buf_off += n;
		s->wire_done += n;
		jingle_iq_send(j, iq, s->serial, PIQ_IBB_DATA, 0);
	}
}

void
jingle_data_ibb_start(struct session *s)
{
	xmpp_stanza_t *iq;

	s->ibb_seq = 0;
	s->ibb_inflight = 0;
	s->ibb_open = 0;
	if (!s->sending)
		return; /* the sender opens */
	iq = ibb_open_new(s->j->ctx, s->peer, s->ibb_sid, s->block_size);
	if (iq == NULL) {
		jingle_session_end(s, -ENOMEM, JINGLE_R_GENERAL_ERROR,
		    "out of memory", 1);
		return;
	}
	jingle_iq_send(s->j, iq, s->serial, PIQ_IBB_OPEN, 0);
}

void
jingle_data_ibb_acked(struct session *s, int ok)
{
	if (!ok) {
		jingle_session_end(s, -ENETUNREACH, JINGLE_R_FAILED_TRANSPORT,
		    "ibb data refused", 1);
		return;
	}
	if (!s->ibb_open) {
		s->ibb_open = 1;
		s->state = SS_TRANSFER;
		s->xfer_ms = loop_now_ms();
		log_debug("%s: ibb open, block size %u", s->file.name,
		    s->block_size);
	} else if (s->ibb_inflight)
		s->ibb_inflight--;
	jingle_touch(s);
	ibb_pump(s);
}

static struct session *
ibb_session(struct jingle *j, const char *from, const char *sid)
{
	for (struct session *s = j->sessions; s; s = s->next)
		if (!s->sending && s->ttype == JT_IBB &&
		    strcmp(s->ibb_sid, sid) == 0 && strcmp(s->peer, from) == 0)
			return s;
	return NULL;
}

static void
reply(struct jingle *j, xmpp_stanza_t *iq, const char *type, const char *cond,
    const char *text)
{
	xmpp_stanza_t *r;

	if (cond)
		r = jingle_xml_error(iq, type, cond, NULL, text);
	else {
		r = xmpp_iq_new(j->ctx, "result", xmpp_stanza_get_id(iq));
		if (r && xmpp_stanza_get_from(iq))
			xmpp_stanza_set_to(r, xmpp_stanza_get_from(iq));
	}
	if (r) {
		jingle_out(j, r);
		xmpp_stanza_release(r);
	}
}

static void
ibb_data_in(struct session *s, xmpp_stanza_t *iq, const struct ibb_msg *m)
{
	struct jingle *j = s->j;

	if (!s->ibb_open) {
		reply(j, iq, "cancel", "unexpected-request", "not open");
		return;
	}
	if (m->seq != s->ibb_seq || m->len > s->block_size) {
		reply(j, iq, "cancel", "unexpected-request",
		    m->seq != s->ibb_seq ? "bad seq" : "block too large");
		jingle_session_end(s, -EPROTO, JINGLE_R_FAILED_TRANSPORT,
		    "ibb stream out of order", 1);
		return;
	}
	s->ibb_seq = ibb_seq_next(s->ibb_seq);
	reply(j, iq, NULL, NULL, NULL);
	deliver(s, j->scratch, m->len);
}

void
jingle_data_ibb_in(struct jingle *j, xmpp_stanza_t *iq)
{
	const char *from = xmpp_stanza_get_from(iq);
	struct ibb_msg m;
	struct session *s;
	char err[96];
	int r;

	r = ibb_parse(iq, j->scratch, sizeof(j->scratch), &m, err, sizeof(err));
	if (r < 0) {
		reply(j, iq, "modify", "bad-request", err);
		return;
	}
	if (from == NULL || (s = ibb_session(j, from, m.sid)) == NULL) {
		reply(j, iq, "cancel", "item-not-found", NULL);
		return;
	}
	switch (m.kind) {
	case IBB_OPEN:
		if (s->ibb_open || m.block_size > s->block_size) {
			reply(j, iq, s->ibb_open ? "cancel" : "modify",
			    s->ibb_open ? "unexpected-request" :
			    "resource-constraint", NULL);
			return;
		}
		s->block_size = m.block_size;
		s->ibb_open = 1;
		s->state = SS_TRANSFER;
		jingle_touch(s);
		reply(j, iq, NULL, NULL, NULL);
		return;
	case IBB_DATA:
		ibb_data_in(s, iq, &m);
		return;
	case IBB_CLOSE:
		reply(j, iq, NULL, NULL, NULL);
		s->ibb_open = 0;
		s->ibb_close_by_ms = 0;
		if (s->wire_done < s->wire_total)
			jingle_session_end(s, -ECONNRESET,
			    JINGLE_R_CONNECTIVITY_ERROR,
			    "ibb closed before the end", 1);
		else
			jingle_data_receive_done(s);
		return;
	default:
		reply(j, iq, "modify", "bad-request", NULL);
	}
}

void
jingle_data_free(struct session *s, int keep)
{
	struct jingle *j = s->j;

	if (s->rate_timer) {
		loop_timer_del(j->l, s->rate_timer);
		s->rate_timer = 0;
	}
	if (s->data_fd >= 0) {
		loop_fd_del(j->l, s->data_fd);
		close(s->data_fd);
		s->data_fd = -1;
	}
	if (s->src_h) {
		j->cfg.source.close(s->src_h);
		s->src_h = NULL;
	}
	if (s->sink_h) {
		j->cfg.sink.abort(s->sink_h, keep);
		s->sink_h = NULL;
	}
	if (s->has_filter && s->filter.free)
		s->filter.free(s->filter.st);
	s->has_filter = 0;
	free(s->buf.data);
	s->buf.data = NULL;
	s->buf.len = s->buf.cap = s->buf_off = 0;
}

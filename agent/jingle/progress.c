/* progress.c -- what the transfers in flight have done so far, and the
 * failure counts by transport (see jingle.h), for status and metrics. */
#include "agent/jingle/jingle_int.h"

const char *
jingle_transport_name(int t)
{
	static const char *const names[JINGLE_NTRANSPORTS] = {"none", "s5b",
	    "proxy", "ibb"};

	return t >= 0 && t < JINGLE_NTRANSPORTS ? names[t] : "none";
}

int
jingle_session_transport(const struct session *s)
{
	if (s->ttype == JT_IBB)
		return JINGLE_T_IBB;
	if (s->ttype == JT_S5B)
		return s->via_proxy ? JINGLE_T_PROXY : JINGLE_T_S5B;
	return JINGLE_T_NONE;
}

/* Plaintext bytes held by the receiver: the resumed prefix plus the share
 * of the range that crossed the transport (wire bytes include record
 * overhead, so scale rather than subtract). */
static uint64_t
plain_done(const struct session *s)
{
	uint64_t range = s->file.size > s->offset ? s->file.size - s->offset : 0;

	if (s->wire_total == 0 || s->wire_done >= s->wire_total)
		return s->offset + (s->wire_total ? range : 0);
	/* the product overflows only for files of many GiB: divide first
	 * then, losing precision nobody sees */
	if (range != 0 && s->wire_done > UINT64_MAX / range)
		return s->offset + range / s->wire_total * s->wire_done;
	return s->offset + range * s->wire_done / s->wire_total;
}

int
jingle_progress_foreach(const struct jingle *j,
    int (*fn)(const struct jingle_progress *p, void *arg), void *arg)
{
	int64_t now = loop_now_ms();
	int r = 0;

	for (const struct session *s = j->sessions; s && r == 0; s = s->next) {
		struct jingle_progress p = {.peer = s->peer,
		    .name = s->file.name, .sending = s->sending,
		    .transport = jingle_session_transport(s),
		    .bytes_total = s->file.size, .cookie = s->cookie};

		if (s->state == SS_ENDED)
			continue;
		p.bytes_done = plain_done(s);
		/* a receiver of IBB never marks when bytes began to flow */
		int64_t from = s->xfer_ms > 0 ? s->xfer_ms : s->started_ms;
		if (from > 0 && now > from)
			p.rate_bps = (p.bytes_done - s->offset) * 1000 /
			    (uint64_t)(now - from);
		r = fn(&p, arg);
	}
	return r;
}

uint64_t
jingle_failures_get(const struct jingle *j, int t)
{
	return t >= 0 && t < JINGLE_NTRANSPORTS ? j->failures[t] : 0;
}

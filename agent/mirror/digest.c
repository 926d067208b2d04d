/* mirror/digest.c -- anti-entropy: comparing index digests
 * (docs/protocol.md 3.1), so a slave that diverged silently (a lost
 * operation, a race, a bug, a hand edit) is repaired without a restart.
 *
 * The slave answers <digest/> from its store. The master compares the
 * root after every (re)connection and every digest_interval seconds, but
 * only while the slave is idle (outbox empty, nothing in flight): a slave
 * that is behind legitimately differs. Equal roots end the round. Else
 * the master merges the slave's children with its own, page by page,
 * descends only into directories whose digests differ, and queues a
 * repair through the outbox (plan_repair) for every other entry that
 * differs. The round uses the slave's one request slot, so no batch is
 * sent while it runs; if the master's index changes meanwhile, the round
 * is dropped and run again once the slave is idle. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/crypto/crypto.h"
#include "agent/log.h"
#include "agent/loop.h"
#include "agent/mirror/mirror_int.h"
#include "agent/util.h"
#include "agent/xmpp/xmpp.h"
#include "sync/path.h"
#include "sync/plan.h"

#define DIGEST_MAX_REQUESTS 10000	/* per round; the next one goes on */
#define DIGEST_LOG_PATHS 5		/* paths named in the log line */
#define DIGEST_RETRY_MS 60000		/* after a failed round, if no
					 * interval is set */

/* ---- the slave's answer ---------------------------------------------- */

struct page {
	xmpp_ctx_t *ctx;
	xmpp_stanza_t *out;
	const char *after;
	size_t n, names, bytes;
	int more;
};

/* Adds one child to the page unless it is before `after` or the page is
 * full (by count, bytes of names, or worst-case bytes on the wire); the
 * walk goes on either way, since the digest needs all of it. */
static int
page_add(const struct store_digest_child *c, void *arg)
{
	struct page *pg = arg;
	size_t len = strlen(c->name), need = sync_digest_child_wire_max(c->name);

	if (pg->more || (pg->after && strcmp(c->name, pg->after) <= 0))
		return 0;
	if (pg->n == SYNC_DIGEST_PAGE ||
	    pg->names + len > SYNC_DIGEST_PAGE_NAMES ||
	    pg->bytes + need > SYNC_STANZA_BUDGET) {
		pg->more = 1;
		return 0;
	}
	pg->n++;
	pg->names += len;
	pg->bytes += need;
	return sync_digest_child_build(pg->ctx, pg->out, c);
}

void
mirror_digest_answer(struct mirror *m, xmpp_conn_t *conn, xmpp_stanza_t *iq,
    xmpp_stanza_t *q)
{
	struct page pg = {.ctx = xmpp_conn_get_context(conn)};
	struct sync_digest_request *rq = malloc(sizeof(*rq));
	struct store_digest d;
	const char *why;
	xmpp_stanza_t *r = NULL;

	if (rq == NULL || sync_digest_request_parse(q, rq, &why) < 0) {
		if (rq)
			log_warn("refused a digest request from the master: %s",
			    why);
		chan_reply_error(m->env.chan, iq, rq ? "modify" : "wait",
		    rq ? "bad-request" : "internal-server-error");
		goto out;
	}
	pg.after = rq->after;
	pg.bytes = sync_digest_head_wire_max(rq->path);
	if ((r = stanza_iq_result(pg.ctx, iq)) == NULL ||
	    (pg.out = stanza_add_child(pg.ctx, r, "digest", NS_XS_META)) == NULL ||
	    store_digest_dir(m->env.st, rq->path, &d, page_add, &pg) != 0 ||
	    sync_digest_answer_set(pg.out, rq->path, &d, pg.more) < 0) {
		chan_reply_error(m->env.chan, iq, "wait",
		    "internal-server-error");
		goto out;
	}
	chan_reply(m->env.chan, iq, r);
out:
	if (r)
		xmpp_stanza_release(r);
	free(rq);
}

/* ---- the master's round ---------------------------------------------- */

struct kid {
	char *name;
	enum store_ftype type;
	uint8_t digest[STORE_DIGEST_LEN];
};

struct digest_round {
	int64_t seq;		/* the master's last index seq at the start */
	unsigned requests;
	char **todo;		/* directories left to compare */
	size_t ntodo, captodo;
	char *dir;		/* the one being compared; "" the root */
	struct store_digest mine;
	struct kid *kids;	/* the master's children of dir, by name */
	size_t nkids, capkids, next;	/* next: the first not merged yet */
	int first;		/* the next answer is dir's first page */
	char after[NAME_MAX + 1];	/* the last child name seen */
	uint8_t theirs[STORE_DIGEST_LEN];
	struct sync_digest page;
	int differs;
	int64_t queued, kept, pending;
	char shown[512];	/* the first paths repaired, for the log */
	unsigned nshown;
};

static void
kids_clear(struct digest_round *dr)
{
	for (size_t i = 0; i < dr->nkids; i++)
		free(dr->kids[i].name);
	dr->nkids = dr->next = 0;
}

static void
round_free(struct digest_round *dr)
{
	if (dr == NULL)
		return;
	kids_clear(dr);
	free(dr->kids);
	for (size_t i = 0; i < dr->ntodo; i++)
		free(dr->todo[i]);
	free(dr->todo);
	free(dr->dir);
	free(dr);
}

void
mirror_digest_reset(struct mslave *ms)
{
	round_free(ms->digest);
	ms->digest = NULL;
	ms->digest_at_ms = 0;	/* compare as soon as the slave is idle */
}

static int
kid_add(const struct store_digest_child *c, void *arg)
{
	struct digest_round *dr = arg;
	struct kid *k;

	if (util_grow(&dr->kids, dr->nkids + 1, &dr->capkids, 64) < 0)
		return -ENOMEM;
	k = &dr->kids[dr->nkids];
	if ((k->name = strdup(c->name)) == NULL)
		return -ENOMEM;
	k->type = c->type;
	memcpy(k->digest, c->digest, STORE_DIGEST_LEN);
	dr->nkids++;
	return 0;
}

static int
todo_push(struct digest_round *dr, const char *dir)
{
	char *d = strdup(dir);

	if (d == NULL || util_grow(&dr->todo, dr->ntodo + 1, &dr->captodo,
	    16) < 0) {
		free(d);
		return -ENOMEM;
	}
	dr->todo[dr->ntodo++] = d;
	return 0;
}

/* Logs how the round ended, frees it, and says when the next one is due:
 * err -EAGAIN (the index moved on) as soon as the slave is idle again. */
static void
round_end(struct mirror *m, struct mslave *ms, int err)
{
	struct digest_round *dr = ms->digest;
	int64_t every = (int64_t)m->env.cfg->digest_interval * 1000;
	char hex[2 * STORE_DIGEST_LEN + 1];

	ms->digest = NULL;
	if (err == 0 && dr->queued > 0)
		log_info("%s: index digest differs; repaired %lld entries (%s%s)",
		    ms->jid, (long long)dr->queued, dr->shown,
		    dr->nshown > DIGEST_LOG_PATHS ? ", ..." : "");
	else if (err == 0 && dr->pending > 0)
		log_debug("%s: index digest differs only by %lld entries still "
		    "in the outbox (set aside or waiting)", ms->jid,
		    (long long)dr->pending);
	else if (err == 0 && dr->kept > 0)
		log_debug("%s: index digest differs only by %lld entries kept "
		    "there (delete = no)", ms->jid, (long long)dr->kept);
	else if (err == 0 && dr->differs)
		log_debug("%s: index digest differs; nothing could be queued",
		    ms->jid);
	else if (err == 0) {
		crypto_hex_encode(dr->mine.digest, STORE_DIGEST_LEN, hex);
		log_debug("%s: in sync (digest %.16s)", ms->jid, hex);
	}
	if (err == -EAGAIN)
		ms->digest_at_ms = 0;
	else if (every > 0)
		ms->digest_at_ms = loop_now_ms() + every;
	else
		ms->digest_at_ms = err < 0 ? loop_now_ms() + DIGEST_RETRY_MS :
		    INT64_MAX;
	round_free(dr);
	mirror_master_pump(m, ms);	/* the repairs, if any */
}

static int on_digest(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg);

/* Asks for a page of the directory being compared. */
static void
ask(struct mirror *m, struct mslave *ms, const char *after)
{
	xmpp_ctx_t *ctx = xmpp_conn_get_context(m->env.xc);
	xmpp_stanza_t *iq;

	if (++ms->digest->requests > DIGEST_MAX_REQUESTS) {
		log_info("%s: stopping the digest comparison after %d requests; "
		    "the next round goes on", ms->jid, DIGEST_MAX_REQUESTS);
		round_end(m, ms, 0);
		return;
	}
	if ((iq = xmpp_iq_new(ctx, "get", "x")) == NULL ||
	    sync_digest_request_build(ctx, iq, ms->digest->dir, after) < 0) {
		if (iq)
			xmpp_stanza_release(iq);
		round_end(m, ms, -ENOMEM);
		return;
	}
	mirror_master_send(m, ms, iq, on_digest);
}

/* Starts on the next directory left, or ends the round. */
static void
next_dir(struct mirror *m, struct mslave *ms)
{
	struct digest_round *dr = ms->digest;
	int r;

	while (dr->ntodo > 0) {
		kids_clear(dr);
		free(dr->dir);
		dr->dir = dr->todo[--dr->ntodo];
		if ((r = store_digest_dir(m->env.st, dr->dir, &dr->mine, kid_add,
		    dr)) < 0) {
			round_end(m, ms, r);
			return;
		}
		if (dr->mine.type != STORE_DIR)
			continue;	/* not ours to compare (any more) */
		dr->first = 1;
		dr->after[0] = '\0';
		ask(m, ms, NULL);
		return;
	}
	round_end(m, ms, 0);
}

static void
round_start(struct mirror *m, struct mslave *ms)
{
	struct digest_round *dr = calloc(1, sizeof(*dr));

	if (dr == NULL || store_last_seq(m->env.st, &dr->seq) < 0 ||
	    todo_push(dr, "") < 0) {
		round_free(dr);
		ms->digest_at_ms = loop_now_ms() + DIGEST_RETRY_MS;
		return;
	}
	ms->digest = dr;
	next_dir(m, ms);
}

void
mirror_digest_poll(struct mirror *m, struct mslave *ms)
{
	int64_t n = 0, now = loop_now_ms();

	if (ms->digest || !m->online || ms->phase != MS_READY ||
	    ms->full[0] == '\0' || ms->iq_id[0] || ms->ninflight ||
	    ms->nbatch || now < ms->digest_at_ms || now < ms->retry_at_ms)
		return;
	/* entries set aside after failures, or waiting for space, do not
	 * hold the comparison back: they are known differences (see
	 * repair()), and whatever else diverged is found all the same */
	if (store_outbox_count_due(m->env.st, ms->jid, time(NULL), &n) < 0 ||
	    n > 0)
		return;
	round_start(m, ms);
}

/* Remembers path for the log line. */
static void
note(struct digest_round *dr, const char *path)
{
	size_t len = strlen(dr->shown);

	if (dr->nshown++ < DIGEST_LOG_PATHS)
		snprintf(dr->shown + len, sizeof(dr->shown) - len, "%s%s",
		    len ? ", " : "", path);
}

/* The slave holds theirs (a type, 0: nothing) at dir/name, which is not
 * what the master holds: queue the master's state. */
static void
repair(struct mirror *m, struct mslave *ms, const char *name,
    enum store_ftype theirs)
{
	struct digest_round *dr = ms->digest;
	char path[PATH_MAX];
	int64_t q = 0;

	dr->differs = 1;
	if (name == NULL)
		snprintf(path, sizeof(path), "%s", dr->dir);
	else if (path_join(path, sizeof(path), dr->dir, name) < 0)
		return;
	if (store_outbox_has(m->env.st, ms->jid, path) == 1) {
		dr->pending++;	/* already on its way, or set aside */
		return;
	}
	if (plan_repair(m->plan, ms->jid, path, theirs,
	    m->env.cfg->delete_extras, &q) < 0)
		return;	/* the store has said why */
	if (q == 0)
		dr->kept++;
	dr->queued += q;
	if (q > 0)
		note(dr, path);
}

/* One name of the merge: mine, theirs or both (the other NULL). */
static int
compare_one(struct mirror *m, struct mslave *ms, const struct kid *mine,
    const struct sync_digest_child *theirs)
{
	struct digest_round *dr = ms->digest;
	char path[PATH_MAX];

	if (mine == NULL) {
		repair(m, ms, theirs->name, theirs->type);
		return 0;
	}
	if (theirs == NULL) {
		repair(m, ms, mine->name, 0);
		return 0;
	}
	if (memcmp(mine->digest, theirs->digest, STORE_DIGEST_LEN) == 0)
		return 0;
	if (mine->type != STORE_DIR || theirs->type != STORE_DIR) {
		repair(m, ms, mine->name, theirs->type);
		return 0;
	}
	dr->differs = 1;
	if (path_join(path, sizeof(path), dr->dir, mine->name) < 0)
		return 0;
	return todo_push(dr, path);
}

/* Merges a page of the slave's children with the master's. */
static int
merge(struct mirror *m, struct mslave *ms)
{
	struct digest_round *dr = ms->digest;
	int r = 0;

	for (size_t i = 0; r == 0 && i < dr->page.n; i++) {
		const struct sync_digest_child *c = &dr->page.c[i];
		int cmp = 1;

		while (r == 0 && dr->next < dr->nkids &&
		    (cmp = strcmp(dr->kids[dr->next].name, c->name)) < 0)
			r = compare_one(m, ms, &dr->kids[dr->next++], NULL);
		if (r == 0 && cmp == 0)
			r = compare_one(m, ms, &dr->kids[dr->next++], c);
		else if (r == 0)
			r = compare_one(m, ms, NULL, c);
	}
	return r;
}

/* The first page of a directory: equal digests end it (returns 1);
 * something else than a directory on the slave is repaired as a whole
 * (returns 1); a directory of another mode gets a mkdir. Returns 0 to
 * go on with the children, or -EPROTO (logged). */
static int
first_page(struct mirror *m, struct mslave *ms)
{
	struct digest_round *dr = ms->digest;
	const struct sync_digest *pg = &dr->page;

	dr->first = 0;
	memcpy(dr->theirs, pg->digest, STORE_DIGEST_LEN);
	if (pg->type == STORE_DIR &&
	    memcmp(pg->digest, dr->mine.digest, STORE_DIGEST_LEN) == 0)
		return 1;
	if (dr->dir[0] == '\0' && pg->type != STORE_DIR) {
		log_warn("%s: bad index digest answer (the root is not a "
		    "directory); not compared", ms->jid);
		return -EPROTO;
	}
	dr->differs = 1;
	if (pg->type != STORE_DIR) {
		repair(m, ms, NULL, pg->type);
		return 1;
	}
	if (dr->dir[0] && pg->mode != dr->mine.mode)
		repair(m, ms, NULL, STORE_DIR);
	return 0;
}

/* Takes the answer page for dr->dir. Returns 1 when the directory is
 * done, 0 when more pages follow, or -EPROTO (logged: a page that
 * contradicts the first) or -ENOMEM. */
static int
take_page(struct mirror *m, struct mslave *ms)
{
	struct digest_round *dr = ms->digest;
	const struct sync_digest *pg = &dr->page;
	int r;

	if (dr->first) {
		if ((r = first_page(m, ms)) != 0)
			return r;
	} else if (pg->type != STORE_DIR ||
	    memcmp(pg->digest, dr->theirs, STORE_DIGEST_LEN) != 0) {
		log_warn("%s: its index changed during the digest comparison; "
		    "not compared", ms->jid);
		return -EPROTO;
	}
	if ((r = merge(m, ms)) < 0)
		return r;
	if (pg->more) {
		snprintf(dr->after, sizeof(dr->after), "%s",
		    pg->c[pg->n - 1].name);
		return 0;
	}
	while (r == 0 && dr->next < dr->nkids)
		r = compare_one(m, ms, &dr->kids[dr->next++], NULL);
	return r < 0 ? r : 1;
}

/* Checks an answer; ends the round when it cannot go on. Returns 0 if it
 * may be taken. */
static int
check_answer(struct mirror *m, struct mslave *ms, xmpp_stanza_t *st)
{
	struct digest_round *dr = ms->digest;
	xmpp_stanza_t *q = xmpp_stanza_get_child_by_ns(st, NS_XS_META);
	const char *why = "no digest element";
	int64_t seq;

	if (strcmp(xmpp_stanza_get_type(st), "error") == 0) {
		log_warn("%s refused to send its index digest; not compared",
		    ms->jid);
		round_end(m, ms, -EPROTO);
		return -EPROTO;
	}
	if (q == NULL || sync_digest_parse(q, dr->first ? NULL : dr->after,
	    &dr->page, &why) < 0) {
		log_warn("%s: bad index digest answer (%s); not compared",
		    ms->jid, why);
		round_end(m, ms, -EPROTO);
		return -EPROTO;
	}
	if (store_last_seq(m->env.st, &seq) < 0 || seq != dr->seq) {
		log_debug("%s: the index changed during the digest comparison; "
		    "comparing again when the slave is idle", ms->jid);
		round_end(m, ms, -EAGAIN);
		return -EAGAIN;
	}
	return 0;
}

static int
on_digest(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	struct mirror *m = arg;
	struct mslave *ms = mirror_master_answer(m, st);
	int r;

	(void)conn;
	if (ms == NULL || ms->digest == NULL || check_answer(m, ms, st) < 0)
		return 0;
	if ((r = take_page(m, ms)) == 0)
		ask(m, ms, ms->digest->after);
	else if (r > 0)
		next_dir(m, ms);
	else
		round_end(m, ms, r);
	return 0;
}

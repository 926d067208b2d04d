/* mirror/master.c -- the master side: the watcher and scans feed the
 * planner; each trusted slave gets a hello, a full reconciliation when it
 * has no state (or local changes), then its outbox in batches of sync
 * operations, with content sent by Jingle where the slave answers "need". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "agent/log.h"
#include "agent/loop.h"
#include "agent/mirror/mirror_int.h"
#include "agent/xmpp/xmpp.h"
#include "agent/crypto/crypto.h"
#include "sync/chunk.h"
#include "sync/hasher.h"
#include "sync/hashfile.h"
#include "sync/plan.h"
#include "sync/scan.h"
#include "sync/watch.h"
#include "agent/util.h"

#define RETRY_MS 5000
/* Files at least this large are hashed on the worker thread; a smaller
 * one costs the loop a few milliseconds at most. */
#define ASYNC_HASH_MIN (4 << 20)
#define DEGRADED_RESCAN_MS 60000

/* What a transfer's cookie names: which slave wants which path as of
 * which seq; a bundle names its files (mem) and path is a label. */
struct xfer {
	char jid[1024];
	char *path;
	int64_t seq;
	struct xfer_member {
		char *path;
		int64_t seq;
		uint64_t size;
	} *mem;
	size_t n;
	uint64_t size;			/* the file's */
	struct mirror_delta *delta;	/* sent as a delta (delta.c), or NULL */
};

static void pump(struct mirror *m, struct mslave *ms);
struct src;
static void member_open(struct src *s, size_t k, uint64_t base);

static void
xfer_free(struct xfer *x)
{
	if (x == NULL)
		return;
	for (size_t i = 0; i < x->n; i++)
		free(x->mem[i].path);
	free(x->mem);
	mirror_delta_free(x->delta);
	free(x->path);
	free(x);
}

/* What the engine reads through: one file, or a bundle's files one after
 * the other (cur is the member open in h). */
struct src {
	struct mirror *m;
	const struct xfer *x;
	void *h;
	int open;
	size_t cur;
	uint64_t base;          /* where cur begins in the bundle */
	int warned;             /* cur changed since it was hashed */
};

/* Opens the file of a transfer by its real path, kept in the cookie: the
 * name in the offer is the opaque one. A bundle's files are opened as
 * they are reached. */
static int
source_open(void *arg, const struct jingle_file *f, void *cookie, void **h)
{
	struct mirror *m = arg;
	const struct xfer *x = cookie;
	struct jingle_file real = *f;
	struct src *s;
	int r;

	if (x == NULL)
		return -EINVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->m = m;
	s->x = x;
	if (x->n == 0) {
		real.name = x->path;
		/* a delta reads the chunks the slave lacks (delta.c) */
		if ((r = mirror_delta_src_open(&m->files, &real, cookie,
		    x->delta, &s->h)) < 0) {
			free(s);
			return r;
		}
		s->open = 1;
	} else
		member_open(s, 0, 0);
	*h = s;
	return 0;
}

/* Makes member k the open one (a file that cannot be opened reads as
 * zeros: the slave refuses it by its checksum, the rest goes on). */
static void
member_open(struct src *s, size_t k, uint64_t base)
{
	const struct xfer_member *mb = &s->x->mem[k];
	struct jingle_file f = {.name = mb->path, .size = mb->size, .mtime = -1};

	if (s->open)
		s->m->files.close(s->h);
	s->open = s->m->files.open(s->m->files.arg, &f, (void *)s->x, &s->h) == 0;
	s->cur = k;
	s->base = base;
	s->warned = 0;
}

static ssize_t
source_read(void *h, uint64_t off, unsigned char *p, size_t n)
{
	struct src *s = h;
	const struct xfer *x = s->x;
	size_t done = 0;

	if (x->n == 0)
		return mirror_delta_src_read(s->h, off, p, n);
	if (off < s->base)	/* back before the open one: from the start */
		member_open(s, 0, 0);
	while (done < n && s->cur < x->n) {
		const struct xfer_member *mb = &x->mem[s->cur];
		uint64_t end = s->base + mb->size;
		size_t want;
		ssize_t got = 0;

		if (off >= end) {
			if (s->cur + 1 == x->n) {
				s->cur++;
				break;
			}
			member_open(s, s->cur + 1, end);
			continue;
		}
		want = end - off < n - done ? (size_t)(end - off) : n - done;
		if (s->open)
			got = s->m->files.read(s->h, off - s->base, p + done, want);
		if (got <= 0) {
			/* gone or shorter than when it was hashed: zeros for
			 * the rest of it; its next change queues it again */
			if (!s->warned)
				log_warn("%s changed while it was being sent; the "
				    "slave will refuse this copy", mb->path);
			s->warned = 1;
			memset(p + done, 0, want);
			got = (ssize_t)want;
		}
		done += (size_t)got;
		off += (uint64_t)got;
	}
	return (ssize_t)done;
}

static void
source_close(void *h)
{
	struct src *s = h;

	if (s->open && s->x->n == 0)
		mirror_delta_src_close(s->h);
	else if (s->open)
		s->m->files.close(s->h);
	free(s);
}

const char *
mirror_master_xfer_path(const void *cookie)
{
	const struct xfer *x = cookie;

	return x ? x->path : NULL;
}

void
mirror_master_source(struct mirror *m, struct jingle_source *src)
{
	m->files = jingle_file_source(m->env.cfg->dir);
	*src = (struct jingle_source){source_open, source_read, source_close,
	    m};
}

static struct mslave *
slave_find(struct mirror *m, const char *bare)
{
	for (size_t i = 0; i < m->nslaves; i++)
		if (strcmp(m->slaves[i]->jid, bare) == 0)
			return m->slaves[i];
	return NULL;
}

/* The slave bare, added if new. Returns it (owned by m), or NULL when the
 * table is full or memory is short. */
static struct mslave *
slave_find_or_add(struct mirror *m, const char *bare)
{
	struct mslave *ms = slave_find(m, bare);

	if (ms || m->nslaves == MIRROR_MAX_SLAVES)
		return ms;
	if ((ms = calloc(1, sizeof(*ms))) == NULL)
		return NULL;
	snprintf(ms->jid, sizeof(ms->jid), "%s", bare);
	m->slaves[m->nslaves++] = ms;
	return ms;
}

static void
batch_clear(struct mslave *ms)
{
	for (size_t i = 0; i < ms->nbatch; i++)
		free(ms->batch[i].path);
	ms->nbatch = 0;
}

static void
manifest_clear(struct mslave *ms)
{
	plan_entries_clear(ms->man, ms->nman);
	free(ms->man);
	ms->man = NULL;
	ms->nman = ms->capman = 0;
}

static void
inflight_clear(struct mslave *ms)
{
	for (size_t i = 0; i < ms->ninflight; i++)
		free(ms->inflight[i]);
	ms->ninflight = 0;
	ms->nxfers = 0;
}

static int
inflight_has(const struct mslave *ms, const char *path)
{
	for (size_t i = 0; i < ms->ninflight; i++)
		if (strcmp(ms->inflight[i], path) == 0)
			return 1;
	return 0;
}

static void
inflight_drop(struct mslave *ms, const char *path)
{
	for (size_t i = 0; i < ms->ninflight; i++) {
		if (strcmp(ms->inflight[i], path) != 0)
			continue;
		free(ms->inflight[i]);
		ms->inflight[i] = ms->inflight[--ms->ninflight];
		ms->inflight_seq[i] = ms->inflight_seq[ms->ninflight];
		return;
	}
}

/* Sends iq (consumed) to the slave with a fresh id and handler. */
static void
send_iq(struct mirror *m, struct mslave *ms, xmpp_stanza_t *iq,
    xmpp_handler h)
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char rnd[6];

	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	snprintf(ms->iq_id, sizeof(ms->iq_id), "xs-");
	for (size_t i = 0; i < sizeof(rnd); i++) {
		ms->iq_id[3 + 2 * i] = hexd[rnd[i] >> 4];
		ms->iq_id[4 + 2 * i] = hexd[rnd[i] & 15];
	}
	ms->iq_id[3 + 2 * sizeof(rnd)] = '\0';
	xmpp_stanza_set_id(iq, ms->iq_id);
	xmpp_stanza_set_to(iq, ms->full);
	if (chan_send(m->env.chan, iq, h, m) < 0) {
		/* the channel went away under us: start over from hello */
		ms->iq_id[0] = '\0';
		ms->phase = MS_IDLE;
		ms->retry_at_ms = loop_now_ms() + RETRY_MS;
	}
}

/* Finds the slave whose request this answer is; NULL for stale ones. */
static struct mslave *
answer_for(struct mirror *m, xmpp_stanza_t *st)
{
	const char *id = xmpp_stanza_get_id(st), *type = xmpp_stanza_get_type(st);

	if (id == NULL || type == NULL ||
	    (strcmp(type, "result") != 0 && strcmp(type, "error") != 0))
		return NULL;
	for (size_t i = 0; i < m->nslaves; i++) {
		struct mslave *ms = m->slaves[i];
		if (ms->iq_id[0] && strcmp(ms->iq_id, id) == 0 &&
		    stanza_jid_is_peer(xmpp_stanza_get_from(st), ms->jid)) {
			ms->iq_id[0] = '\0';
			return ms;
		}
	}
	return NULL;
}

static int
failed_answer(struct mslave *ms, xmpp_stanza_t *st, const char *what)
{
	if (strcmp(xmpp_stanza_get_type(st), "error") != 0)
		return 0;
	log_warn("%s refused our %s request; retrying in %d s", ms->jid, what,
	    RETRY_MS / 1000);
	ms->retry_at_ms = loop_now_ms() + RETRY_MS;
	return 1;
}

static int on_manifest(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg);

static void
ask_manifest(struct mirror *m, struct mslave *ms, const char *after)
{
	xmpp_ctx_t *ctx = xmpp_conn_get_context(m->env.xc);
	xmpp_stanza_t *iq = xmpp_iq_new(ctx, "get", "x"), *q;

	if (iq == NULL)
		return;
	if ((q = stanza_add_child(ctx, iq, "manifest", NS_XS_META)) && after &&
	    sync_name_attr_set(q, "after", after) < 0) {
		xmpp_stanza_release(iq);
		return;
	}
	if (after == NULL)	/* this round shows any local change so far */
		ms->recheck = 0;
	ms->phase = MS_MANIFEST;
	send_iq(m, ms, iq, on_manifest);
}

static int
on_manifest(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	struct mirror *m = arg;
	struct mslave *ms = answer_for(m, st);
	xmpp_stanza_t *q;
	int64_t queued = 0;

	(void)conn;
	if (ms == NULL)
		return 0;
	if (failed_answer(ms, st, "manifest")) {
		ms->phase = MS_IDLE;
		manifest_clear(ms);
		return 0;
	}
	q = xmpp_stanza_get_child_by_ns(st, NS_XS_META);
	for (xmpp_stanza_t *e = q ? xmpp_stanza_get_children(q) : NULL; e;
	    e = xmpp_stanza_get_next(e)) {
		if (!xmpp_stanza_is_tag(e))
			continue;
		if (util_grow(&ms->man, ms->nman + 1, &ms->capman, 512) < 0)
			return 0;
		if (sync_entry_parse(e, &ms->man[ms->nman]) == 0)
			ms->nman++;
	}
	if (q && ms->nman && strcmp(xmpp_stanza_get_attribute(q, "more") ?
	    xmpp_stanza_get_attribute(q, "more") : "0", "1") == 0) {
		ask_manifest(m, ms, ms->man[ms->nman - 1].path);
		return 0;
	}
	if (plan_reconcile(m->plan, ms->jid, ms->man, ms->nman,
	    m->env.cfg->delete_extras, &queued) == 0) {
		log_info("%s: reconciled against its manifest of %zu entries; %lld "
		    "operations queued", ms->jid, ms->nman, (long long)queued);
		ms->phase = MS_READY;
	} else
		ms->retry_at_ms = loop_now_ms() + RETRY_MS;
	manifest_clear(ms);
	pump(m, ms);
	return 0;
}

/* Whether the slave's outbox still holds everything it lacks. It does
 * for a slave at the seq it acknowledged; not for one that reports an
 * older seq (its state restored from a backup, or our last complete
 * lost), and never for one whose seq is older than collected tombstones:
 * the deletions since are no longer in the index to queue again. Writes
 * why not into buf and returns it, or returns NULL. */
static const char *
catchup_gap(struct mirror *m, xmpp_stanza_t *h, int64_t applied, char *buf,
    size_t len)
{
	const char *a = h ? xmpp_stanza_get_attribute(h, "seq") : NULL;
	char *end = NULL;
	long long seq = a && *a >= '0' && *a <= '9' ? strtoll(a, &end, 10) : -1;
	int64_t gc = 0;

	if (seq < 0 || end == NULL || *end != '\0')
		snprintf(buf, len, "it reports no valid seq");
	else if (store_meta_get_int(m->env.st, STORE_META_GC_SEQ, &gc) == 0 &&
	    seq < gc)
		snprintf(buf, len, "its state (seq %lld) is older than the "
		    "tombstones collected up to seq %lld", seq, (long long)gc);
	else if (seq < applied)
		snprintf(buf, len, "it reports seq %lld, older than the %lld it "
		    "acknowledged", seq, (long long)applied);
	else
		return NULL;
	return buf;
}

static int
on_hello(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	struct mirror *m = arg;
	struct mslave *ms = answer_for(m, st);
	struct store_slave sl;
	xmpp_stanza_t *h;
	const char *state, *gap;
	int64_t applied = 0;
	char why[160];
	int never = 1;

	(void)conn;
	if (ms == NULL)
		return 0;
	if (failed_answer(ms, st, "hello")) {
		ms->phase = MS_IDLE;
		return 0;
	}
	h = xmpp_stanza_get_child_by_ns(st, NS_XS_META);
	state = h ? xmpp_stanza_get_attribute(h, "state") : NULL;
	ms->bundles = h && xmpp_stanza_get_attribute(h, "bundles") &&
	    strcmp(xmpp_stanza_get_attribute(h, "bundles"), "1") == 0;
	ms->max_ops = SYNC_MAX_OPS_OLD;
	if (h && xmpp_stanza_get_attribute(h, "ops")) {
		long long v;
		if (sync_num_parse(xmpp_stanza_get_attribute(h, "ops"), 10,
		    SYNC_MAX_OPS_OLD, INT32_MAX, &v) == 0)
			ms->max_ops = v < SYNC_MAX_OPS ? (int)v : SYNC_MAX_OPS;
	}
	if (store_slave_load(m->env.st, ms->jid, &sl) == 0) {
		never = sl.applied_seq == 0;
		applied = sl.applied_seq;
		store_slave_clear(&sl);
	}
	if (state == NULL || strcmp(state, "ok") != 0 || never) {
		log_info("%s: %s; reconciling by manifest", ms->jid,
		    never ? "never synced" : state && strcmp(state, "dirty") == 0 ?
		    "it has local changes" : "it has no state");
		ask_manifest(m, ms, NULL);
		return 0;
	}
	if ((gap = catchup_gap(m, h, applied, why, sizeof(why))) != NULL) {
		log_info("%s: %s; reconciling by manifest", ms->jid, gap);
		ask_manifest(m, ms, NULL);
		return 0;
	}
	ms->phase = MS_READY;
	pump(m, ms);
	return 0;
}

static void
say_hello(struct mirror *m, struct mslave *ms)
{
	xmpp_ctx_t *ctx = xmpp_conn_get_context(m->env.xc);
	xmpp_stanza_t *iq = xmpp_iq_new(ctx, "get", "x");

	if (iq == NULL)
		return;
	stanza_add_child(ctx, iq, "hello", NS_XS_META);
	ms->phase = MS_HELLO;
	send_iq(m, ms, iq, on_hello);
}

/* A slave's notice that its folder changed under it (docs/protocol.md,
 * "dirty"): reconcile by manifest again as soon as nothing is in flight,
 * and tell it when it mirrors us again; or that it has room again
 * ("space"): the files waiting for it are due. */
static void
on_slave_iq(xmpp_conn_t *conn, xmpp_stanza_t *iq, xmpp_stanza_t *q,
    void *arg)
{
	struct mirror *m = arg;
	const char *from = xmpp_stanza_get_from(iq);
	const char *type = xmpp_stanza_get_type(iq);
	struct mslave *ms = NULL;
	xmpp_stanza_t *r;
	char bare[1024];

	if (peers_trusted(m->env.peers, from) &&
	    stanza_bare_jid(from, bare, sizeof(bare)) == 0)
		ms = slave_find(m, bare);
	if (ms == NULL || strcmp(ms->full, from) != 0) {
		chan_reply_error(m->env.chan, iq, "auth", "forbidden");
		return;
	}
	if (strcmp(type, "set") != 0 ||
	    (strcmp(xmpp_stanza_get_name(q), "dirty") != 0 &&
	    strcmp(xmpp_stanza_get_name(q), "space") != 0)) {
		chan_reply_error(m->env.chan, iq, "cancel",
		    "feature-not-implemented");
		return;
	}
	if ((r = stanza_iq_result(xmpp_conn_get_context(conn), iq)) != NULL) {
		chan_reply(m->env.chan, iq, r);
		xmpp_stanza_release(r);
	}
	if (strcmp(xmpp_stanza_get_name(q), "space") == 0) {
		mirror_wait_space(m, ms, q);
		return;
	}
	log_debug("%s: notice of local changes", ms->jid);
	ms->recheck = 1;
	ms->complete_sent = 0;
	pump(m, ms);
}

void
mirror_master_peer(struct mirror *m, const char *bare, const char *full,
    int trusted)
{
	struct mslave *ms = trusted ? slave_find_or_add(m, bare) :
	    slave_find(m, bare);

	if (ms == NULL)
		return;
	batch_clear(ms);
	inflight_clear(ms);
	manifest_clear(ms);
	ms->iq_id[0] = '\0';
	ms->phase = MS_IDLE;
	ms->complete_sent = 0;
	ms->recheck = 0;
	mirror_digest_reset(ms);
	ms->full[0] = '\0';
	if (!trusted || full == NULL)
		return;
	snprintf(ms->full, sizeof(ms->full), "%s", full);
	ms->retry_at_ms = 0;
	mirror_wait_wake(m, ms);
	say_hello(m, ms);
}

static int on_sync(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg);

struct batch_ctx {
	struct mirror *m;
	struct mslave *ms;
	xmpp_stanza_t *q;
	xmpp_ctx_t *ctx;
	size_t bytes;		/* worst-case size of the batch so far */
	size_t inlined;		/* content bytes inline so far */
	size_t nputs;		/* puts in the batch so far */
	int rootfd;		/* the folder, for inline content; -1: none */
	unsigned char buf[SYNC_INLINE_MAX];
	char b64[SYNC_INLINE_B64 + 1];
	struct {
		char *path;
		int64_t seq;
	} gone[SYNC_MAX_OPS];	/* entries whose record is gone */
	size_t ngone;
};

/* Whether the slave's puts may go in bundles now. */
static int
bundles_now(const struct mslave *ms)
{
	return ms->bundles && loop_now_ms() >= ms->nobundle_until_ms;
}

/* Turns one outbox entry into an <op/> with the index record's current
 * metadata. */
static int
add_op(const struct store_op *op, void *arg)
{
	struct batch_ctx *bc = arg;
	struct mslave *ms = bc->ms;
	struct store_file f;
	struct sync_op o = {.kind = op->kind, .path = op->path, .from = op->src,
	    .seq = op->seq};
	size_t need;
	int have = 0;

	if (ms->nbatch == (size_t)(ms->max_ops ? ms->max_ops : SYNC_MAX_OPS_OLD) ||
	    (op->kind == STORE_OP_PUT && bc->nputs == SYNC_MAX_PUTS))
		return 1;
	if (inflight_has(ms, op->path))
		return 0;
	if (op->kind != STORE_OP_DELETE && op->kind != STORE_OP_RMDIR) {
		if (store_file_load(bc->m->env.st, op->path, &f) < 0)
			return 0;
		have = !f.deleted;
		if (have) {
			o.size = (uint64_t)f.size;
			o.has_sha256 = f.has_sha256 && op->kind == STORE_OP_PUT;
			memcpy(o.sha256, f.sha256, 32);
			o.mode = f.mode;
			o.mtime_ns = f.mtime_ns;
		}
		if (have && f.type == STORE_SYMLINK && f.target)
			o.target = strdup(f.target);
		store_file_clear(&f);
		if (!have) {
			/* gone meanwhile: its delete, if the slave needs one,
			 * is queued under the path itself; an entry left
			 * behind (the source of a rename sent before) is done
			 * once the walk is over (no writes inside it) */
			if (bc->ngone < SYNC_MAX_OPS &&
			    (bc->gone[bc->ngone].path = strdup(op->path)) != NULL)
				bc->gone[bc->ngone++].seq = op->seq;
			return 0;
		}
	}
	/* a put names the transfer that may follow by a random name */
	if (op->kind == STORE_OP_PUT) {
		sync_opaque_name(ms->batch[ms->nbatch].wire);
		o.wire = ms->batch[ms->nbatch].wire;
	}
	/* a small file goes inside its put, if it still is what its record
	 * says (else the transfer, or the next change, brings it) */
	if (op->kind == STORE_OP_PUT && o.has_sha256 &&
	    o.size <= SYNC_INLINE_MAX && bc->rootfd >= 0 &&
	    (!bundles_now(ms) || bc->inlined + o.size <= SYNC_INLINE_BATCH)) {
		struct hashfile hf;
		if (hashfile_read_at(bc->rootfd, o.path, bc->buf, sizeof(bc->buf),
		    &hf) == 0 && (uint64_t)hf.size == o.size &&
		    memcmp(hf.sha256, o.sha256, 32) == 0 &&
		    crypto_base64_encode(bc->buf, (size_t)hf.size, bc->b64,
		    sizeof(bc->b64)) >= 0)
			o.content64 = bc->b64;
		if (o.content64)
			bc->inlined += (size_t)o.size;
	}
	/* a file large enough for chunks may go as a delta (delta.c) */
	o.delta = op->kind == STORE_OP_PUT && o.has_sha256 && !o.content64 &&
	    chunk_wanted((int64_t)o.size) && !mirror_delta_whole(ms, o.path);
	/* a larger one may travel in the batch's bundle, if the slave
	 * answers that it wants it so (and names no version for a delta) */
	if (op->kind == STORE_OP_PUT && o.has_sha256 && o.content64 == NULL &&
	    o.size <= SYNC_BUNDLE_MEMBER_MAX && bundles_now(ms))
		o.bundled = 1;
	/* stay below every server's stanza limit, whatever the names */
	need = o.kind == STORE_OP_DELETE || o.kind == STORE_OP_RMDIR ?
	    sync_remove_wire_max(o.path) :
	    sync_op_wire_max(o.path, o.from, o.target) + SYNC_OPAQUE_SIZE + 8 +
	    (o.content64 ? strlen(o.content64) + 8 : 0) + (o.bundled ? 8 : 0) +
	    (o.delta ? 8 : 0);
	if (ms->nbatch > 0 && bc->bytes + need > SYNC_STANZA_BUDGET) {
		free((char *)o.target);
		return 1;
	}
	bc->bytes += need;
	if (sync_op_build(bc->ctx, bc->q, &o) < 0) {
		free((char *)o.target);
		return -ENOMEM;
	}
	free((char *)o.target);
	ms->batch[ms->nbatch].path = strdup(op->path);
	ms->batch[ms->nbatch].seq = op->seq;
	ms->batch[ms->nbatch].kind = op->kind;
	ms->batch[ms->nbatch].size = o.size;
	memcpy(ms->batch[ms->nbatch].sha256, o.sha256, 32);
	ms->batch[ms->nbatch].mtime_ns = o.mtime_ns;
	ms->batch[ms->nbatch].bundled = o.bundled;
	ms->nbatch++;
	if (op->kind == STORE_OP_PUT)
		bc->nputs++;
	return 0;
}

/* Nothing left for this slave: tell it which seq it now mirrors. */
static void
maybe_complete(struct mirror *m, struct mslave *ms, struct batch_ctx *bc)
{
	int64_t n = 0, fanout = 0;
	char buf[32];

	if (ms->ninflight || store_outbox_count(m->env.st, ms->jid, &n) < 0 || n)
		return;
	store_meta_get_int(m->env.st, PLAN_META_FANOUT, &fanout);
	if (fanout == 0)
		store_last_seq(m->env.st, &fanout);
	if (ms->complete_sent == fanout && fanout != 0)
		return;
	snprintf(buf, sizeof(buf), "%lld", (long long)fanout);
	xmpp_stanza_set_attribute(bc->q, "complete", buf);
	ms->complete_sent = fanout;
	store_slave_applied(m->env.st, ms->jid, fanout, time(NULL));
}

/* From the moment a batch leaves, the slave may have its paths: record
 * that before sending, so a delete or rename that follows while the batch
 * or its transfers are in flight is never cancelled out as "create then
 * delete" (the slave would keep the file forever). Returns 0 or -errno. */
static int
mark_sent(struct mirror *m, struct mslave *ms)
{
	const char *paths[SYNC_MAX_OPS];
	int r;

	for (size_t i = 0; i < ms->nbatch; i++)
		paths[i] = ms->batch[i].path;
	if ((r = store_outbox_sent(m->env.st, ms->jid, paths, ms->nbatch)) < 0)
		log_error("cannot record the batch for %s: %s", ms->jid,
		    strerror(-r));
	return r;
}

/* One entry failed: it waits out its backoff while everything queued
 * behind it goes on (a poison item never stalls the slave). */
static void
set_aside(struct mirror *m, struct mslave *ms, const char *path,
    const char *why)
{
	int64_t delay = 0;

	if (store_outbox_failed(m->env.st, ms->jid, path, why, &delay) == 0)
		log_warn("setting %s aside for %lld s: %s", path,
		    (long long)delay, why);
}

static void
pump(struct mirror *m, struct mslave *ms)
{
	struct batch_ctx bc = {.m = m, .ms = ms,
	    .ctx = xmpp_conn_get_context(m->env.xc), .rootfd = -1};
	xmpp_stanza_t *iq;

	/* never while an answer is being worked through: a transfer that
	 * fails at once calls back here, and a new batch would replace the
	 * one the rest of the answer refers to */
	if (ms->answering)
		return;
	if (!m->online || ms->phase != MS_READY || ms->iq_id[0] ||
	    ms->full[0] == '\0' || loop_now_ms() < ms->retry_at_ms)
		return;
	if (ms->recheck) {	/* local changes there: ask how it stands */
		ms->recheck = 0;
		say_hello(m, ms);
		return;
	}
	if ((iq = xmpp_iq_new(bc.ctx, "set", "x")) == NULL)
		return;
	if ((bc.q = stanza_add_child(bc.ctx, iq, "sync", NS_XS_META)) == NULL) {
		xmpp_stanza_release(iq);
		return;
	}
	batch_clear(ms);
	bc.rootfd = open(m->env.cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* room for a whole batch of paths, and for its transfers */
	if (ms->nxfers < MIRROR_MAX_INFLIGHT &&
	    ms->ninflight + SYNC_MAX_PUTS <= MIRROR_INFLIGHT_CAP)
		store_outbox_next_due(m->env.st, ms->jid,
		    SYNC_MAX_OPS + (int)ms->ninflight, time(NULL), add_op, &bc);
	if (bc.rootfd >= 0)
		close(bc.rootfd);
	for (size_t i = 0; i < bc.ngone; i++) {
		store_outbox_done(m->env.st, ms->jid, bc.gone[i].path,
		    bc.gone[i].seq);
		free(bc.gone[i].path);
	}
	if (ms->nbatch == 0)
		maybe_complete(m, ms, &bc);
	if (ms->nbatch == 0 && xmpp_stanza_get_attribute(bc.q, "complete") == NULL) {
		xmpp_stanza_release(iq);
		mirror_digest_poll(m, ms);
		return;
	}
	if (mark_sent(m, ms) < 0) {
		xmpp_stanza_release(iq);
		batch_clear(ms);
		return;
	}
	ms->bundle_wire[0] = '\0';
	for (size_t i = 0; i < ms->nbatch; i++)
		if (ms->batch[i].bundled) {
			sync_opaque_name(ms->bundle_wire);
			xmpp_stanza_set_attribute(bc.q, "g", ms->bundle_wire);
			break;
		}
	m->ops_sent += ms->nbatch;
	send_iq(m, ms, iq, on_sync);
}

/* A transfer is over (or never started). */
static void
xfer_ended(struct mslave *ms)
{
	if (ms->nxfers > 0)
		ms->nxfers--;
}

static int
inflight_add(struct mslave *ms, const char *path, int64_t seq)
{
	if (ms->ninflight == MIRROR_INFLIGHT_CAP ||
	    (ms->inflight[ms->ninflight] = strdup(path)) == NULL)
		return -ENOMEM;
	ms->inflight_seq[ms->ninflight++] = seq;
	return 0;
}

/* Plans x as a delta if the slave holds the version base (hex, from its
 * answer) and both chunk lists are kept; then f is offered under the
 * delta name (delta.c). */
static void
plan_delta(struct mirror *m, struct xfer *x, const char *base,
    struct jingle_file *f, char name[SYNC_OPAQUE_SIZE])
{
	uint8_t b[32];

	if (base == NULL || sync_hex_parse(base, b, 32) < 0 ||
	    mirror_delta_plan(m->env.st, f->sha256, f->size, b, &x->delta) < 0)
		return;
	snprintf(name, SYNC_OPAQUE_SIZE, "%s%s", DELTA_PREFIX,
	    f->name + sizeof(SYNC_OPAQUE_PREFIX) - 1);
	f->name = name;
	f->size = mirror_delta_size(x->delta);
}

static void
start_transfer(struct mirror *m, struct mslave *ms, size_t i,
    const char *base)
{
	/* offered under the opaque name the sealed put announced: the
	 * <file/> element says nothing of the file (mirror_wire_file()) */
	struct jingle_file f = {.name = ms->batch[i].wire,
	    .size = ms->batch[i].size, .has_hash = 1,
	    .mtime = util_ns_ts(ms->batch[i].mtime_ns).tv_sec};
	struct xfer *x = calloc(1, sizeof(*x));
	char name[SYNC_OPAQUE_SIZE];
	int r;

	memcpy(f.sha256, ms->batch[i].sha256, 32);
	if (x == NULL || (x->path = strdup(ms->batch[i].path)) == NULL ||
	    inflight_add(ms, x->path, ms->batch[i].seq) < 0) {
		xfer_free(x);
		return;
	}
	snprintf(x->jid, sizeof(x->jid), "%s", ms->jid);
	x->seq = ms->batch[i].seq;
	x->size = ms->batch[i].size;
	plan_delta(m, x, base, &f, name);
	ms->nxfers++;
	if ((r = jingle_send(m->jingle, ms->full, &f, x)) < 0) {
		log_warn("cannot send %s to %s: %s", x->path, ms->full,
		    strerror(-r));
		xfer_ended(ms);
		inflight_drop(ms, x->path);
		xfer_free(x);
	}
}

/* The puts at idx[0..n) (in batch order), which the slave wants in the
 * batch's bundle: one session under the bundle's opaque name carrying
 * their contents one after the other. */
static void
start_bundle(struct mirror *m, struct mslave *ms, const size_t *idx, size_t n)
{
	struct jingle_file f = {.name = ms->bundle_wire, .has_hash = 1,
	    .mtime = -1};
	struct xfer *x = calloc(1, sizeof(*x));
	char label[64];
	size_t k;
	int r;

	snprintf(label, sizeof(label), "(%zu files in one bundle)", n);
	if (x == NULL || (x->mem = calloc(n, sizeof(*x->mem))) == NULL ||
	    (x->path = strdup(label)) == NULL)
		goto fail;
	snprintf(x->jid, sizeof(x->jid), "%s", ms->jid);
	for (k = 0; k < n; k++) {
		size_t i = idx[k];
		if ((x->mem[k].path = strdup(ms->batch[i].path)) == NULL)
			goto fail;
		x->mem[k].seq = ms->batch[i].seq;
		x->mem[k].size = ms->batch[i].size;
		x->n = k + 1;
		f.size += ms->batch[i].size;
	}
	for (k = 0; k < n; k++)
		if (inflight_add(ms, x->mem[k].path, x->mem[k].seq) < 0)
			break;
	if (k == n) {
		ms->nxfers++;
		if ((r = jingle_send(m->jingle, ms->full, &f, x)) == 0)
			return;
		xfer_ended(ms);
	}
	if (k == n)
		log_warn("cannot send a bundle of %zu files to %s: %s", n,
		    ms->full, strerror(-r));
	while (k-- > 0)
		inflight_drop(ms, x->mem[k].path);
fail:
	xfer_free(x);
}

static enum store_op_kind
create_op(enum store_ftype t)
{
	return t == STORE_DIR ? STORE_OP_MKDIR : t == STORE_SYMLINK ?
	    STORE_OP_SYMLINK : STORE_OP_PUT;
}

struct pathv {
	char **v;
	size_t n, cap;
};

static int
collect_path(const struct store_file *f, void *arg)
{
	struct pathv *pv = arg;

	if (util_grow(&pv->v, pv->n + 1, &pv->cap, 64) < 0 ||
	    (pv->v[pv->n] = strdup(f->path)) == NULL)
		return -ENOMEM;
	pv->n++;
	return 0;
}

/* A metadata update or a rename failed because the slave lacks what it
 * acts on: queue the whole thing instead, with everything below it, so
 * the slave gets the master's state whatever it lost. Returns nothing. */
static void
resend_whole(struct mirror *m, struct mslave *ms, const char *path)
{
	struct store_file f;

	if (store_file_load(m->env.st, path, &f) < 0)
		return;
	if (f.deleted) {
		store_file_clear(&f);
		return;
	}
	log_info("%s lacks %s: sending it whole", ms->jid, path);
	store_outbox_enqueue(m->env.st, ms->jid, path, create_op(f.type),
	    f.seq, NULL, 0);
	if (f.type == STORE_DIR) {
		struct pathv below = {0};
		store_file_below(m->env.st, path, collect_path, &below);
		for (size_t i = 0; i < below.n; i++) {
			struct store_file c;
			if (store_file_load(m->env.st, below.v[i], &c) == 0) {
				store_outbox_enqueue(m->env.st, ms->jid, c.path,
				    create_op(c.type), c.seq, NULL, 0);
				store_file_clear(&c);
			}
			free(below.v[i]);
		}
		free(below.v);
	}
	store_file_clear(&f);
}

static int
on_sync(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
	struct mirror *m = arg;
	struct mslave *ms = answer_for(m, st);
	unsigned char seen[SYNC_MAX_OPS] = {0}, inb[SYNC_MAX_OPS] = {0};
	size_t bidx[SYNC_MAX_OPS], nb = 0;
	xmpp_stanza_t *q;
	int tx;

	(void)conn;
	if (ms == NULL)
		return 0;
	if (failed_answer(ms, st, "sync")) {
		batch_clear(ms);
		return 0;
	}
	q = xmpp_stanza_get_child_by_ns(st, NS_XS_META);
	ms->answering = 1;
	/* the answers' bookkeeping in one transaction, not one per op */
	tx = store_begin(m->env.st) == 0;
	for (xmpp_stanza_t *r = q ? xmpp_stanza_get_children(q) : NULL; r;
	    r = xmpp_stanza_get_next(r)) {
		const char *is = xmpp_stanza_get_attribute(r, "i");
		const char *s = xmpp_stanza_get_attribute(r, "s");
		char *end = NULL;
		long i = is ? strtol(is, &end, 10) : -1;
		/* each operation is answered once: a repeated index is noise */
		if (!xmpp_stanza_is_tag(r) || s == NULL || end == is || *end ||
		    i < 0 || (size_t)i >= ms->nbatch || seen[i])
			continue;
		seen[i] = 1;
		if (mirror_wait_answer(m, ms, (size_t)i, r, s))
			continue;	/* no room on the slave: it waits */
		if (strcmp(s, "ok") == 0)
			store_outbox_done(m->env.st, ms->jid, ms->batch[i].path,
			    ms->batch[i].seq);
		else if (strcmp(s, "need") == 0 && ms->batch[i].kind == STORE_OP_PUT) {
			const char *g = xmpp_stanza_get_attribute(r, "g");
			if (g && strcmp(g, "1") == 0 && ms->batch[i].bundled &&
			    ms->bundle_wire[0])
				inb[i] = 1;	/* sent below, in batch order */
			else
				start_transfer(m, ms, (size_t)i,
				    xmpp_stanza_get_attribute(r, "b"));
		} else {
			const char *e = xmpp_stanza_get_attribute(r, "e");
			char why[1400];
			snprintf(why, sizeof(why), "%s could not apply %s: %s",
			    ms->jid, sync_kind_name(ms->batch[i].kind),
			    e ? e : "no reason given");
			set_aside(m, ms, ms->batch[i].path, why);
			/* the slave lacks what the operation acts on */
			if (ms->batch[i].kind == STORE_OP_META ||
			    (ms->batch[i].kind == STORE_OP_RENAME && e &&
			    strcmp(e, strerror(ENOENT)) == 0))
				resend_whole(m, ms, ms->batch[i].path);
		}
	}
	if (tx && store_commit(m->env.st) < 0)
		store_rollback(m->env.st);
	for (size_t i = 0; i < ms->nbatch; i++)
		if (inb[i])
			bidx[nb++] = i;
	if (nb == 1)		/* a bundle of one is just a transfer */
		start_transfer(m, ms, bidx[0], NULL);
	else if (nb > 1)
		start_bundle(m, ms, bidx, nb);
	ms->answering = 0;
	batch_clear(ms);
	pump(m, ms);
	return 0;
}

/* A bundle ended: on success every file in it is on the slave, verified.
 * On failure the slave kept those it verified before the break (its next
 * answers say "ok" for them) and the rest are sent again; its puts travel
 * alone for a while, so one that keeps failing is set aside by itself. */
static void
bundle_done(struct mirror *m, struct mslave *ms, const struct jingle_info *in,
    const struct xfer *x, int err)
{
	uint64_t total = 0;
	int tx = store_begin(m->env.st) == 0;

	for (size_t k = 0; k < x->n; k++) {
		if (ms)
			inflight_drop(ms, x->mem[k].path);
		if (err == 0)
			store_outbox_done(m->env.st, x->jid, x->mem[k].path,
			    x->mem[k].seq);
		total += x->mem[k].size;
	}
	if (tx && store_commit(m->env.st) < 0)
		store_rollback(m->env.st);
	if (err == 0) {
		m->file_bytes_sent += total;
		log_info("sent %zu files to %s in one bundle (%llu bytes)",
		    x->n, in->peer, (unsigned long long)total);
		if (log_get_level() >= LOG_LVL_DEBUG)
			for (size_t k = 0; k < x->n; k++)
				log_debug("sent %s in a bundle", x->mem[k].path);
		return;
	}
	/* the slave went away (or comes back anew): nothing to learn */
	if (ms == NULL || ms->full[0] == '\0' || err == -ENOTCONN ||
	    err == -ECONNREFUSED) {
		log_warn("a bundle of %zu files to %s failed: %s; sending them "
		    "again", x->n, in->peer, strerror(-err));
		return;
	}
	log_warn("a bundle of %zu files to %s failed: %s; sending them again, "
	    "one session each for %d s", x->n, in->peer, strerror(-err),
	    MIRROR_NOBUNDLE_MS / 1000);
	ms->nobundle_until_ms = loop_now_ms() + MIRROR_NOBUNDLE_MS;
}

/* One line per file sent: the bytes of content that crossed against
 * the file's size when they differ (a delta, or a resume). */
static void
log_sent(const struct xfer *x, const struct jingle_info *in)
{
	if (x->delta && in->offset)
		log_info("sent %s to %s: %llu of %llu bytes, as a delta "
		    "(%llu bytes of chunks) resumed at byte %llu", x->path,
		    in->peer, (unsigned long long)(in->file->size - in->offset),
		    (unsigned long long)x->size,
		    (unsigned long long)mirror_delta_content(x->delta),
		    (unsigned long long)in->offset);
	else if (x->delta)
		log_info("sent %s to %s: %llu of %llu bytes, as a delta "
		    "(%llu bytes of chunks)", x->path, in->peer,
		    (unsigned long long)in->file->size,
		    (unsigned long long)x->size,
		    (unsigned long long)mirror_delta_content(x->delta));
	else if (in->offset)
		log_info("sent %s to %s, %llu bytes (from offset %llu)",
		    x->path, in->peer, (unsigned long long)in->file->size,
		    (unsigned long long)in->offset);
	else
		log_info("sent %s to %s (%llu bytes)", x->path, in->peer,
		    (unsigned long long)in->file->size);
}

void
mirror_master_done(struct mirror *m, const struct jingle_info *in, int err)
{
	struct xfer *x = in->cookie;
	struct mslave *ms = x ? slave_find(m, x->jid) : NULL;

	if (x == NULL)
		return;
	if (ms)
		xfer_ended(ms);
	if (x->n > 0) {
		bundle_done(m, ms, in, x, err);
		xfer_free(x);
		if (ms)
			pump(m, ms);
		return;
	}
	if (ms)
		inflight_drop(ms, x->path);
	if (err == 0) {
		store_outbox_done(m->env.st, x->jid, x->path, x->seq);
		/* the engine's own line names the opaque transfer only */
		log_sent(x, in);
		m->file_bytes_sent += x->size;
		m->deltas_sent += x->delta != NULL;
		if (ms)
			mirror_delta_whole_set(ms, x->path, 0);
	} else {
		char why[1400];
		/* a delta the slave ended (it refused it) goes whole next
		 * time; one cut off on the way goes as a delta again, which
		 * the slave resumes (delta.c) */
		if (x->delta && ms && (err == -ECONNABORTED ||
		    err == -EBADMSG)) {
			log_warn("delta of %s to %s failed (%s): it goes whole "
			    "next time", x->path, in->peer, strerror(-err));
			mirror_delta_whole_set(ms, x->path, 1);
		} else if (x->delta && ms)
			log_warn("delta of %s to %s was cut off (%s): it goes "
			    "as a delta again", x->path, in->peer,
			    strerror(-err));
		snprintf(why, sizeof(why), "transfer to %s failed: %s", in->peer,
		    strerror(-err));
		if (ms)
			set_aside(m, ms, x->path, why);
	}
	xfer_free(x);
	if (ms)
		pump(m, ms);
}

/* Tombstones every slave has applied are history nobody needs. Only
 * those already queued for the slaves (up to the fanout seq) can go. */
static void
collect_tombstones(struct mirror *m)
{
	int64_t fanout = 0, n = 0;

	if (store_meta_get_int(m->env.st, PLAN_META_FANOUT, &fanout) < 0)
		return;
	if (store_tombstones_collect(m->env.st, fanout, &n) == 0 && n > 0)
		log_info("collected %lld tombstones every slave has applied",
		    (long long)n);
}

static void
rescan(struct mirror *m, const char *why)
{
	const struct cfg *c = m->env.cfg;
	struct scan_opts so = {.root = c->dir,
	    .ignore = (const char *const *)c->ignore, .n_ignore = c->nignore};
	struct scan_stats ss;

	if (scan_run(m->env.st, &so, &ss) < 0)
		return;
	if (ss.added + ss.changed + ss.deleted > 0 || strcmp(why, "start") == 0)
		log_info("scan (%s): %lld files, %lld dirs, %lld symlinks; %lld "
		    "added, %lld changed, %lld deleted; %lld bytes hashed", why,
		    (long long)ss.files, (long long)ss.dirs, (long long)ss.symlinks,
		    (long long)ss.added, (long long)ss.changed,
		    (long long)ss.deleted, (long long)ss.bytes_hashed);
	plan_fanout(m->plan);
	collect_tombstones(m);
	m->next_rescan_ms = loop_now_ms() + (m->degraded ? DEGRADED_RESCAN_MS :
	    (int64_t)c->rescan_interval * 1000);
}

static void
changed(struct mirror *m, const struct watch_event *ev)
{
	int64_t size = 0;

	if (ev->path[0] == '\0' || !plan_admit(m->plan, ev->path, ev->is_dir))
		return;
	if (m->hasher && (ev->kind == WATCH_CHANGED || ev->kind == WATCH_ATTRIB)) {
		/* a result for a busy path is checked against the file as
		 * it is then, and hashed again if it moved on */
		if (hasher_busy(m->hasher, ev->path))
			return;
		if (plan_hash_needed(m->plan, ev->path, &size) &&
		    size >= ASYNC_HASH_MIN && hasher_submit(m->hasher, ev->path) == 0)
			return;
	}
	plan_path_changed(m->plan, ev->path);
}

static void
on_event(const struct watch_event *ev, void *arg)
{
	struct mirror *m = arg;

	log_debug("watch: %s %s%s%s", watch_kind_name(ev->kind), ev->path,
	    ev->old_path ? " from " : "", ev->old_path ? ev->old_path : "");
	switch (ev->kind) {
	case WATCH_RENAMED:
		plan_event_renamed(m->plan, ev->old_path, ev->path, ev->is_dir);
		break;
	case WATCH_RESCAN:
		rescan(m, "events were lost");
		break;
	case WATCH_DEGRADED:
		m->degraded = 1;
		m->next_rescan_ms = loop_now_ms() + DEGRADED_RESCAN_MS;
		log_warn("falling back to a full rescan every %d s",
		    DEGRADED_RESCAN_MS / 1000);
		break;
	default:
		changed(m, ev);
		break;
	}
}

static void
on_hashed(const struct hasher_result *r, void *arg)
{
	struct mirror *m = arg;
	int e;

	log_debug("hashed %s (%lld bytes) on the worker thread", r->path,
	    (long long)r->size);
	if (r->err == -EAGAIN)
		e = -EAGAIN;	/* written to while being read */
	else if (r->err < 0)
		e = plan_path_changed(m->plan, r->path);
	else
		e = plan_path_hashed(m->plan, r->path, r->size, r->mtime_ns,
		    r->sha256, r->chunks);
	if (e == -EAGAIN)
		hasher_submit(m->hasher, r->path);
}

/* New changes may be queued: give every slave its next batch. */
static void
pump_all(struct mirror *m)
{
	for (size_t i = 0; i < m->nslaves; i++)
		pump(m, m->slaves[i]);
}

static void
on_hasher_fd(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct mirror *m = arg;

	(void)l;
	(void)fd;
	(void)ev;
	if (hasher_process(m->hasher, on_hashed, m) > 0)
		pump_all(m);
}

/* Large files are hashed off the loop; without the thread they are
 * hashed on it, which only costs latency. */
static void
start_hasher(struct mirror *m)
{
	int r = hasher_new(plan_rootfd(m->plan), &m->hasher);

	if (r == 0 && (r = loop_fd_add(m->env.loop, hasher_fd(m->hasher),
	    LOOP_READ, on_hasher_fd, m)) < 0) {
		hasher_free(m->hasher);
		m->hasher = NULL;
	}
	if (r < 0)
		log_warn("cannot start the hashing thread (%s): large files are "
		    "hashed on the event loop", strerror(-r));
}

static void
on_watch_fd(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct mirror *m = arg;
	int tx;

	(void)l;
	(void)fd;
	(void)ev;
	/* what the events change in the index and the outboxes goes in one
	 * transaction, not one each (a rm -rf is a thousand of them) */
	tx = store_begin(m->env.st) == 0;
	watch_process(m->watch, on_event, m);
	if (tx && store_commit(m->env.st) < 0)
		store_rollback(m->env.st);
	pump_all(m);
}

static long
watch_timer(struct loop *l, void *arg)
{
	struct mirror *m = arg;
	long t;
	int tx, n;

	(void)l;
	tx = store_begin(m->env.st) == 0;
	n = watch_flush_due(m->watch, on_event, m);
	if (tx && store_commit(m->env.st) < 0)
		store_rollback(m->env.st);
	if (n > 0)
		pump_all(m);
	t = watch_next_timeout_ms(m->watch);
	return t < 0 ? 250 : t < 10 ? 10 : t;
}

void
mirror_master_tick(struct mirror *m)
{
	if (loop_now_ms() >= m->next_rescan_ms)
		rescan(m, m->degraded ? "no inotify watches" : "periodic");
	for (size_t i = 0; i < m->nslaves; i++) {
		struct mslave *ms = m->slaves[i];
		if (ms->full[0] && ms->phase == MS_IDLE && ms->iq_id[0] == '\0' &&
		    loop_now_ms() >= ms->retry_at_ms)
			say_hello(m, ms);
		else
			pump(m, ms);
	}
}

int
mirror_master_new(struct mirror *m)
{
	const struct cfg *c = m->env.cfg;
	int r;

	if ((r = plan_new(c->dir, m->env.st, (const char *const *)c->ignore,
	    c->nignore, &m->plan)) < 0)
		return r;
	/* watch first, then scan: nothing that changes in between is missed */
	if (watch_new(c->dir, c->ignore, c->nignore, &m->watch) < 0) {
		/* the watcher has said why */
		log_warn("falling back to a full rescan of %s every %d s",
		    c->dir, DEGRADED_RESCAN_MS / 1000);
		m->degraded = 1;
	} else if ((r = loop_fd_add(m->env.loop, watch_fd(m->watch), LOOP_READ,
	    on_watch_fd, m)) < 0 ||
	    (r = (int)(m->watch_timer = loop_timer_add(m->env.loop, 250,
	    watch_timer, m))) < 0) {
		log_error("cannot add the watcher to the event loop: %s",
		    strerror(-r));
		return r;
	}
	start_hasher(m);
	rescan(m, "start");
	return service_route_sealed(m->env.svc, NS_XS_META, on_slave_iq, m);
}

void
mirror_master_free(struct mirror *m)
{
	if (m->hasher) {
		loop_fd_del(m->env.loop, hasher_fd(m->hasher));
		hasher_free(m->hasher);
	}
	if (m->watch) {
		loop_fd_del(m->env.loop, watch_fd(m->watch));
		loop_timer_del(m->env.loop, m->watch_timer);
		watch_free(m->watch);
	}
	for (size_t i = 0; i < m->nslaves; i++) {
		batch_clear(m->slaves[i]);
		inflight_clear(m->slaves[i]);
		manifest_clear(m->slaves[i]);
		mirror_digest_reset(m->slaves[i]);
		mirror_delta_whole_clear(m->slaves[i]);
		free(m->slaves[i]);
	}
	plan_free(m->plan);
}

void
mirror_master_send(struct mirror *m, struct mslave *ms, xmpp_stanza_t *iq,
    xmpp_handler h)
{
	send_iq(m, ms, iq, h);
}

struct mslave *
mirror_master_answer(struct mirror *m, xmpp_stanza_t *st)
{
	return answer_for(m, st);
}

void
mirror_master_pump(struct mirror *m, struct mslave *ms)
{
	pump(m, ms);
}

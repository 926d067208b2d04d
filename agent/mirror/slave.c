/* mirror/slave.c -- the slave side: answers the master's hello, manifest
 * and sync requests (syncproto_ in mirror_int.h), and receives file content into
 * the applier. Nothing is accepted from anyone but the master whose
 * pinned key was proven in this session. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/crypto/crypto.h"
#include "agent/log.h"
#include "agent/loop.h"
#include "agent/mirror/mirror_int.h"
#include "agent/xmpp/xmpp.h"
#include "sync/apply.h"
#include "sync/chunk.h"
#include "sync/path.h"
#include "sync/plan.h"
#include "agent/util.h"

#define TOMBSTONE_GC_MS (3600 * 1000)

static struct expect *
expect_find(struct mirror *m, const char *path)
{
	for (size_t i = 0; i < m->nexpect; i++)
		if (strcmp(m->expect[i].path, path) == 0)
			return &m->expect[i];
	return NULL;
}

/* The expected transfer a delta offer's name stands for (delta.c), NULL
 * if it is not one or we offered no version for a delta to apply to. */
static struct expect *expect_find_wire(struct mirror *m, const char *wire);

static struct expect *
expect_find_delta(struct mirror *m, const char *name)
{
	char wire[SYNC_OPAQUE_SIZE];
	struct expect *e;

	if (strncmp(name, DELTA_PREFIX, sizeof(DELTA_PREFIX) - 1) != 0 ||
	    strlen(name) != SYNC_OPAQUE_SIZE - 1)
		return NULL;
	snprintf(wire, sizeof(wire), "%s%s", SYNC_OPAQUE_PREFIX,
	    name + sizeof(DELTA_PREFIX) - 1);
	e = expect_find_wire(m, wire);
	return e && e->has_base ? e : NULL;
}

/* The expected transfer offered under the Jingle name wire (the path, or
 * its hash for a name that is not plain text: sync_wire_name()). */
static struct expect *
expect_find_wire(struct mirror *m, const char *wire)
{
	for (size_t i = 0; i < m->nexpect; i++)
		if (strcmp(m->expect[i].wire, wire) == 0)
			return &m->expect[i];
	return NULL;
}

const char *
mirror_slave_wire_path(const struct mirror *m, const char *wire)
{
	/* a delta's name differs from the put's in its prefix only */
	size_t skip = wire && strncmp(wire, DELTA_PREFIX,
	    sizeof(DELTA_PREFIX) - 1) == 0 ? sizeof(DELTA_PREFIX) - 1 : 0;

	for (size_t i = 0; wire && i < m->nexpect; i++)
		if (m->expect[i].wire && strcmp(m->expect[i].wire + (skip &&
		    strlen(m->expect[i].wire) >= skip ? skip : 0),
		    wire + skip) == 0)
			return m->expect[i].path;
	for (size_t i = 0; wire && i < m->nbundles; i++)
		if (strcmp(m->bundles[i].wire, wire) == 0)
			return "(files in one bundle)";
	return NULL;
}

static void
bundle_clear(struct bundle_expect *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->mem[i].path);
	free(b->mem);
	memset(b, 0, sizeof(*b));
}

/* Takes the announced bundle named wire out of the list into *out.
 * Returns 0 or -ENOENT. */
static int
bundle_take(struct mirror *m, const char *wire, struct bundle_expect *out)
{
	for (size_t i = 0; i < m->nbundles; i++) {
		if (strcmp(m->bundles[i].wire, wire) != 0)
			continue;
		*out = m->bundles[i];
		memmove(&m->bundles[i], &m->bundles[i + 1],
		    (m->nbundles - i - 1) * sizeof(m->bundles[0]));
		m->nbundles--;
		return 0;
	}
	return -ENOENT;
}

static const struct bundle_expect *
bundle_find(const struct mirror *m, const char *wire)
{
	for (size_t i = 0; i < m->nbundles; i++)
		if (strcmp(m->bundles[i].wire, wire) == 0)
			return &m->bundles[i];
	return NULL;
}

/* Remembers b (moved in); the oldest goes when the list is full (its
 * files come again, one by one or in a later bundle). */
static void
bundle_add(struct mirror *m, struct bundle_expect *b)
{
	if (m->nbundles == MIRROR_MAX_BUNDLES) {
		bundle_clear(&m->bundles[0]);
		memmove(&m->bundles[0], &m->bundles[1],
		    (m->nbundles - 1) * sizeof(m->bundles[0]));
		m->nbundles--;
	}
	m->bundles[m->nbundles++] = *b;
	memset(b, 0, sizeof(*b));
}

/* Forgets what a delta of e would draw on or resume from. */
static void
expect_forget_delta(struct mirror *m, struct expect *e)
{
	apply_donor_drop(m->apply, e->donor);
	free(e->donor);
	e->donor = NULL;
	if (e->rlist)
		chunk_list_clear(e->rlist);
	free(e->rlist);
	e->rlist = NULL;
}

static void
expect_drop(struct mirror *m, const char *path)
{
	struct expect *e = expect_find(m, path);

	if (e == NULL)
		return;
	free(e->path);
	free(e->wire);
	expect_forget_delta(m, e);
	*e = m->expect[--m->nexpect];
}

/* Drops what is expected below path (and at path itself if self): the
 * master has put something else there, and will not send that content. */
static void
expect_drop_tree(struct mirror *m, const char *path, int self)
{
	size_t n = strlen(path);

	for (size_t i = m->nexpect; i-- > 0;) {
		const char *p = m->expect[i].path;
		if ((self && strcmp(p, path) == 0) ||
		    (strncmp(p, path, n) == 0 && p[n] == '/'))
			expect_drop(m, p);
	}
}

static int
expect_add(struct mirror *m, const struct sync_op *o)
{
	struct expect *e = expect_find(m, o->path);
	char wire[SYNC_WIRE_NAME_MAX], *w;

	/* the opaque name the master will offer it under; a master that
	 * names none offers it under its path (or a hash of it) */
	if (o->wire)
		snprintf(wire, sizeof(wire), "%s", o->wire);
	else
		sync_wire_name(o->path, wire);
	if ((w = strdup(wire)) == NULL)
		return -ENOMEM;
	if (e == NULL) {
		if (util_grow(&m->expect, m->nexpect + 1, &m->capexpect, 64) < 0 ||
		    (m->expect[m->nexpect].path = strdup(o->path)) == NULL) {
			free(w);
			return -ENOMEM;
		}
		e = &m->expect[m->nexpect++];
		e->wire = NULL;
		e->donor = NULL;
		e->rlist = NULL;
	} else if (e->size != o->size || memcmp(e->sha256, o->sha256, 32))
		expect_forget_delta(m, e);	/* another version now */
	free(e->wire);
	e->wire = w;
	e->has_base = 0;
	e->size = o->size;
	memcpy(e->sha256, o->sha256, 32);
	e->mode = o->mode;
	e->mtime_ns = o->mtime_ns;
	return 0;
}

/* A put whose content came with it (a small file, sealed with the
 * batch): installed like a transfer, verified against the checksum of the
 * put before it becomes visible. Returns 0 or a negative errno (logged
 * by the applier, or here for bad base64). */
static int
put_inline(struct mirror *m, const struct sync_op *o)
{
	uint8_t buf[SYNC_INLINE_MAX];
	struct apply_put *p;
	uint64_t have = 0;
	size_t n = 0;
	int r;

	if (crypto_base64_decode(o->content64, buf, sizeof(buf), &n) < 0 ||
	    n != o->size) {
		log_warn("refusing %s: its inline content is not %llu bytes of "
		    "base64", o->path, (unsigned long long)o->size);
		return -EBADMSG;
	}
	if ((r = apply_put_begin(m->apply, o->path, o->size, o->sha256, o->mode,
	    o->mtime_ns, &p, &have)) < 0)
		return r;
	if ((have > 0 && (r = apply_put_truncate(p, 0)) < 0) ||
	    (n > 0 && (r = apply_put_write(p, buf, n)) < 0)) {
		apply_put_abort(p, 0);
		return r;
	}
	if ((r = apply_put_finish(p)) == 0)
		log_info("received %s (%llu bytes inline, verified)", o->path,
		    (unsigned long long)o->size);
	return r;
}

/* A put: the slave has the content already, or copies it from a file it
 * holds, or it came inline, or it must come by Jingle if there is room
 * for it. Returns "ok",
 * "need", "space" (it waits for room) or NULL with *err set. */
static const char *
put_op(struct mirror *m, const struct sync_op *o, int *err)
{
	struct apply *a = m->apply;
	int have = 0, r;

	if ((r = apply_have(a, o->path, o->size, o->sha256, o->mode,
	    o->mtime_ns, &have)) < 0 || have)
		goto out;
	if ((r = mirror_space_admit(m, o->path, o->size, o->sha256)) < 0) {
		*err = r;
		return "space";
	}
	if (o->content64) {
		r = put_inline(m, o);
		mirror_space_release(m, o->path);
		goto out;
	}
	r = apply_copy_local(a, o->path, o->size, o->sha256, o->mode,
	    o->mtime_ns, &have);
	if (r == 0 && !have && (r = expect_add(m, o)) == 0) {
		*err = 0;
		return "need";
	}
	mirror_space_release(m, o->path);
out:
	*err = r;
	if (r == 0)
		m->ops_applied++;
	return r == 0 ? "ok" : NULL;
}

/* Applies one operation. Returns "ok", "need" (content must come by
 * Jingle), "space" (it must wait for room) or NULL with *err set. */
static const char *
apply_op(struct mirror *m, const struct sync_op *o, int *err)
{
	struct apply *a = m->apply;
	int r = 0;

	switch (o->kind) {
	case STORE_OP_PUT:
		return put_op(m, o, err);
	case STORE_OP_MKDIR: r = apply_mkdir(a, o->path, o->mode, o->mtime_ns); break;
	case STORE_OP_DELETE: r = apply_delete(a, o->path); break;
	case STORE_OP_RMDIR: r = apply_rmdir(a, o->path); break;
	case STORE_OP_RENAME:
		r = apply_rename(a, o->from, o->path, o->mode, o->mtime_ns);
		break;
	case STORE_OP_META: r = apply_meta(a, o->path, o->mode, o->mtime_ns); break;
	case STORE_OP_SYMLINK:
		r = apply_symlink(a, o->path, o->target, o->mtime_ns);
		break;
	}
	*err = r;
	if (r == 0)
		m->ops_applied++;
	return r == 0 ? "ok" : NULL;
}

/* One line for a cleanup of temp files, when it found any. */
static void
log_temps(const char *when, const struct apply_temps *t)
{
	char kept[64] = "";

	if (t->kept > 0)
		snprintf(kept, sizeof(kept), ", %lld kept for a transfer that "
		    "may resume", (long long)t->kept);
	if (t->removed > 0 || t->kept > 0)
		log_info("temp files of abandoned transfers %s: %lld removed "
		    "(%lld bytes freed)%s", when, (long long)t->removed,
		    (long long)t->bytes, kept);
}

/* After the master's operation o (answered st: "ok", "need", "space" or
 * NULL for a failure), an interrupted transfer of its paths can resume
 * only if o is a put still wanting that version (a file waiting for space
 * keeps its prefix for when room is found); what was expected at paths o
 * removed or replaced will not come either. */
static void
forget_stale(struct mirror *m, const struct sync_op *o, const char *st)
{
	struct apply_temps t, tf = {0};
	int wanted = st == NULL || strcmp(st, "need") == 0 ||
	    strcmp(st, "space") == 0;

	if (o->kind == STORE_OP_META)
		return;
	if (o->kind == STORE_OP_PUT) {
		apply_temps_forget(m->apply, o->path, o->size,
		    wanted ? o->sha256 : NULL, &t);
		expect_drop_tree(m, o->path, !wanted);	/* "ok": it is here */
	} else {
		apply_temps_forget(m->apply, o->path, 0, NULL, &t);
		expect_drop_tree(m, o->path, 1);
	}
	if (o->from) {
		apply_temps_forget(m->apply, o->from, 0, NULL, &tf);
		expect_drop_tree(m, o->from, 1);
	}
	if (t.removed + tf.removed > 0)
		log_info("removed the partial transfer of %s (%lld bytes): the "
		    "master %s", o->from && tf.removed ? o->from : o->path,
		    (long long)(t.bytes + tf.bytes), o->kind == STORE_OP_PUT &&
		    wanted ? "wants another version" : "no longer sends it");
}

/* Our tombstones have served their purpose once the scan that made them
 * has counted them: a slave's index tells no one about deletions. The
 * query reads the whole index, so at most once an hour. */
static void
collect_tombstones(struct mirror *m)
{
	int64_t n = 0;

	if (loop_now_ms() < m->next_gc_ms)
		return;
	m->next_gc_ms = loop_now_ms() + TOMBSTONE_GC_MS;
	if (store_tombstones_collect(m->env.st, INT64_MAX, &n) == 0 && n > 0)
		log_debug("collected %lld tombstones", (long long)n);
}

/* In sync with nothing left to receive: no transfer will resume what an
 * interrupted one left. */
static void
in_sync_cleanup(struct mirror *m)
{
	struct apply_temps t;

	apply_temps_release(m->apply, &t);
	log_temps("once in sync", &t);
	collect_tombstones(m);
}

/* Adds the put o, answered by el, to the bundle being gathered. */
static void
bundle_member_add(struct bundle_expect *b, const struct sync_op *o,
    xmpp_stanza_t *el, xmpp_stanza_t **bel)
{
	struct bundle_member *mb = &b->mem[b->n];

	if ((mb->path = strdup(o->path)) == NULL)
		return;
	mb->size = o->size;
	memcpy(mb->sha256, o->sha256, 32);
	mb->mode = o->mode;
	mb->mtime_ns = o->mtime_ns;
	bel[b->n++] = el;
	b->total += o->size;
}

/* A put we need that may come as a delta: names the version we hold at
 * its path (b='HEX'), which the delta is to apply to. */
/* Files a batch deletes, kept for a put of the same batch to draw its
 * delta from (apply_donor_keep()): a file renamed and edited before the
 * master could send the rename arrives as a delete and a put. */
struct donor {
	char *name;
	uint8_t sha256[32];
	uint64_t size;
};

struct donors {
	struct donor *v;
	size_t n, cap;
};

/* Keeps the files the deletes of batch q remove, if it has a put that
 * may come as a delta. */
static void
donors_keep(struct mirror *m, xmpp_stanza_t *q, struct donors *d)
{
	const char *why;
	struct sync_op o;
	int deltas = 0;

	for (xmpp_stanza_t *c = xmpp_stanza_get_children(q); c && !deltas;
	    c = xmpp_stanza_get_next(c))
		deltas = xmpp_stanza_is_tag(c) && sync_op_parse(c, &o, &why) ==
		    0 && o.kind == STORE_OP_PUT && o.delta;
	for (xmpp_stanza_t *c = deltas ? xmpp_stanza_get_children(q) : NULL;
	    c; c = xmpp_stanza_get_next(c)) {
		struct donor k;

		if (!xmpp_stanza_is_tag(c) || sync_op_parse(c, &o, &why) < 0 ||
		    o.kind != STORE_OP_DELETE ||
		    util_grow(&d->v, d->n + 1, &d->cap, 4) < 0 ||
		    apply_donor_keep(m->apply, o.path, &k.name, k.sha256,
		    &k.size) < 0)
			continue;
		d->v[d->n++] = k;
	}
}

/* Removes the donors no put took. */
static void
donors_drop(struct mirror *m, struct donors *d)
{
	for (size_t i = 0; i < d->n; i++) {
		apply_donor_drop(m->apply, d->v[i].name);
		free(d->v[i].name);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* The donor nearest in size to size, taken from d; -1 if none is left. */
static ssize_t
donor_take(struct donors *d, uint64_t size)
{
	ssize_t best = -1;
	uint64_t bd = 0;

	for (size_t i = 0; i < d->n; i++) {
		uint64_t dd = d->v[i].size > size ? d->v[i].size - size :
		    size - d->v[i].size;
		if (d->v[i].name && (best < 0 || dd < bd)) {
			best = (ssize_t)i;
			bd = dd;
		}
	}
	return best;
}

static void
offer_base(struct mirror *m, const struct sync_op *o, xmpp_stanza_t *el,
    struct donors *d)
{
	struct expect *e = expect_find(m, o->path);
	char hex[65];
	ssize_t k;

	if (e == NULL)
		return;
	if (e->donor) {
		/* kept from when this version was first asked for */
		memcpy(e->base, e->dsha, 32);
	} else if (mirror_delta_base(m->env.st, o->path, e->base) < 0) {
		if ((k = donor_take(d, o->size)) < 0)
			return;
		memcpy(e->base, d->v[k].sha256, 32);
		memcpy(e->dsha, d->v[k].sha256, 32);
		e->donor = d->v[k].name;
		d->v[k].name = NULL;
		log_debug("%s may come as a delta from a file this batch "
		    "deletes", o->path);
	}
	e->has_base = 1;
	crypto_hex_encode(e->base, 32, hex);
	xmpp_stanza_set_attribute(el, "b", hex);
}

static void
on_sync(struct mirror *m, xmpp_conn_t *conn, xmpp_stanza_t *iq,
    xmpp_stanza_t *q)
{
	xmpp_ctx_t *ctx = xmpp_conn_get_context(conn);
	xmpp_stanza_t *r = stanza_iq_result(ctx, iq), *out, *el;
	const char *complete = xmpp_stanza_get_attribute(q, "complete");
	const char *bw = xmpp_stanza_get_attribute(q, "g");
	struct bundle_expect b = {0};
	struct donors donors = {0};
	xmpp_stanza_t *bel[SYNC_MAX_OPS];
	uint64_t bmax = m->env.cfg->max_file_size;
	int i = 0;

	/* puts the master offers to bundle, answered "need": the bundle */
	if (bw && sync_opaque_check(bw) < 0)
		bw = NULL;
	if (bw && (b.mem = calloc(SYNC_MAX_OPS, sizeof(*b.mem))) != NULL)
		snprintf(b.wire, sizeof(b.wire), "%s", bw);

	if (r == NULL || (out = stanza_add_child(ctx, r, "sync", NS_XS_META)) == NULL)
		goto out;
	/* the batch's directory fsyncs and records at once, before the
	 * answer says "ok" to any of it */
	apply_batch_begin(m->apply);
	donors_keep(m, q, &donors);
	for (xmpp_stanza_t *c = xmpp_stanza_get_children(q); c && i < SYNC_MAX_OPS;
	    c = xmpp_stanza_get_next(c)) {
		struct sync_op o;
		const char *why, *st;
		char idx[16];
		int err = 0;

		if (!xmpp_stanza_is_tag(c))
			continue;
		if ((el = stanza_add_child(ctx, out, "r", NULL)) == NULL)
			break;
		snprintf(idx, sizeof(idx), "%d", i++);
		xmpp_stanza_set_attribute(el, "i", idx);
		if (sync_op_parse(c, &o, &why) < 0) {
			log_warn("refused an operation from the master: %s", why);
			xmpp_stanza_set_attribute(el, "s", "fail");
			xmpp_stanza_set_attribute(el, "e", why);
			continue;
		}
		st = apply_op(m, &o, &err);
		forget_stale(m, &o, st);
		xmpp_stanza_set_attribute(el, "s", st ? st : "fail");
		if (st && strcmp(st, "need") == 0 && o.delta)
			offer_base(m, &o, el, &donors);
		if (st == NULL)
			xmpp_stanza_set_attribute(el, "e", strerror(-err));
		else if (strcmp(st, "space") == 0)
			mirror_space_answer(m, el);
		else if (strcmp(st, "need") == 0 && o.bundled && b.mem &&
		    xmpp_stanza_get_attribute(el, "b") == NULL &&
		    (bmax == 0 || b.total + o.size <= bmax))
			/* in the bundle unless it may come as a delta */
			bundle_member_add(&b, &o, el, bel);
	}
	/* two or more make a bundle; one travels alone, as announced */
	if (b.n > 1) {
		for (size_t k = 0; k < b.n; k++)
			xmpp_stanza_set_attribute(bel[k], "g", "1");
		bundle_add(m, &b);
	}
	bundle_clear(&b);
	donors_drop(m, &donors);
	if (complete && m->nexpect == 0) {
		long long seq = strtoll(complete, NULL, 10);
		store_meta_set_int(m->env.st, STORE_META_MASTER_SEQ, seq);
		mirror_local_synced(m);
		log_info("in sync with the master (seq %lld)", seq);
		in_sync_cleanup(m);
	}
	if (apply_batch_end(m->apply) < 0) {
		/* nothing of it is acknowledged: the master sends it again,
		 * and what is on disk already is found and recorded then */
		chan_reply_error(m->env.chan, iq, "wait", "internal-server-error");
		goto out;
	}
	chan_reply(m->env.chan, iq, r);
out:
	if (r)
		xmpp_stanza_release(r);
}

struct manifest_ctx {
	xmpp_ctx_t *ctx;
	xmpp_stanza_t *out;
	size_t n, bytes;
	int full;		/* stopped by the stanza budget */
};

static int
add_entry(const struct store_file *f, void *arg)
{
	struct manifest_ctx *mc = arg;
	size_t need = sync_op_wire_max(f->path, NULL, f->target);

	if (mc->n > 0 && mc->bytes + need > SYNC_STANZA_BUDGET) {
		mc->full = 1;
		return 1;
	}
	mc->n++;
	mc->bytes += need;
	return sync_entry_build(mc->ctx, mc->out, f);
}

static void
on_manifest(struct mirror *m, xmpp_conn_t *conn, xmpp_stanza_t *iq,
    xmpp_stanza_t *q)
{
	struct manifest_ctx mc = {.ctx = xmpp_conn_get_context(conn)};
	char buf[4096];
	const char *after = sync_name_attr_get(q, "after", buf, sizeof(buf));
	xmpp_stanza_t *r = stanza_iq_result(mc.ctx, iq);

	if (after && (after[0] == '\0' || path_check_relative(after, strlen(after)) < 0))
		after = NULL;
	if (after == NULL)	/* a manifest begins: it shows what is here now */
		mirror_local_manifest(m);
	if (r == NULL || (mc.out = stanza_add_child(mc.ctx, r, "manifest", NS_XS_META)) == NULL ||
	    apply_manifest(m->apply, after, SYNC_MANIFEST_PAGE, add_entry, &mc) < 0) {
		if (r)
			xmpp_stanza_release(r);
		chan_reply_error(m->env.chan, iq, "wait",
		    "internal-server-error");
		return;
	}
	xmpp_stanza_set_attribute(mc.out, "more",
	    mc.full || mc.n == SYNC_MANIFEST_PAGE ? "1" : "0");
	chan_reply(m->env.chan, iq, r);
	xmpp_stanza_release(r);
}

static void
on_hello(struct mirror *m, xmpp_conn_t *conn, xmpp_stanza_t *iq)
{
	xmpp_ctx_t *ctx = xmpp_conn_get_context(conn);
	xmpp_stanza_t *r = stanza_iq_result(ctx, iq), *h;
	int64_t seq = 0;
	int fresh = store_meta_get_int(m->env.st, STORE_META_MASTER_SEQ, &seq) < 0;
	char buf[32];

	if (r == NULL)
		return;
	if ((h = stanza_add_child(ctx, r, "hello", NS_XS_META))) {
		xmpp_stanza_set_attribute(h, "state", fresh ? "fresh" :
		    m->dirty ? "dirty" : "ok");
		snprintf(buf, sizeof(buf), "%lld", (long long)seq);
		xmpp_stanza_set_attribute(h, "seq", buf);
		/* it takes the files of a batch in one session, and this
		 * many operations in a batch */
		xmpp_stanza_set_attribute(h, "bundles", "1");
		snprintf(buf, sizeof(buf), "%d", SYNC_MAX_OPS);
		xmpp_stanza_set_attribute(h, "ops", buf);
	}
	chan_reply(m->env.chan, iq, r);
	xmpp_stanza_release(r);
}

static void
on_meta_iq(xmpp_conn_t *conn, xmpp_stanza_t *iq, xmpp_stanza_t *q, void *arg)
{
	struct mirror *m = arg;
	const char *from = xmpp_stanza_get_from(iq);
	const char *name = xmpp_stanza_get_name(q), *type = xmpp_stanza_get_type(iq);

	if (!peers_trusted(m->env.peers, from)) {
		log_warn("refused a sync request from %s: not our master with a "
		    "proven key; nothing written", from ? from : "(no sender)");
		chan_reply_error(m->env.chan, iq, "auth", "forbidden");
		return;
	}
	if (strcmp(name, "hello") == 0 && strcmp(type, "get") == 0)
		on_hello(m, conn, iq);
	else if (strcmp(name, "manifest") == 0 && strcmp(type, "get") == 0)
		on_manifest(m, conn, iq, q);
	else if (strcmp(name, "sync") == 0 && strcmp(type, "set") == 0)
		on_sync(m, conn, iq, q);
	else if (strcmp(name, "digest") == 0 && strcmp(type, "get") == 0)
		mirror_digest_answer(m, conn, iq, q);
	else
		chan_reply_error(m->env.chan, iq, "cancel",
		    "feature-not-implemented");
}

/* A delta offer: its size is the delta stream's, which only the master
 * knew, within what a delta of the file can be. */
static int
accept_delta(const struct expect *e, const char *peer, struct jingle_file *f)
{
	uint64_t plain;

	if (mirror_delta_plain_size(f->size, &plain) < 0 || plain < 5 ||
	    plain > mirror_delta_max_size(e->size)) {
		log_warn("refused a delta offer (%s) from %s: not the size of a "
		    "delta of %s", f->name, peer, e->path);
		return JINGLE_R_DECLINE;
	}
	f->size = plain;
	memcpy(f->sha256, e->sha256, 32);
	f->has_hash = 1;
	f->mtime = util_ns_ts(e->mtime_ns).tv_sec;
	return 0;
}

int
mirror_slave_accept(void *arg, const char *peer, struct jingle_file *f)
{
	struct mirror *m = arg;
	struct expect *e;

	if (!peers_trusted(m->env.peers, peer)) {
		log_warn("refused a file offer (%s) from %s: not our master with a "
		    "proven key", f->name, peer);
		return JINGLE_R_DECLINE;
	}
	/* a delta of a put we offered a version for (delta.c) */
	if ((e = expect_find_delta(m, f->name)) != NULL)
		return accept_delta(e, peer, f);
	/* an opaque offer: the name is what the sealed put announced, the
	 * size the encrypted stream's, and the rest is the put's */
	e = expect_find_wire(m, f->name);
	if (e == NULL) {
		const struct bundle_expect *b = bundle_find(m, f->name);
		if (b && f->size == crypto_ciphertext_size(b->total)) {
			/* each file is verified against its own checksum
			 * as it ends; the whole has none of its own */
			f->size = b->total;
			memset(f->sha256, 0, 32);
			f->has_hash = 1;
			f->mtime = -1;
			return 0;
		}
	}
	if (e == NULL || f->size != crypto_ciphertext_size(e->size) ||
	    (f->has_hash && memcmp(e->sha256, f->sha256, 32) != 0)) {
		log_warn("refused a file offer (%s) from %s: not announced by a "
		    "sync operation with this size", f->name, peer);
		return JINGLE_R_DECLINE;
	}
	f->size = e->size;
	memcpy(f->sha256, e->sha256, 32);
	f->has_hash = 1;
	f->mtime = util_ns_ts(e->mtime_ns).tv_sec;
	return 0;
}

/* A session's receiving end: one file (p, room), or a bundle's files (ab,
 * announced as b; room is the one of the file being received). */
struct sink_handle {
	struct mirror *m;
	struct apply_put *p;
	struct mirror_dsink *ds;	/* a delta session: instead of p */
	char *path;
	uint64_t size;
	struct sres *room;	/* the room promised to it */
	size_t room_k;		/* in a bundle: the member it is for */
	struct bundle_expect b;
	struct apply_bundle_file *files;
	struct apply_bundle *ab;
};

/* A delta session: resumed where one cut off left a prefix of this
 * version, if the master's stream is the one it planned then (delta.c);
 * the room is the whole file's. */
static int
sink_open_delta(struct sink_handle *sh, const struct expect *e,
    const struct jingle_file *f, uint64_t *have)
{
	struct mirror_dsink_args in = {.path = e->path, .size = e->size,
	    .stream = f->size, .mode = e->mode, .mtime_ns = e->mtime_ns};
	int r;

	memcpy(in.sha256, e->sha256, 32);
	memcpy(in.base, e->base, 32);
	in.donor = e->donor;
	*have = 0;
	if ((r = mirror_space_open(sh->m, e->path, e->size, e->sha256, 0,
	    &sh->room)) < 0)
		return r;
	if ((r = mirror_delta_sink_open(sh->m->apply, sh->m->env.st, &in,
	    &sh->ds)) == 0 && e->rlist && memcmp(e->rbase, e->base, 32) == 0 &&
	    (r = mirror_delta_sink_resume(sh->ds, e->rlist, have)) < 0) {
		mirror_delta_sink_abort(sh->ds, 1);
		sh->ds = NULL;
	}
	if (r < 0)
		mirror_space_end(sh->m, sh->room);
	return r;
}

static int
sink_open_file(struct mirror *m, struct expect *e, void **h, uint64_t *have)
{
	struct sink_handle *sh;
	int r;

	if ((sh = calloc(1, sizeof(*sh))) == NULL || (sh->path = strdup(e->path)) == NULL) {
		free(sh);
		return -ENOMEM;
	}
	sh->m = m;
	sh->size = e->size;
	r = apply_put_begin(m->apply, e->path, e->size, e->sha256, e->mode,
	    e->mtime_ns, &sh->p, have);
	/* the prefix of an interrupted transfer holds whole verified records
	 * (the decryptor releases nothing else); a new session encrypts from
	 * a record boundary (docs/protocol.md 1.8), so keep whole records */
	if (r == 0 && *have > 0) {
		uint64_t keep = *have - *have % CRYPTO_RECORD_PLAIN;
		if (keep > 0 && (r = apply_put_truncate(sh->p, keep)) == 0) {
			*have = keep;
			log_info("resuming %s from byte %llu", e->path,
			    (unsigned long long)keep);
		} else if (r == 0) {
			apply_put_abort(sh->p, 0);
			r = apply_put_begin(m->apply, e->path, e->size, e->sha256,
			    e->mode, e->mtime_ns, &sh->p, have);
		}
	}
	if (r < 0 || *have % CRYPTO_RECORD_PLAIN != 0) {
		if (r == 0)
			apply_put_abort(sh->p, 0);
		free(sh->path);
		free(sh);
		return r < 0 ? r : -EIO;
	}
	if ((r = mirror_space_open(m, e->path, e->size, e->sha256, *have,
	    &sh->room)) < 0) {
		apply_put_abort(sh->p, 1);
		free(sh->path);
		free(sh);
		return r;
	}
	*h = sh;
	return 0;
}

/* A bundle's file k is next: received if it is still wanted as announced
 * (the master may have put something else there since) and there is
 * room. */
static int
bundle_start(void *arg, size_t k)
{
	struct sink_handle *sh = arg;
	const struct bundle_member *mb = &sh->b.mem[k];
	const struct expect *e = expect_find(sh->m, mb->path);

	if (e == NULL || e->size != mb->size ||
	    memcmp(e->sha256, mb->sha256, 32) != 0)
		return 1;
	sh->room_k = k;
	return mirror_space_open(sh->m, mb->path, mb->size, mb->sha256, 0,
	    &sh->room);
}

static int
bundle_write(void *arg, size_t k, size_t n)
{
	struct sink_handle *sh = arg;

	(void)k;
	return sh->room ? mirror_space_write(sh->m, sh->room, n) : 0;
}

/* Member k's bytes are in: its room is taken, the next one's opens. */
static void
bundle_ready(void *arg, size_t k)
{
	struct sink_handle *sh = arg;

	(void)k;
	if (sh->room)
		mirror_space_end(sh->m, sh->room);
	sh->room = NULL;
}

static void
bundle_end(void *arg, size_t k, int r)
{
	struct sink_handle *sh = arg;
	const struct bundle_member *mb = &sh->b.mem[k];

	/* the room is the file's own only while it is the one coming in
	 * (an install waits for the next flush) */
	if (sh->room && sh->room_k == k) {
		mirror_space_end(sh->m, sh->room);
		sh->room = NULL;
	}
	if (r == 0) {
		log_info("received %s (%llu bytes, verified, in a bundle)",
		    mb->path, (unsigned long long)mb->size);
		expect_drop(sh->m, mb->path);
	}
}

static void
sink_free(struct sink_handle *sh)
{
	bundle_clear(&sh->b);
	free(sh->files);
	free(sh->path);
	free(sh);
}

static int
sink_open_bundle(struct mirror *m, const char *wire, void **h, uint64_t *have)
{
	struct apply_bundle_hooks hooks = {bundle_start, bundle_write,
	    bundle_end, NULL, bundle_ready};
	struct sink_handle *sh = calloc(1, sizeof(*sh));
	int r;

	if (sh == NULL)
		return -ENOMEM;
	if (bundle_take(m, wire, &sh->b) < 0) {
		free(sh);
		return -EPERM;
	}
	sh->m = m;
	sh->size = sh->b.total;
	if ((sh->files = calloc(sh->b.n, sizeof(*sh->files))) == NULL) {
		sink_free(sh);
		return -ENOMEM;
	}
	for (size_t k = 0; k < sh->b.n; k++)
		sh->files[k] = (struct apply_bundle_file){sh->b.mem[k].path,
		    sh->b.mem[k].size, sh->b.mem[k].sha256, sh->b.mem[k].mode,
		    sh->b.mem[k].mtime_ns};
	hooks.arg = sh;
	if ((r = apply_bundle_begin(m->apply, sh->files, sh->b.n, &hooks,
	    &sh->ab)) < 0) {
		sink_free(sh);
		return r;
	}
	*have = 0;
	*h = sh;
	return 0;
}

static int
sink_open(void *arg, const char *peer, const struct jingle_file *f, void **h,
    uint64_t *have)
{
	struct mirror *m = arg;
	struct expect *e = expect_find_wire(m, f->name);

	struct expect *d;
	struct sink_handle *sh;
	int r;

	if (!peers_trusted(m->env.peers, peer))
		return -EPERM;
	if (e)
		return sink_open_file(m, e, h, have);
	if ((d = expect_find_delta(m, f->name)) == NULL)
		return sink_open_bundle(m, f->name, h, have);
	if ((sh = calloc(1, sizeof(*sh))) == NULL ||
	    (sh->path = strdup(d->path)) == NULL) {
		free(sh);
		return -ENOMEM;
	}
	sh->m = m;
	sh->size = d->size;
	if ((r = sink_open_delta(sh, d, f, have)) < 0) {
		free(sh->path);
		free(sh);
		return r;
	}
	*h = sh;
	return 0;
}

static int
sink_write(void *h, const unsigned char *p, size_t n)
{
	struct sink_handle *sh = h;
	int r;

	if (sh->ab)
		return apply_bundle_write(sh->ab, p, n);
	if ((r = mirror_space_write(sh->m, sh->room, n)) < 0)
		return r;
	return sh->ds ? mirror_delta_sink_write(sh->ds, p, n) :
	    apply_put_write(sh->p, p, n);
}

static int
sink_finish(void *h)
{
	struct sink_handle *sh = h;
	size_t n = 0;
	int r;

	if (sh->ab) {
		/* the files verified are installed; a short stream or a file
		 * refused fails the session, and the master sends the rest
		 * again */
		if ((r = apply_bundle_finish(sh->ab, &n)) < 0)
			log_warn("a bundle of %zu files: %zu installed, the "
			    "rest refused or short (%s)", sh->b.n, n,
			    strerror(-r));
		sink_free(sh);
		return r;
	}
	r = sh->ds ? mirror_delta_sink_finish(sh->ds) :
	    apply_put_finish(sh->p);
	mirror_space_end(sh->m, sh->room);
	if (r == 0) {
		log_info("received %s (%llu bytes%s, verified)", sh->path,
		    (unsigned long long)sh->size, sh->ds ? ", a delta" : "");
		expect_drop(sh->m, sh->path);
	}
	sink_free(sh);
	return r;
}

/* A delta session cut off with its prefix kept: its list goes with the
 * expectation, for the next session to resume. */
static void
keep_delta(struct sink_handle *sh, int keep)
{
	const struct chunk_list *l = keep ?
	    mirror_delta_sink_list(sh->ds) : NULL;
	struct expect *e = expect_find(sh->m, sh->path);

	if (e == NULL)
		return;
	if (e->rlist == NULL && l && (e->rlist = calloc(1,
	    sizeof(*e->rlist))) == NULL)
		return;
	if (l == NULL || chunk_list_copy(e->rlist, l) < 0) {
		if (e->rlist)
			chunk_list_clear(e->rlist);
		free(e->rlist);
		e->rlist = NULL;
		return;
	}
	memcpy(e->rbase, e->base, 32);
}

static void
sink_abort(void *h, int keep)
{
	struct sink_handle *sh = h;

	if (sh->ab)
		apply_bundle_abort(sh->ab);
	else {
		if (sh->ds) {
			keep_delta(sh, keep);
			mirror_delta_sink_abort(sh->ds, keep);
		} else
			apply_put_abort(sh->p, keep);
		mirror_space_end(sh->m, sh->room);
	}
	sink_free(sh);
}

void
mirror_slave_sink(struct mirror *m, struct jingle_sink *sink)
{
	sink->open = sink_open;
	sink->write = sink_write;
	sink->finish = sink_finish;
	sink->abort = sink_abort;
	sink->arg = m;
}

/* Nothing is in flight at start: temp files too old or empty to be
 * worth resuming go now, the others when the master has had its say. */
static void
start_cleanup(struct mirror *m)
{
	struct apply_temps t;

	if (apply_temps_sweep(m->apply, APPLY_TEMP_MAX_AGE, &t) == 0)
		log_temps("at start", &t);
	collect_tombstones(m);
}

int
mirror_slave_new(struct mirror *m)
{
	const struct cfg *c = m->env.cfg;
	int r;

	if ((r = apply_open(c->dir, m->env.st, (const char *const *)c->ignore,
	    c->nignore, &m->apply)) < 0 || (r = mirror_space_new(m)) < 0)
		return r;
	apply_set_max_size(m->apply, c->max_file_size);
	/* what is on disk now is what the master will compare with; from
	 * here on the folder is watched (local.c) */
	if ((r = mirror_local_start(m)) < 0)
		return r;
	start_cleanup(m);
	return service_route_sealed(m->env.svc, NS_XS_META, on_meta_iq, m);
}

void
mirror_slave_free(struct mirror *m)
{
	for (size_t i = 0; i < m->nexpect; i++) {
		free(m->expect[i].path);
		free(m->expect[i].wire);
		expect_forget_delta(m, &m->expect[i]);
	}
	free(m->expect);
	for (size_t i = 0; i < m->nbundles; i++)
		bundle_clear(&m->bundles[i]);
	mirror_local_stop(m);
	mirror_space_free(m);
	apply_free(m->apply);
}


/* mirror/space_slave.c -- the slave keeps min_free free on its disk.
 *
 * Before it answers "need" to a put, the slave checks that the content
 * fits above the reserve, counting what files it already admitted will
 * still write (their promises, struct sres). If not, it drops resume
 * prefixes of other transfers when that makes the room, and otherwise
 * answers "space": the file waits (struct swait) and the master goes on
 * with others. While a file waits, the slave looks again every
 * RECHECK_MS and tells the master as soon as one would fit
 * (docs/protocol.md, "Waiting for space"). A session checks again when
 * it starts, and before each write, and stops, keeping its prefix,
 * rather than eat into the reserve. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/json.h"
#include "agent/log.h"
#include "agent/loop.h"
#include "agent/mirror/mirror_int.h"
#include "agent/xmpp/xmpp.h"
#include "sync/apply.h"
#include "sync/space.h"

#define RECHECK_MS 10000	/* a waiting file is looked at again */
/* An admitted file whose transfer never starts stops holding room. */
#define PROMISE_IDLE_MS (5 * 60 * 1000)
/* A waiting file the master stopped asking for is forgotten. */
#define WAIT_FORGET_MS (15 * 60 * 1000)
/* Waiting files kept in view (the smallest: they fit first); the master
 * keeps every one of them in its outbox anyway. */
#define WAIT_MAX 128

/* Room promised to an admitted file until its transfer ends. */
struct sres {
	char *path;
	char *tmp;		/* its temp file: not another's prefix to drop */
	uint64_t size, done;	/* done: bytes on disk */
	int active;		/* a session is writing it */
	int64_t at_ms;		/* admitted, or last written */
	struct sres *next;
};

/* A file refused for space. */
struct swait {
	char *path;
	uint64_t size, need;
	int64_t since;		/* unix time */
	int64_t seen_ms;	/* the master last asked */
	struct swait *next;
};

struct sspace {
	struct sres *res;
	struct swait *wait;
	size_t nwait;
	char master[1100];	/* its full JID while trusted, else "" */
	uint64_t avail, min_free; /* as last measured */
	int64_t next_check_ms;
	unsigned pushes;
};

static struct sres *
res_find(struct sspace *s, const char *path)
{
	for (struct sres *r = s->res; r; r = r->next)
		if (strcmp(r->path, path) == 0)
			return r;
	return NULL;
}

static void
res_unlink(struct sspace *s, struct sres *x)
{
	for (struct sres **pp = &s->res; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	free(x->path);
	free(x->tmp);
	free(x);
}

static struct swait *
wait_find(struct sspace *s, const char *path)
{
	for (struct swait *w = s->wait; w; w = w->next)
		if (strcmp(w->path, path) == 0)
			return w;
	return NULL;
}

static void
wait_unlink(struct sspace *s, struct swait *x)
{
	for (struct swait **pp = &s->wait; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	free(x->path);
	free(x);
	s->nwait--;
}

/* The largest waiting file, or NULL. */
static struct swait *
wait_largest(struct sspace *s)
{
	struct swait *big = s->wait;

	for (struct swait *w = s->wait; w; w = w->next)
		if (w->need > big->need)
			big = w;
	return big;
}

/* What the promises but except's still need on fs. */
static uint64_t
promised(const struct sspace *s, const struct space_fs *fs,
    const struct sres *except)
{
	uint64_t sum = 0;

	for (const struct sres *r = s->res; r; r = r->next) {
		if (r == except)
			continue;
		uint64_t all = space_blocks(fs, r->size);
		uint64_t have = space_blocks(fs, r->done < r->size ? r->done :
		    r->size);
		sum += all - have;
	}
	return sum;
}

/* Measures the disk into fs and s. Returns 0 or -errno (logged). */
static int
measure(struct mirror *m, struct space_fs *fs)
{
	struct sspace *s = m->space;
	int r = apply_fs(m->apply, fs);

	if (r < 0)
		return r;
	s->avail = fs->avail;
	s->min_free = cfg_min_free(m->env.cfg, fs->size);
	return 0;
}

/* Whether prefix p belongs to a promised file (or to the one with temp
 * own): those are not dropped to make room for another. */
static int
prefix_spoken_for(const struct sspace *s, const char *p, const char *own)
{
	if (own && strcmp(p, own) == 0)
		return 1;
	for (const struct sres *r = s->res; r; r = r->next)
		if (strcmp(r->tmp, p) == 0)
			return 1;
	return 0;
}

/* The kept prefixes (the applier's leftovers, listed afresh) and those
 * of them that may go for the file with temp own. */
struct prefixes {
	struct apply_prefix *v;
	size_t nv;
	struct space_cand *c;	/* c[i].id indexes v */
	size_t nc;
};

/* Fills *p; with no memory or no listing, there are no candidates. */
static void
candidates(struct mirror *m, const char *own, struct prefixes *p)
{
	*p = (struct prefixes){0};
	if (apply_prefixes(m->apply, &p->v, &p->nv) < 0 || p->nv == 0 ||
	    (p->c = calloc(p->nv, sizeof(*p->c))) == NULL)
		return;
	for (size_t i = 0; i < p->nv; i++) {
		if (prefix_spoken_for(m->space, p->v[i].path, own))
			continue;
		p->c[p->nc++] = (struct space_cand){.bytes = p->v[i].bytes,
		    .mtime_ns = p->v[i].mtime_ns, .id = i};
	}
}

static void
prefixes_free(struct prefixes *p)
{
	apply_prefixes_free(p->v, p->nv);
	free(p->c);
}

/* What a file of size bytes, have of them held, still takes on fs. */
static uint64_t
need_of(const struct space_fs *fs, uint64_t size, uint64_t have)
{
	return space_blocks(fs, size) - space_blocks(fs, have);
}

/* Removes the first n candidates of p to make room for path. */
static void
drop_prefixes(struct mirror *m, const struct prefixes *p, size_t n,
    const char *path)
{
	uint64_t freed;

	for (size_t i = 0; i < n; i++) {
		const char *pre = p->v[p->c[i].id].path;
		if (apply_prefix_drop(m->apply, pre, &freed) == 0)
			log_info("dropped the resume prefix %s (%llu bytes) to "
			    "make room for %s", pre, (unsigned long long)freed,
			    path);
	}
}

/* Whether need more bytes fit into fs's free space above the reserve and
 * reserved; with drop, prefixes of transfers other than the one with
 * temp own go if that makes the room. Returns 0, or -ENOSPC. */
static int
make_room(struct mirror *m, const char *path, const char *own,
    struct space_fs *fs, uint64_t need, uint64_t reserved, int drop)
{
	struct sspace *s = m->space;
	struct prefixes p;
	size_t ndrop = 0;
	uint64_t room = space_room(fs, s->min_free, reserved);
	int r;

	if (need <= room)
		return 0;
	candidates(m, own, &p);
	r = space_decide(room, need, p.c, p.nc, &ndrop);
	if (r == 0 && drop && ndrop > 0) {
		drop_prefixes(m, &p, ndrop, path);
		if (measure(m, fs) == 0 &&
		    need > space_room(fs, s->min_free, reserved))
			r = -ENOSPC;	/* the disk moved meanwhile */
	}
	prefixes_free(&p);
	return r;
}

/* Whether the file path (own: its temp) of size bytes, have of them held,
 * fits above the reserve beside the promises but except's; with drop,
 * prefixes of other transfers go if that makes the room. Sets *need.
 * Returns 0, or -ENOSPC. A disk that cannot be measured lets it go: the
 * write will tell. */
static int
fits(struct mirror *m, const char *path, const char *own, uint64_t size,
    uint64_t have, int drop, const struct sres *except, uint64_t *need)
{
	struct space_fs fs;

	*need = 0;
	if (measure(m, &fs) < 0)
		return 0;
	*need = need_of(&fs, size, have);
	return make_room(m, path, own, &fs, *need,
	    promised(m->space, &fs, except), drop);
}

/* Starts keeping path in view as waiting; with WAIT_MAX in view, only
 * in place of a larger one. Returns it, or NULL. */
static struct swait *
wait_add(struct sspace *s, const char *path, uint64_t need)
{
	struct swait *w;

	if (s->nwait >= WAIT_MAX) {
		if ((w = wait_largest(s)) == NULL || w->need <= need)
			return NULL;
		wait_unlink(s, w);
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->path = strdup(path)) == NULL) {
		free(w);
		return NULL;
	}
	w->since = (int64_t)time(NULL);
	w->next = s->wait;
	s->wait = w;
	s->nwait++;
	return w;
}

/* path waits for space: said once per file, not at every retry. */
static void
wait_note(struct mirror *m, const char *path, uint64_t size, uint64_t need)
{
	struct sspace *s = m->space;
	struct swait *w = wait_find(s, path);

	if (w == NULL && (w = wait_add(s, path, need)) == NULL) {
		log_debug("%s waits for space too", path);
		return;
	}
	if (w->seen_ms == 0)
		log_warn("%s waits for space: it needs %llu bytes, %llu are free "
		    "and min_free keeps %llu", path, (unsigned long long)need,
		    (unsigned long long)s->avail,
		    (unsigned long long)s->min_free);
	w->size = size;
	w->need = need;
	w->seen_ms = loop_now_ms();
}

/* path no longer waits. */
static void
wait_done(struct mirror *m, const char *path)
{
	struct swait *w = wait_find(m->space, path);

	if (w == NULL)
		return;
	log_info("room for %s now (%llu bytes free): receiving it", path,
	    (unsigned long long)m->space->avail);
	wait_unlink(m->space, w);
}

/* Promises room to path. Returns the promise, or NULL when memory is
 * short (then nothing is held for it). */
static struct sres *
promise(struct sspace *s, const char *path, const char *tmp, uint64_t size,
    uint64_t have)
{
	struct sres *x = calloc(1, sizeof(*x));

	if (x == NULL || (x->path = strdup(path)) == NULL ||
	    (x->tmp = strdup(tmp)) == NULL) {
		if (x)
			free(x->path);
		free(x);
		return NULL;
	}
	x->size = size;
	x->done = have;
	x->at_ms = loop_now_ms();
	x->next = s->res;
	s->res = x;
	return x;
}

int
mirror_space_admit(struct mirror *m, const char *path, uint64_t size,
    const uint8_t sha256[32])
{
	struct sspace *s = m->space;
	struct sres *x = res_find(s, path);
	char tmp[PATH_MAX];
	uint64_t have = 0, need = 0;

	if (x && x->active)
		return 0;	/* running: the master repeats itself */
	if (x)
		res_unlink(s, x);
	if (apply_put_prefix(m->apply, path, size, sha256, tmp, sizeof(tmp),
	    &have) < 0)
		tmp[0] = '\0';
	if (fits(m, path, tmp, size, have, 1, NULL, &need) < 0) {
		wait_note(m, path, size, need);
		return -ENOSPC;
	}
	wait_done(m, path);
	promise(s, path, tmp, size, have);
	return 0;
}

void
mirror_space_release(struct mirror *m, const char *path)
{
	struct sres *x = res_find(m->space, path);

	if (x && !x->active)
		res_unlink(m->space, x);
}

void
mirror_space_answer(struct mirror *m, xmpp_stanza_t *r)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)m->space->avail);
	xmpp_stanza_set_attribute(r, "free", buf);
	snprintf(buf, sizeof(buf), "%llu",
	    (unsigned long long)m->space->min_free);
	xmpp_stanza_set_attribute(r, "min", buf);
}

int
mirror_space_open(struct mirror *m, const char *path, uint64_t size,
    const uint8_t sha256[32], uint64_t have, struct sres **out)
{
	struct sspace *s = m->space;
	struct sres *x = res_find(s, path);
	char tmp[PATH_MAX];
	uint64_t need = 0, held = 0;

	*out = NULL;
	if (apply_put_prefix(m->apply, path, size, sha256, tmp, sizeof(tmp),
	    &held) < 0)
		tmp[0] = '\0';
	if (fits(m, path, tmp, size, have, 1, x, &need) < 0) {
		wait_note(m, path, size, need);
		if (x && !x->active)
			res_unlink(s, x);
		return -ENOSPC;
	}
	if (x == NULL && (x = promise(s, path, tmp, size, have)) == NULL)
		return 0;
	x->active = 1;
	x->done = have;
	x->at_ms = loop_now_ms();
	*out = x;
	return 0;
}

int
mirror_space_write(struct mirror *m, struct sres *x, size_t n)
{
	struct space_fs fs;

	if (x == NULL || measure(m, &fs) < 0)
		return 0;
	/* its admission counted the whole file beside the others; here
	 * only the reserve is guarded, against writers outside */
	if (make_room(m, x->path, x->tmp, &fs, space_blocks(&fs, n), 0, 1) < 0) {
		wait_note(m, x->path, x->size, need_of(&fs, x->size, x->done));
		return -ENOSPC;
	}
	x->done += n;
	x->at_ms = loop_now_ms();
	return 0;
}

void
mirror_space_end(struct mirror *m, struct sres *x)
{
	if (x != NULL)
		res_unlink(m->space, x);
}

void
mirror_space_peer(struct mirror *m, const char *full, int trusted)
{
	struct sspace *s = m->space;
	struct sres *x, *next;

	snprintf(s->master, sizeof(s->master), "%s", trusted && full ? full : "");
	if (trusted)
		return;
	/* a master that comes back asks again: what it was promised goes */
	for (x = s->res; x; x = next) {
		next = x->next;
		if (!x->active)
			res_unlink(s, x);
	}
}

/* Tells the master that a waiting file would fit now. */
static void
push(struct mirror *m)
{
	struct sspace *s = m->space;
	xmpp_ctx_t *ctx = xmpp_conn_get_context(m->env.xc);
	xmpp_stanza_t *iq, *q;
	char id[32];

	snprintf(id, sizeof(id), "xs-space-%u", ++s->pushes);
	if ((iq = xmpp_iq_new(ctx, "set", id)) == NULL)
		return;
	if ((q = stanza_add_child(ctx, iq, "space", NS_XS_META)) == NULL) {
		xmpp_stanza_release(iq);
		return;
	}
	mirror_space_answer(m, q);
	xmpp_stanza_set_to(iq, s->master);
	if (chan_send(m->env.chan, iq, NULL, NULL) == 0)
		log_debug("told %s that a file waiting for space fits now",
		    s->master);
}

/* Forgets promises never taken up and waits nobody asks about. */
static void
expire(struct sspace *s, int64_t now)
{
	struct sres *x, *xn;
	struct swait *w, *wn;

	for (x = s->res; x; x = xn) {
		xn = x->next;
		if (!x->active && now - x->at_ms > PROMISE_IDLE_MS)
			res_unlink(s, x);
	}
	for (w = s->wait; w; w = wn) {
		wn = w->next;
		if (now - w->seen_ms > WAIT_FORGET_MS) {
			log_info("%s no longer waits for space: the master "
			    "stopped asking for it", w->path);
			wait_unlink(s, w);
		}
	}
}

void
mirror_space_tick(struct mirror *m)
{
	struct sspace *s = m->space;
	int64_t now = loop_now_ms();
	uint64_t need;

	if (now < s->next_check_ms)
		return;
	s->next_check_ms = now + RECHECK_MS;
	expire(s, now);
	if (s->wait == NULL)
		return;
	for (struct swait *w = s->wait; w; w = w->next)
		if (fits(m, w->path, NULL, w->size, 0, 0, NULL, &need) == 0) {
			if (m->online && s->master[0])
				push(m);
			return;
		}
}

size_t
mirror_space_status_json(const struct mirror *m, char *buf, size_t off,
    size_t len)
{
	const struct sspace *s = m->space;
	const char *sep = "";

	off = json_addf(buf, off, len, "[");
	for (const struct swait *w = s ? s->wait : NULL; w; w = w->next) {
		off = json_addf(buf, off, len, "%s{\"path\":", sep);
		off = json_str(buf, off, len, w->path);
		off = json_addf(buf, off, len, ",\"size\":%llu,\"need\":%llu,"
		    "\"free\":%llu,\"min_free\":%llu,\"since\":",
		    (unsigned long long)w->size, (unsigned long long)w->need,
		    (unsigned long long)s->avail,
		    (unsigned long long)s->min_free);
		off = json_time(buf, off, len, (long long)w->since);
		off = json_addf(buf, off, len, "}");
		sep = ",";
	}
	return json_addf(buf, off, len, "]");
}

size_t
mirror_space_status_text(const struct mirror *m, char *buf, size_t off,
    size_t len)
{
	const struct sspace *s = m->space;
	char since[32];

	for (const struct swait *w = s ? s->wait : NULL; w; w = w->next) {
		time_text(since, sizeof(since), (long long)w->since);
		off = json_addf(buf, off, len, "waiting for space: %s, %llu bytes "
		    "(%llu free, min_free %llu) since %s\n", w->path,
		    (unsigned long long)w->size, (unsigned long long)s->avail,
		    (unsigned long long)s->min_free, since);
	}
	return off;
}

int
mirror_space_new(struct mirror *m)
{
	return (m->space = calloc(1, sizeof(*m->space))) ? 0 : -ENOMEM;
}

void
mirror_space_free(struct mirror *m)
{
	struct sspace *s = m->space;

	if (s == NULL)
		return;
	while (s->res)
		res_unlink(s, s->res);
	while (s->wait)
		wait_unlink(s, s->wait);
	free(s);
	m->space = NULL;
}

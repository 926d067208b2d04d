/* watch_pend.c -- changes held back before they go out, on the event loop
 * thread: a hash table by path and a min-heap by deadline. See watch.h
 * for the rules, watch_int.h for the layout.
 *
 * An entry is held (flags say what to send, due says when) or cooling
 * (flags 0: sent at "since", kept until due to notice that the path keeps
 * changing). A change to a cooling path is held, and its hold is bounded
 * from that last send, so a path that never stops changing still goes
 * out every max_hold_ms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/log.h"
#include "sync/watch_int.h"

/* ---- hash table by path ---- */

static size_t
pend_hash(const struct watch *w, const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h & (w->nbucket - 1);
}

static struct watch_pend *
pend_get(const struct watch *w, const char *path)
{
	for (struct watch_pend *p = w->bucket[pend_hash(w, path)]; p;
	    p = p->hnext)
		if (strcmp(p->path, path) == 0)
			return p;
	return NULL;
}

static void
hash_unlink(struct watch *w, struct watch_pend *p)
{
	struct watch_pend **pp = &w->bucket[pend_hash(w, p->path)];

	while (*pp != p)
		pp = &(*pp)->hnext;
	*pp = p->hnext;
}

static void
hash_link(struct watch *w, struct watch_pend *p)
{
	size_t b = pend_hash(w, p->path);

	p->hnext = w->bucket[b];
	w->bucket[b] = p;
}

static void
hash_grow(struct watch *w)
{
	size_t old = w->nbucket;
	struct watch_pend **ob = w->bucket;
	struct watch_pend **nb = calloc(old * 2, sizeof(*nb));

	if (nb == NULL)
		return; /* longer chains, still correct */
	w->bucket = nb;
	w->nbucket = old * 2;
	for (size_t i = 0; i < old; i++) {
		for (struct watch_pend *p = ob[i], *n; p; p = n) {
			n = p->hnext;
			hash_link(w, p);
		}
	}
	free(ob);
}

/* ---- min-heap by due ---- */

static void
heap_swap(struct watch *w, size_t a, size_t b)
{
	struct watch_pend *t = w->heap[a];

	w->heap[a] = w->heap[b];
	w->heap[b] = t;
	w->heap[a]->heap = a;
	w->heap[b]->heap = b;
}

static void
heap_up(struct watch *w, size_t i)
{
	while (i > 0 && w->heap[i]->due < w->heap[(i - 1) / 2]->due) {
		heap_swap(w, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(struct watch *w, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < w->npend && w->heap[l]->due < w->heap[m]->due)
			m = l;
		if (r < w->npend && w->heap[r]->due < w->heap[m]->due)
			m = r;
		if (m == i)
			return;
		heap_swap(w, i, m);
		i = m;
	}
}

static void
set_due(struct watch *w, struct watch_pend *p, int64_t due)
{
	p->due = due;
	heap_up(w, p->heap);
	heap_down(w, p->heap);
}

static void
pend_free(struct watch *w, struct watch_pend *p)
{
	size_t i = p->heap;

	hash_unlink(w, p);
	if (i != --w->npend) {
		struct watch_pend *last = w->heap[w->npend];
		w->heap[i] = last;
		last->heap = i;
		heap_up(w, i);
		heap_down(w, last->heap);
	}
	free(p->path);
	free(p);
}

/* Frees the entries marked doomed and rebuilds the heap: loops over the
 * heap array mark, then call this, since freeing reorders the array. */
static void
free_doomed(struct watch *w)
{
	size_t j = 0;

	for (size_t i = 0; i < w->npend; i++) {
		struct watch_pend *p = w->heap[i];
		if (p->doomed) {
			hash_unlink(w, p);
			free(p->path);
			free(p);
			continue;
		}
		p->heap = j;
		w->heap[j++] = p;
	}
	w->npend = j;
	for (size_t i = j / 2; i-- > 0;)
		heap_down(w, i);
}

/* ---- entries ---- */

void
watch_pend_clear(struct watch *w)
{
	while (w->npend > 0)
		pend_free(w, w->heap[w->npend - 1]);
}

/* Returns a new entry for path, or NULL: out of memory, or too much is
 * pending, in which case everything is dropped for a rescan. */
static struct watch_pend *
pend_new(struct watch *w, const char *path)
{
	struct watch_pend *p;

	if (w->npend + w->nmoves >= w->max_pending) {
		log_warn("more than %zu changes pending: dropping them and "
		    "rescanning", w->max_pending);
		watch_pend_clear(w);
		w->want_rescan = 1;
		return NULL;
	}
	if (w->npend == w->heapcap) {
		size_t cap = w->heapcap ? 2 * w->heapcap : 256;
		struct watch_pend **h = realloc(w->heap, cap * sizeof(*h));
		if (h == NULL)
			goto oom;
		w->heap = h;
		w->heapcap = cap;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->path = strdup(path)) == NULL) {
		free(p);
		goto oom;
	}
	hash_link(w, p);
	p->heap = w->npend;
	w->heap[w->npend++] = p;
	if (w->npend > w->nbucket)
		hash_grow(w);
	return p;
oom:
	log_error("cannot hold change of %s: out of memory", path);
	w->want_rescan = 1;
	return NULL;
}

static int64_t
min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* When p, just touched, goes out. held: it had something to send before
 * this touch; hot: it was sent lately. */
static int64_t
next_due(const struct watch *w, const struct watch_pend *p,
    enum watch_touch how, int held, int64_t now)
{
	int64_t cap = p->since + w->max_hold_ms;

	switch (how) {
	case WATCH_T_WRITING:
		return min64(now + w->quiet_ms, cap);
	case WATCH_T_CLOSED:
		return p->hot ? min64(now + w->debounce_ms, cap) : now;
	case WATCH_T_FOUND:
		return held ? p->due : min64(now + w->debounce_ms, cap);
	case WATCH_T_ATTRIB:
		if (held)
			return p->due; /* a write's wait is not cut short */
		return p->hot ? min64(now + w->debounce_ms, cap) : now;
	}
	return now;
}

/* Records a change of path (is_dir: for ATTRIB, a directory). See
 * enum watch_touch. */
void
watch_pend_touch(struct watch *w, const char *path, enum watch_touch how,
    int is_dir)
{
	struct watch_pend *p = pend_get(w, path);
	int64_t now = watch_now_ms();
	int held;

	if (p == NULL) {
		if ((p = pend_new(w, path)) == NULL)
			return;
		p->since = now;
		p->due = now;
	} else if (p->flags == 0) {
		p->hot = 1; /* sent at p->since, and changing again */
	}
	held = p->flags != 0;
	p->flags |= how == WATCH_T_ATTRIB ? P_ATTRIB : P_CHANGED;
	p->is_dir = how == WATCH_T_ATTRIB && is_dir;
	if (how == WATCH_T_WRITING)
		p->writing = 1;
	else if (how == WATCH_T_CLOSED)
		p->writing = 0;
	set_due(w, p, next_due(w, p, how, held, now));
}

/* Drops held changes for path, and under it if subtree. */
void
watch_pend_drop(struct watch *w, const char *path, int subtree)
{
	for (size_t i = 0; i < w->npend; i++) {
		struct watch_pend *p = w->heap[i];
		p->doomed = subtree ? watch_under(p->path, path) :
		    !strcmp(p->path, path);
	}
	free_doomed(w);
}

/* q, at the new name, takes over what p held. */
static void
absorb(struct watch_pend *q, struct watch_pend *p)
{
	p->doomed = 1;
	if (p->flags == 0)
		return;
	if (q->flags == 0 || p->since < q->since)
		q->since = p->since;
	if (q->flags == 0 || p->due < q->due)
		q->due = p->due; /* the heap is rebuilt by free_doomed() */
	q->flags |= p->flags;
	q->writing |= p->writing;
	q->hot |= p->hot;
}

/* Moves held changes from old to new (and under it if subtree); a change
 * held at the new path already absorbs the moved one. */
void
watch_pend_rename(struct watch *w, const char *old, const char *new,
    int subtree)
{
	size_t olen = strlen(old);

	for (size_t i = 0; i < w->npend; i++) {
		struct watch_pend *p = w->heap[i], *q;
		char *np;

		if (subtree ? !watch_under(p->path, old) : strcmp(p->path, old))
			continue;
		if (asprintf(&np, "%s%s", new, p->path + olen) < 0) {
			p->doomed = 1;
			w->want_rescan = 1;
		} else if ((q = pend_get(w, np)) != NULL) {
			absorb(q, p);
			free(np);
		} else {
			hash_unlink(w, p);
			free(p->path);
			p->path = np;
			hash_link(w, p);
		}
	}
	free_doomed(w);
}

int64_t
watch_pend_next_due(const struct watch *w)
{
	return w->npend > 0 ? w->heap[0]->due : -1;
}

/* Sends what is due and forgets entries that cooled down. */
void
watch_pend_flush(struct watch *w, int64_t now)
{
	while (w->npend > 0 && w->heap[0]->due <= now) {
		struct watch_pend *p = w->heap[0];
		long cool;

		if (p->flags == 0) {
			pend_free(w, p);
			continue;
		}
		watch_emit(w, (p->flags & P_CHANGED) ? WATCH_CHANGED :
		    WATCH_ATTRIB, p->path, NULL, p->is_dir);
		/* a file still open for writing will likely change again:
		 * remember it longer, so its next hold counts from now */
		cool = p->writing && w->quiet_ms > w->debounce_ms ?
		    w->quiet_ms : w->debounce_ms;
		if (cool == 0) {
			pend_free(w, p);
			continue;
		}
		p->flags = 0;
		p->hot = 0;
		p->since = now;
		set_due(w, p, now + cool);
	}
}

/* watch_pend.c -- debounced changes: a hash table by path and two lists
 * ordered by due time. See watch_int.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/log.h"
#include "sync/watch_int.h"

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

static void
list_unlink(struct watch_plist *l, struct watch_pend *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		l->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		l->tail = p->prev;
	p->prev = p->next = NULL;
}

static void
list_append(struct watch_plist *l, struct watch_pend *p)
{
	p->prev = l->tail;
	p->next = NULL;
	if (l->tail)
		l->tail->next = p;
	else
		l->head = p;
	l->tail = p;
}

static void
pend_free(struct watch *w, struct watch_pend *p)
{
	hash_unlink(w, p);
	list_unlink(p->waiting ? &w->wait : &w->due, p);
	w->npend--;
	free(p->path);
	free(p);
}

void
watch_pend_clear(struct watch *w)
{
	while (w->due.head)
		pend_free(w, w->due.head);
	while (w->wait.head)
		pend_free(w, w->wait.head);
}

/* Too much is pending: drop it all and ask for a rescan instead. */
static void
pend_overflow(struct watch *w)
{
	log_warn("more than %zu changes pending: dropping them and rescanning",
	    w->max_pending);
	watch_pend_clear(w);
	w->want_rescan = 1;
}

/* Records flags for path. waiting: a file was just created and is
 * probably still being written; it waits for IN_CLOSE_WRITE. An ATTRIB
 * does not end that wait, a close does. */
void
watch_pend_touch(struct watch *w, const char *path, unsigned flags,
    int is_dir, int waiting)
{
	struct watch_pend *p = pend_get(w, path);
	int64_t now = watch_now_ms();

	if (p == NULL) {
		if (w->npend + w->nmoves >= w->max_pending) {
			pend_overflow(w);
			return;
		}
		p = calloc(1, sizeof(*p));
		if (p == NULL || (p->path = strdup(path)) == NULL) {
			free(p);
			log_error("cannot queue change of %s: out of memory", path);
			w->want_rescan = 1;
			return;
		}
		hash_link(w, p);
		list_append(waiting ? &w->wait : &w->due, p);
		p->waiting = waiting;
		if (++w->npend > w->nbucket)
			hash_grow(w);
	} else if (!waiting && p->waiting && flags == P_ATTRIB) {
		p->flags |= flags; /* stays waiting, keeps its deadline */
		return;
	} else {
		list_unlink(p->waiting ? &w->wait : &w->due, p);
		list_append(waiting ? &w->wait : &w->due, p);
		p->waiting = waiting;
	}
	p->flags |= flags;
	p->is_dir = is_dir;
	p->due = now + (waiting ? WATCH_OPEN_WAIT_MS : w->debounce_ms);
}

/* Drops pending changes for path, and under it if subtree. */
void
watch_pend_drop(struct watch *w, const char *path, int subtree)
{
	struct watch_plist *lists[2] = { &w->due, &w->wait };

	for (int i = 0; i < 2; i++) {
		for (struct watch_pend *p = lists[i]->head, *n; p; p = n) {
			n = p->next;
			if (subtree ? watch_under(p->path, path) :
			    !strcmp(p->path, path))
				pend_free(w, p);
		}
	}
}

/* Moves pending changes from old to new (and under it if subtree); a
 * change already pending at the new path absorbs the moved one. */
void
watch_pend_rename(struct watch *w, const char *old, const char *new,
    int subtree)
{
	struct watch_plist *lists[2] = { &w->due, &w->wait };
	size_t olen = strlen(old);

	for (int i = 0; i < 2; i++) {
		for (struct watch_pend *p = lists[i]->head, *n; p; p = n) {
			n = p->next;
			if (subtree ? !watch_under(p->path, old) :
			    strcmp(p->path, old))
				continue;
			char *np;
			if (asprintf(&np, "%s%s", new, p->path + olen) < 0) {
				pend_free(w, p);
				w->want_rescan = 1;
				continue;
			}
			struct watch_pend *q = pend_get(w, np);
			if (q != NULL) {
				q->flags |= p->flags;
				pend_free(w, p);
				free(np);
				continue;
			}
			hash_unlink(w, p);
			free(p->path);
			p->path = np;
			hash_link(w, p);
		}
	}
}

int64_t
watch_pend_next_due(const struct watch *w)
{
	int64_t t = -1;

	if (w->due.head)
		t = w->due.head->due;
	if (w->wait.head && (t < 0 || w->wait.head->due < t))
		t = w->wait.head->due;
	return t;
}

void
watch_pend_flush(struct watch *w, int64_t now)
{
	for (;;) {
		struct watch_pend *p = w->due.head;
		if (w->wait.head && (p == NULL || w->wait.head->due < p->due))
			p = w->wait.head;
		if (p == NULL || p->due > now)
			return;
		watch_emit(w, (p->flags & P_CHANGED) ? WATCH_CHANGED :
		    WATCH_ATTRIB, p->path, NULL, p->is_dir);
		pend_free(w, p);
	}
}

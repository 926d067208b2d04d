/* watch_queue.c -- records from the watcher thread to the loop thread: a
 * list under a mutex, bounded like the kernel's own inotify queue, and an
 * eventfd that is readable while records wait. See watch_int.h.
 *
 * The eventfd is written when the list goes from empty to non-empty, and
 * again by the loop when it leaves records behind, so it is readable
 * whenever records wait and never written once per record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "agent/log.h"
#include "sync/watch_int.h"

int
watch_queue_init(struct watch_queue *q)
{
	int r;

	memset(q, 0, sizeof(*q));
	q->max = WATCH_QUEUE_MAX;
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0) {
		r = -errno;
		log_error("cannot create eventfd: %s", strerror(errno));
		return r;
	}
	if ((r = -pthread_mutex_init(&q->mu, NULL)) < 0) {
		close(q->efd);
		q->efd = -1;
		return r;
	}
	return 0;
}

void
watch_queue_destroy(struct watch_queue *q)
{
	while (q->head) {
		struct watch_rec *r = q->head;
		q->head = r->next;
		free(r);
	}
	q->tail = NULL;
	q->n = 0;
	if (q->efd >= 0) {
		close(q->efd);
		pthread_mutex_destroy(&q->mu);
	}
	q->efd = -1;
}

static void
wake(struct watch_queue *q)
{
	uint64_t one = 1;

	/* fails only with EAGAIN (counter full): the loop is awake anyway */
	ssize_t n = write(q->efd, &one, sizeof(one));
	(void)n;
}

/* Whether r says the same as the one before: merged like the kernel
 * merges identical consecutive events (a writer's stream of IN_MODIFY). */
static int
same_as_tail(const struct watch_queue *q, const char *path, uint32_t mask,
    uint32_t cookie, uint32_t info)
{
	const struct watch_rec *t = q->tail;

	return t != NULL && t->mask == mask && t->cookie == cookie &&
	    t->info == info && strcmp(t->path, path) == 0;
}

/* Queues one record; watcher thread only. A full queue drops it and
 * remembers that it did, which the loop turns into a full rescan, as for
 * IN_Q_OVERFLOW from the kernel. Returns nothing. */
void
watch_queue_push(struct watch_queue *q, const char *path, uint32_t mask,
    uint32_t cookie, uint32_t info)
{
	size_t len = strlen(path);
	struct watch_rec *r = NULL;
	int was_empty;

	pthread_mutex_lock(&q->mu);
	if (same_as_tail(q, path, mask, cookie, info)) {
		pthread_mutex_unlock(&q->mu);
		return;
	}
	if (q->n < q->max)
		r = malloc(sizeof(*r) + len + 1);
	if (r == NULL) {
		was_empty = !q->overflow && q->head == NULL;
		q->overflow = 1;
		pthread_mutex_unlock(&q->mu);
		if (was_empty)
			wake(q);
		return;
	}
	r->next = NULL;
	r->mask = mask;
	r->cookie = cookie;
	r->info = info;
	memcpy(r->path, path, len + 1);
	was_empty = q->head == NULL && !q->overflow;
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->n++;
	pthread_mutex_unlock(&q->mu);
	if (was_empty)
		wake(q);
}

/* Marks the watcher degraded and wakes the loop to say so; watcher thread
 * only. Returns nothing. */
void
watch_queue_degraded(struct watch_queue *q)
{
	atomic_store(&q->degraded, 1);
	wake(q);
}

/* Takes up to max records, oldest first; loop thread only. Sets *overflow
 * to 1 if records were dropped since the last call (and clears that).
 * Returns the list, which the caller frees record by record with free(),
 * or NULL. */
struct watch_rec *
watch_queue_take(struct watch_queue *q, size_t max, int *overflow)
{
	struct watch_rec *list, *last = NULL;
	uint64_t n;
	size_t i = 0;

	/* read first: a record pushed after this read wakes us again */
	if (read(q->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_debug("cannot read the watcher's eventfd: %s",
		    strerror(errno));
	pthread_mutex_lock(&q->mu);
	list = q->head;
	for (struct watch_rec *r = list; r != NULL && i < max; r = r->next) {
		last = r;
		i++;
	}
	if (last != NULL) {
		q->head = last->next;
		last->next = NULL;
		if (q->head == NULL)
			q->tail = NULL;
		q->n -= i;
	} else {
		list = NULL;
	}
	*overflow = q->overflow;
	q->overflow = 0;
	if (q->head != NULL)
		wake(q); /* the rest waits for the next call */
	pthread_mutex_unlock(&q->mu);
	return list;
}

/* Test hook: bounds the queue (at least 1). Returns nothing. */
void
watch_queue_set_max(struct watch_queue *q, size_t max)
{
	pthread_mutex_lock(&q->mu);
	q->max = max ? max : 1;
	pthread_mutex_unlock(&q->mu);
}

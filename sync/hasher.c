/* hasher.c -- see hasher.h. One worker thread, a job list and a result
 * list under one mutex; an eventfd wakes the caller's loop. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sync/chunk.h"
#include "sync/hasher.h"
#include "sync/hashfile.h"

struct job {
	struct job *next;
	char *path;
	int err;
	int64_t size, mtime_ns;
	uint8_t sha256[32];
	struct chunk_list chunks;
};

struct hasher {
	int rootfd, efd;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *todo, *done;  /* LIFO lists; order does not matter */
	char *current;            /* path in the worker's hands */
	int stop;
};

static void
hash_one(struct hasher *h, struct job *j)
{
	struct hashfile hf;

	if ((j->err = hashfile_at_chunks(h->rootfd, j->path, NULL, &hf,
	    &j->chunks)) < 0)
		return;
	j->size = hf.size;
	j->mtime_ns = hf.mtime_ns;
	memcpy(j->sha256, hf.sha256, 32);
}

static void *
worker(void *arg)
{
	struct hasher *h = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!h->stop && h->todo == NULL)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->stop)
			break;
		struct job *j = h->todo;
		h->todo = j->next;
		h->current = j->path;
		pthread_mutex_unlock(&h->mu);
		hash_one(h, j);
		pthread_mutex_lock(&h->mu);
		h->current = NULL;
		j->next = h->done;
		h->done = j;
		/* a full counter means the loop is awake anyway */
		ssize_t w = write(h->efd, &one, sizeof(one));
		(void)w;
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

int
hasher_process(struct hasher *h, hasher_done_cb cb, void *arg)
{
	uint64_t n;
	struct job *list;
	int count = 0;

	/* resets the counter; a result that lands after the swap below
	 * writes it again, so nothing waits unseen */
	if (read(h->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return 0;
	pthread_mutex_lock(&h->mu);
	list = h->done;
	h->done = NULL;
	pthread_mutex_unlock(&h->mu);
	while (list) {
		struct job *j = list;
		struct hasher_result r = {.path = j->path, .err = j->err,
		    .size = j->size, .mtime_ns = j->mtime_ns,
		    .chunks = &j->chunks};
		list = j->next;
		memcpy(r.sha256, j->sha256, 32);
		cb(&r, arg);
		chunk_list_clear(&j->chunks);
		free(j->path);
		free(j);
		count++;
	}
	return count;
}

int
hasher_fd(const struct hasher *h)
{
	return h->efd;
}

int
hasher_new(int rootfd, struct hasher **out)
{
	struct hasher *h = calloc(1, sizeof(*h));
	int r;

	*out = NULL;
	if (h == NULL)
		return -ENOMEM;
	h->rootfd = rootfd;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if ((h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		r = -errno;
		free(h);
		return r;
	}
	if ((r = -pthread_create(&h->thread, NULL, worker, h)) < 0) {
		close(h->efd);
		free(h);
		return r;
	}
	*out = h;
	return 0;
}

static void
free_list(struct job *j)
{
	while (j) {
		struct job *n = j->next;
		chunk_list_clear(&j->chunks);
		free(j->path);
		free(j);
		j = n;
	}
}

void
hasher_free(struct hasher *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = 1;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	free_list(h->todo);
	free_list(h->done);
	close(h->efd);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h);
}

int
hasher_submit(struct hasher *h, const char *path)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL || (j->path = strdup(path)) == NULL) {
		free(j);
		return -ENOMEM;
	}
	pthread_mutex_lock(&h->mu);
	j->next = h->todo;
	h->todo = j;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	return 0;
}

int
hasher_busy(const struct hasher *h, const char *path)
{
	struct hasher *hh = (struct hasher *)h;
	int busy = 0;

	pthread_mutex_lock(&hh->mu);
	if (hh->current && strcmp(hh->current, path) == 0)
		busy = 1;
	for (struct job *j = hh->todo; j && !busy; j = j->next)
		busy = strcmp(j->path, path) == 0;
	for (struct job *j = hh->done; j && !busy; j = j->next)
		busy = strcmp(j->path, path) == 0;
	pthread_mutex_unlock(&hh->mu);
	return busy;
}

/* loop.c -- see loop.h. Fds live in a table indexed by fd number; timers
 * in a small unsorted array (the daemon has tens of timers, not
 * thousands). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "agent/loop.h"
#include "agent/util.h"

#define MAX_EVENTS 64

struct fd_entry {
	loop_fd_cb cb;
	void *arg;
	unsigned events;
	int used;
};

struct timer {
	int64_t id;
	int64_t due_ms;
	loop_timer_cb cb;
	void *arg;
};

struct loop {
	int epfd;
	struct fd_entry *fds;
	int nfds;
	struct timer *timers;
	size_t ntimers, captimers;
	int64_t next_id;
	loop_idle_cb idle;
	void *idle_arg;
	int stop;
};

int64_t
loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return util_ts_ms(ts);
}

int
loop_new(struct loop **out)
{
	struct loop *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (l == NULL)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int r = -errno;
		free(l);
		return r;
	}
	l->next_id = 1;
	*out = l;
	return 0;
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	close(l->epfd);
	free(l->fds);
	free(l->timers);
	free(l);
}

static uint32_t
to_epoll(unsigned ev)
{
	return ((ev & LOOP_READ) ? EPOLLIN : 0) | ((ev & LOOP_WRITE) ? EPOLLOUT : 0);
}

int
loop_fd_add(struct loop *l, int fd, unsigned events, loop_fd_cb cb, void *arg)
{
	struct epoll_event ee = {.events = to_epoll(events), .data.fd = fd};

	if (fd < 0)
		return -EBADF;
	if (fd >= l->nfds) {
		int n = fd + 16;
		struct fd_entry *f = realloc(l->fds, (size_t)n * sizeof(*f));
		if (f == NULL)
			return -ENOMEM;
		memset(f + l->nfds, 0, (size_t)(n - l->nfds) * sizeof(*f));
		l->fds = f;
		l->nfds = n;
	}
	if (l->fds[fd].used)
		return -EEXIST;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ee) < 0)
		return -errno;
	l->fds[fd] = (struct fd_entry){cb, arg, events, 1};
	return 0;
}

int
loop_fd_mod(struct loop *l, int fd, unsigned events)
{
	struct epoll_event ee = {.events = to_epoll(events), .data.fd = fd};

	if (fd < 0 || fd >= l->nfds || !l->fds[fd].used)
		return -ENOENT;
	if (l->fds[fd].events == events)
		return 0;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ee) < 0)
		return -errno;
	l->fds[fd].events = events;
	return 0;
}

int
loop_fd_del(struct loop *l, int fd)
{
	if (fd < 0 || fd >= l->nfds || !l->fds[fd].used)
		return -ENOENT;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	memset(&l->fds[fd], 0, sizeof(l->fds[fd]));
	return 0;
}

int64_t
loop_timer_add(struct loop *l, long delay_ms, loop_timer_cb cb, void *arg)
{
	if (util_grow(&l->timers, l->ntimers + 1, &l->captimers, 16) < 0)
		return -ENOMEM;
	l->timers[l->ntimers++] = (struct timer){l->next_id,
	    loop_now_ms() + (delay_ms > 0 ? delay_ms : 0), cb, arg};
	return l->next_id++;
}

void
loop_timer_del(struct loop *l, int64_t id)
{
	for (size_t i = 0; i < l->ntimers; i++) {
		if (l->timers[i].id == id) {
			l->timers[i] = l->timers[--l->ntimers];
			return;
		}
	}
}

void
loop_set_idle(struct loop *l, loop_idle_cb cb, void *arg)
{
	l->idle = cb;
	l->idle_arg = arg;
}

/* Runs due timers. A callback may add or delete timers, so each is looked
 * up again by id after its call. */
static int
run_timers(struct loop *l)
{
	int64_t now = loop_now_ms(), due[32];
	size_t n = 0;
	int ran = 0;

	for (size_t i = 0; i < l->ntimers && n < 32; i++)
		if (l->timers[i].due_ms <= now)
			due[n++] = l->timers[i].id;
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; i < l->ntimers; i++) {
			if (l->timers[i].id != due[k])
				continue;
			struct timer t = l->timers[i];
			long next = t.cb(l, t.arg);
			ran++;
			for (size_t j = 0; j < l->ntimers; j++) {
				if (l->timers[j].id != t.id)
					continue;
				if (next < 0)
					l->timers[j] = l->timers[--l->ntimers];
				else
					l->timers[j].due_ms = loop_now_ms() + next;
				break;
			}
			break;
		}
	}
	return ran;
}

static long
wait_ms(struct loop *l, long max_wait_ms)
{
	long w = max_wait_ms;
	int64_t now = loop_now_ms();

	if (l->idle) {
		long iw = l->idle(l, l->idle_arg);
		if (iw >= 0 && (w < 0 || iw < w))
			w = iw;
	}
	for (size_t i = 0; i < l->ntimers; i++) {
		int64_t d = l->timers[i].due_ms - now;
		if (d < 0)
			d = 0;
		if (w < 0 || d < w)
			w = (long)d;
	}
	return w;
}

int
loop_run_once(struct loop *l, long max_wait_ms)
{
	struct epoll_event ev[MAX_EVENTS];
	int n, ran = 0;

	n = epoll_wait(l->epfd, ev, MAX_EVENTS, (int)wait_ms(l, max_wait_ms));
	if (n < 0 && errno != EINTR)
		return -errno;
	for (int i = 0; i < n; i++) {
		int fd = ev[i].data.fd;
		unsigned e = 0;

		/* an earlier callback may have removed this fd */
		if (fd >= l->nfds || !l->fds[fd].used)
			continue;
		if (ev[i].events & EPOLLIN)
			e |= LOOP_READ;
		if (ev[i].events & EPOLLOUT)
			e |= LOOP_WRITE;
		if (ev[i].events & (EPOLLERR | EPOLLHUP))
			e |= LOOP_ERROR;
		l->fds[fd].cb(l, fd, e, l->fds[fd].arg);
		ran++;
	}
	return ran + run_timers(l);
}

int
loop_run(struct loop *l)
{
	int r;

	l->stop = 0;
	while (!l->stop)
		if ((r = loop_run_once(l, -1)) < 0)
			return r;
	return 0;
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
}

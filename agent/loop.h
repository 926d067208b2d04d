/* loop.h -- the one event loop: file descriptors and timers, on epoll.
 *
 * Everything the daemon does happens in callbacks from loop_run(): the XMPP
 * connection, the inotify descriptor, transfer sockets and timers. A
 * callback must not block; long work is cut into steps driven by timers or
 * readiness.
 *
 * Hazards:
 * - A callback may remove any fd or timer, including its own and ones that
 *   are ready in the same iteration; removed entries are never called after
 *   loop_fd_del()/loop_timer_del() returns.
 * - Timer callbacks return their next delay in ms (>= 0 to run again, or
 *   LOOP_TIMER_END to be removed), like redis ae.
 */
#ifndef XS_LOOP_H
#define XS_LOOP_H

#include <stdint.h>

#define LOOP_READ  1u
#define LOOP_WRITE 2u
#define LOOP_ERROR 4u   /* reported, never requested: HUP or ERR */

#define LOOP_TIMER_END (-1L)

struct loop;

typedef void (*loop_fd_cb)(struct loop *l, int fd, unsigned events, void *arg);
typedef long (*loop_timer_cb)(struct loop *l, void *arg);
/* Called once per iteration before waiting; returns the longest it allows
 * the loop to sleep in ms (-1: no limit). */
typedef long (*loop_idle_cb)(struct loop *l, void *arg);

/* Returns 0 and sets *out (free with loop_free()), or a negative errno. */
int loop_new(struct loop **out);

/* Frees the loop; registered fds are not closed. NULL is allowed. */
void loop_free(struct loop *l);

/* Watches fd for events (LOOP_READ|LOOP_WRITE). One registration per fd.
 * Returns 0, -EEXIST, or a negative errno from epoll. */
int loop_fd_add(struct loop *l, int fd, unsigned events, loop_fd_cb cb,
    void *arg);

/* Changes the events watched on a registered fd. Returns 0, -ENOENT, or a
 * negative errno. */
int loop_fd_mod(struct loop *l, int fd, unsigned events);

/* Stops watching fd (before you close it). Returns 0 or -ENOENT. */
int loop_fd_del(struct loop *l, int fd);

/* Calls cb after delay_ms, then as its return value says. Returns a timer
 * id (> 0) or a negative errno. */
int64_t loop_timer_add(struct loop *l, long delay_ms, loop_timer_cb cb,
    void *arg);

/* Cancels a timer; unknown ids are ignored. Returns nothing. */
void loop_timer_del(struct loop *l, int64_t id);

/* Sets the per-iteration hook (one per loop; NULL removes it). */
void loop_set_idle(struct loop *l, loop_idle_cb cb, void *arg);

/* Runs one iteration, waiting at most max_wait_ms (-1: until something
 * happens). Returns the number of callbacks run, or a negative errno. */
int loop_run_once(struct loop *l, long max_wait_ms);

/* Runs until loop_stop(). Returns 0, or a negative errno if epoll fails. */
int loop_run(struct loop *l);

/* Makes loop_run() return after the current iteration. */
void loop_stop(struct loop *l);

/* Returns CLOCK_MONOTONIC in milliseconds. */
int64_t loop_now_ms(void);

#endif

/* test_loop.c -- the event loop: timers fire in order and repeat as their
 * return value says; fds report readiness; removal from a callback is safe. */
#include <errno.h>
#include <unistd.h>

#include "agent/loop.h"
#include "tests/unit.h"

struct rec {
	char log[64];
	int n;
	int64_t other; /* a timer to delete */
	int pipefd;
	struct loop *l;
};

static long
tick(struct loop *l, void *arg, char tag, long again)
{
	struct rec *r = arg;

	(void)l;
	if (r->n < 63)
		r->log[r->n++] = tag;
	return again;
}

static long t_a(struct loop *l, void *a) { return tick(l, a, 'a', LOOP_TIMER_END); }
static long t_b(struct loop *l, void *a) { return tick(l, a, 'b', LOOP_TIMER_END); }
static long t_rep(struct loop *l, void *a)
{
	struct rec *r = a;
	return tick(l, a, 'r', r->n < 4 ? 5 : LOOP_TIMER_END);
}
static long t_killer(struct loop *l, void *a)
{
	struct rec *r = a;
	loop_timer_del(l, r->other);
	return tick(l, a, 'k', LOOP_TIMER_END);
}

static int
t_timers_fire_in_order_and_repeat(void)
{
	struct loop *l;
	struct rec r = {0};

	EXPECT_INT(loop_new(&l), 0);
	loop_timer_add(l, 30, t_b, &r);
	loop_timer_add(l, 10, t_a, &r);
	int64_t t0 = loop_now_ms();
	while (r.n < 2 && loop_now_ms() - t0 < 2000)
		loop_run_once(l, 100);
	EXPECT_STR(r.log, "ab");
	loop_timer_add(l, 0, t_rep, &r);
	while (r.n < 4 && loop_now_ms() - t0 < 2000)
		loop_run_once(l, 100);
	loop_run_once(l, 20);
	EXPECT_STR(r.log, "abrrr"); /* ran at n = 2, 3, 4; ended itself at 4 */
	loop_free(l);
	return 0;
}

static int
t_timer_deleted_by_earlier_callback_never_runs(void)
{
	struct loop *l;
	struct rec r = {0};

	EXPECT_INT(loop_new(&l), 0);
	loop_timer_add(l, 0, t_killer, &r);
	r.other = loop_timer_add(l, 0, t_a, &r);
	/* both due in the same iteration; whichever order, 'a' may run only
	 * if it came first */
	loop_run_once(l, 50);
	loop_run_once(l, 50);
	EXPECT(strcmp(r.log, "k") == 0 || strcmp(r.log, "ak") == 0, "log %s", r.log);
	loop_free(l);
	return 0;
}

static void
on_read(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct rec *r = arg;
	char c = 0;

	if ((ev & LOOP_READ) && read(fd, &c, 1) == 1 && r->n < 63)
		r->log[r->n++] = c;
	if (c == 'z') {
		loop_fd_del(l, fd);
		loop_stop(l);
	}
}

static long
writer(struct loop *l, void *arg)
{
	struct rec *r = arg;
	static const char msg[] = "xyz";
	(void)l;
	if (write(r->pipefd, &msg[r->n], 1) != 1)
		return LOOP_TIMER_END;
	return r->n < 2 ? 1 : LOOP_TIMER_END;
}

static int
t_fd_readiness_and_removal(void)
{
	struct loop *l;
	struct rec r = {0};
	int p[2];

	EXPECT(pipe(p) == 0, "pipe: %s", strerror(errno));
	EXPECT_INT(loop_new(&l), 0);
	r.pipefd = p[1];
	EXPECT_INT(loop_fd_add(l, p[0], LOOP_READ, on_read, &r), 0);
	EXPECT_INT(loop_fd_add(l, p[0], LOOP_READ, on_read, &r), -EEXIST);
	loop_timer_add(l, 1, writer, &r);
	EXPECT_INT(loop_run(l), 0);
	EXPECT_STR(r.log, "xyz");
	EXPECT_INT(loop_fd_del(l, p[0]), -ENOENT); /* already removed */
	close(p[0]);
	close(p[1]);
	loop_free(l);
	return 0;
}

static const struct unit_test tests[] = {
	{"timers_fire_in_order_and_repeat", t_timers_fire_in_order_and_repeat},
	{"timer_deleted_by_earlier_callback_never_runs", t_timer_deleted_by_earlier_callback_never_runs},
	{"fd_readiness_and_removal", t_fd_readiness_and_removal},
};
UNIT_MAIN(tests)

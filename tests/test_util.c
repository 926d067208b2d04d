/* test_util.c -- the shared helpers: nanoseconds round-trip through a
 * timespec (before 1970 too, with tv_nsec kept in range), milliseconds
 * round down, and util_grow doubles from its first size, keeps what was
 * stored, and refuses sizes that would overflow without losing the array. */
#include <errno.h>
#include <stdint.h>

#include "tests/unit.h"
#include "agent/util.h"

static const struct {
	int64_t ns;
	long long sec;
	long nsec;
} times[] = {
	{0, 0, 0},
	{1, 0, 1},
	{1700000000123456789, 1700000000, 123456789},
	{-1, -1, 999999999},		/* just before 1970 */
	{-1000000000, -1, 0},
	{-1500000000, -2, 500000000},
};

static int
t_ns_timespec_round_trip_before_and_after_1970(void)
{
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		struct timespec ts = util_ns_ts(times[i].ns);

		EXPECT_INT(ts.tv_sec, times[i].sec);
		EXPECT_INT(ts.tv_nsec, times[i].nsec);
		EXPECT_INT(util_ts_ns(ts), times[i].ns);
	}
	return 0;
}

static int
t_ms_rounds_down(void)
{
	struct timespec ts = {.tv_sec = 12, .tv_nsec = 345999999};

	EXPECT_INT(util_ts_ms(ts), 12345);
	return 0;
}

static int
t_grow_doubles_keeps_content_refuses_overflow(void)
{
	int *v = NULL;
	size_t cap = 0, n;

	for (n = 0; n < 40; n++) {
		EXPECT_INT(util_grow(&v, n + 1, &cap, 16), 0);
		v[n] = (int)n;
	}
	EXPECT_INT(cap, 64);	/* 16, 32, 64 */
	EXPECT_INT(util_grow(&v, 10, &cap, 16), 0);	/* fits: no change */
	EXPECT_INT(cap, 64);
	EXPECT_INT(util_grow(&v, 200, &cap, 16), 0);	/* jumps to fit */
	EXPECT_INT(cap, 256);
	EXPECT_INT(util_grow(&v, SIZE_MAX / 2, &cap, 16), -ENOMEM);
	EXPECT_INT(cap, 256);
	for (n = 0; n < 40; n++)
		EXPECT_INT(v[n], n);
	free(v);
	return 0;
}

static const struct unit_test tests[] = {
	{"ns_timespec_round_trip_before_and_after_1970",
	 t_ns_timespec_round_trip_before_and_after_1970},
	{"ms_rounds_down", t_ms_rounds_down},
	{"grow_doubles_keeps_content_refuses_overflow",
	 t_grow_doubles_keeps_content_refuses_overflow},
};
UNIT_MAIN(tests)

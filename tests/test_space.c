/* test_space.c -- the slave's space decisions: the room is free space
 * less the reserve and what admitted transfers will still write (never
 * below zero), content is counted in whole blocks, a file that fits drops
 * nothing, one that fits only without other transfers' resume prefixes
 * drops the oldest (of the same age the largest) until it fits and no
 * more, and one that would not fit even then drops nothing at all. */
#include <errno.h>
#include <stdint.h>

#include "sync/space.h"
#include "tests/unit.h"

#define MiB ((uint64_t)1 << 20)

static const struct room_case {
	uint64_t avail, min_free, reserved, want;
} room_cases[] = {
	{20 * MiB, 1 * MiB, 0, 19 * MiB},
	{20 * MiB, 1 * MiB, 4 * MiB, 15 * MiB},
	{20 * MiB, 20 * MiB, 0, 0},
	{20 * MiB, 30 * MiB, 0, 0},		/* under the reserve already */
	{20 * MiB, 1 * MiB, 25 * MiB, 0},	/* promised more than there is */
	{20 * MiB, UINT64_MAX, 1, 0},		/* no overflow */
	{20 * MiB, 0, 0, 20 * MiB},		/* min_free = 0 */
};

static int
t_room_is_free_space_less_reserve_and_promises(void)
{
	for (size_t i = 0; i < sizeof(room_cases) / sizeof(room_cases[0]); i++) {
		const struct room_case *k = &room_cases[i];
		struct space_fs fs = {.size = 100 * MiB, .avail = k->avail,
		    .block = 4096};
		EXPECT(space_room(&fs, k->min_free, k->reserved) == k->want,
		    "case %zu: %llu", i, (unsigned long long)space_room(&fs,
		    k->min_free, k->reserved));
	}
	return 0;
}

static int
t_content_counts_in_whole_blocks(void)
{
	struct space_fs fs = {.block = 4096};

	EXPECT_INT(space_blocks(&fs, 0), 0);
	EXPECT_INT(space_blocks(&fs, 1), 4096);
	EXPECT_INT(space_blocks(&fs, 4096), 4096);
	EXPECT_INT(space_blocks(&fs, 4097), 8192);
	EXPECT(space_blocks(&fs, UINT64_MAX) == UINT64_MAX, "overflow");
	fs.block = 0;	/* a file system that reports none: bytes */
	EXPECT_INT(space_blocks(&fs, 17), 17);
	return 0;
}

static int
t_a_file_that_fits_drops_nothing(void)
{
	struct space_cand c[] = {{.bytes = 5 * MiB, .mtime_ns = 1, .id = 0}};
	size_t ndrop = 99;

	EXPECT_INT(space_decide(10 * MiB, 10 * MiB, c, 1, &ndrop), 0);
	EXPECT_INT(ndrop, 0);
	EXPECT_INT(space_decide(10 * MiB, 0, NULL, 0, &ndrop), 0);
	EXPECT_INT(ndrop, 0);
	return 0;
}

static int
t_prefixes_go_oldest_then_largest_until_it_fits(void)
{
	struct space_cand c[] = {
		{.bytes = 1 * MiB, .mtime_ns = 300, .id = 0},
		{.bytes = 2 * MiB, .mtime_ns = 100, .id = 1},	/* oldest */
		{.bytes = 8 * MiB, .mtime_ns = 200, .id = 2},
		{.bytes = 3 * MiB, .mtime_ns = 200, .id = 3},
	};
	size_t ndrop = 0;

	/* room 1 MiB, need 9 MiB: 2 (oldest) + 8 (same age as 3, larger) */
	EXPECT_INT(space_decide(1 * MiB, 9 * MiB, c, 4, &ndrop), 0);
	EXPECT_INT(ndrop, 2);
	EXPECT_INT(c[0].id, 1);
	EXPECT_INT(c[1].id, 2);
	EXPECT_INT(c[2].id, 3);
	EXPECT_INT(c[3].id, 0);
	/* exactly enough counts */
	EXPECT_INT(space_decide(0, 2 * MiB, c, 4, &ndrop), 0);
	EXPECT_INT(ndrop, 1);
	return 0;
}

static int
t_no_room_even_without_prefixes_drops_nothing(void)
{
	struct space_cand c[] = {
		{.bytes = 15 * MiB, .mtime_ns = 1, .id = 0},
		{.bytes = 4 * MiB, .mtime_ns = 2, .id = 1},
	};
	size_t ndrop = 99;

	/* the tester's case: a 50 MB file on a 20 MiB disk */
	EXPECT_INT(space_decide(1 * MiB, 50 * MiB, c, 2, &ndrop), -ENOSPC);
	EXPECT_INT(ndrop, 0);
	EXPECT_INT(space_decide(0, 1, NULL, 0, &ndrop), -ENOSPC);
	EXPECT_INT(ndrop, 0);
	/* no overflow when the prefixes add up beyond 2^64 */
	struct space_cand big[] = {{.bytes = UINT64_MAX, .id = 0},
	    {.bytes = UINT64_MAX, .id = 1}};
	EXPECT_INT(space_decide(5, UINT64_MAX, big, 2, &ndrop), 0);
	EXPECT_INT(ndrop, 1);
	return 0;
}

static const struct unit_test tests[] = {
	{"room_is_free_space_less_reserve_and_promises",
	 t_room_is_free_space_less_reserve_and_promises},
	{"content_counts_in_whole_blocks", t_content_counts_in_whole_blocks},
	{"a_file_that_fits_drops_nothing", t_a_file_that_fits_drops_nothing},
	{"prefixes_go_oldest_then_largest_until_it_fits",
	 t_prefixes_go_oldest_then_largest_until_it_fits},
	{"no_room_even_without_prefixes_drops_nothing",
	 t_no_room_even_without_prefixes_drops_nothing},
};
UNIT_MAIN(tests)

/* test_space.c -- the slave's space decisions: the room is free space
 * less the reserve and what admitted transfers will still write (never
 * below zero), content is counted in whole blocks, a file that fits drops
 * nothing, one that fits only without other transfers' resume prefixes
 * drops the oldest (of the same age the largest) until it fits and no
 * more, and one that would not fit even then drops nothing at all. Then
 * the slave that acts on them (agent/mirror/space_slave.c) on a real
 * directory, its reserve set relative to the free space measured: room
 * promised to an admitted file is not given twice, a refused file is
 * listed once however often it is asked for, and a running transfer
 * stops before it would eat into the reserve. */
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/mirror/mirror_int.h"
#include "store/store.h"
#include "sync/apply.h"
#include "sync/space.h"
#include "tests/testutil.h"
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

/* ---- the slave acting on them ----------------------------------------- */

static struct sfx {
	char dir[64];
	struct store *st;
	struct cfg cfg;
	struct mirror m;
} sfx;

static void
slave_teardown(void)
{
	mirror_space_free(&sfx.m);
	apply_free(sfx.m.apply);
	store_close(sfx.st);
	if (sfx.dir[0])
		tu_rmtree(sfx.dir);
	memset(&sfx, 0, sizeof(sfx));
}

/* A slave's applier and space state on a temp directory whose reserve
 * leaves room bytes (as measured now) for new content. */
static int
slave_setup(uint64_t room)
{
	struct space_fs fs;
	char db[128];
	int fd;

	if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
		gcry_check_version(NULL);
		gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	}
	if (tu_tmpdir(sfx.dir, sizeof(sfx.dir)) < 0)
		return -1;
	snprintf(db, sizeof(db), "%s/state.db", sfx.dir);
	if ((fd = open(sfx.dir, O_RDONLY | O_DIRECTORY)) < 0)
		return -1;
	if (space_fs_get(fd, &fs) < 0 || fs.avail < room + (1ULL << 30)) {
		close(fd);
		return UNIT_SKIP;
	}
	close(fd);
	sfx.cfg.role = CFG_ROLE_SLAVE;
	sfx.cfg.min_free_max = fs.avail - room;
	sfx.cfg.min_free_bp = 10000;
	sfx.m.env.cfg = &sfx.cfg;
	if (store_open(db, &sfx.st) < 0 ||
	    apply_open(sfx.dir, sfx.st, NULL, 0, &sfx.m.apply) < 0)
		return -1;
	return mirror_space_new(&sfx.m);
}

/* How often "path":"name" appears in the slave's status. */
static int
listed(const char *name)
{
	static char buf[4096];
	char want[128];
	int n = 0;

	mirror_space_status_json(&sfx.m, buf, 0, sizeof(buf));
	snprintf(want, sizeof(want), "\"path\":\"%s\"", name);
	for (const char *p = buf; (p = strstr(p, want)) != NULL; p++)
		n++;
	return n;
}

#define GiB ((uint64_t)1 << 30)

/* Room is measured live on a shared disk: the sizes leave hundreds of
 * MiB of margin for whatever else writes there meanwhile. */
static int
t_slave_promises_room_once_and_lists_waiting_files_once(void)
{
	static const uint8_t sha_a[32] = {1}, sha_b[32] = {2}, sha_c[32] = {3};
	int r = slave_setup(1 * GiB);

	if (r == UNIT_SKIP) {
		slave_teardown();
		return unit_skip("less than 2 GiB free in /tmp");
	}
	EXPECT_INT(r, 0);
	EXPECT_INT(mirror_space_admit(&sfx.m, "a", 700 * MiB, sha_a), 0);
	/* 324 MiB left: a's promise is not given away again */
	EXPECT_INT(mirror_space_admit(&sfx.m, "b", 500 * MiB, sha_b), -ENOSPC);
	EXPECT_INT(mirror_space_admit(&sfx.m, "b", 500 * MiB, sha_b), -ENOSPC);
	EXPECT_INT(listed("b"), 1);
	EXPECT_INT(listed("a"), 0);
	/* an empty file takes no room */
	EXPECT_INT(mirror_space_admit(&sfx.m, "c", 0, sha_c), 0);
	/* a needs no transfer after all: b fits and waits no more */
	mirror_space_release(&sfx.m, "a");
	EXPECT_INT(mirror_space_admit(&sfx.m, "b", 500 * MiB, sha_b), 0);
	EXPECT_INT(listed("b"), 0);
	slave_teardown();
	return 0;
}

static int
t_slave_transfer_stops_before_the_reserve(void)
{
	static const uint8_t sha[32] = {4};
	struct sres *x = NULL;
	int r = slave_setup(1 * GiB);

	if (r == UNIT_SKIP) {
		slave_teardown();
		return unit_skip("less than 2 GiB free in /tmp");
	}
	EXPECT_INT(r, 0);
	EXPECT_INT(mirror_space_admit(&sfx.m, "f", 500 * MiB, sha), 0);
	EXPECT_INT(mirror_space_open(&sfx.m, "f", 500 * MiB, sha, 0, &x), 0);
	EXPECT(x != NULL, "no promise for a running transfer");
	EXPECT_INT(mirror_space_write(&sfx.m, x, 65536), 0);
	/* someone else fills the disk: the reserve is now all of it */
	sfx.cfg.min_free_max = UINT64_MAX;
	EXPECT_INT(mirror_space_write(&sfx.m, x, 65536), -ENOSPC);
	EXPECT_INT(listed("f"), 1);
	mirror_space_end(&sfx.m, x);
	/* and a new session for it is not started either */
	EXPECT_INT(mirror_space_open(&sfx.m, "f", 500 * MiB, sha, 0, &x),
	    -ENOSPC);
	EXPECT_INT(listed("f"), 1);
	slave_teardown();
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
	{"slave_promises_room_once_and_lists_waiting_files_once",
	 t_slave_promises_room_once_and_lists_waiting_files_once},
	{"slave_transfer_stops_before_the_reserve",
	 t_slave_transfer_stops_before_the_reserve},
};
UNIT_MAIN(tests)

/* test_testutil.c -- the helpers the other tests stand on: a tree made
 * from a table has the modes, times, contents and links it says; the tree
 * comparison names the first difference of each kind; removal takes
 * read-only and unreadable directories and never follows a symlink out
 * of the tree. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/testutil.h"
#include "tests/unit.h"

#define T1 1700000000123456789LL
#define T2 -1000000001LL	/* before 1970: negative nanoseconds */

static int64_t
mtime_of(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static const struct tu_node sample[] = {
	{.path = "a.txt", .content = "alpha\n"},
	{.path = "empty"},
	{.path = "d/"},
	{.path = "d/e/f", .content = "deep", .mode = 0600, .mtime_ns = T1},
	{.path = "d/run", .content = "#!/bin/sh\n", .mode = 0755},
	{.path = "l", .link = "d/e/f", .mtime_ns = T1},
	{.path = "ro/", .mode = 0555, .mtime_ns = T2},
	{.path = "ro/x", .content = "x"},
	{.path = "d/", .mode = 0750, .mtime_ns = T1},	/* again: updated */
};
#define NSAMPLE (sizeof(sample) / sizeof(sample[0]))

static int
t_tree_make_sets_content_modes_times_links(void)
{
	char dir[sizeof(TU_TMP_TEMPLATE)], p[128], *buf;
	size_t len;
	struct stat st;
	ssize_t n;

	umask(077);	/* modes are exact whatever the umask */
	EXPECT_INT(tu_tmpdir(dir, sizeof(dir)), 0);
	EXPECT_INT(tu_tree_make(dir, sample, NSAMPLE), 0);
	snprintf(p, sizeof(p), "%s/a.txt", dir);
	EXPECT_INT(tu_read_file(p, &buf, &len), 0);
	EXPECT_INT(len, 6);
	EXPECT_STR(buf, "alpha\n");
	free(buf);
	EXPECT_INT(lstat(p, &st), 0);
	EXPECT_INT(st.st_mode & 07777, 0644);
	snprintf(p, sizeof(p), "%s/empty", dir);
	EXPECT_INT(tu_read_file(p, &buf, &len), 0);
	EXPECT_INT(len, 0);
	EXPECT_STR(buf, "");
	free(buf);
	snprintf(p, sizeof(p), "%s/d/e/f", dir);
	EXPECT_INT(lstat(p, &st), 0);
	EXPECT_INT(st.st_mode & 07777, 0600);
	EXPECT_INT(mtime_of(&st), T1);
	snprintf(p, sizeof(p), "%s/d/e", dir);	/* made as a parent */
	EXPECT_INT(lstat(p, &st), 0);
	EXPECT(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755,
	    "d/e mode %o", (unsigned)st.st_mode);
	snprintf(p, sizeof(p), "%s/d", dir);	/* time kept after children */
	EXPECT_INT(lstat(p, &st), 0);
	EXPECT_INT(st.st_mode & 07777, 0750);
	EXPECT_INT(mtime_of(&st), T1);
	snprintf(p, sizeof(p), "%s/ro", dir);
	EXPECT_INT(lstat(p, &st), 0);
	EXPECT_INT(st.st_mode & 07777, 0555);
	EXPECT_INT(mtime_of(&st), T2);
	snprintf(p, sizeof(p), "%s/l", dir);
	EXPECT_INT(lstat(p, &st), 0);
	EXPECT(S_ISLNK(st.st_mode), "l is a symlink");
	EXPECT_INT(mtime_of(&st), T1);
	EXPECT_INT(tu_read_file(p, &buf, &len), -ELOOP);
	char target[64] = "";
	EXPECT((n = readlink(p, target, sizeof(target) - 1)) > 0, "readlink");
	EXPECT_STR(target, "d/e/f");
	umask(022);
	EXPECT_INT(tu_rmtree(dir), 0);
	EXPECT_INT(access(dir, F_OK), -1);
	return 0;
}

/* Each change to a copy of the sample, and the difference reported. */
static const struct {
	struct tu_node change;
	int flags;
	const char *why;
} diffs[] = {
	{{.path = "a.txt", .content = "alpha!"}, 0, "a.txt: content differs"},
	{{.path = "a.txt", .content = "alpha"}, 0, "a.txt: size 5, want 6"},
	{{.path = "d/e/g", .content = ""}, 0, "d/e/g: not in "},
	{{.path = "d/run", .content = "#!/bin/sh\n", .mode = 0700},
	 TU_CMP_MODE, "d/run: mode 0700, want 0755"},
	{{.path = "l", .link = "a.txt", .mtime_ns = T1}, 0,
	 "l: symlink to \"a.txt\", want \"d/e/f\""},
};

static int
t_tree_compare_names_first_difference(void)
{
	char a[sizeof(TU_TMP_TEMPLATE)], b[sizeof(TU_TMP_TEMPLATE)];
	char why[256], p[128];

	EXPECT_INT(tu_tmpdir(a, sizeof(a)), 0);
	EXPECT_INT(tu_tree_make(a, sample, NSAMPLE), 0);
	for (size_t i = 0; i < sizeof(diffs) / sizeof(diffs[0]); i++) {
		EXPECT_INT(tu_tmpdir(b, sizeof(b)), 0);
		EXPECT_INT(tu_tree_make(b, sample, NSAMPLE), 0);
		EXPECT_INT(tu_tree_compare(a, b, TU_CMP_MODE, why,
		    sizeof(why)), 0);
		EXPECT_STR(why, "");
		EXPECT_INT(tu_tree_make(b, &diffs[i].change, 1), 0);
		EXPECT_INT(tu_tree_compare(a, b, 0, why, sizeof(why)),
		    diffs[i].flags ? 0 : 1);	/* ignored without the flag */
		EXPECT_INT(tu_tree_compare(a, b, diffs[i].flags, why,
		    sizeof(why)), 1);
		EXPECT(strncmp(why, diffs[i].why, strlen(diffs[i].why)) == 0,
		    "case %zu: why = \"%s\", want \"%s...\"", i, why,
		    diffs[i].why);
		EXPECT_INT(tu_rmtree(b), 0);
	}
	/* times, where both trees set them all */
	const struct tu_node t1[] = {{.path = "f", .mtime_ns = T1}};
	const struct tu_node t2[] = {{.path = "f", .mtime_ns = T2}};
	EXPECT_INT(tu_tmpdir(b, sizeof(b)), 0);
	EXPECT_INT(tu_tmpdir(p, sizeof(p)), 0);
	EXPECT_INT(tu_tree_make(b, t1, 1), 0);
	EXPECT_INT(tu_tree_make(p, t1, 1), 0);
	EXPECT_INT(tu_tree_compare(b, p, TU_CMP_MTIME, why, sizeof(why)), 0);
	EXPECT_INT(tu_tree_make(p, t2, 1), 0);
	EXPECT_INT(tu_tree_compare(b, p, 0, why, sizeof(why)), 0);
	EXPECT_INT(tu_tree_compare(b, p, TU_CMP_MTIME, why, sizeof(why)), 1);
	EXPECT_STR(why, "f: mtime -2.999999999, want 1700000000.123456789");
	EXPECT_INT(tu_rmtree(b), 0);
	EXPECT_INT(tu_rmtree(p), 0);
	/* a missing entry, a changed type */
	EXPECT_INT(tu_tmpdir(b, sizeof(b)), 0);
	EXPECT_INT(tu_tree_make(b, sample, NSAMPLE), 0);
	snprintf(p, sizeof(p), "%s/empty", b);
	EXPECT_INT(unlink(p), 0);
	EXPECT_INT(tu_tree_compare(a, b, 0, why, sizeof(why)), 1);
	EXPECT(strncmp(why, "empty: missing from ", 20) == 0, "why = %s", why);
	EXPECT_INT(mkdir(p, 0755), 0);
	EXPECT_INT(tu_tree_compare(a, b, 0, why, sizeof(why)), 1);
	EXPECT_STR(why, "empty: type d, want f");
	EXPECT_INT(tu_rmtree(b), 0);
	EXPECT_INT(tu_tree_compare(a, b, 0, why, sizeof(why)), -ENOENT);
	EXPECT_INT(tu_rmtree(a), 0);
	return 0;
}

static int
t_rmtree_takes_locked_dirs_never_follows_links(void)
{
	char out[sizeof(TU_TMP_TEMPLATE)], p[128], *buf;
	const struct tu_node outside[] = {
		{.path = "keep/"},
		{.path = "keep/precious", .content = "do not delete"},
	};
	const struct tu_node inside[] = {
		{.path = "to-out", .link = out},
		{.path = "to-keep", .link = "../keep"},
		{.path = "up", .link = ".."},
		{.path = "ro/sub/f", .content = "x", .mode = 0},
		{.path = "ro/sub/", .mode = 0555},
		{.path = "ro/", .mode = 0},
		{.path = "ro/sub/g", .link = "/"},
	};

	EXPECT_INT(tu_tmpdir(out, sizeof(out)), 0);
	EXPECT_INT(tu_tree_make(out, outside, 2), 0);
	snprintf(p, sizeof(p), "%s/keep/inner", out);
	EXPECT_INT(mkdir(p, 0755), 0);
	/* the tree to remove lives inside out/keep/inner, so "../keep"
	 * and ".." lead to things that must stay */
	EXPECT_INT(tu_tree_make(p, inside, sizeof(inside) / sizeof(inside[0])),
	    0);
	EXPECT_INT(tu_rmtree(p), 0);
	EXPECT_INT(access(p, F_OK), -1);
	snprintf(p, sizeof(p), "%s/keep/precious", out);
	EXPECT_INT(tu_read_file(p, &buf, NULL), 0);
	EXPECT_STR(buf, "do not delete");
	free(buf);
	EXPECT_INT(tu_rmtree(out), 0);
	EXPECT_INT(access(out, F_OK), -1);
	EXPECT_INT(tu_rmtree(out), 0);	/* missing: nothing to do */
	return 0;
}

static const struct unit_test tests[] = {
	{"tree_make_sets_content_modes_times_links",
	 t_tree_make_sets_content_modes_times_links},
	{"tree_compare_names_first_difference",
	 t_tree_compare_names_first_difference},
	{"rmtree_takes_locked_dirs_never_follows_links",
	 t_rmtree_takes_locked_dirs_never_follows_links},
};

UNIT_MAIN(tests)

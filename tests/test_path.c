/* test_path.c -- path rules, ignore globs, temp names, and opening beneath
 * a root without following symlinks out of it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sync/path.h"
#include "tests/testutil.h"
#include "tests/unit.h"

/* ---- path_check_relative ------------------------------------------- */

struct rel_case {
	const char *p;
	size_t len;		/* 0: strlen(p) */
	int want;
};

static const struct rel_case rel_cases[] = {
	{"a", 0, 0},
	{"a/b/c.txt", 0, 0},
	{"...", 0, 0},			/* an ordinary name */
	{".hidden", 0, 0},
	{"a/.../b", 0, 0},
	{"a..b", 0, 0},
	{"with space", 0, 0},
	{"\xc3\xbc/\xc3\xa9t\xc3\xa9", 0, 0},	/* UTF-8 */
	{"\xff\xfe", 0, 0},			/* not UTF-8: still a name */
	{"", 0, -EINVAL},
	{"/etc/passwd", 0, -EINVAL},
	{"/", 0, -EINVAL},
	{"../x", 0, -EINVAL},
	{"a/../b", 0, -EINVAL},
	{"a/..", 0, -EINVAL},
	{"..", 0, -EINVAL},
	{".", 0, -EINVAL},
	{"./a", 0, -EINVAL},
	{"a/./b", 0, -EINVAL},
	{"a//b", 0, -EINVAL},
	{"a/", 0, -EINVAL},
	{"a\0b", 3, -EINVAL},		/* embedded NUL */
	{"a\0", 2, -EINVAL},
	/* POSIX names may hold any byte but '/' and NUL: the logger escapes
	 * control characters and the wire encodes them */
	{"a\nb", 0, 0},
	{"a\tb", 0, 0},
	{"a\x1b[2Jb", 0, 0},		/* terminal escape */
	{"a\x7f", 0, 0},
	{"back\\slash", 0, 0},
};

static int
t_check_relative_table(void)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(rel_cases) / sizeof(rel_cases[0]); i++) {
		const struct rel_case *c = &rel_cases[i];
		size_t len = c->len ? c->len : strlen(c->p);
		int r = path_check_relative(c->p, len);

		if (r != c->want) {
			printf("  case %zu \"%s\": got %d, want %d\n", i, c->p,
			    r, c->want);
			failed = 1;
		}
	}
	EXPECT_INT(failed, 0);
	return 0;
}

/* Fills buf with components of comp bytes ("aaa/aaa/...") up to len. */
static void
long_path(char *buf, size_t len, size_t comp)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (i + 1) % (comp + 1) == 0 ? '/' : 'a';
	if (len && buf[len - 1] == '/')
		buf[len - 1] = 'a';
	buf[len] = '\0';
}

static int
t_check_relative_length_limits(void)
{
	static char buf[6000];

	long_path(buf, 5000, 100);
	EXPECT_INT(path_check_relative(buf, 5000), -EINVAL);
	long_path(buf, PATH_MAX, 100);
	EXPECT_INT(path_check_relative(buf, PATH_MAX), -EINVAL);
	long_path(buf, PATH_MAX - 1, 100);
	EXPECT_INT(path_check_relative(buf, PATH_MAX - 1), 0);
	long_path(buf, NAME_MAX, NAME_MAX);
	EXPECT_INT(path_check_relative(buf, NAME_MAX), 0);
	long_path(buf, NAME_MAX + 1, NAME_MAX + 1);
	EXPECT_INT(path_check_relative(buf, NAME_MAX + 1), -EINVAL);
	EXPECT_INT(path_check_relative(NULL, 0), -EINVAL);
	return 0;
}

/* ---- join, temp names ---------------------------------------------- */

static int
t_join_and_temp_names(void)
{
	char buf[8];
	const char *b = buf;	/* EXPECT_STR wants a pointer */

	EXPECT_INT(path_join(buf, sizeof(buf), "", "a"), 0);
	EXPECT_STR(b, "a");
	EXPECT_INT(path_join(buf, sizeof(buf), "a/b", "c"), 0);
	EXPECT_STR(b, "a/b/c");
	EXPECT_INT(path_join(buf, sizeof(buf), "abc", "defg"), -ENAMETOOLONG);
	EXPECT_INT(path_is_temp(".xmpp-sync-tmp.x1"), 1);
	EXPECT_INT(path_is_temp("a/b/.xmpp-sync-tmp.x1"), 1);
	EXPECT_INT(path_is_temp(".xmpp-sync-tmp.x1/a"), 0);
	EXPECT_INT(path_is_temp(".xmpp-sync-tmp"), 0);
	EXPECT_INT(path_is_temp("xmpp-sync-tmp.x"), 0);
	return 0;
}

/* The border check: path_check_relative() plus no temp component at any
 * depth (path_is_temp looks at the last one only). */
static int
t_check_synced_refuses_temp_anywhere(void)
{
	static const struct {
		const char *path;
		int want;
	} cases[] = {
		{"a/b.txt", 0},
		{".xmpp-sync-tmp", 0},		/* not the whole prefix */
		{"a/x.xmpp-sync-tmp.1", 0},	/* not at the start */
		{".xmpp-sync-tmp.1", -EINVAL},
		{"a/.xmpp-sync-tmp.1", -EINVAL},
		{".xmpp-sync-tmp.1/a", -EINVAL},
		{"a/.xmpp-sync-tmp.1/b", -EINVAL},
		{"../a", -EINVAL},
		{"a\nb", 0},
		{"", -EINVAL},
		{NULL, -EINVAL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		EXPECT(path_check_synced(cases[i].path) == cases[i].want,
		    "case %zu (%s): want %d", i,
		    cases[i].path ? cases[i].path : "NULL", cases[i].want);
	return 0;
}

/* The slave's own area is reserved at the top only: the master can never
 * name it, so nothing kept there is overwritten from the network. */
static int
t_check_synced_refuses_the_slave_area(void)
{
	static const struct {
		const char *path;
		int want, area;
	} cases[] = {
		{".xmpp-sync", -EINVAL, 1},
		{".xmpp-sync/local/x", -EINVAL, 1},
		{".xmpp-sync/versions/a~20240101T000000Z", -EINVAL, 1},
		{"a/.xmpp-sync", 0, 0},
		{"a/.xmpp-sync/local/x", 0, 0},
		{".xmpp-sync2", 0, 0},
		{".xmpp-syncx/a", 0, 0},
		{".xmpp-syn", 0, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EXPECT(path_check_synced(cases[i].path) == cases[i].want,
		    "case %zu (%s): want %d", i, cases[i].path, cases[i].want);
		EXPECT(path_is_area(cases[i].path) == cases[i].area,
		    "case %zu (%s): area want %d", i, cases[i].path,
		    cases[i].area);
	}
	return 0;
}

/* ---- globs --------------------------------------------------------- */

struct glob_case {
	const char *pattern, *path;
	int is_dir, want;
};

static const struct glob_case glob_cases[] = {
	{"*.o", "x.o", 0, 1},
	{"*.o", "a/b/x.o", 0, 1},
	{"*.o", "x.c", 0, 0},
	{"*.o", "x.o/y", 0, 0},		/* the last component only */
	{"logs/x?.txt", "logs/x1.txt", 0, 1},
	{"logs/x?.txt", "old/logs/x1.txt", 0, 0},
	{"logs/*", "logs/a", 0, 1},
	{"logs/*", "logs/a/b", 0, 0},	/* '*' does not cross '/' */
	{"/build", "build", 1, 1},
	{"/build", "src/build", 1, 0},
	{"build", "src/build", 1, 1},
	{"cache/", "cache", 1, 1},
	{"cache/", "cache", 0, 0},	/* directories only */
	{"cache/", "a/cache", 1, 1},
	{"*", ".hidden", 0, 1},		/* no special leading dot */
	{"[ab].txt", "b.txt", 0, 1},
	{"[ab].txt", "c.txt", 0, 0},
	{"\\*.txt", "*.txt", 0, 1},
	{"\\*.txt", "a.txt", 0, 0},
	{"", "a", 0, 0},
	{"/", "a", 1, 0},
};

static int
t_glob_match_table(void)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(glob_cases) / sizeof(glob_cases[0]);
	    i++) {
		const struct glob_case *c = &glob_cases[i];
		int r = path_glob_match(c->pattern, c->path, c->is_dir);

		if (r != c->want) {
			printf("  \"%s\" vs \"%s\"%s: got %d, want %d\n",
			    c->pattern, c->path, c->is_dir ? " (dir)" : "", r,
			    c->want);
			failed = 1;
		}
	}
	EXPECT_INT(failed, 0);
	return 0;
}

static const char *const ignores[] = {"*.o", "cache/", "/top/skip"};

static const struct glob_case ignored_cases[] = {
	{NULL, "src/main.c", 0, 0},
	{NULL, "src/main.o", 0, 1},
	{NULL, "x.o/y", 0, 1},		/* below an ignored directory */
	{NULL, "a/cache/x", 0, 1},
	{NULL, "a/cache", 0, 0},	/* a file named cache */
	{NULL, "a/cache", 1, 1},
	{NULL, "top/skip/z", 0, 1},
	{NULL, "a/top/skip", 1, 0},
};

static int
t_ignored_checks_parents_table(void)
{
	int failed = 0;
	size_t n = sizeof(ignores) / sizeof(ignores[0]);

	for (size_t i = 0; i < sizeof(ignored_cases) /
	    sizeof(ignored_cases[0]); i++) {
		const struct glob_case *c = &ignored_cases[i];
		int r = path_ignored(ignores, n, c->path, c->is_dir);

		if (r != c->want) {
			printf("  \"%s\": got %d, want %d\n", c->path, r,
			    c->want);
			failed = 1;
		}
	}
	EXPECT_INT(failed, 0);
	EXPECT_INT(path_ignored(NULL, 0, "a.o", 0), 0);
	/* the slave's area is ignored without any pattern */
	EXPECT_INT(path_ignored(NULL, 0, ".xmpp-sync", 1), 1);
	EXPECT_INT(path_ignored(ignores, n, ".xmpp-sync/versions/a~1", 0), 1);
	EXPECT_INT(path_ignored(NULL, 0, "a/.xmpp-sync", 1), 0);
	EXPECT_INT(path_ignored(NULL, 0, ".xmpp-sync.txt", 0), 0);
	return 0;
}

/* ---- opening beneath a root ---------------------------------------- */

struct troot {
	char root[64], outside[64];
	int fd;
};

static int
troot_make(struct troot *t)
{
	/* a link to a directory outside, one to /tmp itself, one up */
	const struct tu_node root[] = {
		{.path = "d/"},
		{.path = "d/f", .content = "hello"},
		{.path = "out", .link = t->outside},
		{.path = "d/tmp", .link = "/tmp"},
		{.path = "up", .link = ".."},
	};
	const struct tu_node outside[] = {
		{.path = "secret"},
	};

	if (tu_tmpdir(t->root, sizeof(t->root)) < 0 ||
	    tu_tmpdir(t->outside, sizeof(t->outside)) < 0)
		return -1;
	if (tu_tree_make(t->root, root, sizeof(root) / sizeof(root[0])) < 0 ||
	    tu_tree_make(t->outside, outside, 1) < 0)
		return -1;
	t->fd = open(t->root, O_RDONLY | O_DIRECTORY);
	return t->fd < 0 ? -1 : 0;
}

static void
troot_free(struct troot *t)
{
	close(t->fd);
	tu_rmtree(t->root);
	tu_rmtree(t->outside);
}

typedef int (*open_fn)(int, const char *, int, mode_t);

/* The checks both implementations must pass. */
static int
open_checks(struct troot *t, open_fn op)
{
	char buf[16] = "", through_tmp[128], p[160];
	int fd;
	ssize_t n;

	fd = op(t->fd, "d/f", O_RDONLY, 0);
	EXPECT(fd >= 0, "open d/f: %s", strerror(-fd));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	EXPECT_INT(n, 5);
	const char *got = buf;
	EXPECT_STR(got, "hello");
	/* out -> the outside dir; d/tmp -> /tmp; up -> .. */
	snprintf(through_tmp, sizeof(through_tmp), "d/tmp/%s/secret",
	    strrchr(t->outside, '/') + 1);
	const char *escapes[] = {"out/secret", "out", through_tmp, "d/tmp",
	    "up/d/f"};
	for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		fd = op(t->fd, escapes[i], O_RDONLY, 0);
		if (fd >= 0)
			close(fd);
		EXPECT(fd < 0, "%s opened through a symlink", escapes[i]);
	}
	EXPECT_INT(op(t->fd, "../x", O_RDONLY, 0), -EINVAL);
	EXPECT_INT(op(t->fd, "/etc/passwd", O_RDONLY, 0), -EINVAL);
	/* creating through a link must not create outside */
	fd = op(t->fd, "out/new", O_WRONLY | O_CREAT, 0600);
	EXPECT(fd < 0, "created out/new through a symlink");
	snprintf(p, sizeof(p), "%s/new", t->outside);
	EXPECT(access(p, F_OK) < 0, "%s exists", p);
	fd = op(t->fd, "d/new", O_WRONLY | O_CREAT | O_EXCL, 0600);
	EXPECT(fd >= 0, "create d/new: %s", strerror(-fd));
	close(fd);
	snprintf(p, sizeof(p), "%s/d/new", t->root);
	EXPECT_INT(unlink(p), 0);
	return 0;
}

static int
t_open_beneath_refuses_symlink_escapes(void)
{
	struct troot t;
	int r;

	EXPECT_INT(troot_make(&t), 0);
	r = open_checks(&t, path_open_beneath);
	troot_free(&t);
	return r;
}

static int
t_open_walk_fallback_refuses_symlink_escapes(void)
{
	struct troot t;
	int r;

	EXPECT_INT(troot_make(&t), 0);
	r = open_checks(&t, path_open_walk);
	troot_free(&t);
	return r;
}

static int
t_open_parent(void)
{
	struct troot t;
	struct stat st;
	const char *name = NULL;
	int fd, fd2, fd3, r;

	EXPECT_INT(troot_make(&t), 0);
	fd = path_open_parent(t.fd, "d/f", &name);
	r = fd >= 0 ? fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) : -1;
	fd2 = path_open_parent(t.fd, "top", &name);
	fd3 = path_open_parent(t.fd, "out/secret", &name);
	if (fd >= 0)
		close(fd);
	if (fd2 >= 0)
		close(fd2);
	if (fd3 >= 0)
		close(fd3);
	troot_free(&t);
	EXPECT_INT(r, 0);
	EXPECT_INT(st.st_size, 5);
	EXPECT(fd2 >= 0, "top-level parent: %s", strerror(-fd2));
	EXPECT_STR(name, "top");
	EXPECT(fd3 < 0, "parent through a symlink opened");
	return 0;
}

/* What every slave operation opens first: the parent of a path from the
 * network. Each row, through both implementations (openat2, and the walk
 * a kernel without it uses): whether the parent opens (0), is refused
 * for a symlink or a file on the way (REFUSED: -ELOOP, -ENOTDIR or
 * -EXDEV, whichever the implementation sees first), for its form
 * (-EINVAL), or is missing (-ENOENT). A symlink is never traversed, not
 * even one that stays inside the root. */
#define REFUSED 1

static int
refused(int r)
{
	return r == -ELOOP || r == -ENOTDIR || r == -EXDEV;
}

static int
t_parent_refusals_table(void)
{
	static char longname[NAME_MAX + 8];
	static const struct {
		const char *rel;
		int want;
	} cases[] = {
		{"d/f", 0},
		{"top", 0},
		{"d/new", 0},
		{"out/x", REFUSED},		/* -> a directory outside */
		{"out/secret", REFUSED},
		{"up/x", REFUSED},		/* -> .. */
		{"up/d/f", REFUSED},
		{"d/tmp/x", REFUSED},		/* -> /tmp, absolute */
		{"in/f", REFUSED},		/* -> d, inside: still a link */
		{"d/in2/f", REFUSED},		/* -> ../d */
		{"d/f/x", REFUSED},		/* a file on the way */
		{"missing/x", -ENOENT},
		{"../x", -EINVAL},
		{"/etc/passwd", -EINVAL},
		{"d/../f", -EINVAL},
		{"d/./f", -EINVAL},
		{"d//f", -EINVAL},
		{"", -EINVAL},
		{longname, -EINVAL},		/* a component over NAME_MAX */
	};
	static const struct tu_node more[] = {
		{.path = "in", .link = "d"},
		{.path = "d/in2", .link = "../d"},
	};
	struct troot t;
	int failed = 0;

	memset(longname, 'x', NAME_MAX + 3);	/* "d/" and NAME_MAX + 1 x */
	memcpy(longname, "d/", 2);
	longname[NAME_MAX + 3] = '\0';
	EXPECT_INT(troot_make(&t), 0);
	EXPECT_INT(tu_tree_make(t.root, more, 2), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *rel = cases[i].rel, *slash = strrchr(rel, '/');
		const char *name = NULL;
		char dir[PATH_MAX];
		int r = path_open_parent(t.fd, rel, &name), w;

		if (r >= 0)
			close(r);
		/* the walk, after the same check, opens the parent the same
		 * way */
		snprintf(dir, sizeof(dir), "%.*s",
		    slash ? (int)(slash - rel) : 0, rel);
		w = path_check_relative(rel, strlen(rel));
		if (w == 0 && slash && (w = path_open_walk(t.fd, dir,
		    O_PATH | O_DIRECTORY, 0)) >= 0)
			close(w);
		if (cases[i].want == REFUSED ? !(refused(r) && refused(w)) :
		    cases[i].want == 0 ? (r < 0 || w < 0) :
		    (r != cases[i].want || w != cases[i].want)) {
			printf("  \"%.40s\": openat2 %d, walk %d, want %s\n",
			    rel, r < 0 ? r : 0, w < 0 ? w : 0,
			    cases[i].want == REFUSED ? "refused" :
			    strerror(-cases[i].want));
			failed = 1;
		}
	}
	troot_free(&t);
	EXPECT_INT(failed, 0);
	return 0;
}

static const struct unit_test tests[] = {
	{"check_relative_table", t_check_relative_table},
	{"check_relative_length_limits", t_check_relative_length_limits},
	{"join_and_temp_names", t_join_and_temp_names},
	{"check_synced_refuses_temp_anywhere",
	 t_check_synced_refuses_temp_anywhere},
	{"check_synced_refuses_the_slave_area",
	 t_check_synced_refuses_the_slave_area},
	{"glob_match_table", t_glob_match_table},
	{"ignored_checks_parents_table", t_ignored_checks_parents_table},
	{"open_beneath_refuses_symlink_escapes",
	 t_open_beneath_refuses_symlink_escapes},
	{"open_walk_fallback_refuses_symlink_escapes",
	 t_open_walk_fallback_refuses_symlink_escapes},
	{"open_parent", t_open_parent},
	{"parent_refusals_table", t_parent_refusals_table},
};

UNIT_MAIN(tests)

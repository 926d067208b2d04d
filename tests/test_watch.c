/* test_watch.c -- the watcher on real directories under /tmp, driven by the
 * real event loop: each test changes the tree with plain syscalls, pumps
 * the loop until the events it expects arrived (or a deadline passed), and
 * checks kinds, paths and counts. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/log.h"
#include "agent/loop.h"
#include "sync/watch.h"
#include "tests/unit.h"

#define MAXEV 512
#define DEADLINE_MS 3000

struct rec {
	enum watch_kind kind;
	char path[256];
	char old[256];
	int is_dir;
	int64_t at;
};

struct ctx {
	char dir[64];      /* the watched root */
	char out[64];      /* a sibling outside the root */
	struct watch *w;
	struct loop *l;
	struct rec ev[MAXEV];
	int n;
};

static void
on_event(const struct watch_event *ev, void *arg)
{
	struct ctx *c = arg;

	if (c->n == MAXEV)
		return;
	struct rec *r = &c->ev[c->n++];
	r->kind = ev->kind;
	snprintf(r->path, sizeof(r->path), "%s", ev->path);
	snprintf(r->old, sizeof(r->old), "%s", ev->old_path ? ev->old_path : "");
	r->is_dir = ev->is_dir;
	r->at = loop_now_ms();
}

static void
on_readable(struct loop *l, int fd, unsigned events, void *arg)
{
	struct ctx *c = arg;

	(void)l, (void)fd, (void)events;
	watch_process(c->w, on_event, c);
}

static long
on_idle(struct loop *l, void *arg)
{
	struct ctx *c = arg;

	(void)l;
	return watch_next_timeout_ms(c->w);
}

static int
rm_entry(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st, (void)type, (void)f;
	return remove(p);
}

static void
rm_tree(const char *p)
{
	nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void teardown(struct ctx *c);

/* One context for all tests: a test that fails midway leaves it set up,
 * and the next setup() tears it down first (one watcher per process). */
static struct ctx the_ctx;

static void
teardown_at_exit(void)
{
	if (the_ctx.w != NULL || the_ctx.l != NULL)
		teardown(&the_ctx);
}

static int
setup(struct ctx **cp, char *const *ignore, size_t nignore)
{
	static int registered;
	struct ctx *c = &the_ctx;

	if (!registered++)
		atexit(teardown_at_exit);
	if (c->w != NULL || c->l != NULL)
		teardown(c);
	*cp = c;
	memset(c, 0, sizeof(*c));
	strcpy(c->dir, "/tmp/xs-test.XXXXXX");
	strcpy(c->out, "/tmp/xs-test.XXXXXX");
	if (mkdtemp(c->dir) == NULL || mkdtemp(c->out) == NULL)
		return -1;
	if (watch_new(c->dir, ignore, nignore, &c->w) < 0)
		return -1;
	watch_set_debounce_ms(c->w, 100);
	if (loop_new(&c->l) < 0)
		return -1;
	loop_set_idle(c->l, on_idle, c);
	return loop_fd_add(c->l, watch_fd(c->w), LOOP_READ, on_readable, c);
}

static void
teardown(struct ctx *c)
{
	if (c->l && c->w)
		loop_fd_del(c->l, watch_fd(c->w));
	loop_free(c->l);
	watch_free(c->w);
	rm_tree(c->dir);
	rm_tree(c->out);
	c->w = NULL;
	c->l = NULL;
}

/* Path under the root (or under the outside dir if it starts with "@"). */
static const char *
P(struct ctx *c, const char *rel)
{
	static char buf[4][512];
	static int i;
	char *b = buf[i++ % 4];

	if (rel[0] == '@')
		snprintf(b, 512, "%s/%s", c->out, rel + 1);
	else
		snprintf(b, 512, "%s/%s", c->dir, rel);
	return b;
}

static int
write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);

	if (fd < 0)
		return -1;
	ssize_t n = write(fd, data, strlen(data));
	close(fd);
	return n == (ssize_t)strlen(data) ? 0 : -1;
}

static int
count(const struct ctx *c, enum watch_kind kind, const char *path)
{
	int n = 0;

	for (int i = 0; i < c->n; i++)
		if (c->ev[i].kind == kind && (!path || !strcmp(c->ev[i].path, path)))
			n++;
	return n;
}

static int
find(const struct ctx *c, enum watch_kind kind, const char *path)
{
	for (int i = 0; i < c->n; i++)
		if (c->ev[i].kind == kind && !strcmp(c->ev[i].path, path))
			return i;
	return -1;
}

static void
pump_once(struct ctx *c)
{
	loop_run_once(c->l, 20);
	watch_flush_due(c->w, on_event, c);
}

/* Pumps until every (kind, path) pair given is seen, or the deadline.
 * Returns 1 when all were seen. */
static int
wait_for(struct ctx *c, int npairs, ...)
{
	int64_t end = loop_now_ms() + DEADLINE_MS;

	for (;;) {
		va_list ap;
		int all = 1;
		va_start(ap, npairs);
		for (int i = 0; i < npairs; i++) {
			enum watch_kind k = va_arg(ap, enum watch_kind);
			const char *p = va_arg(ap, const char *);
			all &= find(c, k, p) >= 0;
		}
		va_end(ap);
		if (all)
			return 1;
		if (loop_now_ms() > end)
			return 0;
		pump_once(c);
	}
}

/* Pumps until there are at least n events (kind, path), or the deadline.
 * Returns 1 when there are. */
static int
wait_count(struct ctx *c, enum watch_kind kind, const char *path, int n)
{
	int64_t end = loop_now_ms() + DEADLINE_MS;

	while (count(c, kind, path) < n) {
		if (loop_now_ms() > end)
			return 0;
		pump_once(c);
	}
	return 1;
}

/* Pumps for ms. */
static void
pump_for(struct ctx *c, long ms)
{
	int64_t end = loop_now_ms() + ms;

	while (loop_now_ms() < end) {
		loop_run_once(c->l, end - loop_now_ms());
		watch_flush_due(c->w, on_event, c);
	}
}

/* Pumps until nothing is pending and nothing new came for quiet_ms. */
static void
settle(struct ctx *c, long quiet_ms)
{
	int64_t end = loop_now_ms() + DEADLINE_MS, last = loop_now_ms();
	int seen = c->n;

	while (loop_now_ms() < end) {
		pump_once(c);
		if (c->n != seen) {
			seen = c->n;
			last = loop_now_ms();
		}
		if (watch_next_timeout_ms(c->w) < 0 &&
		    loop_now_ms() - last >= quiet_ms)
			return;
	}
}

static void
dump(const struct ctx *c)
{
	for (int i = 0; i < c->n; i++)
		printf("  event %d: %s %s%s%s%s\n", i,
		    watch_kind_name(c->ev[i].kind), c->ev[i].path,
		    c->ev[i].old[0] ? " <- " : "", c->ev[i].old,
		    c->ev[i].is_dir ? " (dir)" : "");
}

#define EXPECT_EV(cond, c) do {						\
	if (!(cond))							\
		dump(c);						\
	EXPECT(cond, "see events above");				\
} while (0)

/* ---- tests ---- */

static int
t_write_close_burst_gives_at_most_two_changed(void)
{
	struct ctx *c;
	int64_t first_write, last_write;
	int n, last;

	/* the first close goes out at once; what follows within the
	 * debounce time is held until the path is quiet, then sent once */
	EXPECT_INT(setup(&c, NULL, 0), 0);
	first_write = loop_now_ms();
	for (int i = 0; i < 100; i++)
		EXPECT_INT(write_file(P(c, "f"), "x"), 0);
	last_write = loop_now_ms();
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "f"), c);
	settle(c, 150);
	n = count(c, WATCH_CHANGED, "f");
	EXPECT_EV(n >= 1 && n <= 2 && c->n == n, c);
	EXPECT(c->ev[0].at - first_write < 150, "first sent %lld ms after "
	    "the first write", (long long)(c->ev[0].at - first_write));
	last = c->n - 1;
	EXPECT(c->ev[last].at >= last_write, "last sent before the last write");
	if (n == 2)
		EXPECT(c->ev[last].at - last_write >= 90, "held %lld ms after "
		    "the last write, debounce is 100",
		    (long long)(c->ev[last].at - last_write));
	teardown(c);
	return 0;
}

static int
t_touch_of_new_empty_file_is_changed(void)
{
	struct ctx *c;
	int fd;

	EXPECT_INT(setup(&c, NULL, 0), 0);
	fd = open(P(c, "empty"), O_WRONLY | O_CREAT, 0644);
	EXPECT(fd >= 0, "open: %s", strerror(errno));
	close(fd);
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "empty"), c);
	settle(c, 150);
	EXPECT_EV(c->n == 1, c);
	teardown(c);
	return 0;
}

static int
t_closed_file_goes_out_at_once(void)
{
	struct ctx *c;
	int64_t closed;
	int fd, i;

	/* no fixed delay: well under the 200 ms the watcher used to wait */
	EXPECT_INT(setup(&c, NULL, 0), 0);
	watch_set_debounce_ms(c->w, 200);
	fd = open(P(c, "new"), O_WRONLY | O_CREAT, 0644);
	EXPECT(fd >= 0, "open: %s", strerror(errno));
	EXPECT_INT(write(fd, "hello\n", 6), 6);
	closed = loop_now_ms();
	close(fd);
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "new"), c);
	i = find(c, WATCH_CHANGED, "new");
	EXPECT(c->ev[i].at - closed < 100, "new file sent %lld ms after "
	    "its close", (long long)(c->ev[i].at - closed));
	/* an existing file, quiet for a while, rewritten */
	pump_for(c, 300);
	fd = open(P(c, "new"), O_WRONLY | O_TRUNC);
	EXPECT(fd >= 0, "open: %s", strerror(errno));
	EXPECT_INT(write(fd, "again\n", 6), 6);
	closed = loop_now_ms();
	close(fd);
	EXPECT_EV(wait_count(c, WATCH_CHANGED, "new", 2), c);
	i = c->n - 1;
	EXPECT(c->ev[i].at - closed < 100, "rewritten file sent %lld ms "
	    "after its close", (long long)(c->ev[i].at - closed));
	teardown(c);
	return 0;
}

static int
t_file_kept_open_and_appended_is_sent_every_max_hold(void)
{
	struct ctx *c;
	int64_t t0, prev;
	int fd, n = 0;

	/* never quiet for 1 s, so only the 300 ms bound sends it */
	EXPECT_INT(setup(&c, NULL, 0), 0);
	watch_set_quiet_ms(c->w, 1000, 300);
	fd = open(P(c, "log"), O_WRONLY | O_CREAT | O_APPEND, 0644);
	EXPECT(fd >= 0, "open: %s", strerror(errno));
	t0 = loop_now_ms();
	for (int i = 0; i < 16; i++) {
		EXPECT_INT(write(fd, "line\n", 5), 5);
		pump_for(c, 100);
	}
	prev = t0;
	for (int i = 0; i < c->n; i++) {
		if (c->ev[i].kind != WATCH_CHANGED)
			continue;
		EXPECT(c->ev[i].at - prev <= 300 + 150, "CHANGED %d came %lld "
		    "ms after the one before", n, (long long)(c->ev[i].at - prev));
		prev = c->ev[i].at;
		n++;
	}
	EXPECT_EV(n >= 4 && count(c, WATCH_CHANGED, "log") == n, c);
	close(fd);
	EXPECT_EV(wait_count(c, WATCH_CHANGED, "log", n + 1), c);
	teardown(c);
	return 0;
}

static int
t_file_modified_once_and_kept_open_is_sent_after_quiet(void)
{
	struct ctx *c;
	int64_t wrote;
	int fd, i;

	EXPECT_INT(setup(&c, NULL, 0), 0);
	watch_set_quiet_ms(c->w, 300, 5000);
	EXPECT_INT(write_file(P(c, "db"), "x"), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "db"), c);
	settle(c, 150);
	c->n = 0;
	fd = open(P(c, "db"), O_WRONLY | O_APPEND);
	EXPECT(fd >= 0, "open: %s", strerror(errno));
	EXPECT_INT(write(fd, "y", 1), 1);
	wrote = loop_now_ms();
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "db"), c);
	i = find(c, WATCH_CHANGED, "db");
	EXPECT(c->ev[i].at - wrote >= 290 && c->ev[i].at - wrote < 300 + 200,
	    "sent %lld ms after the write, quiet time is 300",
	    (long long)(c->ev[i].at - wrote));
	/* still open: the close reports it once more */
	close(fd);
	EXPECT_EV(wait_count(c, WATCH_CHANGED, "db", 2), c);
	settle(c, 150);
	EXPECT_EV(c->n == 2, c);
	teardown(c);
	return 0;
}

static int
t_mkdir_p_reports_every_level_and_the_file_inside(void)
{
	struct ctx *c;

	EXPECT_INT(setup(&c, NULL, 0), 0);
	/* as fast as mkdir -p && echo: the file exists before the watches */
	EXPECT_INT(mkdir(P(c, "a"), 0755), 0);
	EXPECT_INT(mkdir(P(c, "a/b"), 0755), 0);
	EXPECT_INT(mkdir(P(c, "a/b/c"), 0755), 0);
	EXPECT_INT(write_file(P(c, "a/b/c/f"), "x\n"), 0);
	EXPECT_EV(wait_for(c, 4, WATCH_CREATED_DIR, "a", WATCH_CREATED_DIR,
	    "a/b", WATCH_CREATED_DIR, "a/b/c", WATCH_CHANGED, "a/b/c/f"), c);
	settle(c, 150);
	EXPECT_EV(count(c, WATCH_CREATED_DIR, NULL) == 3 &&
	    count(c, WATCH_CHANGED, NULL) == 1 && c->n == 4, c);
	EXPECT_EV(find(c, WATCH_CREATED_DIR, "a") <
	    find(c, WATCH_CREATED_DIR, "a/b") &&
	    find(c, WATCH_CREATED_DIR, "a/b") <
	    find(c, WATCH_CREATED_DIR, "a/b/c"), c);
	/* the new directories are watched */
	EXPECT_INT(write_file(P(c, "a/b/c/g"), "y\n"), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "a/b/c/g"), c);
	teardown(c);
	return 0;
}

static int
t_file_rename_is_one_renamed(void)
{
	struct ctx *c;

	EXPECT_INT(setup(&c, NULL, 0), 0);
	EXPECT_INT(write_file(P(c, "f"), "x"), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "f"), c);
	c->n = 0;
	EXPECT_INT(rename(P(c, "f"), P(c, "g")), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_RENAMED, "g"), c);
	settle(c, 150);
	EXPECT_EV(c->n == 1 && !strcmp(c->ev[0].old, "f") && !c->ev[0].is_dir, c);
	teardown(c);
	return 0;
}

static int
t_rename_moves_a_pending_change_to_the_new_name(void)
{
	struct ctx *c;
	int fd;

	/* written and still open: its change is held when it is renamed */
	EXPECT_INT(setup(&c, NULL, 0), 0);
	fd = open(P(c, "f"), O_WRONLY | O_CREAT, 0644);
	EXPECT(fd >= 0, "open: %s", strerror(errno));
	EXPECT_INT(write(fd, "x", 1), 1);
	EXPECT_INT(rename(P(c, "f"), P(c, "g")), 0);
	pump_for(c, 50);
	close(fd);
	EXPECT_EV(wait_for(c, 2, WATCH_RENAMED, "g", WATCH_CHANGED, "g"), c);
	settle(c, 150);
	EXPECT_EV(count(c, WATCH_CHANGED, "f") == 0 && c->n == 2, c);
	EXPECT_EV(find(c, WATCH_RENAMED, "g") < find(c, WATCH_CHANGED, "g"), c);
	teardown(c);
	return 0;
}

static int
t_dir_rename_is_one_renamed_and_new_paths_follow(void)
{
	struct ctx *c;

	EXPECT_INT(setup(&c, NULL, 0), 0);
	EXPECT_INT(mkdir(P(c, "d"), 0755), 0);
	EXPECT_INT(mkdir(P(c, "d/sub"), 0755), 0);
	EXPECT_INT(mkdir(P(c, "d/sub/deep"), 0755), 0);
	EXPECT_INT(write_file(P(c, "d/x"), "x"), 0);
	EXPECT_INT(write_file(P(c, "d/sub/y"), "y"), 0);
	EXPECT_EV(wait_for(c, 2, WATCH_CHANGED, "d/x", WATCH_CHANGED,
	    "d/sub/y"), c);
	settle(c, 100);
	c->n = 0;
	EXPECT_INT(rename(P(c, "d"), P(c, "e")), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_RENAMED, "e"), c);
	settle(c, 150);
	EXPECT_EV(c->n == 1 && !strcmp(c->ev[0].old, "d") && c->ev[0].is_dir, c);
	EXPECT_INT(write_file(P(c, "e/sub/z"), "z"), 0);
	EXPECT_INT(write_file(P(c, "e/sub/deep/w"), "w"), 0);
	EXPECT_INT(write_file(P(c, "e/x"), "x"), 0);
	EXPECT_EV(wait_for(c, 3, WATCH_CHANGED, "e/sub/z", WATCH_CHANGED,
	    "e/sub/deep/w", WATCH_CHANGED, "e/x"), c);
	settle(c, 100);
	EXPECT_EV(c->n == 4, c);
	teardown(c);
	return 0;
}

static int
t_dir_rename_with_many_subdirs_moves_every_watch(void)
{
	struct ctx *c;
	char name[64];
	enum { N = 300 };

	/* many watch records under one prefix: the library re-keys its tree
	 * while walking it, so this checks the watcher repairs what it skips */
	EXPECT_INT(setup(&c, NULL, 0), 0);
	EXPECT_INT(mkdir(P(c, "@t"), 0755), 0);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "@t/s%03d", i);
		EXPECT_INT(mkdir(P(c, name), 0755), 0);
	}
	EXPECT_INT(rename(P(c, "@t"), P(c, "t")), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_CREATED_DIR, "t/s299"), c);
	settle(c, 100);
	c->n = 0;
	EXPECT_INT(rename(P(c, "t"), P(c, "u")), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_RENAMED, "u"), c);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "u/s%03d/f", i);
		EXPECT_INT(write_file(P(c, name), "x"), 0);
	}
	EXPECT_EV(wait_for(c, 2, WATCH_CHANGED, "u/s000/f", WATCH_CHANGED,
	    "u/s299/f"), c);
	settle(c, 150);
	EXPECT_EV(count(c, WATCH_CHANGED, NULL) == N && c->n == N + 1, c);
	teardown(c);
	return 0;
}

static int
t_move_out_of_root_is_deleted(void)
{
	struct ctx *c;

	EXPECT_INT(setup(&c, NULL, 0), 0);
	EXPECT_INT(write_file(P(c, "f"), "x"), 0);
	EXPECT_INT(mkdir(P(c, "d"), 0755), 0);
	EXPECT_INT(write_file(P(c, "d/in"), "x"), 0);
	EXPECT_EV(wait_for(c, 2, WATCH_CHANGED, "f", WATCH_CHANGED, "d/in"),
	    c);
	c->n = 0;
	EXPECT_INT(rename(P(c, "f"), P(c, "@f")), 0);
	EXPECT_INT(rename(P(c, "d"), P(c, "@d")), 0);
	EXPECT_EV(wait_for(c, 2, WATCH_DELETED, "f", WATCH_DELETED, "d"), c);
	EXPECT_EV(c->ev[find(c, WATCH_DELETED, "d")].is_dir, c);
	/* the moved-out directory is no longer watched */
	EXPECT_INT(write_file(P(c, "@d/later"), "x"), 0);
	settle(c, 200);
	EXPECT_EV(c->n == 2, c);
	teardown(c);
	return 0;
}

static int
t_move_out_then_recreate_same_name(void)
{
	struct ctx *c;

	EXPECT_INT(setup(&c, NULL, 0), 0);
	EXPECT_INT(mkdir(P(c, "d"), 0755), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_CREATED_DIR, "d"), c);
	c->n = 0;
	EXPECT_INT(rename(P(c, "d"), P(c, "@d")), 0);
	EXPECT_INT(mkdir(P(c, "d"), 0755), 0);
	EXPECT_INT(write_file(P(c, "d/x"), "x"), 0);
	EXPECT_EV(wait_for(c, 3, WATCH_DELETED, "d", WATCH_CREATED_DIR, "d",
	    WATCH_CHANGED, "d/x"), c);
	EXPECT_EV(find(c, WATCH_DELETED, "d") <
	    find(c, WATCH_CREATED_DIR, "d"), c);
	EXPECT_INT(write_file(P(c, "d/y"), "y"), 0);
	EXPECT_INT(write_file(P(c, "@d/no"), "n"), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "d/y"), c);
	settle(c, 150);
	EXPECT_EV(c->n == 4, c);
	teardown(c);
	return 0;
}

static int
t_dir_moved_in_reports_all_its_content(void)
{
	struct ctx *c;

	EXPECT_INT(setup(&c, NULL, 0), 0);
	EXPECT_INT(mkdir(P(c, "@m"), 0755), 0);
	EXPECT_INT(mkdir(P(c, "@m/s"), 0755), 0);
	EXPECT_INT(write_file(P(c, "@m/f1"), "1"), 0);
	EXPECT_INT(write_file(P(c, "@m/s/f2"), "2"), 0);
	EXPECT_INT(symlink("f2", P(c, "@m/s/l")), 0);
	EXPECT_INT(rename(P(c, "@m"), P(c, "m")), 0);
	EXPECT_EV(wait_for(c, 5, WATCH_CREATED_DIR, "m", WATCH_CREATED_DIR,
	    "m/s", WATCH_CHANGED, "m/f1", WATCH_CHANGED, "m/s/f2",
	    WATCH_SYMLINK, "m/s/l"), c);
	settle(c, 150);
	EXPECT_EV(c->n == 5, c);
	EXPECT_EV(find(c, WATCH_CREATED_DIR, "m") <
	    find(c, WATCH_CREATED_DIR, "m/s"), c);
	EXPECT_INT(write_file(P(c, "m/s/f3"), "3"), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "m/s/f3"), c);
	teardown(c);
	return 0;
}

static int
t_file_moved_in_is_changed(void)
{
	struct ctx *c;

	EXPECT_INT(setup(&c, NULL, 0), 0);
	EXPECT_INT(write_file(P(c, "@f"), "x"), 0);
	EXPECT_INT(rename(P(c, "@f"), P(c, "f")), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "f"), c);
	settle(c, 150);
	EXPECT_EV(c->n == 1, c);
	teardown(c);
	return 0;
}

static int
t_chmod_is_attrib(void)
{
	struct ctx *c;

	EXPECT_INT(setup(&c, NULL, 0), 0);
	EXPECT_INT(write_file(P(c, "f"), "x"), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "f"), c);
	c->n = 0;
	EXPECT_INT(chmod(P(c, "f"), 0600), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_ATTRIB, "f"), c);
	settle(c, 150);
	EXPECT_EV(c->n == 1 && !c->ev[0].is_dir, c);
	teardown(c);
	return 0;
}

static int
t_symlink_is_reported_at_once(void)
{
	struct ctx *c;
	int64_t t0;

	EXPECT_INT(setup(&c, NULL, 0), 0);
	watch_set_debounce_ms(c->w, 1000);
	t0 = loop_now_ms();
	EXPECT_INT(symlink("nowhere", P(c, "l")), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_SYMLINK, "l"), c);
	EXPECT(c->ev[0].at - t0 < 500, "took %lld ms",
	    (long long)(c->ev[0].at - t0));
	teardown(c);
	return 0;
}

static int
t_delete_is_deleted(void)
{
	struct ctx *c;

	EXPECT_INT(setup(&c, NULL, 0), 0);
	EXPECT_INT(write_file(P(c, "f"), "x"), 0);
	EXPECT_INT(mkdir(P(c, "d"), 0755), 0);
	EXPECT_EV(wait_for(c, 2, WATCH_CHANGED, "f", WATCH_CREATED_DIR, "d"),
	    c);
	c->n = 0;
	EXPECT_INT(unlink(P(c, "f")), 0);
	EXPECT_INT(rmdir(P(c, "d")), 0);
	EXPECT_EV(wait_for(c, 2, WATCH_DELETED, "f", WATCH_DELETED, "d"), c);
	settle(c, 100);
	EXPECT_EV(c->n == 2 && !c->ev[find(c, WATCH_DELETED, "f")].is_dir &&
	    c->ev[find(c, WATCH_DELETED, "d")].is_dir, c);
	/* a directory recreated under the old name is watched again */
	EXPECT_INT(mkdir(P(c, "d"), 0755), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_CREATED_DIR, "d"), c);
	EXPECT_INT(write_file(P(c, "d/n"), "x"), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "d/n"), c);
	teardown(c);
	return 0;
}

static int
t_ignored_globs_and_tmp_files_never_reported(void)
{
	char swp[] = "*.swp", out[] = "build/out";
	char *ign[] = { swp, out };
	struct ctx *c;

	EXPECT_INT(setup(&c, ign, 2), 0);
	EXPECT_INT(write_file(P(c, "x.swp"), "x"), 0);
	EXPECT_INT(mkdir(P(c, "sub"), 0755), 0);
	EXPECT_INT(write_file(P(c, "sub/y.swp"), "x"), 0);
	EXPECT_INT(write_file(P(c, ".xmpp-sync-tmp.abc"), "x"), 0);
	EXPECT_INT(write_file(P(c, "sub/.xmpp-sync-tmp.def"), "x"), 0);
	EXPECT_INT(mkdir(P(c, "build"), 0755), 0);
	EXPECT_INT(mkdir(P(c, "build/out"), 0755), 0);
	EXPECT_INT(write_file(P(c, "build/out/z"), "x"), 0);
	EXPECT_INT(write_file(P(c, "build/keep"), "x"), 0);
	EXPECT_INT(rename(P(c, ".xmpp-sync-tmp.abc"), P(c, "final")), 0);
	EXPECT_INT(write_file(P(c, "ok"), "x"), 0);
	EXPECT_EV(wait_for(c, 5, WATCH_CHANGED, "ok", WATCH_CREATED_DIR, "sub",
	    WATCH_CREATED_DIR, "build", WATCH_CHANGED, "build/keep",
	    WATCH_CHANGED, "final"), c);
	settle(c, 150);
	EXPECT_EV(c->n == 5, c);
	teardown(c);
	return 0;
}

static int
t_ignore_dir_slash_skips_directories_not_files(void)
{
	char p0[] = "dir/";
	char *ign[] = { p0 };
	struct ctx *c;

	EXPECT_INT(setup(&c, ign, 1), 0);
	EXPECT_INT(mkdir(P(c, "dir"), 0755), 0);
	EXPECT_INT(write_file(P(c, "dir/f"), "x"), 0);
	EXPECT_INT(mkdir(P(c, "sub"), 0755), 0);
	EXPECT_INT(mkdir(P(c, "sub/dir"), 0755), 0);
	EXPECT_INT(write_file(P(c, "sub/dir/g"), "x"), 0);
	EXPECT_INT(mkdir(P(c, "other"), 0755), 0);
	EXPECT_INT(write_file(P(c, "other/dir"), "a file named dir"), 0);
	EXPECT_INT(write_file(P(c, "ok"), "x"), 0);
	EXPECT_EV(wait_for(c, 4, WATCH_CREATED_DIR, "sub", WATCH_CREATED_DIR,
	    "other", WATCH_CHANGED, "other/dir", WATCH_CHANGED, "ok"), c);
	settle(c, 150);
	EXPECT_EV(c->n == 4, c);
	/* the ignored directories are not watched */
	EXPECT_INT(write_file(P(c, "dir/later"), "x"), 0);
	EXPECT_INT(write_file(P(c, "sub/dir/later"), "x"), 0);
	EXPECT_INT(write_file(P(c, "ok2"), "x"), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "ok2"), c);
	settle(c, 150);
	EXPECT_EV(c->n == 5, c);
	teardown(c);
	return 0;
}

static int
t_ignore_leading_slash_is_top_level_only(void)
{
	char p0[] = "/x";
	char *ign[] = { p0 };
	struct ctx *c;

	EXPECT_INT(setup(&c, ign, 1), 0);
	EXPECT_INT(mkdir(P(c, "x"), 0755), 0);
	EXPECT_INT(write_file(P(c, "x/f"), "x"), 0);
	EXPECT_INT(mkdir(P(c, "sub"), 0755), 0);
	EXPECT_INT(mkdir(P(c, "sub/x"), 0755), 0);
	EXPECT_INT(write_file(P(c, "sub/x/f"), "x"), 0);
	EXPECT_INT(write_file(P(c, "sub/y"), "x"), 0);
	EXPECT_EV(wait_for(c, 4, WATCH_CREATED_DIR, "sub", WATCH_CREATED_DIR,
	    "sub/x", WATCH_CHANGED, "sub/x/f", WATCH_CHANGED, "sub/y"), c);
	settle(c, 150);
	EXPECT_EV(c->n == 4, c);
	teardown(c);
	return 0;
}

static int
t_ignore_path_pattern_is_anchored_with_all_below(void)
{
	char p0[] = "a/b";
	char *ign[] = { p0 };
	struct ctx *c;

	EXPECT_INT(setup(&c, ign, 1), 0);
	EXPECT_INT(mkdir(P(c, "a"), 0755), 0);
	EXPECT_INT(mkdir(P(c, "a/b"), 0755), 0);
	EXPECT_INT(mkdir(P(c, "a/b/deep"), 0755), 0);
	EXPECT_INT(write_file(P(c, "a/b/deep/f"), "x"), 0);
	EXPECT_INT(write_file(P(c, "a/c"), "x"), 0);
	EXPECT_INT(mkdir(P(c, "c"), 0755), 0);
	EXPECT_INT(mkdir(P(c, "c/a"), 0755), 0);
	EXPECT_INT(mkdir(P(c, "c/a/b"), 0755), 0);
	EXPECT_INT(write_file(P(c, "c/a/b/f"), "x"), 0);
	EXPECT_EV(wait_for(c, 6, WATCH_CREATED_DIR, "a", WATCH_CHANGED, "a/c",
	    WATCH_CREATED_DIR, "c", WATCH_CREATED_DIR, "c/a",
	    WATCH_CREATED_DIR, "c/a/b", WATCH_CHANGED, "c/a/b/f"), c);
	settle(c, 150);
	EXPECT_EV(c->n == 6, c);
	teardown(c);
	return 0;
}

static int
t_ignore_star_glob_matches_names_at_any_depth(void)
{
	char p0[] = "*.tmp";
	char *ign[] = { p0 };
	struct ctx *c;

	EXPECT_INT(setup(&c, ign, 1), 0);
	EXPECT_INT(write_file(P(c, "x.tmp"), "x"), 0);
	EXPECT_INT(mkdir(P(c, "d"), 0755), 0);
	EXPECT_INT(write_file(P(c, "d/y.tmp"), "x"), 0);
	EXPECT_INT(mkdir(P(c, "d/e"), 0755), 0);
	EXPECT_INT(write_file(P(c, "d/e/z.tmp"), "x"), 0);
	EXPECT_INT(write_file(P(c, "d/e/z.txt"), "x"), 0);
	EXPECT_INT(mkdir(P(c, "q.tmp"), 0755), 0);
	EXPECT_INT(write_file(P(c, "q.tmp/f"), "x"), 0);
	EXPECT_EV(wait_for(c, 3, WATCH_CREATED_DIR, "d", WATCH_CREATED_DIR,
	    "d/e", WATCH_CHANGED, "d/e/z.txt"), c);
	settle(c, 150);
	EXPECT_EV(c->n == 3, c);
	/* a rename onto an ignored name reads as a move out */
	c->n = 0;
	EXPECT_INT(rename(P(c, "d/e/z.txt"), P(c, "d/e/z.tmp")), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_DELETED, "d/e/z.txt"), c);
	settle(c, 150);
	EXPECT_EV(c->n == 1, c);
	teardown(c);
	return 0;
}

static int
t_ignore_path_pattern_follows_directory_renames(void)
{
	char p0[] = "a/b";
	char *ign[] = { p0 };
	struct ctx *c;

	EXPECT_INT(setup(&c, ign, 1), 0);
	EXPECT_INT(mkdir(P(c, "x"), 0755), 0);
	EXPECT_INT(mkdir(P(c, "x/b"), 0755), 0);
	EXPECT_INT(write_file(P(c, "x/b/f"), "x"), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "x/b/f"), c);
	settle(c, 100);
	/* x/b becomes a/b: ignored, so no longer watched */
	c->n = 0;
	EXPECT_INT(rename(P(c, "x"), P(c, "a")), 0);
	EXPECT_EV(wait_for(c, 2, WATCH_RENAMED, "a", WATCH_RESCAN, "a"), c);
	EXPECT_EV(find(c, WATCH_RENAMED, "a") < find(c, WATCH_RESCAN, "a"), c);
	EXPECT_INT(write_file(P(c, "a/b/g"), "x"), 0);
	EXPECT_INT(write_file(P(c, "a/h"), "x"), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "a/h"), c);
	settle(c, 150);
	EXPECT_EV(c->n == 3, c);
	/* and back: y/b is watched again */
	c->n = 0;
	EXPECT_INT(rename(P(c, "a"), P(c, "y")), 0);
	EXPECT_EV(wait_for(c, 2, WATCH_RENAMED, "y", WATCH_RESCAN, "y"), c);
	EXPECT_INT(write_file(P(c, "y/b/k"), "x"), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "y/b/k"), c);
	settle(c, 150);
	EXPECT_EV(c->n == 3, c);
	teardown(c);
	return 0;
}

static int
t_overflow_asks_for_full_rescan(void)
{
	struct ctx *c;

	/* a real overflow needs a tiny fs.inotify.max_queued_events (root,
	 * machine-wide): run the handler on a synthetic event instead */
	EXPECT_INT(setup(&c, NULL, 0), 0);
	EXPECT_INT(watch_test_inject(c->w, IN_Q_OVERFLOW, on_event, c), 1);
	EXPECT_EV(c->n == 1 && c->ev[0].kind == WATCH_RESCAN &&
	    !strcmp(c->ev[0].path, ""), c);
	teardown(c);
	return 0;
}

static int
t_watch_limit_degrades_and_keeps_running(void)
{
	struct ctx *c;

	/* ENOSPC needs a lowered fs.inotify.max_user_watches (machine-wide):
	 * make the adds fail through the test hook instead */
	EXPECT_INT(setup(&c, NULL, 0), 0);
	watch_test_limits(c->w, 100000, 4096, ENOSPC);
	EXPECT_INT(mkdir(P(c, "d1"), 0755), 0);
	EXPECT_INT(mkdir(P(c, "d2"), 0755), 0);
	EXPECT_INT(write_file(P(c, "f"), "x"), 0);
	EXPECT_EV(wait_for(c, 4, WATCH_CREATED_DIR, "d1", WATCH_CREATED_DIR,
	    "d2", WATCH_DEGRADED, "", WATCH_CHANGED, "f"), c);
	settle(c, 100);
	EXPECT_EV(count(c, WATCH_DEGRADED, NULL) == 1, c);
	teardown(c);
	return 0;
}

static int
t_too_many_pending_changes_become_a_rescan(void)
{
	struct ctx *c;
	char name[32];

	EXPECT_INT(setup(&c, NULL, 0), 0);
	watch_test_limits(c->w, 5, 4096, 0);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		EXPECT_INT(write_file(P(c, name), "x"), 0);
	}
	EXPECT_EV(wait_for(c, 1, WATCH_RESCAN, ""), c);
	settle(c, 150);
	EXPECT_EV(count(c, WATCH_CHANGED, NULL) <= 5, c);
	teardown(c);
	return 0;
}

static int
t_restart_after_many_deleted_dirs_keeps_fd_and_works(void)
{
	struct ctx *c;
	char name[32];
	int fd;

	EXPECT_INT(setup(&c, NULL, 0), 0);
	fd = watch_fd(c->w);
	watch_test_limits(c->w, 100000, 3, 0);
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		EXPECT_INT(mkdir(P(c, name), 0755), 0);
	}
	EXPECT_EV(wait_for(c, 1, WATCH_CREATED_DIR, "d5"), c);
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		EXPECT_INT(rmdir(P(c, name)), 0);
	}
	EXPECT_EV(wait_for(c, 2, WATCH_DELETED, "d5", WATCH_RESCAN, ""), c);
	EXPECT_INT(watch_fd(c->w), fd);
	EXPECT_INT(mkdir(P(c, "n"), 0755), 0);
	EXPECT_INT(write_file(P(c, "n/f"), "x"), 0);
	EXPECT_EV(wait_for(c, 2, WATCH_CREATED_DIR, "n", WATCH_CHANGED, "n/f"),
	    c);
	teardown(c);
	return 0;
}

static int
t_second_watcher_is_refused(void)
{
	struct ctx *c;
	struct watch *w2 = NULL;

	EXPECT_INT(setup(&c, NULL, 0), 0);
	EXPECT_INT(watch_new(c->dir, NULL, 0, &w2), -EBUSY);
	EXPECT(w2 == NULL, "no second watcher");
	teardown(c);
	return 0;
}

static int
t_free_stops_the_thread_at_once(void)
{
	struct ctx *c;

	/* the watcher thread waits up to a second at a time inside the
	 * library; five stops in a row that each beat a quarter of that
	 * show it is cancelled, not waited for */
	for (int i = 0; i < 5; i++) {
		EXPECT_INT(setup(&c, NULL, 0), 0);
		EXPECT_INT(write_file(P(c, "f"), "x"), 0);
		EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "f"), c);
		loop_fd_del(c->l, watch_fd(c->w));
		int64_t t0 = loop_now_ms();
		watch_free(c->w);
		int64_t took = loop_now_ms() - t0;
		c->w = NULL;
		EXPECT(took < 250, "watch_free took %lld ms", (long long)took);
		teardown(c);
	}
	return 0;
}

static int
t_queue_overflow_asks_for_full_rescan(void)
{
	struct ctx *c;
	char name[32];

	/* the loop does not drain while the files are written: the watcher
	 * thread fills its queue of 4 and must drop the rest */
	EXPECT_INT(setup(&c, NULL, 0), 0);
	watch_test_queue_max(c->w, 4);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		EXPECT_INT(write_file(P(c, name), "x"), 0);
	}
	usleep(300 * 1000);
	EXPECT_EV(wait_for(c, 1, WATCH_RESCAN, ""), c);
	settle(c, 150);
	EXPECT_EV(count(c, WATCH_RESCAN, "") == 1, c);
	EXPECT_EV(count(c, WATCH_CHANGED, NULL) <= 4, c);
	/* afterwards the queue works again */
	c->n = 0;
	EXPECT_INT(write_file(P(c, "later"), "x"), 0);
	EXPECT_EV(wait_for(c, 1, WATCH_CHANGED, "later"), c);
	teardown(c);
	return 0;
}

static int
t_no_low_descriptor_is_refused_not_a_crash(void)
{
	struct rlimit rl;
	int fds[FD_SETSIZE + 8], n = 0, r;
	struct watch *w = NULL;
	char dir[] = "/tmp/xs-test.XXXXXX";

	/* libinotifytools select()s on its descriptor: with every number
	 * below FD_SETSIZE taken, starting must fail cleanly */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max < FD_SETSIZE + 64)
		return unit_skip("RLIMIT_NOFILE too low to take FD_SETSIZE fds");
	if (rl.rlim_cur < FD_SETSIZE + 64) {
		rl.rlim_cur = FD_SETSIZE + 64;
		EXPECT_INT(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	EXPECT(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
	while (n < FD_SETSIZE + 8) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		EXPECT(fd >= 0, "open: %s", strerror(errno));
		fds[n++] = fd;
		if (fd >= FD_SETSIZE)
			break;
	}
	r = watch_new(dir, NULL, 0, &w);
	while (n > 0)
		close(fds[--n]);
	rmdir(dir);
	watch_free(w);
	EXPECT_INT(r, -EMFILE);
	EXPECT(w == NULL, "nothing returned");
	return 0;
}

static int
t_bad_root_is_refused(void)
{
	struct watch *w = NULL;

	EXPECT_INT(watch_new("/nonexistent/xs-test", NULL, 0, &w), -ENOENT);
	EXPECT_INT(watch_new("/etc/hostname", NULL, 0, &w), -ENOTDIR);
	EXPECT(w == NULL, "nothing returned");
	return 0;
}

static const struct unit_test tests[] = {
	{ "watch_write_close_burst_gives_at_most_two_changed",
	    t_write_close_burst_gives_at_most_two_changed },
	{ "watch_touch_of_new_empty_file_is_changed",
	    t_touch_of_new_empty_file_is_changed },
	{ "watch_closed_file_goes_out_at_once",
	    t_closed_file_goes_out_at_once },
	{ "watch_file_kept_open_and_appended_is_sent_every_max_hold",
	    t_file_kept_open_and_appended_is_sent_every_max_hold },
	{ "watch_file_modified_once_and_kept_open_is_sent_after_quiet",
	    t_file_modified_once_and_kept_open_is_sent_after_quiet },
	{ "watch_mkdir_p_reports_every_level_and_the_file_inside",
	    t_mkdir_p_reports_every_level_and_the_file_inside },
	{ "watch_file_rename_is_one_renamed", t_file_rename_is_one_renamed },
	{ "watch_rename_moves_a_pending_change_to_the_new_name",
	    t_rename_moves_a_pending_change_to_the_new_name },
	{ "watch_dir_rename_is_one_renamed_and_new_paths_follow",
	    t_dir_rename_is_one_renamed_and_new_paths_follow },
	{ "watch_dir_rename_with_many_subdirs_moves_every_watch",
	    t_dir_rename_with_many_subdirs_moves_every_watch },
	{ "watch_move_out_of_root_is_deleted", t_move_out_of_root_is_deleted },
	{ "watch_move_out_then_recreate_same_name",
	    t_move_out_then_recreate_same_name },
	{ "watch_dir_moved_in_reports_all_its_content",
	    t_dir_moved_in_reports_all_its_content },
	{ "watch_file_moved_in_is_changed", t_file_moved_in_is_changed },
	{ "watch_chmod_is_attrib", t_chmod_is_attrib },
	{ "watch_symlink_is_reported_at_once", t_symlink_is_reported_at_once },
	{ "watch_delete_is_deleted", t_delete_is_deleted },
	{ "watch_ignored_globs_and_tmp_files_never_reported",
	    t_ignored_globs_and_tmp_files_never_reported },
	{ "watch_ignore_dir_slash_skips_directories_not_files",
	    t_ignore_dir_slash_skips_directories_not_files },
	{ "watch_ignore_leading_slash_is_top_level_only",
	    t_ignore_leading_slash_is_top_level_only },
	{ "watch_ignore_path_pattern_is_anchored_with_all_below",
	    t_ignore_path_pattern_is_anchored_with_all_below },
	{ "watch_ignore_star_glob_matches_names_at_any_depth",
	    t_ignore_star_glob_matches_names_at_any_depth },
	{ "watch_ignore_path_pattern_follows_directory_renames",
	    t_ignore_path_pattern_follows_directory_renames },
	{ "watch_overflow_asks_for_full_rescan",
	    t_overflow_asks_for_full_rescan },
	{ "watch_watch_limit_degrades_and_keeps_running",
	    t_watch_limit_degrades_and_keeps_running },
	{ "watch_too_many_pending_changes_become_a_rescan",
	    t_too_many_pending_changes_become_a_rescan },
	{ "watch_restart_after_many_deleted_dirs_keeps_fd_and_works",
	    t_restart_after_many_deleted_dirs_keeps_fd_and_works },
	{ "watch_second_watcher_is_refused", t_second_watcher_is_refused },
	{ "watch_bad_root_is_refused", t_bad_root_is_refused },
	{ "watch_free_stops_the_thread_at_once",
	    t_free_stops_the_thread_at_once },
	{ "watch_queue_overflow_asks_for_full_rescan",
	    t_queue_overflow_asks_for_full_rescan },
	{ "watch_no_low_descriptor_is_refused_not_a_crash",
	    t_no_low_descriptor_is_refused_not_a_crash },
};

UNIT_MAIN(tests)

/* test_plan.c -- the master's planner on a real folder and store: what a
 * sequence of changes leaves in a slave's outbox (compaction of creates,
 * writes, deletes and renames of files and directories), what the index
 * then holds, and what reconciliation against a slave's manifest queues.
 *
 * A compaction case is a list of steps (each changes the disk, then tells
 * the planner as the watcher would) and the outbox and index it must end
 * with, written as text:
 *
 *   outbox  "put a; rename a->c; rmdir d"  what the slave will be sent,
 *                                          in order (seq, ties by path)
 *   index   "a d/ d/x l->a"                live records, in path order
 *
 * The store's "fresh" mark (the slave lacks the path) is not shown: it
 * is the store's bookkeeping, seen here only through what it makes the
 * outbox send, e.g. nothing at all for a file created and deleted.
 *
 * A few cases describe what the planner should do but does not yet; they
 * also name what it does now, and report SKIP (with why) while it does
 * exactly that, FAIL for anything else. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/crypto/crypto.h"
#include "store/store.h"
#include "sync/plan.h"
#include "sync/scan.h"
#include "tests/testutil.h"
#include "tests/unit.h"

#define SLAVE "slave@example.org"
#define T0 1700000000000000000LL	/* file times are T0 + 1 ms * n */

static const char *const ignores[] = {"*.o", "cache/"};

/* One fixture; a failed test leaves it up and the next setup or exit
 * takes it down. */
static struct fx {
	char dir[sizeof(TU_TMP_TEMPLATE)];	/* root/ and state.db */
	char root[64];
	struct store *s;
	struct plan *p;
	int64_t clock;		/* the next file mtime */
} fx;

static void
teardown(void)
{
	plan_free(fx.p);
	store_close(fx.s);
	fx.p = NULL;
	fx.s = NULL;
	if (fx.dir[0])
		tu_rmtree(fx.dir);
	fx.dir[0] = '\0';
}

/* A fresh folder and store; with_slave: SLAVE is registered first, so
 * every change is queued for it. */
static int
setup(int with_slave)
{
	static int registered;
	char db[96];

	if (!registered++)
		atexit(teardown);
	teardown();
	fx.clock = T0;
	if (tu_tmpdir(fx.dir, sizeof(fx.dir)) < 0)
		return -1;
	snprintf(fx.root, sizeof(fx.root), "%s/root", fx.dir);
	snprintf(db, sizeof(db), "%s/state.db", fx.dir);
	if (mkdir(fx.root, 0755) < 0 || store_open(db, &fx.s) < 0)
		return -1;
	if (with_slave && store_slave_add(fx.s, SLAVE, NULL) < 0)
		return -1;
	return plan_new(fx.root, fx.s, ignores, 2, &fx.p);
}

static const char *
P(const char *rel)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", fx.root, rel);
	return buf[i];
}

/* ---- reading the outbox and the index as text ----------------------- */

struct text {
	char s[2048];
	size_t n;
};

static void
text_add(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->s + t->n, sizeof(t->s) - t->n, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->n = t->n + (size_t)n < sizeof(t->s) ? t->n + (size_t)n :
		    sizeof(t->s) - 1;
}

static const char *const kind_names[] = {
	[STORE_OP_PUT] = "put", [STORE_OP_DELETE] = "delete",
	[STORE_OP_MKDIR] = "mkdir", [STORE_OP_RMDIR] = "rmdir",
	[STORE_OP_RENAME] = "rename", [STORE_OP_META] = "meta",
	[STORE_OP_SYMLINK] = "symlink",
};

static int
op_text(const struct store_op *op, void *arg)
{
	struct text *t = arg;

	text_add(t, "%s%s %s%s%s", t->n ? "; " : "", kind_names[op->kind],
	    op->src ? op->src : "", op->src ? "->" : "", op->path);
	return 0;
}

/* The slave's outbox as text (see the top of the file). */
static const char *
outbox(void)
{
	static struct text t;

	memset(&t, 0, sizeof(t));
	if (store_outbox_next(fx.s, SLAVE, 1000, op_text, &t) < 0)
		return "(error)";
	return t.s;
}

static int
record_text(const struct store_file *f, void *arg)
{
	struct text *t = arg;

	text_add(t, "%s%s%s%s%s", t->n ? " " : "", f->path,
	    f->type == STORE_DIR ? "/" : "",
	    f->type == STORE_SYMLINK ? "->" : "",
	    f->type == STORE_SYMLINK ? f->target : "");
	return 0;
}

static int
by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The outbox as text, entries sorted by name: for changes recorded by a
 * scan, whose seq order is the order readdir gave. */
static const char *
outbox_sorted(void)
{
	static char out[2048];
	char buf[2048], *item[64], *save = NULL;
	size_t n = 0, len = 0;

	snprintf(buf, sizeof(buf), "%s", outbox());
	for (char *t = strtok_r(buf, ";", &save); t && n < 64;
	    t = strtok_r(NULL, ";", &save))
		item[n++] = t + (*t == ' ');
	qsort(item, n, sizeof(item[0]), by_str);
	out[0] = '\0';
	for (size_t i = 0; i < n && len < sizeof(out); i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s",
		    i ? "; " : "", item[i]);
	return out;
}

/* The live index records as text. */
static const char *
index_text(void)
{
	static struct text t;

	memset(&t, 0, sizeof(t));
	if (store_file_list(fx.s, NULL, 1000, record_text, &t) < 0)
		return "(error)";
	return t.s;
}

struct acks {
	char path[64][128];
	int64_t seq[64];
	int n;
};

static int
collect_ack(const struct store_op *op, void *arg)
{
	struct acks *a = arg;

	if (a->n == 64)
		return -E2BIG;
	snprintf(a->path[a->n], sizeof(a->path[0]), "%s", op->path);
	a->seq[a->n++] = op->seq;
	return 0;
}

/* The slave applied everything pending: acknowledge each entry. */
static int
slave_synced(void)
{
	struct acks a = {.n = 0};
	int r;

	if ((r = store_outbox_next(fx.s, SLAVE, 64, collect_ack, &a)) < 0)
		return r;
	for (int i = 0; i < a.n; i++)
		if ((r = store_outbox_done(fx.s, SLAVE, a.path[i], a.seq[i])) < 0)
			return r;
	return 0;
}

/* ---- compaction: steps and the outbox they leave -------------------- */

enum step_op { END, WRITE, MKDIR, LINK, RM, MV, CHMOD, SYNCED };

struct step {
	enum step_op op;
	const char *a, *b;	/* path; content, target, new name or mode */
};

static int
set_mtime(const char *rel, int64_t ns)
{
	struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT},
	    {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000}};

	return utimensat(AT_FDCWD, P(rel), ts, AT_SYMLINK_NOFOLLOW);
}

/* What the master does with a watcher event for path: admit it at the
 * border, then record it. */
static int
changed(const char *path, int is_dir)
{
	return plan_admit(fx.p, path, is_dir) ? plan_path_changed(fx.p, path) : 0;
}

/* Makes the change on disk, then reports it the way the watcher does.
 * Every written file gets a new mtime, so a rewrite within one clock tick
 * still looks changed. Returns the planner's result, or -errno. */
static int
step_run(const struct step *s)
{
	switch (s->op) {
	case WRITE:
		if (tu_write_file(P(s->a), s->b, strlen(s->b), 0644) < 0 ||
		    set_mtime(s->a, fx.clock += 1000000) < 0)
			return -errno;
		return changed(s->a, 0);
	case MKDIR:
		if (mkdir(P(s->a), 0755) < 0)
			return -errno;
		return changed(s->a, 1);
	case LINK:
		if (symlink(s->b, P(s->a)) < 0)
			return -errno;
		return changed(s->a, 0);
	case RM:
		if (tu_rmtree(P(s->a)) < 0)
			return -EIO;
		return changed(s->a, 0);
	case MV: {
		struct stat st;
		int is_dir;
		if (rename(P(s->a), P(s->b)) < 0)
			return -errno;
		is_dir = lstat(P(s->b), &st) == 0 && S_ISDIR(st.st_mode);
		return plan_event_renamed(fx.p, s->a, s->b, is_dir);
	}
	case CHMOD:
		if (chmod(P(s->a), (mode_t)strtol(s->b, NULL, 8)) < 0)
			return -errno;
		return changed(s->a, 0);
	case SYNCED:
		return slave_synced();
	case END:
		break;
	}
	return -EINVAL;
}

struct pcase {
	const struct step *steps;
	const char *outbox;	/* what the slave must be sent */
	const char *index;	/* the live records afterwards */
};

static int
run_case(const struct pcase *c)
{
	const char *got;

	EXPECT_INT(setup(1), 0);
	for (const struct step *s = c->steps; s->op != END; s++) {
		int r = step_run(s);
		EXPECT(r == 0, "step %d (%s %s): %s", (int)(s - c->steps),
		    s->a ? s->a : "", s->b ? s->b : "", strerror(-r));
	}
	EXPECT_STR(index_text(), c->index);
	got = outbox();
	EXPECT_STR(got, c->outbox);
	return 0;
}

#define W(p, c)		{WRITE, p, c}
#define D(p)		{MKDIR, p, NULL}
#define L(p, t)		{LINK, p, t}
#define R(p)		{RM, p, NULL}
#define M(a, b)		{MV, a, b}
#define C(p, m)		{CHMOD, p, m}
#define S		{SYNCED, NULL, NULL}

/* CASE(name, outbox, index, steps...): a test t_name running the steps. */
#define CASE(name, ob, ix, ...)						\
	static int t_##name(void)					\
	{								\
		static const struct step steps[] = {__VA_ARGS__, {END}};	\
		static const struct pcase c = {steps, ob, ix};	\
		return run_case(&c);					\
	}
/* writes and deletes of one file */
CASE(create_then_modify_is_one_put, "put a", "a",
    W("a", "1"), W("a", "22"))
CASE(create_then_delete_is_nothing, "", "",
    W("a", "1"), W("a", "22"), R("a"))
CASE(modify_then_delete_of_synced_file_is_delete, "delete a", "",
    W("a", "1"), S, W("a", "22"), R("a"))
CASE(delete_then_recreate_is_put, "put a", "a",
    W("a", "1"), S, R("a"), W("a", "333"))
CASE(chmod_of_synced_file_is_meta, "meta a", "a",
    W("a", "1"), S, C("a", "600"))
CASE(chmod_of_pending_put_stays_put, "put a", "a",
    W("a", "1"), C("a", "600"))
CASE(symlink_is_symlink_op, "symlink l", "a l->a",
    W("a", "1"), S, L("l", "a"))
CASE(ignored_and_temp_files_are_not_queued, "", "",
    W("x.o", "1"), D("cache"), W("cache/f", "1"),
    W(".xmpp-sync-tmp.abc", "1"))

/* directories */
CASE(dir_and_contents_removed_before_sync_is_nothing, "", "",
    D("d"), W("d/x", "1"), D("d/e"), W("d/e/y", "1"), R("d"))
CASE(rmdir_of_synced_dir_deletes_children_first,
    "delete d/e/y; rmdir d/e; delete d/x; rmdir d", "",
    D("d"), W("d/x", "1"), D("d/e"), W("d/e/y", "1"), S, R("d"))
CASE(rmdir_keeps_one_delete_per_child_already_deleted,
    "delete d/x; delete d/y; rmdir d", "",
    D("d"), W("d/x", "1"), W("d/y", "1"), S, R("d/x"), R("d"))
CASE(pending_dir_stays_before_children_after_chmod,
    "mkdir d; mkdir d/s", "d/ d/s/",
    D("d"), D("d/s"), C("d", "700"))
/* making d/x changes d's mtime, which the rename then records */
CASE(mkdir_then_rename_dir_creates_it_at_new_name,
    "mkdir e; put e/x", "e/ e/x",
    D("d"), W("d/x", "1"), M("d", "e"))
CASE(mkdir_rename_rmdir_is_nothing, "", "",
    D("d"), M("d", "e"), R("e"))

/* renames */
CASE(rename_of_synced_file_is_rename_only, "rename a->b", "b",
    W("a", "1"), S, M("a", "b"))
CASE(rename_of_synced_dir_moves_subtree_in_one_op, "rename d->e",
    "e/ e/s/ e/s/y e/x",
    D("d"), W("d/x", "1"), D("d/s"), W("d/s/y", "1"), S, M("d", "e"))
CASE(rename_chain_is_one_rename, "rename a->c", "c",
    W("a", "1"), S, M("a", "b"), M("b", "c"))
CASE(rename_and_back_is_meta_only, "meta a", "a",
    W("a", "1"), S, M("a", "b"), M("b", "a"))
CASE(rename_then_modify_sends_content_and_deletes_old,
    "put b; delete a", "b",
    W("a", "1"), S, M("a", "b"), W("b", "22"))
CASE(rename_of_pending_put_is_put_of_new_name, "put b", "b",
    W("a", "1"), M("a", "b"))
CASE(create_rename_delete_is_nothing, "", "",
    W("a", "1"), M("a", "b"), R("b"))
CASE(rename_onto_synced_file_replaces_it, "rename a->b", "b",
    W("a", "1"), W("b", "22"), S, M("a", "b"))
CASE(rename_then_delete_deletes_source, "delete a", "",
    W("a", "1"), S, M("a", "b"), R("b"))
CASE(rename_into_ignored_name_is_delete, "delete a", "",
    W("a", "1"), S, M("a", "a.o"))
CASE(rename_from_ignored_name_is_put, "put b", "b",
    W("a.o", "1"), S, M("a.o", "b"))
CASE(rename_of_dir_with_pending_child_moves_child,
    "rename d->e; put e/y", "e/ e/x e/y",
    D("d"), W("d/x", "1"), S, W("d/y", "2"), M("d", "e"))

/* ---- the planner's other promises ----------------------------------- */

struct seq_of {
	const char *path;
	int64_t seq;
};

static int
find_seq(const struct store_op *op, void *arg)
{
	struct seq_of *s = arg;

	if (strcmp(op->path, s->path) == 0)
		s->seq = op->seq;
	return 0;
}

static int
t_queued_op_carries_latest_seq(void)
{
	static const struct step st[] = {W("a", "1"), W("b", "1"),
	    W("a", "22"), {END}};
	struct store_file f;
	struct seq_of q = {"a", -1};
	int64_t fan = -1, last = -1;

	EXPECT_INT(setup(1), 0);
	for (const struct step *s = st; s->op != END; s++)
		EXPECT_INT(step_run(s), 0);
	EXPECT_INT(store_file_load(fx.s, "a", &f), 0);
	EXPECT_INT(f.seq, 3);
	store_file_clear(&f);
	EXPECT_INT(store_outbox_next(fx.s, SLAVE, 10, find_seq, &q), 0);
	EXPECT_INT(q.seq, 3);
	/* a keeps its place in the queue: a file that keeps changing is
	 * not pushed back behind everything queued after it */
	EXPECT_STR(outbox(), "put a; put b");
	EXPECT_INT(store_last_seq(fx.s, &last), 0);
	EXPECT_INT(store_meta_get_int(fx.s, PLAN_META_FANOUT, &fan), 0);
	EXPECT_INT(fan, last);
	return 0;
}

static int
t_every_active_slave_gets_the_op(void)
{
	static const struct step st[] = {W("a", "1"), {END}};
	int64_t n = -1;

	EXPECT_INT(setup(1), 0);
	EXPECT_INT(store_slave_add(fx.s, "other@example.org", NULL), 0);
	EXPECT_INT(store_slave_add(fx.s, "gone@example.org", NULL), 0);
	EXPECT_INT(store_slave_remove(fx.s, "gone@example.org"), 0);
	EXPECT_INT(step_run(st), 0);
	EXPECT_INT(store_outbox_count(fx.s, SLAVE, &n), 0);
	EXPECT_INT(n, 1);
	EXPECT_INT(store_outbox_count(fx.s, "other@example.org", &n), 0);
	EXPECT_INT(n, 1);
	EXPECT_INT(store_outbox_count(fx.s, "gone@example.org", &n), 0);
	EXPECT_INT(n, 0);
	return 0;
}

/* A directory renamed from a name the index never had (it appeared and
 * moved before anything recorded it) brings its whole content. */
static int
t_rename_of_unknown_dir_records_its_content(void)
{
	EXPECT_INT(setup(1), 0);
	EXPECT_INT(mkdir(P("d"), 0755), 0);
	EXPECT_INT(mkdir(P("d/sub"), 0755), 0);
	EXPECT_INT(tu_write_file(P("d/x"), "1", 1, 0644), 0);
	EXPECT_INT(tu_write_file(P("d/sub/y"), "22", 2, 0644), 0);
	EXPECT_INT(tu_write_file(P("d/sub/skip.o"), "3", 1, 0644), 0);
	EXPECT_INT(rename(P("d"), P("e")), 0);
	EXPECT_INT(plan_event_renamed(fx.p, "d", "e", 1), 0);
	EXPECT_STR(index_text(), "e/ e/sub/ e/sub/y e/x");
	/* parents first; siblings in the order the directory lists them */
	const char *ob = outbox();
	const char *sub = strstr(ob, "mkdir e/sub;"), *y = strstr(ob, "put e/sub/y");
	EXPECT(strncmp(ob, "mkdir e;", 8) == 0, "outbox %s", ob);
	EXPECT(sub && y && sub < y && strstr(ob, "put e/x"), "outbox %s", ob);
	EXPECT(strstr(ob, "skip.o") == NULL, "outbox %s", ob);
	return 0;
}

/* A file written into a new directory before the watcher saw it, then
 * moved with the directory: the rename brings it into the index. */
static int
t_rename_records_what_no_event_reported(void)
{
	EXPECT_INT(setup(1), 0);
	EXPECT_INT(mkdir(P("d"), 0755), 0);
	EXPECT_INT(changed("d", 1), 0);
	EXPECT_INT(tu_write_file(P("d/x"), "1", 1, 0644), 0);
	EXPECT_INT(rename(P("d"), P("e")), 0);
	EXPECT_INT(plan_event_renamed(fx.p, "d", "e", 1), 0);
	EXPECT_STR(index_text(), "e/ e/x");
	EXPECT_STR(outbox(), "mkdir e; put e/x");
	return 0;
}

/* The border refuses unsafe names and reports ignored ones; a rename
 * onto an unsafe name is the deletion of its source for the slaves. */
static int
t_border_refuses_unsafe_paths(void)
{
	static const char *const bad[] = {"../x", "/abs", "a//b", "a/./b", "",
	    "a/", ".xmpp-sync-tmp.1", "d/.xmpp-sync-tmp.1/x"};

	EXPECT_INT(setup(1), 0);
	EXPECT_INT(tu_write_file(P("a"), "1", 1, 0644), 0);
	EXPECT_INT(plan_path_changed(fx.p, "a"), 0);
	EXPECT_INT(slave_synced(), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_INT(plan_path_check(fx.p, bad[i], 0), -EINVAL);
		EXPECT_INT(plan_admit(fx.p, bad[i], 0), 0);
		EXPECT_INT(changed(bad[i], 0), 0);
	}
	EXPECT_INT(plan_path_check(fx.p, "x.o", 0), -EPERM);
	EXPECT_INT(plan_path_check(fx.p, "cache", 1), -EPERM);
	EXPECT_INT(plan_path_check(fx.p, "cache", 0), 0);
	EXPECT_INT(plan_path_check(fx.p, "a", 0), 0);
	EXPECT_STR(index_text(), "a");
	EXPECT_STR(outbox(), "");
	EXPECT_INT(rename(P("a"), P("a.o")), 0);
	EXPECT_INT(plan_event_renamed(fx.p, "a", "../a", 0), 0);
	EXPECT_STR(outbox(), "delete a");
	return 0;
}

static int
t_hash_needed_only_for_changed_regular_files(void)
{
	int64_t size = -1;

	EXPECT_INT(setup(1), 0);
	EXPECT_INT(tu_write_file(P("a"), "hello", 5, 0644), 0);
	EXPECT_INT(tu_write_file(P("x.o"), "hello", 5, 0644), 0);
	EXPECT_INT(mkdir(P("d"), 0755), 0);
	EXPECT_INT(symlink("a", P("l")), 0);
	EXPECT_INT(plan_hash_needed(fx.p, "a", &size), 1);
	EXPECT_INT(size, 5);
	EXPECT_INT(plan_hash_needed(fx.p, "d", &size), 0);
	EXPECT_INT(plan_hash_needed(fx.p, "l", &size), 0);
	EXPECT_INT(plan_hash_needed(fx.p, "missing", &size), 0);
	EXPECT_INT(plan_path_changed(fx.p, "a"), 0);
	EXPECT_INT(plan_hash_needed(fx.p, "a", &size), 0);
	EXPECT_INT(tu_write_file(P("a"), "hello!", 6, 0644), 0);
	EXPECT_INT(plan_hash_needed(fx.p, "a", &size), 1);
	EXPECT_INT(size, 6);
	return 0;
}

static int
t_path_hashed_uses_given_checksum_or_says_again(void)
{
	struct stat st;
	struct store_file f;
	uint8_t sha[32];
	int64_t mt;

	memset(sha, 0xab, sizeof(sha));	/* not the real checksum */
	EXPECT_INT(setup(1), 0);
	EXPECT_INT(tu_write_file(P("big"), "0123456789", 10, 0644), 0);
	EXPECT_INT(lstat(P("big"), &st), 0);
	mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	EXPECT_INT(plan_path_hashed(fx.p, "big", 9, mt, sha, NULL), -EAGAIN);
	EXPECT_INT(plan_path_hashed(fx.p, "big", 10, mt + 1, sha, NULL), -EAGAIN);
	EXPECT_STR(outbox(), "");
	EXPECT_INT(plan_path_hashed(fx.p, "big", 10, mt, sha, NULL), 0);
	EXPECT_INT(store_file_load(fx.s, "big", &f), 0);
	EXPECT(f.has_sha256 && memcmp(f.sha256, sha, 32) == 0,
	    "the index holds the checksum computed elsewhere");
	EXPECT_INT(f.size, 10);
	store_file_clear(&f);
	EXPECT_STR(outbox(), "put big");
	/* gone while hashed: recorded as gone */
	EXPECT_INT(unlink(P("big")), 0);
	EXPECT_INT(plan_path_hashed(fx.p, "big", 10, mt, sha, NULL), 0);
	EXPECT_STR(index_text(), "");
	EXPECT_STR(outbox(), "");
	return 0;
}

static int
t_fanout_queues_scanned_changes_once(void)
{
	static const struct tu_node tree[] = {
		{.path = "a", .content = "1"},
		{.path = "d/"},
		{.path = "d/x", .content = "2"},
		{.path = "l", .link = "a"},
	};
	struct scan_opts o = {.ignore = ignores, .n_ignore = 2};
	struct scan_stats ss;

	EXPECT_INT(setup(1), 0);
	EXPECT_INT(tu_tree_make(fx.root, tree, 4), 0);
	o.root = fx.root;
	EXPECT_INT(scan_run(fx.s, &o, &ss), 0);
	EXPECT_STR(outbox(), "");	/* the scan only records */
	EXPECT_INT(plan_fanout(fx.p), 0);
	EXPECT_STR(outbox_sorted(), "mkdir d; put a; put d/x; symlink l");
	EXPECT_INT(slave_synced(), 0);
	EXPECT_INT(plan_fanout(fx.p), 0);
	EXPECT_STR(outbox(), "");
	EXPECT_INT(unlink(P("a")), 0);	/* the root itself has no record */
	EXPECT_INT(scan_run(fx.s, &o, &ss), 0);
	EXPECT_INT(plan_fanout(fx.p), 0);
	EXPECT_STR(outbox(), "delete a");
	return 0;
}

/* ---- reconciliation against a manifest ------------------------------ */

#define T1 1600000000123456789LL

/* The master: two files, a directory, a symlink, all with fixed times. */
static const struct tu_node master[] = {
	{.path = "a.txt", .content = "alpha", .mtime_ns = T1},
	{.path = "d/", .mtime_ns = T1},
	{.path = "d/b.txt", .content = "beta", .mode = 0600, .mtime_ns = T1},
	{.path = "l", .link = "a.txt", .mtime_ns = T1},
};
#define NMASTER (sizeof(master) / sizeof(master[0]))

struct manifest {
	struct plan_entry e[16];
	size_t n;
};

static int
add_entry(const struct store_file *f, void *arg)
{
	struct manifest *m = arg;
	struct plan_entry *e = &m->e[m->n];

	if (m->n == 16)
		return -E2BIG;
	memset(e, 0, sizeof(*e));
	if ((e->path = strdup(f->path)) == NULL ||
	    (f->target && (e->target = strdup(f->target)) == NULL))
		return -ENOMEM;
	e->type = f->type;
	e->size = f->size;
	e->mtime_ns = f->mtime_ns;
	e->mode = f->mode;
	e->has_sha256 = f->has_sha256;
	memcpy(e->sha256, f->sha256, 32);
	m->n++;
	return 0;
}

/* Records the master tree (nodes; n may be 0), registers SLAVE only
 * afterwards so its outbox starts empty, and fills m with what a slave in
 * perfect sync would report. */
static int
reconcile_setup(const struct tu_node *nodes, size_t n, struct manifest *m)
{
	memset(m, 0, sizeof(*m));
	if (setup(0) < 0 || (n && tu_tree_make(fx.root, nodes, n) < 0))
		return -1;
	for (size_t i = 0; i < n; i++) {
		char p[128];
		size_t len = strlen(nodes[i].path);
		if (nodes[i].path[len - 1] == '/')	/* "d/" names d */
			len--;
		snprintf(p, sizeof(p), "%.*s", (int)len, nodes[i].path);
		if (plan_path_changed(fx.p, p) < 0)
			return -1;
	}
	if (store_slave_add(fx.s, SLAVE, NULL) < 0)
		return -1;
	return store_file_list(fx.s, NULL, 16, add_entry, m);
}

static struct plan_entry *
entry(struct manifest *m, const char *path)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->e[i].path, path) == 0)
			return &m->e[i];
	return NULL;
}

static void
drop(struct manifest *m, const char *path)
{
	struct plan_entry *e = entry(m, path);

	if (e == NULL)
		return;
	plan_entries_clear(e, 1);
	*e = m->e[--m->n];
}

static void
extra(struct manifest *m, const char *path, enum store_ftype type)
{
	struct plan_entry *e = &m->e[m->n];

	if (m->n == sizeof(m->e) / sizeof(m->e[0]))
		return;
	m->n++;
	memset(e, 0, sizeof(*e));
	e->path = strdup(path);
	e->type = type;
	e->mode = type == STORE_DIR ? 0755 : 0644;
	e->mtime_ns = T1;
	if (type == STORE_FILE) {
		e->size = 3;
		e->has_sha256 = 1;
	}
}

/* Reconciles m (delete_extras as given), frees it, and checks the count
 * and the outbox. */
static int
reconcile_is(struct manifest *m, int delete_extras, int64_t want_n,
    const char *want)
{
	int64_t queued = -1, n = -1;
	int r = plan_reconcile(fx.p, SLAVE, m->e, m->n, delete_extras, &queued);

	plan_entries_clear(m->e, m->n);
	m->n = 0;
	EXPECT_INT(r, 0);
	EXPECT_STR(outbox(), want);
	EXPECT_INT(queued, want_n);
	EXPECT_INT(store_outbox_count(fx.s, SLAVE, &n), 0);
	EXPECT_INT(n, want_n);
	return 0;
}

static int
t_reconcile_identical_manifest_queues_nothing(void)
{
	struct manifest m;

	EXPECT_INT(reconcile_setup(master, NMASTER, &m), 0);
	EXPECT_INT(m.n, 4);
	/* any order: reversed */
	for (size_t i = 0; i < m.n / 2; i++) {
		struct plan_entry t = m.e[i];
		m.e[i] = m.e[m.n - 1 - i];
		m.e[m.n - 1 - i] = t;
	}
	return reconcile_is(&m, 1, 0, "");
}

static int
t_reconcile_empty_manifest_sends_everything(void)
{
	struct manifest m;

	EXPECT_INT(reconcile_setup(master, NMASTER, &m), 0);
	plan_entries_clear(m.e, m.n);
	m.n = 0;
	return reconcile_is(&m, 1, 4, "put a.txt; mkdir d; "
	    "put d/b.txt; symlink l");
}

static int
t_reconcile_missing_file_is_put(void)
{
	struct manifest m;

	EXPECT_INT(reconcile_setup(master, NMASTER, &m), 0);
	drop(&m, "d/b.txt");
	return reconcile_is(&m, 1, 1, "put d/b.txt");
}

static int
t_reconcile_other_checksum_is_put(void)
{
	struct manifest m;

	EXPECT_INT(reconcile_setup(master, NMASTER, &m), 0);
	entry(&m, "a.txt")->sha256[31] ^= 1;	/* same size and mtime */
	entry(&m, "d/b.txt")->has_sha256 = 0;	/* checksum unknown */
	return reconcile_is(&m, 1, 2, "put a.txt; put d/b.txt");
}

static int
t_reconcile_other_size_is_put(void)
{
	struct manifest m;

	EXPECT_INT(reconcile_setup(master, NMASTER, &m), 0);
	entry(&m, "a.txt")->size = 4;
	return reconcile_is(&m, 1, 1, "put a.txt");
}

static int
t_reconcile_metadata_only_is_meta_or_mkdir(void)
{
	struct manifest m;

	EXPECT_INT(reconcile_setup(master, NMASTER, &m), 0);
	entry(&m, "a.txt")->mtime_ns = T1 + 1;
	entry(&m, "d/b.txt")->mode = 0644;
	entry(&m, "d")->mode = 0700;
	return reconcile_is(&m, 1, 3, "meta a.txt; mkdir d; meta d/b.txt");
}

/* A slave holds what it may apply of the master's modes
 * (store_mode_mirrored): that is in sync; a special bit it holds and the
 * master does not is a difference. */
static int
t_reconcile_compares_mirrored_modes(void)
{
	static const struct tu_node special[] = {
		{.path = "g/", .mode = 03775, .mtime_ns = T1},
		{.path = "g/s", .content = "setuid", .mode = 06755,
		 .mtime_ns = T1},
		{.path = "p", .content = "plain", .mode = 0755, .mtime_ns = T1},
	};
	struct manifest m;

	EXPECT_INT(reconcile_setup(special, 3, &m), 0);
	EXPECT_INT(entry(&m, "g/s")->mode, 06755);	/* the master's own */
	entry(&m, "g")->mode = 01775;
	entry(&m, "g/s")->mode = 0755;
	if (reconcile_is(&m, 1, 0, "") < 0)
		return -1;
	EXPECT_INT(reconcile_setup(special, 3, &m), 0);
	entry(&m, "g")->mode = 03775;		/* set on the slave itself */
	entry(&m, "g/s")->mode = 0755;
	entry(&m, "p")->mode = 04755;
	return reconcile_is(&m, 1, 2, "mkdir g; meta p");
}

static int
t_reconcile_dir_mtime_alone_costs_nothing(void)
{
	struct manifest m;

	EXPECT_INT(reconcile_setup(master, NMASTER, &m), 0);
	entry(&m, "d")->mtime_ns = T1 + 5;	/* changes with every entry */
	return reconcile_is(&m, 1, 0, "");
}

static int
t_reconcile_symlink_target_or_time_is_symlink(void)
{
	struct manifest m;

	EXPECT_INT(reconcile_setup(master, NMASTER, &m), 0);
	free(entry(&m, "l")->target);
	entry(&m, "l")->target = strdup("d/b.txt");
	EXPECT_INT(reconcile_is(&m, 1, 1, "symlink l"), 0);
	EXPECT_INT(reconcile_setup(master, NMASTER, &m), 0);
	entry(&m, "l")->mtime_ns = T1 - 1;
	return reconcile_is(&m, 1, 1, "symlink l");
}

static int
t_reconcile_other_type_is_replaced(void)
{
	struct manifest m;

	EXPECT_INT(reconcile_setup(master, NMASTER, &m), 0);
	drop(&m, "a.txt");
	extra(&m, "a.txt", STORE_DIR);	/* the slave has a directory */
	extra(&m, "a.txt/in", STORE_FILE);
	return reconcile_is(&m, 1, 2, "put a.txt; delete a.txt/in");
}

static int
t_reconcile_extras_deleted_unless_delete_no(void)
{
	struct manifest m;

	EXPECT_INT(reconcile_setup(master, NMASTER, &m), 0);
	extra(&m, "extra", STORE_FILE);
	extra(&m, "xd", STORE_DIR);
	extra(&m, "xd/y", STORE_FILE);
	extra(&m, "d/extra", STORE_FILE);
	EXPECT_INT(reconcile_is(&m, 1, 4,
	    "delete d/extra; delete extra; rmdir xd; delete xd/y"), 0);
	EXPECT_INT(reconcile_setup(master, NMASTER, &m), 0);
	extra(&m, "extra", STORE_FILE);
	extra(&m, "xd", STORE_DIR);
	return reconcile_is(&m, 0, 0, "");
}

static int
t_reconcile_empty_master(void)
{
	struct manifest m;
	int64_t queued = -1;

	EXPECT_INT(reconcile_setup(NULL, 0, &m), 0);
	EXPECT_INT(m.n, 0);
	EXPECT_INT(plan_reconcile(fx.p, SLAVE, NULL, 0, 1, &queued), 0);
	EXPECT_INT(queued, 0);
	EXPECT_INT(reconcile_is(&m, 1, 0, ""), 0);	/* both empty */
	extra(&m, "f", STORE_FILE);
	extra(&m, "g", STORE_DIR);
	extra(&m, "g/h", STORE_FILE);
	EXPECT_INT(reconcile_is(&m, 0, 0, ""), 0);
	extra(&m, "f", STORE_FILE);
	extra(&m, "g", STORE_DIR);
	extra(&m, "g/h", STORE_FILE);
	return reconcile_is(&m, 1, 3, "delete f; rmdir g; delete g/h");
}

static int
t_reconcile_unknown_slave_queues_nothing(void)
{
	struct manifest m;
	int64_t queued = -1;

	EXPECT_INT(reconcile_setup(master, NMASTER, &m), 0);
	drop(&m, "a.txt");
	EXPECT_INT(plan_reconcile(fx.p, "nobody@example.org", m.e, m.n, 1,
	    &queued), -ENOENT);
	plan_entries_clear(m.e, m.n);
	EXPECT_STR(outbox(), "");
	return 0;
}

/* ---- repairs from a digest comparison ------------------------------- */

/* The master tree with SLAVE registered and its outbox empty; d was
 * chmodded last, so its seq is above that of d/b.txt. */
static int
repair_setup(void)
{
	struct manifest m;
	int64_t last = 0;

	if (reconcile_setup(master, NMASTER, &m) < 0)
		return -1;
	plan_entries_clear(m.e, m.n);
	if (chmod(P("d"), 0750) < 0 || plan_path_changed(fx.p, "d") < 0 ||
	    store_last_seq(fx.s, &last) < 0 ||
	    store_outbox_done(fx.s, SLAVE, "d", last) < 0)
		return -1;
	return strcmp(outbox(), "") == 0 ? 0 : -1;
}

static int
repair_is(const char *path, enum store_ftype theirs, int delete_extras,
    int64_t want_n, const char *want)
{
	int64_t queued = -1;

	EXPECT_INT(plan_repair(fx.p, SLAVE, path, theirs, delete_extras,
	    &queued), 0);
	EXPECT_INT(queued, want_n);
	EXPECT_STR(outbox(), want);
	return 0;
}

static int
t_repair_of_missing_dir_queues_subtree_dir_first(void)
{
	EXPECT_INT(repair_setup(), 0);
	return repair_is("d", 0, 1, 2, "mkdir d; put d/b.txt");
}

static int
t_repair_of_dir_held_as_file_queues_subtree(void)
{
	EXPECT_INT(repair_setup(), 0);
	return repair_is("d", STORE_FILE, 1, 2, "mkdir d; put d/b.txt");
}

static int
t_repair_of_dir_on_both_sides_is_mkdir_only(void)
{
	EXPECT_INT(repair_setup(), 0);
	return repair_is("d", STORE_DIR, 1, 1, "mkdir d");
}

static int
t_repair_of_differing_file_or_link_is_its_record(void)
{
	EXPECT_INT(repair_setup(), 0);
	EXPECT_INT(repair_is("a.txt", STORE_FILE, 1, 1, "put a.txt"), 0);
	EXPECT_INT(repair_is("l", 0, 1, 1, "put a.txt; symlink l"), 0);
	EXPECT_INT(repair_setup(), 0);
	return repair_is("a.txt", STORE_DIR, 1, 1, "put a.txt");
}

static int
t_repair_of_extra_deletes_unless_delete_no(void)
{
	EXPECT_INT(repair_setup(), 0);
	EXPECT_INT(repair_is("extra", STORE_FILE, 0, 0, ""), 0);
	EXPECT_INT(repair_is("xd", STORE_DIR, 0, 0, ""), 0);
	EXPECT_INT(repair_is("gone", 0, 1, 0, ""), 0);
	EXPECT_INT(repair_is("extra", STORE_FILE, 1, 1, "delete extra"), 0);
	return repair_is("xd", STORE_DIR, 1, 1, "delete extra; rmdir xd");
}

static int
t_repair_for_unknown_slave_queues_nothing(void)
{
	int64_t queued = -1;

	EXPECT_INT(repair_setup(), 0);
	EXPECT_INT(plan_repair(fx.p, "nobody@example.org", "d", 0, 1,
	    &queued), -ENOENT);
	EXPECT_INT(queued, 0);
	EXPECT_STR(outbox(), "");
	return 0;
}

#define T(name) {#name, t_##name}

static const struct unit_test tests[] = {
	T(create_then_modify_is_one_put),
	T(create_then_delete_is_nothing),
	T(modify_then_delete_of_synced_file_is_delete),
	T(delete_then_recreate_is_put),
	T(chmod_of_synced_file_is_meta),
	T(chmod_of_pending_put_stays_put),
	T(symlink_is_symlink_op),
	T(ignored_and_temp_files_are_not_queued),
	T(dir_and_contents_removed_before_sync_is_nothing),
	T(rmdir_of_synced_dir_deletes_children_first),
	T(rmdir_keeps_one_delete_per_child_already_deleted),
	T(pending_dir_stays_before_children_after_chmod),
	T(mkdir_then_rename_dir_creates_it_at_new_name),
	T(mkdir_rename_rmdir_is_nothing),
	T(rename_of_synced_file_is_rename_only),
	T(rename_of_synced_dir_moves_subtree_in_one_op),
	T(rename_chain_is_one_rename),
	T(rename_and_back_is_meta_only),
	T(rename_then_modify_sends_content_and_deletes_old),
	T(rename_of_pending_put_is_put_of_new_name),
	T(create_rename_delete_is_nothing),
	T(rename_onto_synced_file_replaces_it),
	T(rename_then_delete_deletes_source),
	T(rename_into_ignored_name_is_delete),
	T(rename_from_ignored_name_is_put),
	T(rename_of_dir_with_pending_child_moves_child),
	T(queued_op_carries_latest_seq),
	T(every_active_slave_gets_the_op),
	T(border_refuses_unsafe_paths),
	T(rename_of_unknown_dir_records_its_content),
	T(rename_records_what_no_event_reported),
	T(hash_needed_only_for_changed_regular_files),
	T(path_hashed_uses_given_checksum_or_says_again),
	T(fanout_queues_scanned_changes_once),
	T(reconcile_identical_manifest_queues_nothing),
	T(reconcile_empty_manifest_sends_everything),
	T(reconcile_missing_file_is_put),
	T(reconcile_other_checksum_is_put),
	T(reconcile_other_size_is_put),
	T(reconcile_metadata_only_is_meta_or_mkdir),
	T(reconcile_compares_mirrored_modes),
	T(reconcile_dir_mtime_alone_costs_nothing),
	T(reconcile_symlink_target_or_time_is_symlink),
	T(reconcile_other_type_is_replaced),
	T(reconcile_extras_deleted_unless_delete_no),
	T(reconcile_empty_master),
	T(reconcile_unknown_slave_queues_nothing),
	T(repair_of_missing_dir_queues_subtree_dir_first),
	T(repair_of_dir_held_as_file_queues_subtree),
	T(repair_of_dir_on_both_sides_is_mkdir_only),
	T(repair_of_differing_file_or_link_is_its_record),
	T(repair_of_extra_deletes_unless_delete_no),
	T(repair_for_unknown_slave_queues_nothing),
};

int
main(int argc, char **argv)
{
	if (crypto_global_init() < 0) {
		printf("FAIL test_plan.c/init: libgcrypt\n");
		return 1;
	}
	return unit_run("test_plan.c", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
}

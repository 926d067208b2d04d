/* test_apply_local.c -- the slave's own changes and its area: what the
 * applier wrote is never taken for a local change; an edit, a new file,
 * a new directory, a deletion and a chmod are each found, kept below
 * .xmpp-sync/local/ and recorded; a local version the watcher has not
 * reported yet is moved away before the applier replaces it; versions
 * are kept and expire. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "sync/apply.h"
#include "sync/apply_int.h"	/* the install in progress */
#include "sync/path.h"
#include "sync/scan.h"
#include "tests/testutil.h"
#include "tests/unit.h"

#define T1 1700000000123456789LL
#define DAY 86400

static const char *const ignores[] = {"*.o"};

static struct fx {
	char dir[64];
	char root[96];
	struct store *s;
	struct apply *a;
} fx;

static void
teardown(void)
{
	apply_free(fx.a);
	store_close(fx.s);
	fx.a = NULL;
	fx.s = NULL;
	if (fx.dir[0])
		tu_rmtree(fx.dir);
	fx.dir[0] = '\0';
}

static int
setup(void)
{
	static int registered;
	char db[128];

	if (!registered++) {
		atexit(teardown);
		if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
			gcry_check_version(NULL);
			gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
		}
	}
	teardown();
	if (tu_tmpdir(fx.dir, sizeof(fx.dir)) < 0)
		return -1;
	snprintf(fx.root, sizeof(fx.root), "%s/root", fx.dir);
	snprintf(db, sizeof(db), "%s/state.db", fx.dir);
	if (mkdir(fx.root, 0755) < 0 || store_open(db, &fx.s) < 0)
		return -1;
	return apply_open(fx.root, fx.s, ignores, 1, &fx.a);
}

/* ---- helpers --------------------------------------------------------- */

static const char *
P(const char *rel)
{
	static char buf[4][1024];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", fx.root, rel);
	return buf[i];
}

static int
put_str(const char *path, const char *s)
{
	struct apply_put *p;
	uint8_t sha[32];
	uint64_t have;
	int r;

	gcry_md_hash_buffer(GCRY_MD_SHA256, sha, s, strlen(s));
	if ((r = apply_put_begin(fx.a, path, strlen(s), sha, 0644, T1, &p,
	    &have)) < 0)
		return r;
	if ((r = apply_put_write(p, s, strlen(s))) < 0) {
		apply_put_abort(p, 0);
		return r;
	}
	return apply_put_finish(p);
}

static int
write_str(const char *rel, const char *s)
{
	return tu_write_file(P(rel), s, strlen(s), 0644);
}

/* Whether the file rel holds exactly s. */
static int
holds(const char *rel, const char *s)
{
	char *buf = NULL;
	int ok = tu_read_file(P(rel), &buf, NULL) == 0 && strcmp(buf, s) == 0;

	free(buf);
	return ok;
}

static int
exists(const char *rel)
{
	struct stat st;

	return lstat(P(rel), &st) == 0;
}

/* 1 live, 0 tombstone, -ENOENT never recorded. */
static int
live(const char *path)
{
	struct store_file f;
	int r = store_file_load(fx.s, path, &f);

	if (r < 0)
		return r;
	r = !f.deleted;
	store_file_clear(&f);
	return r;
}

/* Sets out to the one name in directory rel (relative to the root);
 * returns how many names it holds. */
static int
only_name(const char *rel, char *out, size_t len)
{
	DIR *d = opendir(P(rel));
	struct dirent *de;
	int n = 0;

	out[0] = '\0';
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    n++ == 0)
			snprintf(out, len, "%s", de->d_name);
	closedir(d);
	return n;
}

/* The kept local version of path: .xmpp-sync/local/STAMP/path for the
 * first STAMP that has it (a test may straddle a second). */
static const char *
kept(const char *path)
{
	static char buf[512];
	DIR *d = opendir(P(".xmpp-sync/local"));
	struct dirent *de;

	snprintf(buf, sizeof(buf), ".xmpp-sync/local/none/%.256s", path);
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(buf, sizeof(buf), ".xmpp-sync/local/%.64s/%.256s",
		    de->d_name, path);
		if (exists(buf))
			break;
	}
	if (d)
		closedir(d);
	return buf;
}

/* What the callback saw, as "kind:path " words. */
static char seen[2048];

static void
on_change(const char *path, enum apply_local_kind kind, void *arg)
{
	static const char *const names[] = {"?", "modified", "created",
	    "deleted"};
	size_t n = strlen(seen);

	(void)arg;
	snprintf(seen + n, sizeof(seen) - n, "%s:%s ", names[kind], path);
}

static int
local(const char *path, int deep)
{
	seen[0] = '\0';
	return apply_local_check(fx.a, path, deep, time(NULL), on_change, NULL);
}

/* A small tree as the applier makes it: a.txt, d/, d/b.txt, l -> a.txt. */
static int
applied_tree(void)
{
	int r;

	if ((r = put_str("a.txt", "master a\n")) < 0 ||
	    (r = apply_mkdir(fx.a, "d", 0755, T1)) < 0 ||
	    (r = put_str("d/b.txt", "master b\n")) < 0 ||
	    (r = apply_meta(fx.a, "d", 0755, T1)) < 0)
		return r;
	return apply_symlink(fx.a, "l", "a.txt", T1);
}

/* ---- tests ----------------------------------------------------------- */

/* Every kind of operation the applier performs, then each path and the
 * whole tree compared: nothing is a local change, nothing is kept. */
static int
t_applier_writes_are_not_local_changes(void)
{
	static const char *const paths[] = {"a.txt", "d", "d/b.txt", "l",
	    "e", "e/c.txt", "gone.txt", "n"};
	int sum = 0;

	EXPECT_INT(setup(), 0);
	EXPECT_INT(applied_tree(), 0);
	EXPECT_INT(put_str("a.txt", "master a, again\n"), 0);
	EXPECT_INT(apply_rename(fx.a, "d", "e", 0750, T1), 0);
	EXPECT_INT(put_str("gone.txt", "x"), 0);
	EXPECT_INT(apply_delete(fx.a, "gone.txt"), 0);
	EXPECT_INT(apply_mkdir(fx.a, "n", 0700, T1), 0);
	EXPECT_INT(apply_meta(fx.a, "a.txt", 0600, T1), 0);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		sum += local(paths[i], 0);
	EXPECT_INT(sum, 0);
	EXPECT_INT(local("", 1), 0);
	EXPECT_STR(seen, "");
	EXPECT(!exists(".xmpp-sync"), "something was kept");
	return 0;
}

/* An edit, a new file, a new directory with a file, a deletion and a
 * chmod: each reported with its kind, kept with its local content, and
 * recorded as it is on disk. */
static int
t_local_changes_found_kept_and_recorded(void)
{
	struct store_file f;
	int r;

	EXPECT_INT(setup(), 0);
	EXPECT_INT(applied_tree(), 0);
	EXPECT_INT(write_str("a.txt", "edited on the slave\n"), 0);
	EXPECT_INT(local("a.txt", 0), 1);
	EXPECT_STR(seen, "modified:a.txt ");
	EXPECT(holds(kept("a.txt"), "edited on the slave\n"), "a.txt not kept");
	EXPECT_INT(store_file_load(fx.s, "a.txt", &f), 0);
	r = f.size == (int64_t)strlen("edited on the slave\n");
	store_file_clear(&f);
	EXPECT(r, "a.txt not recorded as edited");

	EXPECT_INT(write_str("new.txt", "mine\n"), 0);
	EXPECT_INT(local("new.txt", 0), 1);
	EXPECT_STR(seen, "created:new.txt ");
	EXPECT(holds(kept("new.txt"), "mine\n"), "new.txt not kept");
	EXPECT_INT(live("new.txt"), 1);

	EXPECT_INT(mkdir(P("nd"), 0755), 0);
	EXPECT_INT(write_str("nd/x", "deep\n"), 0);
	EXPECT_INT(write_str("nd/y.o", "ignored\n"), 0);
	EXPECT_INT(local("nd", 0), 1);	/* one change for the directory */
	EXPECT_STR(seen, "created:nd ");
	EXPECT(holds(kept("nd/x"), "deep\n"), "nd/x not kept");
	EXPECT_INT(live("nd/x"), 1);
	EXPECT_INT(live("nd/y.o"), -ENOENT);

	EXPECT_INT(unlink(P("d/b.txt")), 0);
	EXPECT_INT(local("d/b.txt", 0), 1);
	EXPECT_STR(seen, "deleted:d/b.txt ");
	EXPECT_INT(live("d/b.txt"), 0);

	EXPECT_INT(chmod(P("d"), 0700), 0);
	EXPECT_INT(local("d", 0), 1);
	EXPECT_STR(seen, "modified:d ");
	EXPECT_INT(local("", 1), 0);	/* all recorded now */
	return 0;
}

/* While the slave was not running: the deep check of the whole folder
 * finds a deleted directory's subtree, an edit below it and a new file
 * inside a recorded directory. */
static int
t_deep_check_finds_everything(void)
{
	EXPECT_INT(setup(), 0);
	EXPECT_INT(applied_tree(), 0);
	EXPECT_INT(apply_mkdir(fx.a, "z", 0755, T1), 0);
	EXPECT_INT(put_str("z/q", "q"), 0);
	EXPECT_INT(tu_rmtree(P("z")), 0);
	EXPECT_INT(write_str("d/b.txt", "changed b\n"), 0);
	EXPECT_INT(write_str("d/c.txt", "new c\n"), 0);
	EXPECT_INT(local("", 1), 3);
	EXPECT(strstr(seen, "deleted:z ") != NULL, "seen: %s", seen);
	EXPECT(strstr(seen, "deleted:z/q") == NULL, "seen: %s", seen);
	EXPECT(strstr(seen, "modified:d/b.txt ") != NULL, "seen: %s", seen);
	EXPECT(strstr(seen, "created:d/c.txt ") != NULL, "seen: %s", seen);
	/* a directory's mtime moves with its entries: not a change */
	EXPECT(strstr(seen, "modified:d ") == NULL, "seen: %s", seen);
	EXPECT_INT(live("z/q"), 0);
	EXPECT(holds(kept("d/c.txt"), "new c\n"), "d/c.txt not kept");
	return 0;
}

/* A pattern added to ignore: the records it now covers go quietly, as
 * a scan would drop them, and nothing is kept. */
static int
t_newly_ignored_records_dropped_quietly(void)
{
	static const char *const more[] = {"*.o", "*.tmp"};

	EXPECT_INT(setup(), 0);
	EXPECT_INT(put_str("x.tmp", "was mirrored\n"), 0);
	apply_free(fx.a);
	EXPECT_INT(apply_open(fx.root, fx.s, more, 2, &fx.a), 0);
	EXPECT_INT(local("", 1), 0);
	EXPECT_STR(seen, "");
	EXPECT_INT(live("x.tmp"), 0);
	EXPECT(holds("x.tmp", "was mirrored\n"), "x.tmp touched");
	EXPECT(!exists(".xmpp-sync"), "something was kept");
	return 0;
}

/* A local edit the slave has not looked at yet, then the master's put
 * and delete: the local versions are moved away first, not lost. */
static int
t_unseen_local_version_moved_before_replace(void)
{
	EXPECT_INT(setup(), 0);
	EXPECT_INT(applied_tree(), 0);
	EXPECT_INT(write_str("a.txt", "unseen edit\n"), 0);
	EXPECT_INT(put_str("a.txt", "master a v2\n"), 0);
	EXPECT(holds("a.txt", "master a v2\n"), "a.txt not replaced");
	EXPECT(holds(kept("a.txt"), "unseen edit\n"), "edit lost");

	EXPECT_INT(write_str("d/extra", "not from the master\n"), 0);
	EXPECT_INT(apply_rmdir(fx.a, "d"), 0);
	EXPECT(!exists("d"), "d still there");
	EXPECT(holds(kept("d/extra"), "not from the master\n"), "extra lost");
	EXPECT(!exists(kept("d/b.txt")), "a file as recorded was kept");
	return 0;
}

/* A slave's first sync: what the scan found before the master spoke is
 * kept when the master replaces it; what the applier wrote since is not. */
static int
t_files_from_before_the_first_sync_kept(void)
{
	struct scan_opts so = {.root = fx.root};
	struct scan_stats ss;
	int64_t seq;

	EXPECT_INT(setup(), 0);
	so.root = fx.root;
	EXPECT_INT(write_str("old.txt", "was here first\n"), 0);
	EXPECT_INT(scan_run(fx.s, &so, &ss), 0);
	EXPECT_INT(store_last_seq(fx.s, &seq), 0);
	apply_set_local_seq(fx.a, seq);
	EXPECT_INT(put_str("new.txt", "from the master\n"), 0);
	EXPECT_INT(put_str("new.txt", "from the master, v2\n"), 0);
	EXPECT(!exists(".xmpp-sync"), "the applier's own file was kept");
	EXPECT_INT(apply_delete(fx.a, "old.txt"), 0);
	EXPECT(holds(kept("old.txt"), "was here first\n"), "old.txt lost");
	return 0;
}

/* versions = 1: each replaced or deleted file is kept as PATH~STAMP and
 * goes a day later; names without a stamp stay. */
static int
t_versions_kept_then_expired(void)
{
	char name[128], rel[256];
	int64_t removed = -1;

	EXPECT_INT(setup(), 0);
	apply_set_versions(fx.a, 1);
	EXPECT_INT(applied_tree(), 0);
	EXPECT_INT(put_str("d/b.txt", "master b v2\n"), 0);
	EXPECT_INT(only_name(".xmpp-sync/versions/d", name, sizeof(name)), 1);
	EXPECT(strncmp(name, "b.txt~", 6) == 0 && strlen(name) == 6 + 16,
	    "version named %s", name);
	snprintf(rel, sizeof(rel), ".xmpp-sync/versions/d/%s", name);
	EXPECT(holds(rel, "master b\n"), "old content not kept");
	EXPECT_INT(apply_delete(fx.a, "a.txt"), 0);
	EXPECT_INT(only_name(".xmpp-sync/versions", name, sizeof(name)), 2);
	EXPECT(!exists(".xmpp-sync/local"), "a version was taken for local");
	EXPECT_INT(write_str(".xmpp-sync/versions/d/notes", "mine\n"), 0);

	EXPECT_INT(apply_versions_expire(fx.a, time(NULL), &removed), 0);
	EXPECT_INT(removed, 0);
	EXPECT_INT(apply_versions_expire(fx.a, time(NULL) + DAY + 60,
	    &removed), 0);
	EXPECT_INT(removed, 2);
	EXPECT_INT(only_name(".xmpp-sync/versions/d", name, sizeof(name)), 1);
	EXPECT_STR(name, "notes");
	EXPECT(exists(".xmpp-sync/versions"), "the versions folder went");
	apply_set_versions(fx.a, 0);
	EXPECT_INT(put_str("d/b.txt", "master b v3\n"), 0);
	EXPECT_INT(only_name(".xmpp-sync/versions/d", name, sizeof(name)), 1);
	return 0;
}

/* A symlink planted at .xmpp-sync or below is never followed: keeping
 * fails, the local change stays unrecorded, and the applier leaves the
 * local version alone. */
static int
t_planted_symlink_in_area_refused(void)
{
	struct store_file f;
	char out[300];
	int r;

	EXPECT_INT(setup(), 0);
	snprintf(out, sizeof(out), "%s/out", fx.dir);
	EXPECT_INT(mkdir(out, 0755), 0);
	EXPECT_INT(symlink(out, P(".xmpp-sync")), 0);
	EXPECT_INT(applied_tree(), 0);
	EXPECT_INT(write_str("a.txt", "precious\n"), 0);
	/* seen but not kept: not recorded either */
	EXPECT_INT(local("a.txt", 0), 1);
	EXPECT_INT(store_file_load(fx.s, "a.txt", &f), 0);
	r = f.size == (int64_t)strlen("master a\n");
	store_file_clear(&f);
	EXPECT(r, "recorded without being kept");
	EXPECT(put_str("a.txt", "master\n") < 0, "replaced without keeping");
	EXPECT(holds("a.txt", "precious\n"), "local version lost");
	EXPECT_INT(only_name("../out", out, sizeof(out)), 0);
	return 0;
}

/* A crash between an install's rename and its record leaves the file
 * unrecorded: at start it is found to be the install noted just before
 * (same path, size and checksum) and recorded, not kept as a local
 * change. Another file there, or one under another name, still is. */
static int
t_install_cut_before_its_record_is_no_local_change(void)
{
	uint8_t sha[32];

	EXPECT_INT(setup(), 0);
	EXPECT_INT(applied_tree(), 0);
	gcry_md_hash_buffer(GCRY_MD_SHA256, sha, "fresh\n", 6);
	EXPECT_INT(tu_write_file(P("new.txt"), "fresh\n", 6, 0644), 0);
	apply_intent_set(fx.a, "new.txt", 6, sha);
	EXPECT_INT(local("new.txt", 0), 0);
	EXPECT_STR(seen, "");
	EXPECT_INT(live("new.txt"), 1);
	EXPECT(!exists(".xmpp-sync"), "the install was kept as local");
	/* the same name with other bytes, and another name: local */
	EXPECT_INT(tu_write_file(P("b.txt"), "fresh!", 6, 0644), 0);
	apply_intent_set(fx.a, "b.txt", 6, sha);
	EXPECT_INT(tu_write_file(P("c.txt"), "fresh\n", 6, 0644), 0);
	EXPECT_INT(local("", 1), 2);
	EXPECT_STR(seen, "created:b.txt created:c.txt ");
	return 0;
}

/* The installs of a bundle's flush are noted together: each file of the
 * list (any bytes in its name, the length tells where it ends) is found
 * to be its install; a file not in the list, or the list's name with
 * another size, is a local change. */
static int
t_installs_noted_together_each_recognised(void)
{
	static const char *const paths[] = {"x 12:y.txt", "nl\nname",
	    "d/e.txt"};
	static const char *const texts[] = {"one\n", "two!\n", "three\n"};
	uint64_t sizes[3];
	uint8_t sha[3][32];

	EXPECT_INT(setup(), 0);
	EXPECT_INT(applied_tree(), 0);
	EXPECT_INT(mkdir(P("d"), 0755) < 0 && errno != EEXIST, 0);
	for (int i = 0; i < 3; i++) {
		sizes[i] = strlen(texts[i]);
		gcry_md_hash_buffer(GCRY_MD_SHA256, sha[i], texts[i],
		    sizes[i]);
		EXPECT_INT(tu_write_file(P(paths[i]), texts[i], sizes[i],
		    0644), 0);
	}
	apply_intent_set_many(fx.a, paths, sizes,
	    (const uint8_t (*)[32])sha, 3);
	EXPECT_INT(tu_write_file(P("other.txt"), "one\n", 4, 0644), 0);
	EXPECT_INT(local("", 1), 1);
	EXPECT_STR(seen, "created:other.txt ");
	for (int i = 0; i < 3; i++)
		EXPECT_INT(live(paths[i]), 1);
	EXPECT_INT(tu_write_file(P("x 12:y.txt"), "one!!\n", 6, 0644), 0);
	EXPECT_INT(local("x 12:y.txt", 0), 1);
	return 0;
}

static const struct unit_test tests[] = {
	{"install_cut_before_its_record_is_no_local_change",
	 t_install_cut_before_its_record_is_no_local_change},
	{"installs_noted_together_each_recognised",
	 t_installs_noted_together_each_recognised},
	{"applier_writes_are_not_local_changes",
	 t_applier_writes_are_not_local_changes},
	{"local_changes_found_kept_and_recorded",
	 t_local_changes_found_kept_and_recorded},
	{"deep_check_finds_everything", t_deep_check_finds_everything},
	{"newly_ignored_records_dropped_quietly",
	 t_newly_ignored_records_dropped_quietly},
	{"unseen_local_version_moved_before_replace",
	 t_unseen_local_version_moved_before_replace},
	{"files_from_before_the_first_sync_kept",
	 t_files_from_before_the_first_sync_kept},
	{"versions_kept_then_expired", t_versions_kept_then_expired},
	{"planted_symlink_in_area_refused", t_planted_symlink_in_area_refused},
};

UNIT_MAIN(tests)

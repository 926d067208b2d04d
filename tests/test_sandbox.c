/* test_sandbox.c -- the daemon's Landlock rules (agent/sandbox.c), applied
 * in a child process for each role: a table of file operations inside
 * and outside the folder and the state directory, each of which must be
 * allowed or refused as agent/sandbox.h says. Skipped where the kernel
 * has no usable Landlock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/log.h"
#include "agent/sandbox.h"
#include "tests/testutil.h"
#include "tests/unit.h"

enum sop { S_CREATE, S_READ, S_UNLINK, S_MKDIR, S_MOVE };

struct row {
	enum sop op;
	const char *where;	/* "dir", "state", "out" or an absolute path */
	const char *name;
	int slave_ok, master_ok;
};

/* dir/, state/ and out/ each start with a file "f" and a directory "d". */
static const struct row rows[] = {
	{S_READ, "dir", "f", 1, 1},
	{S_CREATE, "dir", "new", 1, 0},
	{S_MKDIR, "dir", "nd", 1, 0},
	{S_MOVE, "dir", "f", 1, 0},		/* f -> d/f: between dirs */
	{S_UNLINK, "dir", "d/f", 1, 0},
	{S_CREATE, "state", "db-wal", 1, 1},
	{S_UNLINK, "state", "f", 1, 1},
	{S_READ, "out", "f", 0, 0},
	{S_CREATE, "out", "pwned", 0, 0},
	{S_UNLINK, "out", "f", 0, 0},
	{S_MKDIR, "out", "pwned", 0, 0},
	{S_MOVE, "out", "f", 0, 0},
	{S_READ, "/etc/hosts", "", 1, 1},
	{S_CREATE, "/dev/null", "", 1, 1},	/* opened for writing */
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static struct {
	char top[64];
	char dir[96], state[96], out[96], conf[96];
} fx;

/* Runs one row; returns 1 if the operation was allowed. */
static int
run_row(const struct row *w)
{
	char p[256], q[256];
	int fd;

	if (w->where[0] == '/')
		snprintf(p, sizeof(p), "%s", w->where);
	else
		snprintf(p, sizeof(p), "%s/%s/%s", fx.top, w->where, w->name);
	switch (w->op) {
	case S_READ:
		if ((fd = open(p, O_RDONLY)) < 0)
			return 0;
		close(fd);
		return 1;
	case S_CREATE:
		if ((fd = open(p, O_WRONLY | O_CREAT, 0600)) < 0)
			return 0;
		close(fd);
		return 1;
	case S_UNLINK:
		return unlink(p) == 0;
	case S_MKDIR:
		return mkdir(p, 0700) == 0;
	case S_MOVE:
		snprintf(q, sizeof(q), "%s/%s/d/moved", fx.top, w->where);
		return rename(p, q) == 0;
	}
	return 0;
}

/* In a child: applies the sandbox for role and writes one byte per row
 * ('1' allowed, '0' refused) to fd; exits 77 without Landlock. */
static void
child(enum cfg_role role, int fd)
{
	struct cfg c = {.path = fx.conf, .role = role, .dir = fx.dir,
	    .state_dir = fx.state, .sandbox = 1};
	char res[NROWS];
	int r;

	log_set_level(LOG_LVL_ERROR);
	if ((r = sandbox_apply(&c)) == 1)
		_exit(UNIT_SKIP);
	if (r < 0)
		_exit(2);
	for (size_t i = 0; i < NROWS; i++)
		res[i] = run_row(&rows[i]) ? '1' : '0';
	_exit(write(fd, res, NROWS) == (ssize_t)NROWS ? 0 : 3);
}

static int
setup(void)
{
	static const struct tu_node tree[] = {
		{.path = "dir/f", .content = "x"}, {.path = "dir/d/f"},
		{.path = "state/f"}, {.path = "state/d/"},
		{.path = "out/f", .content = "x"}, {.path = "out/d/"},
		{.path = "conf", .content = "role = slave\n"},
	};

	if (tu_tmpdir(fx.top, sizeof(fx.top)) < 0 ||
	    tu_tree_make(fx.top, tree, sizeof(tree) / sizeof(tree[0])) < 0)
		return -1;
	snprintf(fx.dir, sizeof(fx.dir), "%s/dir", fx.top);
	snprintf(fx.state, sizeof(fx.state), "%s/state", fx.top);
	snprintf(fx.out, sizeof(fx.out), "%s/out", fx.top);
	snprintf(fx.conf, sizeof(fx.conf), "%s/conf", fx.top);
	return 0;
}

static int
check_role(enum cfg_role role)
{
	char got[NROWS + 1] = "";
	int pfd[2], st = 0, failed = 0;
	ssize_t n;
	pid_t pid;

	EXPECT_INT(setup(), 0);
	EXPECT_INT(pipe(pfd), 0);
	if ((pid = fork()) == 0) {
		close(pfd[0]);
		child(role, pfd[1]);
	}
	close(pfd[1]);
	n = read(pfd[0], got, NROWS);
	close(pfd[0]);
	waitpid(pid, &st, 0);
	tu_rmtree(fx.top);
	if (WIFEXITED(st) && WEXITSTATUS(st) == UNIT_SKIP)
		return unit_skip("no usable Landlock in this kernel");
	EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
	EXPECT_INT(n, NROWS);
	for (size_t i = 0; i < NROWS; i++) {
		int want = role == CFG_ROLE_SLAVE ? rows[i].slave_ok :
		    rows[i].master_ok;
		if ((got[i] == '1') != want) {
			printf("  row %zu (op %d on %s/%s): %s, want %s\n", i,
			    rows[i].op, rows[i].where, rows[i].name,
			    got[i] == '1' ? "allowed" : "refused",
			    want ? "allowed" : "refused");
			failed = 1;
		}
	}
	EXPECT_INT(failed, 0);
	return 0;
}

static int
t_slave_writes_only_its_folder_and_state(void)
{
	return check_role(CFG_ROLE_SLAVE);
}

static int
t_master_reads_its_folder_writes_only_state(void)
{
	return check_role(CFG_ROLE_MASTER);
}

static int
t_off_when_configured(void)
{
	struct cfg c = {.sandbox = 0};

	log_set_level(LOG_LVL_ERROR);
	EXPECT_INT(sandbox_apply(&c), 1);
	return 0;
}

static const struct unit_test tests[] = {
	{"slave_writes_only_its_folder_and_state",
	 t_slave_writes_only_its_folder_and_state},
	{"master_reads_its_folder_writes_only_state",
	 t_master_reads_its_folder_writes_only_state},
	{"off_when_configured", t_off_when_configured},
};

UNIT_MAIN(tests)

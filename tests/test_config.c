/* test_config.c -- configuration parsing: good files, bad files, and the
 * exact "FILE:LINE: message" each bad one gives. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config.h"
#include "tests/testutil.h"
#include "tests/unit.h"

static char tmp[64];
static char conf[128], pwfile[128], dirpath[128], errfile[128];

static int
setup(void)
{
	static const struct tu_node files[] = {
		{.path = "dir/"},
		{.path = "pw", .content = "hunter2\n", .mode = 0600},
	};

	if (tu_tmpdir(tmp, sizeof(tmp)) < 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/x.conf", tmp);
	snprintf(pwfile, sizeof(pwfile), "%s/pw", tmp);
	snprintf(dirpath, sizeof(dirpath), "%s/dir", tmp);
	snprintf(errfile, sizeof(errfile), "%s/err", tmp);
	return tu_tree_make(tmp, files, sizeof(files) / sizeof(files[0]));
}

static void
teardown(void)
{
	tu_rmtree(tmp);
}

/* Writes body (with @DIR@ and @PW@ replaced) to conf, loads it with stderr
 * captured in errbuf. Returns cfg_load()'s result. */
static int
load(const char *body, struct cfg **out, char *errbuf, size_t errlen)
{
	FILE *f = fopen(conf, "w");
	int saved, fd, r;
	ssize_t n;

	for (const char *p = body; *p; p++) {
		if (strncmp(p, "@DIR@", 5) == 0)
			fputs(dirpath, f), p += 4;
		else if (strncmp(p, "@PW@", 4) == 0)
			fputs(pwfile, f), p += 3;
		else
			fputc(*p, f);
	}
	fclose(f);
	fflush(stderr);
	saved = dup(2);
	fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	r = cfg_load(conf, out);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fd = open(errfile, O_RDONLY);
	n = read(fd, errbuf, errlen - 1);
	close(fd);
	errbuf[n > 0 ? n : 0] = '\0';
	return r;
}

#define BASE "role = master\njid = a@example.org\npassword_file = @PW@\n" \
	"dir = @DIR@\nstate_dir = /var/lib/xs\n"

static const struct bad_case {
	const char *body;
	const char *want; /* substring of the error after "FILE:" */
} bad_cases[] = {
	{BASE "colour = blue\n", ":6: unknown key 'colour'"},
	{"# comment\n\nrole = boss\n", ":3: role: want master or slave"},
	{BASE "role = slave\n", ":6: role: already set on line 1"},
	{"role = master\njid = a@example.org\npassword_file = @PW@\ndir = @DIR@\n",
	 ":4: missing required key 'state_dir'"},
	{"role = slave\njid = a@example.org\npassword_file = @PW@\n"
	 "dir = @DIR@\nstate_dir = /s\n", ":5: role is slave but 'master'"},
	{BASE "master = b@example.org\n", ":6: master: only a slave names its master"},
	{"role = master\njid = a@example.org\npassword_file = @PW@\n"
	 "dir = /nonexistent/xs\nstate_dir = /s\n", ":4: dir: /nonexistent/xs: No such file"},
	{"role = master\njid = nobody\n", ":2: jid: 'nobody' is not a bare JID"},
	{"role = master\njid = a@b/res\n", ":2: jid: 'a@b/res' is not a bare JID"},
	{BASE "transports = s5b, carrier-pigeon\n", ":6: unknown transport 'carrier-pigeon'"},
	{BASE "transports = ibb ibb\n", ":6: transport 'ibb' listed twice"},
	{BASE "server = host:99999\n", ":6: server: bad port '99999'"},
	{BASE "server = ::1\n", ":6: server: write IPv6 addresses as [addr]:port"},
	{BASE "delete = maybe\n", ":6: delete: want yes or no"},
	{BASE "sandbox = off\n", ":6: sandbox: want yes or no"},
	{BASE "log_level = loud\n", ":6: log_level: want error"},
	{BASE "max_file_size = 12Q\n", ":6: max_file_size: '12Q' is not a number"},
	{BASE "rescan_interval = 5\n", ":6: rescan_interval: at least 10 seconds"},
	{BASE "versions = 7\n", ":6: versions: only a slave keeps old versions"},
	{BASE "versions = 36501\n", ":6: versions: 36501 is too large"},
	{BASE "versions = -1\n", ":6: versions: '-1' is not a number"},
	{BASE "versions = 2 weeks\n", ":6: versions: '2 weeks' is not a number"},
	{BASE "digest_interval = soon\n", ":6: digest_interval: 'soon' is not a number"},
	{BASE "min_free = lots\n", ":6: min_free: 'lots' is not a size or a percentage"},
	{BASE "min_free = 101%\n", ":6: min_free: '101%' is more than 100%"},
	{BASE "min_free = 1.234%\n", ":6: min_free: '1.234%' is not a percentage"},
	{BASE "min_free = 5 %\n", ":6: min_free: '5 %' is not a percentage"},
	{BASE "min_free = -1%\n", ":6: min_free: '-1%' is not a percentage"},
	{BASE "min_free = 20000000T\n", ":6: min_free: '20000000T' is not a size"},
	{BASE "ca_file = /nonexistent/ca.pem\n", ":6: ca_file: /nonexistent/ca.pem"},
	{BASE "just some words\n", ":6: expected 'key = value'"},
	{BASE "ignore =\n", ":6: ignore: empty value"},
	{BASE "resource = a/b\n", ":6: resource: 'a/b' is not a resource name"},
	{BASE "resource = photos folder\n", ":6: resource: 'photos folder' is not"},
	{BASE "resource = " "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
	    ":6: resource: 'xxxx"},
};

static int
t_bad_files_name_file_and_line(void)
{
	char err[1024], want[512];
	struct cfg *c;

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		int r = load(bad_cases[i].body, &c, err, sizeof(err));
		EXPECT(r < 0 && c == NULL, "case %zu accepted", i);
		snprintf(want, sizeof(want), "%s%s", conf, bad_cases[i].want);
		EXPECT(strstr(err, want) != NULL, "case %zu: got \"%s\", want \"%s\"",
		    i, err, want);
	}
	return 0;
}

static int
t_good_file_gives_every_value(void)
{
	char err[1024];
	struct cfg *c;
	int r = load("# a slave\nrole = slave\n  jid=b@example.org  \n"
	    "password_file = @PW@\ndir = @DIR@\nstate_dir = state\n"
	    "master = a@example.org\nserver = [::1]:5223\nca_file = @PW@\n"
	    "transports = ibb, proxy\nignore = *.tmp\nignore = build/\n"
	    "delete = no\nlog_level = debug\nmax_file_size = 2G\n"
	    "rescan_interval = 600\nresource = photos-2.x_y\nversions = 30\n"
	    "digest_interval = 0\nmin_free = 1.5%\nsandbox = no\n", &c, err,
	    sizeof(err));

	EXPECT(r == 0, "load failed: %s", err);
	EXPECT_INT(c->role, CFG_ROLE_SLAVE);
	EXPECT_STR(c->jid, "b@example.org");
	EXPECT_STR(c->master, "a@example.org");
	EXPECT_STR(c->dir, dirpath);
	char st[160];
	snprintf(st, sizeof(st), "%s/state", tmp);
	EXPECT_STR(c->state_dir, st); /* relative to the config file */
	EXPECT_STR(c->server_host, "::1");
	EXPECT_INT(c->server_port, 5223);
	EXPECT_INT(c->ntransports, 2);
	EXPECT_INT(c->transports[0], CFG_TRANSPORT_IBB);
	EXPECT_INT(c->transports[1], CFG_TRANSPORT_PROXY);
	EXPECT_INT(c->nignore, 2);
	EXPECT_STR(c->ignore[1], "build/");
	EXPECT_INT(c->delete_extras, 0);
	EXPECT_INT(c->sandbox, 0);
	EXPECT_INT(c->log_level, LOG_LVL_DEBUG);
	EXPECT(c->max_file_size == 2ULL << 30, "max_file_size %llu",
	    (unsigned long long)c->max_file_size);
	EXPECT_INT(c->rescan_interval, 600);
	EXPECT_STR(c->resource, "photos-2.x_y");
	EXPECT_INT(c->versions, 30);
	EXPECT_INT(c->digest_interval, 0);
	EXPECT_INT(c->min_free_bp, 150);
	EXPECT(c->min_free_max == UINT64_MAX, "min_free_max %llu",
	    (unsigned long long)c->min_free_max);
	cfg_free(c);
	return 0;
}

static int
t_defaults(void)
{
	char err[1024];
	struct cfg *c;

	EXPECT(load(BASE, &c, err, sizeof(err)) == 0, "load failed: %s", err);
	EXPECT_INT(c->ntransports, 3);
	EXPECT_INT(c->transports[0], CFG_TRANSPORT_S5B);
	EXPECT_INT(c->transports[2], CFG_TRANSPORT_IBB);
	EXPECT_INT(c->delete_extras, 1);
	EXPECT_INT(c->sandbox, 1);
	EXPECT(c->server_host == NULL, "server_host set");
	EXPECT_INT(c->rescan_interval, 3600);
	EXPECT_INT(c->digest_interval, 300);
	EXPECT_STR(c->resource, "xmpp-sync");
	EXPECT_INT(c->versions, 0);
	/* 1 % of a small file system, 100 MiB of a large one */
	EXPECT_INT(cfg_min_free(c, 20 << 20), (20 << 20) / 100);
	EXPECT_INT(cfg_min_free(c, (uint64_t)1 << 40), 100 << 20);
	cfg_free(c);
	return 0;
}

static int
t_world_readable_password_file_refused(void)
{
	char err[1024];
	struct cfg *c;

	chmod(pwfile, 0644);
	int r = load(BASE, &c, err, sizeof(err));
	chmod(pwfile, 0600);
	EXPECT(r < 0, "accepted a 0644 password file");
	EXPECT(strstr(err, ":3: password_file:") && strstr(err, "readable by group or others")
	    && strstr(err, "0644"), "message: %s", err);
	return 0;
}

static int
t_password_from_env_or_file(void)
{
	char err[1024], *pw;
	struct cfg *c;

	unsetenv(CFG_PASSWORD_ENV);
	EXPECT(load(BASE, &c, err, sizeof(err)) == 0, "load: %s", err);
	EXPECT(cfg_password_read(c, &pw) == 0, "read from file failed");
	EXPECT_STR(pw, "hunter2"); /* newline stripped */
	cfg_password_free(pw);
	setenv(CFG_PASSWORD_ENV, "from-env", 1);
	EXPECT(cfg_password_read(c, &pw) == 0, "read from env failed");
	EXPECT_STR(pw, "from-env");
	cfg_password_free(pw);
	cfg_free(c);
	/* no password_file at all: fine only with the environment variable */
	const char *nopw = "role = master\njid = a@example.org\ndir = @DIR@\nstate_dir = /s\n";
	EXPECT(load(nopw, &c, err, sizeof(err)) == 0, "env password refused: %s", err);
	cfg_free(c);
	unsetenv(CFG_PASSWORD_ENV);
	EXPECT(load(nopw, &c, err, sizeof(err)) < 0, "no password accepted");
	EXPECT(strstr(err, "no password") != NULL, "message: %s", err);
	return 0;
}

static const struct min_free_case {
	const char *v;
	uint64_t fs;	/* file system size */
	uint64_t want;	/* reserve on it */
} min_free_cases[] = {
	{"0", 1 << 30, 0},
	{"4096", 1 << 30, 4096},
	{"500M", (uint64_t)1 << 40, 500ULL << 20},
	{"500M", 100 << 20, 100 << 20},	/* never more than the whole */
	{"2k", 1 << 30, 2048},
	{"1T", (uint64_t)4 << 40, (uint64_t)1 << 40},
	{"1%", 20 << 20, 209715},
	{"0.5%", 1000000, 5000},
	{"0.05%", 1000000, 500},
	{"12.25%", 10000, 1225},
	{"100%", 12345, 12345},
	{"0%", 1 << 30, 0},
	{"1%", UINT64_MAX, UINT64_MAX / 100},	/* no overflow */
};

static int
t_min_free_sizes_and_percentages(void)
{
	struct cfg c = {0};
	const char *why = NULL;

	for (size_t i = 0; i < sizeof(min_free_cases) / sizeof(min_free_cases[0]); i++) {
		const struct min_free_case *k = &min_free_cases[i];
		EXPECT(cfg_min_free_parse(k->v, &c.min_free_max, &c.min_free_bp,
		    &why) == 0, "\"%s\" refused: %s", k->v, why);
		EXPECT(cfg_min_free(&c, k->fs) == k->want, "\"%s\" of %llu: %llu, "
		    "want %llu", k->v, (unsigned long long)k->fs,
		    (unsigned long long)cfg_min_free(&c, k->fs),
		    (unsigned long long)k->want);
	}
	static const char *const bad[] = {"", "%", "1.%", ".5%", "1%%", "1M%",
	    "100.01%", "1e3", "1 M", "0x10", "1MB"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT(cfg_min_free_parse(bad[i], &c.min_free_max, &c.min_free_bp,
		    &why) == -EINVAL, "\"%s\" accepted", bad[i]);
	return 0;
}

static const struct jid_case {
	const char *jid;
	int ok;
} jid_cases[] = {
	{"a@b", 1}, {"backup@example.org", 1}, {"@b", 0}, {"a@", 0},
	{"a@b@c", 0}, {"a@b/r", 0}, {"a b@c", 0}, {"", 0},
};

static int
t_bare_jid_check(void)
{
	for (size_t i = 0; i < sizeof(jid_cases) / sizeof(jid_cases[0]); i++)
		EXPECT((cfg_jid_check_bare(jid_cases[i].jid) == 0) == jid_cases[i].ok,
		    "jid \"%s\"", jid_cases[i].jid);
	return 0;
}

static const struct {
	const char *jid;
	int bare_ok, full_ok;
} peer_jid_cases[] = {
	{"a@b", 1, 1}, {"a@b/photos", 0, 1}, {"a@b/my.folder-2_x", 0, 1},
	{"a@b/", 0, 0}, {"a@/r", 0, 0}, {"a/r@b", 0, 0}, {"a@b/r/s", 0, 0},
	{"a@b/r s", 0, 0}, {"a@b/r@c", 0, 0}, {"@b/r", 0, 0},
};

/* a peer may be named by full JID (one daemon of an account running
 * several), our own jid never */
static int
t_peer_jid_bare_or_full(void)
{
	for (size_t i = 0; i < sizeof(peer_jid_cases) / sizeof(peer_jid_cases[0]); i++) {
		EXPECT((cfg_jid_check(peer_jid_cases[i].jid, 0) == 0) ==
		    peer_jid_cases[i].bare_ok, "bare \"%s\"", peer_jid_cases[i].jid);
		EXPECT((cfg_jid_check(peer_jid_cases[i].jid, 1) == 0) ==
		    peer_jid_cases[i].full_ok, "full \"%s\"", peer_jid_cases[i].jid);
	}
	return 0;
}

static int
t_peer_jid_self_or_own_account(void)
{
	static const struct {
		const char *jid;
		int want;
	} cases[] = {
		{"me@example.org", CFG_JID_OWN_ACCOUNT},
		{"me@EXAMPLE.org", CFG_JID_OWN_ACCOUNT},
		{"me@example.org/photos", CFG_JID_SELF},
		{"me@example.org/music", CFG_JID_OTHER},
		{"me@example.org.evil", CFG_JID_OTHER},
		{"mee@example.org/photos", CFG_JID_OTHER},
		{"other@example.org", CFG_JID_OTHER},
	};
	struct cfg c = {.jid = (char *)"me@example.org"};

	snprintf(c.resource, sizeof(c.resource), "photos");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		EXPECT_INT(cfg_jid_self(&c, cases[i].jid), cases[i].want);
	return 0;
}

/* s5b_listen: an IP literal, with or without a port */
static int
t_listen_address_forms(void)
{
	static const struct {
		const char *v;
		const char *addr;	/* NULL: refused */
		unsigned short port;
	} cases[] = {
		{"127.0.0.1", "127.0.0.1", 0}, {"127.0.0.1:7777", "127.0.0.1", 7777},
		{"::1", "::1", 0}, {"[::1]:7777", "::1", 7777},
		{"0.0.0.0", "0.0.0.0", 0}, {"fe80::1", "fe80::1", 0},
		{"localhost", NULL, 0}, {"127.0.0.1:0", NULL, 0},
		{"127.0.0.1:65536", NULL, 0}, {"127.0.0.1:", NULL, 0},
		{"127.0.0.1:+80", NULL, 0}, {"[::1]", NULL, 0}, {"[::1]:x", NULL, 0},
		{"::1:7777", "::1:7777", 0}, {"", NULL, 0}, {"1.2.3", NULL, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *addr = NULL;
		unsigned short port = 1;
		int r = cfg_listen_parse(cases[i].v, &addr, &port);
		if (cases[i].addr == NULL)
			EXPECT(r == -EINVAL, "'%s' accepted", cases[i].v);
		else
			EXPECT(r == 0 && strcmp(addr, cases[i].addr) == 0 &&
			    port == cases[i].port, "'%s': %d %s %u", cases[i].v, r,
			    addr ? addr : "-", port);
		free(addr);
	}
	return 0;
}

static const struct unit_test tests[] = {
	{"listen_address_forms", t_listen_address_forms},
	{"peer_jid_bare_or_full", t_peer_jid_bare_or_full},
	{"peer_jid_self_or_own_account", t_peer_jid_self_or_own_account},
	{"bad_files_name_file_and_line", t_bad_files_name_file_and_line},
	{"good_file_gives_every_value", t_good_file_gives_every_value},
	{"defaults", t_defaults},
	{"world_readable_password_file_refused", t_world_readable_password_file_refused},
	{"password_from_env_or_file", t_password_from_env_or_file},
	{"bare_jid_check", t_bare_jid_check},
	{"min_free_sizes_and_percentages", t_min_free_sizes_and_percentages},
};

int
main(int argc, char **argv)
{
	int r;

	unsetenv(CFG_PASSWORD_ENV);
	if (setup() < 0) {
		printf("FAIL test_config.c/setup: cannot create temp files\n");
		return 1;
	}
	r = unit_run("test_config.c", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
	teardown();
	return r;
}

/* cmd.c -- see agent.h: one function per command. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/control.h"
#include "agent/crypto/crypto.h"
#include "agent/log.h"
#include "store/store.h"

static int
usage_err(const char *text)
{
	fprintf(stderr, "usage: xmpp-sync %s\n", text);
	return XS_EXIT_USAGE;
}

static int
cmd_run(const struct cfg *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage_err("run");
	return daemon_run(cfg);
}

static int
cmd_init(const struct cfg *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage_err("init");
	return state_init(cfg);
}

static int
cmd_fingerprint(const struct cfg *cfg, int argc, char **argv)
{
	struct crypto_identity *id;
	char fpr[CRYPTO_FPR_SIZE];
	int r;

	(void)argv;
	if (argc != 1)
		return usage_err("fingerprint");
	if ((r = crypto_identity_load(cfg->state_dir, &id)) < 0) {
		if (r == -ENOENT)
			log_error("no identity key in %s (run xmpp-sync init)",
			    cfg->state_dir);
		return XS_EXIT_STATE;
	}
	crypto_fingerprint(crypto_identity_x25519_get(id),
	    crypto_identity_ed25519_get(id), fpr, sizeof(fpr));
	printf("%s\n", fpr);
	crypto_identity_free(id);
	return XS_EXIT_OK;
}

/* Tells a running daemon to reread the store now; silent if none runs
 * (it rereads on start, and every second anyway). */
static void
poke_daemon(const struct cfg *cfg)
{
	char *resp = NULL;

	if (control_request(cfg->state_dir, "reload", 2000, &resp) == 0)
		free(resp);
}

static int
slave_add(const struct cfg *cfg, struct store *st, int argc, char **argv)
{
	const char *fpr = NULL;
	uint8_t zero[32] = {0};
	int r;

	if (argc == 5 && strcmp(argv[3], "--fingerprint") == 0)
		fpr = argv[4];
	else if (argc != 3)
		return usage_err("slave add JID [--fingerprint HEX]");
	if (cfg_jid_check(argv[2], 1) < 0) {
		fprintf(stderr, "xmpp-sync: '%s' is not a JID (user@domain, or "
		    "user@domain/resource for one daemon of that account)\n",
		    argv[2]);
		return XS_EXIT_USAGE;
	}
	switch (cfg_jid_self(cfg, argv[2])) {
	case CFG_JID_SELF:
		fprintf(stderr, "xmpp-sync: %s is this master itself\n", argv[2]);
		return XS_EXIT_USAGE;
	case CFG_JID_OWN_ACCOUNT:
		fprintf(stderr, "xmpp-sync: %s is this master's own account; name "
		    "the slave daemon by its full JID (%s/RESOURCE)\n", argv[2],
		    argv[2]);
		return XS_EXIT_USAGE;
	}
	/* checks the form only: any key matches or not, never -EINVAL */
	if (fpr && crypto_fingerprint_match(fpr, zero, zero) == -EINVAL) {
		fprintf(stderr, "xmpp-sync: fingerprint must be 64 hex digits "
		    "(as printed by xmpp-sync fingerprint)\n");
		return XS_EXIT_USAGE;
	}
	r = store_slave_add(st, argv[2], fpr);
	if (r == -EEXIST) {
		fprintf(stderr, "xmpp-sync: %s is already a slave (to re-add it, "
		    "slave remove it first)\n", argv[2]);
		return XS_EXIT_FAILURE;
	}
	if (r < 0)
		return XS_EXIT_STATE;
	printf("added slave %s%s\n", argv[2], fpr ? " (key must match the "
	    "fingerprint given)" : " (its key is pinned on first contact)");
	poke_daemon(cfg);
	return XS_EXIT_OK;
}

static int
print_slave(const struct store_slave *sl, void *arg)
{
	static const char *const keys[] = {"?", "unverified", "pinned", "CHANGED"};
	(void)arg;
	printf("%s\tkey %s\tapplied seq %lld%s%s\n", sl->jid,
	    keys[sl->key_state <= 3 ? sl->key_state : 0],
	    (long long)sl->applied_seq, sl->fingerprint ? "\texpects " : "",
	    sl->fingerprint ? sl->fingerprint : "");
	return 0;
}

static int
cmd_slave(const struct cfg *cfg, int argc, char **argv)
{
	struct store *st;
	int r;

	if (argc < 2)
		return usage_err("slave add|remove|list ...");
	if (cfg->role != CFG_ROLE_MASTER) {
		fprintf(stderr, "xmpp-sync: slave commands are for a master; %s "
		    "says role = slave\n", cfg->path);
		return XS_EXIT_USAGE;
	}
	/* the command line is checked before the state is touched */
	if (!((strcmp(argv[1], "add") == 0 && (argc == 3 || argc == 5)) ||
	    (strcmp(argv[1], "remove") == 0 && argc == 3) ||
	    (strcmp(argv[1], "list") == 0 && argc == 2)))
		return usage_err("slave add JID [--fingerprint HEX] | slave remove JID | slave list");
	if ((r = state_open(cfg, &st, NULL)) != XS_EXIT_OK)
		return r;
	if (strcmp(argv[1], "add") == 0)
		r = slave_add(cfg, st, argc, argv);
	else if (strcmp(argv[1], "remove") == 0 && argc == 3) {
		int e = store_slave_remove(st, argv[2]);
		if (e == -ENOENT)
			fprintf(stderr, "xmpp-sync: %s is not a slave\n", argv[2]);
		else if (e == 0)
			printf("removed slave %s\n", argv[2]);
		r = e == 0 ? XS_EXIT_OK : e == -ENOENT ? XS_EXIT_FAILURE : XS_EXIT_STATE;
		if (e == 0)
			poke_daemon(cfg);
	} else if (strcmp(argv[1], "list") == 0 && argc == 2)
		r = store_slave_list(st, 0, print_slave, NULL) < 0 ?
		    XS_EXIT_STATE : XS_EXIT_OK;
	else
		r = usage_err("slave add JID [--fingerprint HEX] | slave remove JID | slave list");
	store_close(st);
	return r;
}

/* Asks the daemon one request. Returns XS_EXIT_OK and sets *resp, or
 * prints why not and returns an exit status. */
static int
ask_daemon(const struct cfg *cfg, const char *req, int json, char **resp)
{
	int r = control_request(cfg->state_dir, req, 5000, resp);

	if (r == -ENOENT || r == -ECONNREFUSED) {
		if (json)
			printf("{\"daemon\":\"not running\"}\n");
		fprintf(stderr, "xmpp-sync: no daemon is running for %s "
		    "(no control socket at %s/%s)\n", cfg->path, cfg->state_dir,
		    CONTROL_SOCK_NAME);
		return XS_EXIT_NODAEMON;
	}
	if (r < 0) {
		fprintf(stderr, "xmpp-sync: cannot ask the daemon: %s\n",
		    strerror(-r));
		return XS_EXIT_FAILURE;
	}
	return XS_EXIT_OK;
}

/* status --watch: the text report once a second, redrawn in place with a
 * bar per transfer on a terminal, as plain successive reports elsewhere.
 * Runs until interrupted or the daemon goes away. */
static int
status_watch(const struct cfg *cfg)
{
	int tty = isatty(STDOUT_FILENO);
	char *resp = NULL;
	int r;

	for (;;) {
		if ((r = ask_daemon(cfg, tty ? "status bars" : "status", 0,
		    &resp)) != XS_EXIT_OK)
			return r;
		if (tty)
			fputs("\033[H\033[2J", stdout); /* home, clear */
		fputs(resp, stdout);
		if (!tty)
			putchar('\n');
		fflush(stdout);
		free(resp);
		sleep(1);
	}
}

static int
cmd_status(const struct cfg *cfg, int argc, char **argv)
{
	const char *opt = argc == 2 ? argv[1] : "";
	const char *req = "status";
	char *resp = NULL;
	int r;

	if (argc > 2 || (argc == 2 && strcmp(opt, "--json") != 0 &&
	    strcmp(opt, "--watch") != 0 && strcmp(opt, "--prometheus") != 0))
		return usage_err("status [--json | --watch | --prometheus]");
	if (strcmp(opt, "--watch") == 0)
		return status_watch(cfg);
	if (strcmp(opt, "--json") == 0)
		req = "status json";
	else if (strcmp(opt, "--prometheus") == 0)
		req = "metrics";
	if ((r = ask_daemon(cfg, req, strcmp(opt, "--json") == 0, &resp)) !=
	    XS_EXIT_OK)
		return r;
	fputs(resp, stdout);
	free(resp);
	return XS_EXIT_OK;
}

static int
cmd_forget(const struct cfg *cfg, int argc, char **argv)
{
	struct store *st;
	int r;

	if (argc != 2)
		return usage_err("forget JID");
	if ((r = state_open(cfg, &st, NULL)) != XS_EXIT_OK)
		return r;
	r = store_peer_key_forget(st, argv[1]);
	store_close(st);
	if (r == -ENOENT) {
		fprintf(stderr, "xmpp-sync: no pinned key for %s\n", argv[1]);
		return XS_EXIT_FAILURE;
	}
	if (r < 0)
		return XS_EXIT_STATE;
	printf("forgot the pinned key of %s; its next key is pinned on "
	    "first contact\n", argv[1]);
	poke_daemon(cfg);
	return XS_EXIT_OK;
}

static int
cmd_doctor(const struct cfg *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage_err("doctor");
	return doctor_run(cfg);
}

static int
cmd_unit_dropin(const struct cfg *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage_err("unit-dropin");
	return unit_dropin(cfg);
}

static const struct {
	const char *name;
	int (*fn)(const struct cfg *, int, char **);
} commands[] = {
	{"run", cmd_run},
	{"init", cmd_init},
	{"fingerprint", cmd_fingerprint},
	{"slave", cmd_slave},
	{"status", cmd_status},
	{"forget", cmd_forget},
	{"unit-dropin", cmd_unit_dropin},
	{"doctor", cmd_doctor},
};

int
cmd_dispatch(const struct cfg *cfg, int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].fn(cfg, argc, argv);
	fprintf(stderr, "xmpp-sync: unknown command '%s' (see xmpp-sync --help)\n",
	    argv[0]);
	return XS_EXIT_USAGE;
}

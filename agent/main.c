/* main.c -- command line: global options, then one command.
 * Each command lives in agent/cmd.c or agent/daemon.c. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/config.h"
#include "agent/crypto/crypto.h"
#include "agent/log.h"

static const char usage_text[] =
"usage: xmpp-sync [-v] [-c FILE] COMMAND [ARGS]\n"
"       xmpp-sync [-c FILE] -n\n"
"\n"
"commands:\n"
"  init                          create the state directory, database and\n"
"                                this agent's identity keys\n"
"  run                           run the daemon in the foreground\n"
"  slave add JID [--fingerprint HEX]\n"
"                                register a slave (master only)\n"
"  slave remove JID              stop mirroring to a slave\n"
"  slave list                    list registered slaves\n"
"  status [--json|--watch|--prometheus]\n"
"                                what the running daemon sees: as text, JSON,\n"
"                                redrawn every second, or as metrics\n"
"  doctor                        check the configuration, state, server,\n"
"                                TLS, login, transports and peers\n"
"  unit-dropin                   print the systemd drop-in granting the unit\n"
"                                this folder and state directory\n"
"  fingerprint                   print this agent's key fingerprint\n"
"  forget JID                    drop the pinned key of JID (after a key\n"
"                                change you have checked)\n"
"\n"
"options:\n"
"  -c FILE     configuration file (default $XMPP_SYNC_CONFIG, else\n"
"              " CFG_DEFAULT_PATH ")\n"
"  -n          check the configuration and exit\n"
"  -v          verbose: log at debug level\n"
"  -h, --help  this text\n"
"  --version   print the version\n"
"\n"
"The password comes from password_file or $XMPP_SYNC_PASSWORD, never from\n"
"the command line. See README.md for the configuration keys.\n";

static int
usage(FILE *f, int status)
{
	fputs(usage_text, f);
	return status;
}

static int
load_config(const char *path, struct cfg **cfg, int verbose)
{
	if (cfg_load(path, cfg) < 0)
		return XS_EXIT_CONFIG;
	log_set_level(verbose ? LOG_LVL_DEBUG : (*cfg)->log_level);
	return XS_EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *conf = getenv("XMPP_SYNC_CONFIG");
	struct cfg *cfg = NULL;
	int opt, check = 0, verbose = 0, r;

	if (conf == NULL || conf[0] == '\0')
		conf = CFG_DEFAULT_PATH;
	while ((opt = getopt_long(argc, argv, "+c:nvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': conf = optarg; break;
		case 'n': check = 1; break;
		case 'v': verbose = 1; break;
		case 'h': return usage(stdout, XS_EXIT_OK);
		case 'V': printf("xmpp-sync %s\n", XS_VERSION); return XS_EXIT_OK;
		default: return usage(stderr, XS_EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (verbose)
		log_set_level(LOG_LVL_DEBUG);
	/* the journal stamps lines and wants priorities; elsewhere we stamp */
	if (!log_detect_journal())
		log_set_timestamps(1);
	if (check) {
		if (argc > 0)
			return usage(stderr, XS_EXIT_USAGE);
		if ((r = load_config(conf, &cfg, verbose)) != XS_EXIT_OK)
			return r;
		printf("configuration OK\n");
		cfg_free(cfg);
		return XS_EXIT_OK;
	}
	if (argc < 1)
		return usage(stderr, XS_EXIT_USAGE);
	if (strcmp(argv[0], "help") == 0)
		return usage(stdout, XS_EXIT_OK);
	if ((r = load_config(conf, &cfg, verbose)) != XS_EXIT_OK)
		return r;
	if (crypto_global_init() < 0) {
		cfg_free(cfg);
		return XS_EXIT_FAILURE;
	}
	r = cmd_dispatch(cfg, argc, argv);
	cfg_free(cfg);
	return r;
}

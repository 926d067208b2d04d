/* cmd.c -- see cmd.h: one function per command. */
#include <stdio.h>
#include <string.h>

#include "agent/cmd.h"
#include "agent/daemon.h"
#include "agent/exitcode.h"
#include "agent/log.h"

static int
cmd_run(const struct cfg *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: xmpp-sync run\n");
		return XS_EXIT_USAGE;
	}
	return daemon_run(cfg);
}

static const struct {
	const char *name;
	int (*fn)(const struct cfg *, int, char **);
} commands[] = {
	{"run", cmd_run},
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

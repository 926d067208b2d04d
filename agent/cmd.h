/* cmd.h -- the commands of the xmpp-sync command line. */
#ifndef XS_CMD_H
#define XS_CMD_H

#include "agent/config.h"

/* Runs the command in argv[0] with its arguments. Returns an exit status
 * from agent/exitcode.h (XS_EXIT_USAGE for an unknown command). */
int cmd_dispatch(const struct cfg *cfg, int argc, char **argv);

#endif

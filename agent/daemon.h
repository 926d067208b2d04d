/* daemon.h -- `xmpp-sync run`: the long-running agent. */
#ifndef XS_DAEMON_H
#define XS_DAEMON_H

#include "agent/config.h"

/* Runs the daemon in the foreground until SIGTERM or SIGINT.
 * Returns an exit status from agent/exitcode.h: XS_EXIT_OK after a clean
 * stop, XS_EXIT_AUTH or XS_EXIT_TLS when the very first login fails for
 * that reason (later failures are retried with backoff). */
int daemon_run(const struct cfg *cfg);

#endif

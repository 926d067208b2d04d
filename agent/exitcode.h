/* exitcode.h -- named exit statuses of the xmpp-sync command.
 * Listed in README.md ("Exit status"); scripts rely on the numbers. */
#ifndef XS_EXITCODE_H
#define XS_EXITCODE_H

enum xs_exit {
	XS_EXIT_OK = 0,       /* success */
	XS_EXIT_FAILURE = 1,  /* any other failure */
	XS_EXIT_USAGE = 2,    /* bad command line */
	XS_EXIT_CONFIG = 3,   /* configuration file invalid or unreadable */
	XS_EXIT_STATE = 4,    /* state directory, database or keys unusable */
	XS_EXIT_AUTH = 5,     /* the XMPP server refused our credentials */
	XS_EXIT_TLS = 6,      /* TLS failed: certificate not trusted, no TLS */
	XS_EXIT_NETWORK = 7,  /* server unreachable */
	XS_EXIT_NODAEMON = 8, /* status: no daemon is running */
};

#endif

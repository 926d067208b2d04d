/* agent.h -- the program's own header: named exit statuses, the commands of
 * the command line, the state directory, the daemon and its context object.
 * The files directly in agent/ (not the module folders) share it. */
#ifndef XS_AGENT_H
#define XS_AGENT_H

#include <stdint.h>
#include <time.h>

#include "agent/config.h"
#include "agent/xmpp/xmpp.h"

/* Named exit statuses of the xmpp-sync command.
 * Listed in README.md ("Exit status"); scripts rely on the numbers. */

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
	XS_EXIT_CONFLICT = 9, /* another client uses this JID and resource */
};

/* The commands of the xmpp-sync command line. */

/* Runs the command in argv[0] with its arguments. Returns an exit status
 * above (XS_EXIT_USAGE for an unknown command). */
int cmd_dispatch(const struct cfg *cfg, int argc, char **argv);

/* The state directory: database and identity keys, shared by
 * the daemon and the commands that work without it. */

struct store;
struct crypto_identity;

#define STATE_DB_NAME "xmpp-sync.db"

/* Creates state_dir (mode 0700) if missing, the database, and the
 * identity keys unless they exist. Prints what it did. Returns an exit
 * status (XS_EXIT_OK, XS_EXIT_STATE). */
int state_init(const struct cfg *cfg);

/* Opens the database and, if id is not NULL, loads the identity. Logs
 * why on failure (with the hint to run init). Returns XS_EXIT_OK and sets
 * *st (store_close()) and *id (crypto_identity_free()), or an exit
 * status. */
int state_open(const struct cfg *cfg, struct store **st,
    struct crypto_identity **id);

/* `xmpp-sync run`: the long-running agent. */

/* Runs the daemon in the foreground until SIGTERM or SIGINT.
 * Returns an exit status above: XS_EXIT_OK after a clean
 * stop, XS_EXIT_AUTH or XS_EXIT_TLS when the very first login fails for
 * that reason (later failures are retried with backoff). */
int daemon_run(const struct cfg *cfg);

struct loop;
struct service;
struct control;
struct peers;
struct chan;
struct store;
struct crypto_identity;
struct mirror;

/* A sync in progress: from the moment there is content to send or
 * receive until there is none (agent/progress.c). */
struct agent_progress {
	int busy;
	int64_t since_ms;          /* loop time the busy period began */
	int64_t next_log_ms;       /* next progress log line */
	uint64_t files_base, bytes_base; /* mirror counters at its start */
	int64_t todo_files, todo_bytes;  /* master: content still queued for
					  * all slaves, at the last tick */
};

struct progress_totals {
	uint64_t files_done, files_total, bytes_done, bytes_total;
	int64_t eta_s;             /* -1: not known yet */
};

struct agent {
	const struct cfg *cfg;
	struct loop *loop;
	struct conn *conn;
	struct service *svc;
	struct control *control;
	struct peers *peers;    /* agent/xmpp/peer.c */
	struct chan *chan;      /* agent/xmpp/chan.c: between peers and mirror */
	struct store *store;
	struct crypto_identity *id;
	struct mirror *mirror;  /* agent/mirror*.c */
	int sigfd, lockfd;
	int fd_registered;      /* the XMPP socket as registered, or -1 */
	unsigned fd_gen;
	enum conn_state conn_state;
	int ever_online;
	unsigned failures;
	unsigned long reconnects;  /* logins after the first, for metrics */
	int64_t retry_at_ms;
	time_t online_since;
	int stopping;
	int exit_status;
	struct agent_progress prog;
	char notified[256];        /* the last STATUS= sent to systemd */
};

/* Opens what the agent needs beyond the connection (store, keys).
 * Returns XS_EXIT_OK or an exit status after logging why. */
int agent_open(struct agent *a);

/* Releases what agent_open() made. Safe after a failed agent_open(). */
void agent_close(struct agent *a);

/* The connection came up (handlers are to be registered, presence sent)
 * or went down. */
void agent_went_online(struct agent *a);
void agent_went_offline(struct agent *a);

/* Called about once a second from the loop. */
void agent_tick(struct agent *a);

/* Rereads the slave list from the store (after `slave add/remove`). */
void agent_reload(struct agent *a);

/* Returns the status report as JSON text (caller frees), or NULL. */
char *agent_status_json(struct agent *a);

/* Returns the status report as text for people (caller frees), or NULL.
 * bars != 0 draws a progress bar under each transfer (status --watch). */
char *agent_status_text(struct agent *a, int bars);

/* Returns the metrics of `status --prometheus` as Prometheus text
 * (agent/metrics.c; caller frees), or NULL. */
char *agent_metrics(struct agent *a);

/* agent/doctor.c: `xmpp-sync doctor` checks what cfg needs (folder,
 * state directory, server address, TLS, login, the server's proxy and
 * stanza size, the in-band rate, peers and pinned keys) and prints one
 * verdict line each, with a fix for what is wrong, then a summary line.
 * Returns XS_EXIT_OK when nothing needed fails (warnings allowed), else
 * XS_EXIT_FAILURE. */
int doctor_run(const struct cfg *cfg);

/* agent/unit.c: `xmpp-sync unit-dropin` prints the systemd drop-in that
 * grants the unit's sandbox exactly cfg's folder (read-only for a master,
 * read-write for a slave) and state directory, with a hint when the
 * folder's owner and mode keep the unit's user out. Returns XS_EXIT_OK. */
int unit_dropin(const struct cfg *cfg);

/* agent/notify.c: the systemd notify protocol (Type=notify). */

/* Sends one state assignment (or several, newline-separated) built from
 * fmt, such as "READY=1" or "STATUS=online". Does nothing outside
 * systemd. Returns 0, or a negative errno (logged at debug level). */
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sets *ms to the watchdog timeout systemd expects keep-alives within
 * (WatchdogSec=). Returns 0, or -ENOENT when there is no watchdog for this
 * process (*ms = 0), or another negative errno. */
int notify_watchdog_ms(long *ms);

/* Writes the one-line summary for systemd's STATUS= into buf ("online, 3
 * slaves, backlog 0"). Returns buf. */
char *agent_status_line(struct agent *a, char *buf, size_t len);

/* agent/progress.c: transfers in flight and the totals of a sync. */

/* Called once a second: notes when a sync begins and ends, and logs a
 * progress line every 10 s while one lasts. Returns nothing. */
void progress_tick(struct agent *a);

/* Appends ,"transfers":[...],"sync":{...}|null to the status object.
 * Returns the new offset. */
size_t progress_json(struct agent *a, char *buf, size_t off,
    size_t len);

/* Appends the sync totals and one line per transfer (with a bar below
 * each if bars). Returns the new offset. */
size_t progress_text(struct agent *a, char *buf, size_t off,
    size_t len, int bars);

#endif

/* daemon.c -- see agent.h. The daemon is one event loop (agent/loop.h)
 * owning: the XMPP connection, a signalfd, the control socket, and the
 * timers for reconnects and keepalive pings. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/xmpp/xmpp.h"
#include "agent/control.h"
#include "agent/log.h"
#include "agent/loop.h"
#include "agent/sandbox.h"

#define BACKOFF_MIN_MS 1000LL
#define BACKOFF_MAX_MS 300000LL
#define AUTH_RETRY_MS 300000LL
#define STOP_GRACE_MS 2000

/* Exponential backoff, 1 s doubling to 5 min, with +-25 % jitter so many
 * agents behind one server do not reconnect in step. */
static long
backoff_ms(unsigned failures)
{
	long long d = BACKOFF_MIN_MS;
	unsigned short r = 0;

	for (unsigned i = 1; i < failures && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) < 0)
		r = (unsigned short)loop_now_ms();
	return (long)(d * 3 / 4 + (d / 2) * r / 65535);
}

static long reconnect_timer(struct loop *l, void *arg);

/* An attempt ended or an online connection dropped. Sets a->exit_status
 * and stops the loop when the very first login fails for a reason that
 * retrying cannot fix; otherwise schedules a retry. */
static void
connection_lost(struct agent *a)
{
	const char *why;
	enum conn_fail f = conn_get_failure(a->conn, &why);
	long delay;

	if (a->fd_registered >= 0) {
		loop_fd_del(a->loop, a->fd_registered);
		a->fd_registered = -1;
	}
	agent_went_offline(a);
	if (a->stopping) {
		loop_stop(a->loop);
		return;
	}
	if (f == CONN_FAIL_CONFLICT) {
		/* logging in again would evict the other client, which would
		 * do the same to us: stop instead of fighting in a loop */
		log_error("%s/%s is in use by another client (another daemon "
		    "with the same account and resource?); stopping: give each "
		    "daemon on this account its own 'resource'", a->cfg->jid,
		    a->cfg->resource);
		a->exit_status = XS_EXIT_CONFLICT;
		loop_stop(a->loop);
		return;
	}
	if (!a->ever_online && (f == CONN_FAIL_AUTH || f == CONN_FAIL_TLS)) {
		log_error("login as %s failed: %s", a->cfg->jid, why);
		a->exit_status = f == CONN_FAIL_AUTH ? XS_EXIT_AUTH : XS_EXIT_TLS;
		loop_stop(a->loop);
		return;
	}
	a->failures++;
	delay = backoff_ms(a->failures);
	if (f == CONN_FAIL_AUTH && delay < AUTH_RETRY_MS)
		delay = AUTH_RETRY_MS;
	log_warn("%s; retrying in %ld s", why[0] ? why : "disconnected",
	    (delay + 999) / 1000);
	a->retry_at_ms = loop_now_ms() + delay;
	loop_timer_add(a->loop, delay, reconnect_timer, a);
}

static void
start_attempt(struct agent *a)
{
	a->conn_state = CONN_CONNECTING;
	if (conn_start(a->conn) < 0) {
		a->conn_state = CONN_OFFLINE;
		connection_lost(a);
	}
}

static long
reconnect_timer(struct loop *l, void *arg)
{
	struct agent *a = arg;

	(void)l;
	a->retry_at_ms = 0;
	if (!a->stopping && conn_get_state(a->conn) == CONN_OFFLINE)
		start_attempt(a);
	return LOOP_TIMER_END;
}

static void
on_conn_event(struct conn *c, int online, void *arg)
{
	struct agent *a = arg;

	if (!online)
		return; /* handled when the state is seen in xmpp_pump() */
	if (a->ever_online)
		a->reconnects++;
	a->ever_online = 1;
	a->failures = 0;
	a->online_since = time(NULL);
	log_info("connected as %s (TLS, certificate verified)",
	    conn_get_bound_jid(c));
	service_attach(a->svc, conn_get_strophe(c));
	agent_went_online(a);
}

static void
xmpp_fd_ready(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct agent *a = arg;

	(void)l;
	(void)fd;
	(void)ev;
	/* libstrophe reads at most one buffer per call; drain what TLS
	 * already holds */
	for (int i = 0; i < 8 && conn_get_state(a->conn) != CONN_OFFLINE; i++)
		conn_run_once(a->conn, 0);
}

/* Runs libstrophe once per loop iteration and keeps its socket registered
 * with the loop (the socket changes with every attempt). */
static long
xmpp_pump(struct loop *l, void *arg)
{
	struct agent *a = arg;
	enum conn_state st;
	unsigned gen;
	int fd;

	if (a->conn_state != CONN_OFFLINE)
		conn_run_once(a->conn, 0);
	st = conn_get_state(a->conn);
	if (st == CONN_OFFLINE && a->conn_state != CONN_OFFLINE) {
		a->conn_state = st;
		connection_lost(a);
		return 0;
	}
	a->conn_state = st;
	fd = conn_get_fd(a->conn, &gen);
	if (fd >= 0 && (fd != a->fd_registered || gen != a->fd_gen)) {
		if (a->fd_registered >= 0)
			loop_fd_del(l, a->fd_registered);
		a->fd_registered = loop_fd_add(l, fd, LOOP_READ, xmpp_fd_ready,
		    a) == 0 ? fd : -1;
		a->fd_gen = gen;
	}
	if (a->fd_registered >= 0)
		loop_fd_mod(l, a->fd_registered, LOOP_READ |
		    (xmpp_conn_send_queue_len(conn_get_strophe(a->conn)) > 0 ?
		    LOOP_WRITE : 0));
	return 250; /* libstrophe's own timers need a regular call */
}

static long
keepalive_timer(struct loop *l, void *arg)
{
	struct agent *a = arg;

	(void)l;
	if (conn_get_state(a->conn) == CONN_ONLINE &&
	    service_keepalive(a->svc, conn_get_strophe(a->conn))) {
		log_warn("the server did not answer a ping within 20 s; "
		    "dropping the connection");
		xmpp_disconnect(conn_get_strophe(a->conn));
	}
	agent_tick(a);
	return 1000;
}

/* The watchdog keep-alive comes from a loop timer, so a loop that hangs
 * stops feeding it and systemd restarts the daemon. */
static long
watchdog_timer(struct loop *l, void *arg)
{
	long *interval = arg;

	(void)l;
	notify_send("WATCHDOG=1");
	return *interval;
}

static long
stop_deadline(struct loop *l, void *arg)
{
	(void)arg;
	loop_stop(l);
	return LOOP_TIMER_END;
}

static void
on_signal(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct agent *a = arg;
	struct signalfd_siginfo si;

	(void)ev;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		log_info("SIGHUP: rereading the slave list");
		agent_reload(a);
		return;
	}
	if (a->stopping)
		return;
	log_info("stopping on signal %u", si.ssi_signo);
	notify_send("STOPPING=1\nSTATUS=stopping");
	a->stopping = 1;
	if (conn_get_state(a->conn) == CONN_OFFLINE) {
		loop_stop(l);
		return;
	}
	conn_stop(a->conn);
	loop_timer_add(l, STOP_GRACE_MS, stop_deadline, a);
}

static int
setup_signals(struct agent *a)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	a->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->sigfd < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return loop_fd_add(a->loop, a->sigfd, LOOP_READ, on_signal, a);
}

/* One daemon per state directory: a second one would fight over the
 * control socket and the database. */
static int
take_lock(struct agent *a)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/daemon.lock", a->cfg->state_dir);
	a->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (a->lockfd < 0) {
		log_error("cannot open %s: %s (did you run xmpp-sync init?)",
		    path, strerror(errno));
		return -errno;
	}
	if (flock(a->lockfd, LOCK_EX | LOCK_NB) < 0) {
		log_error("another xmpp-sync daemon is running with state "
		    "directory %s", a->cfg->state_dir);
		return -EBUSY;
	}
	return 0;
}

static char *
control_cb(const char *req, void *arg)
{
	struct agent *a = arg;

	if (strcmp(req, "status json") == 0)
		return agent_status_json(a);
	if (strcmp(req, "status") == 0)
		return agent_status_text(a, 0);
	if (strcmp(req, "status bars") == 0)
		return agent_status_text(a, 1);
	if (strcmp(req, "metrics") == 0)
		return agent_metrics(a);
	if (strcmp(req, "reload") == 0) {
		agent_reload(a);
		return strdup("ok\n");
	}
	return NULL;
}

static int
setup(struct agent *a)
{
	char *pw = NULL;
	int r;

	if ((r = loop_new(&a->loop)) < 0 || (r = service_new(&a->svc)) < 0)
		return XS_EXIT_FAILURE;
	if (take_lock(a) < 0)
		return XS_EXIT_STATE;
	if ((r = setup_signals(a)) < 0) {
		log_error("cannot set up signal handling: %s", strerror(-r));
		return XS_EXIT_FAILURE;
	}
	if (cfg_password_read(a->cfg, &pw) < 0)
		return XS_EXIT_CONFIG;
	r = conn_new(a->cfg, pw, on_conn_event, a, &a->conn);
	cfg_password_free(pw);
	if (r < 0) {
		log_error("cannot set up the XMPP connection: %s", strerror(-r));
		return XS_EXIT_FAILURE;
	}
	/* before agent_open() starts the watcher and hasher threads, which
	 * would otherwise stay outside it */
	if (sandbox_apply(a->cfg) < 0)
		return XS_EXIT_FAILURE;
	if ((r = agent_open(a)) != XS_EXIT_OK)
		return r;
	if (control_listen(a->loop, a->cfg->state_dir, control_cb, a,
	    &a->control) < 0)
		return XS_EXIT_STATE;
	return XS_EXIT_OK;
}

int
daemon_run(const struct cfg *cfg)
{
	struct agent a = {.cfg = cfg, .sigfd = -1, .lockfd = -1,
	    .fd_registered = -1, .exit_status = XS_EXIT_OK};
	long wd_ms = 0;
	int r;

	xmpp_initialize();
	if ((r = setup(&a)) == XS_EXIT_OK) {
		log_info("starting as %s for %s (%s)", cfg->jid, cfg->dir,
		    cfg->role == CFG_ROLE_MASTER ? "master" : "slave");
		loop_set_idle(a.loop, xmpp_pump, &a);
		loop_timer_add(a.loop, 1000, keepalive_timer, &a);
		/* the configuration is checked, the database open and the
		 * control socket listening: `status` works from here on */
		notify_send("READY=1\nSTATUS=connecting");
		if (notify_watchdog_ms(&wd_ms) == 0 && wd_ms > 0) {
			wd_ms = wd_ms / 2 > 0 ? wd_ms / 2 : 1;
			log_debug("feeding the systemd watchdog every %ld ms", wd_ms);
			notify_send("WATCHDOG=1");
			loop_timer_add(a.loop, wd_ms, watchdog_timer, &wd_ms);
		}
		start_attempt(&a);
		if (a.exit_status == XS_EXIT_OK && loop_run(a.loop) < 0)
			a.exit_status = XS_EXIT_FAILURE;
		r = a.exit_status;
	}
	control_free(a.control);
	agent_close(&a);
	conn_free(a.conn);
	service_free(a.svc);
	if (a.sigfd >= 0)
		close(a.sigfd);
	if (a.lockfd >= 0)
		close(a.lockfd);
	loop_free(a.loop);
	xmpp_shutdown();
	return r;
}

/* daemon.c -- see daemon.h */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "agent/conn.h"
#include "agent/daemon.h"
#include "agent/exitcode.h"
#include "agent/log.h"

#define BACKOFF_MIN_MS 1000LL
#define BACKOFF_MAX_MS 300000LL
#define AUTH_RETRY_MS 300000LL

/* Set by the signal handler; read by the loop. The handler does nothing
 * else. */
static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

struct daemon {
	const struct cfg *cfg;
	struct conn *conn;
	int ever_online;
	unsigned failures;      /* consecutive failed attempts */
	long long retry_at_ms;  /* 0: no retry scheduled */
};

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Exponential backoff, 1 s doubling to 5 min, with +-25 % jitter so many
 * agents behind one server do not reconnect in step. */
static long long
backoff_ms(unsigned failures)
{
	long long d = BACKOFF_MIN_MS;
	unsigned short r = 0;

	for (unsigned i = 1; i < failures && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) < 0)
		r = (unsigned short)mono_ms();
	return d * 3 / 4 + (d / 2) * r / 65535;
}

static void
on_conn_event(struct conn *c, int online, void *arg)
{
	struct daemon *d = arg;

	if (online) {
		d->ever_online = 1;
		d->failures = 0;
		log_info("connected as %s (TLS, certificate verified)",
		    conn_get_bound_jid(c));
	}
}

static int
setup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* Handles an attempt that ended. Returns an exit status to stop with, or
 * -1 to keep going. */
static int
attempt_ended(struct daemon *d)
{
	const char *why;
	enum conn_fail f = conn_get_failure(d->conn, &why);
	long long delay;

	if (!d->ever_online && f == CONN_FAIL_AUTH) {
		log_error("login as %s failed: %s", d->cfg->jid, why);
		return XS_EXIT_AUTH;
	}
	if (!d->ever_online && f == CONN_FAIL_TLS) {
		log_error("login as %s failed: %s", d->cfg->jid, why);
		return XS_EXIT_TLS;
	}
	d->failures++;
	delay = backoff_ms(d->failures);
	if (f == CONN_FAIL_AUTH && delay < AUTH_RETRY_MS)
		delay = AUTH_RETRY_MS;
	log_warn("%s; retrying in %lld s", why[0] ? why : "disconnected",
	    (delay + 999) / 1000);
	d->retry_at_ms = mono_ms() + delay;
	return -1;
}

static int
loop(struct daemon *d)
{
	enum conn_state prev = conn_get_state(d->conn);
	int r;

	while (!stop_signal) {
		conn_run_once(d->conn, 200);
		enum conn_state st = conn_get_state(d->conn);
		if (st == CONN_OFFLINE && prev != CONN_OFFLINE) {
			if ((r = attempt_ended(d)) >= 0)
				return r;
		}
		prev = st;
		if (st == CONN_OFFLINE && d->retry_at_ms &&
		    mono_ms() >= d->retry_at_ms) {
			d->retry_at_ms = 0;
			if (conn_start(d->conn) < 0 && (r = attempt_ended(d)) >= 0)
				return r;
			prev = conn_get_state(d->conn);
		}
	}
	log_info("stopping on signal %d", (int)stop_signal);
	conn_stop(d->conn);
	for (int i = 0; i < 20 && conn_get_state(d->conn) != CONN_OFFLINE; i++)
		conn_run_once(d->conn, 100);
	return XS_EXIT_OK;
}

int
daemon_run(const struct cfg *cfg)
{
	struct daemon d = {.cfg = cfg};
	char *pw = NULL;
	int r;

	if (setup_signals() < 0) {
		log_error("cannot install signal handlers: %s", strerror(errno));
		return XS_EXIT_FAILURE;
	}
	if (cfg_password_read(cfg, &pw) < 0)
		return XS_EXIT_CONFIG;
	r = conn_new(cfg, pw, on_conn_event, &d, &d.conn);
	cfg_password_free(pw);
	if (r < 0) {
		log_error("cannot set up the XMPP connection: %s", strerror(-r));
		return XS_EXIT_FAILURE;
	}
	log_info("starting as %s for %s (%s)", cfg->jid, cfg->dir,
	    cfg->role == CFG_ROLE_MASTER ? "master" : "slave");
	if (conn_start(d.conn) < 0 && (r = attempt_ended(&d)) >= 0)
		goto out;
	r = loop(&d);
out:
	conn_free(d.conn);
	return r;
}

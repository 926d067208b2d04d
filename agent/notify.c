/* notify.c -- see agent.h: telling systemd how the daemon is doing
 * (Type=notify): READY=1, STATUS= lines, the watchdog keep-alive and
 * STOPPING=1. With libsystemd (HAVE_LIBSYSTEMD, `make SYSTEMD=1`, the
 * default where pkg-config finds it) through sd_notify(); without it, the
 * same datagram is sent to $NOTIFY_SOCKET here. Outside systemd every
 * call does nothing. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/log.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

static int
send_state(const char *state)
{
	return sd_notify(0, state);
}

int
notify_watchdog_ms(long *ms)
{
	uint64_t usec = 0;
	int r = sd_watchdog_enabled(0, &usec);

	*ms = 0;
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	*ms = (long)(usec / 1000);
	return 0;
}

#else

/* The notify protocol: one datagram of newline-separated assignments to
 * the AF_UNIX socket named by $NOTIFY_SOCKET ('@' for the abstract
 * namespace). Returns 1 when sent, 0 when there is no socket, or a
 * negative errno. */
static int
send_state(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n;
	int fd, r = 1;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return 0;
	if ((n = strlen(path)) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
		r = -errno;
	close(fd);
	return r;
}

int
notify_watchdog_ms(long *ms)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	unsigned long long v;

	*ms = 0;
	if (us == NULL)
		return -ENOENT;
	if (pid && strtol(pid, NULL, 10) != (long)getpid())
		return -ENOENT;
	errno = 0;
	v = strtoull(us, &end, 10);
	if (errno || *end || v == 0)
		return -EINVAL;
	*ms = (long)(v / 1000);
	return 0;
}

#endif

int
notify_send(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((r = send_state(buf)) < 0)
		log_debug("cannot notify systemd (%s): %s", buf, strerror(-r));
	return r < 0 ? r : 0;
}

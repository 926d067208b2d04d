/* control.c -- see control.h */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/control.h"
#include "agent/log.h"

#define MAX_CLIENTS 8
#define REQ_MAX 256
#define RESP_MAX (1 << 20)

struct client {
	int fd;          /* -1: free slot */
	char req[REQ_MAX];
	size_t reqlen;
	char *resp;
	size_t resplen, sent;
};

struct control {
	struct loop *loop;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	control_handler fn;
	void *arg;
	struct client clients[MAX_CLIENTS];
};

static int
sock_path(const char *state_dir, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if ((size_t)snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s",
	    state_dir, CONTROL_SOCK_NAME) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

static void
client_close(struct control *c, struct client *cl)
{
	loop_fd_del(c->loop, cl->fd);
	close(cl->fd);
	free(cl->resp);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

static void
client_io(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct control *c = arg;
	struct client *cl = NULL;
	ssize_t n;

	(void)l;
	(void)ev;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (c->clients[i].fd == fd)
			cl = &c->clients[i];
	if (cl == NULL)
		return;
	if (cl->resp == NULL) {
		n = read(fd, cl->req + cl->reqlen, sizeof(cl->req) - 1 - cl->reqlen);
		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				return;
			client_close(c, cl);
			return;
		}
		cl->reqlen += (size_t)n;
		cl->req[cl->reqlen] = '\0';
		char *nl = strchr(cl->req, '\n');
		if (nl == NULL && cl->reqlen < sizeof(cl->req) - 1)
			return;
		if (nl)
			*nl = '\0';
		cl->resp = c->fn(cl->req, c->arg);
		if (cl->resp == NULL)
			cl->resp = strdup("error: unknown request\n");
		if (cl->resp == NULL) {
			client_close(c, cl);
			return;
		}
		cl->resplen = strlen(cl->resp);
		loop_fd_mod(c->loop, fd, LOOP_WRITE);
		return;
	}
	n = write(fd, cl->resp + cl->sent, cl->resplen - cl->sent);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n > 0)
		cl->sent += (size_t)n;
	if (n <= 0 || cl->sent == cl->resplen)
		client_close(c, cl);
}

static void
on_accept(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct control *c = arg;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)ev;
	if (cfd < 0)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (c->clients[i].fd >= 0)
			continue;
		c->clients[i].fd = cfd;
		if (loop_fd_add(l, cfd, LOOP_READ, client_io, c) < 0)
			break;
		return;
	}
	close(cfd); /* too busy: the client sees a closed connection */
}

int
control_listen(struct loop *l, const char *state_dir, control_handler fn,
    void *arg, struct control **out)
{
	struct control *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa;
	mode_t old;
	int r;

	*out = NULL;
	if (c == NULL)
		return -ENOMEM;
	for (int i = 0; i < MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	c->loop = l;
	c->fn = fn;
	c->arg = arg;
	if ((r = sock_path(state_dir, &sa)) < 0) {
		log_error("control socket path under %s is too long", state_dir);
		free(c);
		return r;
	}
	snprintf(c->path, sizeof(c->path), "%s", sa.sun_path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		r = -errno;
		free(c);
		return r;
	}
	unlink(c->path); /* stale from a crash; the daemon lock says we own it */
	old = umask(0077);
	r = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(c->path, 0600) < 0 || listen(c->fd, 8) < 0 ||
	    (r = loop_fd_add(l, c->fd, LOOP_READ, on_accept, c)) < 0) {
		r = r < 0 && r != -1 ? r : -errno;
		log_error("cannot listen on %s: %s", c->path, strerror(-r));
		close(c->fd);
		free(c);
		return r;
	}
	*out = c;
	return 0;
}

void
control_free(struct control *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			client_close(c, &c->clients[i]);
	loop_fd_del(c->loop, c->fd);
	close(c->fd);
	unlink(c->path);
	free(c);
}

/* Waits for fd to be ready for events; returns 0 or -ETIMEDOUT. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int64_t left = deadline - loop_now_ms();

	if (left <= 0)
		return -ETIMEDOUT;
	if (poll(&p, 1, (int)left) <= 0)
		return -ETIMEDOUT;
	return 0;
}

int
control_request(const char *state_dir, const char *request, int timeout_ms,
    char **response)
{
	struct sockaddr_un sa;
	int64_t deadline = loop_now_ms() + timeout_ms;
	char *buf = NULL, line[REQ_MAX];
	size_t len = 0;
	int fd, r;

	*response = NULL;
	if ((r = sock_path(state_dir, &sa)) < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	snprintf(line, sizeof(line), "%s\n", request);
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		close(fd);
		return -EIO;
	}
	if ((buf = malloc(RESP_MAX + 1)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n;
		if ((r = wait_fd(fd, POLLIN, deadline)) < 0)
			break;
		n = read(fd, buf + len, RESP_MAX - len);
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		len += (size_t)n;
		if (len == RESP_MAX) {
			r = -EMSGSIZE;
			break;
		}
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[len] = '\0';
	*response = buf;
	return 0;
}

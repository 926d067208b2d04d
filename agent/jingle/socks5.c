/* jingle/socks5.c -- see jingle_int.h */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <strophe.h>

#include "agent/log.h"
#include "agent/jingle/jingle_int.h"

enum s5b_state {
	C_CONNECTING,   /* client: TCP connect in progress */
	C_GREETED,      /* client: sent 05 01 00, want 05 00 */
	C_REQUESTED,    /* client: sent CONNECT, want the reply */
	S_GREETING,     /* server: want 05 n methods */
	S_REQUEST,      /* server: want CONNECT */
	S_REPLYING,     /* server: writing the reply */
	X_DONE,
};

struct s5b {
	struct loop *l;
	int fd;
	enum s5b_state st;
	int server;
	char dst[S5B_DST_LEN + 1];
	unsigned char in[320];
	size_t inlen;
	unsigned char out[64];
	size_t outlen, outoff;
	int64_t timer;
	s5b_done_cb cb;
	s5b_match_cb match;
	void *arg;
	void *tag;
};

void
s5b_dstaddr(const char *sid, const char *requester, const char *target,
    char out[S5B_DST_LEN + 1])
{
	size_t a = strlen(sid), b = strlen(requester), c = strlen(target);
	unsigned char dig[XMPP_SHA1_DIGEST_SIZE];
	unsigned char *buf = malloc(a + b + c + 1);

	if (buf == NULL) {
		out[0] = '\0';
		return;
	}
	memcpy(buf, sid, a);
	memcpy(buf + a, requester, b);
	memcpy(buf + a + b, target, c);
	xmpp_sha1_digest(buf, a + b + c, dig);
	free(buf);
	for (int i = 0; i < XMPP_SHA1_DIGEST_SIZE; i++)
		snprintf(out + 2 * i, 3, "%02x", dig[i]);
}

const char *
s5b_get_dst(const struct s5b *c)
{
	return c->dst;
}

void *
s5b_get_tag(const struct s5b *c)
{
	return c->tag;
}

void
s5b_set_tag(struct s5b *c, void *tag)
{
	c->tag = tag;
}

static void
detach(struct s5b *c)
{
	if (c->timer > 0)
		loop_timer_del(c->l, c->timer);
	c->timer = 0;
	if (c->fd >= 0)
		loop_fd_del(c->l, c->fd);
}

void
s5b_free(struct s5b *c)
{
	if (c == NULL)
		return;
	detach(c);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

int
s5b_take_fd(struct s5b *c)
{
	int fd = c->fd;

	detach(c);
	c->fd = -1;
	free(c);
	return fd;
}

/* Ends the handshake: the owner hears about it exactly once. */
static void
finish(struct s5b *c, int err)
{
	c->st = X_DONE;
	detach(c);
	c->cb(c, err, c->arg);
}

static long
on_timeout(struct loop *l, void *arg)
{
	struct s5b *c = arg;

	(void)l;
	c->timer = 0;
	finish(c, -ETIMEDOUT);
	return LOOP_TIMER_END;
}

/* Queues bytes to write and watches for writability. */
static void
queue_out(struct s5b *c, const void *p, size_t n)
{
	if (c->outlen + n > sizeof(c->out))
		return; /* cannot happen: at most 2 + 47 bytes are queued */
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
	loop_fd_mod(c->l, c->fd, LOOP_READ | LOOP_WRITE);
}

/* Writes what is queued. Returns 1 when all is out, 0 to wait, or a
 * negative errno. */
static int
flush_out(struct s5b *c)
{
	while (c->outoff < c->outlen) {
		ssize_t w = send(c->fd, c->out + c->outoff,
		    c->outlen - c->outoff, MSG_NOSIGNAL);
		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		c->outoff += (size_t)w;
	}
	c->outlen = c->outoff = 0;
	loop_fd_mod(c->l, c->fd, LOOP_READ);
	return 1;
}

/* Reads what is there into c->in. Returns 0, or -ECONNRESET on EOF, or a
 * negative errno. */
static int
fill_in(struct s5b *c)
{
	for (;;) {
		if (c->inlen == sizeof(c->in))
			return -EPROTO;
		ssize_t r = recv(c->fd, c->in + c->inlen,
		    sizeof(c->in) - c->inlen, 0);
		if (r == 0)
			return -ECONNRESET;
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		c->inlen += (size_t)r;
	}
}

static void
consume(struct s5b *c, size_t n)
{
	memmove(c->in, c->in + n, c->inlen - n);
	c->inlen -= n;
}

/* Length of a CONNECT request or reply starting at p (len bytes
 * available): 0 if incomplete, -1 if malformed. */
static long
msg_len(const unsigned char *p, size_t len)
{
	if (len < 5)
		return 0;
	if (p[0] != 5 || p[2] != 0)
		return -1;
	switch (p[3]) {
	case 1: return 4 + 4 + 2;
	case 4: return 4 + 16 + 2;
	case 3: return 4 + 1 + p[4] + 2;
	}
	return -1;
}

static int
hexstr(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

long
s5b_parse(enum s5b_msg k, const unsigned char *p, size_t len, char *dst)
{
	long n;

	switch (k) {
	case S5B_MSG_GREETING:
		if (len < 2 || len < 2u + p[1])
			return 0;
		if (p[0] != 5 || memchr(p + 2, 0, p[1]) == NULL)
			return -EPROTO;
		return 2 + p[1];
	case S5B_MSG_CHOICE:
		if (len < 2)
			return 0;
		return p[0] == 5 && p[1] == 0 ? 2 : -EPROTO;
	case S5B_MSG_REQUEST:
	case S5B_MSG_REPLY:
		break;
	}
	if ((n = msg_len(p, len)) == 0 || (size_t)n > len)
		return n < 0 ? -EPROTO : 0;
	if (k == S5B_MSG_REPLY)
		return p[1] == 0 ? n : -EACCES;
	if (p[1] != 1 || p[3] != 3 || p[4] != S5B_DST_LEN ||
	    !hexstr(p + 5, S5B_DST_LEN))
		return -EPROTO;
	memcpy(dst, p + 5, S5B_DST_LEN);
	dst[S5B_DST_LEN] = '\0';
	return n;
}

static void
send_request(struct s5b *c, unsigned char cmd_or_status)
{
	unsigned char m[4 + 1 + S5B_DST_LEN + 2];

	m[0] = 5;
	m[1] = cmd_or_status;
	m[2] = 0;
	m[3] = 3;
	m[4] = S5B_DST_LEN;
	memcpy(m + 5, c->dst, S5B_DST_LEN);
	m[5 + S5B_DST_LEN] = 0;
	m[6 + S5B_DST_LEN] = 0;
	queue_out(c, m, sizeof(m));
}

/* Client steps. Returns 0 to continue, 1 when done, or a negative errno. */
static int
client_step(struct s5b *c)
{
	long n;

	if (c->st == C_GREETED) {
		if ((n = s5b_parse(S5B_MSG_CHOICE, c->in, c->inlen, NULL)) <= 0)
			return (int)n;
		consume(c, (size_t)n);
		c->st = C_REQUESTED;
		send_request(c, 1);
	}
	if (c->st == C_REQUESTED) {
		if ((n = s5b_parse(S5B_MSG_REPLY, c->in, c->inlen, NULL)) <= 0)
			return (int)n;
		consume(c, (size_t)n);
		return 1;
	}
	return 0;
}

/* Server steps. Returns 0 to continue, 1 when the reply is out, or a
 * negative errno. */
static int
server_step(struct s5b *c)
{
	long n;
	int r;

	if (c->st == S_GREETING) {
		if ((n = s5b_parse(S5B_MSG_GREETING, c->in, c->inlen, NULL)) <= 0)
			return (int)n;
		consume(c, (size_t)n);
		c->st = S_REQUEST;
		queue_out(c, "\x05\x00", 2);
	}
	if (c->st == S_REQUEST) {
		if ((n = s5b_parse(S5B_MSG_REQUEST, c->in, c->inlen, c->dst)) <= 0)
			return (int)n;
		consume(c, (size_t)n);
		if ((r = c->match(c->arg, c->dst)) < 0) {
			send_request(c, 2); /* not allowed by ruleset */
			flush_out(c);
			return r;
		}
		send_request(c, 0);
		c->st = S_REPLYING;
	}
	if (c->st == S_REPLYING && c->outlen == 0)
		return 1;
	return 0;
}

static int
connect_done(struct s5b *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	if (err)
		return -err;
	c->st = C_GREETED;
	queue_out(c, "\x05\x01\x00", 3);
	return 0;
}

static void
on_fd(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct s5b *c = arg;
	int r = 0;

	(void)l;
	(void)fd;
	if (c->st == C_CONNECTING) {
		if (!(ev & (LOOP_WRITE | LOOP_ERROR)))
			return;
		if ((r = connect_done(c)) < 0)
			goto out;
	}
	if (c->outlen && (r = flush_out(c)) < 0)
		goto out;
	if ((ev & (LOOP_READ | LOOP_ERROR)) && (r = fill_in(c)) < 0)
		goto out;
	r = c->server ? server_step(c) : client_step(c);
	if (r == 0 && c->outlen && (r = flush_out(c)) >= 0)
		r = c->server ? server_step(c) : client_step(c);
out:
	if (r != 0)
		finish(c, r > 0 ? 0 : r);
}

static int
nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static struct s5b *
s5b_alloc(struct loop *l, long timeout_ms, s5b_done_cb cb, void *arg)
{
	struct s5b *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->l = l;
	c->fd = -1;
	c->cb = cb;
	c->arg = arg;
	c->timer = loop_timer_add(l, timeout_ms, on_timeout, c);
	if (c->timer < 0) {
		free(c);
		return NULL;
	}
	return c;
}

static int
open_socket(const char *host, uint16_t port, int *fdp)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	char ps[8];
	int fd, r;

	snprintf(ps, sizeof(ps), "%u", (unsigned)port);
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	r = getaddrinfo(host, ps, &hints, &ai);
	if (r == EAI_NONAME) {
		/* a host name (proxies often have one): this may block */
		hints.ai_flags = AI_NUMERICSERV;
		r = getaddrinfo(host, ps, &hints, &ai);
	}
	if (r != 0)
		return -EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || nonblock(fd) < 0) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return r;
	}
	r = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (r < 0 && errno != EINPROGRESS) {
		r = -errno;
		close(fd);
		return r;
	}
	*fdp = fd;
	return 0;
}

int
s5b_connect(struct loop *l, const char *host, uint16_t port, const char *dst,
    long timeout_ms, s5b_done_cb cb, void *arg, struct s5b **out)
{
	struct s5b *c;
	int r;

	*out = NULL;
	if (strlen(dst) != S5B_DST_LEN)
		return -EINVAL;
	if ((c = s5b_alloc(l, timeout_ms, cb, arg)) == NULL)
		return -ENOMEM;
	memcpy(c->dst, dst, S5B_DST_LEN + 1);
	c->st = C_CONNECTING;
	if ((r = open_socket(host, port, &c->fd)) < 0 ||
	    (r = loop_fd_add(l, c->fd, LOOP_WRITE, on_fd, c)) < 0) {
		s5b_free(c);
		return r;
	}
	*out = c;
	return 0;
}

int
s5b_serve(struct loop *l, int fd, long timeout_ms, s5b_match_cb match,
    s5b_done_cb cb, void *arg, struct s5b **out)
{
	struct s5b *c;
	int r;

	*out = NULL;
	if ((c = s5b_alloc(l, timeout_ms, cb, arg)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	c->server = 1;
	c->match = match;
	c->st = S_GREETING;
	if ((r = nonblock(fd)) < 0 ||
	    (r = loop_fd_add(l, fd, LOOP_READ, on_fd, c)) < 0) {
		s5b_free(c);
		return r;
	}
	*out = c;
	return 0;
}

int
s5b_listen(const char *addr, uint16_t *port)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6,
	    .sin6_port = htons(*port)};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(*port)};
	struct sockaddr_storage got;
	socklen_t len = sizeof(got);
	int fd = -1, zero = 0, one = 1, r, v4 = 0;

	if (addr && inet_pton(AF_INET, addr, &a4.sin_addr) == 1)
		v4 = 1;
	else if (addr && inet_pton(AF_INET6, addr, &a6.sin6_addr) != 1)
		return -EINVAL;
	if (!v4) {
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd >= 0) {
			/* one socket for both families only on the wildcard */
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
			    addr ? &one : &zero, sizeof(zero));
			if (addr == NULL)
				a6.sin6_addr = in6addr_any;
			if (bind(fd, (struct sockaddr *)&a6, sizeof(a6)) < 0) {
				r = -errno;
				close(fd);
				fd = -1;
				if (addr)
					return r;
			}
		} else if (addr)
			return -errno;
	}
	if (fd < 0) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -errno;
		if (!v4)
			a4.sin_addr.s_addr = htonl(INADDR_ANY);
		if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) < 0)
			goto fail;
	}
	if (listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&got, &len) < 0)
		goto fail;
	*port = got.ss_family == AF_INET6 ?
	    ntohs(((struct sockaddr_in6 *)&got)->sin6_port) :
	    ntohs(((struct sockaddr_in *)&got)->sin_port);
	return fd;
fail:
	r = -errno;
	close(fd);
	return r;
}

/* jingle/socks5.h -- SOCKS5 bytestream connections (XEP-0065 / RFC 1928 subset) on
 * the event loop: the client side (connect to a candidate or a proxy) and
 * the server side (a peer connecting to our listening socket). Only what
 * XEP-0065 uses: no authentication, CONNECT, address type "domain name"
 * carrying the 40-hex-digit dst.addr, port 0.
 *
 * A struct s5b lives only during the handshake. When it completes, the
 * callback runs with err = 0 and the owner takes the socket with
 * s5b_take_fd(); on failure (err < 0) the owner frees it. All sockets are
 * non-blocking and never block the loop, except that a candidate host
 * that is not a numeric address is resolved with getaddrinfo().
 */
#ifndef XS_S5B_H
#define XS_S5B_H

#include <stdint.h>

#include "agent/loop.h"

#define S5B_DST_LEN 40 /* hex SHA-1 */

struct s5b;

/* Handshake finished: err is 0 or a negative errno (-ETIMEDOUT,
 * -ECONNREFUSED, -EPROTO for a bad reply, -EACCES when refused). The
 * callback may free c or take its fd; s5b does not touch c afterwards. */
typedef void (*s5b_done_cb)(struct s5b *c, int err, void *arg);

/* Server side: decides whether a requested dst.addr is expected.
 * Returns 0 to accept, a negative errno to refuse (reply "not allowed"). */
typedef int (*s5b_match_cb)(void *arg, const char *dst);

/* Computes dst.addr = hex(SHA-1(sid || requester || target)) into out
 * (41 bytes, NUL-terminated). Returns nothing. */
void s5b_dstaddr(const char *sid, const char *requester, const char *target,
    char out[S5B_DST_LEN + 1]);

/* Connects to host:port and asks for dst. Returns 0 and sets *out (free
 * with s5b_free() unless taken), or a negative errno; cb is then called
 * exactly once, never from inside this call. */
int s5b_connect(struct loop *l, const char *host, uint16_t port,
    const char *dst, long timeout_ms, s5b_done_cb cb, void *arg,
    struct s5b **out);

/* Runs the server side on an accepted socket fd (made non-blocking here;
 * owned by c from now on). Returns 0 and sets *out, or a negative errno
 * (fd is closed). cb is called once the reply is sent, or on failure. */
int s5b_serve(struct loop *l, int fd, long timeout_ms, s5b_match_cb match,
    s5b_done_cb cb, void *arg, struct s5b **out);

/* Returns the dst.addr requested (server) or asked for (client),
 * borrowed. */
const char *s5b_get_dst(const struct s5b *c);

/* Returns the owner's tag (set with s5b_set_tag), for callbacks. */
void *s5b_get_tag(const struct s5b *c);
void s5b_set_tag(struct s5b *c, void *tag);

/* After a successful handshake: returns the socket (no longer watched by
 * the loop; the caller closes it) and frees c. */
int s5b_take_fd(struct s5b *c);

/* Stops watching, closes the socket and frees c. NULL is allowed. */
void s5b_free(struct s5b *c);

/* Opens a non-blocking listening TCP socket on all addresses (IPv6
 * dual-stack when available) on an ephemeral port. Returns the fd and
 * sets *port, or a negative errno. */
int s5b_listen(uint16_t *port);

#endif

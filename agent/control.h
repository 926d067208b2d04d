/* control.h -- the local control socket `state_dir/control.sock` (mode
 * 0600): the CLI asks the running daemon for its status, and tells it that
 * the slave list changed. One request line in, one response, close. */
#ifndef XS_CONTROL_H
#define XS_CONTROL_H

#include "agent/loop.h"

#define CONTROL_SOCK_NAME "control.sock"

struct control;

/* Answers one request line (without newline). Returns a malloc'd response
 * (the control module frees it), or NULL for "unknown request". */
typedef char *(*control_handler)(const char *request, void *arg);

/* Listens on state_dir/control.sock. Returns 0 and sets *out (free with
 * control_free(), which removes the socket), or a negative errno after
 * logging why. */
int control_listen(struct loop *l, const char *state_dir, control_handler fn,
    void *arg, struct control **out);

/* Closes the socket and all client connections. NULL is allowed. */
void control_free(struct control *c);

/* Client side: sends request to the daemon of state_dir and reads the
 * whole response (at most 1 MiB) within timeout_ms. Returns 0 and sets
 * *response (caller frees), -ENOENT or -ECONNREFUSED when no daemon is
 * listening, or another negative errno. */
int control_request(const char *state_dir, const char *request,
    int timeout_ms, char **response);

#endif

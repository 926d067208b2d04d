/* state.h -- the state directory: database and identity keys, shared by
 * the daemon and the commands that work without it. */
#ifndef XS_STATE_H
#define XS_STATE_H

#include "agent/config.h"

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

#endif

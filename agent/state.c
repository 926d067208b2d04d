/* state.c -- see agent.h */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/crypto/crypto.h"
#include "agent/agent.h"
#include "agent/log.h"
#include "store/store.h"

static const char *
role_name(const struct cfg *cfg)
{
	return cfg->role == CFG_ROLE_MASTER ? "master" : "slave";
}

/* The database must have been made for this role: a slave's index must
 * never be taken for a master's. Returns XS_EXIT_OK or XS_EXIT_STATE. */
static int
check_role(const struct cfg *cfg, struct store *st, int set)
{
	char *role = NULL;
	int r = store_meta_dup(st, STORE_META_ROLE, &role);

	if (r == -ENOENT && set)
		return store_meta_set(st, STORE_META_ROLE, role_name(cfg)) < 0 ?
		    XS_EXIT_STATE : XS_EXIT_OK;
	if (r == -ENOENT)
		log_error("%s: database has no role; run xmpp-sync init",
		    cfg->state_dir);
	if (r < 0)		/* other errors: the store has said why */
		return XS_EXIT_STATE;
	r = strcmp(role, role_name(cfg)) == 0 ? XS_EXIT_OK : XS_EXIT_STATE;
	if (r != XS_EXIT_OK)
		log_error("%s was initialised for a %s, but %s says role = %s",
		    cfg->state_dir, role, cfg->path, role_name(cfg));
	free(role);
	return r;
}

static int
db_path(const struct cfg *cfg, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%s", cfg->state_dir, STATE_DB_NAME) >= len) {
		log_error("state_dir path too long: %s", cfg->state_dir);
		return -ENAMETOOLONG;
	}
	return 0;
}

int
state_init(const struct cfg *cfg)
{
	struct store *st = NULL;
	struct crypto_identity *id = NULL;
	char path[4200], fpr[CRYPTO_FPR_SIZE];
	struct stat sb;
	int r;

	if (mkdir(cfg->state_dir, 0700) == 0)
		printf("created %s\n", cfg->state_dir);
	else if (errno != EEXIST) {
		log_error("cannot create %s: %s", cfg->state_dir, strerror(errno));
		return XS_EXIT_STATE;
	}
	if (stat(cfg->state_dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		log_error("%s is not a directory", cfg->state_dir);
		return XS_EXIT_STATE;
	}
	if (db_path(cfg, path, sizeof(path)) < 0 || store_open(path, &st) < 0)
		return XS_EXIT_STATE;
	r = check_role(cfg, st, 1);
	store_close(st);
	if (r != XS_EXIT_OK)
		return r;
	printf("database %s ready (%s)\n", path, role_name(cfg));
	r = crypto_identity_create(cfg->state_dir);
	if (r == -EEXIST)
		printf("identity key already present, kept\n");
	else if (r < 0)
		return XS_EXIT_STATE;
	else
		printf("created identity key %s/%s\n", cfg->state_dir,
		    CRYPTO_IDENTITY_FILE);
	if (crypto_identity_load(cfg->state_dir, &id) < 0)
		return XS_EXIT_STATE;
	crypto_fingerprint(crypto_identity_x25519_get(id),
	    crypto_identity_ed25519_get(id), fpr, sizeof(fpr));
	printf("fingerprint: %s\n", fpr);
	crypto_identity_free(id);
	return XS_EXIT_OK;
}

int
state_open(const struct cfg *cfg, struct store **st,
    struct crypto_identity **id)
{
	char path[4200];
	int r;

	*st = NULL;
	if (id)
		*id = NULL;
	if (db_path(cfg, path, sizeof(path)) < 0)
		return XS_EXIT_STATE;
	if (access(path, R_OK | W_OK) < 0) {
		log_error("cannot use %s: %s (run xmpp-sync init first)", path,
		    strerror(errno));
		return XS_EXIT_STATE;
	}
	if (store_open(path, st) < 0)
		return XS_EXIT_STATE;
	if ((r = check_role(cfg, *st, 0)) != XS_EXIT_OK)
		goto fail;
	if (id && (r = crypto_identity_load(cfg->state_dir, id)) < 0) {
		if (r == -ENOENT)
			log_error("no identity key in %s (run xmpp-sync init)",
			    cfg->state_dir);
		r = XS_EXIT_STATE;
		goto fail;
	}
	return XS_EXIT_OK;
fail:
	store_close(*st);
	*st = NULL;
	return r;
}

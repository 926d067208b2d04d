/* config.h -- the configuration file, parsed once into an immutable struct.
 *
 * Format: `key = value` lines; blank lines and lines whose first non-blank
 * character is `#` are ignored. Relative paths are taken relative to the
 * directory of the configuration file. Errors are printed as
 * "FILE:LINE: message". The keys and their meaning are listed in README.md.
 */
#ifndef XS_CONFIG_H
#define XS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "agent/log.h"

#define CFG_DEFAULT_PATH "/etc/xmpp-sync/xmpp-sync.conf"
#define CFG_PASSWORD_ENV "XMPP_SYNC_PASSWORD"

enum cfg_role {
	CFG_ROLE_MASTER = 1,
	CFG_ROLE_SLAVE,
};

enum cfg_transport {
	CFG_TRANSPORT_S5B = 1, /* XEP-0260 SOCKS5, direct candidates */
	CFG_TRANSPORT_PROXY,   /* XEP-0260 via the server's XEP-0065 proxy */
	CFG_TRANSPORT_IBB,     /* XEP-0261 in-band bytestreams */
};
#define CFG_MAX_TRANSPORTS 3
#define CFG_RESOURCE_MAX 64
#define CFG_RESOURCE_DEFAULT "xmpp-sync"

struct cfg {
	char *path;            /* the file it came from */
	enum cfg_role role;
	char *jid;             /* bare JID of this agent */
	char *password_file;   /* NULL when the password comes from the env */
	char *dir;             /* the mirrored folder, absolute */
	char *state_dir;       /* database, keys, control socket; absolute */
	char *master;          /* slave only: the master's bare JID */
	char *server_host;     /* NULL: from the JID's domain (DNS) */
	unsigned short server_port; /* 0: default */
	char *ca_file;         /* NULL: the system store */
	enum cfg_transport transports[CFG_MAX_TRANSPORTS];
	size_t ntransports;
	char **ignore;         /* globs, see sync/path.h */
	size_t nignore;
	int delete_extras;     /* delete = yes|no (default yes) */
	int sandbox;           /* sandbox = yes|no (default yes): Landlock */
	enum log_level log_level;
	uint64_t max_file_size;   /* slave: largest file accepted, bytes */
	/* slave: free space kept on the folder's file system, the smaller of
	 * min_free_max bytes and min_free_bp hundredths of a percent of its
	 * size (see cfg_min_free()) */
	uint64_t min_free_max;
	unsigned min_free_bp;
	unsigned rescan_interval; /* master: seconds between full rescans */
	unsigned versions;     /* slave: days old versions are kept; 0: none */
	unsigned digest_interval; /* master: seconds between index digest
				   * comparisons with a slave; 0: only after
				   * each (re)connection */
	char resource[CFG_RESOURCE_MAX + 1]; /* our XMPP resource */
	char *s5b_offer;       /* NULL: offer every interface address */
	char *s5b_listen;      /* address the SOCKS5 listener binds; NULL: all */
	unsigned short s5b_listen_port; /* its port; 0: any free one */
};

/* Checks an XMPP resource for the `resource` key: 1 to CFG_RESOURCE_MAX
 * ASCII letters, digits, '.', '_' or '-'. Returns 0 or -EINVAL. */
int cfg_resource_check(const char *s);

/* Reads and checks the file at path. Every problem is printed to stderr
 * as "path:line: message" (the first one found ends parsing). Checks that
 * `dir` is an existing directory and that a password is available
 * (password_file, readable by the owner only, or $XMPP_SYNC_PASSWORD).
 * Returns 0 and sets *out (free with cfg_free()), or a negative errno. */
int cfg_load(const char *path, struct cfg **out);

/* Frees what cfg_load() returned; NULL is allowed. */
void cfg_free(struct cfg *c);

/* Reads the XMPP password: $XMPP_SYNC_PASSWORD if set, else the first line
 * of password_file, which is refused if group or others may read it.
 * Returns 0 and sets *out (free with cfg_password_free(), which wipes it),
 * or a negative errno after logging why. */
int cfg_password_read(const struct cfg *c, char **out);

/* Wipes and frees a password from cfg_password_read(). */
void cfg_password_free(char *pw);

/* Default reserve: the smaller of 1 % of the file system and 100 MiB. */
#define CFG_MIN_FREE_BP_DEFAULT 100
#define CFG_MIN_FREE_MAX_DEFAULT ((uint64_t)100 << 20)

/* Parses a min_free value: bytes with an optional K/M/G/T suffix (powers
 * of 1024), or a percentage with up to two decimals ("1%", "0.5%").
 * Sets *max and *bp as in struct cfg. Returns 0 or -EINVAL with *why
 * set to a static description. */
int cfg_min_free_parse(const char *v, uint64_t *max, unsigned *bp,
    const char **why);

/* The reserve in bytes on a file system of fs_bytes. Returns it. */
uint64_t cfg_min_free(const struct cfg *c, uint64_t fs_bytes);

/* Returns the config-file name of a transport ("s5b", "proxy", "ibb"). */
const char *cfg_transport_name(enum cfg_transport t);

/* Parses v as "address", "v4address:port" or "[v6address]:port" (an IP
 * literal, port 1-65535) into *addr (malloc'd, the old value freed) and
 * *port (0 when none is given). Returns 0, -EINVAL or -ENOMEM. */
int cfg_listen_parse(const char *v, char **addr, unsigned short *port);

/* Returns 0 if s is a bare JID (local@domain, no resource, sane lengths),
 * else -EINVAL. */
int cfg_jid_check_bare(const char *s);

/* Returns 0 if s is a bare JID or, if full_ok, a full JID whose resource
 * passes cfg_resource_check() (a peer daemon: local@domain/resource), else
 * -EINVAL. */
int cfg_jid_check(const char *s, int full_ok);

enum {
	CFG_JID_OTHER = 0,        /* another account, or another daemon of ours */
	CFG_JID_OWN_ACCOUNT,      /* our bare JID: ambiguous as a peer */
	CFG_JID_SELF,             /* our own full JID (jid/resource) */
};

/* Says whether the peer JID jid (bare or full, already checked) names this
 * agent. Returns one of CFG_JID_*. */
int cfg_jid_self(const struct cfg *c, const char *jid);

#endif

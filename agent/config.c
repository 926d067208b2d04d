/* config.c -- see config.h */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config.h"

#define CFG_LINE_MAX 4096
#define CFG_MAX_IGNORE 1024
#define CFG_MAX_VERSIONS 36500	/* days: a hundred years */

enum key_id {
	K_ROLE, K_JID, K_PASSWORD_FILE, K_DIR, K_STATE_DIR, K_MASTER,
	K_SERVER, K_CA_FILE, K_TRANSPORTS, K_IGNORE, K_DELETE, K_LOG_LEVEL,
	K_MAX_FILE_SIZE, K_RESCAN_INTERVAL, K_RESOURCE, K_S5B_OFFER, K_VERSIONS,
	K_DIGEST_INTERVAL, K_MIN_FREE, K_SANDBOX, K_S5B_LISTEN, K_COUNT
};

/* Parser state: the struct being filled and where we are in the file. */
struct parser {
	struct cfg *c;
	const char *file;
	const char *basedir;
	unsigned line;
	unsigned seen_line[K_COUNT];  /* line where each key was set, 0 = unset */
};

static const char *const key_names[K_COUNT] = {
	"role", "jid", "password_file", "dir", "state_dir", "master",
	"server", "ca_file", "transports", "ignore", "delete", "log_level",
	"max_file_size", "rescan_interval", "resource", "s5b_offer",
	"versions",
	"digest_interval",
	"min_free",
	"sandbox",
	"s5b_listen",
};

_Static_assert(K_COUNT <= sizeof(((struct parser *)0)->seen_line) /
    sizeof(unsigned), "seen_line has a slot per key");

static int
perr(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%u: ", p->file, p->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -EINVAL;
}

const char *
cfg_transport_name(enum cfg_transport t)
{
	switch (t) {
	case CFG_TRANSPORT_S5B: return "s5b";
	case CFG_TRANSPORT_PROXY: return "proxy";
	case CFG_TRANSPORT_IBB: return "ibb";
	}
	return "?";
}

int
cfg_jid_check(const char *s, int full_ok)
{
	const char *at = strchr(s, '@'), *slash = strchr(s, '/');

	if (at == NULL || at == s || at[1] == '\0' || at[1] == '/')
		return -EINVAL;
	if (slash && slash < at)
		return -EINVAL;
	if (strchr(at + 1, '@') || strlen(s) > 1023)
		return -EINVAL;
	if (slash && (!full_ok || cfg_resource_check(slash + 1) < 0))
		return -EINVAL;
	for (const char *q = s; *q; q++)
		if (isspace((unsigned char)*q) || iscntrl((unsigned char)*q))
			return -EINVAL;
	return 0;
}

int
cfg_listen_parse(const char *v, char **addr, unsigned short *port)
{
	unsigned char a[sizeof(struct in6_addr)];
	char host[64];
	const char *colon = strrchr(v, ':'), *ps = NULL;
	size_t n;

	if (v[0] == '[') {			/* [v6]:port */
		const char *end = strchr(v, ']');
		if (end == NULL || end[1] != ':' || (n = (size_t)(end - v - 1)) >= sizeof(host))
			return -EINVAL;
		memcpy(host, v + 1, n);
		host[n] = '\0';
		ps = end + 2;
		if (inet_pton(AF_INET6, host, a) != 1)
			return -EINVAL;
	} else if (colon && strchr(v, ':') == colon) {	/* v4:port */
		if ((n = (size_t)(colon - v)) >= sizeof(host))
			return -EINVAL;
		memcpy(host, v, n);
		host[n] = '\0';
		ps = colon + 1;
		if (inet_pton(AF_INET, host, a) != 1)
			return -EINVAL;
	} else {				/* an address alone */
		if (strlen(v) >= sizeof(host) || (inet_pton(AF_INET, v, a) != 1 &&
		    inet_pton(AF_INET6, v, a) != 1))
			return -EINVAL;
		snprintf(host, sizeof(host), "%s", v);
	}
	*port = 0;
	if (ps) {
		char *end;
		unsigned long pn;
		if (!isdigit((unsigned char)ps[0]))
			return -EINVAL;
		errno = 0;
		pn = strtoul(ps, &end, 10);
		if (errno || *end || pn == 0 || pn > 65535)
			return -EINVAL;
		*port = (unsigned short)pn;
	}
	free(*addr);
	if ((*addr = strdup(host)) == NULL)
		return -ENOMEM;
	return 0;
}

int
cfg_jid_self(const struct cfg *c, const char *jid)
{
	size_t n = strlen(c->jid);

	if (strncasecmp(jid, c->jid, n) != 0 || (jid[n] != '\0' && jid[n] != '/'))
		return CFG_JID_OTHER;
	if (jid[n] == '\0')
		return CFG_JID_OWN_ACCOUNT;
	return strcmp(jid + n + 1, c->resource) == 0 ? CFG_JID_SELF :
	    CFG_JID_OTHER;
}

int
cfg_jid_check_bare(const char *s)
{
	return cfg_jid_check(s, 0);
}

/* Returns a malloc'd absolute path for v, relative to the config dir. */
static char *
abs_path(struct parser *p, const char *v)
{
	char *out;

	if (v[0] == '/')
		return strdup(v);
	if (asprintf(&out, "%s/%s", p->basedir, v) < 0)
		return NULL;
	return out;
}

static int
parse_transports(struct parser *p, char *v)
{
	struct cfg *c = p->c;
	char *save = NULL;

	c->ntransports = 0;
	for (char *t = strtok_r(v, ", \t", &save); t;
	    t = strtok_r(NULL, ", \t", &save)) {
		enum cfg_transport tr;

		if (strcmp(t, "s5b") == 0)
			tr = CFG_TRANSPORT_S5B;
		else if (strcmp(t, "proxy") == 0)
			tr = CFG_TRANSPORT_PROXY;
		else if (strcmp(t, "ibb") == 0)
			tr = CFG_TRANSPORT_IBB;
		else
			return perr(p, "unknown transport '%s' (want s5b, proxy, ibb)", t);
		for (size_t i = 0; i < c->ntransports; i++)
			if (c->transports[i] == tr)
				return perr(p, "transport '%s' listed twice", t);
		c->transports[c->ntransports++] = tr;
	}
	if (c->ntransports == 0)
		return perr(p, "transports: empty list");
	return 0;
}

/* "N" or "N" with a K/M/G/T suffix (powers of 1024), at most max.
 * Returns 0, -EINVAL (not a number) or -ERANGE (more than max). */
static int
size_parse(const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long n;
	uint64_t mult = 1;

	errno = 0;
	if (!isdigit((unsigned char)v[0]))
		return -EINVAL;
	n = strtoull(v, &end, 10);
	if (*end == 'K' || *end == 'k')
		mult = 1ULL << 10, end++;
	else if (*end == 'M')
		mult = 1ULL << 20, end++;
	else if (*end == 'G')
		mult = 1ULL << 30, end++;
	else if (*end == 'T')
		mult = 1ULL << 40, end++;
	if (errno || *end != '\0')
		return -EINVAL;
	if (n > max / mult)
		return -ERANGE;
	*out = n * mult;
	return 0;
}

static int
parse_u64(struct parser *p, const char *key, const char *v, uint64_t max,
    uint64_t *out)
{
	int r = size_parse(v, max, out);

	if (r == -ERANGE)
		return perr(p, "%s: %s is too large", key, v);
	if (r < 0)
		return perr(p, "%s: '%s' is not a number", key, v);
	return 0;
}

/* "P%" or "P.D%" / "P.DD%" into hundredths of a percent. Returns 0,
 * -EINVAL or -ERANGE (more than 100 %). */
static int
pct_parse(const char *v, unsigned *bp)
{
	unsigned whole = 0, frac = 0, nfrac = 0;
	const char *q = v;

	if (!isdigit((unsigned char)*q))
		return -EINVAL;
	for (; isdigit((unsigned char)*q); q++)
		if ((whole = whole * 10 + (unsigned)(*q - '0')) > 100)
			return -ERANGE;
	if (*q == '.') {
		if (!isdigit((unsigned char)*++q))
			return -EINVAL;
		for (; isdigit((unsigned char)*q); q++, nfrac++)
			frac = frac * 10 + (unsigned)(*q - '0');
		if (nfrac > 2)
			return -EINVAL;
		frac *= nfrac == 1 ? 10 : 1;
	}
	if (strcmp(q, "%") != 0)
		return -EINVAL;
	*bp = whole * 100 + frac;
	return *bp > 10000 ? -ERANGE : 0;
}

int
cfg_min_free_parse(const char *v, uint64_t *max, unsigned *bp,
    const char **why)
{
	uint64_t n;
	unsigned b;
	int r;

	if (strchr(v, '%')) {
		if ((r = pct_parse(v, &b)) < 0) {
			*why = r == -ERANGE ? "more than 100%" : "not a percentage "
			    "with at most two decimals (like 1% or 0.5%)";
			return -EINVAL;
		}
		*max = UINT64_MAX;
		*bp = b;
		return 0;
	}
	if (size_parse(v, UINT64_MAX, &n) < 0) {
		*why = "not a size or a percentage (like 500M or 1%)";
		return -EINVAL;
	}
	*max = n;
	*bp = 10000;
	return 0;
}

uint64_t
cfg_min_free(const struct cfg *c, uint64_t fs_bytes)
{
	uint64_t share = fs_bytes / 10000 * c->min_free_bp +
	    fs_bytes % 10000 * c->min_free_bp / 10000;

	return share < c->min_free_max ? share : c->min_free_max;
}

static int
parse_server(struct parser *p, const char *v)
{
	struct cfg *c = p->c;
	const char *port = NULL;
	size_t hostlen;

	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		if (close == NULL || close == v + 1)
			return perr(p, "server: bad address '%s'", v);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return perr(p, "server: bad address '%s'", v);
		v++;
		hostlen = (size_t)(close - v);
	} else {
		const char *colon = strchr(v, ':');
		if (colon && strchr(colon + 1, ':'))
			return perr(p, "server: write IPv6 addresses as [addr]:port");
		hostlen = colon ? (size_t)(colon - v) : strlen(v);
		port = colon ? colon + 1 : NULL;
	}
	if (hostlen == 0)
		return perr(p, "server: empty host");
	if (port) {
		char *end;
		long n = strtol(port, &end, 10);
		if (*port == '\0' || *end != '\0' || n < 1 || n > 65535)
			return perr(p, "server: bad port '%s'", port);
		c->server_port = (unsigned short)n;
	}
	c->server_host = strndup(v, hostlen);
	return c->server_host ? 0 : -ENOMEM;
}

static int
set_string(struct parser *p, char **dst, const char *v, int is_path)
{
	free(*dst);
	*dst = is_path ? abs_path(p, v) : strdup(v);
	return *dst ? 0 : -ENOMEM;
}

static int
set_key(struct parser *p, enum key_id k, char *v)
{
	struct cfg *c = p->c;
	uint64_t n;
	int r;

	switch (k) {
	case K_ROLE:
		if (strcmp(v, "master") == 0)
			c->role = CFG_ROLE_MASTER;
		else if (strcmp(v, "slave") == 0)
			c->role = CFG_ROLE_SLAVE;
		else
			return perr(p, "role: want master or slave, not '%s'", v);
		return 0;
	case K_JID:
		if (cfg_jid_check_bare(v) < 0)
			return perr(p, "jid: '%s' is not a bare JID (user@domain; "
			    "the resource is the 'resource' key)", v);
		return set_string(p, &c->jid, v, 0);
	case K_MASTER:
		if (cfg_jid_check(v, 1) < 0)
			return perr(p, "master: '%s' is not a JID (user@domain, or "
			    "user@domain/resource for one daemon of that account)", v);
		return set_string(p, &c->master, v, 0);
	case K_PASSWORD_FILE:
		return set_string(p, &c->password_file, v, 1);
	case K_DIR:
		return set_string(p, &c->dir, v, 1);
	case K_STATE_DIR:
		return set_string(p, &c->state_dir, v, 1);
	case K_SERVER:
		return parse_server(p, v);
	case K_CA_FILE:
		return set_string(p, &c->ca_file, v, 1);
	case K_TRANSPORTS:
		return parse_transports(p, v);
	case K_IGNORE: {
		char **ig;
		if (c->nignore >= CFG_MAX_IGNORE)
			return perr(p, "ignore: more than %d patterns", CFG_MAX_IGNORE);
		ig = realloc(c->ignore, (c->nignore + 1) * sizeof(*ig));
		if (ig == NULL)
			return -ENOMEM;
		c->ignore = ig;
		if ((ig[c->nignore] = strdup(v)) == NULL)
			return -ENOMEM;
		c->nignore++;
		return 0;
	}
	case K_DELETE:
		if (strcmp(v, "yes") == 0)
			c->delete_extras = 1;
		else if (strcmp(v, "no") == 0)
			c->delete_extras = 0;
		else
			return perr(p, "delete: want yes or no, not '%s'", v);
		return 0;
	case K_SANDBOX:
		if (strcmp(v, "yes") == 0)
			c->sandbox = 1;
		else if (strcmp(v, "no") == 0)
			c->sandbox = 0;
		else
			return perr(p, "sandbox: want yes or no, not '%s'", v);
		return 0;
	case K_LOG_LEVEL:
		if (log_level_parse(v, &c->log_level) < 0)
			return perr(p, "log_level: want error, warn, info or debug, not '%s'", v);
		return 0;
	case K_RESOURCE:
		if (cfg_resource_check(v) < 0)
			return perr(p, "resource: '%s' is not a resource name (1-%d "
			    "letters, digits, '.', '_' or '-')", v, CFG_RESOURCE_MAX);
		snprintf(c->resource, sizeof(c->resource), "%s", v);
		return 0;
	case K_S5B_LISTEN:
		if (cfg_listen_parse(v, &c->s5b_listen, &c->s5b_listen_port) < 0)
			return perr(p, "s5b_listen: '%s' is not an address, "
			    "address:port or [v6 address]:port", v);
		return 0;
	case K_S5B_OFFER: {
		unsigned char a[sizeof(struct in6_addr)];
		if (inet_pton(AF_INET, v, a) != 1 && inet_pton(AF_INET6, v, a) != 1)
			return perr(p, "s5b_offer: '%s' is not an IPv4 or IPv6 "
			    "address", v);
		return set_string(p, &c->s5b_offer, v, 0);
	}
	case K_MAX_FILE_SIZE:
		if ((r = parse_u64(p, "max_file_size", v, UINT64_MAX, &n)) < 0)
			return r;
		c->max_file_size = n;
		return 0;
	case K_RESCAN_INTERVAL:
		if ((r = parse_u64(p, "rescan_interval", v, 7 * 86400, &n)) < 0)
			return r;
		if (n < 10)
			return perr(p, "rescan_interval: at least 10 seconds");
		c->rescan_interval = (unsigned)n;
		return 0;
	case K_VERSIONS:
		if ((r = parse_u64(p, "versions", v, CFG_MAX_VERSIONS, &n)) < 0)
			return r;
		c->versions = (unsigned)n;
		return 0;
	case K_DIGEST_INTERVAL:
		if ((r = parse_u64(p, "digest_interval", v, 7 * 86400, &n)) < 0)
			return r;
		c->digest_interval = (unsigned)n;
		return 0;
	case K_MIN_FREE: {
		const char *why;
		if (cfg_min_free_parse(v, &c->min_free_max, &c->min_free_bp,
		    &why) < 0)
			return perr(p, "min_free: '%s' is %s", v, why);
		return 0;
	}
	case K_COUNT:
		break;
	}
	return -EINVAL;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
parse_line(struct parser *p, char *buf)
{
	char *s = trim(buf), *eq, *key, *val;

	if (*s == '\0' || *s == '#')
		return 0;
	if ((eq = strchr(s, '=')) == NULL)
		return perr(p, "expected 'key = value'");
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	for (int k = 0; k < K_COUNT; k++) {
		if (strcmp(key, key_names[k]) != 0)
			continue;
		if (*val == '\0')
			return perr(p, "%s: empty value", key);
		if (k != K_IGNORE && p->seen_line[k])
			return perr(p, "%s: already set on line %u", key,
			    p->seen_line[k]);
		p->seen_line[k] = p->line;
		return set_key(p, (enum key_id)k, val);
	}
	return perr(p, "unknown key '%s'", key);
}

/* Checks a password file: a regular file, readable, owner-only.
 * Returns 0, or -EPERM/-errno with the reason in *why (static). */
static int
password_file_check(const char *path, const char **why, unsigned *mode)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		*why = strerror(errno);
		return -errno;
	}
	*mode = st.st_mode & 07777;
	if (!S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		*why = "readable by group or others";
		return -EPERM;
	}
	if (access(path, R_OK) < 0) {
		*why = strerror(errno);
		return -errno;
	}
	return 0;
}

static int
check_whole(struct parser *p)
{
	struct cfg *c = p->c;
	static const enum key_id required[] = {K_ROLE, K_JID, K_DIR, K_STATE_DIR};
	struct stat st;
	const char *why;
	unsigned mode = 0;

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!p->seen_line[required[i]])
			return perr(p, "missing required key '%s'",
			    key_names[required[i]]);
	if (c->role == CFG_ROLE_SLAVE && c->master == NULL)
		return perr(p, "role is slave but 'master' (the master's JID) is missing");
	if (c->role == CFG_ROLE_MASTER && c->master) {
		p->line = p->seen_line[K_MASTER];
		return perr(p, "master: only a slave names its master");
	}
	if (c->role == CFG_ROLE_MASTER && p->seen_line[K_VERSIONS]) {
		p->line = p->seen_line[K_VERSIONS];
		return perr(p, "versions: only a slave keeps old versions");
	}
	if (c->master && cfg_jid_self(c, c->master) == CFG_JID_SELF) {
		p->line = p->seen_line[K_MASTER];
		return perr(p, "master: %s is this agent itself", c->master);
	}
	if (c->master && cfg_jid_self(c, c->master) == CFG_JID_OWN_ACCOUNT) {
		p->line = p->seen_line[K_MASTER];
		return perr(p, "master: %s is this agent's own account; name the "
		    "master daemon by its full JID (%s/RESOURCE)", c->master,
		    c->master);
	}
	p->line = p->seen_line[K_DIR];
	if (stat(c->dir, &st) < 0)
		return perr(p, "dir: %s: %s", c->dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return perr(p, "dir: %s: not a directory", c->dir);
	if (c->ca_file) {
		p->line = p->seen_line[K_CA_FILE];
		if (access(c->ca_file, R_OK) < 0)
			return perr(p, "ca_file: %s: %s", c->ca_file, strerror(errno));
	}
	if (c->password_file) {
		p->line = p->seen_line[K_PASSWORD_FILE];
		if (password_file_check(c->password_file, &why, &mode) < 0) {
			if (mode & 077)
				return perr(p, "password_file: %s is %s (mode %04o); "
				    "refusing it, run: chmod 600 %s", c->password_file,
				    why, mode, c->password_file);
			return perr(p, "password_file: %s: %s", c->password_file, why);
		}
	} else if (getenv(CFG_PASSWORD_ENV) == NULL) {
		return perr(p, "no password: set password_file or $%s",
		    CFG_PASSWORD_ENV);
	}
	return 0;
}

static void
set_defaults(struct cfg *c)
{
	c->transports[0] = CFG_TRANSPORT_S5B;
	c->transports[1] = CFG_TRANSPORT_PROXY;
	c->transports[2] = CFG_TRANSPORT_IBB;
	c->ntransports = 3;
	c->delete_extras = 1;
	c->sandbox = 1;
	c->log_level = LOG_LVL_INFO;
	c->max_file_size = 1ULL << 40;
	c->min_free_max = CFG_MIN_FREE_MAX_DEFAULT;
	c->min_free_bp = CFG_MIN_FREE_BP_DEFAULT;
	c->rescan_interval = 3600;
	c->digest_interval = 300;
	snprintf(c->resource, sizeof(c->resource), "%s", CFG_RESOURCE_DEFAULT);
}

int
cfg_resource_check(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CFG_RESOURCE_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return -EINVAL;
	return 0;
}

static int
parse_stream(struct parser *p, FILE *f)
{
	char buf[CFG_LINE_MAX + 2];
	int r;

	while (fgets(buf, sizeof(buf), f)) {
		p->line++;
		size_t n = strlen(buf);
		if (n == sizeof(buf) - 1 && buf[n - 1] != '\n')
			return perr(p, "line longer than %d bytes", CFG_LINE_MAX);
		if ((r = parse_line(p, buf)) < 0)
			return r;
	}
	if (ferror(f))
		return perr(p, "read error: %s", strerror(errno));
	return check_whole(p);
}

int
cfg_load(const char *path, struct cfg **out)
{
	struct parser p = {.file = path};
	char *dircopy = NULL;
	FILE *f;
	int r;

	*out = NULL;
	if ((f = fopen(path, "r")) == NULL) {
		r = -errno;
		fprintf(stderr, "%s: cannot open: %s\n", path, strerror(errno));
		return r;
	}
	p.c = calloc(1, sizeof(*p.c));
	dircopy = strdup(path);
	if (p.c == NULL || dircopy == NULL || (p.c->path = strdup(path)) == NULL) {
		r = -ENOMEM;
		goto done;
	}
	{
		char *slash = strrchr(dircopy, '/');
		if (slash == NULL)
			p.basedir = ".";
		else {
			slash[slash == dircopy] = '\0';
			p.basedir = dircopy;
		}
	}
	set_defaults(p.c);
	r = parse_stream(&p, f);
done:
	fclose(f);
	free(dircopy);
	if (r < 0) {
		cfg_free(p.c);
		return r;
	}
	*out = p.c;
	return 0;
}

void
cfg_free(struct cfg *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->jid);
	free(c->password_file);
	free(c->dir);
	free(c->state_dir);
	free(c->master);
	free(c->server_host);
	free(c->ca_file);
	free(c->s5b_offer);
	free(c->s5b_listen);
	for (size_t i = 0; i < c->nignore; i++)
		free(c->ignore[i]);
	free(c->ignore);
	free(c);
}

int
cfg_password_read(const struct cfg *c, char **out)
{
	const char *env = getenv(CFG_PASSWORD_ENV), *why;
	char buf[1024];
	unsigned mode = 0;
	FILE *f;
	int r;

	*out = NULL;
	if (env) {
		*out = strdup(env);
		return *out ? 0 : -ENOMEM;
	}
	if (c->password_file == NULL) {
		log_error("no password: set password_file or $%s", CFG_PASSWORD_ENV);
		return -ENOENT;
	}
	if ((r = password_file_check(c->password_file, &why, &mode)) < 0) {
		log_error("password file %s: %s%s", c->password_file, why,
		    r == -EPERM ? "; refusing it (chmod 600)" : "");
		return r;
	}
	if ((f = fopen(c->password_file, "r")) == NULL) {
		r = -errno;
		log_error("cannot open %s: %s", c->password_file, strerror(errno));
		return r;
	}
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		log_error("password file %s is empty", c->password_file);
		return -EINVAL;
	}
	*out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *out ? 0 : -ENOMEM;
}

void
cfg_password_free(char *pw)
{
	if (pw) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
}

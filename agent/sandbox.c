/* sandbox.c -- Landlock rules for the daemon, through the raw system
 * calls (no library). See sandbox.h. */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/log.h"
#include "agent/sandbox.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

/* Rights by ABI version: 1 has the first 13, 2 adds REFER (moves between
 * directories), 3 TRUNCATE, 5 IOCTL_DEV. */
#define FS_ABI1 ((1ULL << 13) - 1)
#define FS_REFER (1ULL << 13)
#define FS_TRUNCATE (1ULL << 14)
#define FS_IOCTL_DEV (1ULL << 15)

#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_WRITE (LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
	LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | \
	LANDLOCK_ACCESS_FS_MAKE_SYM | FS_REFER | FS_TRUNCATE)
/* what may be granted on a file rather than a directory */
#define FS_FILE (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV)

/* Read on demand by OpenSSL, the resolver and the C library; missing
 * ones are skipped. */
static const char *const system_read[] = {
	"/etc/ssl", "/usr/lib/ssl", "/usr/share/ca-certificates",
	"/usr/local/share/ca-certificates", "/etc/ca-certificates",
	"/etc/pki", "/etc/resolv.conf", "/run/systemd/resolve",
	"/run/resolvconf", "/etc/hosts", "/etc/host.conf",
	"/etc/nsswitch.conf", "/etc/gai.conf", "/etc/services",
	"/etc/protocols", "/etc/localtime", "/usr/share/zoneinfo",
	"/etc/ld.so.cache", "/dev/urandom", "/dev/random", "/proc",
	"/sys/devices/system/cpu",
};

/* Libraries the C library (NSS) and OpenSSL (providers) may load. */
static const char *const system_libs[] = {
	"/usr/lib", "/lib", "/lib64", "/usr/lib64",
};

/* Adds a rule granting access (within handled) below path, or on path
 * if it is a file. Returns 0, -ENOENT if path does not exist, or
 * -errno. */
static int
add_rule(int rfd, uint64_t handled, const char *path, uint64_t access)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else {
		memset(&pb, 0, sizeof(pb));
		pb.parent_fd = fd;
		pb.allowed_access = access & handled &
		    (S_ISDIR(st.st_mode) ? ~0ULL : FS_FILE);
		if (syscall(SYS_landlock_add_rule, rfd,
		    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
			r = -errno;
	}
	close(fd);
	return r;
}

/* The paths the configuration names: each must be granted. Returns 0
 * or -errno (logged). */
static int
add_own(int rfd, uint64_t handled, const struct cfg *cfg)
{
	const struct {
		const char *path;
		uint64_t access;
	} own[] = {
		{cfg->dir, cfg->role == CFG_ROLE_SLAVE ? FS_READ | FS_WRITE :
		    FS_READ},
		{cfg->state_dir, FS_READ | FS_WRITE |
		    LANDLOCK_ACCESS_FS_MAKE_SOCK},
		{cfg->path, LANDLOCK_ACCESS_FS_READ_FILE},
		{cfg->password_file, LANDLOCK_ACCESS_FS_READ_FILE},
		{cfg->ca_file, LANDLOCK_ACCESS_FS_READ_FILE},
		{"/dev/null", LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_WRITE_FILE},
	};
	int r;

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		if (own[i].path == NULL)
			continue;
		if ((r = add_rule(rfd, handled, own[i].path,
		    own[i].access)) < 0) {
			log_error("sandbox: cannot allow %s: %s", own[i].path,
			    strerror(-r));
			return r;
		}
	}
	return 0;
}

/* The system paths, where they exist. Returns 0 or -errno (logged). */
static int
add_system(int rfd, uint64_t handled)
{
	int r;

	for (size_t i = 0; i < sizeof(system_read) / sizeof(system_read[0]);
	    i++)
		if ((r = add_rule(rfd, handled, system_read[i], FS_READ)) < 0 &&
		    r != -ENOENT) {
			log_error("sandbox: cannot allow %s: %s", system_read[i],
			    strerror(-r));
			return r;
		}
	for (size_t i = 0; i < sizeof(system_libs) / sizeof(system_libs[0]);
	    i++)
		if ((r = add_rule(rfd, handled, system_libs[i], FS_READ |
		    LANDLOCK_ACCESS_FS_EXECUTE)) < 0 && r != -ENOENT) {
			log_error("sandbox: cannot allow %s: %s", system_libs[i],
			    strerror(-r));
			return r;
		}
	return 0;
}

/* The file system rights this kernel's Landlock handles, or 0 (warned)
 * when it has none worth using. */
static uint64_t
handled_rights(int *abi)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	uint64_t h = FS_ABI1 | FS_REFER;

	*abi = (int)v;
	if (v < 0) {
		log_warn("sandbox: this kernel has no Landlock (%s); running "
		    "without one", strerror(errno));
		return 0;
	}
	if (v < 2) {
		/* ABI 1 forbids every move between directories */
		log_warn("sandbox: Landlock ABI %ld is too old (a slave moves "
		    "files between directories); running without one", v);
		return 0;
	}
	if (v >= 3)
		h |= FS_TRUNCATE;
	if (v >= 5)
		h |= FS_IOCTL_DEV;
	return h;
}

int
sandbox_apply(const struct cfg *cfg)
{
	struct landlock_ruleset_attr attr;
	uint64_t handled;
	int abi, rfd, r;

	if (!cfg->sandbox) {
		log_warn("sandbox: off (sandbox = no)");
		return 1;
	}
	if ((handled = handled_rights(&abi)) == 0)
		return 1;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = handled;
	rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rfd < 0) {
		r = -errno;
		log_error("sandbox: cannot create a Landlock ruleset: %s",
		    strerror(-r));
		return r;
	}
	if ((r = add_own(rfd, handled, cfg)) == 0 &&
	    (r = add_system(rfd, handled)) == 0 &&
	    (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_landlock_restrict_self, rfd, 0) < 0)) {
		r = -errno;
		log_error("sandbox: cannot restrict the process: %s",
		    strerror(-r));
	}
	close(rfd);
	if (r == 0 && cfg->role == CFG_ROLE_SLAVE)
		log_info("sandbox: Landlock (ABI %d) in force: writes only "
		    "below %s and %s", abi, cfg->dir, cfg->state_dir);
	else if (r == 0)
		log_info("sandbox: Landlock (ABI %d) in force: reads %s, writes "
		    "only below %s", abi, cfg->dir, cfg->state_dir);
	return r;
}

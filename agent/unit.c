/* unit.c -- see agent.h: `xmpp-sync unit-dropin`, the systemd drop-in
 * that opens up exactly this configuration's folder (read-only for a
 * master, read-write for a slave) and state directory to the sandbox of
 * systemd/xmpp-sync@.service, which sees everything else read-only and
 * /home, /root and /run/user as empty. */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent.h"

#define UNIT_USER "xmpp-sync"

/* Whether p is below a directory the unit hides (ProtectHome=tmpfs):
 * those paths have to be bind-mounted in, not just made writable. */
static int
hidden(const char *p)
{
	static const char *const dirs[] = {"/home", "/root", "/run/user"};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		size_t n = strlen(dirs[i]);
		if (strncmp(p, dirs[i], n) == 0 && (p[n] == '/' || p[n] == '\0'))
			return 1;
	}
	return 0;
}

static void
grant(const char *what, const char *p, int writable)
{
	printf("# %s\n", what);
	if (hidden(p))
		printf("%s=%s\n", writable ? "BindPaths" : "BindReadOnlyPaths", p);
	else
		printf("%s=%s\n", writable ? "ReadWritePaths" : "ReadOnlyPaths", p);
}

/* The unit's user reaches a folder owned by someone else through the
 * folder's group: say which group to run as, or what to change. */
static void
access_hint(const char *dir, int writable)
{
	struct passwd *pw = getpwnam(UNIT_USER);
	struct stat st;
	struct group *gr;
	mode_t need = writable ? 0030 : 0050; /* group r-x or -wx */

	if (stat(dir, &st) < 0)
		return;
	if (pw && st.st_uid == pw->pw_uid)
		return;
	gr = getgrgid(st.st_gid);
	if ((st.st_mode & need) == need && gr && strcmp(gr->gr_name, "root") != 0) {
		printf("# %s belongs to group %s, which may %s it: run as that "
		    "group%s\nGroup=%s\n", dir, gr->gr_name, writable ?
		    "write to" : "read", writable ? " (what the slave writes "
		    "then belongs to it too)" : "", gr->gr_name);
		return;
	}
	printf("# %s is not the %s user's and its group may not %s it:\n"
	    "#   chown -R %s %s\n"
	    "# or give it a group (chgrp -R GROUP; chmod -R g+%s%s) and add\n"
	    "#   Group=GROUP\n", dir, UNIT_USER, writable ? "write to" : "read",
	    UNIT_USER, dir, writable ? "rwX" : "rX",
	    writable ? "; find DIR -type d -exec chmod g+s {} +" : "");
}

int
unit_dropin(const struct cfg *cfg)
{
	int slave = cfg->role == CFG_ROLE_SLAVE;

	printf("# drop-in for xmpp-sync@.service: what %s needs\n"
	    "# install as /etc/systemd/system/xmpp-sync@NAME.service.d/paths.conf\n"
	    "# then: systemctl daemon-reload\n[Service]\n", cfg->path);
	grant(slave ? "the folder this slave writes" :
	    "the folder this master reads", cfg->dir, slave);
	access_hint(cfg->dir, slave);
	grant("the state directory: database, keys, control socket",
	    cfg->state_dir, 1);
	if (hidden(cfg->path))
		grant("the configuration", cfg->path, 0);
	if (cfg->password_file && hidden(cfg->password_file))
		grant("the password file", cfg->password_file, 0);
	if (cfg->ca_file && hidden(cfg->ca_file))
		grant("the CA certificates", cfg->ca_file, 0);
	return XS_EXIT_OK;
}

/* sandbox.h -- the daemon confines itself with Landlock (Linux >= 5.13,
 * unprivileged), so that whatever goes wrong in it (a parser bug, a
 * master or server that found a way around a check), it cannot write
 * anywhere but below its folder and its state directory, nor read more
 * than it needs.
 *
 * What stays allowed after sandbox_apply():
 *   dir          a slave: read, write, create, remove, rename;
 *                a master: read only (it never writes its folder)
 *   state_dir    read, write, create, remove (the database, its journal,
 *                the lock, the control socket)
 *   the configuration file, password_file, ca_file: read
 *   what TLS, name resolution and the C library read on demand, read
 *   only: /etc/ssl, /usr/lib/ssl, the CA stores, /etc/resolv.conf (and
 *   where it may point), /etc/hosts, /etc/nsswitch.conf, /etc/gai.conf,
 *   /etc/host.conf, /etc/services, /etc/protocols, /etc/localtime,
 *   /usr/share/zoneinfo, /etc/ld.so.cache, the library directories,
 *   /dev/urandom, /dev/random, /proc, /sys/devices/system/cpu; and
 *   /dev/null, read and write.
 * Everything else on the file system is refused (EACCES). The network
 * is not restricted: SOCKS5 listens and connects where the peers say.
 * SQLite keeps its temporary data in memory (store_open()), so it needs
 * no temp directory.
 *
 * `sandbox = no` in the configuration turns this off. */
#ifndef XS_SANDBOX_H
#define XS_SANDBOX_H

#include "agent/config.h"

/* Restricts this process to the rules above for the daemon of cfg, and
 * sets no_new_privs (it never executes anything). Landlock applies to
 * the calling thread and to what it creates afterwards: call it before
 * any other thread exists. Returns 0 when the rules are in force (logged
 * at info), 1 when they are not because cfg says `sandbox = no` or the
 * kernel has no usable Landlock (a warning), or a negative errno when
 * they could not be applied (logged). */
int sandbox_apply(const struct cfg *cfg);

#endif

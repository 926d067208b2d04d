/* fuzz_config.c -- the configuration parser (agent/config.c) on any
 * bytes: they are written to a memfd and loaded with cfg_load() through
 * /proc/self/fd/N, so nothing touches the disk. $XMPP_SYNC_PASSWORD is
 * set, so a file that names an existing dir (such as /tmp) gets through
 * every check and the whole struct is built and freed.
 *
 * What loads must hold what cfg_load() promises: the required keys, a
 * slave's master, one to three distinct transports.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/config.h"
#include "tests/fuzz/fuzz.h"

static void
check_loaded(const struct cfg *c)
{
	fuzz_check(c->path && c->jid && c->dir && c->state_dir);
	fuzz_check(c->dir[0] == '/' && c->state_dir[0] == '/');
	fuzz_check(c->role == CFG_ROLE_MASTER || c->role == CFG_ROLE_SLAVE);
	fuzz_check((c->role == CFG_ROLE_SLAVE) == (c->master != NULL));
	fuzz_check(c->ntransports >= 1 && c->ntransports <= CFG_MAX_TRANSPORTS);
	for (size_t i = 0; i < c->ntransports; i++)
		for (size_t j = 0; j < i; j++)
			fuzz_check(c->transports[i] != c->transports[j]);
	fuzz_check(c->rescan_interval >= 10);
	for (size_t i = 0; i < c->nignore; i++)
		fuzz_check(c->ignore[i] != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("xs-fuzz-config", MFD_CLOEXEC);
	char path[64];
	struct cfg *c = NULL;
	size_t off = 0;
	int r;

	fuzz_check(fd >= 0);
	while (off < size) {
		ssize_t w = write(fd, data + off, size - off);
		fuzz_check(w > 0);
		off += (size_t)w;
	}
	setenv(CFG_PASSWORD_ENV, "fuzz", 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = cfg_load(path, &c);
	fuzz_check(r == 0 || r == -EINVAL || r == -ENOMEM);
	fuzz_check((r == 0) == (c != NULL));
	if (c)
		check_loaded(c);
	cfg_free(c);
	close(fd);
	return 0;
}

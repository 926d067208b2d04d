/* crypto/identity.c -- the long-term identity: creating it on disk,
 * loading it with a permission check, signing with it.
 * See crypto.h for the contracts and docs/protocol.md for the file.
 *
 * The key file is text, so an operator can see what it is:
 *
 *     xmpp-sync identity 1
 *     x25519 <64 hex digits: X25519 secret scalar>
 *     ed25519 <64 hex digits: Ed25519 secret seed (RFC 8032)>
 *
 * The public keys are derived on load, so the file cannot hold a public
 * key that does not match its secret.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/crypto/crypto_int.h"
#include "agent/log.h"

#define MAGIC		"xmpp-sync identity 1\n"
#define X_TAG		"x25519 "
#define ED_TAG		"ed25519 "
/* MAGIC, two tagged lines of 64 hex digits and a newline each. */
#define FILE_LEN	(sizeof(MAGIC) - 1 + sizeof(X_TAG) - 1 + 65 + \
			 sizeof(ED_TAG) - 1 + 65)

int
crypto_identity_from_secrets(const uint8_t x_sec[32], const uint8_t ed_sec[32],
    struct crypto_identity **out)
{
	struct crypto_identity *id = calloc(1, sizeof(*id));
	int rc = -ENOMEM;

	if (id == NULL)
		goto fail;
	id->x_sec = crypto_secure_alloc(32);
	id->ed_sec = crypto_secure_alloc(32);
	if (id->x_sec == NULL || id->ed_sec == NULL)
		goto fail;
	memcpy(id->x_sec, x_sec, 32);
	memcpy(id->ed_sec, ed_sec, 32);
	if ((rc = crypto_x25519(id->x_pub, id->x_sec, NULL)) != 0 ||
	    (rc = crypto_ed25519_public(id->ed_pub, id->ed_sec)) != 0)
		goto fail;
	*out = id;
	return 0;
fail:
	crypto_identity_free(id);
	return rc;
}

void
crypto_identity_free(struct crypto_identity *id)
{
	if (id == NULL)
		return;
	crypto_secure_free(id->x_sec, 32);
	crypto_secure_free(id->ed_sec, 32);
	free(id);
}

const uint8_t *
crypto_identity_x25519_get(const struct crypto_identity *id)
{
	return id->x_pub;
}

const uint8_t *
crypto_identity_ed25519_get(const struct crypto_identity *id)
{
	return id->ed_pub;
}

int
crypto_sign(const struct crypto_identity *id, const void *msg, size_t len,
    uint8_t sig[CRYPTO_SIG_LEN])
{
	if (len > INT32_MAX) {
		log_error("cannot sign %zu bytes: too long", len);
		return -EINVAL;
	}
	return crypto_ed25519_sign(id->ed_sec, id->ed_pub, msg, len, sig);
}

/* Formats the key file for fresh secrets into buf (secure, FILE_LEN + 1). */
static void
format_file(char *buf, const uint8_t *x_sec, const uint8_t *ed_sec)
{
	char *p = buf;

	memcpy(p, MAGIC X_TAG, sizeof(MAGIC X_TAG) - 1);
	p += sizeof(MAGIC X_TAG) - 1;
	crypto_hex_encode(x_sec, 32, p);
	p += 64;
	memcpy(p, "\n" ED_TAG, sizeof("\n" ED_TAG) - 1);
	p += sizeof("\n" ED_TAG) - 1;
	crypto_hex_encode(ed_sec, 32, p);
	p += 64;
	memcpy(p, "\n", 2);
}

/* Parses the key file text into the two secrets. Returns 0 or -EINVAL. */
static int
parse_file(char *buf, size_t len, uint8_t *x_sec, uint8_t *ed_sec)
{
	char *x = buf + sizeof(MAGIC X_TAG) - 1;
	char *ed = x + 64 + sizeof("\n" ED_TAG) - 1;

	if (len != FILE_LEN || memcmp(buf, MAGIC X_TAG, x - buf) != 0 ||
	    memcmp(x + 64, "\n" ED_TAG, ed - x - 64) != 0 ||
	    memcmp(ed + 64, "\n", 1) != 0)
		return -EINVAL;
	x[64] = ed[64] = '\0';
	if (crypto_hex_decode(x, x_sec, 32) != 0 ||
	    crypto_hex_decode(ed, ed_sec, 32) != 0)
		return -EINVAL;
	return 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Moves tmp to path unless path exists; falls back to link + unlink on
 * file systems without RENAME_NOREPLACE. Returns 0 or -1 with errno. */
static int
rename_noreplace(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (link(tmp, path) != 0)
		return -1;
	unlink(tmp);
	return 0;
}

/* Writes text to a new temporary file beside path and fsyncs it.
 * Returns 0 with the name in tmp, or a negative code (logged). */
static int
write_tmp(const char *path, const char *text, size_t len, char *tmp,
    size_t tmpcap)
{
	int fd;

	if ((size_t)snprintf(tmp, tmpcap, "%s.XXXXXX", path) >= tmpcap) {
		log_error("state directory path too long: %s", path);
		return -EINVAL;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		log_error("cannot create %s: %s", tmp, strerror(errno));
		return -EIO;
	}
	if (fchmod(fd, 0600) != 0 || write_all(fd, text, len) != 0 ||
	    fsync(fd) != 0) {
		log_error("cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -EIO;
	}
	if (close(fd) != 0) {
		log_error("cannot write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

/* Stores fresh secrets in path atomically, never replacing a file. */
static int
store_secrets(const char *state_dir, const char *path, const uint8_t *x_sec,
    const uint8_t *ed_sec)
{
	char tmp[PATH_MAX], *text;
	int rc, dfd;

	if ((text = crypto_secure_alloc(FILE_LEN + 1)) == NULL)
		return -ENOMEM;
	format_file(text, x_sec, ed_sec);
	rc = write_tmp(path, text, FILE_LEN, tmp, sizeof(tmp));
	crypto_secure_free(text, FILE_LEN + 1);
	if (rc != 0)
		return rc;
	if (rename_noreplace(tmp, path) != 0) {
		rc = errno == EEXIST ? -EEXIST : -EIO;
		log_error("cannot create %s: %s", path, strerror(errno));
		unlink(tmp);
		return rc;
	}
	/* The rename is durable only once the directory is. */
	dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		log_error("cannot sync %s: %s", state_dir, strerror(errno));
		rc = -EIO;
	}
	if (dfd >= 0)
		close(dfd);
	return rc;
}

static int
key_path(const char *state_dir, char *buf, size_t cap)
{
	if ((size_t)snprintf(buf, cap, "%s/%s", state_dir,
	    CRYPTO_IDENTITY_FILE) >= cap) {
		log_error("state directory path too long: %s", state_dir);
		return -EINVAL;
	}
	return 0;
}

int
crypto_identity_create(const char *state_dir)
{
	struct crypto_identity *id = NULL;
	char path[PATH_MAX];
	struct stat st;
	uint8_t *sec;
	int rc;

	if ((rc = key_path(state_dir, path, sizeof(path))) != 0)
		return rc;
	if (lstat(path, &st) == 0) {
		log_error("identity %s already exists, not replacing it", path);
		return -EEXIST;
	}
	if ((sec = crypto_secure_alloc(64)) == NULL)
		return -ENOMEM;
	crypto_random(sec, 64, 1);
	/* Deriving the public keys checks the secrets before storing. */
	rc = crypto_identity_from_secrets(sec, sec + 32, &id);
	if (rc == 0)
		rc = store_secrets(state_dir, path, sec, sec + 32);
	crypto_identity_free(id);
	crypto_secure_free(sec, 64);
	return rc;
}

/* Opens path for reading after checking it is safe to hold a secret.
 * Returns an fd, or a negative code (logged). */
static int
open_private(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;

		log_error("cannot open identity %s: %s", path, strerror(e));
		return e == ENOENT ? -ENOENT : e == ELOOP ? -EPERM : -EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		log_error("identity %s is not a regular file", path);
		close(fd);
		return -EPERM;
	}
	if (st.st_uid != geteuid()) {
		log_error("identity %s is owned by uid %u, not by uid %u",
		    path, (unsigned)st.st_uid, (unsigned)geteuid());
		close(fd);
		return -EPERM;
	}
	if ((st.st_mode & 077) != 0) {
		log_error("identity %s is readable by group or others "
		    "(mode %04o), set mode 0600: chmod 600 %s", path,
		    (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* Reads until cap bytes or end of file. Returns the count or -1. */
static ssize_t
read_upto(int fd, char *buf, size_t cap)
{
	size_t got = 0;

	while (got < cap) {
		ssize_t r = read(fd, buf + got, cap - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int
crypto_identity_load(const char *state_dir, struct crypto_identity **out)
{
	char path[PATH_MAX], *text;
	uint8_t *sec;
	ssize_t n;
	int fd, rc;

	if ((rc = key_path(state_dir, path, sizeof(path))) != 0)
		return rc;
	if ((fd = open_private(path)) < 0)
		return fd;
	text = crypto_secure_alloc(FILE_LEN + 2);
	sec = crypto_secure_alloc(64);
	if (text == NULL || sec == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	/* Read one byte more than a valid file holds, to see a longer one. */
	n = read_upto(fd, text, FILE_LEN + 1);
	if (n < 0) {
		log_error("cannot read identity %s: %s", path, strerror(errno));
		rc = -EIO;
	} else if (parse_file(text, (size_t)n, sec, sec + 32) != 0) {
		log_error("identity %s is malformed", path);
		rc = -EINVAL;
	} else
		rc = crypto_identity_from_secrets(sec, sec + 32, out);
out:
	close(fd);
	crypto_secure_free(text, FILE_LEN + 2);
	crypto_secure_free(sec, 64);
	return rc;
}

/* apply_delta.c -- a new version of a file assembled from the chunks the
 * slave already holds and the chunks it receives. See apply.h, "Delta".
 *
 * Every chunk is checked against its SHA-256 in the new version's list
 * before it is written into the put's temp file: a local chunk as it is
 * read (its file may have changed since its list was kept), a received
 * one once all its bytes are in (held in a buffer of at most CHUNK_MAX
 * bytes). The put sink then checks the whole file's SHA-256 before the
 * file is installed, exactly like a transfer. */
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/log.h"
#include "sync/apply_int.h"
#include "sync/chunk.h"
#include "agent/util.h"

/* A chunk some local file holds. */
struct have {
	const uint8_t *sha256;	/* in its source's list */
	uint32_t src;
	uint64_t off;
};

struct delta_src {
	int fd;
	char *path;
	struct chunk_list list;
};

struct apply_delta {
	struct apply *a;
	struct apply_put *put;
	struct chunk_list target;
	struct delta_src *src;
	size_t nsrc;
	struct have *from;	/* per target chunk; sha256 NULL: received */
	size_t next;		/* the next target chunk to write */
	uint8_t *buf;		/* CHUNK_MAX bytes */
	uint32_t got;		/* bytes of chunk `next` received so far */
};

static int
have_cmp(const void *x, const void *y)
{
	return memcmp(((const struct have *)x)->sha256,
	    ((const struct have *)y)->sha256, 32);
}

/* Frees what s holds. */
static void
src_clear(struct delta_src *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	chunk_list_clear(&s->list);
}

/* Adds path's file as a source if its live record has a kept chunk list
 * and the file still has the recorded size. Returns 0 (also when it is
 * no use) or -ENOMEM. */
static int
add_source(struct apply_delta *d, const char *path, size_t *cap)
{
	struct store_file f;
	struct delta_src s = {.fd = -1};
	struct stat st;
	int r;

	if (store_file_load(d->a->st, path, &f) < 0)
		return 0;
	r = !f.deleted && f.type == STORE_FILE && f.has_sha256 ?
	    chunk_load(d->a->st, f.sha256, &s.list) : -ENOENT;
	if (r == 0 && chunk_list_size(&s.list) != f.size)
		r = -EINVAL;
	if (r == 0 && (s.fd = path_open_beneath(d->a->rootfd, path,
	    O_RDONLY | O_NONBLOCK | O_NOCTTY, 0)) < 0)
		r = s.fd;
	if (r == 0 && (fstat(s.fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size != f.size))
		r = -ESTALE;
	store_file_clear(&f);
	if (r == 0 && (s.path = strdup(path)) == NULL)
		r = -ENOMEM;
	if (r == 0 && util_grow(&d->src, d->nsrc + 1, cap, 4) < 0)
		r = -ENOMEM;
	if (r < 0) {
		src_clear(&s);
		return r == -ENOMEM ? r : 0;
	}
	d->src[d->nsrc++] = s;
	return 0;
}

/* Finds, for each chunk of the target, a source holding it. */
static int
match(struct apply_delta *d)
{
	struct have *v, key;
	size_t n = 0, k = 0;

	for (size_t i = 0; i < d->nsrc; i++)
		n += d->src[i].list.n;
	d->from = calloc(d->target.n ? d->target.n : 1, sizeof(*d->from));
	v = malloc((n ? n : 1) * sizeof(*v));
	if (d->from == NULL || v == NULL) {
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->nsrc; i++) {
		uint64_t off = 0;

		for (size_t j = 0; j < d->src[i].list.n; j++) {
			v[k++] = (struct have){d->src[i].list.v[j].sha256,
			    (uint32_t)i, off};
			off += d->src[i].list.v[j].len;
		}
	}
	qsort(v, n, sizeof(*v), have_cmp);
	for (size_t i = 0; i < d->target.n; i++) {
		struct have *h;

		key.sha256 = d->target.v[i].sha256;
		if ((h = bsearch(&key, v, n, sizeof(*v), have_cmp)) != NULL)
			d->from[i] = *h;
	}
	/* from[].sha256 points into the sources' lists, which stay */
	free(v);
	return 0;
}

/* Whether buf (n bytes) has the SHA-256 of target chunk i. */
static int
chunk_ok(const struct apply_delta *d, size_t i, const uint8_t *buf)
{
	uint8_t sum[32];

	gcry_md_hash_buffer(GCRY_MD_SHA256, sum, buf, d->target.v[i].len);
	return memcmp(sum, d->target.v[i].sha256, 32) == 0;
}

/* Writes local chunks from d->next on, up to the next one to receive.
 * Returns 0, -EBADMSG if a local chunk is not what its list says
 * (logged), or -errno. */
static int
fill(struct apply_delta *d)
{
	for (; d->next < d->target.n && d->from[d->next].sha256; d->next++) {
		const struct have *h = &d->from[d->next];
		const struct delta_src *s = &d->src[h->src];
		uint32_t len = d->target.v[d->next].len;
		ssize_t n = pread(s->fd, d->buf, len, (off_t)h->off);
		int r;

		if (n < 0)
			return apply_fail("read", s->path, -errno);
		if ((size_t)n != len || !chunk_ok(d, d->next, d->buf)) {
			log_warn("not using %s for %s: its content is not what "
			    "was recorded", s->path, apply_put_path(d->put));
			return -EBADMSG;
		}
		if ((r = apply_put_write(d->put, d->buf, len)) < 0)
			return r;
	}
	return 0;
}

/* Moves a resumed prefix of have bytes back to a chunk boundary (to 0
 * if fresh) and skips the chunks it holds. */
static int
resume(struct apply_delta *d, uint64_t have, int fresh)
{
	uint64_t at = 0;
	size_t i = 0;

	while (!fresh && i < d->target.n && at + d->target.v[i].len <= have)
		at += d->target.v[i++].len;
	d->next = i;
	return at == have ? 0 : apply_put_truncate(d->put, at);
}

void
apply_delta_abort(struct apply_delta *d, int keep)
{
	if (d == NULL)
		return;
	apply_put_abort(d->put, keep);
	for (size_t i = 0; i < d->nsrc; i++)
		src_clear(&d->src[i]);
	free(d->src);
	free(d->from);
	free(d->buf);
	chunk_list_clear(&d->target);
	free(d);
}

/* apply_delta_begin() once target is copied: sources, matching, the put
 * session and the local chunks before the first one to receive. */
static int
delta_open(struct apply_delta *d, const char *path, uint64_t size,
    const uint8_t sha256[32], uint32_t mode, int64_t mtime_ns,
    const char *const *hints, size_t nhints, unsigned flags)
{
	size_t cap = 0;
	uint64_t have;
	int r;

	if ((r = apply_check("receive", path)) < 0)
		return r;
	if ((uint64_t)chunk_list_size(&d->target) != size) {
		log_warn("refusing the chunk list of %s: it does not add up to "
		    "its size", path);
		return -EINVAL;
	}
	if (!(flags & APPLY_DELTA_NO_PATH) && (r = add_source(d, path,
	    &cap)) < 0)
		return r;
	for (size_t i = 0; i < nhints && r == 0; i++)
		if (strcmp(hints[i], path) != 0 &&
		    apply_check("read", hints[i]) == 0)
			r = add_source(d, hints[i], &cap);
	if (r < 0 || (r = match(d)) < 0)
		return r;
	if ((r = apply_put_begin(d->a, path, size, sha256, mode, mtime_ns,
	    &d->put, &have)) < 0)
		return r;
	if ((r = resume(d, have, (flags & APPLY_DELTA_FRESH) != 0)) < 0 ||
	    (r = apply_put_set_chunks(d->put, &d->target)) < 0)
		return r;
	return fill(d);
}

/* Adds the donor name (apply_donor_keep()) holding the version sha256
 * as the session's source. Returns 0, -ENOENT if it is gone or no longer
 * has that version's size, or -errno. */
static int
add_donor(struct apply_delta *d, const char *name, const uint8_t sha256[32])
{
	struct delta_src s = {.fd = -1};
	struct stat st;
	int r;

	if (!path_is_temp(name) || strchr(name, '/'))
		return -EINVAL;
	if ((r = chunk_load(d->a->st, sha256, &s.list)) < 0)
		return r;
	s.fd = openat(d->a->rootfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (s.fd < 0)
		r = -errno;
	else if (fstat(s.fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size != chunk_list_size(&s.list))
		r = -ENOENT;
	if (r == 0 && asprintf(&s.path, "the deleted file kept as %s",
	    name) < 0) {
		s.path = NULL;
		r = -ENOMEM;
	}
	if (r == 0 && (d->src = malloc(sizeof(*d->src))) == NULL)
		r = -ENOMEM;
	if (r < 0) {
		src_clear(&s);
		return r;
	}
	d->src[0] = s;
	d->nsrc = 1;
	return 0;
}

static int
delta_begin(struct apply *a, const char *path, uint64_t size,
    const uint8_t sha256[32], uint32_t mode, int64_t mtime_ns,
    const struct chunk_list *target, const char *const *hints,
    size_t nhints, const char *donor, const uint8_t donor_sha[32],
    unsigned flags, struct apply_delta **out)
{
	struct apply_delta *d = calloc(1, sizeof(*d));
	int r;

	if (d == NULL || (d->buf = malloc(CHUNK_MAX)) == NULL ||
	    (target->n && (d->target.v = malloc(target->n *
	    sizeof(*target->v))) == NULL)) {
		if (d)
			free(d->buf);
		free(d);
		return -ENOMEM;
	}
	d->a = a;
	if (target->n)
		memcpy(d->target.v, target->v, target->n * sizeof(*target->v));
	d->target.n = d->target.cap = target->n;
	if ((donor && (r = add_donor(d, donor, donor_sha)) < 0) ||
	    (r = delta_open(d, path, size, sha256, mode, mtime_ns, hints,
	    nhints, flags)) < 0) {
		apply_delta_abort(d, 0);
		return r;
	}
	*out = d;
	return 0;
}

int
apply_delta_begin(struct apply *a, const char *path, uint64_t size,
    const uint8_t sha256[32], uint32_t mode, int64_t mtime_ns,
    const struct chunk_list *target, const char *const *hints,
    size_t nhints, unsigned flags, struct apply_delta **out)
{
	return delta_begin(a, path, size, sha256, mode, mtime_ns, target,
	    hints, nhints, NULL, NULL, flags & ~APPLY_DELTA_NO_PATH, out);
}

int
apply_delta_begin_donor(struct apply *a, const char *path, uint64_t size,
    const uint8_t sha256[32], uint32_t mode, int64_t mtime_ns,
    const struct chunk_list *target, const char *donor,
    const uint8_t donor_sha[32], unsigned flags, struct apply_delta **out)
{
	return delta_begin(a, path, size, sha256, mode, mtime_ns, target,
	    NULL, 0, donor, donor_sha, flags | APPLY_DELTA_NO_PATH, out);
}

/* ---- donors ------------------------------------------------------------ */

int
apply_donor_keep(struct apply *a, const char *path, char **name,
    uint8_t sha256[32], uint64_t *size)
{
	char tmp[APPLY_TMP_NAME];
	struct store_file f;
	struct stat st;
	const char *base;
	uint8_t *list;
	size_t len;
	int dfd, r;

	*name = NULL;
	if ((r = store_file_load(a->st, path, &f)) < 0)
		return r;
	r = !f.deleted && f.type == STORE_FILE && f.has_sha256 &&
	    chunk_wanted(f.size) ? 0 : -ENOENT;
	if (r == 0) {
		memcpy(sha256, f.sha256, 32);
		*size = (uint64_t)f.size;
		if ((r = store_chunks_get(a->st, sha256, &list, &len)) == 0)
			free(list);
	}
	if (r == 0 && (r = apply_temp_name(tmp, "donor", path, sha256,
	    32)) == 0) {
		if ((dfd = apply_parent(a, path, &base)) < 0)
			r = dfd;
		else {
			/* only the version recorded: a local one is not the
			 * master's to draw on */
			if ((r = apply_lstat(dfd, base, &st)) == 0 &&
			    !apply_record_matches(&f, &st, 0))
				r = -ENOENT;
			(void)unlinkat(a->rootfd, tmp, 0);
			if (r == 0 && linkat(dfd, base, a->rootfd, tmp, 0) < 0)
				r = -errno;
			close(dfd);
		}
	}
	store_file_clear(&f);
	if (r == 0 && (*name = strdup(tmp)) == NULL) {
		(void)unlinkat(a->rootfd, tmp, 0);
		r = -ENOMEM;
	}
	return r;
}

void
apply_donor_drop(struct apply *a, const char *name)
{
	if (name && path_is_temp(name) && strchr(name, '/') == NULL &&
	    unlinkat(a->rootfd, name, 0) < 0 && errno != ENOENT)
		log_debug("cannot remove %s: %s", name, strerror(errno));
}

int
apply_delta_lacks(const struct apply_delta *d, size_t i)
{
	return i < d->target.n && i >= d->next && d->from[i].sha256 == NULL;
}

uint64_t
apply_delta_resumed_bytes(const struct apply_delta *d)
{
	uint64_t n = 0;

	for (size_t i = 0; i < d->next && i < d->target.n; i++)
		if (d->from[i].sha256 == NULL)
			n += d->target.v[i].len;
	return n;
}

uint64_t
apply_delta_lacking_bytes(const struct apply_delta *d)
{
	uint64_t n = 0;

	for (size_t i = d->next; i < d->target.n; i++)
		if (d->from[i].sha256 == NULL)
			n += d->target.v[i].len;
	return n - d->got;
}

int
apply_delta_write(struct apply_delta *d, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	int r;

	while (n > 0) {
		uint32_t len, k;

		if (d->next >= d->target.n)
			return -EFBIG;	/* more than the chunks lacking */
		len = d->target.v[d->next].len;
		k = len - d->got < n ? len - d->got : (uint32_t)n;
		memcpy(d->buf + d->got, p, k);
		d->got += k, p += k, n -= k;
		if (d->got < len)
			break;
		d->got = 0;
		if (!chunk_ok(d, d->next, d->buf)) {
			log_warn("refusing chunk %zu of %s: its content does not "
			    "match its checksum", d->next,
			    apply_put_path(d->put));
			return -EBADMSG;
		}
		if ((r = apply_put_write(d->put, d->buf, len)) < 0)
			return r;
		d->next++;
		if ((r = fill(d)) < 0)
			return r;
	}
	return 0;
}

int
apply_delta_finish(struct apply_delta *d)
{
	int r;

	if (d->next < d->target.n || d->got > 0) {
		log_warn("cannot install %s: %llu bytes of chunks are missing",
		    apply_put_path(d->put),
		    (unsigned long long)apply_delta_lacking_bytes(d));
		apply_delta_abort(d, 1);	/* verified chunks: resumable */
		return -ENODATA;
	}
	r = apply_put_finish(d->put);
	d->put = NULL;
	apply_delta_abort(d, 0);
	return r;
}

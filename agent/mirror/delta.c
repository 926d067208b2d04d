/* delta.c -- sending a changed file as the chunks the slave lacks
 * (docs/protocol.md 2, "Delta transfers").
 *
 * The master marks a put of a file that has a chunk list with x='1'; a
 * slave that holds a version of the file at that path, with its chunk
 * list, answers need with b='HEX', the SHA-256 of that version. If the
 * master still keeps the list of that content too, it offers a delta
 * session under the put's name with the prefix DELTA_PREFIX instead of
 * SYNC_OPAQUE_PREFIX, whose plaintext is
 *
 *     u32be(n) || chunk_pack(new list, n chunks) || the chunks not in b's
 *                                                   list, in list order
 *
 * encrypted like any other stream. The slave assembles the new version
 * from its own file's chunks and those (sync/apply_delta.c), checks every
 * chunk and the whole file, and installs it as a transfer. Anything that
 * does not fit fails the session; the master then sends that file whole
 * (the mslave remembers it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/crypto/crypto.h"
#include "agent/log.h"
#include "agent/mirror/mirror_int.h"
#include "store/store.h"
#include "sync/apply.h"
#include "sync/chunk.h"
#include "agent/util.h"

/* A run of lacking chunks, contiguous in the file and in the stream. */
struct delta_run {
	uint64_t at;		/* its first byte in the stream */
	uint64_t off;		/* and in the file */
	uint64_t len;
};

struct mirror_delta {
	uint64_t size;		/* of the stream */
	uint64_t content;	/* bytes of chunks in it */
	uint8_t *head;		/* u32be(n) || packed list */
	size_t nhead;
	struct delta_run *run;
	size_t nrun, caprun;
};

/* ---- master ---------------------------------------------------------- */

static int
sha_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* Sorted copies of the hashes of l, for bsearch. Returns them (free())
 * or NULL. */
static uint8_t *
sorted_hashes(const struct chunk_list *l)
{
	uint8_t *v = malloc(l->n ? l->n * 32 : 1);

	for (size_t i = 0; v && i < l->n; i++)
		memcpy(v + 32 * i, l->v[i].sha256, 32);
	if (v)
		qsort(v, l->n, 32, sha_cmp);
	return v;
}

/* Adds the chunk at file offset off (len bytes) to the runs. */
static int
add_run(struct mirror_delta *d, uint64_t off, uint64_t len)
{
	struct delta_run *last = d->nrun ? &d->run[d->nrun - 1] : NULL;

	if (last && last->off + last->len == off) {
		last->len += len;
	} else {
		if (util_grow(&d->run, d->nrun + 1, &d->caprun, 16) < 0)
			return -ENOMEM;
		d->run[d->nrun++] = (struct delta_run){d->nhead + d->content,
		    off, len};
	}
	d->content += len;
	return 0;
}

static int
plan_runs(struct mirror_delta *d, const struct chunk_list *nl,
    const struct chunk_list *bl)
{
	uint8_t *have = sorted_hashes(bl);
	uint64_t off = 0;
	int r = have ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < nl->n; off += nl->v[i++].len)
		if (bsearch(nl->v[i].sha256, have, bl->n, 32, sha_cmp) == NULL)
			r = add_run(d, off, nl->v[i].len);
	free(have);
	return r;
}

int
mirror_delta_plan(struct store *st, const uint8_t sha256[32], uint64_t size,
    const uint8_t base[32], struct mirror_delta **out)
{
	struct chunk_list nl = {0}, bl = {0};
	struct mirror_delta *d = calloc(1, sizeof(*d));
	int r;

	if (d == NULL)
		return -ENOMEM;
	if ((r = chunk_load(st, sha256, &nl)) == 0 &&
	    (r = chunk_load(st, base, &bl)) == 0 &&
	    (uint64_t)chunk_list_size(&nl) != size)
		r = -ESTALE;
	if (r == 0) {
		d->nhead = 4 + chunk_pack_len(nl.n);
		if ((d->head = malloc(d->nhead)) == NULL)
			r = -ENOMEM;
	}
	if (r == 0) {
		d->head[0] = (uint8_t)(nl.n >> 24);
		d->head[1] = (uint8_t)(nl.n >> 16);
		d->head[2] = (uint8_t)(nl.n >> 8);
		d->head[3] = (uint8_t)nl.n;
		chunk_pack(&nl, d->head + 4);
		r = plan_runs(d, &nl, &bl);
	}
	d->size = d->nhead + d->content;
	/* not worth it: the whole file is no larger */
	if (r == 0 && d->size >= size)
		r = -E2BIG;
	chunk_list_clear(&nl);
	chunk_list_clear(&bl);
	if (r < 0) {
		mirror_delta_free(d);
		return r;
	}
	*out = d;
	return 0;
}

void
mirror_delta_free(struct mirror_delta *d)
{
	if (d == NULL)
		return;
	free(d->head);
	free(d->run);
	free(d);
}

uint64_t
mirror_delta_size(const struct mirror_delta *d)
{
	return d->size;
}

uint64_t
mirror_delta_content(const struct mirror_delta *d)
{
	return d->content;
}

/* A source handle: the file's, and the delta it is read through (NULL:
 * the whole file). */
struct delta_src {
	struct jingle_source inner;
	void *h;
	const struct mirror_delta *d;
};

int
mirror_delta_src_open(const struct jingle_source *inner,
    const struct jingle_file *real, void *cookie,
    const struct mirror_delta *d, void **h)
{
	struct delta_src *s = calloc(1, sizeof(*s));
	int r;

	if (s == NULL)
		return -ENOMEM;
	s->inner = *inner;
	s->d = d;
	if ((r = inner->open(inner->arg, real, cookie, &s->h)) < 0) {
		free(s);
		return r;
	}
	*h = s;
	return 0;
}

static int
run_cmp(const void *key, const void *elt)
{
	uint64_t at = *(const uint64_t *)key;
	const struct delta_run *r = elt;

	return at < r->at ? -1 : at >= r->at + r->len ? 1 : 0;
}

/* Reads up to n bytes of the stream at off from one place: the head or
 * one run. Returns bytes read or a negative errno. */
static ssize_t
read_part(struct delta_src *s, uint64_t off, unsigned char *p, size_t n)
{
	const struct mirror_delta *d = s->d;
	const struct delta_run *r;
	uint64_t in;

	if (off < d->nhead) {
		n = n < d->nhead - off ? n : (size_t)(d->nhead - off);
		memcpy(p, d->head + off, n);
		return (ssize_t)n;
	}
	if ((r = bsearch(&off, d->run, d->nrun, sizeof(*d->run),
	    run_cmp)) == NULL)
		return -EIO;
	in = off - r->at;
	n = n < r->len - in ? n : (size_t)(r->len - in);
	return s->inner.read(s->h, r->off + in, p, n);
}

/* The engine encrypts what one read gives in whole records, so a read
 * fills all it can, across the head and the runs. */
ssize_t
mirror_delta_src_read(void *h, uint64_t off, unsigned char *p, size_t n)
{
	struct delta_src *s = h;
	size_t got = 0;
	ssize_t k;

	if (s->d == NULL)
		return s->inner.read(s->h, off, p, n);
	while (got < n && off + got < s->d->size) {
		k = read_part(s, off + got, p + got, n - got);
		if (k < 0)
			return k;
		if (k == 0)
			break;	/* the file shrank: the engine says so */
		got += (size_t)k;
	}
	return (ssize_t)got;
}

void
mirror_delta_src_close(void *h)
{
	struct delta_src *s = h;

	s->inner.close(s->h);
	free(s);
}

int
mirror_delta_whole(const struct mslave *ms, const char *path)
{
	for (size_t i = 0; i < sizeof(ms->whole) / sizeof(ms->whole[0]); i++)
		if (ms->whole[i] && strcmp(ms->whole[i], path) == 0)
			return 1;
	return 0;
}

void
mirror_delta_whole_set(struct mslave *ms, const char *path, int whole)
{
	size_t n = sizeof(ms->whole) / sizeof(ms->whole[0]);

	for (size_t i = 0; i < n; i++)
		if (ms->whole[i] && strcmp(ms->whole[i], path) == 0) {
			if (whole)
				return;
			free(ms->whole[i]);
			ms->whole[i] = NULL;
		}
	if (!whole)
		return;
	free(ms->whole[ms->whole_next]);
	ms->whole[ms->whole_next] = strdup(path);	/* NULL: delta again */
	ms->whole_next = (ms->whole_next + 1) % n;
}

void
mirror_delta_whole_clear(struct mslave *ms)
{
	for (size_t i = 0; i < sizeof(ms->whole) / sizeof(ms->whole[0]); i++) {
		free(ms->whole[i]);
		ms->whole[i] = NULL;
	}
}

/* ---- slave ----------------------------------------------------------- */

int
mirror_delta_base(struct store *st, const char *path, uint8_t base[32])
{
	struct store_file f;
	uint8_t *list;
	size_t len;
	int r, ok;

	if ((r = store_file_load(st, path, &f)) < 0)
		return r;
	ok = !f.deleted && f.type == STORE_FILE && f.has_sha256 &&
	    chunk_wanted(f.size);
	if (ok)
		memcpy(base, f.sha256, 32);
	store_file_clear(&f);
	if (!ok)
		return -ENOENT;
	if ((r = store_chunks_get(st, base, &list, &len)) < 0)
		return r;
	free(list);
	return 0;
}

int
mirror_delta_plain_size(uint64_t wire, uint64_t *plain)
{
	uint64_t full = wire / (CRYPTO_RECORD_PLAIN + 16);
	uint64_t rest = wire % (CRYPTO_RECORD_PLAIN + 16);

	if (rest < 16)
		return -EINVAL;
	*plain = full * CRYPTO_RECORD_PLAIN + rest - 16;
	return crypto_ciphertext_size(*plain) == wire ? 0 : -EINVAL;
}

uint64_t
mirror_delta_max_size(uint64_t size)
{
	return 4 + chunk_pack_len(size / CHUNK_MIN + 1) + size;
}

struct mirror_dsink {
	struct apply *a;
	struct store *st;
	struct apply_delta *ad;
	char *path;
	uint64_t size, stream, got;	/* file, stream, stream bytes in */
	uint8_t sha256[32], base[32];
	uint32_t mode;
	int64_t mtime_ns;
	uint8_t *head;
	size_t nhead;		/* bytes of head expected; 4 until known */
	char *donor;		/* base is there (apply_donor_keep()) */
	struct chunk_list list;	/* the new version's, once known */
	uint64_t skip;		/* stream bytes of a resume already here */
};

int
mirror_delta_sink_open(struct apply *a, struct store *st,
    const struct mirror_dsink_args *in, struct mirror_dsink **out)
{
	struct mirror_dsink *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->path = strdup(in->path)) == NULL ||
	    (s->head = malloc(4)) == NULL ||
	    (in->donor && (s->donor = strdup(in->donor)) == NULL)) {
		if (s) {
			free(s->path);
			free(s->head);
		}
		free(s);
		return -ENOMEM;
	}
	s->a = a;
	s->st = st;
	s->size = in->size;
	s->stream = in->stream;
	memcpy(s->sha256, in->sha256, 32);
	memcpy(s->base, in->base, 32);
	s->mode = in->mode;
	s->mtime_ns = in->mtime_ns;
	s->nhead = 4;
	*out = s;
	return 0;
}

/* Starts the assembly of the new version (chunks l) from the base. */
static int
assemble(struct mirror_dsink *s, const struct chunk_list *l, unsigned flags)
{
	/* a file the batch deleted, kept for this (slave.c) */
	return s->donor ? apply_delta_begin_donor(s->a, s->path, s->size,
	    s->sha256, s->mode, s->mtime_ns, l, s->donor, s->base, flags,
	    &s->ad) : apply_delta_begin(s->a, s->path, s->size, s->sha256,
	    s->mode, s->mtime_ns, l, NULL, 0, flags, &s->ad);
}

/* The head is in: checks it, checks the base is still the slave's
 * version, and starts the assembly. */
static int
sink_start(struct mirror_dsink *s)
{
	struct chunk_list l = {0};
	uint8_t now[32];
	int r;

	if ((r = chunk_unpack(s->head + 4, s->nhead - 4, &l)) < 0 ||
	    (uint64_t)chunk_list_size(&l) != s->size) {
		log_warn("refusing the delta of %s: a bad chunk list",
		    s->path);
		chunk_list_clear(&l);
		return -EBADMSG;
	}
	if (s->donor == NULL && (mirror_delta_base(s->st, s->path, now) < 0 ||
	    memcmp(now, s->base, 32) != 0)) {
		log_warn("refusing the delta of %s: the version it applies to "
		    "is gone", s->path);
		chunk_list_clear(&l);
		return -EBADMSG;
	}
	r = assemble(s, &l, APPLY_DELTA_FRESH);
	chunk_list_clear(&s->list);
	s->list = l;
	if (r == -ENOENT && s->donor) {
		log_warn("refusing the delta of %s: the version it applies to "
		    "is gone", s->path);
		return -EBADMSG;
	}
	if (r == 0 && apply_delta_lacking_bytes(s->ad) != s->stream - s->nhead) {
		log_warn("refusing the delta of %s: it brings %llu bytes of "
		    "chunks, %llu lack here", s->path,
		    (unsigned long long)(s->stream - s->nhead),
		    (unsigned long long)apply_delta_lacking_bytes(s->ad));
		r = -EBADMSG;
	}
	if (r < 0 && s->ad) {	/* nothing of a refused delta stays */
		apply_delta_abort(s->ad, 0);
		s->ad = NULL;
	}
	return r;
}

/* Takes head bytes from *p; starts the assembly once all are in. */
static int
sink_head(struct mirror_dsink *s, const unsigned char **p, size_t *n)
{
	size_t k = s->nhead - s->got < *n ? s->nhead - s->got : *n;
	uint8_t *h;

	memcpy(s->head + s->got, *p, k);
	s->got += k, *p += k, *n -= k;
	if (s->got == 4 && s->nhead == 4) {
		uint64_t cn = (uint64_t)s->head[0] << 24 | s->head[1] << 16 |
		    s->head[2] << 8 | s->head[3];
		/* every chunk but the last has CHUNK_MIN bytes at least */
		if (cn > s->size / CHUNK_MIN + 1 ||
		    4 + chunk_pack_len(cn) > s->stream) {
			log_warn("refusing the delta of %s: %llu chunks",
			    s->path, (unsigned long long)cn);
			return -EBADMSG;
		}
		if ((h = realloc(s->head, 4 + chunk_pack_len(cn))) == NULL)
			return -ENOMEM;
		s->head = h;
		s->nhead = 4 + chunk_pack_len(cn);
	}
	return s->got == s->nhead ? sink_start(s) : 0;
}

int
mirror_delta_sink_resume(struct mirror_dsink *s, const struct chunk_list *l,
    uint64_t *have)
{
	uint64_t total = 0, left, at;
	uint64_t nhead = 4 + chunk_pack_len(l->n);
	uint8_t now[32];
	int r;

	*have = 0;
	if (s->donor == NULL && (mirror_delta_base(s->st, s->path, now) < 0 ||
	    memcmp(now, s->base, 32) != 0))
		return 0;
	if ((uint64_t)chunk_list_size(l) != s->size ||
	    (r = assemble(s, l, 0)) < 0)
		return 0;
	left = apply_delta_lacking_bytes(s->ad);
	total = apply_delta_resumed_bytes(s->ad) + left;
	at = nhead + total - left;
	/* the master's stream must be the one planned before; a new
	 * session is encrypted from a record boundary (docs/protocol.md
	 * 1.8), so the bytes from there to at arrive again, and are
	 * skipped */
	if (left == total || s->stream != nhead + total ||
	    at - at % CRYPTO_RECORD_PLAIN < nhead) {
		apply_delta_abort(s->ad, 1);
		s->ad = NULL;
		return 0;
	}
	if ((r = chunk_list_copy(&s->list, l)) < 0) {
		apply_delta_abort(s->ad, 1);
		s->ad = NULL;
		return r;
	}
	*have = at - at % CRYPTO_RECORD_PLAIN;
	s->skip = at - *have;
	s->got = s->nhead = nhead;
	log_info("resuming the delta of %s at byte %llu of its stream "
	    "(%llu of %llu bytes of chunks are here)", s->path,
	    (unsigned long long)*have, (unsigned long long)(total - left),
	    (unsigned long long)total);
	return 0;
}

const struct chunk_list *
mirror_delta_sink_list(const struct mirror_dsink *s)
{
	return s && s->ad && s->list.n ? &s->list : NULL;
}

int
mirror_delta_sink_write(struct mirror_dsink *s, const unsigned char *p,
    size_t n)
{
	int r;

	if (s->skip > 0) {	/* a resume's bytes that are here already */
		size_t k = s->skip < n ? (size_t)s->skip : n;
		s->skip -= k, p += k, n -= k;
		if (n == 0)
			return 0;
	}
	/* the count, then the list it announces, then the chunks */
	while (s->ad == NULL && n > 0)
		if ((r = sink_head(s, &p, &n)) < 0)
			return r;
	if (n == 0)
		return 0;
	s->got += n;
	return apply_delta_write(s->ad, p, n);
}

int
mirror_delta_sink_finish(struct mirror_dsink *s)
{
	int r = -EBADMSG;

	if (s->ad) {
		r = apply_delta_finish(s->ad);
		s->ad = NULL;
	} else
		log_warn("refusing the delta of %s: it ended early", s->path);
	mirror_delta_sink_abort(s, 0);
	return r == -ENODATA ? -EBADMSG : r;
}

void
mirror_delta_sink_abort(struct mirror_dsink *s, int keep)
{
	if (s == NULL)
		return;
	apply_delta_abort(s->ad, keep);
	chunk_list_clear(&s->list);
	free(s->head);
	free(s->path);
	free(s->donor);
	free(s);
}


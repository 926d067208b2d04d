/* chunk.c -- see chunk.h */
#include <errno.h>
#include <gcrypt.h>
#include <stdlib.h>
#include <string.h>

#include "sync/chunk.h"
#include "agent/util.h"

/* The masks select top bits of fp, which hash the last 64 bytes; log2 of
 * CHUNK_AVG is 16, so 18 bits before the average, 14 after. */
#define MASK_S (~0ull << (64 - 18))
#define MASK_L (~0ull << (64 - 14))

_Static_assert(CHUNK_AVG == 1 << 16, "the masks assume 64 KiB");
_Static_assert(CHUNK_MIN < CHUNK_AVG && CHUNK_AVG < CHUNK_MAX, "sizes");

struct chunker {
	uint64_t gear[256];
	uint64_t fp;		/* gear hash since CHUNK_MIN of this chunk */
	uint32_t pos;		/* bytes of the current chunk so far */
	gcry_md_hd_t md;	/* SHA-256 of the current chunk */
	struct chunk_list list;
};

/* SplitMix64's finalizer (Steele, Lea and Flood, "Fast splittable
 * pseudorandom number generators", OOPSLA 2014). */
static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t
chunk_gear(uint8_t i)
{
	return mix64(CHUNK_GEAR_SEED + ((uint64_t)i + 1) * 0x9e3779b97f4a7c15ull);
}

int
chunk_wanted(int64_t size)
{
	return size >= CHUNK_SMALL;
}

int
chunker_new(struct chunker **out)
{
	struct chunker *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -ENOMEM;
	if (gcry_md_open(&c->md, GCRY_MD_SHA256, 0) != 0) {
		free(c);
		return -ENOMEM;
	}
	for (int i = 0; i < 256; i++)
		c->gear[i] = chunk_gear((uint8_t)i);
	*out = c;
	return 0;
}

void
chunker_free(struct chunker *c)
{
	if (c == NULL)
		return;
	gcry_md_close(c->md);
	chunk_list_clear(&c->list);
	free(c);
}

/* Ends the current chunk (c->pos bytes, already hashed) and starts the
 * next. Returns as chunk_list_add(). */
static int
cut(struct chunker *c)
{
	int r = chunk_list_add(&c->list, c->pos,
	    gcry_md_read(c->md, GCRY_MD_SHA256));

	gcry_md_reset(c->md);
	c->pos = 0;
	c->fp = 0;
	return r;
}

/* Returns how many of the n bytes at p belong to the current chunk, and
 * sets *end when the chunk ends after them. Moves c->fp and c->pos. */
static size_t
scan(struct chunker *c, const uint8_t *p, size_t n, int *end)
{
	size_t i = 0;
	uint64_t fp = c->fp;
	uint32_t pos = c->pos;

	*end = 0;
	if (pos < CHUNK_MIN) {	/* no cut can come before CHUNK_MIN */
		i = CHUNK_MIN - pos < n ? CHUNK_MIN - pos : n;
		pos += (uint32_t)i;
	}
	for (; i < n && pos < CHUNK_AVG; i++, pos++) {
		fp = (fp << 1) + c->gear[p[i]];
		if ((fp & MASK_S) == 0) {
			i++, pos++, *end = 1;
			goto out;
		}
	}
	for (; i < n && pos < CHUNK_MAX; i++, pos++) {
		fp = (fp << 1) + c->gear[p[i]];
		if ((fp & MASK_L) == 0) {
			i++, pos++, *end = 1;
			goto out;
		}
	}
	*end = pos == CHUNK_MAX;
out:
	c->fp = fp;
	c->pos = pos;
	return i;
}

int
chunker_feed(struct chunker *c, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	size_t k;
	int end, r;

	while (n > 0) {
		k = scan(c, p, n, &end);
		gcry_md_write(c->md, p, k);
		if (end && (r = cut(c)) < 0)
			return r;
		p += k;
		n -= k;
	}
	return 0;
}

int
chunker_finish(struct chunker *c, struct chunk_list *out)
{
	int r = c->pos > 0 ? cut(c) : 0;

	chunk_list_clear(out);
	if (r == 0)
		*out = c->list;
	else
		chunk_list_clear(&c->list);
	memset(&c->list, 0, sizeof(c->list));
	gcry_md_reset(c->md);
	c->pos = 0;
	c->fp = 0;
	return r;
}

void
chunk_list_clear(struct chunk_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int
chunk_list_copy(struct chunk_list *dst, const struct chunk_list *src)
{
	struct chunk *v = malloc((src->n ? src->n : 1) * sizeof(*v));

	if (v == NULL)
		return -ENOMEM;
	if (src->n)
		memcpy(v, src->v, src->n * sizeof(*v));
	chunk_list_clear(dst);
	dst->v = v;
	dst->n = dst->cap = src->n;
	return 0;
}

int64_t
chunk_list_size(const struct chunk_list *l)
{
	int64_t s = 0;

	for (size_t i = 0; i < l->n; i++)
		s += l->v[i].len;
	return s;
}

int
chunk_list_add(struct chunk_list *l, uint32_t len, const uint8_t sha256[32])
{
	if (len == 0 || len > CHUNK_MAX)
		return -EINVAL;
	if (l->n >= CHUNK_LIST_MAX)
		return -EFBIG;
	if (util_grow(&l->v, l->n + 1, &l->cap, 64) < 0)
		return -ENOMEM;
	l->v[l->n].len = len;
	memcpy(l->v[l->n].sha256, sha256, 32);
	l->n++;
	return 0;
}

size_t
chunk_pack_len(size_t n)
{
	return 1 + n * CHUNK_PACK_ENTRY;
}

void
chunk_pack(const struct chunk_list *l, uint8_t *out)
{
	*out++ = CHUNK_PACK_V1;
	for (size_t i = 0; i < l->n; i++, out += CHUNK_PACK_ENTRY) {
		uint32_t len = l->v[i].len;

		out[0] = (uint8_t)(len >> 24);
		out[1] = (uint8_t)(len >> 16);
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		memcpy(out + 4, l->v[i].sha256, 32);
	}
}

int
chunk_unpack(const void *buf, size_t len, struct chunk_list *out)
{
	const uint8_t *p = buf;
	size_t n;
	int r = 0;

	chunk_list_clear(out);
	if (len < 1 || p[0] != CHUNK_PACK_V1 ||
	    (len - 1) % CHUNK_PACK_ENTRY != 0)
		return -EINVAL;
	n = (len - 1) / CHUNK_PACK_ENTRY;
	if (n > CHUNK_LIST_MAX)
		return -EINVAL;
	p++;
	for (size_t i = 0; i < n && r == 0; i++, p += CHUNK_PACK_ENTRY) {
		uint32_t l = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		    (uint32_t)p[2] << 8 | p[3];

		r = chunk_list_add(out, l, p + 4);
	}
	if (r < 0)
		chunk_list_clear(out);
	return r == -ENOMEM ? r : r < 0 ? -EINVAL : 0;
}

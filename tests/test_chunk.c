/* test_chunk.c -- content-defined chunks: the gear table is the documented
 * SplitMix64 sequence and hashes a fixed input to a known value; a fixed
 * pseudo-random input is cut at known boundaries with the right hashes;
 * every chunk but the last lies within CHUNK_MIN..CHUNK_MAX and the sizes
 * average near CHUNK_AVG; an insertion at the start or an edit in the
 * middle leaves nearly every chunk as it was; feeding any buffer sizes
 * cuts as one buffer does; the packed form survives a round trip and a
 * malformed one is refused. */
#include <errno.h>
#include <gcrypt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/crypto/crypto.h"
#include "sync/chunk.h"
#include "tests/unit.h"

/* n bytes of xorshift64 noise from seed. Returns a buffer to free(). */
static uint8_t *
noise(size_t n, uint64_t seed)
{
	uint8_t *buf = malloc(n ? n : 1);

	for (size_t i = 0; buf && i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		buf[i] = (uint8_t)(seed >> 24);
	}
	return buf;
}

/* Cuts n bytes at p, fed in pieces of step bytes (0: all at once), into
 * *out. Returns 0 or the chunker's error. */
static int
cut_all(const uint8_t *p, size_t n, size_t step, struct chunk_list *out)
{
	struct chunker *c;
	int r;

	if ((r = chunker_new(&c)) < 0)
		return r;
	for (size_t off = 0; r == 0 && off < n;) {
		size_t k = step == 0 || n - off < step ? n - off : step;

		r = chunker_feed(c, p + off, k);
		off += k;
	}
	if (r == 0)
		r = chunker_finish(c, out);
	chunker_free(c);
	return r;
}

/* How many chunks of b have a hash some chunk of a has. */
static size_t
shared(const struct chunk_list *a, const struct chunk_list *b)
{
	size_t k = 0;

	for (size_t i = 0; i < b->n; i++)
		for (size_t j = 0; j < a->n; j++)
			if (memcmp(a->v[j].sha256, b->v[i].sha256, 32) == 0) {
				k++;
				break;
			}
	return k;
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static int
t_gear_table_is_splitmix64_from_the_seed(void)
{
	uint64_t state = CHUNK_GEAR_SEED, z;

	for (int i = 0; i < 256; i++) {	/* the iterative form */
		state += 0x9e3779b97f4a7c15ull;
		z = state;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		EXPECT(chunk_gear((uint8_t)i) == z, "gear[%d] = %016llx, want "
		    "%016llx", i, (unsigned long long)chunk_gear((uint8_t)i),
		    (unsigned long long)z);
	}
	return 0;
}

static int
t_gear_hash_of_a_fixed_input_is_known(void)
{
	const char *in = "xmpp-sync gear hash known answer";
	uint64_t fp = 0;

	for (const char *p = in; *p; p++)
		fp = (fp << 1) + chunk_gear((uint8_t)*p);
	EXPECT(chunk_gear(0) == 0xf08113f3ebae9f5full, "gear[0] = %016llx",
	    (unsigned long long)chunk_gear(0));
	EXPECT(chunk_gear(255) == 0x965e97bac11ebcc8ull, "gear[255] = %016llx",
	    (unsigned long long)chunk_gear(255));
	EXPECT(fp == 0x5de311de862c7561ull, "fp = %016llx", (unsigned long long)fp);
	return 0;
}

/* 1 MiB of noise from the seed of test_hasher, cut in one buffer. */
static const uint32_t kat_lens[] = {
	62930, 21984, 68126, 89249, 70419, 68888, 76356, 20457, 71814, 73719,
	127097, 73645, 68488, 77738, 70096, 7570,
};

static int
t_fixed_input_cuts_at_known_boundaries(void)
{
	size_t n = 1 << 20, nk = sizeof(kat_lens) / sizeof(kat_lens[0]);
	uint8_t *b = noise(n, 0x9e3779b97f4a7c15ull), sum[32];
	struct chunk_list l = {0};
	char h[65];
	size_t off = 0;

	EXPECT(b != NULL, "no memory");
	EXPECT_INT(cut_all(b, n, 0, &l), 0);
	EXPECT_INT(l.n, nk);
	for (size_t i = 0; i < nk; i++) {
		EXPECT(l.v[i].len == kat_lens[i], "chunk %zu: %u bytes, want %u",
		    i, l.v[i].len, kat_lens[i]);
		gcry_md_hash_buffer(GCRY_MD_SHA256, sum, b + off, l.v[i].len);
		EXPECT(memcmp(sum, l.v[i].sha256, 32) == 0, "chunk %zu: hash "
		    "is not the SHA-256 of its bytes", i);
		off += l.v[i].len;
	}
	hex(l.v[0].sha256, 32, h);
	EXPECT_STR(h, "ad4eefb8f27aa5d4dd5ec2cc582b1bc1"
	    "36d7aee44105c67b268a834cc24d482a");
	EXPECT_INT(chunk_list_size(&l), n);
	chunk_list_clear(&l);
	free(b);
	return 0;
}

static int
t_chunks_lie_within_bounds_and_average_near_64k(void)
{
	size_t n = 32 << 20;
	uint8_t *b = noise(n, 12345);
	struct chunk_list l = {0};
	int r;

	EXPECT(b != NULL, "no memory");
	r = cut_all(b, n, 0, &l);
	EXPECT_INT(r, 0);
	for (size_t i = 0; i + 1 < l.n; i++)
		EXPECT(l.v[i].len >= CHUNK_MIN && l.v[i].len <= CHUNK_MAX,
		    "chunk %zu: %u bytes", i, l.v[i].len);
	EXPECT(n / l.n >= 56 * 1024 && n / l.n <= 88 * 1024,
	    "average %zu bytes over %zu chunks", n / l.n, l.n);
	memset(b, 0, n);	/* no content-defined cut: CHUNK_MAX each */
	EXPECT_INT(cut_all(b, CHUNK_MAX * 3 + 5, 0, &l), 0);
	EXPECT_INT(l.n, 4);
	EXPECT_INT(l.v[0].len, CHUNK_MAX);
	EXPECT_INT(l.v[2].len, CHUNK_MAX);
	EXPECT_INT(l.v[3].len, 5);
	chunk_list_clear(&l);
	free(b);
	return 0;
}

static int
t_small_files_are_one_chunk_and_empty_has_none(void)
{
	uint8_t *b = noise(CHUNK_SMALL, 7);
	struct chunk_list l = {0};

	EXPECT(b != NULL, "no memory");
	EXPECT_INT(chunk_wanted(CHUNK_SMALL - 1), 0);
	EXPECT_INT(chunk_wanted(CHUNK_SMALL), 1);
	/* below CHUNK_MIN no cut is possible at all */
	EXPECT_INT(cut_all(b, CHUNK_MIN, 0, &l), 0);
	EXPECT_INT(l.n, 1);
	EXPECT_INT(cut_all(b, 0, 0, &l), 0);
	EXPECT_INT(l.n, 0);
	chunk_list_clear(&l);
	free(b);
	return 0;
}

/* Edits 8 MiB of noise (about 110 chunks) with edit and expects at most
 * fresh of the edited file's chunks not in the original's list. */
static int
stays_stable(size_t (*edit)(const uint8_t *, size_t, uint8_t *), size_t fresh)
{
	size_t n = 8 << 20, m;
	uint8_t *a = noise(n, 99), *b = malloc(n + 8192);
	struct chunk_list la = {0}, lb = {0};
	int r = -1;

	if (a == NULL || b == NULL)
		goto out;
	m = edit(a, n, b);
	if (cut_all(a, n, 0, &la) < 0 || cut_all(b, m, 0, &lb) < 0)
		goto out;
	r = lb.n > 100 && lb.n - shared(&la, &lb) <= fresh ? 0 : -1;
	if (r < 0)
		printf("  %zu of %zu chunks new, want at most %zu\n",
		    lb.n - shared(&la, &lb), lb.n, fresh);
out:
	chunk_list_clear(&la);
	chunk_list_clear(&lb);
	free(a);
	free(b);
	return r;
}

static size_t
insert_at_start(const uint8_t *a, size_t n, uint8_t *b)
{
	b[0] = 'x';
	memcpy(b + 1, a, n);
	return n + 1;
}

static size_t
delete_in_middle(const uint8_t *a, size_t n, uint8_t *b)
{
	memcpy(b, a, n / 2);
	memcpy(b + n / 2, a + n / 2 + 100, n - n / 2 - 100);
	return n - 100;
}

static size_t
rewrite_4k_in_middle(const uint8_t *a, size_t n, uint8_t *b)
{
	memcpy(b, a, n);
	for (size_t i = 0; i < 4096; i++)
		b[n / 2 + i] ^= 0x5a;
	return n;
}

static int
t_insert_at_start_keeps_nearly_all_chunks(void)
{
	/* only the first chunk is new */
	EXPECT(stays_stable(insert_at_start, 1) == 0, "not stable");
	return 0;
}

static int
t_delete_or_rewrite_in_middle_keeps_nearly_all_chunks(void)
{
	/* the chunk holding the edit, perhaps its neighbour */
	EXPECT(stays_stable(delete_in_middle, 2) == 0, "delete: not stable");
	EXPECT(stays_stable(rewrite_4k_in_middle, 2) == 0,
	    "rewrite: not stable");
	return 0;
}

static int
t_any_feed_sizes_cut_as_one_buffer(void)
{
	static const size_t steps[] = {1, 7, 4096, 65536, 131071, 300000};
	size_t n = 3 << 20;
	uint8_t *b = noise(n, 4242);
	struct chunk_list one = {0}, l = {0};

	EXPECT(b != NULL, "no memory");
	EXPECT_INT(cut_all(b, n, 0, &one), 0);
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		EXPECT_INT(cut_all(b, n, steps[s], &l), 0);
		EXPECT(l.n == one.n && memcmp(l.v, one.v, l.n *
		    sizeof(*l.v)) == 0, "feeding %zu bytes at a time cuts "
		    "differently", steps[s]);
	}
	chunk_list_clear(&one);
	chunk_list_clear(&l);
	free(b);
	return 0;
}

static int
t_packed_list_round_trips_and_malformed_is_refused(void)
{
	uint8_t *b = noise(1 << 20, 5), *pk, bad[1 + CHUNK_PACK_ENTRY] = {0};
	struct chunk_list l = {0}, back = {0};
	size_t len;

	EXPECT(b != NULL, "no memory");
	EXPECT_INT(cut_all(b, 1 << 20, 0, &l), 0);
	len = chunk_pack_len(l.n);
	EXPECT((pk = malloc(len)) != NULL, "no memory");
	chunk_pack(&l, pk);
	EXPECT_INT(chunk_unpack(pk, len, &back), 0);
	EXPECT(back.n == l.n && memcmp(back.v, l.v, l.n * sizeof(*l.v)) == 0,
	    "round trip changed the list");
	EXPECT_INT(chunk_unpack(pk, len - 1, &back), -EINVAL);
	EXPECT_INT(back.n, 0);
	pk[0] = 2;
	EXPECT_INT(chunk_unpack(pk, len, &back), -EINVAL);
	bad[0] = CHUNK_PACK_V1;	/* length 0 */
	EXPECT_INT(chunk_unpack(bad, sizeof(bad), &back), -EINVAL);
	bad[2] = 0x04, bad[4] = 1;	/* CHUNK_MAX + 1 */
	EXPECT_INT(chunk_unpack(bad, sizeof(bad), &back), -EINVAL);
	bad[4] = 0;	/* CHUNK_MAX exactly */
	EXPECT_INT(chunk_unpack(bad, sizeof(bad), &back), 0);
	EXPECT_INT(back.v[0].len, CHUNK_MAX);
	EXPECT_INT(chunk_unpack(bad, 1, &back), 0);	/* the empty list */
	EXPECT_INT(back.n, 0);
	chunk_list_clear(&l);
	chunk_list_clear(&back);
	free(pk);
	free(b);
	return 0;
}

static const struct unit_test tests[] = {
	{"gear_table_is_splitmix64_from_the_seed",
	    t_gear_table_is_splitmix64_from_the_seed},
	{"gear_hash_of_a_fixed_input_is_known",
	    t_gear_hash_of_a_fixed_input_is_known},
	{"fixed_input_cuts_at_known_boundaries",
	    t_fixed_input_cuts_at_known_boundaries},
	{"chunks_lie_within_bounds_and_average_near_64k",
	    t_chunks_lie_within_bounds_and_average_near_64k},
	{"small_files_are_one_chunk_and_empty_has_none",
	    t_small_files_are_one_chunk_and_empty_has_none},
	{"insert_at_start_keeps_nearly_all_chunks",
	    t_insert_at_start_keeps_nearly_all_chunks},
	{"delete_or_rewrite_in_middle_keeps_nearly_all_chunks",
	    t_delete_or_rewrite_in_middle_keeps_nearly_all_chunks},
	{"any_feed_sizes_cut_as_one_buffer", t_any_feed_sizes_cut_as_one_buffer},
	{"packed_list_round_trips_and_malformed_is_refused",
	    t_packed_list_round_trips_and_malformed_is_refused},
};

int
main(int argc, char **argv)
{
	if (crypto_global_init() < 0) {
		printf("FAIL test_chunk.c/init: libgcrypt\n");
		return 1;
	}
	return unit_run("test_chunk.c", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);
}

/* apply_bundle.c -- several files received as one stream (a bundle): the
 * contents of the files one after the other, in the announced order.
 * Each file goes through the sink of its own (apply_put_*), is verified
 * against its own checksum when its last byte is in and installed at
 * once; a file that fails is dropped and the rest goes on. The bundle is
 * one batch (apply_batch_*): directory fsyncs and records are made
 * durable together, at the end and at least every APPLY_BUNDLE_FLUSH_MS
 * of a long one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/log.h"
#include "sync/apply_int.h"

#define APPLY_BUNDLE_FLUSH_MS 250

struct apply_bundle {
	struct apply *a;
	const struct apply_bundle_file *f;	/* borrowed from the caller */
	size_t n;
	struct apply_bundle_hooks h;
	size_t cur;             /* the file being received */
	uint64_t pos;           /* its bytes so far */
	struct apply_put *p;    /* its sink; NULL while it is skipped */
	size_t installed, failed;
	int64_t flushed_ms;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ends the current file: installed if it is all there and verified. */
static void
file_end(struct apply_bundle *b)
{
	int r = 1;

	if (b->p) {
		r = apply_put_finish(b->p);
		b->p = NULL;
		if (r == 0)
			b->installed++;
		else
			b->failed++;
	}
	if (b->h.end)
		b->h.end(b->h.arg, b->cur, r);
}

/* Drops the current file's sink: nothing of it stays. */
static void
file_drop(struct apply_bundle *b, int r)
{
	if (b->p == NULL)
		return;
	apply_put_abort(b->p, 0);
	b->p = NULL;
	b->failed++;
	if (b->h.end)
		b->h.end(b->h.arg, b->cur, r);
}

/* Starts the files from b->cur on until one has bytes to come. */
static void
file_start(struct apply_bundle *b)
{
	for (; b->cur < b->n; b->cur++) {
		const struct apply_bundle_file *f = &b->f[b->cur];
		uint64_t have = 0;
		int r = b->h.start ? b->h.start(b->h.arg, b->cur) : 0;

		b->pos = 0;
		if (r == 0 && (r = apply_put_begin(b->a, f->path, f->size,
		    f->sha256, f->mode, f->mtime_ns, &b->p, &have)) == 0 &&
		    have > 0) {
			/* a bundle starts every file from its first byte */
			if ((r = apply_put_truncate(b->p, 0)) < 0) {
				apply_put_abort(b->p, 0);
				b->p = NULL;
			}
		}
		if (r < 0) {
			b->p = NULL;
			b->failed++;
			if (b->h.end)
				b->h.end(b->h.arg, b->cur, r);
			if (f->size == 0)
				continue;
			return;	/* its bytes are skipped */
		}
		if (f->size > 0)
			return;
		file_end(b);
	}
}

int
apply_bundle_begin(struct apply *a, const struct apply_bundle_file *f,
    size_t n, const struct apply_bundle_hooks *h, struct apply_bundle **out)
{
	struct apply_bundle *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return -ENOMEM;
	b->a = a;
	b->f = f;
	b->n = n;
	if (h)
		b->h = *h;
	apply_batch_begin(a);
	b->flushed_ms = mono_ms();
	file_start(b);
	*out = b;
	return 0;
}

int
apply_bundle_write(struct apply_bundle *b, const unsigned char *p, size_t n)
{
	while (n > 0) {
		const struct apply_bundle_file *f;
		size_t k;
		int r = 0;

		if (b->cur >= b->n)
			return -EMSGSIZE;
		f = &b->f[b->cur];
		k = f->size - b->pos < n ? (size_t)(f->size - b->pos) : n;
		if (b->p && ((b->h.write && (r = b->h.write(b->h.arg, b->cur,
		    k)) < 0) || (r = apply_put_write(b->p, p, k)) < 0)) {
			log_warn("cannot receive %s from a bundle: %s", f->path,
			    strerror(-r));
			file_drop(b, r);
		}
		b->pos += k;
		p += k;
		n -= k;
		if (b->pos == f->size) {
			file_end(b);
			b->cur++;
			file_start(b);
		}
	}
	/* a long bundle does not hold the store's write lock for long */
	if (mono_ms() - b->flushed_ms >= APPLY_BUNDLE_FLUSH_MS) {
		if (apply_batch_flush(b->a) < 0)
			b->failed++;
		b->flushed_ms = mono_ms();
	}
	return 0;
}

int
apply_bundle_finish(struct apply_bundle *b, size_t *installed)
{
	int r = b->cur < b->n ? -ENODATA : b->failed ? -EBADMSG : 0;

	if (b->cur < b->n)
		file_drop(b, -ENODATA);
	if (apply_batch_end(b->a) < 0 && r == 0)
		r = -EIO;
	if (installed)
		*installed = b->installed;
	free(b);
	return r;
}

void
apply_bundle_abort(struct apply_bundle *b)
{
	if (b == NULL)
		return;
	if (b->cur < b->n)
		file_drop(b, -ECONNABORTED);
	apply_batch_end(b->a);
	free(b);
}

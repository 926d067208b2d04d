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
#include "store/store.h"
#include "sync/apply_int.h"

#define APPLY_BUNDLE_FLUSH_MS 250
#define APPLY_BUNDLE_READY 16	/* files verified, waiting for the flush */

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
	/* files verified whose install waits for one sync of the file
	 * system (install_ready()) */
	struct apply_put *ready[APPLY_BUNDLE_READY];
	size_t ready_k[APPLY_BUNDLE_READY], nready;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One file installed (r = 0) or not. */
static void
file_done(struct apply_bundle *b, size_t k, int r)
{
	if (r == 0)
		b->installed++;
	else if (r < 0)
		b->failed++;
	if (b->h.end)
		b->h.end(b->h.arg, k, r);
}

/* Installs the files verified so far: their data goes to the disk with
 * one sync of the file system (instead of an fsync each), then each is
 * renamed into place and recorded as by apply_put_finish(). */
static void
install_ready(struct apply_bundle *b)
{
	int r[APPLY_BUNDLE_READY], s, txn;

	if (b->nready == 0)
		return;
	if ((s = apply_sync_fs(b->a)) < 0) {
		for (size_t i = 0; i < b->nready; i++) {
			apply_put_abort(b->ready[i], 1);
			file_done(b, b->ready_k[i], s);
		}
		b->nready = 0;
		return;
	}
	/* one commit notes every install before the first rename, one
	 * records them all: a record the commit loses is found again by
	 * its intent, at the next start or by the slave's watcher */
	apply_puts_note(b->a, b->ready, b->nready);
	txn = store_begin(b->a->st) == 0;
	for (size_t i = 0; i < b->nready; i++)
		r[i] = apply_put_finish(b->ready[i]);
	if (txn && (s = store_commit(b->a->st)) < 0) {
		store_rollback(b->a->st);
		log_error("cannot record %zu files installed in %s: %s",
		    b->nready, b->a->root, strerror(-s));
	}
	for (size_t i = 0; i < b->nready; i++)
		file_done(b, b->ready_k[i], r[i] == 0 && s < 0 ? s : r[i]);
	b->nready = 0;
}

/* Ends the current file: verified, it waits for the next flush to be
 * installed (install_ready()). */
static void
file_end(struct apply_bundle *b)
{
	struct apply_put *p = b->p;
	int r;

	b->p = NULL;
	if (p == NULL) {
		file_done(b, b->cur, 1);
		return;
	}
	if ((r = apply_put_ready(p)) < 0) {
		file_done(b, b->cur, r);
		return;
	}
	if (b->h.ready)
		b->h.ready(b->h.arg, b->cur);
	b->ready[b->nready] = p;
	b->ready_k[b->nready++] = b->cur;
	if (b->nready == APPLY_BUNDLE_READY)
		install_ready(b);
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
		install_ready(b);
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
	install_ready(b);
	if (b->failed && r == 0)
		r = -EBADMSG;
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
	install_ready(b);	/* verified whole: they stay */
	apply_batch_end(b->a);
	free(b);
}

/* util.h -- small helpers every layer may use: growing an array, and
 * converting between struct timespec and nanoseconds or milliseconds.
 *
 * Header-only, and it includes nothing but the C library, so agent/,
 * sync/ and store/ can all include it without breaking the layer rule
 * (sync/ and store/ include nothing from agent/ but agent/log.h and this
 * header). It does not log: callers know what they were doing.
 */
#ifndef XS_UTIL_H
#define XS_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UTIL_NS_PER_SEC INT64_C(1000000000)

/* Makes room for at least want elements of size bytes in the array whose
 * address is arrp (a T ** passed as void *; its allocated length is *cap
 * elements): the capacity doubles, starting at first, until want fit.
 * Call it through util_grow(), which passes the element size. Returns 0,
 * or -ENOMEM with the array and *cap as they were. The array stays the
 * caller's, to free(). */
static inline int
util_grow_size(void *arrp, size_t size, size_t want, size_t *cap,
    size_t first)
{
	size_t n = *cap ? *cap : first ? first : 1;
	void *v;

	if (want <= *cap)
		return 0;
	while (n < want) {
		if (n > SIZE_MAX / 2)
			return -ENOMEM;
		n *= 2;
	}
	if (n > SIZE_MAX / size)
		return -ENOMEM;
	/* the pointer is copied, not cast, so any T * works */
	memcpy(&v, arrp, sizeof(v));
	if ((v = realloc(v, n * size)) == NULL)
		return -ENOMEM;
	memcpy(arrp, &v, sizeof(v));
	*cap = n;
	return 0;
}

/* util_grow(&arr, want, &cap, first) for an array T *arr: see
 * util_grow_size(). **arr must be a complete type, so passing arr instead
 * of &arr does not compile. Returns 0 or -ENOMEM. */
#define util_grow(arrp, want, cap, first) \
	util_grow_size((arrp), sizeof(**(arrp)), (want), (cap), (first))

/* ts in nanoseconds (since the epoch for a file time). Returns them. */
static inline int64_t
util_ts_ns(struct timespec ts)
{
	return (int64_t)ts.tv_sec * UTIL_NS_PER_SEC + ts.tv_nsec;
}

/* ts in milliseconds, rounded down. Returns them. */
static inline int64_t
util_ts_ms(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ns nanoseconds as a timespec, whose tv_nsec stays in 0..999999999 for
 * times before 1970 too (what utimensat(2) wants). Returns it. */
static inline struct timespec
util_ns_ts(int64_t ns)
{
	struct timespec ts;
	int64_t sec = ns / UTIL_NS_PER_SEC, rem = ns % UTIL_NS_PER_SEC;

	if (rem < 0) {
		rem += UTIL_NS_PER_SEC;
		sec--;
	}
	ts.tv_sec = (time_t)sec;
	ts.tv_nsec = (long)rem;
	return ts;
}

#endif

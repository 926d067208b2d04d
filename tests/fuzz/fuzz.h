/* fuzz.h -- what the fuzz targets in tests/fuzz/fuzz_<name>.c share.
 *
 * Each target defines LLVMFuzzerTestOneInput(), which takes any bytes,
 * runs one parser of xmpp-sync on them and frees everything it made
 * (libFuzzer runs with LeakSanitizer). It returns 0; a finding is a
 * crash, a sanitizer report or fuzz_check() failing, never a return code.
 *
 * The same file is linked two ways (Makefile):
 *   make fuzz    with clang -fsanitize=fuzzer,address,undefined, the
 *                libFuzzer main: build/fuzz/tests/fuzz/fuzz_<name>
 *   make tests   with the normal compiler and tests/fuzz/replay.c, which
 *                feeds it every file of tests/fuzz/corpus/<name>/:
 *                $(B)/tests/test_fuzz_<name>, run by make check
 */
#ifndef XS_FUZZ_H
#define XS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property the target checks on what the parser accepted. Failing it
 * aborts, which both libFuzzer and the replay report with the input. */
#define fuzz_check(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: fuzz_check failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* Parses size bytes as one XML element with libstrophe, as the stanza
 * handlers receive it (bytes after a NUL are ignored, as a C string
 * would). Returns the stanza (release it) or NULL when it is not XML. */
static inline xmpp_stanza_t *
fuzz_stanza(xmpp_ctx_t *ctx, const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	xmpp_stanza_t *st;

	if (s == NULL)
		return NULL;
	memcpy(s, data, size);
	s[size] = '\0';
	st = xmpp_stanza_new_from_string(ctx, s);
	free(s);
	return st;
}

/* fuzz_records: the fixed key and nonce base of every stream, and the
 * header before the ciphertext (tests/tools/fuzzseed writes seeds). */
#define FUZZ_RECORDS_KEY   "xmpp-sync fuzz records key 0123"  /* 32 */
#define FUZZ_RECORDS_NONCE "fuzz nonce!"                      /* 12 */
#define FUZZ_RECORDS_HEADER 6

/* Whether two strings are equal, NULL equal only to NULL. */
static inline int
fuzz_streq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

#endif

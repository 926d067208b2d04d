/* unit.h -- the smallest table-driven test framework that works for us.
 *
 * A test file defines functions `static int t_name(void)` and a table:
 *
 *     static const struct unit_test tests[] = {
 *         { "config_rejects_unknown_key", t_unknown_key },
 *         ...
 *     };
 *     UNIT_MAIN(tests)
 *
 * A test returns 0 (pass), -1 (fail; EXPECT has said why) or UNIT_SKIP
 * (after unit_skip("why")). Each test prints one line PASS/FAIL/SKIP that
 * tests/run.sh counts. The exit status is 1 when any test failed.
 */
#ifndef XS_UNIT_H
#define XS_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT_SKIP 77

struct unit_test {
	const char *name;
	int (*fn)(void);
};

static char unit_skip_reason[256];

static inline int
unit_skip(const char *why)
{
	snprintf(unit_skip_reason, sizeof(unit_skip_reason), "%s", why);
	return UNIT_SKIP;
}

/* EXPECT(cond, fmt, ...): on failure print where and why, return -1. */
#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stdout, "  %s:%d: expected %s: ", __FILE__,	\
		    __LINE__, #cond);					\
		fprintf(stdout, __VA_ARGS__);				\
		fputc('\n', stdout);					\
		return -1;						\
	}								\
} while (0)

#define EXPECT_INT(a, b) EXPECT((long long)(a) == (long long)(b),	\
	"%s = %lld, want %lld", #a, (long long)(a), (long long)(b))
#define EXPECT_STR(a, b) do {						\
	const char *unit_a_ = (a), *unit_b_ = (b);			\
	EXPECT(unit_a_ != NULL && strcmp(unit_a_, unit_b_) == 0,	\
	    "%s = \"%s\", want \"%s\"", #a,				\
	    unit_a_ ? unit_a_ : "(null)", unit_b_);			\
} while (0)

static inline int
unit_run(const char *file, const struct unit_test *t, size_t n, int argc,
    char **argv)
{
	int failed = 0;

	for (size_t i = 0; i < n; i++) {
		if (argc > 1 && strstr(t[i].name, argv[1]) == NULL)
			continue;
		fflush(stdout);
		int r = t[i].fn();
		if (r == 0)
			printf("PASS %s/%s\n", file, t[i].name);
		else if (r == UNIT_SKIP)
			printf("SKIP %s/%s: %s\n", file, t[i].name,
			    unit_skip_reason);
		else {
			printf("FAIL %s/%s\n", file, t[i].name);
			failed = 1;
		}
		fflush(stdout);
	}
	return failed;
}

#define UNIT_MAIN(table)						\
	int main(int argc, char **argv)					\
	{								\
		const char *f = strrchr(__FILE__, '/');			\
		return unit_run(f ? f + 1 : __FILE__, table,		\
		    sizeof(table) / sizeof(table[0]), argc, argv);	\
	}

#endif

/* replay.c -- runs a fuzz target over its committed corpus without
 * libFuzzer, so `make check` replays every input found so far with the
 * normal compiler, and under ASan + UBSan with SANITIZE=1.
 *
 *   test_fuzz_NAME              every file of tests/fuzz/corpus/NAME/
 *                               (under $XS_TOP when set, as tests/run.sh
 *                               does, else under the current directory)
 *   test_fuzz_NAME PATH...      these files or directories instead, e.g.
 *                               a crash file that `make fuzz` left
 *
 * Prints one line in the tests/unit.h style: "PASS fuzz_NAME: N inputs",
 * or "FAIL fuzz_NAME: ..." naming the input that crashed (from a signal
 * handler, or the sanitizer's death callback). FUZZ_NAME comes from the
 * Makefile.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fuzz/fuzz.h"

#ifndef FUZZ_NAME
#error "build with -DFUZZ_NAME='\"name\"'"
#endif

/* Set when linked with a sanitizer runtime, NULL otherwise. */
extern void __sanitizer_set_death_callback(void (*cb)(void))
	__attribute__((weak));

static char current[4096];  /* the input being run, for the crash line */

static void
say_crash(void)
{
	static const char a[] = "FAIL fuzz_" FUZZ_NAME ": crashed on ";
	size_t n = strlen(current);

	/* async-signal-safe: write(2) only */
	if (write(STDOUT_FILENO, a, sizeof(a) - 1) < 0 ||
	    write(STDOUT_FILENO, current, n) < 0 ||
	    write(STDOUT_FILENO, "\n", 1) < 0)
		return;
}

static void
on_signal(int sig)
{
	say_crash();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads the whole file into a buffer of exactly its size, so the
 * sanitizers see any read past the end. Returns 0 or a negative errno. */
static int
slurp(const char *path, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *b = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if ((b = malloc(st.st_size ? (size_t)st.st_size : 1)) == NULL)
		r = -ENOMEM;
	if (r < 0) {
		close(fd);
		return r;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		free(b);
		return r;
	}
	*out = b;
	*len = got;
	return 0;
}

static int
run_file(const char *path)
{
	uint8_t *b = NULL;
	size_t n = 0;
	int r;

	snprintf(current, sizeof(current), "%s", path);
	if ((r = slurp(path, &b, &n)) < 0) {
		printf("FAIL fuzz_%s: cannot read %s: %s\n", FUZZ_NAME, path,
		    strerror(-r));
		return r;
	}
	LLVMFuzzerTestOneInput(b, n);
	free(b);
	return 0;
}

static int
no_dots(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Runs every file of dir in name order. Returns the count or -1. */
static long
run_dir(const char *dir)
{
	struct dirent **ents;
	char path[4096];
	long count = 0;
	int n = scandir(dir, &ents, no_dots, alphasort);

	if (n < 0) {
		printf("FAIL fuzz_%s: cannot read %s: %s\n", FUZZ_NAME, dir,
		    strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (count >= 0 && run_file(path) == 0)
			count++;
		else
			count = -1;
		free(ents[i]);
	}
	free(ents);
	return count;
}

static long
run_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return run_dir(path);
	return run_file(path) == 0 ? 1 : -1;
}

/* Names the input on a crash: through the sanitizer's death callback
 * when there is one (its own SIGSEGV handler prints the stack), else
 * from our signal handlers; abort() (fuzz_check) is ours either way. */
static void
catch_crashes(void)
{
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};

	signal(SIGABRT, on_signal);
	if (__sanitizer_set_death_callback) {
		__sanitizer_set_death_callback(say_crash);
		return;
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_signal);
}

int
main(int argc, char **argv)
{
	const char *top = getenv("XS_TOP");
	char corpus[4096];
	long total = 0, n;

	catch_crashes();
	snprintf(corpus, sizeof(corpus), "%s%stests/fuzz/corpus/%s",
	    top ? top : "", top ? "/" : "", FUZZ_NAME);
	if (argc == 1)
		total = run_path(corpus);
	for (int i = 1; i < argc && total >= 0; i++)
		total = (n = run_path(argv[i])) < 0 ? -1 : total + n;
	if (total < 0)
		return 1;
	if (total == 0) {
		printf("FAIL fuzz_%s: no inputs in %s\n", FUZZ_NAME,
		    argc > 1 ? argv[1] : corpus);
		return 1;
	}
	printf("PASS fuzz_%s: %ld inputs\n", FUZZ_NAME, total);
	return 0;
}

/* log.c -- see log.h */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/log.h"

static enum log_level threshold = LOG_LVL_INFO;
static int timestamps;
static int journal;

/* syslog priorities of the levels: err, warning, info, debug */
static const int priorities[] = {3, 4, 6, 7};

static const char *const names[] = {"error", "warn", "info", "debug"};

void
log_set_level(enum log_level lvl)
{
	threshold = lvl;
}

enum log_level
log_get_level(void)
{
	return threshold;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void
log_set_timestamps(int on)
{
	timestamps = on;
}

int
log_detect_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	journal = 0;
	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0 || (unsigned long long)st.st_dev != dev ||
	    (unsigned long long)st.st_ino != ino)
		return 0;
	journal = 1;
	timestamps = 0;
	return 1;
}

/* File names may hold any byte but NUL: a newline or an escape sequence
 * in one must not forge a log line or drive the terminal. Rewrites each
 * control character of *line as \xNN. Returns 0 or -ENOMEM (the line is
 * left alone then). */
static int
escape_controls(char **line)
{
	size_t n = 0, len = strlen(*line);
	char *out, *o;

	for (size_t i = 0; i < len; i++)
		n += (unsigned char)(*line)[i] < 0x20 || (*line)[i] == 0x7f;
	if (n == 0)
		return 0;
	if ((out = malloc(len + 3 * n + 1)) == NULL)
		return -ENOMEM;
	o = out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)(*line)[i];
		if (c < 0x20 || c == 0x7f)
			o += sprintf(o, "\\x%02x", c);
		else
			*o++ = (char)c;
	}
	*o = '\0';
	free(*line);
	*line = out;
	return 0;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	char *line = NULL;
	char ts[80] = "";
	va_list ap;

	if (lvl > threshold)
		return;
	if (timestamps) {
		struct timespec now;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
	}
	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	if (line && escape_controls(&line) < 0) {
		free(line);
		line = NULL;
	}
	/* one write per line so concurrent writers do not interleave */
	if (journal)
		fprintf(stderr, "<%d>%s: %s\n", priorities[lvl], names[lvl],
		    line ? line : fmt);
	else
		fprintf(stderr, "%sxmpp-sync: %s: %s\n", ts, names[lvl],
		    line ? line : fmt);
	free(line);
}

/* json.c -- see json.h */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "agent/json.h"

size_t
json_addf(char *buf, size_t off, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (len == 0 || off >= len - 1)
		return len ? len - 1 : 0;
	va_start(ap, fmt);
	n = vsnprintf(buf + off, len - off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return off;
	off += (size_t)n;
	return off >= len ? len - 1 : off;
}

size_t
json_str(char *buf, size_t off, size_t len, const char *s)
{
	if (s == NULL)
		return json_addf(buf, off, len, "null");
	off = json_addf(buf, off, len, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			off = json_addf(buf, off, len, "\\%c", c);
		else if (c < 0x20)
			off = json_addf(buf, off, len, "\\u%04x", c);
		else
			off = json_addf(buf, off, len, "%c", c);
	}
	return json_addf(buf, off, len, "\"");
}

size_t
json_time(char *buf, size_t off, size_t len, long long t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0)
		return json_addf(buf, off, len, "null");
	gmtime_r(&tt, &tm);
	return json_addf(buf, off, len, "\"%04d-%02d-%02dT%02d:%02d:%02dZ\"",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

char *
time_text(char *buf, size_t len, long long t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0) {
		snprintf(buf, len, "never");
		return buf;
	}
	gmtime_r(&tt, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return buf;
}

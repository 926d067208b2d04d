/* json.h -- appending JSON text to a fixed buffer (for status output). */
#ifndef XS_JSON_H
#define XS_JSON_H

#include <stddef.h>

/* Appends printf-formatted text at buf+off, never past len (the result is
 * always NUL-terminated). Returns the new offset (capped at len - 1). */
size_t json_addf(char *buf, size_t off, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Appends s as a JSON string literal (quoted and escaped), or null for
 * NULL. Returns the new offset. */
size_t json_str(char *buf, size_t off, size_t len, const char *s);

/* Appends a unix time as an ISO 8601 UTC string, or null for 0. */
size_t json_time(char *buf, size_t off, size_t len, long long t);

/* Writes a unix time as ISO 8601 UTC text without quotes into buf, or
 * "never" for 0. Returns buf. */
char *time_text(char *buf, size_t len, long long t);

#endif

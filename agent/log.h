/* log.h -- the logger: the one piece of global state in xmpp-sync.
 *
 * Messages are lowercase, error first, no full stop: "cannot open %s: %s".
 * Log once, where the cause is known; callers pass the error code up.
 * Lines go to stderr as "xmpp-sync: LEVEL: message"; with
 * log_set_timestamps(1) each line starts with a UTC timestamp, for runs
 * outside systemd. When stderr is the journal (log_detect_journal()),
 * lines are "<N>LEVEL: message" with N the syslog priority, and journald
 * adds the time and the program name.
 */
#ifndef XS_LOG_H
#define XS_LOG_H

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/* Sets the threshold: messages above it are dropped. */
void log_set_level(enum log_level lvl);

/* Returns the current threshold. */
enum log_level log_get_level(void);

/* Parses "error", "warn", "info" or "debug". Returns 0 and sets *out,
 * or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);

/* Turns timestamps at the start of each line on or off. */
void log_set_timestamps(int on);

/* Under systemd with stderr connected to the journal ($JOURNAL_STREAM
 * names stderr's device and inode): lines start with the syslog priority
 * as "<N>" for journald and carry no timestamp. Returns 1 when it turned
 * that on, else 0 (then lines are plain, for a terminal or a file). */
int log_detect_journal(void);

void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif

/*
 * log.h - the one log format of both programs, on stderr:
 *
 *   2026-12-07T00:17:01.123Z % warning: message
 *
 * LEVEL is error, warning, info or debug, shown up to a verbosity (errors
 * always).  The UTC time (milliseconds) comes first when stderr is neither a
 * terminal (a person watching it live) nor systemd's journal (which stamps
 * every line itself); --log-time always|never decides otherwise.  The rest of
 * the line is the same either way, so "% warning:" finds warnings in both.
 * Data never goes there.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stdint.h>

enum log_level {
	LOG_ERROR, /* the program stops, or something was lost */
	LOG_WARN,  /* wrong input or a fault it works around; shown with -q */
	LOG_INFO,  /* what it does (the default verbosity) */
	LOG_DEBUG  /* -v */
};

/* Whether lines start with their time (--log-time). */
enum log_time {
	LOG_TIME_AUTO,   /* when stderr is neither a terminal nor the journal */
	LOG_TIME_ALWAYS,
	LOG_TIME_NEVER
};

void log_msg(int verbosity, enum log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void log_vmsg(int verbosity, enum log_level level, const char *fmt, va_list ap);
/* A librdkafka log line (syslog level, facility, text) in this format. */
void log_kafka(int verbosity, int syslog_level, const char *fac, const char *buf);
/* Another library's line (lws) in this format, WHO instead of the level:
 * "% WHO: text"; a trailing newline in text is dropped. */
void log_line(const char *who, const char *text);
/* Sets when lines carry their time, for the whole process: once, in main,
 * before any thread starts (until then: auto).  The one setting log.c keeps:
 * handing it to the hundred calls that log would gain nothing. */
void log_set_time(enum log_time when);
/* --log-time's value: "auto", "always" or "never"; -1 for anything else. */
int log_time_parse(const char *s);
/* Whether count n is first, 10 * first, 100 * first, ...: a warning that
 * repeats is said at those counts, so that a flood still shows its size. */
int log_decade(int64_t n, int64_t first);

#endif

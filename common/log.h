/*
 * log.h - the one log format of both programs: "% LEVEL: message" lines on
 * stderr (LEVEL: error, warning, info, debug), shown up to a verbosity; errors
 * always.  Data never goes there.
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

void log_msg(int verbosity, enum log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void log_vmsg(int verbosity, enum log_level level, const char *fmt, va_list ap);
/* A librdkafka log line (syslog level, facility, text) in this format. */
void log_kafka(int verbosity, int syslog_level, const char *fac, const char *buf);
/* Whether count n is first, 10 * first, 100 * first, ...: a warning that
 * repeats is said at those counts, so that a flood still shows its size. */
int log_decade(int64_t n, int64_t first);

#endif

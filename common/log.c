/*
 * log.c - see log.h.  A line is formatted first and written with one call, so
 * lines from the programs' threads (librdkafka's, the nudger) do not mix.
 */
#include "log.h"

#include <stdio.h>

void log_vmsg(int verbosity, enum log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char line[2048];
	int n;

	if ((int)level > verbosity && level != LOG_ERROR)
		return;
	n = snprintf(line, sizeof(line), "%% %s: ", names[level]);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	fprintf(stderr, "%s\n", line);
}

void log_msg(int verbosity, enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(verbosity, level, fmt, ap);
	va_end(ap);
}

void log_kafka(int verbosity, int syslog_level, const char *fac, const char *buf)
{
	log_msg(verbosity, syslog_level <= 4 ? LOG_WARN : syslog_level <= 6 ? LOG_INFO : LOG_DEBUG, "kafka %s: %s",
	        fac, buf);
}

int log_decade(int64_t n, int64_t first)
{
	if (first <= 0 || n < first)
		return 0;
	while (n % 10 == 0 && n > first)
		n /= 10;
	return n == first;
}

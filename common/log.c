/*
 * log.c - see log.h.  A line is formatted first and written with one call, so
 * lines from the programs' threads (librdkafka's, the nudger) do not mix.
 */
#include "log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* When lines carry their time: LOG_TIME_AUTO until main decides (log_set_time
 * resolves auto once, before threads start; only then is it read by them). */
static enum log_time log_when = LOG_TIME_AUTO;

/* systemd's journal connects stderr to itself and says so in JOURNAL_STREAM
 * ("DEV:INO" of that stream, decimal): a stderr that is that very stream
 * (not a redirection to a file made below the unit) goes to the journal. */
static int log_to_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat sb;
	char tail;

	if (!js || sscanf(js, "%ju:%ju%c", &dev, &ino, &tail) != 2 || fstat(STDERR_FILENO, &sb) < 0)
		return 0;
	return (uintmax_t)sb.st_dev == dev && (uintmax_t)sb.st_ino == ino;
}

/* Auto: a terminal has a person watching the lines come (the time is now)
 * and the journal stamps each line itself; anything else (a file, a pipe to
 * a file) keeps them for later, when their time matters. */
static int log_auto_time(void)
{
	return !isatty(STDERR_FILENO) && !log_to_journal();
}

void log_set_time(enum log_time when)
{
	if (when == LOG_TIME_AUTO)
		when = log_auto_time() ? LOG_TIME_ALWAYS : LOG_TIME_NEVER;
	log_when = when;
}

int log_time_parse(const char *s)
{
	static const char *const names[] = { "auto", "always", "never" };
	for (int i = 0; i < 3; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* "2026-12-07T00:17:01.123Z " into buf (at least 32 bytes); its length. */
static int log_stamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	return snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ", tm.tm_year + 1900, tm.tm_mon + 1,
	                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* The line: [time] "% " head ": " text, one write. */
static void log_write(const char *head, const char *fmt, va_list ap)
{
	char line[2048];
	int n = 0;
	enum log_time when = log_when;

	if (when == LOG_TIME_ALWAYS || (when == LOG_TIME_AUTO && log_auto_time()))
		n = log_stamp(line, sizeof(line));
	n += snprintf(line + n, sizeof(line) - (size_t)n, "%% %s: ", head);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	fprintf(stderr, "%s\n", line);
}

static void log_head(const char *head, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_head(const char *head, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_write(head, fmt, ap);
	va_end(ap);
}

void log_vmsg(int verbosity, enum log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };

	if ((int)level > verbosity && level != LOG_ERROR)
		return;
	log_write(names[level], fmt, ap);
}

void log_msg(int verbosity, enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(verbosity, level, fmt, ap);
	va_end(ap);
}

void log_line(const char *who, const char *text)
{
	size_t n = strlen(text);
	if (n > 0 && text[n - 1] == '\n')
		n--;
	log_head(who, "%.*s", (int)n, text);
}

/* librdkafka's warnings that a healthy broker gives while it starts, and that
 * librdkafka retries by itself: a fresh Apache Kafka loads its transaction
 * coordinator for a moment, so the idempotent producer's first InitProducerId
 * is refused ("GETPID ... Coordinator load in progress: retrying").  Said at
 * debug level: if it lasted, nothing would be acknowledged and the producer
 * says so (it spools after 5 s, with a warning). */
static const struct {
	const char *fac, *text;
} log_kafka_transient[] = {
	{ "GETPID", "Coordinator load in progress" },
	{ "GETPID", "Coordinator not available" },
};

void log_kafka(int verbosity, int syslog_level, const char *fac, const char *buf)
{
	enum log_level level = syslog_level <= 4 ? LOG_WARN : syslog_level <= 6 ? LOG_INFO : LOG_DEBUG;

	for (size_t i = 0; level == LOG_WARN && i < sizeof(log_kafka_transient) / sizeof(log_kafka_transient[0]); i++)
		if (strcmp(fac, log_kafka_transient[i].fac) == 0 && strstr(buf, log_kafka_transient[i].text))
			level = LOG_DEBUG;
	log_msg(verbosity, level, "kafka %s: %s", fac, buf);
}

int log_decade(int64_t n, int64_t first)
{
	if (first <= 0 || n < first)
		return 0;
	while (n % 10 == 0 && n > first)
		n /= 10;
	return n == first;
}

/*
 * test_log.c - common/log.c: log_decade (a repeated warning is said at its
 * first count and at ten, a hundred, ... times it, and at no other count),
 * --log-time's values, the line's time, librdkafka's transient warnings.
 */
#include <regex.h>
#include <unistd.h>

#include "harness.h"
#include "log.h"

/* What fn wrote to stderr (at most len - 1 bytes). */
static void tl_capture(void (*fn)(void), char *buf, size_t len)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n = 0;

	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, len - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
}

static void tl_warn(void)
{
	log_msg(LOG_INFO, LOG_WARN, "disk %d%% full", 93);
}

static void tl_kafka(void)
{
	log_kafka(LOG_INFO, 4, "GETPID", "[thrd:main]: Failed to acquire idempotence PID from broker b/1: "
	                                  "Broker: Coordinator load in progress: retrying");
	log_kafka(LOG_INFO, 4, "FAIL", "b/1: Connect to ipv4#127.0.0.1:1 failed: Connection refused");
}

static void tl_lws(void)
{
	log_line("lws", "lws_create_context: Event loop: poll\n");
}

static int tl_match(const char *s, const char *re)
{
	regex_t r;
	int ok = regcomp(&r, re, REG_EXTENDED | REG_NOSUB) == 0 && regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return ok;
}

static void test_format(void)
{
	char out[1024];

	T_INT(log_time_parse("auto"), LOG_TIME_AUTO, "--log-time auto");
	T_INT(log_time_parse("always"), LOG_TIME_ALWAYS, "--log-time always");
	T_INT(log_time_parse("never"), LOG_TIME_NEVER, "--log-time never");
	T_INT(log_time_parse("Always"), -1, "--log-time Always: refused");
	T_INT(log_time_parse(""), -1, "--log-time '': refused");

	log_set_time(LOG_TIME_NEVER);
	tl_capture(tl_warn, out, sizeof(out));
	T_OK(strcmp(out, "% warning: disk 93% full\n") == 0, "never: '%% LEVEL: message'");
	log_set_time(LOG_TIME_ALWAYS);
	tl_capture(tl_warn, out, sizeof(out));
	T_OK(tl_match(out, "^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{3}Z % warning: "
	                   "disk 93% full\n$"), "always: the UTC time (ms) first, then the same");
	tl_capture(tl_lws, out, sizeof(out));
	T_OK(tl_match(out, "^[0-9T:.-]{23}Z % lws: lws_create_context: Event loop: poll\n$"),
	     "another library's line: '%% WHO: text', its newline not doubled");
	log_set_time(LOG_TIME_NEVER);
	tl_capture(tl_kafka, out, sizeof(out));
	T_OK(strcmp(out, "% warning: kafka FAIL: b/1: Connect to ipv4#127.0.0.1:1 failed: Connection refused\n") == 0,
	     "librdkafka: a failed connect is a warning; a fresh broker's coordinator load is not");
}

int main(void)
{
	int said = 0;

	T_INT(log_decade(0, 1), 0, "no count: nothing said");
	T_INT(log_decade(1, 1), 1, "the first of a run said");
	T_INT(log_decade(10, 1), 1, "10 said");
	T_INT(log_decade(1000000, 1), 1, "a million said");
	T_INT(log_decade(11, 1), 0, "11 not said");
	T_INT(log_decade(20, 1), 0, "20 not said");
	T_INT(log_decade(4, 5), 0, "below the first count (5): not said");
	T_INT(log_decade(5, 5), 1, "5 said (first 5)");
	T_INT(log_decade(50, 5), 1, "50 said");
	T_INT(log_decade(500, 5), 1, "500 said");
	T_INT(log_decade(10, 5), 0, "10 not said (first 5)");
	T_INT(log_decade(100, 5), 0, "100 not said (first 5)");
	T_INT(log_decade(INT64_MAX, 1), 0, "INT64_MAX is no decade");
	T_INT(log_decade(7, 0), 0, "a first count of 0 says nothing");
	for (int64_t n = 1; n <= 100000; n++)
		said += log_decade(n, 1);
	T_INT(said, 6, "from 1 to 100000: said 6 times (1, 10, ..., 100000)");
	test_format();
	return t_done();
}

/*
 * test_fmt.c - fmt_time_ms (exact strings, pre-1970, truncation, gmtime_r as
 * an independent oracle), fmt_time_or, fmt_double (bit-exact round trip and digit-count
 * minimality over many random doubles), duration_parse.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* gmtime_r when built outside the Makefile */
#endif
#include "harness.h"
#include "duration.h"
#include "fmt.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng = 0x243f6a8885a308d3ULL;
static uint64_t next(void)
{
	return t_xorshift(&rng);
}

static const char *tm_(int64_t us)
{
	static char buf[FMT_BUF];
	size_t n = fmt_time_ms(us, buf);
	if (n != strlen(buf))
		return "(length mismatch)";
	return buf;
}

static void test_time(void)
{
	T_STR(tm_(1682348507940047LL), "2023-04-24T15:01:47.940Z", "reference");
	T_STR(tm_(1682348507999999LL), "2023-04-24T15:01:47.999Z", ".999999 truncated to .999");
	T_STR(tm_(1682348507000999LL), "2023-04-24T15:01:47.000Z", ".000999 truncated");
	T_STR(tm_(0), "1970-01-01T00:00:00.000Z", "epoch");
	T_STR(tm_(999), "1970-01-01T00:00:00.000Z", "epoch + 999us");
	T_STR(tm_(1000), "1970-01-01T00:00:00.001Z", "epoch + 1ms");
	T_STR(tm_(-1), "1969-12-31T23:59:59.999Z", "-1us floors to previous ms");
	T_STR(tm_(-1000), "1969-12-31T23:59:59.999Z", "-1ms");
	T_STR(tm_(-1001), "1969-12-31T23:59:59.998Z", "-1001us");
	T_STR(tm_(-86400000000LL), "1969-12-31T00:00:00.000Z", "-1 day");
	T_STR(tm_(-86400000001LL), "1969-12-30T23:59:59.999Z", "-1 day - 1us");
	/* date -u -d 1960-06-15T12:34:56Z +%s = -301231504 */
	T_STR(tm_(-301231504000000LL + 789000), "1960-06-15T12:34:56.789Z", "1960");
	/* date -u -d 1900-03-01T00:00:00Z +%s = -2203891200; 1900 is not leap */
	T_STR(tm_(-2203891200000000LL), "1900-03-01T00:00:00.000Z", "1900-03-01");
	T_STR(tm_(-2203891200000000LL - 1), "1900-02-28T23:59:59.999Z", "1900-02-28 (no 29th)");
	T_STR(tm_(951782400000000LL), "2000-02-29T00:00:00.000Z", "2000-02-29 (leap)");
	T_STR(tm_(951782400000000LL - 1), "2000-02-28T23:59:59.999Z", "2000-02-28");
	T_STR(tm_(1709251199000000LL), "2024-02-29T23:59:59.000Z", "2024-02-29 (leap)");
	T_STR(tm_(1709251200000000LL), "2024-03-01T00:00:00.000Z", "2024-03-01");
	T_STR(tm_(253402300799999999LL), "9999-12-31T23:59:59.999Z", "9999");
	T_STR(tm_(-62135596800000000LL), "0001-01-01T00:00:00.000Z", "year 1");
	T_STR(tm_(-62135596800000001LL), "0000-12-31T23:59:59.999Z", "year 0");
	/* date -u -d @9223372036854 / @-9223372036855 */
	T_STR(tm_(INT64_MAX), "294247-01-10T04:00:54.775Z", "INT64_MAX");
	T_STR(tm_(INT64_MIN), "-290308-12-21T19:59:05.224Z", "INT64_MIN");

	/* random instants, years 1..9999, against gmtime_r */
	int bad = 0;
	char first[128] = "";
	for (int i = 0; i < 20000; i++) {
		int64_t lo = -62135596800LL, span = 253402300800LL - lo;
		int64_t sec = lo + (int64_t)(next() % (uint64_t)span);
		int us = (int)(next() % 1000000);
		time_t tt = (time_t)sec;
		struct tm tm;
		char want[64];
		gmtime_r(&tt, &tm);
		snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us / 1000);
		if (strcmp(tm_(sec * 1000000 + us), want) != 0 && !bad++)
			snprintf(first, sizeof first, "%s vs %s", tm_(sec * 1000000 + us), want);
	}
	if (!T_OK(bad == 0, "20000 random instants vs gmtime_r"))
		printf("#   %d mismatches, first %s\n", bad, first);
}

static const char *dbl(double v)
{
	static char buf[FMT_BUF];
	size_t n = fmt_double(v, buf);
	if (n != strlen(buf))
		return "(length mismatch)";
	return buf;
}

static int same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

/* Significant digits of a %g-style string: "120000" -> 2, "1.25e-05" -> 3. */
static int sig_digits(const char *s)
{
	char d[64];
	int n = 0, a = 0, b;
	for (; *s && *s != 'e'; s++)
		if (*s >= '0' && *s <= '9')
			d[n++] = *s;
	while (a < n && d[a] == '0')
		a++;
	b = n;
	while (b > a && d[b - 1] == '0')
		b--;
	return b > a ? b - a : 1;
}

/* The reference rule: the first precision 1..17 whose "%.*g" reads back. */
static int min_precision(double v)
{
	char b[400]; /* %g of a large double may be long */
	for (int p = 1; p < 17; p++) {
		snprintf(b, sizeof b, "%.*g", p, v);
		if (same_bits(strtod(b, NULL), v))
			return p;
	}
	return 17;
}

/* Checks one value: round trip, digit count equal to the reference rule,
 * and one digit fewer does not round-trip.  Returns 0 when all hold. */
static int check_double(double v, char *why, size_t whylen)
{
	const char *s = dbl(v);
	int sd = sig_digits(s), mp = min_precision(v);
	char b[400]; /* %g of a large double may be long */

	if (!same_bits(strtod(s, NULL), v)) {
		snprintf(why, whylen, "%.17g -> '%s' does not read back", v, s);
		return -1;
	}
	if (sd != mp) {
		snprintf(why, whylen, "%.17g -> '%s' has %d digits, reference %d", v, s, sd, mp);
		return -1;
	}
	if (sd > 1) {
		snprintf(b, sizeof b, "%.*g", sd - 1, v);
		if (same_bits(strtod(b, NULL), v)) {
			snprintf(why, whylen, "%.17g -> '%s' but '%.60s' also reads back", v, s, b);
			return -1;
		}
	}
	return 0;
}

/* fmt_time_or: the time, or the word for "none yet" (the log's and status's). */
static void test_time_or(void)
{
	char buf[FMT_BUF];

	T_INT(fmt_time_or(INT64_MIN, "-", buf), 1, "no time: the length of its word");
	T_STR(buf, "-", "no time: '-'");
	fmt_time_or(INT64_MIN, "none", buf);
	T_STR(buf, "none", "no time: 'none'");
	T_INT(fmt_time_or(1682348507940047LL, "-", buf), 24, "a time: its length");
	T_STR(buf, "2023-04-24T15:01:47.940Z", "a time: as fmt_time_ms");
	fmt_time_or(INT64_MIN + 1, "-", buf);
	T_STR(buf, tm_(INT64_MIN + 1), "the earliest time is a time");
}

static void test_double(void)
{
	T_STR(dbl(0.1), "0.1", "0.1");
	T_STR(dbl(86540.3), "86540.3", "86540.3");
	T_STR(dbl(1853.55), "1853.55", "1853.55");
	T_STR(dbl(98528.66344819), "98528.66344819", "98528.66344819");
	T_STR(dbl(0.00012), "0.00012", "0.00012");
	T_STR(dbl(100), "100", "100 (fixed notation, not 1e+02)");
	T_STR(dbl(83800), "83800", "83800");
	T_STR(dbl(1e22), "1e+22", "1e22");
	T_STR(dbl(1e15), "1e+15", "1e15");
	T_STR(dbl(123456789012345.0), "123456789012345", "15 integer digits");
	T_STR(dbl(0.0), "0", "0");
	T_STR(dbl(-0.0), "-0", "-0");
	T_STR(dbl(-1853.55), "-1853.55", "negative");
	T_STR(dbl(0.1 + 0.2), "0.30000000000000004", "0.1+0.2 needs 17 digits");
	T_STR(dbl(1.0 / 3), "0.3333333333333333", "1/3 needs 16 digits");
	T_STR(dbl(5e-324), "5e-324", "smallest subnormal (slow path)");
	T_STR(dbl(1e-310), "1e-310", "subnormal 1e-310");
	T_STR(dbl(DBL_MAX), "1.7976931348623157e+308", "DBL_MAX");
	T_STR(dbl(DBL_MIN), "2.2250738585072014e-308", "DBL_MIN");
	T_STR(dbl(1e-5), "1e-05", "1e-5");
	T_STR(dbl(NAN), "NaN", "NaN");
	T_STR(dbl(-NAN), "NaN", "-NaN");
	T_STR(dbl(INFINITY), "Infinity", "inf");
	T_STR(dbl(-INFINITY), "-Infinity", "-inf");
	T_OK(strlen(dbl(-DBL_MIN / 3)) < FMT_BUF, "longest form fits FMT_BUF");

	char why[160] = "";
	int bad = 0;
	/* random bit patterns: every exponent, subnormals included */
	for (int i = 0; i < 200000; i++) {
		uint64_t bits = next();
		double v;
		memcpy(&v, &bits, sizeof v);
		if (!isfinite(v))
			continue;
		if (check_double(v, why, sizeof why) != 0 && !bad++)
			T_OK(0, "first bad double: %s", why);
	}
	T_OK(bad == 0, "200000 random bit patterns round-trip with minimal digits (%d bad)", bad);
	/* price-like values: k / 10^d, the shape the feed produces */
	bad = 0;
	for (int i = 0; i < 200000; i++) {
		uint64_t r = next();
		double v = (double)(r % 100000000000ULL) / pow(10, (double)((r >> 60) % 12));
		if (check_double(v, why, sizeof why) != 0 && !bad++)
			T_OK(0, "first bad price: %s", why);
	}
	T_OK(bad == 0, "200000 price-like values round-trip with minimal digits (%d bad)", bad);
	/* neighbours of powers of two, where the rounding interval is lopsided */
	bad = 0;
	for (int e = -1074; e <= 1023; e++) {
		double p = ldexp(1.0, e);
		double vs[3] = { p, nextafter(p, 0), nextafter(p, INFINITY) };
		for (int k = 0; k < 3; k++)
			if (isfinite(vs[k]) && check_double(vs[k], why, sizeof why) != 0 && !bad++)
				T_OK(0, "first bad power of two: %s", why);
	}
	T_OK(bad == 0, "powers of two and neighbours (%d bad)", bad);
	/* subnormals use the slow path: check a band of them */
	bad = 0;
	for (int i = 0; i < 2000; i++) {
		double v = ldexp((double)(next() % 4096 + 1), -1074);
		if (check_double(v, why, sizeof why) != 0 && !bad++)
			T_OK(0, "first bad subnormal: %s", why);
	}
	T_OK(bad == 0, "small subnormals (%d bad)", bad);
}

/* s with control characters shown as \xNN, so a TAP line stays one line. */
static const char *vis(const char *s)
{
	static char b[256];
	size_t o = 0;
	for (; *s && o < sizeof b - 5; s++) {
		if ((unsigned char)*s < 0x20)
			o += (size_t)snprintf(b + o, sizeof b - o, "\\x%02x", (unsigned char)*s);
		else
			b[o++] = *s;
	}
	b[o] = '\0';
	return b;
}

static int64_t dur(const char *s)
{
	int64_t us = -42;
	if (duration_parse(s, &us) != 0)
		return -1;
	return us;
}

static void test_duration(void)
{
	T_INT(dur("90s"), 90000000LL, "90s");
	T_INT(dur("2m"), 120000000LL, "2m");
	T_INT(dur("1h"), 3600000000LL, "1h");
	T_INT(dur("500ms"), 500000LL, "500ms");
	T_INT(dur("1d"), 86400000000LL, "1d");
	T_INT(dur("1w"), 604800000000LL, "1w");
	T_INT(dur("250us"), 250LL, "250us");
	T_INT(dur("2 minutes"), 120000000LL, "2 minutes");
	T_INT(dur("10 minutes"), 600000000LL, "10 minutes");
	T_INT(dur("1 minute"), 60000000LL, "1 minute");
	T_INT(dur("30 seconds"), 30000000LL, "30 seconds");
	T_INT(dur("1 second"), 1000000LL, "1 second");
	T_INT(dur("1 hour"), 3600000000LL, "1 hour");
	T_INT(dur("2 hours"), 7200000000LL, "2 hours");
	T_INT(dur("1 day"), 86400000000LL, "1 day");
	T_INT(dur("1 week"), 604800000000LL, "1 week");
	T_INT(dur("100 milliseconds"), 100000LL, "100 milliseconds");
	T_INT(dur("10 Minutes"), 600000000LL, "case-insensitive unit");
	T_INT(dur("5 MIN"), 300000000LL, "5 MIN");
	T_INT(dur("1.5s"), 1500000LL, "1.5s");
	T_INT(dur("0.5 hours"), 1800000000LL, "0.5 hours");
	T_INT(dur("1.5 m"), 90000000LL, "1.5 m");
	T_INT(dur("0.001ms"), 1LL, "0.001ms = 1us");
	T_INT(dur("1.000000000000000000000000s"), 1000000LL, "long zero fraction");
	T_INT(dur("1h30m"), 5400000000LL, "1h30m");
	T_INT(dur("1 hour 30 minutes"), 5400000000LL, "1 hour 30 minutes");
	T_INT(dur("  5s  "), 5000000LL, "surrounding blanks");
	T_INT(dur("\t5 s"), 5000000LL, "tab, blank before unit");
	T_INT(dur("0s"), 0, "zero is returned (callers validate)");
	T_INT(dur("0 seconds"), 0, "0 seconds");
	T_INT(dur("007s"), 7000000LL, "leading zeros");
	T_INT(dur("106751991d"), 106751991LL * 86400000000LL, "largest whole-day value");

	static const char *const bad[] = { "", "   ", "90", "s", "ms", "-1s", "+1s", "-0s",
		"1.s", ".5s", "1..5s", "1x", "1 lightyear", "1 month", "1y", "1e3s", "0.5us",
		"1.0000001s", "1.0000000000000000001s", "9223372036854775807s",
		"106751992d", "99999999999999999999999s", "1s,2s", "1 s s", "1m1", "1s 2",
		"1_000s", "1 000s", "1\n s", "10 minutes ago", "interval 10 minutes",
		"１s", "1ｓ", "NaNs", "infs" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t us = 42;
		T_OK(duration_parse(bad[i], &us) == -1 && us == 42, "duration rejected: '%s'",
		     vis(bad[i]));
	}
	int64_t us = 42;
	T_OK(duration_parse(NULL, &us) == -1 && us == 42, "NULL duration rejected");
}

int main(void)
{
	test_time();
	test_time_or();
	test_double();
	test_duration();
	return t_done();
}

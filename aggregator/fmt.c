/*
 * fmt.c - the text forms of output.csv (timestamps, doubles) and the parser
 * for duration options ("10 minutes", "90s").
 */
#include "fmt.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "floordiv.h"

/* Days since 1970-01-01 -> proleptic Gregorian y/m/d (Howard Hinnant's
 * civil_from_days: exact over the whole int64 microsecond range, no TZ). */
static void fm_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Contract: see fmt.h.  Every int64 input is valid, including negative
 * (pre-1970) values; years outside 0..9999 are printed with as many digits
 * as they need (and a '-' sign), which still fits FMT_BUF. */
size_t fmt_time_ms(int64_t us, char buf[FMT_BUF])
{
	int64_t ms = floor_div(us, 1000);
	int64_t days = floor_div(ms, 86400000);
	int64_t rem = ms - days * 86400000; /* 0 .. 86399999 */
	int64_t y;
	int m, d, n;

	fm_civil_from_days(days, &y, &m, &d);
	n = snprintf(buf, FMT_BUF, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
	             (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
	             (int)(rem % 1000));
	return n < 0 ? 0 : (size_t)n;
}

/* True when buf reads back (strtod) to exactly the bits of v. */
static int fm_roundtrips(const char *buf, double v)
{
	double back = strtod(buf, NULL);
	return memcmp(&back, &v, sizeof v) == 0;
}

/* Contract: see fmt.h.  The digit count is that of the first precision
 * 1..17 whose "%.*g" reads back to exactly v (bit for bit, so "-0" stays
 * "-0"); the notation is %g's at precision 15 (or 16/17 when needed): fixed
 * for decimal exponents -5 < e < 15, so 100 prints as "100", not "1e+02".
 *
 * Why "%.15g" first is enough for normal numbers: a decimal of <= 15
 * significant digits that reads back to v is, padded with zeros, a 15-digit
 * decimal within half an ulp of v.  15-digit decimals are spaced more than
 * four ulps apart (relative spacing >= 1e-15 > 2^-52), so it is the one the
 * correctly rounded "%.15g" prints, and %g strips the padding zeros.  When
 * "%.15g" does not read back, nothing shorter does, and 16 then 17 digits
 * (always exact) are tried exactly as a linear scan would.  Subnormals have
 * fewer significant bits, so the argument fails there ("5e-324" would come
 * out as "4.94065645841247e-324"): they take the linear scan from 1.
 * Cost: one snprintf + strtod for typical prices.  Requires LC_NUMERIC "C"
 * (the program never calls setlocale). */
size_t fmt_double(double v, char buf[FMT_BUF])
{
	int n, p;

	if (isnan(v)) {
		memcpy(buf, "NaN", 4);
		return 3;
	}
	if (isinf(v)) {
		const char *s = v > 0 ? "Infinity" : "-Infinity";
		size_t len = strlen(s);
		memcpy(buf, s, len + 1);
		return len;
	}
	p = (v != 0 && fabs(v) < DBL_MIN) ? 1 : 15;
	n = snprintf(buf, FMT_BUF, "%.*g", p, v);
	while (p < 17 && !fm_roundtrips(buf, v))
		n = snprintf(buf, FMT_BUF, "%.*g", ++p, v);
	return n < 0 ? 0 : (size_t)n;
}

struct fm_unit {
	const char *name;
	int64_t us;
};

/* Unit spellings, matched case-insensitively and whole-word.  Spark's
 * interval strings use the long forms ("10 minutes"); the short ones are for
 * command lines.  "m" is minutes (as in Spark/Go), never months. */
static const struct fm_unit fm_units[] = {
	{ "us", 1 }, { "microsecond", 1 }, { "microseconds", 1 },
	{ "ms", 1000 }, { "millisecond", 1000 }, { "milliseconds", 1000 },
	{ "s", 1000000 }, { "sec", 1000000 }, { "secs", 1000000 },
	{ "second", 1000000 }, { "seconds", 1000000 },
	{ "m", 60000000 }, { "min", 60000000 }, { "mins", 60000000 },
	{ "minute", 60000000 }, { "minutes", 60000000 },
	{ "h", 3600000000LL }, { "hour", 3600000000LL }, { "hours", 3600000000LL },
	{ "d", 86400000000LL }, { "day", 86400000000LL }, { "days", 86400000000LL },
	{ "w", 604800000000LL }, { "week", 604800000000LL }, { "weeks", 604800000000LL },
};

static int64_t fm_gcd(int64_t a, int64_t b)
{
	while (b) {
		int64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static int fm_is_space(char c)
{
	return c == ' ' || c == '\t';
}

static int fm_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Looks up s[0..n) in fm_units; returns the unit in microseconds or 0. */
static int64_t fm_unit(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof fm_units / sizeof fm_units[0]; i++) {
		const char *u = fm_units[i].name;
		size_t k;
		if (strlen(u) != n)
			continue;
		for (k = 0; k < n; k++) {
			char c = s[k];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c != u[k])
				break;
		}
		if (k == n)
			return fm_units[i].us;
	}
	return 0;
}

/* Contract: see fmt.h.  Grammar: optional blanks, then one or more terms
 * "<number>[blanks]<unit>" separated by optional blanks, then optional
 * blanks; the terms add up ("1h 30m", "1 hour 30 minutes").  <number> is
 * digits with an optional fraction ("1.5s", "0.25h"); the result must be a
 * whole number of microseconds ("0.5us" is rejected).  Rejected: NULL,
 * empty, a sign (no negative durations), a bare number without a unit
 * (ambiguous), unknown units, overflow of int64 microseconds.  Zero ("0s")
 * is returned as 0: whether zero makes sense (a watermark delay may be 0, a
 * window length may not) is the caller's check.  *us is written only on
 * success. */
int fmt_parse_duration(const char *s, int64_t *us)
{
	int64_t total = 0;
	int terms = 0;

	if (!s)
		return -1;
	for (;;) {
		int64_t ip = 0, fp = 0, fscale = 1, unit, v;
		size_t k;
		int digits = 0;

		while (fm_is_space(*s))
			s++;
		if (*s == '\0')
			break;
		while (*s >= '0' && *s <= '9') {
			if (ip > (INT64_MAX - 9) / 10)
				return -1;
			ip = ip * 10 + (*s++ - '0');
			digits++;
		}
		if (digits == 0)
			return -1;
		if (*s == '.') {
			int fd = 0;
			s++;
			while (*s >= '0' && *s <= '9') {
				/* 18 digits keep fscale within int64; any further
				 * digit must be 0 (it could not give a whole us). */
				if (fd < 18) {
					fp = fp * 10 + (*s - '0');
					fscale *= 10;
				} else if (*s != '0') {
					return -1;
				}
				fd++;
				s++;
			}
			if (fd == 0)
				return -1; /* "1.s" */
		}
		while (fm_is_space(*s))
			s++;
		for (k = 0; fm_is_alpha(s[k]); k++)
			;
		if (k == 0 || (unit = fm_unit(s, k)) == 0)
			return -1;
		s += k;
		if (ip > INT64_MAX / unit)
			return -1;
		v = ip * unit;
		if (fp) {
			/* fp / fscale * unit must be a whole number of us.  With
			 * g = gcd(unit, fscale) that is: fscale/g divides fp; then
			 * the value is (fp / (fscale/g)) * (unit/g) < unit, computed
			 * without an intermediate that could overflow. */
			int64_t g = fm_gcd(unit, fscale);
			if (fp % (fscale / g) != 0)
				return -1; /* not a whole microsecond ("0.5us") */
			int64_t f = fp / (fscale / g) * (unit / g);
			if (v > INT64_MAX - f)
				return -1;
			v += f;
		}
		if (v > INT64_MAX - total)
			return -1;
		total += v;
		terms++;
	}
	if (terms == 0)
		return -1;
	*us = total;
	return 0;
}

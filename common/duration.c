/*
 * duration.c - see duration.h.
 */
#include "duration.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct dur_unit {
	const char *name;
	int64_t us;
};

/* Unit spellings, matched case-insensitively and whole-word.  Spark's
 * interval strings use the long forms ("10 minutes"); the short ones are for
 * command lines.  "m" is minutes (as in Spark/Go), never months. */
static const struct dur_unit dur_units[] = {
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

static int64_t dur_gcd(int64_t a, int64_t b)
{
	while (b) {
		int64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static int dur_is_space(char c)
{
	return c == ' ' || c == '\t';
}

static int dur_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Looks up s[0..n) in dur_units; returns the unit in microseconds or 0. */
static int64_t dur_unit(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof dur_units / sizeof dur_units[0]; i++) {
		const char *u = dur_units[i].name;
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
			return dur_units[i].us;
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
int duration_parse(const char *s, int64_t *us)
{
	int64_t total = 0;
	int terms = 0;

	if (!s)
		return -1;
	for (;;) {
		int64_t ip = 0, fp = 0, fscale = 1, unit, v;
		size_t k;
		int digits = 0;

		while (dur_is_space(*s))
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
		while (dur_is_space(*s))
			s++;
		for (k = 0; dur_is_alpha(s[k]); k++)
			;
		if (k == 0 || (unit = dur_unit(s, k)) == 0)
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
			int64_t g = dur_gcd(unit, fscale);
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

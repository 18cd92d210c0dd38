/*
 * fmt.c - the text forms of output.csv: timestamps and doubles.
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

/* Contract: see fmt.h. */
size_t fmt_time_or(int64_t us, const char *none, char buf[FMT_BUF])
{
	int n;

	if (us != INT64_MIN)
		return fmt_time_ms(us, buf);
	n = snprintf(buf, FMT_BUF, "%s", none);
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

void fmt_json_str(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			putc(c, f);
	}
}

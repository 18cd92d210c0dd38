/*
 * tick.c - parse one raw Coinbase ticker message against the schema the
 * aggregator needs, rejecting anything else with a short, specific reason.
 *
 * Decisions (the places where the feed's format leaves room):
 *  - Duplicate object keys are rejected (JSON_REJECT_DUPLICATES): with two
 *    "price" keys there is no right answer, and parsers disagree on which wins.
 *  - The top level may decode as any JSON value (JSON_DECODE_ANY) so that a
 *    string or number gets the same "not an object (string)" reason an array
 *    does, instead of jansson's lexer message.
 *  - Decimal fields accept a JSON string holding a decimal, or a JSON number.
 *    The string grammar is exactly JSON's number grammar:
 *        -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
 *    so ".5", "5.", "+5", "007", " 5", "0x1p3", "NaN", "inf" are all rejected.
 *    The feed only ever sends the JSON-number shape, and one grammar for both
 *    spellings means a value is valid or not regardless of whether it was
 *    quoted.  Strings longer than TK_DEC_MAX bytes are rejected before strtod.
 *  - Overflow ("1e999") is "not finite"; underflow ("1e-999") rounds to 0 and
 *    then meets the field's range check (price must be > 0).  -0 is stored as
 *    +0 for the >= 0 fields so it never prints as "-0" downstream.
 *  - best_bid > best_ask is accepted: crossed books do occur on the feed.
 *  - sequence is optional (-1 when absent) but, when present, must be a
 *    non-negative JSON integer; null or any other type is rejected.
 *  - trade_id is read for the producer's gap check, never validated: its
 *    value when it is a JSON integer >= 0, else (absent, any other type) -1.
 *  - last_size (the trade's size: volume, vwap) is optional: absent, the tick
 *    adds no volume (0); present, it is a decimal >= 0 like volume_24h, and
 *    anything else (null too) is rejected: a size that is there but unreadable
 *    would make the volume silently wrong.
 *  - side is never validated: "buy" or "sell" (the taker's side), anything
 *    else (absent, another string or type) is TICK_SIDE_NONE, in neither the
 *    buy nor the sell volume.
 *  - Fields not listed here (best_bid_size, open_24h, ...) are ignored.
 *  - Timestamps: see tick_parse_time below.
 *
 * Quoted input in a reason is sanitised (printable ASCII only, \xNN escapes,
 * cut at TK_QUOTE_MAX bytes) so a hostile message cannot put newlines or
 * terminal escapes into the log line that carries the reason.
 */
#include "tick.h"
#include "tick_int.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TK_QUOTE_MAX 40 /* input bytes echoed in a reason before "..." */

/* Writes a formatted reason into err (if the caller gave one) and returns -1,
 * so failure paths read "return tk_fail(...)". */

int tick_product_id_ok(const char *s, size_t n)
{
	if (n == 0 || n >= TICK_PRODUCT_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

int tick_topic_is_product(const char *topic)
{
	size_t n = strlen(topic), dashes = 0;

	if (!tick_product_id_ok(topic, n) || topic[0] == '-' || topic[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (topic[i] >= 'a' && topic[i] <= 'z')
			return 0;
		dashes += topic[i] == '-';
	}
	return dashes == 1;
}

static int tk_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int tk_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Copies at most max bytes of s[0..n) into dst as printable ASCII, escaping
 * everything else as \xNN (and '"', '\\' too when quoted: the text goes
 * between quotes), adding "..." when cut.  dst must hold max * 4 + 4 bytes. */
static void tk_sanitize(char *dst, const char *s, size_t n, size_t max, int quoted)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && !(quoted && (c == '"' || c == '\\'))) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	if (i < n) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}
#define TK_QUOTE_BUF (TK_QUOTE_MAX * 4 + 4)

/* An input value echoed inside "..." in a reason. */
static void tk_quote(char *dst, const char *s, size_t n)
{
	tk_sanitize(dst, s, n, TK_QUOTE_MAX, 1);
}

static const char *tk_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:  return "object";
	case JSON_ARRAY:   return "array";
	case JSON_STRING:  return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL:    return "real";
	case JSON_TRUE:
	case JSON_FALSE:   return "boolean";
	case JSON_NULL:    return "null";
	}
	return "unknown";
}

/* Looks up a required field; on failure writes "missing field X" or "field X is
 * null" and returns NULL, so callers only deal with present, non-null values. */
static const json_t *tk_field(const json_t *root, const char *name, char *err, size_t errlen)
{
	const json_t *v = json_object_get(root, name);

	if (!v) {
		tk_fail(err, errlen, "missing field %s", name);
		return NULL;
	}
	if (json_is_null(v)) {
		tk_fail(err, errlen, "field %s is null", name);
		return NULL;
	}
	return v;
}

/* True when s[0..n) matches JSON's number grammar (see the header comment). */
int tk_decimal_ok(const char *s, size_t n)
{
	size_t i = 0, start;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n)
		return 0;
	if (s[i] == '0') {
		i++;
	} else if (s[i] >= '1' && s[i] <= '9') {
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	} else {
		return 0;
	}
	if (i < n && s[i] == '.') {
		start = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return 0;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		start = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return 0;
	}
	return i == n;
}

/* Reads a decimal field (string or number). positive: the value must be > 0,
 * otherwise >= 0. Returns 0 with *out set, or -1 with a reason. */
static int tk_decimal(const json_t *root, const char *name, int positive, double *out,
                      char *err, size_t errlen)
{
	const json_t *v = tk_field(root, name, err, errlen);
	double x;

	if (!v)
		return -1;
	switch (json_typeof(v)) {
	case JSON_STRING: {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		char *end;
		char q[TK_QUOTE_BUF];

		if (n > TK_DEC_MAX)
			return tk_fail(err, errlen, "field %s: decimal too long (%zu bytes)", name, n);
		if (!tk_decimal_ok(s, n)) {
			tk_quote(q, s, n);
			return tk_fail(err, errlen, "field %s: not a decimal \"%s\"", name, q);
		}
		/* jansson NUL-terminates and (without JSON_ALLOW_NUL) never embeds a
		 * NUL, so strtod stops at s + n.  If it stops earlier the process is
		 * running under a locale with another decimal point: fail loudly. */
		x = strtod(s, &end);
		if (end != s + n) {
			tk_quote(q, s, n);
			return tk_fail(err, errlen, "field %s: not a decimal \"%s\" (locale?)", name, q);
		}
		break;
	}
	case JSON_INTEGER:
		x = (double)json_integer_value(v);
		break;
	case JSON_REAL:
		x = json_real_value(v);
		break;
	default:
		return tk_fail(err, errlen, "field %s: wrong type (%s)", name, tk_type_name(v));
	}
	if (!isfinite(x))
		return tk_fail(err, errlen, "field %s: not finite", name);
	if (x > TICK_DECIMAL_MAX)
		return tk_fail(err, errlen, "field %s: too large (over %g: a window's sum could overflow)", name,
		               TICK_DECIMAL_MAX);
	if (positive && !(x > 0))
		return tk_fail(err, errlen, "field %s: must be > 0", name);
	if (!positive && x < 0)
		return tk_fail(err, errlen, "field %s: must be >= 0", name);
	*out = x == 0 ? 0.0 : x; /* -0 -> +0 */
	return 0;
}

/* The side a string s[0..n) names (both parsers). */
int64_t tk_side_of(const char *s, size_t n)
{
	return n == 3 && !memcmp(s, "buy", 3) ? TICK_SIDE_BUY : n == 4 && !memcmp(s, "sell", 4) ? TICK_SIDE_SELL
	                                                                                   : TICK_SIDE_NONE;
}

/* The feed's "side" (NULL: absent); not a string, no side. */
static int64_t tk_side(const json_t *v)
{
	return json_is_string(v) ? tk_side_of(json_string_value(v), json_string_length(v)) : TICK_SIDE_NONE;
}

/* Validates every field into *t; root is a JSON object. */
static int tk_fields(const json_t *root, struct tick *t, char *err, size_t errlen)
{
	const json_t *v;
	const char *s;
	size_t n;
	char q[TK_QUOTE_BUF];

	/* type first: a heartbeat should be reported as a heartbeat, not as a
	 * ticker missing its price. */
	if (!(v = tk_field(root, "type", err, errlen)))
		return -1;
	if (!json_is_string(v))
		return tk_fail(err, errlen, "field type: wrong type (%s)", tk_type_name(v));
	s = json_string_value(v);
	n = json_string_length(v);
	if (n != 6 || memcmp(s, "ticker", 6) != 0) {
		tk_quote(q, s, n);
		return tk_fail(err, errlen, "type is \"%s\", not ticker", q);
	}

	if (!(v = tk_field(root, "product_id", err, errlen)))
		return -1;
	if (!json_is_string(v))
		return tk_fail(err, errlen, "field product_id: wrong type (%s)", tk_type_name(v));
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0)
		return tk_fail(err, errlen, "field product_id: empty");
	if (n >= TICK_PRODUCT_MAX)
		return tk_fail(err, errlen, "field product_id: too long (%zu bytes)", n);
	if (!tick_product_id_ok(s, n)) {
		tk_quote(q, s, n);
		return tk_fail(err, errlen, "field product_id: bad character in \"%s\"", q);
	}
	memcpy(t->product_id, s, n);
	t->product_id[n] = '\0';

	if (!(v = tk_field(root, "time", err, errlen)))
		return -1;
	if (!json_is_string(v))
		return tk_fail(err, errlen, "field time: wrong type (%s)", tk_type_name(v));
	s = json_string_value(v);
	n = json_string_length(v);
	if (tick_parse_time(s, n, &t->time_us) != 0) {
		tk_quote(q, s, n);
		return tk_fail(err, errlen, "field time: bad timestamp \"%s\"", q);
	}

	if (tk_decimal(root, "price", 1, &t->price, err, errlen) ||
	    tk_decimal(root, "volume_24h", 0, &t->volume_24h, err, errlen) ||
	    tk_decimal(root, "best_bid", 0, &t->best_bid, err, errlen) ||
	    tk_decimal(root, "best_ask", 0, &t->best_ask, err, errlen))
		return -1;

	v = json_object_get(root, "sequence");
	if (!v) {
		t->sequence = -1;
	} else if (json_is_null(v)) {
		return tk_fail(err, errlen, "field sequence is null");
	} else if (!json_is_integer(v)) {
		return tk_fail(err, errlen, "field sequence: wrong type (%s)", tk_type_name(v));
	} else if (json_integer_value(v) < 0) {
		return tk_fail(err, errlen, "field sequence: must be >= 0");
	} else {
		t->sequence = (int64_t)json_integer_value(v);
	}
	v = json_object_get(root, "trade_id");
	t->trade_id = json_is_integer(v) && json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -1;
	t->last_size = 0;
	if (json_object_get(root, "last_size") && tk_decimal(root, "last_size", 0, &t->last_size, err, errlen))
		return -1;
	t->side = tk_side(json_object_get(root, "side"));
	return 0;
}

/* The reference parser: jansson, then the schema. */
int tick_parse_json(const char *buf, size_t len, struct tick *t, char *err, size_t errlen)
{
	json_t *root;
	json_error_t jerr;
	struct tick tmp;
	int rc;

	if (len > TICK_MAX_BYTES)
		return tk_fail(err, errlen, "message too large (%zu bytes)", len);
	if (len == 0 || !buf)
		return tk_fail(err, errlen, "empty message");

	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root) {
		/* jansson's text quotes the offending input ("near '...'"),
		 * so it is sanitised like any echoed value. */
		char q[JSON_ERROR_TEXT_LENGTH * 4 + 4];
		tk_sanitize(q, jerr.text, strnlen(jerr.text, sizeof jerr.text),
		            JSON_ERROR_TEXT_LENGTH, 0);
		return tk_fail(err, errlen, "not JSON: %s at line %d col %d", q, jerr.line,
		               jerr.column);
	}
	if (!json_is_object(root))
		rc = tk_fail(err, errlen, "not an object (%s)", tk_type_name(root));
	else
		rc = tk_fields(root, &tmp, err, errlen);
	json_decref(root);
	if (rc == 0)
		*t = tmp;
	return rc;
}

/* Two ASCII digits at s -> *v; 0 on success. */
static int tk_2digits(const char *s, int *v)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	*v = (s[0] - '0') * 10 + (s[1] - '0');
	return 0;
}

static int tk_is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil; exact for every year, no tables, no TZ). */
static int64_t tk_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Contract: see tick.h.  Accepted form (RFC 3339 profile of ISO 8601):
 *     YYYY-MM-DD('T'|'t')HH:MM:SS[.F{1,9}]('Z'|'z'|('+'|'-')HH:MM)
 * Decisions: lowercase 't'/'z' are accepted because RFC 3339 allows them and
 * they are unambiguous; year must be 1970..9999 (as written, before the
 * offset is applied, so "1970-01-01T00:30:00+01:00" yields a negative value);
 * a leap second (:60) is rejected (the feed never sends one and clamping
 * would reorder events); offsets are limited to hours <= 23, minutes <= 59,
 * and "-00:00" is read as UTC.  Fraction digits beyond microseconds are
 * truncated, not rounded (an event never moves into the next window).
 * s need not be NUL-terminated; *us is written only on success. */
int tick_parse_time(const char *s, size_t len, int64_t *us)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, yl, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0, dim;
	int64_t frac = 0, secs;
	size_t i;

	/* Shortest valid form is "YYYY-MM-DDTHH:MM:SSZ" (20 bytes). */
	if (!s || len < 20)
		return -1;
	if (tk_2digits(s, &y) || tk_2digits(s + 2, &yl) || s[4] != '-' ||
	    tk_2digits(s + 5, &mo) || s[7] != '-' || tk_2digits(s + 8, &d) ||
	    (s[10] != 'T' && s[10] != 't') || tk_2digits(s + 11, &h) || s[13] != ':' ||
	    tk_2digits(s + 14, &mi) || s[16] != ':' || tk_2digits(s + 17, &sec))
		return -1;
	y = y * 100 + yl;
	if (y < 1970 || mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59)
		return -1;
	dim = mdays[mo - 1] + (mo == 2 && tk_is_leap(y));
	if (d < 1 || d > dim)
		return -1;

	i = 19;
	if (s[i] == '.') {
		size_t start = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (i - start < 6)
				frac = frac * 10 + (s[i] - '0');
			i++;
		}
		if (i == start || i - start > 9)
			return -1;
		for (size_t k = i - start; k < 6; k++)
			frac *= 10;
	}
	if (i >= len)
		return -1; /* no zone: local time is ambiguous */
	if (s[i] == 'Z' || s[i] == 'z') {
		i++;
	} else if (s[i] == '+' || s[i] == '-') {
		sign = s[i] == '+' ? 1 : -1;
		if (len - i < 6 || tk_2digits(s + i + 1, &oh) || s[i + 3] != ':' ||
		    tk_2digits(s + i + 4, &om) || oh > 23 || om > 59)
			return -1;
		i += 6;
	} else {
		return -1;
	}
	if (i != len)
		return -1; /* trailing garbage */

	secs = tk_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	secs -= sign * (oh * 3600 + om * 60); /* local = UTC + offset */
	*us = secs * 1000000 + frac;
	return 0;
}

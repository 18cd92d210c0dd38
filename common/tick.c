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

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TK_DEC_MAX   64 /* longest decimal string accepted; the feed uses < 25 */
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
static int tk_decimal_ok(const char *s, size_t n)
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
static int64_t tk_side_of(const char *s, size_t n)
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

/* Contract: see tick.h.  buf need not be NUL-terminated; NULL is allowed only
 * with len 0.  On success *t is fully written and err is untouched; on failure
 * *t is untouched and err (if non-NULL, errlen > 0) holds a NUL-terminated
 * one-line reason.  Thread-safe: no shared state beyond jansson's allocator. */
int tick_parse(const char *buf, size_t len, struct tick *t, char *err, size_t errlen)
{
	if (len <= TICK_MAX_BYTES && buf && tick_parse_fast(buf, len, t) == 0)
		return 0;
	return tick_parse_json(buf, len, t, err, errlen);
}

/* The fast path.  The feed's ticker messages are flat objects whose values are
 * escape-free ASCII strings and small integers; jansson spends ~6 us on one
 * (a byte-at-a-time lexer, a hash table and a malloc per value), which alone
 * capped the aggregator near 140k ticks/s.  This scanner reads such a message
 * in one pass and takes the values with the same conversions tk_fields uses.
 * It accepts a strict subset of what tick_parse_json accepts and DECLINES
 * (returns 0) on anything else - a backslash, a control or non-ASCII byte, a
 * nested value, a literal, a fraction or exponent outside quotes, a long
 * integer, more than TK_FAST_KEYS keys, and every message tk_fields would
 * reject - so every reason, and every unusual message, still comes from
 * jansson.  tests/unit/test_tick.c and `make fuzz` check that whenever it
 * accepts, the result equals tick_parse_json's. */
#define TK_FAST_KEYS 48
#define TK_FAST_INT_DIGITS 18 /* < 2^63: never jansson's "too big integer" */

enum { TK_F_TYPE, TK_F_PRODUCT, TK_F_TIME, TK_F_PRICE, TK_F_VOLUME, TK_F_BID,
       TK_F_ASK, TK_F_SEQUENCE, TK_F_TRADE, TK_F_SIZE, TK_F_SIDE, TK_F_COUNT };

struct tk_val {
	const char *s; /* string contents (between the quotes) or integer digits */
	size_t n;
	int quoted;
};

static int tk_fast_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The field a key names, or -1 for keys the aggregator ignores. */
static int tk_fast_field(const char *k, size_t n)
{
	switch (n) {
	case 4:
		if (memcmp(k, "type", 4) == 0) return TK_F_TYPE;
		if (memcmp(k, "time", 4) == 0) return TK_F_TIME;
		if (memcmp(k, "side", 4) == 0) return TK_F_SIDE;
		break;
	case 5:
		if (memcmp(k, "price", 5) == 0) return TK_F_PRICE;
		break;
	case 9:
		if (memcmp(k, "last_size", 9) == 0) return TK_F_SIZE;
		break;
	case 8:
		if (memcmp(k, "best_bid", 8) == 0) return TK_F_BID;
		if (memcmp(k, "best_ask", 8) == 0) return TK_F_ASK;
		if (memcmp(k, "sequence", 8) == 0) return TK_F_SEQUENCE;
		if (memcmp(k, "trade_id", 8) == 0) return TK_F_TRADE;
		break;
	case 10:
		if (memcmp(k, "product_id", 10) == 0) return TK_F_PRODUCT;
		if (memcmp(k, "volume_24h", 10) == 0) return TK_F_VOLUME;
		break;
	}
	return -1;
}

/* A string at *pp (just past its opening quote) with only printable ASCII and
 * no backslash; *pp is left past the closing quote.  0, or -1 to decline. */
static int tk_fast_string(const char **pp, const char *end, struct tk_val *v)
{
	const char *p = *pp, *s = p;

	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			break;
		if (c < 0x20 || c >= 0x80 || c == '\\')
			return -1;
	}
	if (p >= end)
		return -1;
	v->s = s;
	v->n = (size_t)(p - s);
	v->quoted = 1;
	*pp = p + 1;
	return 0;
}

/* -?(0|[1-9][0-9]*) with at most TK_FAST_INT_DIGITS digits, and no fraction or
 * exponent after it.  0, or -1 to decline. */
static int tk_fast_int(const char **pp, const char *end, struct tk_val *v)
{
	const char *p = *pp, *s = p, *d;

	if (p < end && *p == '-')
		p++;
	d = p;
	if (p < end && *p == '0') {
		p++;
	} else {
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p == d || p - d > TK_FAST_INT_DIGITS)
		return -1;
	if (p < end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9')))
		return -1;
	v->s = s;
	v->n = (size_t)(p - s);
	v->quoted = 0;
	*pp = p;
	return 0;
}

/*
 * Clinger's fast path for what the feed sends ("27258.38"): digits with an
 * optional fraction, no exponent, the digits as an integer m <= 2^53 and at
 * most 22 fraction digits f.  m and 10^f are exact doubles, so m / 10^f is
 * the correctly rounded quotient: the double strtod returns, bit for bit, at
 * a fifth of the cost.  s[0..n) passed tk_decimal_ok.  -1: use strtod.
 */
static int tk_exact_decimal(const char *s, size_t n, double *out)
{
	static const double p10[] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
	};
	const uint64_t max = UINT64_C(1) << 53;
	uint64_t m = 0;
	size_t i = s[0] == '-';
	int frac = -1;
	double x;

	for (; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			frac = 0;
			continue;
		}
		if (c < '0' || c > '9' || m > (max - 9) / 10)
			return -1; /* an exponent, or too many digits */
		m = m * 10 + (uint64_t)(c - '0');
		frac += frac >= 0;
	}
	if (frac > 22)
		return -1;
	x = (double)m;
	if (frac > 0)
		x /= p10[frac];
	*out = s[0] == '-' ? -x : x;
	return 0;
}

/* A decimal field the way tk_decimal reads a JSON string; -1 to decline. */
static int tk_fast_decimal(const struct tk_val *v, int positive, double *out)
{
	char *end;
	double x;

	if (!v->s || !v->quoted || v->n > TK_DEC_MAX || !tk_decimal_ok(v->s, v->n))
		return -1;
	/* The closing quote follows the digits, so strtod stops at s + n. */
	if (tk_exact_decimal(v->s, v->n, &x))
		x = strtod(v->s, &end);
	else
		end = (char *)v->s + v->n;
	if (end != v->s + v->n || !isfinite(x) || x > TICK_DECIMAL_MAX)
		return -1;
	if (positive ? !(x > 0) : x < 0)
		return -1;
	*out = x == 0 ? 0.0 : x;
	return 0;
}

/* An optional integer field: -1 when absent or (neg_ok) negative; returns -1
 * (declines) on a string, or on a negative number unless neg_ok. */
static int tk_fast_count(const struct tk_val *v, int neg_ok, int64_t *out)
{
	int64_t x = 0;
	if (!v->s || (neg_ok && !v->quoted && v->s[0] == '-')) {
		*out = -1;
		return 0;
	}
	if (v->quoted || v->s[0] == '-')
		return -1;
	for (size_t i = 0; i < v->n; i++)
		x = x * 10 + (v->s[i] - '0');
	*out = x;
	return 0;
}

/* tick_parse_fast, and with decimals 0 tick_parse_head: 1 parsed, 0 declined.
 * It stays one function of ~95 lines on purpose: it is the hot path (one
 * pass over the bytes, each key's value taken where it stands, every
 * decline a plain `return 0` to the jansson reference), and read top to
 * bottom it is the grammar it accepts; split, the state of the scan would
 * travel through pointers for no one else's use. */
static int tk_fast(const char *buf, size_t len, struct tick *t, int decimals)
{
	const char *p = buf, *end = buf + len;
	struct tk_val f[TK_F_COUNT] = { { 0 } };
	const char *keys[TK_FAST_KEYS];
	size_t klen[TK_FAST_KEYS];
	uint64_t seen = 0; /* bloom of (key length, first, last byte) */
	size_t nkeys = 0, i;
	struct tick tmp;

	while (p < end && tk_fast_ws(*p))
		p++;
	if (p >= end || *p++ != '{')
		return 0;
	for (;;) {
		struct tk_val k, v;
		unsigned bit;
		int id;

		while (p < end && tk_fast_ws(*p))
			p++;
		if (p >= end || *p++ != '"' || tk_fast_string(&p, end, &k) < 0)
			return 0; /* also "{}" and a trailing comma: jansson decides */
		while (p < end && tk_fast_ws(*p))
			p++;
		if (p >= end || *p++ != ':')
			return 0;
		while (p < end && tk_fast_ws(*p))
			p++;
		if (p >= end)
			return 0;
		if (*p == '"') {
			p++;
			if (tk_fast_string(&p, end, &v) < 0)
				return 0;
		} else if (tk_fast_int(&p, end, &v) < 0) {
			return 0;
		}

		/* Duplicate keys: jansson rejects them (JSON_REJECT_DUPLICATES). */
		if (nkeys == TK_FAST_KEYS)
			return 0;
		bit = (unsigned)(k.n * 31 + (k.n ? (unsigned char)k.s[0] * 7 +
		                                  (unsigned char)k.s[k.n - 1] : 0)) & 63;
		if (seen & (UINT64_C(1) << bit)) {
			for (i = 0; i < nkeys; i++)
				if (klen[i] == k.n && memcmp(keys[i], k.s, k.n) == 0)
					return 0;
		}
		seen |= UINT64_C(1) << bit;
		keys[nkeys] = k.s;
		klen[nkeys++] = k.n;
		if ((id = tk_fast_field(k.s, k.n)) >= 0)
			f[id] = v;

		while (p < end && tk_fast_ws(*p))
			p++;
		if (p >= end)
			return 0;
		if (*p == '}') {
			p++;
			break;
		}
		if (*p++ != ',')
			return 0;
	}
	while (p < end && tk_fast_ws(*p))
		p++;
	if (p != end)
		return 0;

	/* The checks of tk_fields, in any order: a failure only declines. */
	if (!f[TK_F_TYPE].quoted || f[TK_F_TYPE].n != 6 || memcmp(f[TK_F_TYPE].s, "ticker", 6) != 0)
		return 0;
	if (!f[TK_F_PRODUCT].quoted || !tick_product_id_ok(f[TK_F_PRODUCT].s, f[TK_F_PRODUCT].n))
		return 0;
	memcpy(tmp.product_id, f[TK_F_PRODUCT].s, f[TK_F_PRODUCT].n);
	tmp.product_id[f[TK_F_PRODUCT].n] = '\0';
	if (!f[TK_F_TIME].quoted || tick_parse_time(f[TK_F_TIME].s, f[TK_F_TIME].n, &tmp.time_us) != 0)
		return 0;
	tmp.last_size = 0;
	if (!decimals)
		tmp.price = tmp.volume_24h = tmp.best_bid = tmp.best_ask = 0;
	else if (tk_fast_decimal(&f[TK_F_PRICE], 1, &tmp.price) ||
		 tk_fast_decimal(&f[TK_F_VOLUME], 0, &tmp.volume_24h) ||
		 tk_fast_decimal(&f[TK_F_BID], 0, &tmp.best_bid) ||
		 tk_fast_decimal(&f[TK_F_ASK], 0, &tmp.best_ask) ||
		 (f[TK_F_SIZE].s && tk_fast_decimal(&f[TK_F_SIZE], 0, &tmp.last_size)))
		return 0;
	/* side: an integer is no side, as in tk_side */
	tmp.side = f[TK_F_SIDE].quoted ? tk_side_of(f[TK_F_SIDE].s, f[TK_F_SIDE].n) : TICK_SIDE_NONE;
	/* sequence: a string or a negative one is rejected, by jansson;
	 * trade_id: a string declines too, so the producer reports it */
	if (tk_fast_count(&f[TK_F_SEQUENCE], 0, &tmp.sequence) ||
	    tk_fast_count(&f[TK_F_TRADE], 1, &tmp.trade_id))
		return 0;
	*t = tmp;
	return 1;
}

int tick_parse_fast(const char *buf, size_t len, struct tick *t)
{
	return tk_fast(buf, len, t, 1) ? 0 : -1;
}

int tick_parse_head(const char *buf, size_t len, struct tick *t)
{
	return tk_fast(buf, len, t, 0) ? 0 : -1;
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

/*
 * tick_fast.c - the ticker parser's fast path (tick.h: tick_parse_fast,
 * tick_parse_head) and tick_parse, which tries it before the jansson
 * reference in tick.c; checked against that reference by
 * tests/unit/test_tick*.c and `make fuzz`.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tick.h"
#include "tick_int.h"

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

/* The fast path first, the jansson reference (tick.c) for the rest and for
 * every reason.  Contract: see tick.h.  buf need not be NUL-terminated; NULL is allowed only
 * with len 0.  On success *t is fully written and err is untouched; on failure
 * *t is untouched and err (if non-NULL, errlen > 0) holds a NUL-terminated
 * one-line reason.  Thread-safe: no shared state beyond jansson's allocator. */
int tick_parse(const char *buf, size_t len, struct tick *t, char *err, size_t errlen)
{
	if (len <= TICK_MAX_BYTES && buf && tick_parse_fast(buf, len, t) == 0)
		return 0;
	return tick_parse_json(buf, len, t, err, errlen);
}

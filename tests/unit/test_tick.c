/*
 * test_tick.c - tick_parse and tick_parse_time: the reference tick, every
 * rejection class (reason must name the field), documented non-errors, and
 * timestamps against values computed independently (date -u -d ... +%s, and
 * gmtime_r for the randomized check).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* gmtime_r when built outside the Makefile */
#endif
#include "harness.h"
#include "tick.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REF \
	"{\"type\":\"ticker\",\"sequence\":44321677493,\"product_id\":\"ETH-USD\"," \
	"\"price\":\"1853.55\",\"open_24h\":\"1859.82\",\"volume_24h\":\"98528.66344819\"," \
	"\"low_24h\":\"1827.35\",\"high_24h\":\"1890\",\"volume_30d\":\"3503430.97429533\"," \
	"\"best_bid\":\"1853.43\",\"best_bid_size\":\"0.79324052\",\"best_ask\":\"1853.55\"," \
	"\"best_ask_size\":\"0.19461192\",\"side\":\"buy\",\"time\":\"2023-04-24T15:01:47.940047Z\"," \
	"\"trade_id\":44592518,\"last_size\":\"0.02724408\"}"

/* The reference tick as (key, raw JSON value) pairs so a test can replace or
 * drop one field and keep the rest valid. */
static const char *const ref_kv[][2] = {
	{ "type", "\"ticker\"" },
	{ "sequence", "44321677493" },
	{ "product_id", "\"ETH-USD\"" },
	{ "price", "\"1853.55\"" },
	{ "open_24h", "\"1859.82\"" },
	{ "volume_24h", "\"98528.66344819\"" },
	{ "low_24h", "\"1827.35\"" },
	{ "high_24h", "\"1890\"" },
	{ "volume_30d", "\"3503430.97429533\"" },
	{ "best_bid", "\"1853.43\"" },
	{ "best_bid_size", "\"0.79324052\"" },
	{ "best_ask", "\"1853.55\"" },
	{ "best_ask_size", "\"0.19461192\"" },
	{ "side", "\"buy\"" },
	{ "time", "\"2023-04-24T15:01:47.940047Z\"" },
	{ "trade_id", "44592518" },
	{ "last_size", "\"0.02724408\"" },
};
#define REF_N (sizeof ref_kv / sizeof ref_kv[0])

/* The reference with field `key` set to raw JSON `val` (NULL: field removed). */
static const char *with(const char *key, const char *val)
{
	static char buf[4096];
	size_t o = 0;
	int first = 1;

	buf[o++] = '{';
	for (size_t i = 0; i < REF_N; i++) {
		const char *v = ref_kv[i][1];
		if (strcmp(ref_kv[i][0], key) == 0)
			v = val;
		if (!v)
			continue;
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\"%s\":%s", first ? "" : ",",
		                      ref_kv[i][0], v);
		first = 0;
	}
	snprintf(buf + o, sizeof buf - o, "}");
	return buf;
}

/* Parses msg from an exactly-sized heap copy (so ASan sees any read past
 * len); returns tick_parse's result, err and *t filled in. */
static int parse(const char *msg, size_t len, struct tick *t, char *err, size_t errlen)
{
	char *copy = malloc(len ? len : 1);
	int rc;
	if (len)
		memcpy(copy, msg, len);
	rc = tick_parse(copy, len, t, err, errlen);
	free(copy);
	return rc;
}

/* Expects msg to be rejected with a reason containing want, and *t untouched. */
static void reject(const char *name, const char *msg, size_t len, const char *want)
{
	struct tick t;
	char err[256] = "";
	int rc;

	memset(&t, 0x5a, sizeof t);
	rc = parse(msg, len, &t, err, sizeof err);
	T_OK(rc == -1, "%s: rejected", name);
	if (!T_OK(strstr(err, want) != NULL, "%s: reason mentions '%s'", name, want))
		printf("#   reason: %s\n", err);
	T_OK(strchr(err, '\n') == NULL, "%s: reason is one line", name);
	T_OK(((unsigned char *)&t)[0] == 0x5a && t.sequence == (int64_t)0x5a5a5a5a5a5a5a5aLL,
	     "%s: tick untouched", name);
}

static void reject_field(const char *key, const char *val, const char *want)
{
	char name[128];
	snprintf(name, sizeof name, "%s=%s", key, val ? val : "(absent)");
	const char *m = with(key, val);
	reject(name, m, strlen(m), want);
}

/* Expects msg to parse; returns the tick. */
static struct tick accept(const char *name, const char *msg)
{
	struct tick t;
	char err[256] = "";
	memset(&t, 0, sizeof t);
	if (!T_OK(parse(msg, strlen(msg), &t, err, sizeof err) == 0, "%s: accepted", name))
		printf("#   reason: %s\n", err);
	return t;
}

static int64_t pt(const char *s)
{
	int64_t us = INT64_MIN;
	if (tick_parse_time(s, strlen(s), &us) != 0)
		return INT64_MIN;
	return us;
}

static void test_reference(void)
{
	struct tick t = accept("reference tick", REF);

	T_STR(t.product_id, "ETH-USD", "ref product_id");
	T_INT(t.time_us, 1682348507940047LL, "ref time_us");
	T_OK(t.price == 1853.55, "ref price exact");
	T_OK(t.volume_24h == 98528.66344819, "ref volume_24h exact");
	T_OK(t.best_bid == 1853.43, "ref best_bid exact");
	T_OK(t.best_ask == 1853.55, "ref best_ask exact");
	T_INT(t.sequence, 44321677493LL, "ref sequence");
	T_OK(t.last_size == 0.02724408, "ref last_size exact");
	T_INT(t.side, TICK_SIDE_BUY, "ref side buy");

	/* the builder reproduces the reference byte for byte */
	T_STR(with("", NULL), REF, "builder matches reference");

	/* err may be NULL */
	T_INT(tick_parse("[]", 2, &t, NULL, 0), -1, "NULL err buffer is fine");
	char small[8];
	T_INT(tick_parse("[]", 2, &t, small, sizeof small), -1, "short err buffer");
	T_INT((int)strlen(small), 7, "short err buffer truncated, NUL-terminated");
}

static void test_reject_json(void)
{
	reject("empty", "", 0, "empty message");
	reject("NULL buffer", NULL, 0, "empty message");
	reject("not JSON", "hello", 5, "not JSON");
	reject("truncated", REF, 100, "not JSON");
	reject("garbage after object", REF " {}", strlen(REF) + 3, "not JSON");
	reject("array", "[1,2]", 5, "not an object (array)");
	reject("string", "\"ticker\"", 8, "not an object (string)");
	reject("number", "42", 2, "not an object (integer)");
	reject("null", "null", 4, "not an object (null)");
	reject("duplicate key", "{\"type\":\"ticker\",\"type\":\"ticker\"}", 33, "duplicate");
	{
		const char m[] = "{\"type\":\"ticker\",\"side\":\"\xff\"}";
		reject("invalid UTF-8", m, sizeof m - 1, "not JSON");
	}
	{
		const char m[] = "{\"type\":\"ticker\",\"side\":\"\xc0\xaf\"}"; /* overlong '/' */
		reject("overlong UTF-8", m, sizeof m - 1, "not JSON");
	}
	reject_field("side", "\"a\\u0000b\"", "not JSON");       /* NUL escape */
	reject_field("side", "\"\\ud800\"", "not JSON");          /* lone surrogate */
	reject_field("price", "1e999", "not JSON");               /* jansson: overflow */
	reject_field("sequence", "99999999999999999999", "not JSON");
	{
		/* a raw NUL byte inside the buffer (len counts it) */
		const char m[] = "{\"type\":\"tick\0er\"}";
		reject("raw NUL", m, sizeof m - 1, "not JSON");
	}
	{
		/* deep nesting: jansson caps the depth, no stack overflow */
		static char deep[20001];
		memset(deep, '[', 10000);
		memset(deep + 10000, ']', 10000);
		reject("deep nesting", deep, 20000, "not JSON");
	}
	{
		const char *m = "{\"type\":\"ticker\",\"x\":\"\x1b[31m\n\"}"; /* raw ctrl chars */
		reject("control chars", m, strlen(m), "not JSON");
	}
}

static void test_reject_size(void)
{
	size_t n = (size_t)TICK_MAX_BYTES + 1, big = 1024 * 1024 + 1;
	char *m = malloc(big);
	size_t rl = strlen(REF);
	struct tick t;
	char err[256];

	/* valid JSON padded with spaces: only the size can be the reason */
	memcpy(m, REF, rl);
	memset(m + rl, ' ', big - rl);
	T_INT(tick_parse(m, n, &t, err, sizeof err), -1, "TICK_MAX_BYTES+1 rejected");
	T_STR(err, "message too large (65537 bytes)", "size reason exact");
	T_INT(tick_parse(m, big, &t, err, sizeof err), -1, "1 MiB + 1 rejected");
	T_STR(err, "message too large (1048577 bytes)", "1 MiB reason exact");
	T_INT(tick_parse(m, TICK_MAX_BYTES, &t, err, sizeof err), 0,
	      "exactly TICK_MAX_BYTES accepted");
	free(m);
}

static void test_reject_fields(void)
{
	static const char *const required[] = { "type", "product_id", "time", "price",
		"volume_24h", "best_bid", "best_ask" };
	static const char *const decimals[] = { "price", "volume_24h", "best_bid", "best_ask" };
	char want[128];

	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		snprintf(want, sizeof want, "missing field %s", required[i]);
		reject_field(required[i], NULL, want);
		snprintf(want, sizeof want, "field %s is null", required[i]);
		reject_field(required[i], "null", want);
	}
	for (size_t i = 0; i < sizeof decimals / sizeof decimals[0]; i++) {
		const char *f = decimals[i];
		static const char *const bad[] = { "\"\"", "\"abc\"", "\"NaN\"", "\"nan\"", "\"inf\"",
			"\"-inf\"", "\"Infinity\"", "\"0x1p3\"", "\"0x10\"", "\"+-1\"", "\"+1\"",
			"\"1.2.3\"", "\" 1.5\"", "\"1.5 \"", "\"1.5\\n\"", "\".5\"", "\"5.\"", "\"1e\"",
			"\"1e+\"", "\"01\"", "\"-\"", "\"1,5\"", "\"1_000\"", "\"\\u0031\\u0032x\"",
			"\"١٢\"" /* Arabic-Indic digits */ };
		for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
			snprintf(want, sizeof want, "field %s: not a decimal", f);
			reject_field(f, bad[k], want);
		}
		snprintf(want, sizeof want, "field %s: not finite", f);
		reject_field(f, "\"1e999\"", want);
		reject_field(f, "\"-1e999\"", want);
		snprintf(want, sizeof want, "field %s: wrong type (object)", f);
		reject_field(f, "{\"v\":1}", want);
		snprintf(want, sizeof want, "field %s: wrong type (array)", f);
		reject_field(f, "[\"1\"]", want);
		snprintf(want, sizeof want, "field %s: wrong type (boolean)", f);
		reject_field(f, "true", want);
		reject_field(f, "false", want);
		snprintf(want, sizeof want, "field %s: must be >", f);
		reject_field(f, "\"-1853.55\"", want);
		reject_field(f, "-3", want);
		reject_field(f, "-0.5", want);
		snprintf(want, sizeof want, "field %s: decimal too long", f);
		reject_field(f, "\"1.00000000000000000000000000000000000000000000000000000000000000001\"",
		             want);
	}
	/* Two ticks at 1e308 summed to Infinity in a window: refused above 1e300. */
	reject_field("price", "\"1e308\"", "field price: too large");
	reject_field("volume_24h", "\"2e300\"", "field volume_24h: too large");
	reject_field("best_ask", "1.5e301", "field best_ask: too large");
	reject_field("price", "\"0\"", "field price: must be > 0");
	reject_field("price", "0", "field price: must be > 0");
	reject_field("price", "\"-0\"", "field price: must be > 0");
	reject_field("price", "\"1e-999\"", "field price: must be > 0"); /* underflow -> 0 */
	reject_field("price", "0.0", "field price: must be > 0");

	reject_field("type", "\"heartbeat\"", "type is \"heartbeat\", not ticker");
	reject_field("type", "\"subscriptions\"", "type is \"subscriptions\", not ticker");
	reject_field("type", "\"Ticker\"", "not ticker");
	reject_field("type", "\"ticker \"", "not ticker");
	reject_field("type", "1", "field type: wrong type (integer)");
	reject_field("type", "[\"ticker\"]", "field type: wrong type (array)");
	/* hostile bytes in an echoed value are escaped, and long values cut */
	{
		struct tick t;
		char err[256];
		const char *m = with("type", "\"\\u001b[2J\\nx\\\"y\"");
		T_INT(tick_parse(m, strlen(m), &t, err, sizeof err), -1, "escaped type rejected");
		T_STR(err, "type is \"\\x1b[2J\\x0ax\\x22y\", not ticker", "echo escaped");
		m = with("type", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"");
		tick_parse(m, strlen(m), &t, err, sizeof err);
		T_STR(err, "type is \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\", not ticker",
		      "echo cut at 40 bytes");
	}

	reject_field("product_id", "\"\"", "field product_id: empty");
	reject_field("product_id", "\"ETH USD\"", "field product_id: bad character");
	reject_field("product_id", "\"ETH/USD\"", "field product_id: bad character");
	reject_field("product_id", "\"ETH-USD\\n\"", "field product_id: bad character");
	reject_field("product_id", "\"ÉTH-USD\"", "field product_id: bad character");
	reject_field("product_id", "\"ETH-USD-AAAAAAAAAAAAAAAAAAAAAAAA\"", /* 32 bytes */
	             "field product_id: too long (32 bytes)");
	reject_field("product_id", "42", "field product_id: wrong type (integer)");

	reject_field("time", "1682348507", "field time: wrong type (integer)");
	reject_field("time", "\"2023-04-24T15:01:47.940047\"", "field time: bad timestamp");
	reject_field("time", "\"2023-02-30T15:01:47Z\"",
	             "field time: bad timestamp \"2023-02-30T15:01:47Z\"");
	reject_field("time", "\"\"", "field time: bad timestamp \"\"");

	reject_field("sequence", "-1", "field sequence: must be >= 0");
	reject_field("last_size", "\"-0.1\"", "field last_size: must be >= 0");
	reject_field("last_size", "null", "field last_size is null");
	reject_field("last_size", "\"abc\"", "field last_size: not a decimal \"abc\"");
	reject_field("last_size", "true", "field last_size: wrong type (boolean)");
	reject_field("sequence", "\"44321677493\"", "field sequence: wrong type (string)");
	reject_field("sequence", "4.4321677493e10", "field sequence: wrong type (real)");
	reject_field("sequence", "null", "field sequence is null");
	reject_field("sequence", "true", "field sequence: wrong type (boolean)");
}

static void test_accept(void)
{
	struct tick t;

	t = accept("price as JSON real", with("price", "1853.55"));
	T_OK(t.price == 1853.55, "JSON real price value");
	t = accept("price as JSON integer", with("price", "83800"));
	T_OK(t.price == 83800.0, "JSON integer price value");
	t = accept("price exponent string", with("price", "\"1.5e3\""));
	T_OK(t.price == 1500.0, "1.5e3");
	t = accept("price E-", with("price", "\"12E-2\""));
	T_OK(t.price == 0.12, "12E-2");
	t = accept("price small", with("price", "\"0.00012\""));
	T_OK(t.price == 0.00012, "0.00012");
	t = accept("price integer string", with("price", "\"83800\""));
	T_OK(t.price == 83800.0, "\"83800\"");
	t = accept("price 86540.3", with("price", "\"86540.3\""));
	T_OK(t.price == 86540.3, "\"86540.3\"");
	t = accept("price subnormal", with("price", "\"5e-324\""));
	T_OK(t.price > 0, "5e-324 > 0");
	t = accept("volume zero", with("volume_24h", "\"0\""));
	T_OK(t.volume_24h == 0, "volume 0");
	t = accept("volume -0", with("volume_24h", "\"-0\""));
	T_OK(t.volume_24h == 0 && !signbit(t.volume_24h), "-0 stored as +0");
	t = accept("volume -0.0 real", with("volume_24h", "-0.0"));
	T_OK(!signbit(t.volume_24h), "JSON -0.0 stored as +0");
	t = accept("best_bid zero", with("best_bid", "\"0\""));
	T_OK(t.best_bid == 0, "best_bid 0");

	/* crossed book: best_bid > best_ask is market data, not an error */
	{
		char m[4096];
		snprintf(m, sizeof m, "%s", with("best_bid", "\"1900.01\""));
		t = accept("crossed book", m);
		T_OK(t.best_bid > t.best_ask, "crossed book kept as is");
	}
	/* older captures lack the sizes */
	accept("no best_bid_size", with("best_bid_size", NULL));
	accept("no best_ask_size", with("best_ask_size", NULL));
	t = accept("no sequence", with("sequence", NULL));
	T_INT(t.sequence, -1, "absent sequence -> -1");
	t = accept("sequence 0", with("sequence", "0"));
	T_INT(t.sequence, 0, "sequence 0");
	/* last_size: absent, no volume; present, a decimal >= 0 */
	t = accept("no last_size", with("last_size", NULL));
	T_OK(t.last_size == 0 && !signbit(t.last_size), "absent last_size -> 0");
	t = accept("last_size a number", with("last_size", "0.5"));
	T_OK(t.last_size == 0.5, "last_size as a JSON number");
	/* side: buy, sell, anything else none */
	t = accept("side sell", with("side", "\"sell\""));
	T_INT(t.side, TICK_SIDE_SELL, "side sell");
	t = accept("no side", with("side", NULL));
	T_INT(t.side, TICK_SIDE_NONE, "absent side -> none");
	t = accept("side Buy", with("side", "\"Buy\""));
	T_INT(t.side, TICK_SIDE_NONE, "side is case-sensitive: Buy -> none");
	t = accept("side null", with("side", "null"));
	T_INT(t.side, TICK_SIDE_NONE, "side null -> none");
	t = accept("minimal",
	           "{\"type\":\"ticker\",\"product_id\":\"BTC-USD\",\"time\":\"2023-04-24T15:01:47Z\","
	           "\"price\":\"1\",\"volume_24h\":\"0\",\"best_bid\":\"0\",\"best_ask\":\"0\"}");
	T_INT(t.time_us, 1682348507000000LL, "minimal time");
	accept("whitespace around", " \t\r\n" REF " \n");
	accept("unknown fields with unicode", with("side", "\"b\\u00fcy \xe2\x82\xac\""));
	accept("nested unknown field", with("side", "{\"a\":[1,2,{\"b\":null}]}"));
	t = accept("product id max length", with("product_id", "\"ETH-USD-AAAAAAAAAAAAAAAAAAAAAAA\""));
	T_INT((int)strlen(t.product_id), 31, "31-byte product id");
	t = accept("time with offset", with("time", "\"2023-04-24T17:01:47.940047+02:00\""));
	T_INT(t.time_us, 1682348507940047LL, "offset time");
}

static void test_time_valid(void)
{
	/* expected seconds from `date -u -d <ts> +%s` */
	T_INT(pt("2023-04-24T15:01:47.940047Z"), 1682348507940047LL, "reference time");
	T_INT(pt("2023-04-24T15:01:47Z"), 1682348507000000LL, "no fraction");
	T_INT(pt("2023-04-24T15:01:47.9Z"), 1682348507900000LL, "1 fraction digit");
	T_INT(pt("2023-04-24T15:01:47.94Z"), 1682348507940000LL, "2 fraction digits");
	T_INT(pt("2023-04-24T15:01:47.940Z"), 1682348507940000LL, "3 fraction digits");
	T_INT(pt("2023-04-24T15:01:47.9400479Z"), 1682348507940047LL, "7 digits truncated");
	T_INT(pt("2023-04-24T15:01:47.999999999Z"), 1682348507999999LL, "9 digits truncated");
	T_INT(pt("2023-04-24T15:01:47.000001Z"), 1682348507000001LL, "1 us");
	T_INT(pt("2023-04-24T17:01:47+02:00"), 1682348507000000LL, "+02:00");
	T_INT(pt("2023-04-24T10:31:47-04:30"), 1682348507000000LL, "-04:30");
	T_INT(pt("2023-04-24T15:01:47+00:00"), 1682348507000000LL, "+00:00");
	T_INT(pt("2023-04-24T15:01:47-00:00"), 1682348507000000LL, "-00:00 as UTC");
	T_INT(pt("2023-04-25T14:01:47+23:00"), 1682348507000000LL, "+23:00");
	T_INT(pt("2023-04-24t15:01:47.940047z"), 1682348507940047LL, "lowercase t/z (RFC 3339)");
	T_INT(pt("1970-01-01T00:00:00Z"), 0, "epoch");
	T_INT(pt("1970-01-01T00:00:00.000001Z"), 1, "epoch + 1us");
	T_INT(pt("1970-01-01T00:30:00+01:00"), -1800000000LL, "offset before the epoch");
	T_INT(pt("2000-02-29T00:00:00Z"), 951782400000000LL, "2000-02-29 (leap, /400)");
	T_INT(pt("2024-02-29T23:59:59Z"), 1709251199000000LL, "2024-02-29 (leap)");
	T_INT(pt("2100-03-01T00:00:00Z"), 4107542400000000LL, "2100-03-01");
	T_INT(pt("2023-12-31T23:59:59Z"), 1704067199000000LL, "year end");
	T_INT(pt("2024-01-01T00:00:00Z"), 1704067200000000LL, "year start");
	T_INT(pt("9999-12-31T23:59:59.999999Z"), 253402300799999999LL, "max");
	T_INT(pt("2400-02-29T00:00:00Z") - pt("2400-02-28T00:00:00Z"), 86400000000LL,
	      "2400-02-29 exists");
	/* not NUL-terminated: only len bytes are read */
	{
		int64_t us = 0;
		char *b = malloc(20);
		memcpy(b, "2023-04-24T15:01:47Z", 20);
		T_INT(tick_parse_time(b, 20, &us), 0, "unterminated buffer");
		T_INT(us, 1682348507000000LL, "unterminated buffer value");
		free(b);
		T_INT(tick_parse_time("2023-04-24T15:01:47Zjunk", 20, &us), 0, "len bounds input");
	}
}

static void test_time_invalid(void)
{
	static const char *const bad[] = {
		"",
		"2023-04-24T15:01:47",            /* no zone */
		"2023-04-24T15:01:47.940047",     /* no zone */
		"2023-04-24 15:01:47Z",           /* space for T */
		"2023-04-24_15:01:47Z",
		"2023/04/24T15:01:47Z",
		"2023-04-24T15.01.47Z",
		"20230424T150147Z",               /* basic format */
		"2023-4-24T15:01:47Z",
		"2023-04-24T5:01:47Z",
		"+2023-04-24T15:01:47Z",
		" 2023-04-24T15:01:47Z",
		"2023-04-24T15:01:47Z ",
		"2023-04-24T15:01:47Zjunk",       /* trailing garbage */
		"2023-04-24T15:01:47ZZ",
		"2023-04-24T15:01:47.Z",          /* empty fraction */
		"2023-04-24T15:01:47.9400470000Z",/* 10 fraction digits */
		"2023-04-24T15:01:47,940Z",       /* comma fraction */
		"2023-04-24T15:01:47.94a7Z",
		"2023-02-30T00:00:00Z",           /* impossible date */
		"2023-02-29T00:00:00Z",           /* 2023 is not leap */
		"2100-02-29T00:00:00Z",           /* 2100 is not leap */
		"1900-02-29T00:00:00Z",           /* not leap, and before 1970 */
		"2023-04-31T00:00:00Z",
		"2023-13-01T00:00:00Z",           /* month 13 */
		"2023-00-01T00:00:00Z",
		"2023-01-00T00:00:00Z",
		"2023-01-32T00:00:00Z",
		"2023-04-24T24:00:00Z",           /* hour 24 */
		"2023-04-24T23:60:00Z",
		"2023-12-31T23:59:60Z",           /* leap second: rejected */
		"1969-12-31T23:59:59Z",           /* before 1970 */
		"0000-01-01T00:00:00Z",
		"2023-04-24T15:01:47+24:00",      /* offset hour 24 */
		"2023-04-24T15:01:47+02:60",
		"2023-04-24T15:01:47+0200",       /* no colon */
		"2023-04-24T15:01:47+02",
		"2023-04-24T15:01:47+02:00Z",
		"2023-04-24T15:01:47UTC",
		"2023-04-24T15:01:47 Z",
		"2023-04-24",
		"1682348507",
		"2023-04-24T15:01:47\xef\xbc\xba",  /* fullwidth Z */
		"２０２３-04-24T15:01:47Z",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t us = 42;
		int rc = tick_parse_time(bad[i], strlen(bad[i]), &us);
		T_OK(rc == -1 && us == 42, "time rejected: '%s'", bad[i]);
	}
	{
		int64_t us = 42;
		T_INT(tick_parse_time(NULL, 0, &us), -1, "NULL time");
		/* a valid prefix cut at every length must not parse as something else */
		const char *s = "2023-04-24T15:01:47.940047+02:00";
		int ok = 1;
		for (size_t n = 0; n < strlen(s); n++)
			if (tick_parse_time(s, n, &us) == 0)
				ok = 0;
		T_OK(ok, "truncations of a valid time are rejected");
	}
}

/* Random instants formatted with gmtime_r (an independent oracle) must parse
 * back to themselves, with and without offsets and fractions. */
static void test_time_random(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	int bad = 0;
	char first[128] = "";

	for (int i = 0; i < 20000; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		time_t sec = (time_t)(x % 253402300800ULL); /* 1970 .. 9999 */
		int us = (int)((x >> 40) % 1000000);
		int off = (int)((x >> 20) % (2 * 1439 + 1)) - 1439; /* minutes, +-23:59 */
		struct tm tm;
		char s[64];
		time_t local = sec + off * 60;
		int64_t got;

		if (local < 0 || local >= 253402300800LL)
			continue; /* the written year would leave 1970..9999 */
		gmtime_r(&local, &tm);
		int ao = off < 0 ? -off : off;
		snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d:%02d.%06d%c%02d:%02d",
		         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		         tm.tm_sec, us, off < 0 ? '-' : '+', ao / 60, ao % 60);
		if (tick_parse_time(s, strlen(s), &got) != 0 ||
		    got != (int64_t)sec * 1000000 + us) {
			if (!bad++)
				snprintf(first, sizeof first, "%s", s);
		}
	}
	if (!T_OK(bad == 0, "20000 random timestamps vs gmtime_r"))
		printf("#   %d mismatches, first %s\n", bad, first);
}

/* Topics named after a product (README, "When things go wrong"): the
 * producer's default layout, not -t TOPIC or --topic-prefix. */
static void test_topic_is_product(void)
{
	static const char *const yes[] = { "BTC-USD", "ETH-USD", "1INCH-USD", "USDT-EUR" };
	static const char *const no[] = { "ticks", "btc-usd", "BTC", "BTC-USD-2", "cb.BTC-USD", "cb-BTC-USD",
		"-BTC", "BTC-", "", "A-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		T_OK(tick_topic_is_product(yes[i]) == 1, "topic %s is named after a product", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		T_OK(tick_topic_is_product(no[i]) == 0, "topic '%s' is not", no[i]);
}

int main(void)
{
	test_topic_is_product();
	test_reference();
	test_reject_json();
	test_reject_size();
	test_reject_fields();
	test_accept();
	test_time_valid();
	test_time_invalid();
	test_time_random();
	return t_done();
}

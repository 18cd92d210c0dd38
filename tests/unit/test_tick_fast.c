/*
 * test_tick_fast.c - the fast tick scanner against the jansson reference.
 *
 * tick_parse_fast may decline anything, but whenever it accepts, the tick must
 * equal what tick_parse_json gives for the same bytes (bit for bit), and
 * tick_parse must always give tick_parse_json's verdict and reason.
 * tick_parse_head (the producer's) takes at least what tick_parse_fast takes,
 * and whatever it takes, jansson reads the same head fields from.  Inputs:
 * every fixture tick (all of which the fast path must take: otherwise it is
 * not the fast path), the hostile corpus, hand-made edge cases, and every
 * one-byte replacement, deletion and duplication of a sample of ticks.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"
#include "tick.h"

#include <jansson.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

struct diff {
	long checked, fast, head, mismatches;
	char first[256];
};

/* tick_parse_head's reference: what the producer's jansson path reads from the
 * same bytes (json_loadb with no flags: the last of duplicate keys counts).
 * 1 when h's head fields are what jansson finds there. */
static int head_matches(const char *buf, size_t len, const struct tick *h)
{
	json_t *root = json_loadb(buf, len, 0, NULL), *v;
	int64_t us;
	int ok = 0;

	if (!root || !json_is_object(root))
		goto done;
	v = json_object_get(root, "type");
	if (!json_is_string(v) || strcmp(json_string_value(v), "ticker") != 0)
		goto done;
	v = json_object_get(root, "product_id");
	if (!json_is_string(v) || strcmp(json_string_value(v), h->product_id) != 0)
		goto done;
	v = json_object_get(root, "time");
	if (!json_is_string(v) || tick_parse_time(json_string_value(v), json_string_length(v), &us) != 0 ||
	    us != h->time_us)
		goto done;
	v = json_object_get(root, "sequence");
	if (h->sequence < 0 ? v != NULL : !json_is_integer(v) || json_integer_value(v) != h->sequence)
		goto done;
	/* trade_id: absent or negative (both -1 here) change nothing downstream */
	v = json_object_get(root, "trade_id");
	if (h->trade_id < 0 ? v && (!json_is_integer(v) || json_integer_value(v) >= 0)
	                    : !json_is_integer(v) || json_integer_value(v) != h->trade_id)
		goto done;
	ok = 1;
done:
	json_decref(root);
	return ok;
}

static int same_tick(const struct tick *a, const struct tick *b)
{
	return strcmp(a->product_id, b->product_id) == 0 && a->time_us == b->time_us &&
	       memcmp(&a->price, &b->price, sizeof a->price) == 0 &&
	       memcmp(&a->volume_24h, &b->volume_24h, sizeof a->volume_24h) == 0 &&
	       memcmp(&a->best_bid, &b->best_bid, sizeof a->best_bid) == 0 &&
	       memcmp(&a->best_ask, &b->best_ask, sizeof a->best_ask) == 0 &&
	       memcmp(&a->last_size, &b->last_size, sizeof a->last_size) == 0 &&
	       a->sequence == b->sequence && a->trade_id == b->trade_id && a->side == b->side;
}

/* One input through all three entry points; returns 1 when the fast path took it. */
static int diff_one(struct diff *d, const char *buf, size_t len)
{
	struct tick f, j, c, h;
	char ej[256] = "", ec[256] = "";
	int rf, rj, rc, rh, bad = 0;

	memset(&f, 0, sizeof f);
	memset(&j, 0, sizeof j);
	memset(&c, 0, sizeof c);
	memset(&h, 0, sizeof h);
	rf = tick_parse_fast(buf, len, &f); /* 0 taken, -1 declined */
	rh = tick_parse_head(buf, len, &h);
	/* the head scanner takes all the fast path takes, with the same head,
	 * and whatever it takes, the producer's jansson path reads the same */
	if ((rh != -1 && rh != 0) || (rf == 0 && rh != 0) ||
	    (rf == 0 && (strcmp(f.product_id, h.product_id) != 0 || f.time_us != h.time_us ||
	                 f.sequence != h.sequence || f.trade_id != h.trade_id)) ||
	    (rh == 0 && !head_matches(buf, len, &h)))
		bad = 1;
	rj = tick_parse_json(buf, len, &j, ej, sizeof ej);
	rc = tick_parse(buf, len, &c, ec, sizeof ec);
	if (rf != -1 && rf != 0)
		bad = 1;
	if (rf == 0 && (rj != 0 || !same_tick(&f, &j)))
		bad = 1;
	if (rc != rj || (rc == 0 && !same_tick(&c, &j)) || (rc != 0 && strcmp(ec, ej) != 0))
		bad = 1;
	d->checked++;
	d->fast += rf == 0;
	d->head += rh == 0;
	if (bad && !d->mismatches++)
		snprintf(d->first, sizeof d->first, "fast %d head %d json %d (%s) on %.*s", rf, rh, rj, ej,
		         (int)(len < 160 ? len : 160), buf);
	return rf == 0;
}

static void report(const struct diff *d, const char *what)
{
	if (!T_OK(d->mismatches == 0, "%s: %ld inputs, fast path took %ld, head scanner %ld, "
	          "%ld mismatches", what, d->checked, d->fast, d->head, d->mismatches))
		printf("#   %ld mismatches, first: %s\n", d->mismatches, d->first);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static const char *find_dir(const char *rel, char *out, size_t cap)
{
	snprintf(out, cap, "%s", rel);
	DIR *d = opendir(out);
	if (!d) {
		snprintf(out, cap, "../%s", rel);
		d = opendir(out);
	}
	if (!d)
		return NULL;
	closedir(d);
	return out;
}

static void test_fixture_and_mutations(const char *data)
{
	char path[1024];
	size_t len, lines = 0, taken = 0;
	char *buf;
	struct diff fx = { 0 }, mut = { 0 };
	static const char repl[] = { '"', '\\', ' ', '0', '9', '1', '-', '+', '.', 'e', 'E', '{', '}',
	                             '[', ']', ',', ':', '\0', '\t', '\n', '\x7f', '\x80', '\xc3',
	                             '\xff', 't', 'n', 'Z', 'a', '_' };

	snprintf(path, sizeof path, "%s/ticks.jsonl", data);
	if (!(buf = slurp(path, &len))) {
		T_OK(0, "read %s", path);
		return;
	}
	for (char *p = buf, *end = buf + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		lines++;
		taken += (size_t)diff_one(&fx, p, n);
		/* every 400th tick: each byte replaced, deleted and doubled */
		if (lines % 400 == 1 && n < 1024) {
			char m[1100];
			for (size_t i = 0; i < n; i++) {
				for (size_t r = 0; r < sizeof repl; r++) {
					if (p[i] == repl[r])
						continue;
					memcpy(m, p, n);
					m[i] = repl[r];
					diff_one(&mut, m, n);
				}
				memcpy(m, p, i);
				memcpy(m + i, p + i + 1, n - i - 1);
				diff_one(&mut, m, n - 1);
				memcpy(m, p, i + 1);
				memcpy(m + i + 1, p + i, n - i);
				diff_one(&mut, m, n + 1);
			}
		}
		p = nl ? nl + 1 : end;
	}
	free(buf);
	report(&fx, "fixture ticks");
	T_OK(lines > 4000 && taken == lines, "fast path takes every fixture tick (%zu of %zu)",
	     taken, lines);
	report(&mut, "one-byte replacements, deletions, duplications");
	T_OK(mut.fast > 1000 && mut.fast < mut.checked, "mutations exercise both paths (%ld of %ld fast)",
	     mut.fast, mut.checked);
	/* a mutated decimal: the aggregator's scanner declines, the producer's takes */
	T_OK(mut.head > mut.fast && mut.head < mut.checked,
	     "the head scanner takes more of them (%ld), not all", mut.head);
}

static void test_corpus(const char *bad)
{
	DIR *d = opendir(bad);
	struct dirent *e;
	struct diff c = { 0 };

	if (!d) {
		T_OK(0, "open %s", bad);
		return;
	}
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name), len;
		char path[1024], *msg;
		if (l <= 5 || strcmp(e->d_name + l - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", bad, e->d_name);
		if ((msg = slurp(path, &len))) {
			diff_one(&c, msg, len);
			free(msg);
		}
	}
	closedir(d);
	report(&c, "hostile corpus");
	T_OK(c.checked >= 32, "corpus read (%ld)", c.checked);
}

#define TK "\"type\":\"ticker\""
#define PR "\"product_id\":\"BTC-USD\""
#define TM "\"time\":\"2023-04-24T15:01:47.940047Z\""
#define VALS "\"price\":\"27500.5\",\"volume_24h\":\"1234.5\",\"best_bid\":\"27500.4\",\"best_ask\":\"27500.6\""
#define BASE TK "," PR "," TM "," VALS

static void test_edges(void)
{
	/* want: 1 the fast path must take it, 0 it must decline; nul: the
	 * message includes the NUL byte after the text */
	static const struct { const char *msg; int want, nul; } cases[] = {
		{ "{" BASE "}", 1, 0 },
		{ " \t\r\n{ " BASE " } \n", 1, 0 },
		{ "{" BASE ",\"sequence\":42}", 1, 0 },
		{ "{" BASE ",\"sequence\":0}", 1, 0 },
		{ "{" BASE ",\"sequence\":999999999999999999}", 1, 0 },
		{ "{" BASE ",\"sequence\":9999999999999999999}", 0, 0 },    /* 19 digits */
		{ "{" BASE ",\"sequence\":99999999999999999999}", 0, 0 },   /* too big */
		{ "{" BASE ",\"sequence\":-0}", 0, 0 },
		{ "{" BASE ",\"sequence\":-1}", 0, 0 },
		{ "{" BASE ",\"sequence\":\"42\"}", 0, 0 },
		{ "{" BASE ",\"last_size\":\"0.01598857\"}", 1, 0 },
		{ "{" BASE ",\"last_size\":\"0\"}", 1, 0 },
		{ "{" BASE ",\"last_size\":\"-0\"}", 1, 0 },                 /* +0, as jansson's */
		{ "{" BASE ",\"last_size\":\"-1\"}", 0, 0 },                 /* rejected, by jansson */
		{ "{" BASE ",\"last_size\":\"x\"}", 0, 0 },
		{ "{" BASE ",\"last_size\":2}", 0, 0 },                      /* a number: jansson takes it */
		{ "{" BASE ",\"last_size\":null}", 0, 0 },
		{ "{" BASE ",\"side\":\"buy\"}", 1, 0 },
		{ "{" BASE ",\"side\":\"sell\"}", 1, 0 },
		{ "{" BASE ",\"side\":\"BUY\"}", 1, 0 },                     /* no side */
		{ "{" BASE ",\"side\":1}", 1, 0 },                           /* no side */
		{ "{" BASE ",\"trade_id\":7}", 1, 0 },
		{ "{" BASE ",\"trade_id\":\"7\"}", 0, 0 },              /* jansson: accepted, -1 */
		{ "{" BASE ",\"trade_id\":-7}", 1, 0 },                 /* -1, as jansson's */
		{ "{" BASE ",\"trade_id\":null}", 0, 0 },
		{ "{" BASE ",\"sequence\":null}", 0, 0 },
		{ "{" BASE ",\"sequence\":4.0}", 0, 0 },
		{ "{" BASE ",\"sequence\":4e2}", 0, 0 },
		{ "{" BASE ",\"sequence\":042}", 0, 0 },
		{ "{" BASE ",\"trade_id\":-12}", 1, 0 },
		{ "{" BASE ",\"trade_id\":1.5}", 0, 0 },
		{ "{" BASE ",\"trade_id\":1e999}", 0, 0 },
		{ "{" BASE ",\"trade_id\":true}", 0, 0 },
		{ "{" BASE ",\"trade_id\":[]}", 0, 0 },
		{ "{" BASE ",\"trade_id\":{}}", 0, 0 },
		{ "{" BASE ",\"side\":\"b\\u0075y\"}", 0, 0 },
		{ "{" BASE ",\"side\":\"\xc3\xa9\"}", 0, 0 },
		{ "{" BASE ",\"side\":\"\x7f\"}", 1, 0 },
		{ "{" BASE ",\"\":\"\"}", 1, 0 },
		{ "{" BASE ",\"\":\"\",\"\":\"\"}", 0, 0 },                 /* duplicate empty key */
		{ "{" BASE ",\"side\":\"buy\",\"side\":\"buy\"}", 0, 0 },   /* duplicate ignored key */
		{ "{" BASE ",\"price\":\"1\"}", 0, 0 },                     /* duplicate field */
		{ "{" BASE ",}", 0, 0 },
		{ "{" BASE "", 0, 0 },
		{ "{" BASE "}}", 0, 0 },
		{ "{" BASE "}x", 0, 0 },
		{ "{" BASE "}", 0, 1 },
		{ "[{" BASE "}]", 0, 0 },
		{ "{}", 0, 0 },
		{ "", 0, 0 },
		{ "{" TK "," PR "," TM ",\"price\":27500.5,\"volume_24h\":\"1\",\"best_bid\":\"1\",\"best_ask\":\"1\"}", 0, 0 },
		{ "{" TK "," PR "," TM ",\"price\":\"0\",\"volume_24h\":\"1\",\"best_bid\":\"1\",\"best_ask\":\"1\"}", 0, 0 },
		{ "{" TK "," PR "," TM ",\"price\":\"1\",\"volume_24h\":\"-0\",\"best_bid\":\"0\",\"best_ask\":\"0e5\"}", 1, 0 },
		{ "{" TK "," PR "," TM ",\"price\":\"1e-999\",\"volume_24h\":\"1\",\"best_bid\":\"1\",\"best_ask\":\"1\"}", 0, 0 },
		{ "{" TK "," PR "," TM ",\"price\":\"1e999\",\"volume_24h\":\"1\",\"best_bid\":\"1\",\"best_ask\":\"1\"}", 0, 0 },
		{ "{" TK "," PR "," TM ",\"price\":\"1.\",\"volume_24h\":\"1\",\"best_bid\":\"1\",\"best_ask\":\"1\"}", 0, 0 },
		{ "{" TK "," PR "," TM ",\"price\":\"4.9e-324\",\"volume_24h\":\"1\",\"best_bid\":\"1\",\"best_ask\":\"1\"}", 1, 0 },
		/* DBL_MAX: past TICK_DECIMAL_MAX, declined (and rejected by the reference) */
		{ "{" TK "," PR "," TM ",\"price\":\"1.7976931348623157e308\",\"volume_24h\":\"1\",\"best_bid\":\"1\",\"best_ask\":\"1\"}", 0, 0 },
		{ "{\"type\":\"heartbeat\"," PR "," TM "," VALS "}", 0, 0 },
		{ "{" TK ",\"product_id\":\"BTC USD\"," TM "," VALS "}", 0, 0 },
		{ "{" TK ",\"product_id\":\"\"," TM "," VALS "}", 0, 0 },
		{ "{" TK ",\"product_id\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcd\"," TM "," VALS "}", 1, 0 },
		{ "{" TK ",\"product_id\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcde\"," TM "," VALS "}", 0, 0 },
		{ "{" TK "," PR ",\"time\":\"2023-04-24T15:01:47Z\"," VALS "}", 1, 0 },
		{ "{" TK "," PR ",\"time\":\"2023-04-24T15:01:47+02:00\"," VALS "}", 1, 0 },
		{ "{" TK "," PR ",\"time\":\"2023-04-24 15:01:47Z\"," VALS "}", 0, 0 },
		{ "{" TK "," PR ",\"time\":1682348507," VALS "}", 0, 0 },
	};
	struct diff d = { 0 };
	int ok = 1;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = strlen(cases[i].msg) + (size_t)cases[i].nul;
		int got = diff_one(&d, cases[i].msg, len);
		if (got != cases[i].want) {
			ok = 0;
			printf("#   fast path %s: %s\n", got ? "took" : "declined", cases[i].msg);
		}
	}
	report(&d, "edge cases");
	T_OK(ok, "edge cases taken or declined as designed");

	/* 7 + 41 = 48 keys are taken, 49 declined (the duplicate check's table) */
	char big[4096];
	for (int extra = 41; extra <= 42; extra++) {
		int n = snprintf(big, sizeof big, "{" BASE);
		for (int k = 0; k < extra; k++)
			n += snprintf(big + n, sizeof big - (size_t)n, ",\"k%d\":%d", k, k);
		T_OK(diff_one(&d, big, (size_t)n) == 0, "unterminated object of %d keys declined", 7 + extra);
		big[n++] = '}';
		T_OK(diff_one(&d, big, (size_t)n) == (extra == 41), "%d keys %s", 7 + extra,
		     extra == 41 ? "taken" : "declined");
	}
	report(&d, "edge cases incl. key counts");
}

/* A random decimal string of the shapes the feed and its mutants use: 1-19
 * digits, a fraction of 0-25 digits, "0.000ddd", values around 2^53. */
static uint64_t rnd_state = 0x853c49e6748fea9bULL;
static uint64_t rnd(void)
{
	return t_xorshift(&rnd_state);
}

static int rnd_decimal(char *out)
{
	static const char *const near53[] = {
		"9007199254740992", "9007199254740993", "9007199254740991",
		"900719925474099.3", "90071992547409.95", "0.9007199254740993",
	};
	int n = 0, intd = 1 + (int)(rnd() % 19), fracd = (int)(rnd() % 26);

	switch (rnd() % 8) {
	case 0:
		return sprintf(out, "%s", near53[rnd() % 6]);
	case 1: /* 0.000ddd */
		n = sprintf(out, "0.");
		for (int k = (int)(rnd() % 8); k > 0; k--)
			out[n++] = '0';
		intd = 0;
		break;
	case 2: /* the feed's own shape */
		intd = 1 + (int)(rnd() % 6);
		fracd = (int)(rnd() % 9);
		break;
	}
	for (int k = 0; k < intd; k++)
		out[n++] = (char)((k == 0 ? '1' : '0') + (int)(rnd() % (k == 0 ? 9 : 10)));
	if (fracd && intd)
		out[n++] = '.';
	for (int k = 0; k < fracd || (!intd && k == 0); k++)
		out[n++] = (char)('0' + rnd() % 10);
	out[n] = '\0';
	return n;
}

/* The fast path's own decimal conversion against strtod (through jansson's
 * path), bit for bit, on 100k random decimals in all four fields. */
static void test_random_decimals(void)
{
	struct diff d = { 0 };
	char buf[512], a[64], b[64], c[64], e[64], why[256];
	long valid = 0;

	for (int i = 0; i < 100000; i++) {
		struct tick t;
		int n;

		rnd_decimal(a);
		rnd_decimal(b);
		rnd_decimal(c);
		rnd_decimal(e);
		n = snprintf(buf, sizeof buf, "{" TK "," PR "," TM ",\"price\":\"%s\","
			     "\"volume_24h\":\"%s\",\"best_bid\":\"%s\",\"best_ask\":\"%s\"}",
			     a, b, c, e);
		diff_one(&d, buf, (size_t)n);
		valid += tick_parse_json(buf, (size_t)n, &t, why, sizeof why) == 0;
	}
	report(&d, "random decimals");
	T_OK(d.fast == valid && valid > 90000, "every valid one (%ld of %ld) taken by the "
	     "fast path (%ld)", valid, d.checked, d.fast);
}

int main(void)
{
	char data[512], bad[512];

	if (!find_dir("tests/data", data, sizeof data) || !find_dir("tests/data/bad", bad, sizeof bad)) {
		printf("1..0 # SKIP tests/data not found\n");
		return 0;
	}
	test_edges();
	test_random_decimals();
	test_corpus(bad);
	test_fixture_and_mutations(data);
	return t_done();
}

/*
 * gen-ticks - deterministic generator of realistic Coinbase Exchange "ticker"
 * messages, one compact JSON object per line on stdout, in event-time order
 * across products.
 *
 *   gen-ticks --products BTC-USD,ETH-USD --start 2023-04-24T15:00:00Z \
 *             --minutes 22 --rate 2 --seed 1 --no-sizes-before 3
 *
 * Model, per product: a log-normal random walk of the mid price, a small bid/ask
 * spread (one tick mostly, wider now and then, crossed very rarely), trades at
 * the touch (buy -> price = best_ask, sell -> price = best_bid, like the feed),
 * bursty arrivals (exponential gaps, a share of them short "cluster" gaps),
 * 24 h open/low/high kept consistent with the trades, 24 h / 30 d volumes
 * drifting with the traded size.  sequence is one counter shared by all
 * products with random jumps (other messages of the full feed), starting
 * where --start puts it (seq_base: a later start continues an earlier run),
 * trade_id is contiguous per product, time strictly increases within a
 * product.
 *
 * Decimals are written as the feed writes them: JSON strings, trailing zeros
 * trimmed ("1890", "86540.3"), at most 2 decimals for USD prices (4 for
 * products under 10 USD) and 8 for sizes and volumes.  Same seed and options
 * -> byte-identical output.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef PIPELINE_VERSION
#define PIPELINE_VERSION "dev"
#endif

#define MAX_PRODUCTS 16
#define NAME_MAX_LEN 32
#define OUT_BUF      (1u << 20)   /* output buffer, flushed when nearly full */
#define LINE_MAX_LEN 1024          /* a generated line is ~420 bytes */
#define SIZE_DEC     8             /* decimals of sizes and volumes */
#define SIZE_UNIT    100000000.0   /* 1e8 size units per coin */

struct rng {
	uint64_t s[4];
};

struct product {
	char name[NAME_MAX_LEN];
	size_t name_len;
	double rate;        /* mean ticks per second */
	int dec;            /* decimals of the price (quote increment 10^-dec) */
	double scale;       /* 10^dec */
	double mid;         /* mid price, in quote units (not scaled) */
	double vol_s;       /* volatility of log(mid) per sqrt(second) */
	double size_med;    /* median last_size, coins */
	double book_med;    /* median best_*_size, coins */
	int64_t open24, low24, high24;   /* in price units (10^-dec) */
	double vol24, vol30;             /* in 1e-8 units */
	int64_t trade_id;
	int64_t next_us;    /* event time of the next tick */
	int64_t last_us;    /* event time of the previous tick */
};

struct gen {
	struct product p[MAX_PRODUCTS];
	int np;
	int64_t start_us;
	int64_t end_us;        /* INT64_MAX when not limited by time */
	uint64_t count;        /* lines to write, UINT64_MAX when not limited */
	int64_t nosizes_us;    /* ticks before this time lack the *_size fields */
	int64_t seq;
	struct rng rng;
	int have_spare;
	double spare;
	/* cached "YYYY-MM-DDTHH:MM:SS." for the second tsec */
	int64_t tsec;
	char tprefix[24];
	/* output */
	char *buf;
	size_t len;
};

static const char *const usage_text =
"usage: gen-ticks [options]\n"
"Writes realistic Coinbase Exchange ticker messages (compact JSON lines,\n"
"key order as the live feed) on stdout, in event-time order.\n"
"\n"
"  -p, --products LIST        comma-separated product ids (default BTC-USD,ETH-USD)\n"
"  -s, --start TIME           event time of the start, ISO-8601 UTC\n"
"                             (default 2023-04-24T15:00:00Z); the sequences\n"
"                             follow it: a later start continues an earlier run\n"
"  -m, --minutes M            event-time span in minutes (default 10 unless\n"
"                             --count is given)\n"
"  -n, --count N              total number of lines (stops at whichever of\n"
"                             --minutes/--count comes first)\n"
"  -r, --rate R               mean ticks/s of the first product (default 2);\n"
"                             product i gets R * 0.65^i\n"
"  -S, --seed S               random seed (default 1)\n"
"      --no-sizes-before MIN  ticks in the first MIN minutes lack best_bid_size\n"
"                             and best_ask_size (like older captures)\n"
"  -h, --help                 this help\n"
"  -V, --version              print the version\n"
"Example:\n"
"  gen-ticks --minutes 22 --rate 2 --seed 1 > ticks.jsonl\n"
"  gen-ticks --count 1000000 --products BTC-USD,ETH-USD,SOL-USD > big.jsonl\n"
"Exit: 0 done, 1 write error, 2 usage.\n";

/* ---- random numbers: xoshiro256** seeded by splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* uniform in [0, 1) */
static double unif(struct gen *g)
{
	return (double)(rng_next(&g->rng) >> 11) * 0x1.0p-53;
}

/* exponential with mean 1 */
static double expo(struct gen *g)
{
	return -log1p(-unif(g));
}

/* standard normal (Marsaglia polar method) */
static double normal(struct gen *g)
{
	double u, v, s;
	if (g->have_spare) {
		g->have_spare = 0;
		return g->spare;
	}
	do {
		u = 2.0 * unif(g) - 1.0;
		v = 2.0 * unif(g) - 1.0;
		s = u * u + v * v;
	} while (s >= 1.0 || s == 0.0);
	s = sqrt(-2.0 * log(s) / s);
	g->spare = v * s;
	g->have_spare = 1;
	return u * s;
}

/* integer in [0, n) */
static uint64_t below(struct gen *g, uint64_t n)
{
	return (uint64_t)(unif(g) * (double)n);
}

/* ---- formatting ---- */

/* Writes v (>= 0) in decimal; returns the number of bytes. */
static size_t put_u64(char *p, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

static const uint64_t pow10_tab[] = {
	1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
	10000000ull, 100000000ull, 1000000000ull,
};

/* Writes v / 10^dec (v >= 0) with trailing zeros trimmed, as the feed does:
 * 189000,2 -> "1890"; 8654030,2 -> "86540.3". */
static size_t put_fixed(char *p, int64_t v, int dec)
{
	uint64_t u = v < 0 ? 0 : (uint64_t)v, ip = u / pow10_tab[dec], fp = u % pow10_tab[dec];
	size_t n = put_u64(p, ip);
	int d;
	if (fp == 0)
		return n;
	while (fp % 10 == 0) {
		fp /= 10;
		dec--;
	}
	p[n++] = '.';
	for (d = dec - 1; d >= 0; d--) {
		p[n + (size_t)d] = (char)('0' + fp % 10);
		fp /= 10;
	}
	return n + (size_t)dec;
}

static void put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/* "2023-04-24T15:01:47.940047Z" for us since the epoch (27 bytes). */
static size_t put_time(struct gen *g, char *p, int64_t us)
{
	int64_t sec = us / 1000000;
	int64_t frac = us % 1000000;
	int i;
	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	if (sec != g->tsec) {
		struct tm tm;
		time_t t = (time_t)sec;
		gmtime_r(&t, &tm);
		snprintf(g->tprefix, sizeof g->tprefix, "%04d-", tm.tm_year + 1900);
		put2(g->tprefix + 5, tm.tm_mon + 1);
		g->tprefix[7] = '-';
		put2(g->tprefix + 8, tm.tm_mday);
		g->tprefix[10] = 'T';
		put2(g->tprefix + 11, tm.tm_hour);
		g->tprefix[13] = ':';
		put2(g->tprefix + 14, tm.tm_min);
		g->tprefix[16] = ':';
		put2(g->tprefix + 17, tm.tm_sec);
		g->tprefix[19] = '.';
		g->tsec = sec;
	}
	memcpy(p, g->tprefix, 20);
	for (i = 25; i >= 20; i--) {
		p[i] = (char)('0' + frac % 10);
		frac /= 10;
	}
	p[26] = 'Z';
	return 27;
}

#define PUT_LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) += sizeof(s) - 1)

static int flush_out(struct gen *g)
{
	size_t off = 0;
	while (off < g->len) {
		ssize_t w = write(STDOUT_FILENO, g->buf + off, g->len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%% gen-ticks: write: %s\n", strerror(errno));
			return -1;
		}
		off += (size_t)w;
	}
	g->len = 0;
	return 0;
}

/* ---- the model ---- */

struct known {
	const char *name;
	double price, size_med, book_med, vol24, vol30, vol_s;
	int64_t trade_id;
};

static const struct known known_products[] = {
	{"BTC-USD", 27500.0, 0.004, 0.35, 12480.0, 428000.0, 1.3e-4, 523170000},
	{"ETH-USD", 1853.0, 0.05, 4.0, 98528.0, 3503430.0, 1.5e-4, 44592000},
	{"SOL-USD", 22.4, 2.0, 80.0, 1200000.0, 41000000.0, 2.0e-4, 118000000},
	{"LTC-USD", 89.5, 0.6, 30.0, 160000.0, 5200000.0, 1.8e-4, 80500000},
	{"DOGE-USD", 0.0795, 900.0, 40000.0, 380000000.0, 9.6e9, 2.2e-4, 103000000},
};

static int product_init(struct gen *g, struct product *p, const char *name, size_t len, int idx,
			double rate)
{
	const struct known *k = NULL;
	size_t i;
	double f;
	int64_t px;

	if (len == 0 || len >= NAME_MAX_LEN)
		return -1;
	for (i = 0; i < len; i++)
		if (name[i] == '"' || name[i] == '\\' || (unsigned char)name[i] < 0x20)
			return -1;
	memcpy(p->name, name, len);
	p->name[len] = '\0';
	p->name_len = len;
	for (i = 0; i < sizeof known_products / sizeof known_products[0]; i++)
		if (strcmp(known_products[i].name, p->name) == 0)
			k = &known_products[i];

	p->rate = rate * pow(0.65, idx);
	if (k) {
		p->mid = k->price;
		p->size_med = k->size_med;
		p->book_med = k->book_med;
		p->vol24 = k->vol24 * SIZE_UNIT;
		p->vol30 = k->vol30 * SIZE_UNIT;
		p->vol_s = k->vol_s;
		p->trade_id = k->trade_id;
	} else {
		p->mid = 100.0;
		p->size_med = 0.8;
		p->book_med = 25.0;
		p->vol24 = 250000.0 * SIZE_UNIT;
		p->vol30 = 7600000.0 * SIZE_UNIT;
		p->vol_s = 1.8e-4;
		p->trade_id = 10000000 * (int64_t)(idx + 1);
	}
	/* per-seed variation of the starting point */
	p->mid *= 1.0 + 0.04 * (unif(g) - 0.5);
	p->vol24 = floor(p->vol24 * (0.9 + 0.2 * unif(g)) + unif(g) * SIZE_UNIT);
	p->vol30 = floor(p->vol30 * (0.95 + 0.1 * unif(g)) + unif(g) * SIZE_UNIT);
	p->trade_id += (int64_t)below(g, 100000);
	p->dec = p->mid < 10.0 ? 4 : 2;
	p->scale = p->dec == 4 ? 10000.0 : 100.0;

	px = (int64_t)llround(p->mid * p->scale);
	f = 1.0 + 0.03 * (unif(g) - 0.5);
	p->open24 = (int64_t)llround(p->mid * f * p->scale);
	p->low24 = (int64_t)llround((double)(px < p->open24 ? px : p->open24) *
				    (1.0 - 0.004 - 0.02 * unif(g)));
	p->high24 = (int64_t)llround((double)(px > p->open24 ? px : p->open24) *
				     (1.0 + 0.004 + 0.02 * unif(g)));
	return 0;
}

/* Gap to the next tick of p, in microseconds (>= 1): exponential, a share of
 * them short gaps inside a cluster of trades. */
static int64_t next_gap(struct gen *g, const struct product *p)
{
	const double pb = 0.35;
	double mean = 1.0 / p->rate;
	double mb = 0.25 * mean < 0.015 ? 0.25 * mean : 0.015;
	double mg = (mean - pb * mb) / (1.0 - pb);
	double gap = (unif(g) < pb ? mb : mg) * expo(g);
	int64_t us = (int64_t)llround(gap * 1e6);
	return us < 1 ? 1 : us;
}

/* lognormal size around med, in 1e-8 units, >= 1 */
static int64_t size_units(struct gen *g, double med, double sigma)
{
	double s = med * exp(sigma * normal(g));
	int64_t u;
	/* orders are often in round amounts */
	if (unif(g) < 0.25)
		s = ceil(s * 1000.0 / med) * med / 1000.0;
	u = (int64_t)llround(s * SIZE_UNIT);
	return u < 1 ? 1 : u;
}

/* Appends one ticker line for p at its next_us to the output buffer. */
static void emit(struct gen *g, struct product *p)
{
	char *q = g->buf + g->len;
	int64_t t = p->next_us;
	double dt = p->last_us ? (double)(t - p->last_us) * 1e-6 : 1.0;
	int64_t bid, ask, price, spread, last_size;
	int buy = unif(g) < 0.5;
	double u;

	/* mid price random walk (log space), slightly fat tailed */
	u = normal(g) * p->vol_s * sqrt(dt < 1e-3 ? 1e-3 : dt);
	if (unif(g) < 0.01)
		u *= 4.0;
	p->mid *= exp(u);

	/* book: one tick wide mostly, wider sometimes, crossed rarely */
	u = unif(g);
	if (u < 0.72)
		spread = 1;
	else if (u < 0.97)
		spread = 2 + (int64_t)(expo(g) * (p->dec == 4 ? 3.0 : 40.0));
	else
		spread = 2 + (int64_t)(expo(g) * (p->dec == 4 ? 12.0 : 300.0));
	bid = (int64_t)floor(p->mid * p->scale - (double)spread / 2.0);
	if (bid < 1)
		bid = 1;
	ask = bid + spread;
	price = buy ? ask : bid;
	if (unif(g) < 0.002) { /* a crossed book for a moment */
		int64_t c = 1 + (int64_t)below(g, 3);
		if (buy)
			bid = ask + c;
		else
			ask = bid - c > 0 ? bid - c : 1;
	}

	/* 24 h statistics */
	if (price < p->low24)
		p->low24 = price;
	if (price > p->high24)
		p->high24 = price;
	if (unif(g) < 0.05) { /* the 24 h window rolls: open moves a little */
		int64_t o = p->open24 + (int64_t)llround(normal(g) * (double)p->open24 * 2e-4);
		p->open24 = o < p->low24 ? p->low24 : o > p->high24 ? p->high24 : o;
	}
	last_size = size_units(g, p->size_med, 1.4);
	p->vol24 += (double)last_size - p->vol24 * dt / 86400.0 * (0.6 + 0.8 * unif(g));
	p->vol30 += (double)last_size - p->vol30 * dt / (30.0 * 86400.0) * (0.6 + 0.8 * unif(g));
	if (p->vol24 < (double)last_size)
		p->vol24 = (double)last_size;
	if (p->vol30 < p->vol24)
		p->vol30 = p->vol24;

	/* sequence counts every message of the full feed: random jumps */
	g->seq += 1 + (unif(g) < 0.6 ? (int64_t)below(g, 4) : (int64_t)(expo(g) * 40.0));

	PUT_LIT(q, "{\"type\":\"ticker\",\"sequence\":");
	q += put_u64(q, (uint64_t)g->seq);
	PUT_LIT(q, ",\"product_id\":\"");
	memcpy(q, p->name, p->name_len);
	q += p->name_len;
	PUT_LIT(q, "\",\"price\":\"");
	q += put_fixed(q, price, p->dec);
	PUT_LIT(q, "\",\"open_24h\":\"");
	q += put_fixed(q, p->open24, p->dec);
	PUT_LIT(q, "\",\"volume_24h\":\"");
	q += put_fixed(q, (int64_t)p->vol24, SIZE_DEC);
	PUT_LIT(q, "\",\"low_24h\":\"");
	q += put_fixed(q, p->low24, p->dec);
	PUT_LIT(q, "\",\"high_24h\":\"");
	q += put_fixed(q, p->high24, p->dec);
	PUT_LIT(q, "\",\"volume_30d\":\"");
	q += put_fixed(q, (int64_t)p->vol30, SIZE_DEC);
	PUT_LIT(q, "\",\"best_bid\":\"");
	q += put_fixed(q, bid, p->dec);
	if (t >= g->nosizes_us) {
		PUT_LIT(q, "\",\"best_bid_size\":\"");
		q += put_fixed(q, size_units(g, p->book_med, 1.2), SIZE_DEC);
	}
	PUT_LIT(q, "\",\"best_ask\":\"");
	q += put_fixed(q, ask, p->dec);
	if (t >= g->nosizes_us) {
		PUT_LIT(q, "\",\"best_ask_size\":\"");
		q += put_fixed(q, size_units(g, p->book_med, 1.2), SIZE_DEC);
	}
	if (buy)
		PUT_LIT(q, "\",\"side\":\"buy\",\"time\":\"");
	else
		PUT_LIT(q, "\",\"side\":\"sell\",\"time\":\"");
	q += put_time(g, q, t);
	PUT_LIT(q, "\",\"trade_id\":");
	q += put_u64(q, (uint64_t)p->trade_id);
	PUT_LIT(q, ",\"last_size\":\"");
	q += put_fixed(q, last_size, SIZE_DEC);
	PUT_LIT(q, "\"}\n");
	g->len = (size_t)(q - g->buf);

	p->trade_id++;
	p->last_us = t;
	p->next_us = t + next_gap(g, p);
}

/* The feed's sequence counter at start_us: it follows the time, SEQ_PER_S a
 * second from SEQ_REF (the fixture's start and counter), so a run from a later
 * --start continues one that ended before it instead of repeating its
 * sequences (a consumer drops those as replays).  The fixture's runs average
 * ~60 a second; at 1000, a later start stays above any run of up to ~50 ticks
 * a second that ended before it, and a day is 86.4 M, short of the jump a
 * consumer wants confirmed (common/seqrule.h's 10^8). */
#define SEQ_REF_US  1682348400000000LL /* 2023-04-24T15:00:00Z */
#define SEQ_REF     44321600000LL
#define SEQ_PER_S   1000
#define SEQ_MIN     1000000LL          /* a start long before 2023 */

static int64_t seq_base(int64_t start_us)
{
	int64_t b = SEQ_REF + (start_us - SEQ_REF_US) / (1000000 / SEQ_PER_S);
	return b < SEQ_MIN ? SEQ_MIN : b;
}

/* ---- options ---- */

static int parse_time(const char *s, int64_t *us)
{
	struct tm tm;
	const char *e;
	int64_t frac = 0, mul = 100000;
	time_t t;

	memset(&tm, 0, sizeof tm);
	e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!e)
		return -1;
	if (*e == '.') {
		e++;
		if (*e < '0' || *e > '9')
			return -1;
		for (; *e >= '0' && *e <= '9'; e++) {
			frac += (*e - '0') * mul;
			mul /= 10;
		}
	}
	if (strcmp(e, "Z") != 0 && strcmp(e, "+00:00") != 0 && *e != '\0')
		return -1;
	t = timegm(&tm);
	*us = (int64_t)t * 1000000 + frac;
	return 0;
}

static int parse_double(const char *s, double *v)
{
	char *e;
	errno = 0;
	*v = strtod(s, &e);
	return (errno || e == s || *e || !isfinite(*v)) ? -1 : 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *e;
	if (*s == '-')
		return -1;
	errno = 0;
	*v = strtoull(s, &e, 10);
	return (errno || e == s || *e) ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"products", required_argument, NULL, 'p'},
		{"start", required_argument, NULL, 's'},
		{"minutes", required_argument, NULL, 'm'},
		{"count", required_argument, NULL, 'n'},
		{"rate", required_argument, NULL, 'r'},
		{"seed", required_argument, NULL, 'S'},
		{"no-sizes-before", required_argument, NULL, 'B'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *products = "BTC-USD,ETH-USD", *start = "2023-04-24T15:00:00Z";
	double minutes = -1.0, rate = 2.0, nosizes = 0.0;
	uint64_t count = 0, seed = 1, sm;
	int have_count = 0, c, rc = 1, i;
	struct gen *g = NULL;
	const char *s;
	uint64_t lines = 0;

	while ((c = getopt_long(argc, argv, "p:s:m:n:r:S:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'p': products = optarg; break;
		case 's': start = optarg; break;
		case 'm':
			if (parse_double(optarg, &minutes) || minutes < 0) {
				fprintf(stderr, "%% gen-ticks: bad --minutes '%s'\n", optarg);
				return 2;
			}
			break;
		case 'n':
			if (parse_u64(optarg, &count)) {
				fprintf(stderr, "%% gen-ticks: bad --count '%s'\n", optarg);
				return 2;
			}
			have_count = 1;
			break;
		case 'r':
			if (parse_double(optarg, &rate) || rate <= 0 || rate > 1e6) {
				fprintf(stderr, "%% gen-ticks: bad --rate '%s'\n", optarg);
				return 2;
			}
			break;
		case 'S':
			if (parse_u64(optarg, &seed)) {
				fprintf(stderr, "%% gen-ticks: bad --seed '%s'\n", optarg);
				return 2;
			}
			break;
		case 'B':
			if (parse_double(optarg, &nosizes) || nosizes < 0) {
				fprintf(stderr, "%% gen-ticks: bad --no-sizes-before '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("gen-ticks %s\n", PIPELINE_VERSION);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%% gen-ticks: unexpected argument '%s'\n", argv[optind]);
		fputs(usage_text, stderr);
		return 2;
	}

	g = calloc(1, sizeof *g);
	if (!g || !(g->buf = malloc(OUT_BUF))) {
		fprintf(stderr, "%% gen-ticks: out of memory\n");
		goto out;
	}
	sm = seed;
	for (i = 0; i < 4; i++)
		g->rng.s[i] = splitmix64(&sm);
	g->tsec = INT64_MIN;
	if (parse_time(start, &g->start_us)) {
		fprintf(stderr, "%% gen-ticks: bad --start '%s' (want 2023-04-24T15:00:00Z)\n", start);
		rc = 2;
		goto out;
	}
	if (minutes < 0 && !have_count)
		minutes = 10.0;
	g->end_us = minutes < 0 ? INT64_MAX : g->start_us + (int64_t)llround(minutes * 60e6);
	g->count = have_count ? count : UINT64_MAX;
	g->nosizes_us = g->start_us + (int64_t)llround(nosizes * 60e6);
	g->seq = seq_base(g->start_us) + (int64_t)below(g, 100000);

	for (s = products; *s;) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		if (g->np == MAX_PRODUCTS ||
		    product_init(g, &g->p[g->np], s, len, g->np, rate)) {
			fprintf(stderr, "%% gen-ticks: bad --products '%s' (at most %d ids of < %d chars)\n",
				products, MAX_PRODUCTS, NAME_MAX_LEN);
			rc = 2;
			goto out;
		}
		g->np++;
		s += len + (e ? 1 : 0);
	}
	if (g->np == 0) {
		fprintf(stderr, "%% gen-ticks: no products\n");
		rc = 2;
		goto out;
	}
	for (i = 0; i < g->np; i++)
		g->p[i].next_us = g->start_us + next_gap(g, &g->p[i]);

	while (lines < g->count) {
		struct product *p = &g->p[0];
		for (i = 1; i < g->np; i++)
			if (g->p[i].next_us < p->next_us)
				p = &g->p[i];
		if (p->next_us >= g->end_us)
			break;
		emit(g, p);
		lines++;
		if (g->len > OUT_BUF - LINE_MAX_LEN && flush_out(g))
			goto out;
	}
	if (flush_out(g))
		goto out;
	rc = 0;
out:
	if (g)
		free(g->buf);
	free(g);
	return rc;
}

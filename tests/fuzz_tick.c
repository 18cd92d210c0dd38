/*
 * fuzz_tick.c - libFuzzer target for tick_parse and tick_parse_time.
 *
 * `make fuzz` (FUZZ_SECONDS=60) builds and runs it; by hand, from the repo root:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon \
 *         tests/fuzz_tick.c common/tick.c -ljansson -o /tmp/fuzz_tick
 *   mkdir -p /tmp/fuzz_corpus
 *   /tmp/fuzz_tick -max_total_time=60 -max_len=4096 /tmp/fuzz_corpus tests/data/bad
 *
 * libFuzzer writes new inputs into the FIRST directory only, so the scratch
 * directory goes first and tests/data/bad stays a read-only seed.  A crashing
 * input is saved as crash-<sha1>: add it to tests/data/bad with an .expect.
 *
 * Besides "no crash, no sanitizer report", the target checks the contract
 * itself and aborts when it is broken: a result of exactly 0 or -1, a
 * NUL-terminated one-line reason on failure, on success values inside the
 * documented ranges, and the fast path against jansson: whenever
 * tick_parse_fast takes a message, tick_parse_json must accept it with the
 * same values, bit for bit.
 */
#include "tick.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void fz_check_reason(const char *err, size_t cap)
{
	const char *nul = memchr(err, '\0', cap);
	if (!nul || nul == err || memchr(err, '\n', (size_t)(nul - err)))
		abort(); /* reason missing, empty, unterminated or multi-line */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tick t;
	char err[256];
	int64_t us;
	int rc;

	memset(err, 'x', sizeof err); /* no NUL unless tick_parse writes one */
	rc = tick_parse((const char *)data, size, &t, err, sizeof err);
	if (rc == 0) {
		size_t n = strnlen(t.product_id, TICK_PRODUCT_MAX);
		if (n == 0 || n >= TICK_PRODUCT_MAX)
			abort();
		if (!(t.price > 0) || !isfinite(t.price) || !(t.volume_24h >= 0) ||
		    !isfinite(t.volume_24h) || !(t.best_bid >= 0) || !isfinite(t.best_bid) ||
		    !(t.best_ask >= 0) || !isfinite(t.best_ask) || t.sequence < -1 ||
		    !(t.last_size >= 0) || !isfinite(t.last_size) || t.side < TICK_SIDE_NONE || t.side > TICK_SIDE_SELL)
			abort();
	} else if (rc == -1) {
		fz_check_reason(err, sizeof err);
	} else {
		abort();
	}

	/* The fast path never disagrees with the reference parser. */
	{
		struct tick f, j;
		char jerr[256];
		int r = tick_parse_fast((const char *)data, size, &f);
		int rj = tick_parse_json((const char *)data, size, &j, jerr, sizeof jerr);
		if (r != 0 && r != -1)
			abort();
		int rf = r == 0; /* taken */
		if ((rc == 0) != (rj == 0))
			abort();
		if (rf == 1 && (rj != 0 || strcmp(f.product_id, j.product_id) != 0 ||
		                f.time_us != j.time_us || f.sequence != j.sequence || f.trade_id != j.trade_id ||
		                memcmp(&f.price, &j.price, sizeof f.price) != 0 ||
		                memcmp(&f.volume_24h, &j.volume_24h, sizeof f.volume_24h) != 0 ||
		                memcmp(&f.best_bid, &j.best_bid, sizeof f.best_bid) != 0 ||
		                memcmp(&f.best_ask, &j.best_ask, sizeof f.best_ask) != 0 ||
		                memcmp(&f.last_size, &j.last_size, sizeof f.last_size) != 0 || f.side != j.side))
			abort();
	}

	/* The same bytes as a timestamp: most are rejected, which is the point. */
	rc = tick_parse_time((const char *)data, size, &us);
	if (rc != 0 && rc != -1)
		abort();
	/* accepted times lie within year 1970..9999 give or take the offset */
	if (rc == 0 && (us < -86400LL * 1000000 || us >= 253402387200LL * 1000000))
		abort();
	return 0;
}

/*
 * tick.h - parse one raw Coinbase ticker message (jansson) against the schema
 * the aggregator needs; reject anything else with a reason.
 */
#ifndef TICK_H
#define TICK_H

/* The largest price, size or volume taken: a window sums up to ~10^8 of them,
 * and the sum must stay finite (two ticks at 1e308 made an Infinity in the
 * CSV).  No market quotes anything near it. */
#define TICK_DECIMAL_MAX 1e300

#include <stddef.h>
#include <stdint.h>

#define TICK_PRODUCT_MAX 32      /* longest product id accepted, incl. NUL */

/* The product-id rule both programs use: 1 to TICK_PRODUCT_MAX - 1 ASCII
 * letters, digits and '-' (Coinbase's BASE-QUOTE).  No field of the CSV can
 * then need quoting. Returns 1 when s[0..n) is one. */
int tick_product_id_ok(const char *s, size_t n);

/* Whether a topic is named after a product, as the producer names them by
 * default (topic == product id): a product id of Coinbase's form BASE-QUOTE,
 * capitals and digits on both sides of one dash ("BTC-USD", "1INCH-USD").
 * "ticks" (-t TOPIC) or "cb.BTC-USD" (--topic-prefix) are not. */
int tick_topic_is_product(const char *topic);
#define TICK_MAX_BYTES   65536   /* larger messages are rejected unparsed */

struct tick {
	char product_id[TICK_PRODUCT_MAX]; /* e.g. "BTC-USD" */
	int64_t time_us;     /* event time, microseconds since the epoch (UTC) */
	double price;        /* last trade price, > 0 */
	double volume_24h;   /* >= 0 */
	double best_bid;     /* >= 0 */
	double best_ask;     /* >= 0 */
	int64_t sequence;    /* feed sequence number, -1 when absent */
	int64_t trade_id;    /* never validated: the integer when it is one >= 0, else -1 */
	double last_size;    /* the trade's size, >= 0; 0 when absent (no volume) */
	int64_t side;        /* TICK_SIDE_*: never validated, NONE unless "buy"/"sell" */
};
/* The taker's side of the trade that made the tick (the feed's "side"). */
enum { TICK_SIDE_NONE = 0, TICK_SIDE_BUY = 1, TICK_SIDE_SELL = 2 };

/* Parses buf[0..len) into *t. Returns 0, or -1 with a one-line reason in err.
 * = tick_parse_fast, and tick_parse_json when the fast path declines. */
int tick_parse(const char *buf, size_t len, struct tick *t, char *err, size_t errlen);

/* The two parsers behind tick_parse, exported for the differential tests.
 * tick_parse_json: the reference (jansson); every rejection and its reason.
 * tick_parse_fast: flat, escape-free ASCII ticker objects only; returns 0 with
 * *t exactly as tick_parse_json would set it, or -1 (declined, *t untouched):
 * never a verdict on its own. */
int tick_parse_json(const char *buf, size_t len, struct tick *t, char *err, size_t errlen);
int tick_parse_fast(const char *buf, size_t len, struct tick *t);

/* tick_parse_fast without price, volume_24h, best_bid, best_ask and
 * last_size (left 0,
 * never looked at): for the producer, which publishes the bytes as they are
 * and needs only product_id, time, sequence and trade_id. */
int tick_parse_head(const char *buf, size_t len, struct tick *t);

/* ISO-8601 UTC ("2023-04-24T15:01:47.940047Z", 0..9 fraction digits, 'Z' or
 * "+00:00"-style offset) -> microseconds since the epoch (fraction truncated).
 * Returns 0, or -1 when s[0..len) is not a valid timestamp. */
int tick_parse_time(const char *s, size_t len, int64_t *us);

#endif

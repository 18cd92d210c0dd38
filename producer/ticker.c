/*
 * ticker.c - the feed's messages (producer.h): a ticker parsed (the fast
 * path, else jansson), deduplicated by sequence (common/seqrule.h), its
 * trade-id gaps counted, and published; heartbeats, errors, the
 * subscription, and the feed connection's callbacks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "producer.h"

/* Tick time -> ms since the epoch (the Kafka timestamp), with the
 * aggregator's strict ISO-8601 parser; the fraction is truncated. */
static int producer_time_ms(const char *s, size_t len, int64_t *ms)
{
	int64_t us;
	if (tick_parse_time(s, len, &us) < 0)
		return -1;
	*ms = producer_us_to_ms(us);
	return 0;
}

struct product *find_product(struct prod_ctx *c, const char *id)
{
	for (int i = 0; i < c->nprod; i++)
		if (!strcmp(c->prod[i].id, id))
			return &c->prod[i];
	return NULL;
}

/* Shows at most 80 bytes of a bad message, non-printables as '.'. */
static void snippet(const char *buf, size_t len, char out[84])
{
	size_t i, n = len < 80 ? len : 80;

	for (i = 0; i < n; i++)
		out[i] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '.';
	out[i] = '\0';
}

static void bad_message(struct prod_ctx *c, const char *why, const char *buf,
			size_t len)
{
	char s[84];

	c->n.malformed++;
	if (!rl_allow(c, &c->rl_bad, "bad-message"))
		return;
	snippet(buf, len, s);
	plog(c, LOG_WARN, "malformed message (%s), %zu bytes: %s", why, len, s);
}

/* Any well-formed feed message proves the feed alive (the connection's
 * watchdog is reset). */
static void feed_alive(struct prod_ctx *c)
{
	c->alive = 1;
}

/* Reads an optional integer member: 1 found, 0 absent, -1 wrong type. */
static int get_int(json_t *o, const char *key, int64_t *v)
{
	json_t *j = json_object_get(o, key);

	if (!j || json_is_null(j))
		return 0;
	if (!json_is_integer(j))
		return -1;
	*v = json_integer_value(j);
	return 1;
}

/*
 * The checks every ticker of a subscribed product passes once its fields are
 * read, by either parser: drop it as a duplicate when its sequence (hs: one
 * is present) is a replay (check_sequence), count a trade_id gap (ht: one is
 * present), then publish buf unchanged with timestamp ts_ms.
 */
/* What the producer reads of a ticker: its time and the two ids, each
 * optional. */
struct ticker_ids {
	int64_t ts_ms;        /* Kafka timestamp */
	int has_seq, has_trade;
	int64_t seq, trade;
};

/* The Kafka timestamp of a tick: its own time (what --start-at and time
 * retention count by), but never later than the clock.  Kafka rejects a
 * record more than log.message.timestamp.after.max.ms (1 h by default) ahead
 * of the broker's clock, and the error fails the whole batch: one tick dated
 * ahead cost the hundreds around it.  No live tick is from the future; such a
 * one gets the produce time (its time stays in the payload, which is what
 * the aggregator reads), counted and said at 1, 10, 100, ... */
static int64_t kafka_timestamp(struct prod_ctx *c, const struct product *p, int64_t ts_ms)
{
	struct timespec now;
	int64_t now_ms;

	clock_gettime(CLOCK_REALTIME, &now);
	now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	if (ts_ms <= now_ms)
		return ts_ms;
	c->n.future++;
	if (log_decade((int64_t)c->n.future, 1)) {
		time_t secs = (time_t)(ts_ms / 1000);
		struct tm tm;
		char when[32];

		gmtime_r(&secs, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		plog(c, LOG_WARN, "%s: tick time %s.%03dZ is %" PRId64 " s ahead of the clock: its Kafka timestamp is "
		     "the time it was produced (%" PRIu64 " such tick(s) so far)", p->id, when, (int)(ts_ms % 1000),
		     (ts_ms - now_ms) / 1000, c->n.future);
	}
	return now_ms;
}

/* The sequence rule (common/seqrule.h), as the aggregator applies it: a
 * replay is dropped, one absurd or reset sequence is published and said, but
 * moves the largest only once a run confirms it.  Returns 0 to publish. */
static int check_sequence(struct prod_ctx *c, struct product *p, int64_t seq)
{
	int64_t from;

	switch (seqrule_check(&p->seq, seq, &from)) {
	case SEQRULE_DUPLICATE:
		c->n.dups++;
		p->dups++;
		/* A resend after a subscribe is one tick; more says something is
		 * wrong: 5, 50, 500, ... */
		if (log_decade((int64_t)p->dups, 5))
			plog(c, LOG_WARN, "%s: %" PRIu64 " duplicates so far (sequence %" PRId64 " not above %" PRId64
			     "): a replay of the feed, or its sequence went back", p->id, p->dups, seq, from);
		else
			plog(c, LOG_DEBUG, "%s: duplicate/stale tick sequence %" PRId64 " (last %" PRId64 ") dropped",
			     p->id, seq, from);
		return -1;
	case SEQRULE_WAS_OUTLIER:
		plog(c, LOG_WARN, "%s: the largest sequence %" PRId64 " was an outlier: %d ticks from %" PRId64 " on",
		     p->id, from, SEQRULE_CONFIRM, seq);
		return 0;
	case SEQRULE_JUMPED:
		plog(c, LOG_INFO, "%s: sequence jumped from %" PRId64 " to %" PRId64 ", confirmed by %d ticks", p->id,
		     from, seq, SEQRULE_CONFIRM);
		return 0;
	case SEQRULE_AHEAD_FIRST:
		plog(c, LOG_WARN, "%s: sequence %" PRId64 " is far above %" PRId64 ": published, not taken as the "
		     "largest until %d ticks confirm it", p->id, seq, from, SEQRULE_CONFIRM);
		return 0;
	default:
		return 0;
	}
}

static void accept_ticker(struct prod_ctx *c, struct product *p, const char *buf,
			  size_t len, const struct ticker_ids *id)
{
	int64_t trade = id->trade;

	if (check_sequence(c, p, id->has_seq ? id->seq : -1))
		return;
	if (id->has_trade && p->last_trade >= 0 && trade > p->last_trade + 1) {
		uint64_t gap = (uint64_t)(trade - p->last_trade - 1);

		c->n.missed += gap;
		p->missed += gap;
		plog(c, LOG_WARN, "%s: missed %" PRIu64 " trade(s): trade_id %"
		     PRId64 " -> %" PRId64 " (%" PRIu64 " missed so far)", p->id,
		     gap, p->last_trade, trade, p->missed);
	}
	if (id->has_trade && trade > p->last_trade)
		p->last_trade = trade;
	publish(c, p, buf, len, kafka_timestamp(c, p, id->ts_ms));
}

/* A ticker of a subscribed product?  Counts and logs the ones that are not. */
static struct product *ticker_product(struct prod_ctx *c, const char *id)
{
	struct product *p = find_product(c, id);

	if (!p) {
		c->n.unknown++;
		if (rl_allow(c, &c->rl_bad, "bad-message"))
			plog(c, LOG_WARN, "tick of unsubscribed product %s dropped",
			     id);
	}
	return p;
}

/* A ticker parsed by jansson: dedup on sequence, gap check on trade_id, then
 * publish. */
static void handle_ticker(struct prod_ctx *c, json_t *root, const char *buf,
			  size_t len)
{
	json_t *jp = json_object_get(root, "product_id");
	json_t *jt = json_object_get(root, "time");
	struct product *p;
	struct ticker_ids id = { .seq = -1, .trade = -1 };
	int hs, ht;

	c->n.ticks++;
	if (!json_is_string(jp) || !json_is_string(jt)) {
		bad_message(c, "ticker without product_id or time", buf, len);
		return;
	}
	if (!(p = ticker_product(c, json_string_value(jp))))
		return;
	if (producer_time_ms(json_string_value(jt), json_string_length(jt), &id.ts_ms)) {
		bad_message(c, "bad time", buf, len);
		return;
	}
	hs = get_int(root, "sequence", &id.seq);
	ht = get_int(root, "trade_id", &id.trade);
	if (hs < 0 || ht < 0) {
		bad_message(c, "sequence/trade_id not integers", buf, len);
		return;
	}
	id.has_seq = hs;
	id.has_trade = ht;
	accept_ticker(c, p, buf, len, &id);
}

/*
 * The fast path for what the feed sends most: a flat, escape-free ticker that
 * the aggregator's scanner accepts (tick_parse_head: its tick_parse_fast
 * without the decimals, which the producer never reads), with a non-negative
 * integer or absent trade_id.  Returns 1 when the message was handled exactly
 * as handle_message + handle_ticker would have (same counters, same checks,
 * same bytes, key and timestamp published), 0 to leave it to jansson.
 * Declining is never a verdict: such messages still go through handle_ticker
 * and are published as before.
 */
static int handle_ticker_fast(struct prod_ctx *c, const char *buf, size_t len)
{
	struct tick t;
	struct product *p;

	if (tick_parse_head(buf, len, &t) < 0)
		return 0;
	c->n.frames++;
	feed_alive(c);
	c->n.ticks++;
	if (!(p = ticker_product(c, t.product_id)))
		return 1;
	/* tick_parse_head: sequence and trade_id are -1 when absent; it
	 * declines any other form of them, left to handle_ticker */
	struct ticker_ids id = { producer_us_to_ms(t.time_us), t.sequence >= 0, t.trade_id >= 0,
				 t.sequence, t.trade_id };
	accept_ticker(c, p, buf, len, &id);
	return 1;
}

/* A feed "error": logged; one that rejects the subscription is fatal. */
static void handle_error(struct prod_ctx *c, json_t *root)
{
	const char *msg = json_string_value(json_object_get(root, "message"));
	const char *reason = json_string_value(json_object_get(root, "reason"));

	c->n.feed_errors++;
	msg = msg ? msg : "(no message)";
	reason = reason ? reason : "(no reason)";
	if (!c->subscribed || strstr(msg, "ubscri") || strstr(reason, "ubscri")) {
		plog(c, LOG_ERROR, "feed rejected the subscription: %s: %s", msg,
		     reason);
		request_stop(c, EX_FEED);
		return;
	}
	plog(c, LOG_ERROR, "feed error: %s: %s", msg, reason);
}

/* One complete ws message from the feed. */
static void handle_message(struct prod_ctx *c, const char *buf, size_t len)
{
	json_error_t jerr;
	json_t *root;
	const char *type;

	if (handle_ticker_fast(c, buf, len))
		return;
	root = json_loadb(buf, len, 0, &jerr);
	c->n.frames++;
	if (!root || !json_is_object(root) ||
	    !(type = json_string_value(json_object_get(root, "type")))) {
		bad_message(c, root ? "no type" : jerr.text, buf, len);
		goto done;
	}
	feed_alive(c);
	if (!strcmp(type, "ticker")) {
		handle_ticker(c, root, buf, len);
	} else if (!strcmp(type, "heartbeat")) {
		c->n.heartbeats++;
	} else if (!strcmp(type, "subscriptions")) {
		char *s = json_dumps(json_object_get(root, "channels"), JSON_COMPACT);

		c->subscribed = 1;
		fconn_confirmed(c->feed);
		plog(c, LOG_INFO, "subscribed: %s", s ? s : "?");
		free(s);
	} else if (!strcmp(type, "error")) {
		handle_error(c, root);
	} else {
		plog(c, LOG_DEBUG, "ignoring feed message type %s", type);
	}
done:
	json_decref(root);
}

/* {"type":"subscribe","channels":[{"name":"ticker","product_ids":[..]},
 *  {"name":"heartbeat","product_ids":[..]}]} */
int build_subscribe(struct prod_ctx *c)
{
	json_t *ids = json_array(), *root;

	for (int i = 0; i < c->nprod; i++)
		json_array_append_new(ids, json_string(c->prod[i].id));
	root = json_pack("{s:s, s:[{s:s, s:O}, {s:s, s:O}]}", "type", "subscribe",
			 "channels", "name", "ticker", "product_ids", ids, "name",
			 "heartbeat", "product_ids", ids);
	json_decref(ids);
	if (!root)
		return -1;
	c->sub = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return c->sub ? 0 : -1;
}

/*
 * The feed connection's events (feed/conn.h).
 */
void on_feed_opened(void *opaque)
{
	struct prod_ctx *c = opaque;

	c->subscribed = 0;
}

int on_feed_message(void *opaque, const char *buf, size_t len)
{
	struct prod_ctx *c = opaque;

	c->alive = 0;
	handle_message(c, buf, len);
	return c->alive;
}

void on_feed_oversized(void *opaque, size_t len)
{
	struct prod_ctx *c = opaque;

	c->n.oversized++;
	if (rl_allow(c, &c->rl_bad, "bad-message"))
		plog(c, LOG_WARN, "message of %zu bytes (over %d) dropped", len, MSG_MAX);
}

/* The feed closing the connection on the retired hostname is fatal. */
int on_feed_closed(void *opaque, int code, const char *why)
{
	struct prod_ctx *c = opaque;

	(void)code;
	if (!strstr(why, "deprecated hostname"))
		return 0;
	plog(c, LOG_ERROR, "feed closed the connection: \"%s\": the hostname %s is retired, use --url %s",
	     why, fconn_host(c->feed), PCLI_DEFAULT_URL);
	request_stop(c, EX_FEED);
	return 1;
}

void on_feed_fatal(void *opaque)
{
	struct prod_ctx *c = opaque;

	request_stop(c, EX_FEED);
}

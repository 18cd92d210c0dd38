/*
 * report.c - what the producer tells: the status line, and for --http
 * /metrics, the page's /api/status and /healthz's verdict.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpd.h"
#include "metrics.h"
#include "producer.h"

static int64_t report_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static json_t *report_age(lws_usec_t now, lws_usec_t at)
{
	return at ? json_real((double)(now - at) / 1e6) : json_null();
}

/* Ticks wait for Kafka: in flight, in the spool, or failed since the last
 * acknowledgement (without a spool a failed tick is gone, not waiting, but
 * Kafka is refusing them all the same). */
static int report_waiting(const struct prod_ctx *c)
{
	return c->direct_inflight || c->win_pending || c->spooling || c->last_fail > c->last_ack;
}

/* /api/status: what the page shows, one JSON object (docs/live-page.md). */
static void publish_status(struct prod_ctx *c, lws_usec_t now)
{
	const struct fconn_stats *fs = c->feed ? fconn_stats(c->feed) : NULL;
	int open = c->feed && fconn_open(c->feed);
	json_t *prods = json_array();
	for (int i = 0; i < c->nprod; i++) {
		const struct product *p = &c->prod[i];
		json_array_append_new(prods, json_pack("{s:s,s:s,s:I,s:I,s:I,s:o}", "id", p->id, "topic", p->topic,
			"published", (json_int_t)p->published, "duplicates", (json_int_t)p->dups,
			"missed_trades", (json_int_t)p->missed,
			"last_trade_id", p->last_trade >= 0 ? json_integer(p->last_trade) : json_null()));
	}
	json_t *feed = json_pack("{s:s,s:s,s:b,s:b,s:o,s:o,s:I,s:I,s:I,s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
		"url", c->conf.url, "state", open && c->subscribed ? "connected" : open ? "subscribing" :
		c->state != PROD_RUNNING ? "closing" : "disconnected", "connected", open, "subscribed", open && c->subscribed,
		"down_for_s", report_age(now, c->feed_down_since),
		"silence_s", open && fconn_silence_us(c->feed) >= 0 ? json_real((double)fconn_silence_us(c->feed) / 1e6)
		: json_null(),
		"attempts", (json_int_t)(fs ? fs->attempts : 0), "reconnects", (json_int_t)(fs ? fs->reconnects : 0),
		"silences", (json_int_t)(fs ? fs->silences : 0), "ticks", (json_int_t)c->n.ticks, "ticks_per_s", c->rate,
		"heartbeats", (json_int_t)c->n.heartbeats, "duplicates", (json_int_t)c->n.dups,
		"missed_trades", (json_int_t)c->n.missed, "malformed", (json_int_t)(c->n.malformed + c->n.oversized),
		"unknown", (json_int_t)c->n.unknown, "future", (json_int_t)c->n.future,
		"errors", (json_int_t)c->n.feed_errors);
	json_t *kafka = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:b}", "brokers", c->conf.brokers,
		"published", (json_int_t)c->n.published, "delivered", (json_int_t)c->n.delivered,
		"in_flight", (json_int_t)(c->direct_inflight + c->win_pending), "failed", (json_int_t)c->n.failed,
		"unqueued", (json_int_t)c->n.unqueued, "queue_full", (json_int_t)c->n.queue_full,
		"lost", (json_int_t)c->n.lost, "last_ack_s", report_age(now, c->last_ack),
		"last_error", c->last_fail > c->last_ack ? json_string(rd_kafka_err2str(c->last_err)) : json_null(),
		"fatal", c->kafka_fatal);
	json_t *spool = json_pack("{s:b,s:o,s:b,s:I,s:I,s:I,s:I}", "enabled", c->spool != NULL,
		"path", c->spool ? json_string(spool_path(c->spool)) : json_null(), "active", c->spooling,
		"ticks", (json_int_t)(c->spool ? spool_records(c->spool) : 0),
		"bytes", (json_int_t)(c->spool ? spool_end(c->spool) : 0), "spooled", (json_int_t)c->n.spooled,
		"replayed", (json_int_t)c->n.replayed);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	json_t *root = json_pack("{s:s,s:s,s:I,s:i,s:o,s:o,s:o,s:o}", "program", "producer", "version", PIPELINE_VERSION,
		"now", (json_int_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, "unhealthy_after_s", c->conf.unhealthy_s,
		"feed", feed, "kafka", kafka, "spool", spool, "products", prods);
	char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
	if (text)
		httpd_publish(c->metrics, "status", text, strlen(text));
	free(text);
	json_decref(root);
}

/* /healthz: 503 once the feed has been down (not connected, or its
 * subscription not confirmed), or Kafka has acknowledged nothing while ticks
 * wait, for longer than --unhealthy-after; at once on a Kafka fatal error.
 * The server judges at request time (httpd_health), so a producer whose
 * loop stalls turns it 503 as well. */
static void publish_health(struct prod_ctx *c, lws_usec_t now)
{
	lws_usec_t bound = (lws_usec_t)c->conf.unhealthy_s * LWS_US_PER_SEC;
	const struct fconn_stats *fs = c->feed ? fconn_stats(c->feed) : NULL;
	struct { lws_usec_t at; char why[300]; } v[2];
	int nv = 0;

	if (c->kafka_fatal) {
		httpd_health(c->metrics, 1, "Kafka fatal error: the producer stops");
		return;
	}
	if (c->feed_down_since) {
		v[nv].at = c->feed_down_since + bound;
		snprintf(v[nv++].why, sizeof(v[0].why), "feed down: not connected to %s for more than %d s (%" PRIu64
		         " attempts)", c->conf.url, c->conf.unhealthy_s, fs ? fs->attempts : 0);
	}
	if (report_waiting(c)) {
		int failing = c->last_fail > c->last_ack;
		v[nv].at = (c->last_ack > c->started ? c->last_ack : c->started) + bound;
		snprintf(v[nv++].why, sizeof(v[0].why), "Kafka takes nothing: no tick acknowledged for more than %d s "
		         "while %" PRIu64 " wait%s%s%s", c->conf.unhealthy_s, c->direct_inflight + c->win_pending +
		         (c->spool ? spool_records(c->spool) : 0), c->spooling ? " (spooling)" : "",
		         failing ? "; last error: " : "", failing ? rd_kafka_err2str(c->last_err) : "");
	}
	if (!nv) {
		httpd_health(c->metrics, 0, NULL);
		return;
	}
	/* due first: its reason; both due already: both */
	int first = nv == 2 && v[1].at < v[0].at;
	char reason[620];
	if (nv == 2 && v[0].at <= now && v[1].at <= now)
		snprintf(reason, sizeof(reason), "%s; %s", v[0].why, v[1].why);
	else
		snprintf(reason, sizeof(reason), "%s", v[first].why);
	/* the server's clock is CLOCK_MONOTONIC: the time, in lws's, moved onto it */
	int64_t at = report_mono() + (v[first].at - now);
	httpd_health(c->metrics, at > 0 ? at : 1, reason);
}

/* --http: /metrics, /api/status and /healthz, made at most once a second. */
void publish_metrics(struct prod_ctx *c, lws_usec_t now, int force)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	const struct fconn_stats *fs = c->feed ? fconn_stats(c->feed) : NULL;

	if (!c->metrics || (!force && now - c->metrics_at < LWS_US_PER_SEC) || !(f = open_memstream(&text, &len)))
		return;
	if (c->metrics_at && now > c->metrics_at)
		c->rate = (double)(c->n.ticks - c->rate_ticks) * 1e6 / (double)(now - c->metrics_at);
	c->rate_ticks = c->n.ticks;
	c->metrics_at = now;
	publish_status(c, now);
	publish_health(c, now);
	static const struct { const char *name, *help; int what; } per_product[] = {
		{ "producer_ticks_published_total", "Ticks handed to Kafka, per product.", 0 },
		{ "producer_duplicate_ticks_total", "Ticks dropped as replays of the feed (sequence not above the last).", 1 },
		{ "producer_missed_trades_total", "Trades the feed skipped (trade_id gaps).", 2 },
	};
	for (size_t k = 0; k < sizeof(per_product) / sizeof(per_product[0]); k++) {
		metrics_family(f, per_product[k].name, "counter", per_product[k].help);
		for (int i = 0; i < c->nprod; i++) {
			const struct product *p = &c->prod[i];
			fprintf(f, "%s{product=\"%s\",topic=\"%s\"} %" PRIu64 "\n", per_product[k].name, p->id, p->topic,
				per_product[k].what == 0 ? p->published : per_product[k].what == 1 ? p->dups : p->missed);
		}
	}
	static const struct { const char *name, *help; } totals[] = {
		{ "producer_ticks_received_total", "Ticker messages received from the feed." },
		{ "producer_messages_delivered_total", "Ticks Kafka acknowledged." },
		{ "producer_delivery_failures_total", "Ticks Kafka failed to take (delivery reports with an error)." },
		{ "producer_unqueued_total", "Ticks librdkafka refused to queue." },
		{ "producer_queue_full_waits_total", "Waits for room in librdkafka's queue." },
		{ "producer_malformed_messages_total", "Feed messages that were no valid JSON or ticker." },
		{ "producer_reconnects_total", "Connection attempts after the first." },
		{ "producer_silences_total", "Connections dropped after --silence-timeout without a message." },
		{ "producer_future_ticks_total", "Ticks dated ahead of the clock, stamped with the produce time." },
		{ "producer_spooled_ticks_total", "Ticks written to the spool while Kafka was away." },
		{ "producer_replayed_ticks_total", "Spooled ticks Kafka acknowledged." },
		{ "producer_lost_ticks_total", "Ticks given up: spool full, refused by Kafka, or failed without a spool." },
	};
	uint64_t v[] = { c->n.ticks, c->n.delivered, c->n.failed, c->n.unqueued, c->n.queue_full, c->n.malformed,
			 fs ? fs->reconnects : 0, fs ? fs->silences : 0, c->n.future, c->n.spooled, c->n.replayed,
			 c->n.lost };
	for (size_t k = 0; k < sizeof(totals) / sizeof(totals[0]); k++) {
		metrics_family(f, totals[k].name, "counter", totals[k].help);
		fprintf(f, "%s %" PRIu64 "\n", totals[k].name, v[k]);
	}
	int64_t silence = c->feed ? fconn_silence_us(c->feed) : -1;
	metrics_family(f, "producer_feed_connected", "gauge", "1 while the feed connection is open.");
	fprintf(f, "producer_feed_connected %d\n", c->feed && fconn_open(c->feed));
	if (silence >= 0) {
		metrics_family(f, "producer_feed_silence_seconds", "gauge", "Time since the feed's last message.");
		fprintf(f, "producer_feed_silence_seconds %.3f\n", (double)silence / 1e6);
	}
	metrics_family(f, "producer_messages_in_flight", "gauge", "Ticks queued or sent, not acknowledged yet.");
	fprintf(f, "producer_messages_in_flight %" PRIu64 "\n", c->direct_inflight + c->win_pending);
	metrics_family(f, "producer_spool_ticks", "gauge", "Ticks in the spool file (delivered ones until it is emptied).");
	fprintf(f, "producer_spool_ticks %" PRIu64 "\n", c->spool ? spool_records(c->spool) : 0);
	fclose(f);
	httpd_publish(c->metrics, "metrics", text, len);
	free(text);
}

/* The status line ("status", every --status-interval) and the last one
 * ("final": at info, or as a warning when ticks went undelivered or missed,
 * so that -q still shows it then). */
void print_status(struct prod_ctx *c, const char *label, double secs)
{
	uint64_t inflight = c->direct_inflight + c->win_pending;
	double rate = secs > 0 ? (double)(c->n.ticks - c->last_status_ticks) / secs : 0;
	int bad = !strcmp(label, "final") && (c->n.lost || c->n.unqueued || c->n.missed || inflight || c->spooling);

	plog(c, bad ? LOG_WARN : LOG_INFO, "%s: ticks/s %.1f ticks %" PRIu64 " published %" PRIu64
	     " delivered %" PRIu64 " in-flight %" PRIu64 " failed %" PRIu64
	     " unqueued %" PRIu64 " reconnects %" PRIu64 " duplicates %" PRIu64 " missed-trades %"
	     PRIu64 " malformed %" PRIu64 " oversized %" PRIu64 " unknown %"
	     PRIu64 " queue-full %" PRIu64 " spooled %" PRIu64 " replayed %" PRIu64 " in-spool %" PRIu64
	     " lost %" PRIu64, label, rate, c->n.ticks, c->n.published,
	     c->n.delivered, inflight, c->n.failed, c->n.unqueued, fconn_stats(c->feed)->reconnects, c->n.dups,
	     c->n.missed, c->n.malformed, c->n.oversized, c->n.unknown, c->n.queue_full, c->n.spooled,
	     c->n.replayed, c->spool ? spool_records(c->spool) : 0, c->n.lost);
}

/*
 * report.c - what the producer tells: the status line and /metrics.
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

/* --metrics: what Prometheus scrapes, made at most once a second. */
void publish_metrics(struct prod_ctx *c, lws_usec_t now, int force)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	const struct fconn_stats *fs = c->feed ? fconn_stats(c->feed) : NULL;

	if (!c->metrics || (!force && now - c->metrics_at < LWS_US_PER_SEC) || !(f = open_memstream(&text, &len)))
		return;
	c->metrics_at = now;
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

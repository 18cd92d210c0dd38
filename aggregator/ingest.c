/*
 * ingest.c - one Kafka message into the engine: its offset checked against
 * the state's (data loss), the tick parsed or the message rejected, the
 * feed's sequence and event time confirmed (outlier.c), and the tick added to
 * every window it falls in that the sink has not written out yet.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine_int.h"
#include "fmt.h"
#include "outlier.h"
#include "sink.h"
#include "tick.h"

static void eng_reject(struct engine *e, struct eng_part *p, const rd_kafka_message_t *m, const char *reason)
{
	char err[512];
	int r = store_rejected_add(e->st, p->topic, p->partition, m->offset, reason, m->payload, m->len,
	                           err, sizeof(err));
	if (r < 0) {
		eng_fatal(e, eng_state_code(e), err);
		return;
	}
	if (r > 0 && !e->rejected_full) {
		e->rejected_full = 1;
		eng_log(e, LOG_WARN, "the rejected table is at its budget (100000 messages): further rejected messages "
		        "are only counted (partitions.rejected)");
	}
	p->s.rejected++;
	e->total.rejected++;
	if (e->cfg->verbosity >= LOG_DEBUG || p->s.rejected <= 3)
		eng_log(e, LOG_INFO, "rejected %s [%d] offset %" PRId64 ": %s%s", p->topic, p->partition,
		        m->offset, reason, p->s.rejected == 3 ? " (further rejections are counted in the state)" : "");
}

/* A tick far ahead of its partition's event time would close windows that
 * the ticks after it still fall in (one tick 55 minutes ahead made ~2200
 * on-time ticks late): outlier_time moves the event time there only when
 * confirmed.  "Far" is more than the watermark delay (at least a minute):
 * a smaller jump cannot make a tick at or after the old event time late.
 * Returns the partition's event time after tick time t. */
static int64_t eng_event_time(struct engine *e, struct eng_part *p, int64_t t)
{
	int64_t jump = e->cfg->delay_us > 60000000 ? e->cfg->delay_us : 60000000, from;
	char a[FMT_BUF], b[FMT_BUF];

	switch (outlier_time(&p->s, t, jump, &from)) {
	case OUTLIER_STARTED:
		if (from == WM_NONE)
			break;
		fmt_time_or(t, "none", a);
		fmt_time_or(from, "none", b);
		eng_log(e, LOG_INFO, "%s [%d]: a tick at %s is %.0f s ahead of the partition's event time %s: counted, "
		        "but not taken as its event time until %d ticks in a row confirm it", p->topic, p->partition,
		        a, (double)(t - from) / 1e6, b, OUTLIER_TIME_CONFIRM);
		break;
	case OUTLIER_CONFIRMED:
		if (from == WM_NONE)
			break;
		fmt_time_or(from, "none", a);
		fmt_time_or(p->s.max_time, "none", b);
		eng_log(e, LOG_INFO, "%s [%d]: event time jumped from %s to %s, confirmed by %d ticks", p->topic,
		        p->partition, a, b, OUTLIER_TIME_CONFIRM);
		break;
	default:
		break;
	}
	return p->s.max_time;
}

/* A tick in a window the sink has already written out: dropped and counted.
 * Late should not happen (see the watermark): said at 1, 10, 100, ... */
static void eng_late(struct engine *e, const struct eng_part *p, struct eng_product *pr, const struct tick *tk,
                     int64_t end)
{
	char at[FMT_BUF], wend[FMT_BUF], wm[FMT_BUF];

	pr->s.late++;
	e->total.late++;
	if (!log_decade(pr->s.late, 1))
		return;
	fmt_time_or(tk->time_us, "none", at);
	fmt_time_or(end, "none", wend);
	fmt_time_or(e->watermark, "none", wm);
	eng_log(e, LOG_WARN, "%s [%d] %s: %" PRId64 " late tick%s so far (dropped; counted in products.late): the "
	        "last at %s, its window ending %s already closed by the watermark %s", p->topic, p->partition,
	        pr->s.product_id, pr->s.late, pr->s.late > 1 ? "s" : "", at, wend, wm);
}

/* Adds a counted tick to every window it falls in that is still open; a
 * window not in memory is read from the state first.  0, or -1 after
 * eng_fatal. */
static int eng_windows(struct engine *e, const struct eng_part *p, uint32_t pidx, struct eng_product *pr,
                       uint32_t idx, const struct tick *tk)
{
	int n = win_assign(tk->time_us, e->cfg->window_us, e->cfg->slide_us, e->starts, WIN_MAX_PER_TICK);
	int64_t closed = e->sink->ops->closed_until(e->sink, p); /* what the sink has written out */

	for (int i = 0; i < n; i++) {
		int64_t end = e->starts[i] + e->cfg->window_us;
		if (closed != WM_NONE && end <= closed) {
			eng_late(e, p, pr, tk, end);
			continue;
		}
		struct win_key key = { .part = pidx, .product = idx, .start = e->starts[i] };
		struct win_entry *w = win_table_get(&e->wins, &key);
		if (!w) {
			eng_fatal(e, AGG_EXIT_RUNTIME, "out of memory");
			return -1;
		}
		if (!w->loaded) {
			struct store_wkey k = { p->topic, p->partition, tk->product_id, key.start, end };
			if (store_window_get(e->st, &k, &w->agg) < 0) {
				eng_fatal(e, eng_state_code(e), "state: cannot read a window");
				return -1;
			}
			w->loaded = 1;
		}
		win_agg_add(&w->agg, tk);
		w->dirty = 1;
	}
	return 0;
}

/* Adds a valid tick to every window it falls in that is still open. */
static void eng_tick(struct engine *e, struct eng_part *p, uint32_t pidx, const struct tick *tk, int64_t now)
{
	uint32_t idx;
	struct eng_product *pr = eng_product_get(p, tk->product_id, &idx);

	if (!pr) {
		eng_fatal(e, AGG_EXIT_RUNTIME, "out of memory");
		return;
	}
	pr->dirty = 1;
	int64_t from;
	switch (outlier_sequence(&pr->s, tk->sequence, &from)) {
	case OUTLIER_SEQ_DUPLICATE:
		pr->s.duplicates++;
		e->total.duplicates++;
		/* A replay is a handful; more says something is wrong: 5, 50, 500, ... */
		if (log_decade(pr->s.duplicates, 5))
			eng_log(e, LOG_WARN, "%s [%d] %s: %" PRId64 " duplicates so far (sequence %" PRId64
			        " not above %" PRId64 "): a replay of the feed, or its sequence went back",
			        p->topic, p->partition, pr->s.product_id, pr->s.duplicates, tk->sequence, from);
		return;
	case OUTLIER_SEQ_WAS_OUTLIER:
		eng_log(e, LOG_INFO, "%s [%d] %s: the largest sequence %" PRId64 " was an outlier: %d ticks from %" PRId64
		        " on", p->topic, p->partition, pr->s.product_id, from, OUTLIER_SEQ_CONFIRM, tk->sequence);
		break;
	case OUTLIER_SEQ_JUMPED:
		eng_log(e, LOG_INFO, "%s [%d] %s: sequence jumped from %" PRId64 " to %" PRId64 ", confirmed by %d ticks",
		        p->topic, p->partition, pr->s.product_id, from, tk->sequence, OUTLIER_SEQ_CONFIRM);
		break;
	case OUTLIER_SEQ_AHEAD_FIRST:
		eng_log(e, LOG_INFO, "%s [%d] %s: sequence %" PRId64 " is far above %" PRId64 ": not taken as the "
		        "largest until %d ticks confirm it", p->topic, p->partition, pr->s.product_id, tk->sequence, from,
		        OUTLIER_SEQ_CONFIRM);
		break;
	default:
		break;
	}
	pr->s.ticks++;
	e->total.ticks++;

	if (eng_windows(e, p, pidx, pr, idx, tk) < 0)
		return;
	int64_t old = p->s.max_time, t = eng_event_time(e, p, tk->time_us);
	if (t != old) {
		p->s.max_time = t;
		/* Only a partition at the floor (or back from its end) can move
		 * the watermark: the others skip the O(partitions) computation.
		 * Idleness, which depends on the clock, is looked at again at
		 * every batch, as before. */
		if (p->eof || old == WM_NONE || e->wm_floor == INT64_MAX || old <= e->wm_floor)
			eng_watermark(e, now);
	}
}

/*
 * A message that is not the partition's next offset.  Below it: normally one
 * already in the state (skipped), unless the log now ends before the state's
 * offset (the topic was deleted and recreated, the cluster wiped).  Above it:
 * normally a gap the log has (transaction markers, compaction), unless the
 * log now starts after the state's offset: retention deleted ticks before
 * they were read, and librdkafka went on at the log start without a word.
 * Either loss stops the aggregator (exit 5) unless --on-data-loss=skip, which
 * records it in data_loss and goes on.  The log's ends are asked once per
 * state offset (a gap found in the log is not asked about again).
 * Returns 0 to process m, 1 to skip it, -1 when stopping.
 */
static int eng_offset_gap(struct engine *e, struct eng_part *p, const rd_kafka_message_t *m)
{
	int64_t x = p->s.next_offset, o = m->offset, lo = -1, hi = -1, lost;
	char what[512], msg[900], err[512];

	if (p->gap_ok_at == x)
		return o < x;
	rd_kafka_resp_err_t qerr = rd_kafka_query_watermark_offsets(e->rk, p->topic, p->partition, &lo, &hi, 5000);
	if (qerr) {
		eng_log(e, LOG_WARN, "%s [%d]: offset %" PRId64 " where %" PRId64 " was next, and the log's ends are "
		        "unknown (%s): %s", p->topic, p->partition, o, x, rd_kafka_err2str(qerr),
		        o < x ? "skipped as already counted" : "going on");
		return o < x;
	}
	if (o < x && hi >= x) {
		p->gap_ok_at = x;
		return 1;
	}
	if (o > x && lo <= x) {
		p->gap_ok_at = x;
		return 0;
	}
	if (o < x) {
		lost = 0;
		snprintf(what, sizeof(what), "the log of %s [%d] now ends at offset %" PRId64 ", before the state's "
		         "next offset %" PRId64 ": the topic was deleted and recreated, or the cluster's data wiped; "
		         "what the old log held after %" PRId64 " was never read", p->topic, p->partition, hi, x, x - 1);
	} else {
		lost = o - x;
		snprintf(what, sizeof(what), "offsets %" PRId64 "..%" PRId64 " of %s [%d] (%" PRId64 " messages) are gone "
		         "from Kafka before they were read: its log now starts at %" PRId64 " (retention, or the topic "
		         "recreated)", x, o - 1, p->topic, p->partition, lost, lo);
	}
	if (!e->cfg->data_loss_skip) {
		snprintf(msg, sizeof(msg), "data loss: %s; windows already written stay as they are; to go on "
		         "past it, counting it in the state, run with --on-data-loss=skip", what);
		eng_fatal(e, AGG_EXIT_DATA_LOSS, msg);
		return -1;
	}
	if (eng_tx(e) < 0)
		return -1;
	if (store_data_loss_add(e->st, p->topic, p->partition, x, o, lost, eng_now(), err, sizeof(err)) < 0) {
		eng_fatal(e, eng_state_code(e), err);
		return -1;
	}
	eng_log(e, LOG_WARN, "data loss (--on-data-loss=skip: going on at offset %" PRId64 "): %s", o, what);
	e->total.lost += lost;
	p->s.next_offset = o; /* m is processed as the next one */
	p->dirty = 1;
	e->dirty = 1;
	return 0;
}

void eng_message(struct engine *e, rd_kafka_message_t *m)
{
	const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "?";
	struct eng_part *p;

	if (m->err) {
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			p = eng_part_find(e, topic, m->partition);
			if (p && !p->eof) {
				p->eof = 1;
				p->eof_since = eng_now();
				eng_log(e, LOG_DEBUG, "%s [%d] at its end (offset %" PRId64 ")", topic, m->partition, m->offset);
			}
			return;
		}
		if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
			char why[512];
			rd_kafka_resp_err_t fe = rd_kafka_fatal_error(e->rk, why, sizeof(why));
			char msg[900];
			/* Group mode's static membership: the name is in use elsewhere. */
			snprintf(msg, sizeof(msg), "kafka fatal error: %s%s%s%s", why,
			         fe == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID ? ": this member was fenced: another member runs "
			         "with its name (--member " : "", fe == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID ? e->cfg->member : "",
			         fe == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID ? "), two members with one name fence each other" : "");
			eng_fatal(e, AGG_EXIT_RUNTIME, msg);
			return;
		}
		if (m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
			if (!e->brokers_down) {
				e->brokers_down = eng_mono();
				eng_log(e, LOG_WARN, "no broker reachable at %s: retrying (%s)", e->cfg->brokers,
				        rd_kafka_message_errstr(m));
			}
			return;
		}
		eng_log(e, LOG_WARN, "kafka: %s%s%s", rd_kafka_message_errstr(m), m->rkt ? " on " : "", m->rkt ? topic : "");
		return;
	}
	if (e->brokers_down) {
		eng_log(e, LOG_INFO, "a broker at %s is reachable again", e->cfg->brokers);
		e->brokers_down = 0;
	}
	p = eng_part_find(e, topic, m->partition);
	if (!p || !p->assigned)
		return; /* a message of a partition just revoked */
	if (p->s.next_offset >= 0 && m->offset != p->s.next_offset && eng_offset_gap(e, p, m) != 0)
		return; /* already in the state, or the data loss stops us */
	if (eng_tx(e) < 0)
		return;

	struct tick tk;
	char reason[256];
	int64_t now = eng_now();
	if (tick_parse(m->payload, m->len, &tk, reason, sizeof(reason)) < 0) {
		eng_reject(e, p, m, reason);
	} else if (outlier_skewed(&p->s, tk.time_us, now, e->cfg->max_skew_us)) {
		/* One tick dated far ahead would move the watermark so far that
		 * every later tick is late. */
		snprintf(reason, sizeof(reason), "time too far ahead: more than --max-skew after its "
		         "partition's latest tick or the clock");
		eng_reject(e, p, m, reason);
	} else {
		eng_tick(e, p, (uint32_t)(p - e->parts), &tk, now);
	}
	p->s.next_offset = m->offset + 1;
	p->dirty = 1;
	p->eof = 0;
	p->fetched = 1;
	e->dirty = 1;
	e->batch_msgs++;
	e->total.msgs++;
}

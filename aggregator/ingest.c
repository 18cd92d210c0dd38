/*
 * ingest.c - one Kafka message into the engine: its offset checked against
 * the state's (data loss), the tick parsed or the message rejected, the
 * feed's sequence (common/seqrule.c) and event time (outlier.c) confirmed, and the tick added to
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

/* A topic named after a product holds only its ticks (the producer's default
 * layout): a tick of another product there is in the wrong place, and when
 * it is also in its own topic, counting it here would count it twice.  It is
 * rejected, and said at the 1st, 10th, 100th, ... of the partition's.  A
 * topic not named after a product (-t TOPIC, --topic-prefix) takes every
 * product.  Returns 1 when the tick was rejected. */
static int eng_foreign(struct engine *e, struct eng_part *p, const rd_kafka_message_t *m, const struct tick *tk)
{
	char reason[128];

	if (!p->topic_product || strcmp(tk->product_id, p->topic) == 0)
		return 0;
	snprintf(reason, sizeof(reason), "product %s in topic %s", tk->product_id, p->topic);
	eng_reject(e, p, m, reason);
	p->foreign++;
	if (log_decade(p->foreign, 1))
		eng_log(e, LOG_WARN, "%s [%d]: %" PRId64 " tick%s of another product so far (%s at offset %" PRId64
		        "): rejected, a topic named after a product holds only its ticks (see the rejected table)",
		        p->topic, p->partition, p->foreign, p->foreign > 1 ? "s" : "", tk->product_id, m->offset);
	return 1;
}

/* A clock fault stops the aggregator (exit 6): p's run of ticks ahead of
 * the clock, up to offset last, the last dated time_us. */
static void eng_clock_fault(struct engine *e, const struct eng_part *p, int64_t last, int64_t time_us,
                            const char *how)
{
	char at[FMT_BUF], clock[FMT_BUF], msg[900];

	fmt_time_or(time_us, "none", at);
	fmt_time_or(eng_now(), "none", clock);
	snprintf(msg, sizeof(msg), "clock fault: %d ticks in a row of %s [%d] (offsets %" PRId64 "..%" PRId64 ")%s are "
	         "more than --max-skew (%.0f s) ahead of the clock: the last is dated %s, the clock says %s. The "
	         "host's clock is behind the feed's: check the host's clock (NTP); these ticks are not committed, "
	         "a restart with the clock right reads them again", p->clock_run, p->topic, p->partition,
	         p->clock_first, last, how, (double)e->cfg->max_skew_us / 1e6, at, clock);
	eng_fatal(e, AGG_EXIT_CLOCK, msg);
}

/* A tick more than --max-skew in the future of the clock is rejected: one
 * such tick would move the watermark so far that every later tick is late.
 * ENG_CLOCK_RUN of them in a row are no outlier but the host's clock behind
 * the feed's (every tick would be rejected, and the offsets committed past
 * them): the aggregator stops, exit 6, and the batch that holds them is not
 * committed (engine.c waits while a run is open; eng_clock_held for slow
 * ticks).  Returns 1 when the tick was rejected or the engine stops. */
static int eng_clock(struct engine *e, struct eng_part *p, const rd_kafka_message_t *m, const struct tick *tk,
                     int64_t now)
{
	if (tk->time_us <= now + e->cfg->max_skew_us) {
		if (p->clock_run > 0 && --e->clock_runs == 0)
			e->clock_since = 0;
		p->clock_run = 0;
		return 0;
	}
	if (p->clock_run++ == 0) {
		p->clock_first = m->offset;
		if (e->clock_runs++ == 0)
			e->clock_since = eng_mono();
	}
	p->clock_last_us = tk->time_us;
	if (p->clock_run < ENG_CLOCK_RUN) {
		eng_reject(e, p, m, "time too far ahead: more than --max-skew after its partition's latest tick or "
		           "the clock");
		return 1;
	}
	eng_clock_fault(e, p, m->offset, tk->time_us, "");
	return 1;
}

/* The batch waited ENG_CLOCK_HOLD_US for a run of ticks ahead of the clock
 * to end: a run of two or more is a clock fault too (ticks slower than
 * ENG_CLOCK_RUN in the hold would otherwise be committed as rejected before
 * the run could reach it); a lone tick is rejected, and the batch goes. */
int eng_clock_held(struct engine *e, int64_t mono)
{
	if (e->clock_runs == 0 || mono - e->clock_since < ENG_CLOCK_HOLD_US)
		return 0;
	for (size_t i = 0; i < e->nparts; i++) {
		const struct eng_part *p = &e->parts[i];
		if (p->assigned && p->clock_run >= 2) {
			char how[64];
			snprintf(how, sizeof(how), ", none on time for %.0f s after the first,",
			         (double)(mono - e->clock_since) / 1e6);
			eng_clock_fault(e, p, p->s.next_offset - 1, p->clock_last_us, how);
			return 1;
		}
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
	switch (seqrule_check(&pr->s.seq, tk->sequence, &from)) {
	case SEQRULE_DUPLICATE:
		pr->s.duplicates++;
		e->total.duplicates++;
		/* A replay is a handful; more says something is wrong: 5, 50, 500, ... */
		if (log_decade(pr->s.duplicates, 5))
			eng_log(e, LOG_WARN, "%s [%d] %s: %" PRId64 " duplicates so far (sequence %" PRId64
			        " not above %" PRId64 "): a replay of the feed, or its sequence went back",
			        p->topic, p->partition, pr->s.product_id, pr->s.duplicates, tk->sequence, from);
		return;
	case SEQRULE_WAS_OUTLIER:
		eng_log(e, LOG_INFO, "%s [%d] %s: the largest sequence %" PRId64 " was an outlier: %d ticks from %" PRId64
		        " on", p->topic, p->partition, pr->s.product_id, from, SEQRULE_CONFIRM, tk->sequence);
		break;
	case SEQRULE_JUMPED:
		eng_log(e, LOG_INFO, "%s [%d] %s: sequence jumped from %" PRId64 " to %" PRId64 ", confirmed by %d ticks",
		        p->topic, p->partition, pr->s.product_id, from, tk->sequence, SEQRULE_CONFIRM);
		break;
	case SEQRULE_AHEAD_FIRST:
		eng_log(e, LOG_INFO, "%s [%d] %s: sequence %" PRId64 " is far above %" PRId64 ": not taken as the "
		        "largest until %d ticks confirm it", p->topic, p->partition, pr->s.product_id, tk->sequence, from,
		        SEQRULE_CONFIRM);
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

/* The data-loss rule: stop with exit 5, or with --on-data-loss=skip record
 * the loss (offsets from..to, lost messages) in data_loss and go on at
 * offset at.  0 to go on, -1 when stopping. */
static int eng_loss(struct engine *e, struct eng_part *p, const char *what, int64_t from, int64_t to, int64_t lost,
                    int64_t at)
{
	char msg[1200], err[512];

	if (!e->cfg->data_loss_skip) {
		snprintf(msg, sizeof(msg), "data loss: %s; windows already written stay as they are; to go on "
		         "past it, counting it in the state, run with --on-data-loss=skip", what);
		eng_fatal(e, AGG_EXIT_DATA_LOSS, msg);
		return -1;
	}
	if (eng_tx(e) < 0)
		return -1;
	if (store_data_loss_add(e->st, p->topic, p->partition, from, to, lost, eng_now(), err, sizeof(err)) < 0) {
		eng_fatal(e, eng_state_code(e), err);
		return -1;
	}
	eng_log(e, LOG_WARN, "data loss (--on-data-loss=skip: going on at offset %" PRId64 "): %s", at, what);
	e->total.lost += lost;
	p->dirty = 1;
	e->dirty = 1;
	return 0;
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
	char what[512];

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
	if (eng_loss(e, p, what, x, o, lost, o) < 0)
		return -1;
	p->s.next_offset = o; /* m is processed as the next one */
	return 0;
}

/*
 * The log is the one the state read: at assignment a partition starts one
 * record early, at next_offset - 1 (rebalance.c), and that record must be
 * the one read last: its timestamp and the hash of its key and value.  Kafka
 * 4's topic IDs would say it directly, but librdkafka 2.0 does not give
 * them.  Another record there means the topic was deleted and recreated, or
 * the cluster wiped, and the new log is already longer than the state's
 * offset: reading on at that offset would skip the new log's start without a
 * word.  The data-loss rule applies; --on-data-loss=skip goes on at the
 * state's offset and counts the new log's records before it as lost.  When
 * the first record delivered is past next_offset - 1 (a transaction marker or
 * compaction left none there, retention deleted it) there is nothing to
 * compare: an info line says so.  One before it: the log ends before it,
 * which eng_offset_gap finds.  Returns 1 to skip m (the record compared), 0
 * to process it, -1 when stopping.
 */
static int eng_fingerprint(struct engine *e, struct eng_part *p, const rd_kafka_message_t *m)
{
	int64_t x = p->s.next_offset, lo = 0, hi = -1;
	rd_kafka_timestamp_type_t tt;
	char what[700], was[FMT_BUF], now[FMT_BUF];

	p->fp_check = 0;
	if (m->offset < x - 1)
		return 0;
	if (m->offset >= x) {
		eng_log(e, LOG_INFO, "%s [%d]: no record at offset %" PRId64 " (a transaction marker, compacted or "
		        "deleted): the log is not checked against the one the state read", p->topic, p->partition, x - 1);
		return 0;
	}
	int64_t ts = rd_kafka_message_timestamp(m, &tt);
	if (ts == p->s.fp_time && store_fp_hash(m->key, m->key_len, m->payload, m->len) == p->s.fp_hash)
		return 1;
	if (rd_kafka_query_watermark_offsets(e->rk, p->topic, p->partition, &lo, &hi, 5000) || lo < 0 || lo > x)
		lo = 0;
	fmt_time_or(p->s.fp_time * 1000, "none", was);
	fmt_time_or(ts * 1000, "none", now);
	snprintf(what, sizeof(what), "the log of %s [%d] is not the one the state read: its record at offset %" PRId64
	         " (dated %s) is another than the one read there (dated %s): the topic was deleted and recreated, or "
	         "the cluster's data wiped, and the new log is already past the state's next offset %" PRId64 "; "
	         "offsets %" PRId64 "..%" PRId64 " of the new log (%" PRId64 " messages) were not read", p->topic,
	         p->partition, x - 1, now, was, x, lo, x - 1, x - lo);
	return eng_loss(e, p, what, lo, x, x - lo, x) < 0 ? -1 : 1;
}

/* The fingerprint of the record read last (p->last), checked at the next
 * assignment (eng_fingerprint), noted once a batch: hashing every message
 * cost ~10% of the aggregator's CPU on a backlog.  The record is let go. */
void eng_fp_take(struct eng_part *p)
{
	rd_kafka_timestamp_type_t tt;
	rd_kafka_message_t *m = p->last;

	if (!m)
		return;
	p->s.fp_time = rd_kafka_message_timestamp(m, &tt);
	p->s.fp_hash = store_fp_hash(m->key, m->key_len, m->payload, m->len);
	p->s.fp_set = 1;
	rd_kafka_message_destroy(m);
	p->last = NULL;
}

/* A partition's record read last, let go without its fingerprint (the
 * batch is dropped, or the partition goes). */
void eng_fp_drop(struct eng_part *p)
{
	if (p->last)
		rd_kafka_message_destroy(p->last);
	p->last = NULL;
}

/* A client-level error (consume.h's on_error, or one delivered as a
 * message): no broker reachable starts the clock that /healthz and
 * --available-now judge by; a fatal error stops the run. */
void eng_kafka_error(void *opaque, rd_kafka_resp_err_t err, const char *reason)
{
	struct engine *e = opaque;

	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && !e->brokers_down) {
		e->brokers_down = eng_mono();
		eng_log(e, LOG_WARN, "no broker reachable at %s: retrying (%s)", e->cfg->brokers, reason);
	} else if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char why[512];
		rd_kafka_resp_err_t fe = rd_kafka_fatal_error(e->rk, why, sizeof(why));
		char msg[900];
		/* Group mode's static membership: the name is in use elsewhere. */
		snprintf(msg, sizeof(msg), "kafka fatal error: %s%s%s%s", why,
		         fe == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID ? ": this member was fenced: another member runs "
		         "with its name (--member " : "", fe == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID ? e->cfg->member : "",
		         fe == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID ? "), two members with one name fence each other" : "");
		eng_fatal(e, AGG_EXIT_RUNTIME, msg);
	}
}

void eng_brokers_up(struct engine *e)
{
	eng_log(e, LOG_INFO, "a broker at %s is reachable again", e->cfg->brokers);
	e->brokers_down = 0;
}

/* Returns 1 when m is kept as its partition's record read last (p->last). */
static int eng_message_in(struct engine *e, rd_kafka_message_t *m)
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
			return 0;
		}
		if (m->err == RD_KAFKA_RESP_ERR__FATAL || m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
			eng_kafka_error(e, m->err, rd_kafka_message_errstr(m));
			return 0;
		}
		eng_log(e, LOG_WARN, "kafka: %s%s%s", rd_kafka_message_errstr(m), m->rkt ? " on " : "", m->rkt ? topic : "");
		return 0;
	}
	p = eng_part_find(e, topic, m->partition);
	if (!p || !p->assigned)
		return 0; /* a message of a partition just revoked */
	if (p->fp_check && eng_fingerprint(e, p, m) != 0)
		return 0; /* the record read last, read again; or the data loss stops us */
	if (p->s.next_offset >= 0 && m->offset != p->s.next_offset && eng_offset_gap(e, p, m) != 0)
		return 0; /* already in the state, or the data loss stops us */
	if (eng_tx(e) < 0)
		return 0;

	struct tick tk;
	char reason[256];
	int64_t now = eng_now();
	if (tick_parse(m->payload, m->len, &tk, reason, sizeof(reason)) < 0) {
		eng_reject(e, p, m, reason);
	} else if (eng_foreign(e, p, m, &tk)) {
		/* rejected: another product's tick */
	} else if (eng_clock(e, p, m, &tk, now)) {
		/* rejected: ahead of the clock; or a clock fault, stopping */
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
	if (p->last)
		rd_kafka_message_destroy(p->last);
	p->last = m;
	p->dirty = 1;
	p->eof = 0;
	p->fetched = 1;
	e->dirty = 1;
	e->batch_msgs++;
	e->total.msgs++;
	return 1;
}

void eng_message(struct engine *e, rd_kafka_message_t *m)
{
	if (!eng_message_in(e, m))
		rd_kafka_message_destroy(m);
}

/*
 * engine.c - the aggregator's loop (see engine.h).
 *
 * Exactly-once: a window's aggregate, the partition's next offset, the
 * watermark and the CSV length all change in one SQLite transaction; offsets
 * go to the Kafka group only after COMMIT, and at (re)assignment the offsets in
 * the state file win. A crash anywhere leaves the state at the last COMMIT; the
 * CSV tail written after it is cut back at the next start.
 *
 * Determinism: open windows are kept in memory with their exact state-file
 * values and ticks are added in offset order, so a window's sums do not depend
 * on where batches (or crashes) fall.
 */
#include "engine.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "consume.h"
#include "export.h"
#include "floordiv.h"
#include "fmt.h"
#include "outlier.h"
#include "log.h"
#include "metrics.h"
#include "progress.h"
#include "store.h"
#include "tick.h"
#include "txn.h"
#include "window.h"

struct eng_product {
	struct store_product s;  /* counters and max sequence, as stored */
	int dirty;               /* changed since the last commit */
};


struct eng_part {
	char *topic;
	int32_t partition;
	struct store_partition s;     /* next offset, max event time, rejected */
	struct eng_product *products;
	uint32_t nproducts, capproducts;
	int assigned;                 /* currently assigned to us */
	int dirty;                    /* changed since the last commit */
	int eof;                      /* at the end of the partition, nothing since */
	int fetched;                  /* delivered a message since it was assigned */
	int64_t eof_since;            /* wall clock (us) of reaching the end */
	int64_t group_offset;         /* offset the group has confirmed (-1 unknown) */
	int64_t commit_sent;          /* monotonic time its offset last went to the group */
	int64_t start_offset;         /* where a partition new to the state started (-1 unknown) */
	int64_t revoked_at;           /* wall clock (us) of its revocation, 0 if never */
	int64_t gap_ok_at;            /* next offset a gap was checked at and found in the log (-1) */
	int64_t reported;             /* next offset at the last progress report (-1) */
	int32_t topic_parts;          /* group mode: partitions of its topic, for the markers */
};

/* Upper bounds (us) of the batch duration histogram (--metrics). */
static const int64_t eng_hist_le[] = { 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000 };
#define ENG_HIST_N (sizeof(eng_hist_le) / sizeof(eng_hist_le[0]))

struct eng_stats {
	int64_t msgs, ticks, late, rejected, duplicates, rows, batches, lost;
	int64_t batch_us_total, batch_us_max;
	int64_t batch_hist[ENG_HIST_N + 1]; /* batches per bucket (not cumulative), the last +Inf */
	int64_t busy_us;  /* time not spent waiting in rd_kafka_consumer_poll */
};

struct engine {
	const struct agg_config *cfg;
	struct store *st;
	struct export_csv csv;
	rd_kafka_t *rk;
	struct consume_hooks hooks;
	struct consume_nudger nudger;
	struct metrics *metrics;      /* --metrics, NULL when off */
	struct txn *txn;              /* group mode (--output-topic), NULL when off */
	int64_t metrics_at;           /* monotonic time of the last publish */
	struct eng_part *parts;       /* every partition ever assigned; indices are stable */
	size_t nparts, capparts;
	size_t last_part;             /* index eng_part_find found last */
	struct wm_input *wm;          /* scratch for wm_compute */
	struct win_table wins;        /* open windows */
	size_t win_cache;             /* more than this many: drop stored ones (eng_drop_passed) */
	int64_t watermark;            /* current, in memory */
	int64_t wm_floor;             /* wm_compute_floor's floor at the last eng_watermark */
	struct wm_history delivered;  /* when the largest event time delivered grew */
	int64_t stored_watermark;     /* as in the state */
	int64_t exported_until;       /* every window ending at or before it is in the CSV */
	int64_t batch_msgs;           /* messages in the open batch */
	int64_t batch_rows;           /* group mode: partials the open batch wrote to the output topic */
	int64_t batch_start;          /* wall clock of the batch's first message */
	int dirty;                    /* something to commit */
	int close_pending;            /* a window closed: commit and export soon */
	int rejected_full;            /* said once: the rejected table is at its budget */
	int64_t brokers_down;         /* monotonic time since no broker is reachable, 0 if one is */
	int exit_code;                /* set on a fatal error */
	char err[1024];
	struct eng_stats total, last; /* progress: totals, and totals at the last report */
	int64_t last_progress;
	char run_id[37];              /* a UUID for this run, in the progress JSON */
	struct progress_source *sources; /* scratch for the progress report */
	int64_t started;
	int64_t *starts;              /* scratch for win_assign */
#ifdef AGG_TEST_HOOKS
	char crash_at[16];            /* AGG_CRASH_AT: the point, */
	long crash_after, crash_ms;   /* at its n-th pass, after a pause */
#endif
};

#ifdef AGG_TEST_HOOKS
/* The test build (make test) stops dead, as kill -9 would, at the n-th pass
 * through a named point of a batch -- windows, offsets, csv, commit, group --
 * so that the crash tests (tests/t/47) hit every point instead of where a
 * timer falls: AGG_CRASH_AT=POINT:N[:MS] (MS: a pause first, for what is in
 * flight, e.g. an offset commit, to arrive). */
static void eng_crash_init(struct engine *e)
{
	const char *v = getenv("AGG_CRASH_AT");
	if (!v || sscanf(v, "%15[a-z]:%ld:%ld", e->crash_at, &e->crash_after, &e->crash_ms) < 2)
		e->crash_at[0] = 0;
}

static void eng_crash_point(struct engine *e, const char *point)
{
	if (!e->crash_at[0] || strcmp(e->crash_at, point) != 0 || --e->crash_after > 0)
		return;
	log_msg(e->cfg->verbosity, LOG_WARN, "AGG_CRASH_AT: killed at %s", point);
	if (e->crash_ms > 0)
		nanosleep(&(struct timespec){ e->crash_ms / 1000, e->crash_ms % 1000 * 1000000 }, NULL);
	raise(SIGKILL);
}
#else
#define eng_crash_init(e) ((void)0)
#define eng_crash_point(e, point) ((void)0)
#endif

static int64_t eng_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t eng_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void eng_log(const struct engine *e, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void eng_log(const struct engine *e, enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(e->cfg->verbosity, level, fmt, ap);
	va_end(ap);
}

/* Exit code for a state failure: a fault that can pass (disk full, I/O
 * error) exits 1 so a supervisor restarts us later; the state resumes at its
 * last commit. Anything else about the file exits 3. */
static int eng_state_code(const struct engine *e)
{
	return e->st && store_transient(e->st) ? AGG_EXIT_RUNTIME : AGG_EXIT_STATE;
}

/* The same for a CSV failure (code from export_*: EXPORT_ESTATE is the state). */
static int eng_export_code(const struct engine *e, int r)
{
	if (r == EXPORT_ESTATE)
		return eng_state_code(e);
	if (r == EXPORT_ESPACE)
		return AGG_EXIT_RUNTIME;
	int en = e->csv.err_no;
	return en == ENOSPC || en == EDQUOT || en == EIO ? AGG_EXIT_RUNTIME : AGG_EXIT_OUTPUT;
}

/* Records the first fatal error; the loop stops and main exits with code. */
static void eng_fatal(struct engine *e, int code, const char *msg)
{
	if (e->exit_code)
		return;
	e->exit_code = code;
	snprintf(e->err, sizeof(e->err), "%s", msg);
}

/* Consecutive messages mostly come from the same partition: try the last
 * one found before searching. */
static struct eng_part *eng_part_find(struct engine *e, const char *topic, int32_t partition)
{
	struct eng_part *p = e->last_part < e->nparts ? &e->parts[e->last_part] : NULL;
	if (p && p->partition == partition && strcmp(p->topic, topic) == 0)
		return p;
	for (size_t i = 0; i < e->nparts; i++)
		if (e->parts[i].partition == partition && strcmp(e->parts[i].topic, topic) == 0) {
			e->last_part = i;
			return &e->parts[i];
		}
	return NULL;
}

static struct eng_part *eng_part_add(struct engine *e, const char *topic, int32_t partition)
{
	if (e->nparts == e->capparts) {
		size_t cap = e->capparts ? e->capparts * 2 : 8;
		/* Each array that grew is kept; capparts moves once all three did. */
		struct eng_part *np = realloc(e->parts, cap * sizeof(*np));
		if (np)
			e->parts = np;
		struct wm_input *nw = np ? realloc(e->wm, cap * sizeof(*nw)) : NULL;
		if (nw)
			e->wm = nw;
		struct progress_source *ns = nw ? realloc(e->sources, cap * sizeof(*ns)) : NULL;
		if (!ns)
			return NULL;
		e->sources = ns;
		e->capparts = cap;
	}
	struct eng_part *p = &e->parts[e->nparts];
	memset(p, 0, sizeof(*p));
	p->topic = strdup(topic);
	if (!p->topic)
		return NULL;
	p->partition = partition;
	e->nparts++;
	return p;
}

static struct eng_product *eng_product_get(struct eng_part *p, const char *id, uint32_t *idx)
{
	for (uint32_t i = 0; i < p->nproducts; i++)
		if (strcmp(p->products[i].s.product_id, id) == 0) {
			*idx = i;
			return &p->products[i];
		}
	if (p->nproducts == p->capproducts) {
		uint32_t cap = p->capproducts ? p->capproducts * 2 : 4;
		struct eng_product *np = realloc(p->products, cap * sizeof(*np));
		if (!np)
			return NULL;
		p->products = np;
		p->capproducts = cap;
	}
	struct eng_product *pr = &p->products[p->nproducts];
	memset(pr, 0, sizeof(*pr));
	snprintf(pr->s.product_id, sizeof(pr->s.product_id), "%s", id);
	pr->s.max_sequence = -1;
	pr->s.jump_seq = pr->s.back_seq = -1;
	*idx = p->nproducts++;
	return pr;
}

/* Does moving the watermark to w close a window not yet exported? Window ends
 * are k * slide + window; count those at or before each point. */
static int eng_closes_window(const struct engine *e, int64_t w)
{
	int64_t size = e->cfg->window_us, slide = e->cfg->slide_us;
	if (e->exported_until == WM_NONE)
		return 1;
	return floor_div(w - size, slide) > floor_div(e->exported_until - size, slide);
}

/* The watermark over the assigned partitions, at wall clock now. */
static void eng_watermark(struct engine *e, int64_t now)
{
	size_t n = 0;
	int64_t seen = WM_NONE;
	for (size_t i = 0; i < e->nparts; i++) {
		const struct eng_part *p = &e->parts[i];
		if (!p->assigned && !p->revoked_at)
			continue;
		e->wm[n].max_time = p->s.max_time;
		if (p->s.max_time > seen)
			seen = p->s.max_time;
		if (p->assigned) {
			e->wm[n].eof = p->eof;
			e->wm[n].eof_since = p->eof_since;
		} else {
			/* A revoked partition may come back with a backlog: it holds
			 * the watermark like a silent one until --idle-timeout. */
			e->wm[n].eof = 1;
			e->wm[n].eof_since = p->revoked_at;
		}
		n++;
	}
	e->wm_floor = INT64_MAX;
	if (n == 0)
		return;
	int64_t idle = e->cfg->idle_timeout_us;
	wm_history_note(&e->delivered, now, seen, idle / 32);
	int64_t w = wm_compute_floor(e->wm, n, e->cfg->delay_us, now, idle, e->cfg->available_now,
	                             wm_history_settled(&e->delivered, now, idle), e->watermark, &e->wm_floor);
	if (w != e->watermark) {
		if (eng_closes_window(e, w))
			e->close_pending = 1;
		e->watermark = w;
		e->dirty = 1;
	}
}

/* Opens the batch's transaction at its first change. */
static int eng_tx(struct engine *e)
{
	char err[512];
	if (store_in_tx(e->st))
		return 0;
	if (store_begin(e->st, err, sizeof(err)) < 0) {
		eng_fatal(e, eng_state_code(e), err);
		return -1;
	}
	return 0;
}

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
		for (int64_t d = 5; d > 0 && d <= pr->s.duplicates; d *= 10)
			if (d == pr->s.duplicates)
				eng_log(e, LOG_WARN, "%s [%d] %s: %" PRId64 " duplicates so far (sequence %" PRId64
				        " not above %" PRId64 "): a replay of the feed, or its sequence went back",
				        p->topic, p->partition, pr->s.product_id, d, tk->sequence, from);
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

	int n = win_assign(tk->time_us, e->cfg->window_us, e->cfg->slide_us, e->starts, WIN_MAX_PER_TICK);
	for (int i = 0; i < n; i++) {
		int64_t end = e->starts[i] + e->cfg->window_us;
		/* Group mode: what the partition wrote to the output topic is
		 * closed (it moves with the partition); see eng_emit_closed. */
		if (e->txn ? p->s.closed_until != WM_NONE && end <= p->s.closed_until
		           : e->watermark != WM_NONE && end <= e->watermark) {
			pr->s.late++;
			e->total.late++;
			/* Late should not happen (see the watermark): say so at 1, 10, 100, ... */
			for (int64_t d = 1; d > 0 && d <= pr->s.late; d *= 10)
				if (d == pr->s.late) {
					char at[FMT_BUF], wend[FMT_BUF], wm[FMT_BUF];
					fmt_time_or(tk->time_us, "none", at);
					fmt_time_or(end, "none", wend);
					fmt_time_or(e->watermark, "none", wm);
					eng_log(e, LOG_WARN, "%s [%d] %s: %" PRId64 " late tick%s so far (dropped; counted in "
					        "products.late): the last at %s, its window ending %s already closed by the "
					        "watermark %s", p->topic, p->partition, pr->s.product_id, d, d > 1 ? "s" : "",
					        at, wend, wm);
				}
			continue;
		}
		struct win_key key = { .part = pidx, .product = idx, .start = e->starts[i] };
		struct win_entry *w = win_table_get(&e->wins, &key);
		if (!w) {
			eng_fatal(e, AGG_EXIT_RUNTIME, "out of memory");
			return;
		}
		if (!w->loaded) {
			struct store_wkey k = { p->topic, p->partition, tk->product_id, key.start, end };
			if (store_window_get(e->st, &k, &w->agg) < 0) {
				eng_fatal(e, eng_state_code(e), "state: cannot read a window");
				return;
			}
			w->loaded = 1;
		}
		win_agg_add(&w->agg, tk);
		w->dirty = 1;
	}
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

static void eng_message(struct engine *e, rd_kafka_message_t *m)
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
			rd_kafka_fatal_error(e->rk, why, sizeof(why));
			char msg[700];
			snprintf(msg, sizeof(msg), "kafka fatal error: %s", why);
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

static int eng_put_window(struct engine *e, struct win_entry *w, char *err, size_t errlen)
{
	const struct eng_part *p = &e->parts[w->key.part];
	struct store_wkey k = { p->topic, p->partition, p->products[w->key.product].s.product_id,
	                        w->key.start, w->key.start + e->cfg->window_us };
	return store_window_put(e->st, &k, &w->agg, err, errlen);
}

static int eng_drop_closed(const struct win_entry *w, void *arg)
{
	const struct engine *e = arg;
	return !w->dirty && w->key.start + e->cfg->window_us <= e->watermark;
}

/*
 * The open windows kept in memory are a cache of the state file.  Past
 * --cache-windows of them, the ones already stored that their partition has
 * moved past (its latest tick is after their end) are dropped after the
 * commit; a tick that still falls in one reads it back (store_window_get).
 * This bounds memory and the per-batch scan when the watermark is held back
 * while windows pile up: a backlog over hundreds of partitions, where
 * librdkafka starts some partitions long after the others, or a partition
 * that stays behind.
 */
static int eng_drop_passed(const struct win_entry *w, void *arg)
{
	const struct engine *e = arg;
	return !w->dirty && w->key.start + e->cfg->window_us <= e->parts[w->key.part].s.max_time;
}

static int eng_drop_any(const struct win_entry *w, void *arg)
{
	(void)w;
	(void)arg;
	return 1;
}

static int eng_drop_part(const struct win_entry *w, void *arg)
{
	return w->key.part == *(const uint32_t *)arg;
}

struct eng_emit {
	struct engine *e;
	char *err;
	size_t errlen;
};

static int eng_emit_window(const struct store_wkey *k, const struct win_agg *a, void *arg)
{
	struct eng_emit *x = arg;
	x->e->batch_rows++;
	return txn_close_window(x->e->txn, k, a, x->err, x->errlen) < 0 ? -1 : 0;
}

/* Group mode: each assigned partition's windows closed since its
 * closed_until go to the output topic as partials (and leave the changelog),
 * then its marker; closed_until moves to the last window end at or before
 * the partition's watermark: the member's, but never ahead of the
 * partition's own event time less the delay until it is idle.  A partition
 * that comes from another member (its backlog behind this member's
 * watermark) closes as its own ticks allow, not as the member's other
 * partitions would; its ticks are late only for what it wrote out itself
 * (closed_until moves with it, in the changelog), so nothing is written
 * twice and no tick on time is dropped. */
static int64_t eng_part_until(const struct engine *e, const struct eng_part *p, int64_t now)
{
	int64_t size = e->cfg->window_us, slide = e->cfg->slide_us, wm = e->watermark;
	if (!p->assigned || wm == WM_NONE)
		return WM_NONE;
	if (!(p->eof && now - p->eof_since >= e->cfg->idle_timeout_us)) {
		if (p->s.max_time == WM_NONE)
			return WM_NONE;
		if (p->s.max_time - e->cfg->delay_us < wm)
			wm = p->s.max_time - e->cfg->delay_us;
	}
	int64_t until = floor_div(wm - size, slide) * slide + size;
	return p->s.closed_until == WM_NONE || until > p->s.closed_until ? until : WM_NONE;
}

/* Group mode, between batches: a partition may have windows to close with no
 * message coming (restored from another member behind its watermark, or
 * idle since): a batch then, to write them. */
static void eng_emit_due(struct engine *e)
{
	int64_t now = eng_now();
	for (size_t i = 0; i < e->nparts && !e->dirty; i++)
		if (eng_part_until(e, &e->parts[i], now) != WM_NONE)
			e->dirty = 1;
}

static int eng_emit_closed(struct engine *e, char *err, size_t errlen)
{
	int64_t now = eng_now();
	struct eng_emit x = { e, err, errlen };
	for (size_t i = 0; i < e->nparts; i++) {
		struct eng_part *p = &e->parts[i];
		int64_t until = eng_part_until(e, p, now);
		if (until == WM_NONE)
			continue;
		if (store_windows_closing(e->st, p->topic, p->partition, p->s.closed_until, until, eng_emit_window, &x) != 0) {
			if (!*err)
				snprintf(err, errlen, "state: cannot read the closed windows of %s [%d]", p->topic, p->partition);
			return -1;
		}
		if (txn_marker(e->txn, p->topic, p->partition, until, p->topic_parts, err, errlen) < 0)
			return -1;
		p->s.closed_until = until;
		p->dirty = 1;
	}
	return 0;
}

/* Writes what the batch changed into the open transaction: windows, then
 * products and partitions (their offsets), then the watermark.  *offs gets
 * the offsets the group has not confirmed yet (a failed group commit goes
 * again with the next batch).  0, or -1 with err. */
static int eng_store_batch(struct engine *e, rd_kafka_topic_partition_list_t **offs, char *err, size_t errlen)
{
	for (size_t i = 0; i < e->wins.cap; i++) {
		struct win_entry *w = &e->wins.slots[i];
		if (!w->used || !w->dirty)
			continue;
		if (eng_put_window(e, w, err, errlen) < 0)
			return -1;
		if (e->txn) {
			const struct eng_part *p = &e->parts[w->key.part];
			struct store_wkey k = { p->topic, p->partition, p->products[w->key.product].s.product_id,
			                        w->key.start, w->key.start + e->cfg->window_us };
			if (txn_put_window(e->txn, &k, &w->agg, err, errlen) < 0)
				return -1;
		}
		w->dirty = 0;
	}
	eng_crash_point(e, "windows");
	if (e->txn && eng_emit_closed(e, err, errlen) < 0)
		return -1;
	int64_t now = eng_now();
	for (size_t i = 0; i < e->nparts; i++) {
		struct eng_part *p = &e->parts[i];
		for (uint32_t j = 0; j < p->nproducts; j++) {
			if (!p->products[j].dirty)
				continue;
			if (store_product_put(e->st, p->topic, p->partition, &p->products[j].s, err, errlen) < 0 ||
			    (e->txn && txn_put_product(e->txn, p->topic, p->partition, &p->products[j].s, err, errlen) < 0))
				return -1;
			p->products[j].dirty = 0;
		}
		if (p->assigned && p->s.next_offset >= 0 && (e->txn || p->s.next_offset != p->group_offset)) {
			if (!*offs)
				*offs = rd_kafka_topic_partition_list_new(4);
			rd_kafka_topic_partition_list_add(*offs, p->topic, p->partition)->offset = p->s.next_offset;
			p->commit_sent = eng_mono();
		}
		if (!p->dirty)
			continue;
		if (store_partition_put(e->st, p->topic, p->partition, &p->s, now, err, errlen) < 0 ||
		    (e->txn && txn_put_partition(e->txn, p->topic, p->partition, &p->s, err, errlen) < 0))
			return -1;
		p->dirty = 0;
	}
	eng_crash_point(e, "offsets");
	if (e->watermark != e->stored_watermark && store_meta_set(e->st, "watermark_us", e->watermark, err, errlen) < 0)
		return -1;
	return 0;
}

/* Appends the windows the watermark closed to the CSV and records its new
 * length in the transaction.  *rows gets how many.  0, -1 (the state, err),
 * or the export's code (< -1 after eng_fatal). */
static int eng_export_closed(struct engine *e, int64_t *rows, char *err, size_t errlen)
{
	*rows = 0;
	if (e->watermark == WM_NONE || (e->exported_until != WM_NONE && e->watermark <= e->exported_until))
		return 0;
	int r = export_append(&e->csv, e->st, e->exported_until, e->watermark, rows, err, errlen);
	if (r < 0) {
		eng_fatal(e, eng_export_code(e, r), err);
		return -2;
	}
	if (*rows > 0)
		eng_crash_point(e, "csv");
	if (store_meta_set(e->st, "exported_until_us", e->watermark, err, errlen) < 0 ||
	    store_meta_set(e->st, "csv_bytes", e->csv.bytes, err, errlen) < 0)
		return -1;
	return 0;
}

/* After COMMIT: windows written to the CSV leave memory, and stored ones too
 * when more than the cache holds. */
static void eng_evict(struct engine *e, int64_t rows)
{
	if (rows > 0)
		win_table_evict(&e->wins, eng_drop_closed, e);
	if (e->wins.count > e->win_cache) {
		size_t before = e->wins.count;
		win_table_evict(&e->wins, eng_drop_passed, e);
		eng_log(e, LOG_DEBUG, "open windows: %zu kept in memory, %zu stored ones dropped", e->wins.count,
		        before - e->wins.count);
	}
	if (rows > 0 || e->wins.count > e->win_cache) /* next time at twice what is left */
		e->win_cache = e->wins.count * 2 > (size_t)e->cfg->cache_windows ? e->wins.count * 2
		                                                               : (size_t)e->cfg->cache_windows;
}

/* Group mode: the batch's Kafka transaction commits, with the offsets,
 * before the state does (txn.h).  0, or -1 after eng_fatal: a member fenced
 * out commits nothing and stops; the group's other members have its
 * partitions, and a restart rejoins. */
static int eng_txn_commit(struct engine *e, const rd_kafka_topic_partition_list_t *offs, char *err, size_t errlen)
{
	eng_crash_point(e, "txn");
	int r = txn_commit(e->txn, e->rk, offs, err, errlen);
	if (r == TXN_FENCED) {
		char why[800];
		snprintf(why, sizeof(why), "%s: this member was fenced (its partitions went to another member while "
		         "it was away): nothing of this batch was committed; restart it to rejoin the group", err);
		eng_fatal(e, AGG_EXIT_RUNTIME, why);
		return -1;
	}
	if (r < 0) {
		eng_fatal(e, AGG_EXIT_RUNTIME, err);
		return -1;
	}
	eng_crash_point(e, "kafka");
	return 0;
}

/* The batch: stored, closed windows exported, COMMIT, then the offsets to
 * the group (only now: the group is never ahead of the state), memory
 * trimmed, and a look at the state file (deleted or replaced while running,
 * what has been committed since went into a file nobody will open again).
 * A failure before COMMIT rolls back and cuts the CSV back.  0, or -1. */
static int eng_flush(struct engine *e, int sync_commit)
{
	char err[700];
	int64_t t0 = eng_mono(), rows = 0, csv_before = e->csv.bytes;
	rd_kafka_topic_partition_list_t *offs = NULL;
	int r;

	if (!e->dirty || e->exit_code)
		return e->exit_code ? -1 : 0;
	if (eng_tx(e) < 0)
		return -1;
	err[0] = '\0';
	e->batch_rows = 0;
	if (e->txn && (r = txn_begin(e->txn, err, sizeof(err))) < 0) {
		eng_fatal(e, AGG_EXIT_RUNTIME, err);
	} else if (eng_store_batch(e, &offs, err, sizeof(err)) < 0 ||
	           (r = e->txn ? 0 : eng_export_closed(e, &rows, err, sizeof(err))) == -1 ||
	           (r == 0 && e->txn && (r = eng_txn_commit(e, offs, err, sizeof(err))) < 0) ||
	           (r == 0 && store_commit(e->st, err, sizeof(err)) < 0)) {
		if (!e->exit_code)
			eng_fatal(e, eng_state_code(e), err);
		r = -1;
	}
	if (r < 0 || e->exit_code) {
		if (e->txn)
			txn_abort(e->txn); /* nothing of the batch in Kafka either */
		store_rollback(e->st);
		if (e->csv.bytes != csv_before || e->csv.fd >= 0)
			export_truncate(&e->csv, csv_before, err, sizeof(err));
		if (offs)
			rd_kafka_topic_partition_list_destroy(offs);
		return -1;
	}
	eng_crash_point(e, "commit");
	e->stored_watermark = e->watermark;
	if (e->watermark != WM_NONE && (e->exported_until == WM_NONE || e->watermark > e->exported_until))
		e->exported_until = e->watermark;
	if (e->txn)
		rows = e->batch_rows;
	e->total.rows += rows;
	if (offs && e->txn) {
		for (int i = 0; i < offs->cnt; i++)
			eng_part_find(e, offs->elems[i].topic, offs->elems[i].partition)->group_offset = offs->elems[i].offset;
		rd_kafka_topic_partition_list_destroy(offs);
	} else if (offs) {
		/* The group gets only what this COMMIT made durable. */
		for (int i = 0; i < offs->cnt; i++)
			assert(!eng_part_find(e, offs->elems[i].topic, offs->elems[i].partition)->dirty);
		consume_commit(e->rk, offs, sync_commit);
		rd_kafka_topic_partition_list_destroy(offs);
		eng_crash_point(e, "group");
	}
	eng_evict(e, rows);
	e->dirty = 0;
	e->close_pending = 0;
	e->batch_msgs = 0;
	int64_t dt = eng_mono() - t0;
	e->total.batches++;
	e->total.batch_us_total += dt;
	if (dt > e->total.batch_us_max)
		e->total.batch_us_max = dt;
	size_t b = 0;
	while (b < ENG_HIST_N && dt > eng_hist_le[b])
		b++;
	e->total.batch_hist[b]++;
	int fr = store_check_file(e->st, err, sizeof(err));
	if (fr != 0) {
		eng_fatal(e, fr == STORE_WRITTEN_BACK ? AGG_EXIT_RUNTIME : AGG_EXIT_STATE, err);
		return -1;
	}
	return 0;
}

/* The group's answer to an offset commit: remember what it confirmed, so a
 * failed commit is sent again with the next batch. */
static void eng_on_commit(void *opaque, rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t *offs)
{
	struct engine *e = opaque;
	for (int i = 0; offs && i < offs->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &offs->elems[i];
		struct eng_part *p = eng_part_find(e, tp->topic, tp->partition);
		if (!p)
			continue;
		if (!err && !tp->err)
			p->group_offset = tp->offset;
		else
			eng_log(e, LOG_INFO, "offset commit of %s [%d] to the group failed: %s (sent again until it is taken)",
			        tp->topic, tp->partition, rd_kafka_err2str(err ? err : tp->err));
	}
}

static int eng_load_product(const struct store_product *sp, void *arg)
{
	struct eng_part *p = arg;
	uint32_t idx;
	struct eng_product *pr = eng_product_get(p, sp->product_id, &idx);
	if (!pr)
		return -1;
	pr->s = *sp;
	return 0;
}

/*
 * Group mode: a partition comes to this member.  When the file holds it at
 * the group's committed offset (it was ours last, or never anyone's), it
 * goes on from the file.  Otherwise its last owner was another member, or
 * this one crashed between the Kafka transaction and the SQLite commit: its
 * state is restored from the changelog, which the same transactions wrote
 * with those offsets.  A changelog that is behind the group's offset is
 * still held back by a dead member's open transaction (read_committed stops
 * there until the broker aborts it, transaction.timeout.ms): read again.
 */
#define ENG_RESTORE_TRIES 30 /* 1 s apart: past the 10 s transaction timeout */
static int eng_restore(struct engine *e, struct eng_part *p, const rd_kafka_topic_partition_list_t *committed)
{
	char err[700];
	struct store_partition had;
	const rd_kafka_topic_partition_t *c = rd_kafka_topic_partition_list_find(committed, p->topic, p->partition);
	int64_t want = c && c->offset >= 0 ? c->offset : -1;

	if (p->topic_parts <= 0) {
		for (size_t i = 0; i < e->nparts && p->topic_parts <= 0; i++)
			if (e->parts[i].topic_parts > 0 && !strcmp(e->parts[i].topic, p->topic))
				p->topic_parts = e->parts[i].topic_parts;
		if (p->topic_parts <= 0)
			p->topic_parts = txn_topic_partitions(e->txn, p->topic);
	}
	if (store_partition_get(e->st, p->topic, p->partition, &had) < 0) {
		eng_fatal(e, eng_state_code(e), "state: cannot read a partition's state");
		return -1;
	}
	if (want < 0 || had.next_offset == want)
		return 0; /* the file is where the group is (or the group has nothing: the file wins) */
	int64_t t0 = eng_mono();
	for (int try = 0;; try++) {
		int found;
		struct store_partition got;
		if (txn_restore(e->txn, e->st, p->topic, p->partition, &found, err, sizeof(err)) < 0 ||
		    store_partition_get(e->st, p->topic, p->partition, &got) < 0) {
			eng_fatal(e, AGG_EXIT_RUNTIME, err);
			return -1;
		}
		if (found && got.next_offset == want) {
			eng_log(e, LOG_INFO, "restored %s [%d] from the changelog at offset %" PRId64 " in %" PRId64 " ms "
			        "(the state file had %" PRId64 ")", p->topic, p->partition, want,
			        (eng_mono() - t0) / 1000, had.next_offset);
			return 0;
		}
		if (!found) {
			eng_log(e, LOG_WARN, "%s [%d]: the changelog %s has nothing of it, the group is at offset %" PRId64
			        ": starting there with what the state file has of it", p->topic, p->partition,
			        e->cfg->changelog_topic, want);
			return 0;
		}
		if (got.next_offset > want || try + 1 >= ENG_RESTORE_TRIES) {
			snprintf(err, sizeof(err), "%s [%d]: the changelog is at offset %" PRId64 ", the group at %" PRId64
			         ": they were written together, one of them was changed by hand", p->topic, p->partition,
			         got.next_offset, want);
			eng_fatal(e, AGG_EXIT_STATE, err);
			return -1;
		}
		if (try == 0)
			eng_log(e, LOG_INFO, "%s [%d]: the changelog is behind the group (%" PRId64 " < %" PRId64 "): a "
			        "transaction of a member that died is still open; waiting for the broker to abort it",
			        p->topic, p->partition, got.next_offset, want);
		nanosleep(&(struct timespec){ 1, 0 }, NULL);
	}
}

static int eng_on_assign(void *opaque, rd_kafka_topic_partition_list_t *parts)
{
	struct engine *e = opaque;
	char err[512];
	int ret = 0;
	/* The partitions' state read in one transaction (one snapshot, one lock
	 * instead of two per partition). Nothing is
	 * written, so its commit costs no sync. */
	int tx = !store_in_tx(e->st);

	if (tx && store_begin(e->st, err, sizeof(err)) < 0) {
		eng_fatal(e, eng_state_code(e), err);
		return -1;
	}
	/* Group mode: the group's offsets say whether this file is where the
	 * last owner left each partition (eng_restore). */
	rd_kafka_topic_partition_list_t *committed = NULL;
	if (e->txn) {
		committed = rd_kafka_topic_partition_list_copy(parts);
		rd_kafka_resp_err_t ce = rd_kafka_committed(e->rk, committed, 30000);
		if (ce) {
			eng_fatal(e, AGG_EXIT_RUNTIME, "kafka: cannot read the group's offsets of the partitions assigned");
			rd_kafka_topic_partition_list_destroy(committed);
			if (tx)
				store_rollback(e->st);
			return -1;
		}
	}
	for (int i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &parts->elems[i];
		struct eng_part *p = eng_part_find(e, tp->topic, tp->partition);
		if (!p)
			p = eng_part_add(e, tp->topic, tp->partition);
		if (!p) {
			eng_fatal(e, AGG_EXIT_RUNTIME, "out of memory");
			ret = -1;
			break;
		}
		if (p->assigned) { /* assigned again without a revoke: keep what we have */
			if (p->s.next_offset >= 0)
				tp->offset = p->s.next_offset;
			continue;
		}
		p->nproducts = 0;
		p->group_offset = -1;
		if (e->txn && eng_restore(e, p, committed) < 0) {
			ret = -1;
			continue;
		}
		if (store_partition_get(e->st, p->topic, p->partition, &p->s) < 0 ||
		    store_products_each(e->st, p->topic, p->partition, eng_load_product, p) < 0) {
			eng_fatal(e, eng_state_code(e), "state: cannot read a partition's state");
			ret = -1;
			continue;
		}
		p->assigned = 1;
		p->gap_ok_at = -1;
		p->revoked_at = 0;
		p->eof = 0;
		p->fetched = 0;
		p->dirty = 0;
		p->start_offset = -1;
		p->reported = p->s.next_offset;
		if (p->s.next_offset >= 0)
			tp->offset = p->s.next_offset; /* the state's offset wins over the group's */
	}
	if (committed)
		rd_kafka_topic_partition_list_destroy(committed);
	if (tx && ret == 0 && store_commit(e->st, err, sizeof(err)) < 0) {
		eng_fatal(e, eng_state_code(e), err);
		ret = -1;
	} else if (tx && ret < 0) {
		store_rollback(e->st);
	}
	return ret;
}

/* Offsets the group has not confirmed, sent again every ENG_RECOMMIT_US
 * while they are not (a failed commit, no batch since): a partition that gets
 * no more ticks is not left behind until the close. */
#define ENG_RECOMMIT_US 2000000
static void eng_recommit(struct engine *e, int64_t mono)
{
	rd_kafka_topic_partition_list_t *offs = NULL;
	for (size_t i = 0; i < e->nparts; i++) {
		struct eng_part *p = &e->parts[i];
		if (!p->assigned || p->s.next_offset < 0 || p->s.next_offset == p->group_offset || p->dirty ||
		    mono - p->commit_sent < ENG_RECOMMIT_US)
			continue;
		if (!offs)
			offs = rd_kafka_topic_partition_list_new(4);
		rd_kafka_topic_partition_list_add(offs, p->topic, p->partition)->offset = p->s.next_offset;
		p->commit_sent = mono;
	}
	if (offs) {
		consume_commit(e->rk, offs, 0);
		rd_kafka_topic_partition_list_destroy(offs);
	}
}

/* Says where each newly assigned partition starts, exactly. */
static void eng_on_started(void *opaque, const rd_kafka_topic_partition_list_t *parts)
{
	struct engine *e = opaque;
	for (int i = 0; i < parts->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &parts->elems[i];
		struct eng_part *p = eng_part_find(e, tp->topic, tp->partition);
		if (!p || !p->assigned)
			continue;
		if (p->s.next_offset >= 0) {
			eng_log(e, LOG_INFO, "assigned %s [%d], starting at the state's offset %" PRId64, p->topic,
			        p->partition, p->s.next_offset);
			continue;
		}
		if (tp->offset >= 0)
			p->start_offset = tp->offset; /* for the lag until its first message */
		if (tp->opaque == CONSUME_FROM_START && tp->offset >= 0)
			eng_log(e, LOG_INFO, "assigned %s [%d], new to the state: starting at offset %" PRId64
			        " (--start-at)", p->topic, p->partition, tp->offset);
		else if (tp->opaque == CONSUME_FROM_START)
			eng_log(e, LOG_INFO, "assigned %s [%d], new to the state: starting at the end of its log "
			        "(--start-at)", p->topic, p->partition);
		else if (tp->offset >= 0 && tp->opaque == CONSUME_FROM_GROUP)
			eng_log(e, LOG_INFO, "assigned %s [%d], new to the state: starting at the group's committed offset %"
			        PRId64, p->topic, p->partition, tp->offset);
		else if (tp->offset >= 0)
			eng_log(e, LOG_INFO, "assigned %s [%d], new to the state, no offset in the group: starting at offset %"
			        PRId64 " (auto.offset.reset)", p->topic, p->partition, tp->offset);
		else
			eng_log(e, LOG_INFO, "assigned %s [%d], new to the state: starting at the group's committed offset, "
			        "or where auto.offset.reset says (not known yet)", p->topic, p->partition);
	}
}

/* Commits the state's offsets to the group and waits for the answer, up to
 * tries times: those of parts (all of them), or with parts NULL those of every
 * assigned partition the group has not confirmed.  Before partitions go to
 * another member, and at close, the group must hold what the state holds: the
 * member that gets them next starts at the group's offset, and an asynchronous
 * commit may still be in flight or have failed (a partition that gets no more
 * ticks would not be committed again by a later batch).  Returns 0 when the
 * group has them all. */
static int eng_commit_group(struct engine *e, const rd_kafka_topic_partition_list_t *parts, int tries)
{
	rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(4);
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

	for (size_t i = 0; i < e->nparts; i++) {
		struct eng_part *p = &e->parts[i];
		if (!p->assigned || p->s.next_offset < 0)
			continue;
		if (parts ? !rd_kafka_topic_partition_list_find(parts, p->topic, p->partition)
		          : p->group_offset == p->s.next_offset)
			continue;
		rd_kafka_topic_partition_list_add(offs, p->topic, p->partition)->offset = p->s.next_offset;
	}
	for (int t = 0; offs->cnt > 0 && t < tries; t++) {
		err = consume_commit(e->rk, offs, 1);
		if (!err) {
			for (int i = 0; i < offs->cnt; i++) {
				struct eng_part *p = eng_part_find(e, offs->elems[i].topic, offs->elems[i].partition);
				if (p)
					p->group_offset = offs->elems[i].offset;
			}
			break;
		}
	}
	if (err)
		eng_log(e, LOG_WARN, "the group's offsets of %d partition(s) lag the state's: %s (the state's win at "
		        "restart; a member without this state would read them again)", offs->cnt, rd_kafka_err2str(err));
	rd_kafka_topic_partition_list_destroy(offs);
	return err ? -1 : 0;
}

/* Group mode, partitions lost (this member was out of the group): the
 * batch cannot commit, and need not: its partitions' next owner starts from
 * what was committed.  What the batch changed is undone here too; the
 * partitions still assigned read their state back from the file. */
static void eng_forget_batch(struct engine *e)
{
	if (store_in_tx(e->st))
		store_rollback(e->st);
	win_table_evict(&e->wins, eng_drop_any, NULL);
	for (size_t i = 0; i < e->nparts; i++) {
		struct eng_part *p = &e->parts[i];
		p->dirty = 0;
		p->nproducts = 0;
		if (p->assigned && (store_partition_get(e->st, p->topic, p->partition, &p->s) < 0 ||
		                    store_products_each(e->st, p->topic, p->partition, eng_load_product, p) < 0))
			eng_fatal(e, eng_state_code(e), "state: cannot read a partition's state");
	}
	e->dirty = 0;
	e->batch_msgs = 0;
}

static void eng_on_revoke(void *opaque, const rd_kafka_topic_partition_list_t *parts, int lost)
{
	struct engine *e = opaque;

	/* Settle the batch first: what was read of these partitions is committed
	 * with their offsets (even when lost: this state file is ours alone).
	 * Then the group gets their offsets before the next member reads them
	 * (not when lost: this member is out of the group, the commit would be
	 * refused). */
	if (e->txn && lost) {
		eng_forget_batch(e);
	} else {
		eng_flush(e, 1);
		if (!lost && !e->exit_code && !e->txn)
			eng_commit_group(e, parts, 3);
	}
	for (int i = 0; i < parts->cnt; i++) {
		struct eng_part *p = eng_part_find(e, parts->elems[i].topic, parts->elems[i].partition);
		if (!p)
			continue;
		uint32_t idx = (uint32_t)(p - e->parts);
		p->assigned = 0;
		p->revoked_at = eng_now();
		p->nproducts = 0;
		win_table_evict(&e->wins, eng_drop_part, &idx);
		eng_log(e, LOG_INFO, "%s %s [%d]", lost ? "lost" : "revoked", p->topic, p->partition);
	}
}

/* --available-now: a partition is read when it reported its end, or when the
 * next offset reached the high watermark the client last saw (an end-of-
 * partition event is not always sent, e.g. when starting at the end). */
static int eng_part_read(const struct engine *e, const struct eng_part *p)
{
	int64_t lo, hi;
	if (p->eof)
		return 1;
	return p->s.next_offset >= 0 &&
	       rd_kafka_get_watermark_offsets(e->rk, p->topic, p->partition, &lo, &hi) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	       hi >= 0 && p->s.next_offset >= hi;
}

/* librdkafka 2.0 stops fetching a partition whose prefetch queue is full
 * (queued.max.messages.kbytes) and looks again only when its broker thread
 * wakes, about once a second: a consumer faster than that sits idle with a
 * backlog. A request to a partition's leader wakes that thread; send one, to
 * the partition furthest behind, when the local queue runs low while the
 * assigned partitions are ENG_BACKLOG messages behind in all (never in live
 * operation, where the lag is a few messages).  A partition that has not
 * delivered a message yet counts from its log start, as the progress lag does. */
#define ENG_BACKLOG 1000
#define ENG_QUEUE_LOW 250 /* messages left in the local queue: ~1 ms of work */
static void eng_nudge_fetcher(struct engine *e)
{
	const struct eng_part *behind = NULL;
	int64_t total = 0, most = 0, lo, hi;

	for (size_t i = 0; i < e->nparts; i++) {
		const struct eng_part *p = &e->parts[i];
		if (!p->assigned || p->eof ||
		    rd_kafka_get_watermark_offsets(e->rk, p->topic, p->partition, &lo, &hi))
			continue;
		int64_t pos = p->s.next_offset >= 0 ? p->s.next_offset : lo;
		if (pos < 0 || hi <= pos)
			continue;
		total += hi - pos;
		if (p->fetched && hi - pos > most) {
			most = hi - pos;
			behind = p;
		}
	}
	/* Sending the request is what wakes the broker thread; the answer is
	 * not needed, and the call that sends it waits for one: the nudger
	 * thread makes it, only to a partition that has delivered since it was
	 * assigned (its leader is known). */
	if (behind && total >= ENG_BACKLOG)
		consume_nudger_post(&e->nudger, behind->topic, behind->partition);
}

static int eng_all_read(const struct engine *e)
{
	int assigned = 0;
	for (size_t i = 0; i < e->nparts; i++) {
		if (!e->parts[i].assigned)
			continue;
		assigned++;
		if (!eng_part_read(e, &e->parts[i]))
			return 0;
	}
	return assigned > 0;
}

/* --metrics, per partition and product: the state's totals. */
static void eng_metrics_products(const struct engine *e, FILE *f)
{
	static const struct { const char *name, *help; int what; } per_product[] = {
		{ "aggregator_ticks_total", "Ticks counted into windows, since the state began.", 0 },
		{ "aggregator_late_ticks_total", "Ticks dropped as late (their window was closed).", 1 },
		{ "aggregator_duplicate_ticks_total", "Ticks dropped as replays (feed sequence not above the largest).", 2 },
	};
	for (size_t k = 0; k < sizeof(per_product) / sizeof(per_product[0]); k++) {
		metrics_family(f, per_product[k].name, "counter", per_product[k].help);
		for (size_t i = 0; i < e->nparts; i++) {
			const struct eng_part *p = &e->parts[i];
			for (uint32_t j = 0; p->assigned && j < p->nproducts; j++) {
				const struct store_product *s = &p->products[j].s;
				fprintf(f, "%s{topic=\"%s\",partition=\"%d\",product=\"%s\"} %" PRId64 "\n", per_product[k].name,
				        p->topic, p->partition, s->product_id,
				        per_product[k].what == 0 ? s->ticks : per_product[k].what == 1 ? s->late : s->duplicates);
			}
		}
	}
}

/* --metrics, per assigned partition: rejects, the next offset, the lag
 * (librdkafka's cached log end; none before it knows one) and event time. */
static void eng_metrics_partitions(const struct engine *e, FILE *f)
{
	metrics_family(f, "aggregator_rejected_messages_total", "counter",
	               "Messages that are no valid ticker (kept in the rejected table).");
	for (size_t i = 0; i < e->nparts; i++)
		if (e->parts[i].assigned)
			fprintf(f, "aggregator_rejected_messages_total{topic=\"%s\",partition=\"%d\"} %" PRId64 "\n",
			        e->parts[i].topic, e->parts[i].partition, e->parts[i].s.rejected);
	metrics_family(f, "aggregator_next_offset", "gauge", "The next offset to read, as committed to the state.");
	for (size_t i = 0; i < e->nparts; i++)
		if (e->parts[i].assigned && e->parts[i].s.next_offset >= 0)
			fprintf(f, "aggregator_next_offset{topic=\"%s\",partition=\"%d\"} %" PRId64 "\n", e->parts[i].topic,
			        e->parts[i].partition, e->parts[i].s.next_offset);
	metrics_family(f, "aggregator_lag_messages", "gauge", "Messages in the log not read yet.");
	for (size_t i = 0; i < e->nparts; i++) {
		const struct eng_part *p = &e->parts[i];
		int64_t lo, hi;
		if (!p->assigned || rd_kafka_get_watermark_offsets(e->rk, p->topic, p->partition, &lo, &hi) || hi < 0)
			continue;
		int64_t at = p->s.next_offset >= 0 ? p->s.next_offset : p->start_offset >= 0 ? p->start_offset : lo;
		fprintf(f, "aggregator_lag_messages{topic=\"%s\",partition=\"%d\"} %" PRId64 "\n", p->topic, p->partition,
		        hi > at ? hi - at : 0);
	}
	metrics_family(f, "aggregator_event_time_seconds", "gauge",
	               "A partition's event time (its newest confirmed tick), Unix time.");
	for (size_t i = 0; i < e->nparts; i++)
		if (e->parts[i].assigned && e->parts[i].s.max_time != WM_NONE)
			fprintf(f, "aggregator_event_time_seconds{topic=\"%s\",partition=\"%d\"} %.6f\n", e->parts[i].topic,
			        e->parts[i].partition, (double)e->parts[i].s.max_time / 1e6);
}

/* --metrics, the process: the watermark (once there is one), open windows,
 * rows written, data lost, and the batch duration histogram. */
static void eng_metrics_process(const struct engine *e, FILE *f)
{
	if (e->watermark != WM_NONE) {
		metrics_family(f, "aggregator_watermark_seconds", "gauge",
		               "The watermark: windows ending at or before it are closed.");
		fprintf(f, "aggregator_watermark_seconds %.6f\n", (double)e->watermark / 1e6);
	}
	metrics_family(f, "aggregator_open_windows", "gauge", "Windows (per partition and product) kept in memory.");
	fprintf(f, "aggregator_open_windows %zu\n", e->wins.count);
	metrics_family(f, "aggregator_rows_exported_total", "counter", "Rows appended to output.csv by this process.");
	fprintf(f, "aggregator_rows_exported_total %" PRId64 "\n", e->total.rows);
	metrics_family(f, "aggregator_data_lost_total", "counter",
	               "Offsets gone from Kafka before they were read (--on-data-loss=skip).");
	fprintf(f, "aggregator_data_lost_total %" PRId64 "\n", e->total.lost);
	metrics_family(f, "aggregator_batch_duration_seconds", "histogram",
	               "One batch: its writes, the CSV, COMMIT, the group commit.");
	int64_t cum = 0;
	for (size_t b = 0; b < ENG_HIST_N; b++) {
		cum += e->total.batch_hist[b];
		fprintf(f, "aggregator_batch_duration_seconds_bucket{le=\"%g\"} %" PRId64 "\n", (double)eng_hist_le[b] / 1e6,
		        cum);
	}
	cum += e->total.batch_hist[ENG_HIST_N];
	fprintf(f, "aggregator_batch_duration_seconds_bucket{le=\"+Inf\"} %" PRId64 "\n"
	        "aggregator_batch_duration_seconds_sum %.6f\naggregator_batch_duration_seconds_count %" PRId64 "\n",
	        cum, (double)e->total.batch_us_total / 1e6, cum);
}

/* --metrics: the text Prometheus scrapes, made at most once a second (and at
 * the end) from what the engine has: per partition and product the state's
 * totals, per partition offsets, lag and event time, and the process's own
 * counters and batch durations. */
static void eng_metrics(struct engine *e, int64_t mono, int force)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!e->metrics || (!force && mono - e->metrics_at < 1000000) || !(f = open_memstream(&text, &len)))
		return;
	e->metrics_at = mono;
	eng_metrics_products(e, f);
	eng_metrics_partitions(e, f);
	eng_metrics_process(e, f);
	fclose(f);
	metrics_publish(e->metrics, text, len);
	free(text);
}

/* A random (version 4) UUID naming this run in the progress JSON, as
 * Spark's runId does; the clock and pid stand in when getrandom cannot. */
static void eng_run_id(char out[37])
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		uint64_t x = (uint64_t)eng_now() ^ ((uint64_t)getpid() << 40);
		for (size_t i = 0; i < sizeof(b); i++, x = x * 6364136223846793005ULL + 1442695040888963407ULL)
			b[i] = (unsigned char)(x >> 56);
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
	         b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* A progress report every --progress-interval (progress.c prints it). */
static void eng_progress(struct engine *e, int64_t mono, int final)
{
	const struct agg_config *c = e->cfg;
	/* The first commit is reported at once: how long a start takes is read
	 * from it (make bench), and a line within --progress-interval of an
	 * earlier one would otherwise wait for the next batch. */
	int first = e->total.batches == 1 && e->last.batches == 0;
	if (!c->progress_us || (!final && !first && mono - e->last_progress < c->progress_us))
		return;
	struct progress_report r = {
		.id = c->group, .run_id = e->run_id, .source = c->topics_arg,
		.sink = c->output_topic ? c->output_topic : c->output_path, .sink_topic = c->output_topic != NULL,
		.secs = (double)(mono - e->last_progress) / 1e6,
		.msgs = e->total.msgs - e->last.msgs,
		.batches = e->total.batches - e->last.batches,
		.in_rows = e->total.rows - e->last.rows,
		.in_late = e->total.late - e->last.late,
		.batch_secs = (double)(e->total.batch_us_total - e->last.batch_us_total) / 1e6,
		.busy_secs = (double)(e->total.busy_us - e->last.busy_us) / 1e6,
		.watermark = e->watermark,
		.max_event = WM_NONE,
		.open_windows = e->wins.count,
		.msgs_total = e->total.msgs, .batches_total = e->total.batches,
		.rows = e->total.rows, .ticks = e->total.ticks, .late = e->total.late,
		.rejected = e->total.rejected, .duplicates = e->total.duplicates, .lost = e->total.lost,
		.lag = -1,
		.sources = e->sources,
		.final = final,
	};
	for (size_t i = 0; i < e->nparts; i++) {
		int64_t lo, hi;
		struct eng_part *p = &e->parts[i];
		if (p->s.max_time != WM_NONE && (r.max_event == WM_NONE || p->s.max_time > r.max_event))
			r.max_event = p->s.max_time;
		if (!p->assigned)
			continue;
		if (rd_kafka_get_watermark_offsets(e->rk, p->topic, p->partition, &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
			hi = -1;
		e->sources[r.nsources++] = (struct progress_source){
			.topic = p->topic, .partition = p->partition,
			.start = p->reported >= 0 ? p->reported : p->start_offset,
			.end = p->s.next_offset, .latest = hi,
		};
		p->reported = p->s.next_offset;
		if (hi < 0)
			continue;
		int64_t at = p->s.next_offset >= 0 ? p->s.next_offset : p->start_offset >= 0 ? p->start_offset : lo;
		r.lag = (r.lag < 0 ? 0 : r.lag) + (hi > at ? hi - at : 0);
	}
	progress_print(&r, c->progress_json, c->verbosity);
	e->last = e->total;
	e->last_progress = mono;
}

/* Whether a broker answers a metadata request (within 2 s): what to blame
 * when nothing is assigned. */
static int eng_reachable(struct engine *e)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = rd_kafka_metadata(e->rk, 0, NULL, &md, 2000);
	if (md)
		rd_kafka_metadata_destroy(md);
	return err == RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Opens the state and the CSV, recovering the CSV's tail after a crash. */
static int eng_open(struct engine *e)
{
	const struct agg_config *c = e->cfg;
	struct store_settings s = { c->window_us, c->slide_us, c->delay_us };
	char err[700], cols[512] = "";
	int64_t bytes = 0, v;

	int chk = c->output_topic ? 0 : export_check_target(c->output_path, c->state_path, 1, err, sizeof(err));
	if (chk < 0) {
		eng_fatal(e, chk == EXPORT_ESAME ? AGG_EXIT_USAGE : AGG_EXIT_OUTPUT, err);
		return -1;
	}
	int r = store_open(&e->st, c->state_path, &s, 0, err, sizeof(err));
	if (r < 0) {
		eng_fatal(e, r == STORE_ETRANSIENT ? AGG_EXIT_RUNTIME : AGG_EXIT_STATE, err);
		return -1;
	}
	e->watermark = e->stored_watermark = store_meta_get(e->st, "watermark_us", &v) == 1 ? v : WM_NONE;
	e->exported_until = store_meta_get(e->st, "exported_until_us", &v) == 1 ? v : WM_NONE;
	if (c->output_topic) /* group mode: closed windows go to the output topic */
		return txn_open(&e->txn, c, err, sizeof(err)) < 0 ? (eng_fatal(e, AGG_EXIT_RUNTIME, err), -1) : 0;
	if (store_meta_get(e->st, "csv_bytes", &v) == 1)
		bytes = v;
	store_meta_get_text(e->st, "csv_columns", cols, sizeof(cols));
	if (bytes > 0 && strcmp(cols, c->columns) != 0) {
		int64_t rows;
		eng_log(e, LOG_INFO, "--columns changed since the last run: rewriting %s", c->output_path);
		int r = export_rewrite(c->output_path, c->columns, e->st, e->exported_until, &bytes, &rows,
		                       err, sizeof(err));
		if (r < 0) {
			eng_fatal(e, eng_export_code(e, r), err);
			return -1;
		}
	}
	int64_t before = bytes;
	r = export_open(&e->csv, c->output_path, c->columns, e->st, e->exported_until, &bytes,
	                    err, sizeof(err));
	if (r < 0) {
		eng_fatal(e, eng_export_code(e, r), err);
		return -1;
	}
	if (bytes != before || strcmp(cols, c->columns) != 0) {
		if (store_begin(e->st, err, sizeof(err)) < 0 ||
		    store_meta_set(e->st, "csv_bytes", bytes, err, sizeof(err)) < 0 ||
		    store_meta_set_text(e->st, "csv_columns", c->columns, err, sizeof(err)) < 0 ||
		    store_commit(e->st, err, sizeof(err)) < 0) {
			eng_fatal(e, eng_state_code(e), err);
			return -1;
		}
	}
	return 0;
}

/* Times of the loop (monotonic us unless said otherwise). */
#define ENG_POLL_MAX_MS       100        /* longest wait in one poll */
#define ENG_NUDGE_EVERY_US    5000       /* at most one fetcher nudge this often */
#define ENG_FIRST_BATCH_US    5000       /* the first batch is this short: an early first commit */
#define ENG_UNASSIGNED_WARN_US 30000000  /* no partition this long: say why */
#define ENG_BOUNDED_WAIT_US   60000000   /* --available-now gives up (exit 1) after this */

/* The loop's own state: when the batch is due, and what sets that. */
struct eng_loop {
	rd_kafka_queue_t *cq;   /* the consumer queue, for its length */
	int64_t deadline;       /* the open batch is cut at this time */
	int64_t first_msg;      /* when the first batch got its first message */
	int64_t busy_since;     /* end of the last wait in poll */
	int64_t last_nudge;     /* last eng_nudge_fetcher */
	int64_t last_commit;    /* when the last batch was committed */
	int64_t flush_est;      /* a commit's duration: decaying maximum */
	int64_t lead;           /* a batch is cut this long before --batch-time */
	int warned_unassigned;
};

/* The consumer first: it connects and reads metadata while the state file
 * opens; partitions are assigned only once the state is read. */
static int eng_setup(struct engine *e, const struct agg_config *cfg)
{
	char err[700];

	memset(e, 0, sizeof(*e));
	e->cfg = cfg;
	e->csv.fd = -1;
	e->watermark = e->stored_watermark = e->exported_until = WM_NONE;
	e->wm_floor = INT64_MAX;
	wm_history_init(&e->delivered);
	e->win_cache = (size_t)cfg->cache_windows;
	e->starts = malloc(WIN_MAX_PER_TICK * sizeof(*e->starts));
	eng_crash_init(e);
	if (!e->starts || win_table_init(&e->wins, 1024) < 0) {
		eng_fatal(e, AGG_EXIT_RUNTIME, "out of memory");
		return -1;
	}
	e->hooks.opaque = e;
	e->hooks.verbosity = cfg->verbosity;
	e->hooks.start_at = cfg->start_at_ms;
	e->hooks.on_assign = eng_on_assign;
	e->hooks.on_revoke = eng_on_revoke;
	e->hooks.on_started = eng_on_started;
	e->hooks.on_commit = eng_on_commit;
	int code = AGG_EXIT_RUNTIME;
	if (!(e->rk = consume_new(cfg, &e->hooks, &code, err, sizeof(err)))) {
		eng_fatal(e, code, err);
		return -1;
	}
	if (consume_nudger_start(&e->nudger, e->rk) < 0) {
		eng_fatal(e, AGG_EXIT_RUNTIME, "cannot start a thread");
		return -1;
	}
	if (eng_open(e) < 0)
		return -1;
	eng_log(e, LOG_INFO, "aggregator %s: %s from %s, state %s, output %s%s", PIPELINE_VERSION,
	        cfg->topics_arg, cfg->brokers, cfg->state_path, cfg->output_topic ? "topic " : "",
	        cfg->output_topic ? cfg->output_topic : cfg->output_path);
	if (cfg->metrics_addr) {
		if (metrics_start(&e->metrics, cfg->metrics_addr, err, sizeof(err)) < 0) {
			eng_fatal(e, AGG_EXIT_USAGE, err);
			return -1;
		}
		eng_log(e, LOG_INFO, "metrics on port %d (%s): GET /metrics", metrics_port(e->metrics), cfg->metrics_addr);
	}
	if (consume_start(e->rk, cfg, &e->hooks, err, sizeof(err)) < 0) {
		eng_fatal(e, AGG_EXIT_RUNTIME, err);
		return -1;
	}
	return 0;
}

/* One poll: a message into the batch, or none (drained).  A starved fetcher
 * is nudged on the way.  Returns 1 when the queue was empty. */
static int eng_poll_one(struct engine *e, struct eng_loop *L)
{
	int64_t mono = eng_mono(); /* two clock reads per message: before and after the poll */
	int timeout = L->deadline > mono ? (int)((L->deadline - mono + 999) / 1000) : 0;

	e->total.busy_us += mono - L->busy_since;
	rd_kafka_message_t *m = rd_kafka_consumer_poll(e->rk, e->close_pending ? 0 :
	                                               timeout > ENG_POLL_MAX_MS ? ENG_POLL_MAX_MS : timeout);
	L->busy_since = eng_mono();
	if (L->busy_since - L->last_nudge > ENG_NUDGE_EVERY_US &&
	    (!m || (L->cq && rd_kafka_queue_length(L->cq) < ENG_QUEUE_LOW))) {
		eng_nudge_fetcher(e);
		L->last_nudge = L->busy_since = eng_mono();
	}
	if (!m)
		return 1;
	int64_t had = e->batch_msgs;
	eng_message(e, m);
	rd_kafka_message_destroy(m);
	/* A batch that starts after a pause in the input is due --batch-time
	 * after the last commit, not after the last (empty) deadline: a commit
	 * at least every --batch-time while ticks come. */
	int64_t due = L->last_commit + e->cfg->batch_us - L->lead;
	if (!had && e->batch_msgs && L->last_commit && L->deadline > due)
		L->deadline = due;
	if (e->total.batches == 0 && e->batch_msgs > 0 && !L->first_msg)
		L->first_msg = L->busy_since;
	return 0;
}

/* Is the open batch to be committed now?  When full, when due, when a window
 * closed and nothing else is queued (live ticks: the row goes out at once; a
 * backlog keeps its batches), and the first batch early. */
static int eng_batch_due(const struct engine *e, const struct eng_loop *L, int64_t mono, int drained)
{
	return e->batch_msgs >= e->cfg->batch_max || mono >= L->deadline || (e->close_pending && drained) ||
	       (e->total.batches == 0 && L->first_msg && (drained || mono - L->first_msg >= ENG_FIRST_BATCH_US));
}

/* Commits the batch, and sets the next one's deadline: --batch-time is the
 * promised time between two commits, so the next batch is cut early by what
 * a commit takes (its recent maximum) plus a tenth of --batch-time for a
 * commit slower than that one.  Returns the time after it, or -1. */
static int64_t eng_end_batch(struct engine *e, struct eng_loop *L, int64_t mono)
{
	int64_t batches = e->total.batches, batch_us = e->cfg->batch_us;

	eng_watermark(e, eng_now()); /* idleness moves it without messages */
	if (e->txn && !e->dirty)
		eng_emit_due(e);
	if (eng_flush(e, 0) < 0)
		return -1;
	int64_t done = eng_mono();
	if (e->total.batches != batches) {
		int64_t took = done - mono;
		L->flush_est = took > L->flush_est ? took : L->flush_est - L->flush_est / 8;
		if (L->flush_est > batch_us / 2)
			L->flush_est = batch_us / 2;
		L->last_commit = done;
	}
	L->lead = L->flush_est + batch_us / 10;
	L->deadline = done + batch_us - L->lead;
	eng_progress(e, done, 0);
	eng_metrics(e, done, 0);
	if (!e->exit_code)
		if (!e->txn) /* group mode: offsets go with the transactions */
			eng_recommit(e, done);
	return done;
}

/* Whether to leave the loop between batches: --available-now has read
 * everything, or cannot (no partition, or no broker, for a minute: a failure
 * that can pass, exit 1).  Also says once why nothing is assigned. */
static int eng_loop_over(struct engine *e, struct eng_loop *L, int64_t mono)
{
	const struct agg_config *cfg = e->cfg;

	if (cfg->available_now && eng_all_read(e))
		return 1;
	if (cfg->available_now && e->nparts == 0 && mono - e->started > ENG_BOUNDED_WAIT_US) {
		snprintf(e->err, sizeof(e->err), "--available-now: no partition of %s assigned within 60 s (%s %s)",
		         cfg->topics_arg, eng_reachable(e) ? "do the topics exist on" : "no broker reachable at",
		         cfg->brokers);
		e->exit_code = AGG_EXIT_RUNTIME;
		return 1;
	}
	if (cfg->available_now && e->brokers_down && mono - e->brokers_down > ENG_BOUNDED_WAIT_US) {
		snprintf(e->err, sizeof(e->err), "--available-now: no broker reachable at %s for 60 s", cfg->brokers);
		e->exit_code = AGG_EXIT_RUNTIME;
		return 1;
	}
	if (!L->warned_unassigned && e->nparts == 0 && mono - e->started > ENG_UNASSIGNED_WARN_US) {
		if (eng_reachable(e))
			eng_log(e, LOG_WARN, "no partition assigned after 30 s: do the topics %s exist on %s?",
			        cfg->topics_arg, cfg->brokers);
		else
			eng_log(e, LOG_WARN, "no partition assigned after 30 s: no broker reachable at %s", cfg->brokers);
		L->warned_unassigned = 1;
	}
	return 0;
}

/* The last batch, and the group's offsets (synchronously). */
static void eng_finish(struct engine *e)
{
	/* A bounded run is over: a partition's first ticks, fewer than
	 * OUTLIER_TIME_CONFIRM, are what it has. */
	for (size_t i = 0; e->cfg->available_now && i < e->nparts; i++) {
		struct eng_part *p = &e->parts[i];
		if (p->assigned && p->s.max_time == WM_NONE && p->s.time_run > 0) {
			p->s.max_time = p->s.time_run_max;
			p->s.time_run = 0;
			p->s.time_run_max = WM_NONE;
			p->dirty = e->dirty = 1;
		}
	}
	eng_watermark(e, eng_now());
	eng_flush(e, 1);
	if (!e->exit_code && !e->txn)
		eng_commit_group(e, NULL, 5);
	if (!e->exit_code)
		eng_progress(e, eng_mono(), 1);
	eng_metrics(e, eng_mono(), 1);
}

int engine_run(const struct agg_config *cfg, volatile sig_atomic_t *stop)
{
	struct engine e;
	struct eng_loop L = { 0 };

	if (eng_setup(&e, cfg) < 0)
		goto out;
	e.started = e.last_progress = L.busy_since = eng_mono();
	eng_run_id(e.run_id);
	L.deadline = e.started + cfg->batch_us;
	L.lead = cfg->batch_us / 10;
	L.cq = rd_kafka_queue_get_consumer(e.rk);
	eng_metrics(&e, L.busy_since, 1);
	while (!*stop && !e.exit_code) {
		int drained = eng_poll_one(&e, &L);
		int64_t mono = L.busy_since;
		if (!eng_batch_due(&e, &L, mono, drained))
			continue;
		if ((mono = eng_end_batch(&e, &L, mono)) < 0 || eng_loop_over(&e, &L, mono))
			break;
	}
	if (!e.exit_code)
		eng_finish(&e);
out:
	if (e.exit_code)
		log_msg(cfg->verbosity, LOG_ERROR, "%s", e.err);
	if (L.cq)
		rd_kafka_queue_destroy(L.cq);
	consume_nudger_stop(&e.nudger);
	if (e.rk)
		consume_close(e.rk); /* revokes through the hooks: settles what is left */
	txn_close(e.txn);
	metrics_stop(e.metrics);
	export_close(&e.csv);
	store_close(e.st);
	win_table_free(&e.wins);
	for (size_t i = 0; i < e.nparts; i++) {
		free(e.parts[i].topic);
		free(e.parts[i].products);
	}
	free(e.parts);
	free(e.wm);
	free(e.sources);
	free(e.starts);
	return e.exit_code;
}

/*
 * engine.c - the aggregator's loop (see engine.h, and engine_int.h for its
 * other parts): set up, poll a message in (ingest.c), cut the batch when it
 * is due and hand it over (batch.c, to the sink), until stopped or, with
 * --available-now, until everything is read.
 *
 * Exactly-once: a window's aggregate, the partition's next offset, the
 * watermark and what was written out all change in one transaction of the
 * sink; offsets go to the Kafka group only with or after it, and at
 * (re)assignment the offsets in the state file win.  A crash anywhere leaves
 * the state at the last commit.
 */
#include "engine.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_int.h"
#include "floordiv.h"
#include "fmt.h"
#include "httpd.h"
#include "live.h"
#include "outlier.h"
#include "sink.h"
#include "tick.h"

/* --available-now: a partition is read when it reported its end, or when the
 * next offset reached the high watermark the client last saw (an end-of-
 * partition event is not always sent, e.g. when starting at the end). */
static int eng_part_read(const struct engine *e, const struct eng_part *p)
{
	int64_t lo, hi;
	if (p->eof)
		return 1;
	if (p->s.next_offset < 0 ||
	    rd_kafka_get_watermark_offsets(e->rk, p->topic, p->partition, &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    hi < 0 || p->s.next_offset < hi)
		return 0;
	/* The record at next_offset - 1, read again to check the log, not
	 * there yet (ingest.c, eng_fingerprint). */
	return !(p->fp_check && lo >= 0 && lo < p->s.next_offset);
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

static int eng_reachable(struct engine *e)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = rd_kafka_metadata(e->rk, 0, NULL, &md, 2000);
	if (md)
		rd_kafka_metadata_destroy(md);
	return err == RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Opens the state, then what the sink writes to. */
static int eng_open(struct engine *e)
{
	const struct agg_config *c = e->cfg;
	struct store_settings s = { c->window_us, c->slide_us, c->delay_us };
	char err[700];
	int64_t v;

	int r = store_open(&e->st, c->state_path, &s, 0, err, sizeof(err));
	if (r < 0) {
		eng_fatal(e, r == STORE_ETRANSIENT ? AGG_EXIT_RUNTIME : AGG_EXIT_STATE, err);
		return -1;
	}
	/* The group it runs in, and whether in group mode: `status -b` asks
	 * that group's offsets without -g (meta keys, no schema change). */
	if (store_meta_set_text(e->st, "group", c->group, err, sizeof(err)) < 0 ||
	    store_meta_set(e->st, "group_mode", c->output_topic != NULL, err, sizeof(err)) < 0) {
		eng_fatal(e, AGG_EXIT_STATE, err);
		return -1;
	}
	e->watermark = e->stored_watermark = store_meta_get(e->st, "watermark_us", &v) == 1 ? v : WM_NONE;
	e->exported_until = store_meta_get(e->st, "exported_until_us", &v) == 1 ? v : WM_NONE;
	return e->sink->ops->start(e->sink);
}

/* Times of the loop (monotonic us unless said otherwise). */
#define ENG_POLL_MAX_MS       100        /* longest wait in one poll */
#define ENG_NUDGE_EVERY_US    5000       /* at most one fetcher nudge this often */
#define ENG_FIRST_BATCH_US    5000       /* the first batch is this short: an early first commit */
#define ENG_UNASSIGNED_WARN_US 30000000  /* no partition this long: say why */
#define ENG_BOUNDED_WAIT_US   60000000   /* --available-now gives up (exit 1) after this */
#define ENG_PARTS_CHECK_US    5000000    /* --assign: a look for partitions added to the topics */
#define ENG_CLOSE_MS          3000       /* leaving the group, at most (sink_local.c's waits come first) */
#define ENG_PROBE_US          1000000    /* a probe for a broker this often (eng_brokers_check) */

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
	int64_t parts_checked;  /* --assign: the last look for added partitions */
	int64_t brokers_were;   /* e->brokers_down at the last report_live */
};

/* The consumer first: it connects and reads metadata while the state file
 * opens; partitions are assigned only once the state is read. */
static int eng_setup(struct engine *e, const struct agg_config *cfg)
{
	char err[700];

	memset(e, 0, sizeof(*e));
	e->cfg = cfg;
	e->watermark = e->stored_watermark = e->exported_until = WM_NONE;
	e->wm_floor = INT64_MAX;
	strcpy(e->held_text, "-"); /* never a stored value: the first batch writes it */
	wm_history_init(&e->delivered);
	e->win_cache = (size_t)cfg->cache_windows;
	e->starts = malloc(WIN_MAX_PER_TICK * sizeof(*e->starts));
	crash_init(&e->crash);
	if (!e->starts || win_table_init(&e->wins, 1024) < 0) {
		eng_fatal(e, AGG_EXIT_RUNTIME, "out of memory");
		return -1;
	}
	/* The sink checks its output first (an output that is the state file is
	 * a usage error): before anything connects or is created. */
	if ((cfg->output_topic ? sink_group_open(e, &e->sink) : sink_local_open(e, &e->sink)) < 0)
		return -1;
	rebalance_hooks(e);
	e->hooks.on_error = eng_kafka_error;
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
	        cfg->topics_arg, cfg->brokers, cfg->state_path, e->sink->label_topic ? "topic " : "", e->sink->label);
	const char *addr = cfg->http_addr ? cfg->http_addr : cfg->metrics_addr;
	if (addr) {
		struct httpd_handler h;
		if (!(e->live = live_new(cfg->state_path, &h))) {
			eng_fatal(e, AGG_EXIT_RUNTIME, "out of memory");
			return -1;
		}
		int mr = httpd_start(&e->metrics, cfg->http_addr ? "--http" : "--metrics", addr, web_aggregator_html, &h, err,
		                     sizeof(err));
		if (mr < 0) { /* the port taken can pass: exit 1, which the systemd unit restarts */
			eng_fatal(e, mr == HTTPD_EINUSE ? AGG_EXIT_RUNTIME : AGG_EXIT_USAGE, err);
			return -1;
		}
		char url[300];
		httpd_url(e->metrics, url, sizeof(url));
		eng_log(e, LOG_INFO, "metrics on port %d (%s): the live page on %s, GET /metrics /healthz /api/windows "
		        "/api/open /events", httpd_port(e->metrics), addr, url);
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
	eng_message(e, m); /* m is the engine's now */
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
	/* Ticks ahead of the clock in a row: a clock fault commits none of
	 * them (ingest.c, eng_clock); a lone one is followed by ticks on time. */
	if (e->clock_runs > 0 && mono - e->clock_since < ENG_CLOCK_HOLD_US)
		return 0;
	return e->batch_msgs >= e->cfg->batch_max || mono >= L->deadline || (e->close_pending && drained) ||
	       (e->total.batches == 0 && L->first_msg && (drained || mono - L->first_msg >= ENG_FIRST_BATCH_US));
}

/* Whether a broker answers: once a second a probe (a Metadata request, on
 * the nudger's thread) asks.  One that failed starts an outage, as
 * librdkafka's __ALL_BROKERS_DOWN does (ingest.c; it is not raised for every
 * outage); one answered after the outage began ends it (while no message
 * comes, nothing else would). */
static void eng_brokers_check(struct engine *e, int64_t mono)
{
	int64_t ok, failed;
	consume_nudger_probed(&e->nudger, &ok, &failed);
	if (e->brokers_down && ok > e->brokers_down) {
		eng_brokers_up(e);
	} else if (!e->brokers_down && failed > ok) {
		e->brokers_down = failed;
		eng_log(e, LOG_WARN, "no broker reachable at %s: none answered within %d ms; retrying", e->cfg->brokers,
		        CONSUME_PROBE_MS);
	}
	if (mono - e->probed_at >= ENG_PROBE_US) {
		e->probed_at = mono;
		consume_nudger_probe(&e->nudger);
	}
}

/* Commits the batch, and sets the next one's deadline: --batch-time is the
 * promised time between two commits, so the next batch is cut early by what
 * a commit takes (its recent maximum) plus a tenth of --batch-time for a
 * commit slower than that one.  Returns the time after it, or -1. */
static int64_t eng_end_batch(struct engine *e, struct eng_loop *L, int64_t mono)
{
	int64_t batches = e->total.batches, batch_us = e->cfg->batch_us;

	eng_watermark(e, eng_now()); /* idleness moves it without messages */
	if (!e->dirty && e->sink->ops->due(e->sink))
		e->dirty = 1;
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
	eng_brokers_check(e, done);
	report_progress(e, done, 0);
	report_metrics(e, done, 0);
	report_live(e, done, e->brokers_down != L->brokers_were);
	L->brokers_were = e->brokers_down;
	e->sink->ops->idle(e->sink, done);
	return done;
}

/* --assign: a partition added to a topic is read from its start as soon as
 * it is seen (a subscriber hears of it at the 5 s metadata refresh,
 * consume.c): it holds the watermark from then on, so its ticks that arrive
 * within the watermark delay are on time.  Between batches (no transaction
 * open), every ENG_PARTS_CHECK_US; a failed look (no broker) is tried again
 * at the next. */
static void eng_find_partitions(struct engine *e, struct eng_loop *L, int64_t mono)
{
	char err[512];

	if (!e->cfg->assign || e->cfg->available_now || mono - L->parts_checked < ENG_PARTS_CHECK_US)
		return;
	L->parts_checked = mono;
	int n = consume_assign_added(e->rk, e->cfg, &e->hooks, err, sizeof(err));
	if (n < 0)
		eng_log(e, LOG_DEBUG, "looking for partitions added to %s: %s", e->cfg->topics_arg, err);
	else if (n > 0)
		eng_log(e, LOG_INFO, "%d partition%s added to %s: reading %s from %s start", n, n > 1 ? "s" : "",
		        e->cfg->topics_arg, n > 1 ? "them" : "it", n > 1 ? "their" : "its");
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
	e->sink->ops->finish(e->sink);
	if (!e->exit_code)
		report_progress(e, eng_mono(), 1);
	report_metrics(e, eng_mono(), 1);
	report_live(e, eng_mono(), 1);
}

int engine_run(const struct agg_config *cfg, volatile sig_atomic_t *stop)
{
	struct engine e;
	struct eng_loop L = { 0 };

	if (eng_setup(&e, cfg) < 0)
		goto out;
	e.started = e.last_progress = L.busy_since = eng_mono();
	report_run_id(e.run_id);
	L.deadline = e.started + cfg->batch_us;
	L.parts_checked = e.started;
	L.lead = cfg->batch_us / 10;
	L.cq = rd_kafka_queue_get_consumer(e.rk);
	report_metrics(&e, L.busy_since, 1);
	report_live(&e, L.busy_since, 1);
	while (!*stop && !e.exit_code) {
		int drained = eng_poll_one(&e, &L);
		int64_t mono = L.busy_since;
		if (eng_clock_held(&e, mono))
			break;
		if (!eng_batch_due(&e, &L, mono, drained))
			continue;
		if ((mono = eng_end_batch(&e, &L, mono)) < 0 || eng_loop_over(&e, &L, mono))
			break;
		eng_find_partitions(&e, &L, mono);
	}
	if (!e.exit_code)
		eng_finish(&e);
out:
	if (e.exit_code)
		log_msg(cfg->verbosity, LOG_ERROR, "%s", e.err);
	if (L.cq)
		rd_kafka_queue_destroy(L.cq);
	consume_nudger_stop(&e.nudger);
	/* A record still held (a batch that did not commit: the run failed)
	 * would keep rd_kafka_destroy waiting for ever; a finished run's last
	 * batch took them all. */
	for (size_t i = 0; i < e.nparts; i++)
		eng_fp_drop(&e.parts[i]);
	if (e.rk)
		consume_close(e.rk, ENG_CLOSE_MS); /* revokes through the hooks: settles what is left */
	if (e.sink)
		e.sink->ops->close(e.sink);
	httpd_stop(e.metrics);
	live_free(e.live);
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

/*
 * report.c - what the engine tells about itself: the progress report every
 * --progress-interval (progress.c prints it) and the text /metrics serves.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#include "engine_int.h"
#include "httpd.h"
#include "metrics.h"
#include "sink.h"

/* --metrics, per partition and product: the state's totals. */
static void report_products(const struct engine *e, FILE *f)
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
static void report_partitions(const struct engine *e, FILE *f)
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
static void report_process(const struct engine *e, FILE *f)
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
void report_metrics(struct engine *e, int64_t mono, int force)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!e->metrics || (!force && mono - e->metrics_at < 1000000) || !(f = open_memstream(&text, &len)))
		return;
	e->metrics_at = mono;
	report_products(e, f);
	report_partitions(e, f);
	report_process(e, f);
	fclose(f);
	httpd_publish(e->metrics, "metrics", text, len);
	free(text);
}

/* A random (version 4) UUID naming this run in the progress JSON, as
 * Spark's runId does; the clock and pid stand in when getrandom cannot. */
void report_run_id(char out[37])
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
void report_progress(struct engine *e, int64_t mono, int final)
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
		.sink = e->sink->label, .sink_topic = e->sink->label_topic,
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

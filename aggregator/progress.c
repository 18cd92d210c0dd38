/*
 * progress.c - see progress.h.
 *
 * The JSON line takes Spark's StreamingQueryProgress field names where they
 * mean the same (id, runId, timestamp, batchId, numInputRows,
 * inputRowsPerSecond, processedRowsPerSecond, durationMs, eventTime,
 * stateOperators, sources with startOffset/endOffset/latestOffset, sink), so
 * what reads Spark's progress reads ours; what Spark has no word for sits
 * under "totals" (since the start) or beside them (lag, a snapshot).
 */
#include "progress.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmt.h"
#include "log.h"
#include "window.h"

static int pr_source_cmp(const void *a, const void *b)
{
	const struct progress_source *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);
	return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* {"topic":{"0":12,"1":40},...} of one offset kind; partitions without one left out. */
static void pr_offsets(FILE *f, const struct progress_source *s, size_t n, size_t field)
{
	const char *topic = NULL;
	int first = 1;

	putc('{', f);
	for (size_t i = 0; i < n; i++) {
		int64_t v = *(const int64_t *)((const char *)&s[i] + field);
		if (v < 0)
			continue;
		if (!topic || strcmp(topic, s[i].topic) != 0) {
			if (topic)
				putc('}', f);
			fprintf(f, "%s\"", topic ? "," : "");
			fmt_json_str(f, s[i].topic);
			fputs("\":{", f);
			topic = s[i].topic;
			first = 1;
		}
		fprintf(f, "%s\"%" PRId32 "\":%" PRId64, first ? "" : ",", s[i].partition, v);
		first = 0;
	}
	fputs(topic ? "}}" : "}", f);
}

static void pr_time(FILE *f, const char *name, int64_t us)
{
	char buf[FMT_BUF];
	if (us == WM_NONE) {
		fprintf(f, "\"%s\":null", name);
		return;
	}
	fmt_time_ms(us, buf);
	fprintf(f, "\"%s\":\"%s\"", name, buf);
}

static void pr_json(struct progress_report *r, double in_rate, double proc_rate)
{
	FILE *f = stdout;
	struct timespec ts;
	int64_t now_ms;
	char now[FMT_BUF];

	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	fmt_time_ms(now_ms * 1000, now);
	if (r->nsources)
		qsort(r->sources, r->nsources, sizeof(*r->sources), pr_source_cmp);

	fputs("{\"id\":\"", f);
	fmt_json_str(f, r->id);
	fprintf(f, "\",\"runId\":\"%s\",\"timestamp\":\"%s\",\"timestampMs\":%" PRId64
	        ",\"batchId\":%" PRId64 ",\"numBatches\":%" PRId64 ",\"numInputRows\":%" PRId64
	        ",\"inputRowsPerSecond\":%.1f,\"processedRowsPerSecond\":%.1f"
	        ",\"durationMs\":{\"interval\":%.0f,\"inBatches\":%.0f,\"avgBatch\":%.2f},",
	        r->run_id, now, now_ms, r->batches_total - 1, r->batches, r->msgs, in_rate, proc_rate,
	        r->secs * 1000, r->batch_secs * 1000, r->batches ? r->batch_secs * 1000 / r->batches : 0);
	fputs("\"eventTime\":{", f);
	pr_time(f, "max", r->max_event);
	putc(',', f);
	pr_time(f, "watermark", r->watermark);
	fprintf(f, "},\"stateOperators\":[{\"operatorName\":\"windowAggregate\",\"numRowsTotal\":%zu"
	        ",\"numRowsDroppedByWatermark\":%" PRId64 "}],\"sources\":[{\"description\":\"Kafka[",
	        r->open_windows, r->in_late);
	fmt_json_str(f, r->source);
	fputs("]\",\"startOffset\":", f);
	pr_offsets(f, r->sources, r->nsources, offsetof(struct progress_source, start));
	fputs(",\"endOffset\":", f);
	pr_offsets(f, r->sources, r->nsources, offsetof(struct progress_source, end));
	fputs(",\"latestOffset\":", f);
	pr_offsets(f, r->sources, r->nsources, offsetof(struct progress_source, latest));
	fprintf(f, ",\"numInputRows\":%" PRId64 ",\"inputRowsPerSecond\":%.1f,\"processedRowsPerSecond\":%.1f}],",
	        r->msgs, in_rate, proc_rate);
	if (r->sink) {
		fputs(r->sink_topic ? "\"sink\":{\"description\":\"KafkaSink[" : "\"sink\":{\"description\":\"FileSink[", f);
		fmt_json_str(f, r->sink);
		fprintf(f, "]\",\"numOutputRows\":%" PRId64 "},", r->in_rows);
	} else {
		fputs("\"sink\":null,", f);
	}
	fprintf(f, "\"lag\":%" PRId64 ",\"final\":%s,\"totals\":{\"batches\":%" PRId64 ",\"messages\":%" PRId64
	        ",\"ticks\":%" PRId64 ",\"rowsExported\":%" PRId64 ",\"lateDropped\":%" PRId64
	        ",\"rejected\":%" PRId64 ",\"duplicates\":%" PRId64 ",\"dataLost\":%" PRId64 "}}\n",
	        r->lag, r->final ? "true" : "false", r->batches_total, r->msgs_total, r->ticks, r->rows,
	        r->late, r->rejected, r->duplicates, r->lost);
	fflush(f);
}

void progress_print(struct progress_report *r, int json, int verbosity)
{
	char wm[FMT_BUF];
	double in_rate = r->secs > 0 ? r->msgs / r->secs : 0;
	double proc_rate = r->busy_secs > 0 ? r->msgs / r->busy_secs : 0;
	double avg_batch_ms = r->batches ? r->batch_secs * 1000.0 / r->batches : 0;

	if (json) {
		pr_json(r, in_rate, proc_rate);
		return;
	}
	if (r->watermark == WM_NONE)
		snprintf(wm, sizeof(wm), "none");
	else
		fmt_time_ms(r->watermark, wm);
	char lagbuf[32], lostbuf[48] = "";
	if (r->lag >= 0)
		snprintf(lagbuf, sizeof(lagbuf), "%" PRId64, r->lag);
	else
		snprintf(lagbuf, sizeof(lagbuf), "?");
	if (r->lost)
		snprintf(lostbuf, sizeof(lostbuf), ", LOST %" PRId64 " (data_loss)", r->lost);
	log_msg(verbosity, LOG_INFO, "progress: %.0f msg/s in, %.0f msg/s processed, %" PRId64 " batches (avg %.1f ms), "
	        "watermark %s, %zu open windows, %" PRId64 " rows exported, late %" PRId64 ", rejected %" PRId64
	        ", duplicates %" PRId64 "%s, lag %s%s", in_rate, proc_rate, r->batches, avg_batch_ms, wm,
	        r->open_windows, r->rows, r->late, r->rejected, r->duplicates, lostbuf, lagbuf,
	        r->final ? " (final)" : "");
}

/*
 * report_live.c - what the engine tells the live page (docs/live-page.md),
 * handed to the HTTP server (httpd.h) as copies: the engine never waits for
 * a client.  The status (watermark, lag per partition, counters, the last
 * commit) and the open windows at most once a second; /healthz's verdict with
 * them; after each commit an event that the server thread completes with the
 * windows that closed (live.c reads them from the state).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine_int.h"
#include "httpd.h"

/* /healthz turns 503 when no commit came for this many --batch-time while
 * messages wait, or no broker was reachable for as long. */
#define LIVE_STUCK_BATCHES 10

/* A partition's lag (-1: librdkafka knows no log end yet). */
static int64_t live_lag(const struct engine *e, const struct eng_part *p)
{
	int64_t lo, hi;
	if (!p->assigned || rd_kafka_get_watermark_offsets(e->rk, p->topic, p->partition, &lo, &hi) || hi < 0)
		return -1;
	int64_t at = p->s.next_offset >= 0 ? p->s.next_offset : p->start_offset >= 0 ? p->start_offset : lo;
	return hi > at ? hi - at : 0;
}

static void live_time(FILE *f, const char *name, int64_t us)
{
	if (us == WM_NONE)
		fprintf(f, "\"%s\":null", name);
	else
		fprintf(f, "\"%s\":%" PRId64, name, us);
}

/* The messages known to wait: the open batch's, and the assigned
 * partitions' lag. */
static int64_t live_waiting(const struct engine *e)
{
	int64_t n = e->batch_msgs;
	for (size_t i = 0; i < e->nparts; i++) {
		int64_t lag = live_lag(e, &e->parts[i]);
		n += lag > 0 ? lag : 0;
	}
	return n;
}

/* The status object; *waiting gets the messages known to wait. */
static void live_status(const struct engine *e, FILE *f, int64_t *waiting)
{
	const struct agg_config *c = e->cfg;
	*waiting = e->batch_msgs;
	fprintf(f, "{\"mode\":\"%s\",", c->output_topic ? "group" : "run");
	if (c->output_topic)
		fprintf(f, "\"member\":\"%s\",\"group\":\"%s\",", c->member ? c->member : "", c->group ? c->group : "");
	live_time(f, "watermark", e->watermark);
	fprintf(f, ",\"now\":%" PRId64 ",\"last_commit\":%" PRId64 ",\"batch_us\":%" PRId64 ",\"window_us\":%" PRId64
	        ",\"rows\":%" PRId64 ",\"ticks\":%" PRId64 ",\"late\":%" PRId64 ",\"rejected\":%" PRId64
	        ",\"duplicates\":%" PRId64 ",\"lost\":%" PRId64 ",\"open_windows\":%zu,\"brokers_down\":%s,\"partitions\":[",
	        eng_now(), e->commit_wall, c->batch_us, c->window_us, e->total.rows, e->total.ticks, e->total.late,
	        e->total.rejected, e->total.duplicates, e->total.lost, e->wins.count, e->brokers_down ? "true" : "false");
	int first = 1;
	for (size_t i = 0; i < e->nparts; i++) {
		const struct eng_part *p = &e->parts[i];
		if (!p->assigned)
			continue;
		int64_t lag = live_lag(e, p);
		if (lag > 0)
			*waiting += lag;
		fprintf(f, "%s{\"topic\":\"%s\",\"partition\":%d,\"next_offset\":%" PRId64 ",\"lag\":%" PRId64 ",",
		        first ? "" : ",", p->topic, (int)p->partition, p->s.next_offset, lag);
		live_time(f, "max_time", p->s.max_time);
		fputc('}', f);
		first = 0;
	}
	fputs("]}", f);
}

/* The open windows: per partition and product, partials (the page merges a
 * product's partitions as the export does).  At most 2000. */
static void live_open(const struct engine *e, FILE *f)
{
	size_t n = 0;
	fputs("{\"windows\":[", f);
	for (size_t i = 0; i < e->wins.cap && n < 2000; i++) {
		const struct win_entry *w = &e->wins.slots[i];
		int64_t end = w->key.start + e->cfg->window_us;
		if (!w->used || (e->watermark != WM_NONE && end <= e->watermark))
			continue;
		const struct eng_part *p = &e->parts[w->key.part];
		const struct win_agg *a = &w->agg;
		fprintf(f, "%s{\"product\":\"%s\",\"partition\":%d,\"start\":%" PRId64 ",\"end\":%" PRId64
		        ",\"ticks\":%" PRId64 ",\"sum_price\":%.17g,\"bid\":%.17g,\"ask\":%.17g,\"open\":%.17g,"
		        "\"open_time\":%" PRId64 ",\"close\":%.17g,\"close_time\":%" PRId64 ",\"high\":%.17g,\"low\":%.17g}",
		        n ? "," : "", p->products[w->key.product].s.product_id, (int)p->partition, w->key.start, end,
		        a->ticks, a->sum_price, a->max_best_bid, a->max_best_ask, a->open, a->open_time, a->close,
		        a->close_time, a->high, a->low);
		n++;
	}
	fputs("]}", f);
}

/* /healthz: stuck once LIVE_STUCK_BATCHES batch times pass without a commit
 * while messages wait (counted from the last commit, or the start), or
 * without a broker. */
static void live_health(struct engine *e, int64_t waiting)
{
	int64_t grace = LIVE_STUCK_BATCHES * e->cfg->batch_us;
	char reason[200];
	if (e->brokers_down) {
		snprintf(reason, sizeof(reason), "broker gone: none reachable at %.100s for more than %.1f s",
		         e->cfg->brokers, (double)grace / 1e6);
		httpd_health(e->metrics, e->brokers_down + grace, reason);
	} else if (waiting > 0) {
		int64_t since = e->commit_mono ? e->commit_mono : e->started;
		snprintf(reason, sizeof(reason), "no commit for more than %.1f s while %" PRId64 " messages wait",
		         (double)grace / 1e6, waiting);
		httpd_health(e->metrics, since + grace, reason);
	} else {
		httpd_health(e->metrics, 0, NULL);
	}
}

void report_live(struct engine *e, int64_t mono, int force)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	if (!e->metrics || (!force && mono - e->live_at < 1000000))
		return;
	e->live_at = mono;
	if ((f = open_memstream(&text, &len))) {
		live_status(e, f, &e->live_waiting);
		fclose(f);
		httpd_publish(e->metrics, "status", text, len);
		free(text);
		live_health(e, e->live_waiting);
	}
	if ((f = open_memstream(&text, &len))) {
		live_open(e, f);
		fclose(f);
		httpd_publish(e->metrics, "open", text, len);
		free(text);
	}
}

/* After a commit: its event, when it closed windows or the status is due (at
 * most once a second: with every partition in it, at every commit of a
 * backlog it cost more than the rest of the page); /healthz's verdict. */
void report_commit(struct engine *e, int64_t closed_from)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	if (!e->metrics)
		return;
	int64_t mono = eng_mono();
	int closed = e->exported_until != WM_NONE && (closed_from == WM_NONE || e->exported_until > closed_from);
	int status = mono - e->live_event_at >= 1000000;
	if ((closed || status) && (f = open_memstream(&text, &len))) {
		fputc('{', f);
		live_time(f, "closed_from", closed_from == WM_NONE ? INT64_MIN + 1 : closed_from);
		fputc(',', f);
		live_time(f, "closed_to", e->exported_until);
		if (status) {
			fputs(",\"status\":", f);
			live_status(e, f, &e->live_waiting);
			e->live_event_at = mono;
		}
		fputc('}', f);
		fclose(f);
		httpd_event(e->metrics, text, len);
		free(text);
	}
	if (!status)
		e->live_waiting = live_waiting(e);
	live_health(e, e->live_waiting);
}

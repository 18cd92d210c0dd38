/*
 * status.c - see status.h.
 */
#include "status.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "fmt.h"
#include "log.h"
#include "store.h"
#include "window.h"

extern const char sql_stmt_status_partitions[], sql_stmt_status_meta[];

struct st_part {
	char topic[256];
	int32_t partition;
	int64_t next_offset, max_time, rejected, updated_us, ticks, late, duplicates, lost;
	int64_t group_offset, lo, hi; /* from Kafka, -1 when unknown */
};

/* "3.2 s", "4 min", "2.1 h", "5 d" */
static void st_age(int64_t us, char *buf, size_t len)
{
	double s = (double)us / 1e6;
	if (us == WM_NONE)
		snprintf(buf, len, "-");
	else if (s < 120)
		snprintf(buf, len, "%.1f s", s);
	else if (s < 7200)
		snprintf(buf, len, "%.0f min", s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%.1f h", s / 3600);
	else
		snprintf(buf, len, "%.0f d", s / 86400);
}

/* The group's offsets and the log's ends, from Kafka; unknown stay -1. */
static void st_kafka(const struct agg_config *cfg, struct st_part *p, size_t n)
{
	char e[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	if (rd_kafka_conf_set(conf, "bootstrap.servers", cfg->brokers, e, sizeof(e)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "group.id", cfg->group, e, sizeof(e)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "log.connection.close", "false", e, sizeof(e)) != RD_KAFKA_CONF_OK)
		goto bad;
	for (int i = 0; i < cfg->props.n; i++)
		if (rd_kafka_conf_set(conf, cfg->props.kv[i][0], cfg->props.kv[i][1], e, sizeof(e)) != RD_KAFKA_CONF_OK)
			goto bad;
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e));
	if (!rk)
		goto bad;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
	for (size_t i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(l, p[i].topic, p[i].partition);
	rd_kafka_resp_err_t err = rd_kafka_committed(rk, l, 5000);
	if (err)
		log_msg(cfg->verbosity, LOG_WARN, "the group's offsets: %s", rd_kafka_err2str(err));
	for (size_t i = 0; i < n; i++) {
		rd_kafka_topic_partition_t *t = rd_kafka_topic_partition_list_find(l, p[i].topic, p[i].partition);
		if (!err && t && !t->err && t->offset >= 0)
			p[i].group_offset = t->offset;
		if (rd_kafka_query_watermark_offsets(rk, p[i].topic, p[i].partition, &p[i].lo, &p[i].hi, 5000)) {
			p[i].lo = p[i].hi = -1;
			if (i == 0)
				log_msg(cfg->verbosity, LOG_WARN, "the log's ends: no answer from %s", cfg->brokers);
		}
	}
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(rk);
	return;
bad:
	log_msg(cfg->verbosity, LOG_WARN, "kafka: %s (no offsets from Kafka)", e);
	rd_kafka_conf_destroy(conf);
}

static void st_int(char *buf, size_t len, int64_t v)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%" PRId64, v);
}

int status_command(const struct agg_config *cfg)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	struct st_part *p = NULL;
	size_t n = 0, cap = 0;
	int64_t wm = WM_NONE, delay = 0, window = 0, exported = WM_NONE, open_windows = 0;
	int rc = AGG_EXIT_STATE;

	if (sqlite3_open_v2(cfg->state_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		log_msg(cfg->verbosity, LOG_ERROR, "state %s: cannot open: %s", cfg->state_path, sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, sql_stmt_status_meta, -1, &s, NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		log_msg(cfg->verbosity, LOG_ERROR, "state %s is not an aggregator state of this version (%s): an "
		        "aggregator opens and migrates it", cfg->state_path, sqlite3_errmsg(db));
		goto out;
	}
	wm = store_col_time(s, 0);
	delay = store_col_time(s, 1);
	window = store_col_time(s, 2);
	exported = store_col_time(s, 3);
	open_windows = sqlite3_column_int64(s, 4);
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(db, sql_stmt_status_partitions, -1, &s, NULL) != SQLITE_OK) {
		log_msg(cfg->verbosity, LOG_ERROR, "state %s: %s", cfg->state_path, sqlite3_errmsg(db));
		goto out;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (n == cap) {
			struct st_part *np = realloc(p, (cap = cap ? cap * 2 : 16) * sizeof(*p));
			if (!np) {
				log_msg(cfg->verbosity, LOG_ERROR, "out of memory");
				rc = AGG_EXIT_RUNTIME;
				goto out;
			}
			p = np;
		}
		struct st_part *q = &p[n++];
		memset(q, 0, sizeof(*q));
		snprintf(q->topic, sizeof(q->topic), "%s", (const char *)sqlite3_column_text(s, 0));
		q->partition = sqlite3_column_int(s, 1);
		q->next_offset = sqlite3_column_int64(s, 2);
		q->max_time = store_col_time(s, 3);
		q->rejected = sqlite3_column_int64(s, 4);
		q->updated_us = sqlite3_column_int64(s, 5);
		q->ticks = sqlite3_column_int64(s, 6);
		q->late = sqlite3_column_int64(s, 7);
		q->duplicates = sqlite3_column_int64(s, 8);
		q->lost = sqlite3_column_int64(s, 9);
		q->group_offset = q->lo = q->hi = -1;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (cfg->brokers_given && n > 0)
		st_kafka(cfg, p, n);

	/* What holds the watermark back: the partition furthest behind. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, newest = WM_NONE, last_commit = 0;
	size_t slow = n;
	for (size_t i = 0; i < n; i++) {
		if (p[i].max_time != WM_NONE && (slow == n || p[i].max_time < p[slow].max_time))
			slow = i;
		if (p[i].max_time > newest)
			newest = p[i].max_time;
		if (p[i].updated_us > last_commit)
			last_commit = p[i].updated_us;
	}
	char wmb[FMT_BUF], exb[FMT_BUF], newb[FMT_BUF], behind[32], age[32], lag_age[32];
	fmt_time_or(wm, "-", wmb);
	fmt_time_or(exported, "-", exb);
	fmt_time_or(newest, "-", newb);
	st_age(slow < n && newest != WM_NONE ? newest - p[slow].max_time : WM_NONE, behind, sizeof(behind));
	st_age(last_commit ? now - last_commit : WM_NONE, age, sizeof(age));
	st_age(newest != WM_NONE ? now - newest : WM_NONE, lag_age, sizeof(lag_age));
	if (cfg->status_json) {
		printf("{\"state\":\"");
		fmt_json_str(stdout, cfg->state_path);
		printf("\",\"windowUs\":%" PRId64 ",\"delayUs\":%" PRId64 ",\"watermark\":\"%s\","
		       "\"exportedUntil\":\"%s\",\"openWindows\":%" PRId64 ",\"newestEventTime\":\"%s\","
		       "\"lastCommitAgeMs\":%" PRId64 ",\"heldBy\":", window, delay, wmb, exb,
		       open_windows, newb, last_commit ? (now - last_commit) / 1000 : -1);
		if (slow < n)
			printf("{\"topic\":\""), fmt_json_str(stdout, p[slow].topic),
			printf("\",\"partition\":%d,\"behindNewestMs\":%" PRId64 "}", p[slow].partition,
			       (newest - p[slow].max_time) / 1000);
		else
			printf("null");
		printf(",\"partitions\":[");
		for (size_t i = 0; i < n; i++) {
			char et[FMT_BUF];
			fmt_time_or(p[i].max_time, "-", et);
			int64_t lag = p[i].hi >= 0 ? (p[i].hi > p[i].next_offset ? p[i].hi - p[i].next_offset : 0) : -1;
			printf("%s{\"topic\":\"", i ? "," : "");
			fmt_json_str(stdout, p[i].topic);
			printf("\",\"partition\":%d,\"stateOffset\":%" PRId64 ",\"groupOffset\":%" PRId64
			       ",\"logStart\":%" PRId64 ",\"logEnd\":%" PRId64 ",\"lag\":%" PRId64 ",\"eventTime\":\"%s\","
			       "\"ticks\":%" PRId64 ",\"late\":%" PRId64 ",\"rejected\":%" PRId64 ",\"duplicates\":%" PRId64
			       ",\"lost\":%" PRId64 "}", p[i].partition, p[i].next_offset,
			       p[i].group_offset, p[i].lo, p[i].hi, lag, et, p[i].ticks, p[i].late, p[i].rejected,
			       p[i].duplicates, p[i].lost);
		}
		printf("]}\n");
	} else {
		printf("state %s: watermark %s, exported until %s, %" PRId64 " open windows\n", cfg->state_path, wmb, exb,
		       open_windows);
		printf("newest event time %s (%s ago); last commit %s ago", newb, lag_age, age);
		if (slow < n)
			printf("; held back by %s [%d], %s behind the newest", p[slow].topic, p[slow].partition, behind);
		printf("\n\n%-20s %4s %12s %12s %12s %12s %10s %-24s %10s %6s %8s %10s %6s\n", "TOPIC", "PART",
		       "STATE-OFFSET", "GROUP-OFFSET", "LOG-START", "LOG-END", "LAG", "EVENT-TIME", "TICKS", "LATE",
		       "REJECTED", "DUPLICATES", "LOST");
		for (size_t i = 0; i < n; i++) {
			char et[FMT_BUF], g[24], lo[24], hi[24], lag[24];
			fmt_time_or(p[i].max_time, "-", et);
			st_int(g, sizeof(g), p[i].group_offset);
			st_int(lo, sizeof(lo), p[i].lo);
			st_int(hi, sizeof(hi), p[i].hi);
			st_int(lag, sizeof(lag), p[i].hi >= 0 ? (p[i].hi > p[i].next_offset ? p[i].hi - p[i].next_offset : 0)
			                                      : -1);
			printf("%-20s %4d %12" PRId64 " %12s %12s %12s %10s %-24s %10" PRId64 " %6" PRId64 " %8" PRId64
			       " %10" PRId64 " %6" PRId64 "\n", p[i].topic, p[i].partition, p[i].next_offset, g, lo, hi, lag,
			       et, p[i].ticks, p[i].late, p[i].rejected, p[i].duplicates, p[i].lost);
		}
	}
	rc = AGG_EXIT_OK;
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(p);
	return rc;
}

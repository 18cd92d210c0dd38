/*
 * test_engine.c - the engine's batch and watermark logic through its real
 * loop, against librdkafka's mock cluster in this process (the fake broker):
 * the same windows whatever the batch size (sums to the bit, offsets in one
 * transaction with them), the watermark and late ticks across runs, a restart
 * that goes on from the state, and the rows written once.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "harness.h"
#include "kafka_harness.h"

#define BASE_S 1682294400LL /* 2023-04-24T00:00:00Z */

/* A ticker at second s (+0.5) with price p. */
static int tick(char *out, size_t n, int64_t seq, int64_t s, double p)
{
	time_t t = (time_t)(BASE_S + s);
	struct tm tm;
	char ts[32];
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	return snprintf(out, n,
	                "{\"type\":\"ticker\",\"sequence\":%lld,\"product_id\":\"BTC-USD\",\"price\":\"%.2f\","
	                "\"volume_24h\":\"100.5\",\"best_bid\":\"%.2f\",\"best_ask\":\"%.2f\",\"time\":\"%s.500000Z\","
	                "\"trade_id\":%lld}", (long long)seq, p, p - 0.01, p + 0.01, ts, (long long)seq);
}

/* count ticks, tick i at i * step_s seconds, sequences from seq0 + i */
static void produce(rd_kafka_t *rk, const char *topic, int64_t from, int64_t count, int64_t step_s, int64_t seq0)
{
	char buf[512];
	for (int64_t i = from; i < from + count; i++) {
		int n = tick(buf, sizeof(buf), seq0 + i, i * step_s, 27000.0 + (double)(i % 97) * 0.37);
		rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
		                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(buf, (size_t)n), RD_KAFKA_V_END);
		rd_kafka_poll(rk, 0);
	}
	rd_kafka_flush(rk, 10000);
}

/* A bounded run of the engine (args after the common ones). */
static int run(const char *brokers, const char *topic, const char *state, const char *csv, const char *a1,
               const char *a2)
{
	/* -g: a group per state: a fresh state starts at the group's offset */
	const char *args[] = { "-q", "-b", brokers, "-t", topic, "-g", state, "--available-now",
	                       "--progress-interval", "0", "--state", state, "--output", csv, a1, a2, NULL };
	struct agg_config cfg;
	volatile sig_atomic_t stop = 0;

	if (t_agg_config(&cfg, args) < 0)
		return -1;
	int rc = engine_run(&cfg, &stop);
	cli_free(&cfg);
	return rc;
}

static int64_t q1(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *s;
	int64_t v = -999;
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(h);
	return v;
}

static char *slurp(const char *p)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		return strdup("");
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = calloc(1, (size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n)
		b[0] = 0;
	fclose(f);
	return b;
}

/* A digest of the windows table: every sum to the bit. */
static int64_t windows_digest(const char *db)
{
	return q1(db, "SELECT sum((window_start / 1000000) * 7 + ticks * 13 + CAST(sum_price * 1000 AS INTEGER) + "
	              "CAST(sum_volume_24h * 1000 AS INTEGER)) FROM windows");
}

int main(void)
{
	if (t_tmpdir("test_engine"))
		return 1;
	rd_kafka_t *rk = t_mock_producer();
	T_OK(rk != NULL, "a producer with a mock cluster of one broker");
	rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(rk);
	const char *brokers = rd_kafka_mock_cluster_bootstraps(mc);
	rd_kafka_mock_topic_create(mc, "e1", 1, 1);

	/* 600 ticks, one every 2 s: 20 minutes, 20 one-minute windows. */
	produce(rk, "e1", 0, 600, 2, 1000);
	T_INT(run(brokers, "e1", t_path("big.db"), t_path("big.csv"), NULL, NULL), 0, "one run, default batches: exit 0");
	T_INT(run(brokers, "e1", t_path("small.db"), t_path("small.csv"), "--batch-max", "7"), 0,
	      "the same in batches of 7 messages");
	T_INT(q1(t_path("big.db"), "SELECT count(*) FROM partitions WHERE next_offset = 600"), 1, "read to offset 600");
	T_INT(q1(t_path("small.db"), "SELECT sum(ticks) FROM products"), 600, "600 ticks counted");
	T_INT(windows_digest(t_path("small.db")), windows_digest(t_path("big.db")), "the same windows, every sum to the bit");
	char *a = slurp(t_path("big.csv")), *b = slurp(t_path("small.csv"));
	T_OK(strlen(a) > 100 && strcmp(a, b) == 0, "the same output.csv");
	/* the last tick at 1198.5 s, delay 2 min: windows ending at or before 1078.5 s are closed */
	T_INT(q1(t_path("big.db"), "SELECT value FROM meta WHERE key = 'watermark_us'"), (BASE_S + 1078) * 1000000 + 500000,
	      "watermark: the last tick's time minus 2 minutes");
	T_INT(q1(t_path("big.db"), "SELECT count(*) FROM window_aggregates WHERE exported"), 17, "17 windows written");
	free(a);
	free(b);

	/* 100 more ticks later on, and 5 behind the watermark: a restart goes on
	 * from the state, counts the old ones late, writes each row once. */
	produce(rk, "e1", 600, 100, 2, 1000);
	produce(rk, "e1", 10, 5, 2, 5000); /* from the first minute, new sequences: late */
	T_INT(run(brokers, "e1", t_path("big.db"), t_path("big.csv"), NULL, NULL), 0, "a second run on the same state");
	T_INT(q1(t_path("big.db"), "SELECT sum(ticks) FROM products"), 705, "705 ticks counted (none twice)");
	T_INT(q1(t_path("big.db"), "SELECT sum(late) FROM products"), 5, "5 late");
	T_INT(q1(t_path("big.db"), "SELECT count(*) FROM (SELECT window_start FROM window_aggregates WHERE exported "
	                         "GROUP BY window_start HAVING count(*) > 1)"), 0, "no window twice");
	a = slurp(t_path("big.csv"));
	int lines = 0;
	for (char *p = a; *p; p++)
		lines += *p == '\n';
	T_INT(lines, 1 + (int)q1(t_path("big.db"), "SELECT count(*) FROM window_aggregates WHERE exported"),
	      "output.csv: the header and one line per written window");
	free(a);

	rd_kafka_destroy(rk);
	t_rmdir();
	return t_done();
}

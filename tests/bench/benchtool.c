/*
 * benchtool - small helpers for tests/bench.sh (built by it into bench/.tools).
 *
 *   benchtool parse FILE [REPEAT]
 *       tick_parse (common/tick.c) on every line of FILE, REPEAT times
 *       (default 1), lines already in memory.  Prints "msgs bytes seconds".
 *
 *   benchtool latency BROKERS TOPIC CSV COUNT [MAX_GAP_MS]
 *       Produces synthetic BTC-USD ticks to TOPIC (partition 0) one at a time,
 *       tick i at event time BASE + i s + 0.5 s, so with --window 1s
 *       --watermark 0s each tick closes exactly one window.  After each tick it
 *       polls CSV (every 0.2 ms) until one more row appears and prints the
 *       wall-clock microseconds from just before the produce call to the row's
 *       appearance, one number per line (COUNT lines).  Ticks 0 and 1 warm up
 *       (assignment, first fetch) and are not reported.  A random pause of
 *       0..MAX_GAP_MS (default 20) before each tick decorrelates the ticks from
 *       the aggregator's batch timer.  Exit 1 when a row does not come in 10 s.
 *
 *   benchtool feed BROKERS TOPIC PARTITIONS RATE SECONDS
 *       Produces synthetic BTC-USD ticks at RATE/s for SECONDS, round-robin
 *       over PARTITIONS, event time 1000/RATE ms apart (from BASE), and exits.
 *
 *   benchtool wait BROKERS COUNT PARTITIONS SECONDS TOPIC...
 *       Polls the end offsets of partitions 0..PARTITIONS-1 of each TOPIC (one
 *       client, every 5 ms; a topic that does not exist yet counts 0) until
 *       they add up to COUNT, then prints the wall clock in microseconds at
 *       which they did.  Exit 1 after SECONDS.  One light client instead of a
 *       kcat per poll, so the measurement does not compete for the CPU.
 *
 *   benchtool ms
 *       Prints the wall clock in microseconds (like $EPOCHREALTIME).
 */
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tick.h"

#define BASE_S 1682294400LL /* 2023-04-24T00:00:00Z */

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(int64_t us)
{
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int cmd_parse(const char *path, int repeat)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)sz + 1);
	if (!buf || fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
		fprintf(stderr, "cannot read %s\n", path);
		return 1;
	}
	fclose(f);
	buf[sz] = '\n';
	struct tick t;
	char err[256];
	long msgs = 0, bad = 0;
	int64_t bytes = 0;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int r = 0; r < repeat; r++) {
		char *p = buf, *end = buf + sz;
		while (p < end) {
			char *nl = memchr(p, '\n', (size_t)(end - p) + 1);
			size_t len = (size_t)(nl - p);
			if (len) {
				if (tick_parse(p, len, &t, err, sizeof(err)) < 0)
					bad++;
				msgs++;
				bytes += (int64_t)len;
			}
			p = nl + 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("%ld %" PRId64 " %.6f\n", msgs, bytes, secs);
	if (bad)
		fprintf(stderr, "benchtool parse: %ld lines rejected\n", bad);
	free(buf);
	return bad ? 1 : 0;
}

static int tick_json(char *out, size_t n, int64_t i, int64_t t_us)
{
	time_t s = (time_t)(t_us / 1000000);
	struct tm tm;
	char ts[32];
	gmtime_r(&s, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	double price = 27500.0 + (double)(i % 200) * 0.01;
	return snprintf(out, n,
	    "{\"type\":\"ticker\",\"sequence\":%" PRId64 ",\"product_id\":\"BTC-USD\",\"price\":\"%.2f\","
	    "\"open_24h\":\"27400\",\"volume_24h\":\"12660.92622820\",\"low_24h\":\"27200.5\","
	    "\"high_24h\":\"27900\",\"volume_30d\":\"404660.1234\",\"best_bid\":\"%.2f\","
	    "\"best_bid_size\":\"0.5\",\"best_ask\":\"%.2f\",\"best_ask_size\":\"0.25\",\"side\":\"buy\","
	    "\"time\":\"%s.%06dZ\",\"trade_id\":%" PRId64 ",\"last_size\":\"0.001\"}",
	    (int64_t)(50000000000LL + i * 3), price, price - 0.01, price, ts, (int)(t_us % 1000000),
	    (int64_t)(500000000LL + i));
}

static rd_kafka_t *producer_new(const char *brokers)
{
	char err[512];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	if (rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof(err)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(c, "linger.ms", "0", err, sizeof(err)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "benchtool: %s\n", err);
		return NULL;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
	if (!rk)
		fprintf(stderr, "benchtool: %s\n", err);
	return rk;
}

static int produce(rd_kafka_t *rk, const char *topic, int32_t part, const char *buf, size_t len)
{
	rd_kafka_resp_err_t e;
	for (;;) {
		e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
		                      RD_KAFKA_V_VALUE((void *)buf, len), RD_KAFKA_V_KEY("BTC-USD", 7),
		                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		rd_kafka_poll(rk, 10);
	}
	if (e) {
		fprintf(stderr, "benchtool: produce: %s\n", rd_kafka_err2str(e));
		return -1;
	}
	rd_kafka_poll(rk, 0);
	return 0;
}

static long csv_rows(const char *path, off_t *pos)
{
	struct stat st;
	if (stat(path, &st) < 0 || st.st_size <= *pos)
		return 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	long rows = 0;
	fseeko(f, *pos, SEEK_SET);
	int c;
	off_t p = *pos, last_nl = *pos;
	while ((c = getc(f)) != EOF) {
		p++;
		if (c == '\n') {
			rows++;
			last_nl = p;
		}
	}
	fclose(f);
	*pos = last_nl; /* only whole rows count */
	return rows;
}

/* A partition's first ticks set its event time only when 3 agree (the
 * aggregator's OUTLIER_TIME_CONFIRM): ticks 0 and 1 close nothing, tick 2
 * closes the windows of ticks 0 and 1 (not timed), and from tick 3 on each
 * tick closes the window before it: the time to that row is measured. */
#define LAT_WARM 3
static int cmd_latency(const char *brokers, const char *topic, const char *csv, int count, int gap_ms)
{
	rd_kafka_t *rk = producer_new(brokers);
	if (!rk)
		return 1;
	char buf[1024];
	off_t pos = 0;
	csv_rows(csv, &pos); /* header, if already there */
	srand((unsigned)now_us());
	for (int i = 0; i < count + LAT_WARM; i++) {
		if (i >= LAT_WARM && gap_ms > 0)
			sleep_us((int64_t)(rand() % (gap_ms * 1000 + 1)));
		int len = tick_json(buf, sizeof(buf), i, (BASE_S + i) * 1000000 + 500000);
		int64_t t0 = now_us();
		if (produce(rk, topic, 0, buf, (size_t)len) < 0)
			return 1;
		if (i < LAT_WARM - 1)
			continue;
		long want = i == LAT_WARM - 1 ? LAT_WARM - 1 : 1, rows = 0;
		int64_t deadline = t0 + 10000000;
		while ((rows += csv_rows(csv, &pos)) < want) {
			rd_kafka_poll(rk, 0);
			if (now_us() > deadline) {
				fprintf(stderr, "benchtool latency: %ld of %ld rows for tick %d within 10 s\n", rows, want, i);
				return 1;
			}
			sleep_us(200);
		}
		int64_t t1 = now_us();
		if (rows != want)
			fprintf(stderr, "benchtool latency: tick %d: %ld rows\n", i, rows);
		if (i >= LAT_WARM)
			printf("%" PRId64 "\n", t1 - t0);
	}
	fflush(stdout);
	rd_kafka_flush(rk, 5000);
	rd_kafka_destroy(rk);
	return 0;
}

static int cmd_feed(const char *brokers, const char *topic, int parts, double rate, double secs)
{
	rd_kafka_t *rk = producer_new(brokers);
	if (!rk)
		return 1;
	char buf[1024];
	int64_t start = now_us(), step_us = (int64_t)(1e6 / rate);
	for (int64_t i = 0;; i++) {
		int64_t due = start + i * step_us;
		if (due > start + (int64_t)(secs * 1e6))
			break;
		int64_t now = now_us();
		if (due > now)
			sleep_us(due - now);
		int len = tick_json(buf, sizeof(buf), i, BASE_S * 1000000 + i * step_us);
		if (produce(rk, topic, (int32_t)(i % parts), buf, (size_t)len) < 0)
			return 1;
	}
	rd_kafka_flush(rk, 5000);
	rd_kafka_destroy(rk);
	return 0;
}

static int cmd_wait(const char *brokers, long long count, int parts, double secs,
		    char **topics, int ntopics)
{
	char err[512];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_t *rk;
	int64_t deadline = now_us() + (int64_t)(secs * 1e6);
	int rc = 1;

	if (rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof(err)) != RD_KAFKA_CONF_OK ||
	    !(rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err)))) {
		fprintf(stderr, "benchtool: %s\n", err);
		return 1;
	}
	while (now_us() < deadline) {
		long long total = 0;
		for (int t = 0; t < ntopics; t++)
			for (int p = 0; p < parts; p++) {
				int64_t lo, hi;
				if (rd_kafka_query_watermark_offsets(rk, topics[t], p, &lo, &hi, 1000) ==
				    RD_KAFKA_RESP_ERR_NO_ERROR)
					total += hi;
			}
		if (total >= count) {
			printf("%" PRId64 "\n", now_us());
			rc = 0;
			break;
		}
		sleep_us(5000);
	}
	if (rc)
		fprintf(stderr, "benchtool wait: fewer than %lld messages after %.0f s\n", count, secs);
	rd_kafka_destroy(rk);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "parse") == 0)
		return cmd_parse(argv[2], argc > 3 ? atoi(argv[3]) : 1);
	if (argc >= 6 && strcmp(argv[1], "latency") == 0)
		return cmd_latency(argv[2], argv[3], argv[4], atoi(argv[5]), argc > 6 ? atoi(argv[6]) : 20);
	if (argc >= 7 && strcmp(argv[1], "feed") == 0)
		return cmd_feed(argv[2], argv[3], atoi(argv[4]), atof(argv[5]), atof(argv[6]));
	if (argc >= 7 && strcmp(argv[1], "wait") == 0)
		return cmd_wait(argv[2], atoll(argv[3]), atoi(argv[4]), atof(argv[5]), argv + 6, argc - 6);
	if (argc == 2 && strcmp(argv[1], "ms") == 0) {
		printf("%" PRId64 "\n", now_us());
		return 0;
	}
	fprintf(stderr, "usage: benchtool parse FILE [REPEAT] | latency BROKERS TOPIC CSV COUNT [GAP_MS]\n"
	                "       | feed BROKERS TOPIC PARTITIONS RATE SECONDS | ms\n"
	                "       | wait BROKERS COUNT PARTITIONS SECONDS TOPIC...\n");
	return 2;
}

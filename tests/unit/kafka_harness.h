/*
 * kafka_harness.h - for the unit tests that run aggregator code against
 * librdkafka's mock cluster in their own process (test_engine, test_consume):
 * the cluster, and an aggregator configuration from a command line.
 */
#ifndef KAFKA_HARNESS_H
#define KAFKA_HARNESS_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>

#include "cli.h"

/* A producer whose mock cluster of one broker lives in this process (its
 * bootstraps: rd_kafka_mock_cluster_bootstraps(rd_kafka_handle_mock_cluster)),
 * NULL on failure.  Sends at once; logs only errors. */
static inline rd_kafka_t *t_mock_producer(void)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", err, sizeof(err));
	rd_kafka_conf_set(conf, "linger.ms", "0", err, sizeof(err));
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err)); /* not the mock's notice */
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk)
		printf("# mock cluster: %s\n", err);
	return rk;
}

/* cfg from the aggregator's command line "aggregator ARGS...", args ending at
 * the first NULL.  0, or -1 (said why); cli_free(cfg) after 0. */
static inline int t_agg_config(struct agg_config *cfg, const char *const *args)
{
	char *argv[64];
	char err[256];
	int argc = 0;

	argv[argc++] = "aggregator";
	while (*args && argc < 63)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	if (cli_parse(argc, argv, cfg, err, sizeof(err)) != 0) {
		printf("# cli: %s\n", err);
		return -1;
	}
	return 0;
}

#endif

/*
 * pcli.h - the producer's command line: options, the KAFKA_BROKERS fallback,
 * --help and --version, into a struct pcli_config (as the aggregator's
 * cli.h does for its own).
 */
#ifndef PCLI_H
#define PCLI_H

#include <stddef.h>

#include "args.h"

#define PCLI_DEFAULT_URL      "wss://ws-feed.exchange.coinbase.com"
#define PCLI_DEFAULT_PRODUCTS "BTC-USD,ETH-USD"
#define PCLI_DEFAULT_BROKERS  "localhost:9092"

struct pcli_config {
	const char *url;            /* --url */
	const char *products;       /* --products, comma separated */
	const char *brokers;        /* --brokers / $KAFKA_BROKERS */
	const char *topic;          /* -t: every product to this topic, NULL = one each */
	const char *topic_prefix;   /* --topic-prefix, "" = none */
	const char *ca_file;        /* --ca-file, NULL = system store only */
	int partitions;             /* --partitions for created topics, -1 broker default */
	int replication;            /* --replication for created topics, -1 broker default */
	int insecure;               /* --insecure: accept any certificate */
	int verbosity;              /* a log_level: LOG_WARN -q, LOG_INFO default, more -v */
	int log_time;               /* --log-time: an enum log_time (log.h), auto */
	int silence_s;              /* --silence-timeout */
	int status_s;               /* --status-interval, 0 = off */
	int max_backoff_s;          /* --max-backoff */
	struct args_props props;    /* -X and -F passthrough, in order */
	int dump_conf;              /* -X dump */
	const char *metrics_addr;   /* --metrics HOST:PORT (the old name of --http), NULL off */
	const char *http_addr;      /* --http HOST:PORT, NULL off (then --metrics, if given) */
	int unhealthy_s;            /* --unhealthy-after: /healthz's bound on the feed down, Kafka stalled */
	const char *spool_dir;      /* --spool DIR, NULL: $STATE_DIRECTORY/producer-spool or ./producer-spool */
	int spool_max_mb;           /* --spool-max MB, 0 = no spool */
};

/* Parses argv into k. Returns 0 to run, 1 when --help, --version or -X list
 * was printed (exit 0), -1 on a usage error: err says why, or is empty when
 * getopt already did. pcli_free(k) in every case. */
int pcli_parse(int argc, char **argv, struct pcli_config *k, char *err, size_t errlen);
void pcli_free(struct pcli_config *k);

#endif

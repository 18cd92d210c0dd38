/*
 * pcli.c - the producer's command line (see pcli.h).
 */
#include "pcli.h"

#include "log.h"

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libwebsockets.h>
#include <librdkafka/rdkafka.h>

#ifndef PIPELINE_VERSION
#define PIPELINE_VERSION "dev"
#endif

/* --help: what comes before the options and after them (each option's own
 * lines are in pcli_opts, beside it). */
static const char pcli_usage_head[] =
"Usage: producer [options]\n"
"Coinbase Exchange ticker feed (WebSocket) -> Kafka, one topic per product\n"
"(or all in one with -t), keyed by product id.\n";
static const char pcli_usage_tail[] =
"Exit: 0 stopped by SIGINT/SIGTERM, all delivered; 1 undelivered/failed\n"
"messages or Kafka fatal error; 2 usage; 3 feed refused us (subscription\n"
"error, retired hostname, untrusted certificate); 4 startup failure.\n"
"Examples:\n"
"  KAFKA_BROKERS=localhost:9092 producer -p BTC-USD,ETH-USD   # topics BTC-USD, ETH-USD\n"
"  producer -p BTC-USD,ETH-USD --topic-prefix coinbase.      # coinbase.BTC-USD, ...\n"
"  producer -p BTC-USD,ETH-USD -t ticks                      # both in the topic ticks\n";

/* -X: a producer property, or kcat's words dump and list. */
static int pcli_x(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct pcli_config *k = cfg;
	int r = args_x(&k->props, arg, err, errlen);
	if (r == ARGS_X_LIST) {
		rd_kafka_conf_properties_show(stdout);
		return 1;
	}
	if (r == ARGS_X_DUMP)
		k->dump_conf = 1;
	return r < 0 ? -1 : 0;
}

static int pcli_f(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct pcli_config *k = cfg;
	return args_f(&k->props, arg, err, errlen);
}

static int pcli_quiet(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct pcli_config *k = cfg;
	(void)arg, (void)err, (void)errlen;
	k->verbosity = LOG_WARN;
	return 0;
}

static int pcli_verbose(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct pcli_config *k = cfg;
	(void)arg, (void)err, (void)errlen;
	k->verbosity++;
	return 0;
}

static int pcli_log_time(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct pcli_config *k = cfg;
	if ((k->log_time = log_time_parse(arg)) < 0) {
		snprintf(err, errlen, "--log-time: auto, always or never, not '%s'", arg);
		return -1;
	}
	return 0;
}

static int pcli_version(void *cfg, const char *arg, char *err, size_t errlen)
{
	(void)cfg, (void)arg, (void)err, (void)errlen;
	printf("producer %s (librdkafka %s, libwebsockets %s, jansson %s)\n", PIPELINE_VERSION,
	       rd_kafka_version_str(), lws_get_library_version(), JANSSON_VERSION);
	return 1;
}

#define PCLI_AT(field) offsetof(struct pcli_config, field)

/* The options: getopt's table, their checks and --help come from here. */
static const struct args_opt pcli_opts[] = {
	{ .name = "url", .key = 'u', .kind = ARGS_STR, .off = PCLI_AT(url),
	  .help = "  -u, --url URL             feed (default " PCLI_DEFAULT_URL ")\n" },
	{ .name = "products", .key = 'p', .kind = ARGS_STR, .off = PCLI_AT(products),
	  .help = "  -p, --products LIST       products (default " PCLI_DEFAULT_PRODUCTS ")\n" },
	{ .name = "brokers", .key = 'b', .kind = ARGS_STR, .off = PCLI_AT(brokers),
	  .help = "  -b, --brokers LIST        bootstrap servers (env KAFKA_BROKERS, default " PCLI_DEFAULT_BROKERS
	          ")\n" },
	{ .name = "topic", .key = 't', .kind = ARGS_STR, .off = PCLI_AT(topic),
	  .help = "  -t, --topic TOPIC         every product to TOPIC (default: a topic each,\n"
	          "                            named after the product)\n" },
	{ .name = "topic-prefix", .kind = ARGS_STR, .off = PCLI_AT(topic_prefix),
	  .help = "      --topic-prefix STR    a topic each, named STR + product id\n" },
	{ .name = "partitions", .kind = ARGS_INT, .off = PCLI_AT(partitions), .lo = -1, .hi = 100000,
	  .help = "      --partitions N        for created topics (default -1: broker default)\n" },
	{ .name = "replication", .kind = ARGS_INT, .off = PCLI_AT(replication), .lo = -1, .hi = 1000,
	  .help = "      --replication N       for created topics (default -1: broker default)\n" },
	{ .name = "ca-file", .kind = ARGS_STR, .off = PCLI_AT(ca_file),
	  .help = "      --ca-file PEM         extra trusted CA for wss://\n" },
	{ .name = "insecure", .kind = ARGS_FLAG, .off = PCLI_AT(insecure),
	  .help = "      --insecure            accept any server certificate (tests only)\n" },
	{ .key = 'X', .kind = ARGS_FN, .fn = pcli_x,
	  .help = "  -X key=value              librdkafka property (repeatable); -X dump prints\n"
	          "                            the configuration, -X list the properties\n" },
	{ .key = 'F', .kind = ARGS_FN, .fn = pcli_f,
	  .help = "  -F FILE                   librdkafka properties, one key=value a line\n" },
	{ .name = "silence-timeout", .kind = ARGS_SECONDS, .off = PCLI_AT(silence_s), .lo = 1, .hi = 3600,
	  .help = "      --silence-timeout DUR reconnect after DUR without feed data (15s)\n" },
	{ .name = "status-interval", .kind = ARGS_SECONDS, .off = PCLI_AT(status_s), .lo = 0, .hi = 86400,
	  .help = "      --status-interval DUR status line every DUR, 0 = off (5s)\n" },
	{ .name = "max-backoff", .kind = ARGS_SECONDS, .off = PCLI_AT(max_backoff_s), .lo = 1, .hi = 3600,
	  .help = "      --max-backoff DUR     longest wait between reconnects (30s)\n" },
	{ .name = "http", .kind = ARGS_HOSTPORT, .off = PCLI_AT(http_addr),
	  .help = "      --http HOST:PORT      the feed and Kafka page, /metrics (Prometheus),\n"
	          "                            /healthz and /api/status on http://HOST:PORT/;\n"
	          "                            an empty HOST (:PORT) is 127.0.0.1: 0.0.0.0:PORT or\n"
	          "                            [::]:PORT to be reached from elsewhere\n" },
	{ .name = "metrics", .kind = ARGS_HOSTPORT, .off = PCLI_AT(metrics_addr),
	  .help = "      --metrics HOST:PORT   the same as --http\n" },
	{ .name = "unhealthy-after", .kind = ARGS_SECONDS, .off = PCLI_AT(unhealthy_s), .lo = 1, .hi = 3600,
	  .help = "      --unhealthy-after DUR /healthz says 503 once the feed is down, or Kafka\n"
	          "                            takes no tick while some wait, this long (30s)\n" },
	{ .name = "spool", .kind = ARGS_STR, .off = PCLI_AT(spool_dir),
	  .help = "      --spool DIR           ticks Kafka does not take go to a file here, sent when\n"
	          "                            it is back (default $STATE_DIRECTORY/producer-spool,\n"
	          "                            else ./producer-spool)\n" },
	{ .name = "spool-max", .kind = ARGS_INT, .off = PCLI_AT(spool_max_mb), .lo = 0, .hi = 1048576,
	  .help = "      --spool-max MB        the spool's budget, 0 = no spool (1024)\n" },
	{ .name = "quiet", .key = 'q', .kind = ARGS_FN_NOARG, .fn = pcli_quiet,
	  .help = "  -q, --quiet               warnings and errors only, no status line\n" },
	{ .name = "verbose", .key = 'v', .kind = ARGS_FN_NOARG, .fn = pcli_verbose,
	  .help = "  -v, --verbose             more logging (repeat for lws internals)\n" },
	{ .name = "log-time", .kind = ARGS_FN, .fn = pcli_log_time,
	  .help = "      --log-time WHEN       log lines start with their UTC time: auto (when\n"
	          "                            stderr is not a terminal nor the journal), always, never\n" },
	{ .name = "help", .key = 'h', .kind = ARGS_HELP, .help = "  -h, --help | -V, --version\n" },
	{ .name = "version", .key = 'V', .kind = ARGS_FN_NOARG, .fn = pcli_version },
};

static const struct args_spec pcli_spec = {
	"producer", pcli_usage_head, pcli_opts, sizeof(pcli_opts) / sizeof(pcli_opts[0]), pcli_usage_tail, 0, "producer",
};

/* What the options mean together, once all are read. */
static int pcli_check(const struct pcli_config *k, char *err, size_t errlen)
{
	/* 0 partitions or replicas is no topic: -1 asks for the broker's. */
	if (!k->partitions || !k->replication) {
		snprintf(err, errlen, "%s: -1 (the broker's default) or at least 1, not 0",
		         !k->partitions ? "--partitions" : "--replication");
		return -1;
	}
	if (k->topic && *k->topic_prefix) {
		snprintf(err, errlen, "-t names the one topic, --topic-prefix one per product: give one of them");
		return -1;
	}
	if (k->topic && !*k->topic) {
		snprintf(err, errlen, "-t: empty topic name");
		return -1;
	}
	return 0;
}

int pcli_parse(int argc, char **argv, struct pcli_config *k, char *err, size_t errlen)
{
	const char *env = getenv("KAFKA_BROKERS");
	int r;

	memset(k, 0, sizeof(*k));
	k->url = PCLI_DEFAULT_URL;
	k->products = PCLI_DEFAULT_PRODUCTS;
	k->brokers = env && *env ? env : PCLI_DEFAULT_BROKERS;
	k->topic_prefix = "";
	k->partitions = -1;
	k->replication = -1;
	k->verbosity = LOG_INFO;
	k->log_time = LOG_TIME_AUTO;
	k->silence_s = 15;
	k->status_s = 5;
	k->max_backoff_s = 30;
	k->unhealthy_s = 30;
	k->spool_max_mb = 1024;
	if ((r = args_parse(&pcli_spec, argc, argv, k, err, errlen)) != 0)
		return r;
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	return pcli_check(k, err, errlen);
}

void pcli_free(struct pcli_config *k)
{
	args_props_free(&k->props);
}

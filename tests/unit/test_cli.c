/*
 * test_cli.c - the aggregator's command line: defaults, environment, every
 * kind of value checked (durations, counts, -X, --on-data-loss), the export
 * subcommand, and what --available-now implies.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "harness.h"
#include "log.h"

#define S 1000000LL

/* Parses a NULL-terminated list of arguments (after the program name). */
static int parse(struct agg_config *c, char *err, const char *first, ...)
{
	char *argv[T_ARGV_MAX];
	va_list ap;

	va_start(ap, first);
	int argc = t_argv(argv, "aggregator", first, ap);
	va_end(ap);
	err[0] = 0;
	return cli_parse(argc, argv, c, err, 256);
}

static void test_defaults(void)
{
	struct agg_config c;
	char err[256];

	unsetenv("KAFKA_BROKERS");
	T_INT(parse(&c, err, NULL), 0, "no arguments: run");
	T_OK(c.cmd == CLI_RUN && !strcmp(c.brokers, "localhost:9092") && !strcmp(c.group, "aggregator"),
	     "defaults: run, localhost:9092, group aggregator");
	T_INT(c.window_us, 60 * S, "--window 1m");
	T_INT(c.slide_us, 60 * S, "tumbling: slide == window");
	T_INT(c.delay_us, 120 * S, "--watermark 2m (the lab's)");
	T_INT(c.idle_timeout_us, 30 * S, "--idle-timeout 30s");
	T_INT(c.max_skew_us, 3600 * S, "--max-skew 1h");
	T_INT(c.ntopics, 2, "topics BTC-USD, ETH-USD");
	T_INT(c.verbosity, LOG_INFO, "verbosity info");
	T_INT(c.assign, 0, "group mode");
	cli_free(&c);

	setenv("KAFKA_BROKERS", "k1:9092,k2:9092", 1);
	parse(&c, err, NULL);
	T_OK(!strcmp(c.brokers, "k1:9092,k2:9092"), "KAFKA_BROKERS when no -b");
	cli_free(&c);
	parse(&c, err, "-b", "x:1", NULL);
	T_OK(!strcmp(c.brokers, "x:1"), "-b wins over KAFKA_BROKERS");
	cli_free(&c);
	unsetenv("KAFKA_BROKERS");
}

static void test_values(void)
{
	struct agg_config c;
	char err[256];

	T_INT(parse(&c, err, "--window", "10m", "--slide", "1m", NULL), 0, "sliding windows");
	T_OK(c.window_us == 600 * S && c.slide_us == 60 * S, "10m / 1m");
	cli_free(&c);
	T_INT(parse(&c, err, "--window", "10 minutes", "--watermark", "30 seconds", NULL), 0, "Spark's duration form");
	T_OK(c.window_us == 600 * S && c.delay_us == 30 * S, "10 minutes, 30 seconds");
	cli_free(&c);
	T_INT(parse(&c, err, "--watermark", "0", NULL), 0, "--watermark 0 is allowed");
	cli_free(&c);
	T_INT(parse(&c, err, "--window", "0", NULL), -1, "--window 0 is refused");
	T_OK(strstr(err, "--window") != NULL, "the message names the option");
	cli_free(&c);
	T_INT(parse(&c, err, "--slide", "2m", NULL), -1, "a slide longer than the window is refused");
	cli_free(&c);
	T_INT(parse(&c, err, "--window", "1d", "--slide", "1s", NULL), -1, "more than 1024 windows per tick refused");
	cli_free(&c);
	T_INT(parse(&c, err, "--max-skew", "106751000d", NULL), -1, "a duration that overflows is refused");
	T_OK(strstr(err, "too long") != NULL, "says it is too long");
	cli_free(&c);
	T_INT(parse(&c, err, "--batch-time", "fast", NULL), -1, "not a duration");
	cli_free(&c);
	T_INT(parse(&c, err, "--batch-max", "5abc", NULL), -1, "a count with trailing junk is refused");
	cli_free(&c);
	T_INT(parse(&c, err, "--batch-max", "0", NULL), -1, "a count of 0 is refused");
	cli_free(&c);
	T_INT(parse(&c, err, "--batch-max", "500", "--cache-windows", "64", NULL), 0, "counts");
	T_OK(c.batch_max == 500 && c.cache_windows == 64, "--batch-max 500, --cache-windows 64");
	cli_free(&c);
	T_INT(parse(&c, err, "-X", "fetch.wait.max.ms=10", "-X", "client.id=a=b", NULL), 0, "-X key=value");
	T_OK(c.props.n == 2 && !strcmp(c.props.kv[1][0], "client.id") && !strcmp(c.props.kv[1][1], "a=b"),
	     "-X splits at the first '='");
	cli_free(&c);
	T_INT(parse(&c, err, "-X", "novalue", NULL), -1, "-X without '=' is refused");
	cli_free(&c);
	T_INT(parse(&c, err, "--on-data-loss=skip", NULL), 0, "--on-data-loss=skip");
	T_INT(c.data_loss_skip, 1, "skips");
	cli_free(&c);
	T_INT(parse(&c, err, "--on-data-loss", "maybe", NULL), -1, "--on-data-loss other than fail/skip refused");
	cli_free(&c);
	T_INT(parse(&c, err, "--columns", "window_start,bogus", NULL), -1, "an unknown column is refused");
	cli_free(&c);
	parse(&c, err, "--columns", "lab", NULL);
	T_OK(!strcmp(c.columns, "window_start,product_id,max(timestamp),avg(price),max(best_bid),max(best_ask),"
	             "avg(volume_24h)"), "--columns lab: window, product and the lab's five");
	cli_free(&c);
	T_INT(parse(&c, err, "--metrics", "127.0.0.1:0", NULL), 0, "--metrics HOST:0 (a free port)");
	T_STR(c.metrics_addr, "127.0.0.1:0", "kept as given");
	cli_free(&c);
	T_INT(parse(&c, err, "--metrics", "127.0.0.1:99999", NULL), -1, "--metrics with a port past 65535");
	T_OK(strstr(err, "--metrics: '127.0.0.1:99999'") != NULL, "refused, named");
	cli_free(&c);
	T_INT(parse(&c, err, "--metrics", "nowhere", NULL), -1, "--metrics without a port");
	T_OK(strstr(err, "--metrics: HOST:PORT expected") != NULL, "says what it takes");
	cli_free(&c);
	T_INT(parse(&c, err, "stray", NULL), -1, "an unexpected argument is refused");
	T_OK(strstr(err, "stray") != NULL, "and named");
	cli_free(&c);
	T_INT(parse(&c, err, "-q", NULL), 0, "-q");
	T_INT(c.verbosity, LOG_WARN, "-q: warnings and errors");
	cli_free(&c);
	parse(&c, err, "-v", NULL);
	T_INT(c.verbosity, LOG_DEBUG, "-v: debug");
	cli_free(&c);
}

static void test_modes(void)
{
	struct agg_config c;
	char err[256];

	T_INT(parse(&c, err, "export", "--state", "s.db", "--output", "o.csv", NULL), 0, "export subcommand");
	T_OK(c.cmd == CLI_EXPORT && !strcmp(c.state_path, "s.db") && !strcmp(c.output_path, "o.csv"),
	     "export with its state and output");
	cli_free(&c);
	T_INT(parse(&c, err, "export", "--from-topic", "out", "--output", "o.csv", NULL), 0, "export --from-topic");
	T_OK(c.cmd == CLI_EXPORT && !strcmp(c.from_topic, "out") && !c.state_given, "from the topic, no state");
	cli_free(&c);
	T_INT(parse(&c, err, "export", "--from-topic", "out", "-s", "s.db", NULL), -1, "--from-topic with --state");
	T_OK(strstr(err, "exclude each other") != NULL, "refused: one or the other");
	cli_free(&c);
	T_INT(parse(&c, err, "--from-topic", "out", NULL), -1, "--from-topic without export");
	cli_free(&c);
	T_INT(parse(&c, err, "-t", "a,b,^c-.*", NULL), 0, "topics and a pattern");
	T_OK(c.ntopics == 3 && !strcmp(c.topics[2], "^c-.*"), "three, the pattern as given");
	cli_free(&c);
	parse(&c, err, "--available-now", NULL);
	T_INT(c.assign, 1, "--available-now reads without joining the group");
	cli_free(&c);
	parse(&c, err, "--available-now", "--subscribe", NULL);
	T_INT(c.assign, 0, "--subscribe joins it");
	cli_free(&c);
	parse(&c, err, "--available-now", "-t", "^x.*", NULL);
	T_INT(c.assign, 0, "a pattern can only be subscribed to");
	cli_free(&c);

	parse(&c, err, NULL);
	T_OK(c.start_at_ms == INT64_MIN, "--start-at: by default the group's offset");
	cli_free(&c);
	parse(&c, err, "--start-at", "earliest", NULL);
	T_INT(c.start_at_ms, -2, "--start-at earliest");
	cli_free(&c);
	parse(&c, err, "--start-at", "latest", NULL);
	T_INT(c.start_at_ms, -1, "--start-at latest");
	cli_free(&c);
	parse(&c, err, "--start-at", "2023-04-24T15:10:00Z", NULL);
	T_INT(c.start_at_ms, 1682349000000LL, "--start-at a UTC time: ms since the epoch");
	cli_free(&c);
	parse(&c, err, "--start-at", "-1d", NULL);
	T_OK(c.start_at_ms > 1700000000000LL && c.start_at_ms < (int64_t)time(NULL) * 1000 - 86300000LL,
	     "--start-at -1d: a day ago");
	cli_free(&c);
	T_INT(parse(&c, err, "--start-at", "yesterday", NULL), -1, "--start-at yesterday refused");
	cli_free(&c);
}

int main(void)
{
	test_defaults();
	test_values();
	test_modes();
	return t_done();
}

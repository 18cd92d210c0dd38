/*
 * test_pcli.c - the producer's command line: defaults, the environment,
 * every kind of value checked (whole seconds, ranges, -X, -F, --metrics),
 * and what the options mean together (-t against --topic-prefix).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "log.h"
#include "pcli.h"

/* Parses a NULL-terminated list of arguments (after the program name). */
static int parse(struct pcli_config *k, char *err, const char *first, ...)
{
	char *argv[T_ARGV_MAX];
	va_list ap;

	va_start(ap, first);
	int argc = t_argv(argv, "producer", first, ap);
	va_end(ap);
	err[0] = 0;
	return pcli_parse(argc, argv, k, err, 256);
}

static void test_defaults(void)
{
	struct pcli_config k;
	char err[256];

	unsetenv("KAFKA_BROKERS");
	T_INT(parse(&k, err, NULL), 0, "no arguments: run");
	T_STR(k.url, "wss://ws-feed.exchange.coinbase.com", "the Exchange feed");
	T_STR(k.products, "BTC-USD,ETH-USD", "BTC-USD and ETH-USD");
	T_STR(k.brokers, "localhost:9092", "localhost:9092");
	T_OK(k.topic == NULL && !strcmp(k.topic_prefix, ""), "a topic per product, no prefix");
	T_OK(k.partitions == -1 && k.replication == -1, "broker defaults for created topics");
	T_OK(k.silence_s == 15 && k.status_s == 5 && k.max_backoff_s == 30, "15 s, 5 s, 30 s");
	T_INT(k.verbosity, LOG_INFO, "verbosity info");
	T_OK(k.metrics_addr == NULL && k.props.n == 0 && !k.dump_conf && !k.insecure, "nothing else");
	pcli_free(&k);

	setenv("KAFKA_BROKERS", "k1:9092", 1);
	parse(&k, err, NULL);
	T_STR(k.brokers, "k1:9092", "KAFKA_BROKERS when no -b");
	pcli_free(&k);
	parse(&k, err, "-b", "x:1", NULL);
	T_STR(k.brokers, "x:1", "-b wins over KAFKA_BROKERS");
	pcli_free(&k);
	setenv("KAFKA_BROKERS", "", 1);
	parse(&k, err, NULL);
	T_STR(k.brokers, "localhost:9092", "an empty KAFKA_BROKERS is none");
	pcli_free(&k);
	unsetenv("KAFKA_BROKERS");
}

static void test_values(void)
{
	struct pcli_config k;
	char err[256];

	T_INT(parse(&k, err, "-u", "ws://h:1", "-p", "BTC-USD", "--topic-prefix", "x.", "--ca-file", "ca.pem",
	            "--insecure", NULL), 0, "strings and a flag");
	T_OK(!strcmp(k.url, "ws://h:1") && !strcmp(k.products, "BTC-USD") && !strcmp(k.topic_prefix, "x.") &&
	     !strcmp(k.ca_file, "ca.pem") && k.insecure, "each stored");
	pcli_free(&k);
	T_INT(parse(&k, err, "--status-interval", "5s", "--silence-timeout", "1m", "--max-backoff", "90", NULL), 0,
	      "durations in whole seconds, or a bare number");
	T_OK(k.status_s == 5 && k.silence_s == 60 && k.max_backoff_s == 90, "5, 60, 90");
	pcli_free(&k);
	T_INT(parse(&k, err, "--status-interval", "0", NULL), 0, "--status-interval 0: off");
	T_INT(k.status_s, 0, "0");
	pcli_free(&k);
	T_INT(parse(&k, err, "--status-interval", "500ms", NULL), -1, "not whole seconds");
	T_STR(err, "--status-interval: expected whole seconds (like 15, 15s, 2m), got '500ms'", "says so");
	pcli_free(&k);
	T_INT(parse(&k, err, "--silence-timeout", "0", NULL), -1, "--silence-timeout 0 refused");
	T_STR(err, "--silence-timeout: expected 1 s to 3600 s, got '0'", "says the range");
	pcli_free(&k);
	T_INT(parse(&k, err, "--max-backoff", "2h", NULL), -1, "--max-backoff past an hour refused");
	pcli_free(&k);
	T_INT(parse(&k, err, "--partitions", "6", "--replication", "3", NULL), 0, "--partitions, --replication");
	T_OK(k.partitions == 6 && k.replication == 3, "6, 3");
	pcli_free(&k);
	T_INT(parse(&k, err, "--partitions", "-1", NULL), 0, "--partitions -1: the broker's");
	pcli_free(&k);
	T_INT(parse(&k, err, "--partitions", "0", NULL), -1, "--partitions 0 refused");
	T_OK(strstr(err, "--partitions") == err, "named");
	pcli_free(&k);
	T_INT(parse(&k, err, "--replication", "0", NULL), -1, "--replication 0 refused");
	T_OK(strstr(err, "--replication") == err, "named");
	pcli_free(&k);
	T_INT(parse(&k, err, "--partitions", "100001", NULL), -1, "--partitions past 100000");
	T_STR(err, "--partitions: expected an integer in [-1, 100000], got '100001'", "says the range");
	pcli_free(&k);
	T_INT(parse(&k, err, "-X", "acks=1", "-X", "client.id=a=b", "-X", "dump", NULL), 0, "-X key=value, -X dump");
	T_OK(k.props.n == 2 && !strcmp(k.props.kv[1][0], "client.id") && !strcmp(k.props.kv[1][1], "a=b") &&
	     k.dump_conf, "in order, split at the first '=', dump noted");
	pcli_free(&k);
	T_INT(parse(&k, err, "-X", "novalue", NULL), -1, "-X without '='");
	T_STR(err, "-X: expected key=value, got 'novalue'", "says what it takes");
	pcli_free(&k);
	T_INT(parse(&k, err, "-F", "/nonexistent/p", NULL), -1, "-F a missing file");
	T_OK(strstr(err, "-F: /nonexistent/p: ") == err, "names the option and the file");
	pcli_free(&k);
	T_INT(parse(&k, err, "--metrics", ":0", NULL), 0, "--metrics :0");
	T_STR(k.metrics_addr, ":0", "kept as given");
	pcli_free(&k);
	T_INT(parse(&k, err, "--metrics", "127.0.0.1:99999", NULL), -1, "--metrics with a port past 65535");
	T_OK(strstr(err, "--metrics: '127.0.0.1:99999'") == err, "refused, named");
	pcli_free(&k);
	parse(&k, err, "-q", NULL);
	T_INT(k.verbosity, LOG_WARN, "-q: warnings and errors");
	pcli_free(&k);
	parse(&k, err, "-v", "-v", NULL);
	T_INT(k.verbosity, LOG_DEBUG + 1, "-v -v: lws internals too");
	pcli_free(&k);
}

static void test_together(void)
{
	struct pcli_config k;
	char err[256];

	T_INT(parse(&k, err, "-t", "ticks", NULL), 0, "-t: one topic");
	T_STR(k.topic, "ticks", "named");
	pcli_free(&k);
	T_INT(parse(&k, err, "-t", "ticks", "--topic-prefix", "x.", NULL), -1, "-t with --topic-prefix");
	T_STR(err, "-t names the one topic, --topic-prefix one per product: give one of them", "says why");
	pcli_free(&k);
	T_INT(parse(&k, err, "-t", "", NULL), -1, "-t ''");
	T_STR(err, "-t: empty topic name", "says why");
	pcli_free(&k);
	T_INT(parse(&k, err, "stray", NULL), -1, "an unexpected argument");
	T_STR(err, "unexpected argument 'stray'", "named");
	pcli_free(&k);
	opterr = 0; /* no getopt line in the TAP output */
	T_INT(parse(&k, err, "--bogus", NULL), -1, "an unknown option");
	T_STR(err, "unknown option '--bogus' (try 'producer --help')", "named, with where to look");
	pcli_free(&k);
	opterr = 1;
}

/* --help goes to stdout: pointed at a file (glibc lets stdout be assigned)
 * and read back. */
static void test_help(void)
{
	struct pcli_config k;
	char err[256], line[256];
	int found = 0;

	T_INT(t_tmpdir("test_pcli"), 0, "scratch directory");
	fflush(stdout);
	FILE *saved = stdout, *f = fopen(t_path("help"), "w+");
	stdout = f;
	int r = parse(&k, err, "--help", NULL);
	stdout = saved;
	T_INT(r, 1, "--help: done");
	rewind(f);
	while (fgets(line, sizeof(line), f))
		found += !strcmp(line, "      --silence-timeout DUR reconnect after DUR without feed data (15s)\n") ||
		         !strncmp(line, "Usage: producer", 15) || !strncmp(line, "Exit: 0", 7);
	fclose(f);
	T_INT(found, 3, "the usage line, an option's line, the exit codes");
	pcli_free(&k);
	t_rmdir();
}

int main(void)
{
	test_defaults();
	test_values();
	test_together();
	test_help();
	return t_done();
}

/*
 * kafka-mock - an embedded Kafka cluster for tests and the demo, built on
 * librdkafka's mock cluster (rdkafka_mock.h) and run as a process of its own.
 *
 *   kafka-mock [-b N] [-t NAME[:PARTITIONS]]... [-p DEFAULT] [-f FILE] [-v]
 *
 * Prints the bootstrap address as the first line on stdout (and, with -f,
 * writes it atomically to FILE), then reads control commands from stdin, one
 * per line, answering each with one line on stdout: "ok" or "error: <why>".
 *
 *   down <broker_id>                 take a broker down (listener closed)
 *   up <broker_id>                   bring it back
 *   rtt <broker_id> <ms>             add round-trip latency to a broker
 *   topic <name> <partitions>        create a topic
 *   leader <topic> <partition> <id>  move a partition leader (-1: none)
 *   error <ApiKey> <err> [count]     the next count requests of ApiKey fail
 *   clear <ApiKey>                   forget pushed errors for ApiKey
 *   ping                             answers ok (synchronisation)
 *
 * ApiKey is a number or a name (Produce, Fetch, Metadata, ...); err a number
 * or a name as rd_kafka_err2name() spells it (NOT_LEADER_FOR_PARTITION,
 * REQUEST_TIMED_OUT, _TRANSPORT, ...), optionally with the RD_KAFKA_RESP_ERR_
 * prefix.  On stdin EOF the broker keeps running; SIGTERM/SIGINT stop it.
 *
 * Mock limits (librdkafka 2.0.2, src/rdkafka_mock.c): each partition keeps at
 * most 100000 message sets (produce batches) and 5 MiB; older sets are
 * dropped from the head of the log.  Unknown topics are auto-created by
 * Metadata/Produce requests with 4 partitions.  CreateTopics is not
 * implemented: use -t or the "topic" command.
 *
 * Exit: 0 after SIGTERM/SIGINT, 1 on failure, 2 on usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#ifndef PIPELINE_VERSION
#define PIPELINE_VERSION "dev"
#endif

#define DEFAULT_BROKERS 3
#define MAX_BROKERS     32
#define MAX_PARTITIONS  10000
#define MAX_ERR_COUNT   100000
#define LINE_MAX_LEN    4096

static volatile sig_atomic_t stop_flag;

struct opts {
	int brokers;
	int partitions;          /* default partition count for -t NAME */
	const char *bootstrap_file;
	int verbose;
	const char **topics;     /* -t arguments, NAME[:PARTITIONS] */
	int topic_cnt;
};

/* Control connection state: the stdin line assembler. */
struct ctl {
	char buf[LINE_MAX_LEN];
	size_t len;
	int discarding;          /* inside an over-long line */
	int open;                /* stdin not yet at EOF */
};

static const struct {
	const char *name;
	int16_t key;
} api_keys[] = {
	{"Produce", 0},          {"Fetch", 1},
	{"ListOffsets", 2},      {"Offset", 2},
	{"Metadata", 3},         {"LeaderAndIsr", 4},
	{"StopReplica", 5},      {"UpdateMetadata", 6},
	{"ControlledShutdown", 7}, {"OffsetCommit", 8},
	{"OffsetFetch", 9},      {"FindCoordinator", 10},
	{"GroupCoordinator", 10}, {"JoinGroup", 11},
	{"Heartbeat", 12},       {"LeaveGroup", 13},
	{"SyncGroup", 14},       {"DescribeGroups", 15},
	{"ListGroups", 16},      {"SaslHandshake", 17},
	{"ApiVersion", 18},      {"ApiVersions", 18},
	{"CreateTopics", 19},    {"DeleteTopics", 20},
	{"DeleteRecords", 21},   {"InitProducerId", 22},
	{"OffsetForLeaderEpoch", 23}, {"AddPartitionsToTxn", 24},
	{"AddOffsetsToTxn", 25}, {"EndTxn", 26},
	{"WriteTxnMarkers", 27}, {"TxnOffsetCommit", 28},
	{"DescribeAcls", 29},    {"CreateAcls", 30},
	{"DeleteAcls", 31},      {"DescribeConfigs", 32},
	{"AlterConfigs", 33},    {"AlterReplicaLogDirs", 34},
	{"DescribeLogDirs", 35}, {"SaslAuthenticate", 36},
	{"CreatePartitions", 37}, {"CreateDelegationToken", 38},
	{"RenewDelegationToken", 39}, {"ExpireDelegationToken", 40},
	{"DescribeDelegationToken", 41}, {"DeleteGroups", 42},
	{"ElectLeaders", 43},    {"IncrementalAlterConfigs", 44},
	{"AlterPartitionReassignments", 45},
	{"ListPartitionReassignments", 46}, {"OffsetDelete", 47},
	{"DescribeClientQuotas", 48}, {"AlterClientQuotas", 49},
};

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%% %s\n", line);
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
		   const char *buf)
{
	(void)rk;
	/* The hosting handle has no bootstrap.servers, and needs none. */
	if (!strcmp(fac, "CONFWARN") && strstr(buf, "bootstrap.servers"))
		return;
	fprintf(stderr, "%% rdkafka %d %s: %s\n", level, fac, buf);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: kafka-mock [options]\n"
		"Run librdkafka's mock Kafka cluster as a standalone broker.\n"
		"\n"
		"  -b, --brokers N               number of brokers (default %d, max %d)\n"
		"  -t, --topic NAME[:PARTITIONS] pre-create a topic (repeatable)\n"
		"  -p, --partitions N            partitions for -t without :N (default 1)\n"
		"  -f, --bootstrap-file FILE     also write the bootstrap address to FILE\n"
		"  -v, --verbose                 log commands; twice: librdkafka mock debug\n"
		"      --help                    this text\n"
		"      --version                 print the version\n"
		"\n"
		"The first stdout line is the bootstrap address.  Commands on stdin,\n"
		"one per line, each answered by \"ok\" or \"error: <why>\":\n"
		"  down ID | up ID | rtt ID MS | topic NAME PARTITIONS\n"
		"  leader TOPIC PARTITION ID | error APIKEY ERR [COUNT] | clear APIKEY | ping\n"
		"Replication factor is min(3, brokers).  Unknown topics are auto-created\n"
		"(4 partitions); CreateTopics is not supported by the mock.\n"
		"Example:\n"
		"  kafka-mock -t BTC-USD -t ETH-USD:4 -f /tmp/bootstrap.txt\n"
		"Exit: 0 stopped by SIGTERM/SIGINT, 1 failure, 2 usage.\n",
		DEFAULT_BROKERS, MAX_BROKERS);
}

/* Strict decimal integer in [lo, hi]; returns 0 on success. */
static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_api_key(const char *s, int16_t *out)
{
	long v;
	size_t i;

	if (!parse_int(s, 0, INT16_MAX, &v)) {
		*out = (int16_t)v;
		return 0;
	}
	for (i = 0; i < sizeof(api_keys) / sizeof(api_keys[0]); i++) {
		if (!strcasecmp(s, api_keys[i].name) ||
		    (!strncasecmp(s, api_keys[i].name, strlen(api_keys[i].name)) &&
		     !strcasecmp(s + strlen(api_keys[i].name), "Request"))) {
			*out = api_keys[i].key;
			return 0;
		}
	}
	return -1;
}

static int parse_err(const char *s, rd_kafka_resp_err_t *out)
{
	const struct rd_kafka_err_desc *descs;
	size_t cnt, i;
	long v;
	static const char prefix[] = "RD_KAFKA_RESP_ERR_";

	if (!parse_int(s, -200, 1000, &v)) {
		*out = (rd_kafka_resp_err_t)v;
		return 0;
	}
	if (!strncasecmp(s, prefix, sizeof(prefix) - 1))
		s += sizeof(prefix) - 1;
	/* Newer Kafka name for code 6, unknown to librdkafka 2.0.2's table. */
	if (!strcasecmp(s, "NOT_LEADER_OR_FOLLOWER")) {
		*out = RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION;
		return 0;
	}
	rd_kafka_get_err_descs(&descs, &cnt);
	for (i = 0; i < cnt; i++) {
		if (descs[i].name && !strcasecmp(s, descs[i].name)) {
			*out = descs[i].code;
			return 0;
		}
	}
	return -1;
}

/* Runs one command line; writes the answer (without newline) to ans. */
static void run_command(rd_kafka_mock_cluster_t *mc, int brokers, char *line,
			char *ans, size_t anssz)
{
	char *argv[8] = {NULL}, *save = NULL, *tok;
	int argc = 0;
	long a, b, c;
	int16_t key;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	int repl = brokers < 3 ? brokers : 3;

	for (tok = strtok_r(line, " \t\r", &save); tok && argc < 8;
	     tok = strtok_r(NULL, " \t\r", &save))
		argv[argc++] = tok;
	if (tok || argc == 0) {
		snprintf(ans, anssz, "error: %s", tok ? "too many arguments" : "empty command");
		return;
	}

	snprintf(ans, anssz, "ok");
	if (!strcmp(argv[0], "ping") && argc == 1) {
		return;
	} else if ((!strcmp(argv[0], "down") || !strcmp(argv[0], "up")) && argc == 2) {
		if (parse_int(argv[1], 1, INT32_MAX, &a)) {
			snprintf(ans, anssz, "error: bad broker id '%s'", argv[1]);
			return;
		}
		if (a > brokers) {
			snprintf(ans, anssz, "error: no broker %ld (1..%d)", a, brokers);
			return;
		}
		err = argv[0][0] == 'd' ? rd_kafka_mock_broker_set_down(mc, (int32_t)a)
					: rd_kafka_mock_broker_set_up(mc, (int32_t)a);
	} else if (!strcmp(argv[0], "rtt") && argc == 3) {
		if (parse_int(argv[1], 1, brokers, &a) ||
		    parse_int(argv[2], 0, INT_MAX, &b)) {
			snprintf(ans, anssz, "error: usage: rtt <broker_id 1..%d> <ms>",
				 brokers);
			return;
		}
		err = rd_kafka_mock_broker_set_rtt(mc, (int32_t)a, (int)b);
	} else if (!strcmp(argv[0], "topic") && argc == 3) {
		if (parse_int(argv[2], 1, MAX_PARTITIONS, &a)) {
			snprintf(ans, anssz, "error: bad partition count '%s'", argv[2]);
			return;
		}
		err = rd_kafka_mock_topic_create(mc, argv[1], (int)a, repl);
	} else if (!strcmp(argv[0], "leader") && argc == 4) {
		if (parse_int(argv[2], 0, INT32_MAX, &a) ||
		    parse_int(argv[3], -1, brokers, &b)) {
			snprintf(ans, anssz,
				 "error: usage: leader <topic> <partition> <broker_id 1..%d|-1>",
				 brokers);
			return;
		}
		err = rd_kafka_mock_partition_set_leader(mc, argv[1], (int32_t)a,
							 (int32_t)b);
	} else if (!strcmp(argv[0], "error") && (argc == 3 || argc == 4)) {
		rd_kafka_resp_err_t e, *errs;
		size_t i;

		c = 1;
		if (parse_api_key(argv[1], &key)) {
			snprintf(ans, anssz, "error: unknown ApiKey '%s'", argv[1]);
			return;
		}
		if (parse_err(argv[2], &e)) {
			snprintf(ans, anssz, "error: unknown error code '%s'", argv[2]);
			return;
		}
		if (argc == 4 && parse_int(argv[3], 1, MAX_ERR_COUNT, &c)) {
			snprintf(ans, anssz, "error: bad count '%s'", argv[3]);
			return;
		}
		if (!(errs = malloc((size_t)c * sizeof(*errs)))) {
			snprintf(ans, anssz, "error: out of memory");
			return;
		}
		for (i = 0; i < (size_t)c; i++)
			errs[i] = e;
		rd_kafka_mock_push_request_errors_array(mc, key, (size_t)c, errs);
		free(errs);
	} else if (!strcmp(argv[0], "clear") && argc == 2) {
		if (parse_api_key(argv[1], &key)) {
			snprintf(ans, anssz, "error: unknown ApiKey '%s'", argv[1]);
			return;
		}
		rd_kafka_mock_clear_request_errors(mc, key);
	} else if (!strcmp(argv[0], "down") || !strcmp(argv[0], "up") ||
		   !strcmp(argv[0], "rtt") || !strcmp(argv[0], "topic") ||
		   !strcmp(argv[0], "leader") || !strcmp(argv[0], "error") ||
		   !strcmp(argv[0], "clear") || !strcmp(argv[0], "ping")) {
		snprintf(ans, anssz, "error: wrong number of arguments for '%s'",
			 argv[0]);
		return;
	} else {
		snprintf(ans, anssz, "error: unknown command '%s'", argv[0]);
		return;
	}
	if (err)
		snprintf(ans, anssz, "error: %s", rd_kafka_err2str(err));
}

static void answer(const char *ans)
{
	/* A reader that went away must not kill the broker (SIGPIPE ignored). */
	if (printf("%s\n", ans) < 0 || fflush(stdout) == EOF)
		clearerr(stdout);
}

/* Handles every complete line in ctl->buf. */
static void ctl_lines(struct ctl *ctl, rd_kafka_mock_cluster_t *mc, int brokers,
		      int verbose)
{
	char *nl, ans[512];
	size_t used;

	while ((nl = memchr(ctl->buf, '\n', ctl->len))) {
		*nl = '\0';
		used = (size_t)(nl - ctl->buf) + 1;
		if (ctl->discarding) {
			ctl->discarding = 0;
		} else {
			char *p = ctl->buf + strspn(ctl->buf, " \t\r");

			if (*p && *p != '#') {
				if (verbose)
					logmsg("command: %s", p);
				run_command(mc, brokers, p, ans, sizeof(ans));
				if (verbose)
					logmsg("answer: %s", ans);
				answer(ans);
			}
		}
		memmove(ctl->buf, ctl->buf + used, ctl->len - used);
		ctl->len -= used;
	}
	if (ctl->len == sizeof(ctl->buf)) {
		if (!ctl->discarding)
			answer("error: line too long");
		ctl->discarding = 1;
		ctl->len = 0;
	}
}

/* Waits up to 200 ms for stdin, reads what is there. */
static void ctl_poll(struct ctl *ctl, rd_kafka_mock_cluster_t *mc, int brokers,
		     int verbose)
{
	struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
	ssize_t n;
	int r;

	if (!ctl->open) {
		poll(NULL, 0, 200);
		return;
	}
	r = poll(&pfd, 1, 200);
	if (r <= 0)
		return;
	n = read(STDIN_FILENO, ctl->buf + ctl->len, sizeof(ctl->buf) - ctl->len);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		logmsg("stdin: %s; no more commands", strerror(errno));
		ctl->open = 0;
		return;
	}
	if (n == 0) {
		/* EOF: a final unterminated line still counts. */
		if (ctl->len > 0 && ctl->len < sizeof(ctl->buf)) {
			ctl->buf[ctl->len++] = '\n';
			ctl_lines(ctl, mc, brokers, verbose);
		}
		if (verbose)
			logmsg("stdin closed; running until SIGTERM/SIGINT");
		ctl->open = 0;
		return;
	}
	ctl->len += (size_t)n;
	ctl_lines(ctl, mc, brokers, verbose);
}

static int write_file_atomic(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	FILE *f;
	int rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!(f = fopen(tmp, "w")))
		return -1;
	if (fprintf(f, "%s\n", text) >= 0 && fflush(f) == 0 && fsync(fileno(f)) == 0)
		rc = 0;
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

/* Returns 0 on success, 2 on usage errors, -1 after --help/--version. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"partitions", required_argument, NULL, 'p'},
		{"bootstrap-file", required_argument, NULL, 'f'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	long v;
	int c;

	while ((c = getopt_long(argc, argv, "b:t:p:f:v", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (parse_int(optarg, 1, MAX_BROKERS, &v)) {
				fprintf(stderr, "kafka-mock: bad --brokers '%s' (1..%d)\n",
					optarg, MAX_BROKERS);
				return 2;
			}
			o->brokers = (int)v;
			break;
		case 't':
			o->topics[o->topic_cnt++] = optarg;
			break;
		case 'p':
			if (parse_int(optarg, 1, MAX_PARTITIONS, &v)) {
				fprintf(stderr, "kafka-mock: bad --partitions '%s'\n", optarg);
				return 2;
			}
			o->partitions = (int)v;
			break;
		case 'f':
			o->bootstrap_file = optarg;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case 'V':
			printf("kafka-mock %s (librdkafka %s)\n", PIPELINE_VERSION,
			       rd_kafka_version_str());
			return -1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kafka-mock: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

/* Splits NAME[:PARTITIONS]; name is copied into buf. */
static int topic_spec(const char *spec, int dflt, char *buf, size_t bufsz,
		      int *partitions)
{
	const char *colon = strrchr(spec, ':');
	size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
	long v = dflt;

	if (len == 0 || len >= bufsz)
		return -1;
	if (colon && parse_int(colon + 1, 1, MAX_PARTITIONS, &v))
		return -1;
	memcpy(buf, spec, len);
	buf[len] = '\0';
	*partitions = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {.brokers = DEFAULT_BROKERS, .partitions = 1};
	struct ctl *ctl = NULL;
	rd_kafka_conf_t *conf = NULL;
	rd_kafka_t *rk = NULL;
	rd_kafka_mock_cluster_t *mc = NULL;
	struct sigaction sa;
	const char *bootstraps;
	char errstr[512], name[256];
	int rc = 1, i, r, parts, repl;

	o.topics = calloc((size_t)argc, sizeof(*o.topics));
	if (!o.topics) {
		logmsg("out of memory");
		goto out;
	}
	r = parse_args(argc, argv, &o);
	if (r != 0) {
		rc = r < 0 ? 0 : r;
		goto out;
	}
	for (i = 0; i < o.topic_cnt; i++) {
		if (topic_spec(o.topics[i], o.partitions, name, sizeof(name), &parts)) {
			fprintf(stderr, "kafka-mock: bad --topic '%s' (NAME[:PARTITIONS])\n",
				o.topics[i]);
			rc = 2;
			goto out;
		}
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, log_cb);
	if (o.verbose >= 2 &&
	    rd_kafka_conf_set(conf, "debug", "mock", errstr, sizeof(errstr)) !=
		    RD_KAFKA_CONF_OK) {
		logmsg("debug=mock: %s", errstr);
		goto out;
	}
	/* The handle only hosts the mock cluster: keep it quiet and idle. */
	if (rd_kafka_conf_set(conf, "client.id", "kafka-mock", errstr,
			      sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		logmsg("client.id: %s", errstr);
		goto out;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		logmsg("rd_kafka_new: %s", errstr);
		goto out;
	}
	conf = NULL; /* owned by rk */

	mc = rd_kafka_mock_cluster_new(rk, o.brokers);
	if (!mc) {
		logmsg("rd_kafka_mock_cluster_new(%d) failed", o.brokers);
		goto out;
	}
	repl = o.brokers < 3 ? o.brokers : 3;
	for (i = 0; i < o.topic_cnt; i++) {
		rd_kafka_resp_err_t err;

		topic_spec(o.topics[i], o.partitions, name, sizeof(name), &parts);
		err = rd_kafka_mock_topic_create(mc, name, parts, repl);
		if (err) {
			logmsg("topic %s: %s", name, rd_kafka_err2str(err));
			goto out;
		}
		if (o.verbose)
			logmsg("created topic %s with %d partition(s), replication %d",
			       name, parts, repl);
	}

	bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
	if (o.bootstrap_file && write_file_atomic(o.bootstrap_file, bootstraps)) {
		logmsg("%s: %s", o.bootstrap_file, strerror(errno));
		goto out;
	}
	printf("%s\n", bootstraps);
	fflush(stdout);
	logmsg("mock cluster with %d broker(s) at %s", o.brokers, bootstraps);

	if (!(ctl = calloc(1, sizeof(*ctl)))) {
		logmsg("out of memory");
		goto out;
	}
	ctl->open = 1;
	while (!stop_flag) {
		ctl_poll(ctl, mc, o.brokers, o.verbose);
		rd_kafka_poll(rk, 0);
	}
	logmsg("stopping");
	rc = 0;

out:
	if (mc)
		rd_kafka_mock_cluster_destroy(mc);
	if (rk)
		rd_kafka_destroy(rk);
	if (conf)
		rd_kafka_conf_destroy(conf);
	free(ctl);
	free(o.topics);
	return rc;
}

/*
 * cli.c - the aggregator's command line (see cli.h).
 */
#include "cli.h"

#include "duration.h"
#include "fnv.h"
#include "log.h"
#include "props.h"
#include "tick.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <sqlite3.h>

#include "export.h"
#include "fmt.h"
#include "window.h"

static const char cli_usage[] =
"Usage: aggregator [OPTIONS]                       consume ticks, keep windows, append output.csv\n"
"       aggregator export --state FILE --output FILE   rewrite the CSV from a state file\n"
"       aggregator export --from-topic TOPIC --output FILE [-b BROKERS]\n"
"                          the CSV of the windows a group's members wrote to TOPIC\n"
"       aggregator status --state FILE [-b BROKERS -g GROUP] [--json]   where it is\n"
"\n"
"Event-time windows over Coinbase ticker messages from Kafka, kept exactly-once in\n"
"a SQLite state file; windows the watermark closed are appended once to the CSV.\n"
"\n"
"  -b, --brokers LIST      Kafka bootstrap servers (env KAFKA_BROKERS; localhost:9092)\n"
"  -g, --group ID          consumer group (aggregator)\n"
"  -t, --topics LIST       topics, comma-separated; ^regex subscribes by pattern\n"
"                          (BTC-USD,ETH-USD)\n"
"  -s, --state FILE        SQLite state file (aggregator.db)\n"
"  -o, --output FILE       CSV of closed windows (output.csv)\n"
"  -w, --window DUR        window length (1m); DUR: 500ms, 30s, 1m, 2h, \"10 minutes\"\n"
"      --slide DUR         slide for sliding windows (= window: tumbling)\n"
"      --watermark DUR     event-time delay before a window closes (2m)\n"
"      --idle-timeout DUR  a partition at its end this long holds the watermark\n"
"                          only at what the others delivered that long ago (30s)\n"
"      --max-skew DUR      reject ticks this far ahead of their partition (1h)\n"
"      --columns LIST      CSV columns and order (default all: all eight; lab:\n"
"                          window_start, product_id and the lab's five)\n"
"      --start-at WHEN     where partitions new to the state start: earliest,\n"
"                          latest, a UTC time, or -DUR (that long ago); default:\n"
"                          the group's offset, else auto.offset.reset\n"
"      --available-now     process what the topics hold now, export, exit 0;\n"
"                          reads every partition without joining the group\n"
"                          (--subscribe: join it), commits to it at the end\n"
"      --assign            read every partition of --topics without joining the\n"
"                          group (one instance; no rebalance wait at restart)\n"
"      --on-data-loss WHAT fail (default): stop (exit 5) when ticks not yet read\n"
"                          are gone from Kafka (retention, topic recreated);\n"
"                          skip: go on, counting them in the state (data_loss)\n"
"      --batch-max N       messages per transaction at most (20000; group\n"
"                          mode 100000: a Kafka transaction costs ~25 ms)\n"
"      --batch-time DUR    a transaction at least this often (100ms)\n"
"      --cache-windows N   open windows kept in memory beyond the ones not yet\n"
"                          stored; others are read back from the state (16384)\n"
"      --progress-interval DUR  progress line period, 0 = off (5s)\n"
"      --progress-json     progress as JSON lines on stdout\n"
"      --metrics HOST:PORT serve Prometheus metrics on http://HOST:PORT/metrics\n"
"      --output-topic TOPIC group mode: members of one --group share the\n"
"                          partitions; closed windows go to TOPIC, state to a\n"
"                          changelog, offsets with them, in Kafka transactions\n"
"                          (aggregator export --from-topic TOPIC makes the CSV)\n"
"      --changelog TOPIC   group mode's compacted state topic (GROUP-changelog)\n"
"      --member ID         group mode: this member's name, stable across its\n"
"                          restarts (HOSTNAME-HASH of the state file's path)\n"
"      --from-topic TOPIC  export: read the partial windows and markers of every\n"
"                          member from TOPIC (committed records), write every\n"
"                          window all input partitions have closed (not --state)\n"
"  -X KEY=VALUE            librdkafka consumer property (repeatable); -X dump\n"
"                          prints the configuration, -X list the properties\n"
"  -F FILE                 librdkafka properties, one KEY=VALUE a line (# comments)\n"
"  -q, --quiet             warnings, errors -v, --verbose   more detail\n"
"  -h, --help              this text        -V, --version   version\n"
"\n"
"Example:\n"
"  aggregator --brokers localhost:9092 --state btc.db --output output.csv \\\n"
"             --window 1m --watermark 2m\n"
"  sqlite3 btc.db 'SELECT * FROM window_aggregates ORDER BY window_start_us DESC LIMIT 5'\n"
"\n"
"Exit: 0 done, 1 Kafka/I-O failure that can pass (disk full), 2 usage,\n"
"      3 state file unusable, 4 output unwritable, 5 ticks lost in Kafka.\n";

#define CLI_DURATION_MAX_US (100LL * 366 * 86400 * 1000000)

static int cli_duration(const char *opt, const char *arg, int64_t *us, int allow_zero, char *err, size_t errlen)
{
	if (allow_zero && strcmp(arg, "0") == 0) {
		*us = 0;
		return 0;
	}
	if (duration_parse(arg, us) < 0 || *us < 0 || (!allow_zero && *us == 0)) {
		snprintf(err, errlen, "%s: '%s' is not a %sduration (like 30s, 1m, 2h, \"10 minutes\")",
		         opt, arg, allow_zero ? "" : "positive ");
		return -1;
	}
	/* Durations are added to clock and event times: keep every sum far
	 * inside int64 microseconds. */
	if (*us > CLI_DURATION_MAX_US) {
		snprintf(err, errlen, "%s: '%s' is too long (at most 100 years)", opt, arg);
		return -1;
	}
	return 0;
}

static int cli_count(const char *opt, const char *arg, int *n, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v <= 0 || v > INT_MAX) {
		snprintf(err, errlen, "%s: '%s' is not a positive count", opt, arg);
		return -1;
	}
	*n = (int)v;
	return 0;
}

static int cli_prop(struct agg_config *c, const char *arg, char *err, size_t errlen)
{
	char *eq;
	if (c->nprops == CLI_MAX_PROPS) {
		snprintf(err, errlen, "-X: at most %d properties", CLI_MAX_PROPS);
		return -1;
	}
	char *copy = strdup(arg);
	if (!copy || !(eq = strchr(copy, '=')) || eq == copy) {
		free(copy);
		snprintf(err, errlen, "-X: expected key=value, got '%s'", arg);
		return -1;
	}
	*eq = '\0';
	c->prop_buf[c->nprops] = copy;
	c->props[c->nprops][0] = copy;
	c->props[c->nprops][1] = eq + 1;
	c->nprops++;
	return 0;
}

/* -F: one property of the file, as -X key=value. */
static int cli_file_prop(const char *key, const char *value, void *arg, char *err, size_t errlen)
{
	struct agg_config *c = arg;
	size_t n = strlen(key) + strlen(value) + 2;
	char *kv = malloc(n);
	if (!kv) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(kv, n, "%s=%s", key, value);
	int r = cli_prop(c, kv, err, errlen);
	free(kv);
	return r;
}

/* --start-at earliest | latest | 2023-04-24T15:00:00Z | -DUR (that long ago) */
static int cli_start_at(struct agg_config *c, const char *arg, char *err, size_t errlen)
{
	int64_t us;

	if (!strcmp(arg, "earliest")) {
		c->start_at_ms = -2;
	} else if (!strcmp(arg, "latest")) {
		c->start_at_ms = -1;
	} else if (arg[0] == '-' && duration_parse(arg + 1, &us) == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		c->start_at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - us / 1000;
		if (c->start_at_ms < 0)
			c->start_at_ms = 0; /* before the epoch: from the first message */
	} else if (tick_parse_time(arg, strlen(arg), &us) == 0 && us >= 0) {
		c->start_at_ms = us / 1000;
	} else {
		snprintf(err, errlen, "--start-at: earliest, latest, a UTC time (2023-04-24T15:00:00Z) or -DURATION "
		         "(-1d: a day ago), not '%s'", arg);
		return -1;
	}
	return 0;
}

static int cli_topics(struct agg_config *c, const char *spec, char *err, size_t errlen)
{
	free(c->topics_spec);
	c->topics_arg = spec;
	c->topics_spec = strdup(spec);
	c->ntopics = 0;
	if (!c->topics_spec)
		return -1;
	for (char *save = NULL, *t = strtok_r(c->topics_spec, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (c->ntopics == CLI_MAX_TOPICS) {
			snprintf(err, errlen, "--topics: at most %d topics", CLI_MAX_TOPICS);
			return -1;
		}
		c->topics[c->ntopics++] = t;
	}
	if (c->ntopics == 0) {
		snprintf(err, errlen, "--topics: no topic given");
		return -1;
	}
	return 0;
}

/* Group mode (--output-topic): several members in one group, so it
 * subscribes and runs until stopped; names what it needs. */
static int cli_group_mode(struct agg_config *c, char *err, size_t errlen)
{
	if (!c->batch_max)
		c->batch_max = c->output_topic ? 100000 : 20000;
	if (!c->output_topic) {
		if (c->changelog_topic || c->member) {
			snprintf(err, errlen, "--changelog and --member need --output-topic (group mode)");
			return -1;
		}
		return 0;
	}
	if (c->assign || c->available_now) {
		snprintf(err, errlen, "--output-topic (group mode) shares partitions among the group's members: "
		         "not with %s", c->available_now ? "--available-now" : "--assign");
		return -1;
	}
	if (!c->changelog_topic) {
		snprintf(c->changelog_buf, sizeof(c->changelog_buf), "%s-changelog", c->group);
		c->changelog_topic = c->changelog_buf;
	}
	if (!c->member) {
		/* Stable across restarts of the same member (its transactional.id
		 * fences the previous incarnation), distinct between state files. */
		char host[64] = "host", abs[4096];
		const char *path = realpath(c->state_path, abs) ? abs : c->state_path;
		gethostname(host, sizeof(host) - 1);
		host[sizeof(host) - 1] = '\0';
		snprintf(c->member_buf, sizeof(c->member_buf), "%s-%08x", host, fnv1a(path));
		c->member = c->member_buf;
	}
	return 0;
}

int cli_parse(int argc, char **argv, struct agg_config *c, char *err, size_t errlen)
{
	enum { O_SLIDE = 256, O_WM, O_IDLE, O_SKEW, O_COLS, O_NOW, O_BMAX, O_BTIME, O_PROG, O_PJSON, O_ASSIGN, O_CACHE,
	       O_LOSS, O_SUB, O_START, O_JSON, O_METRICS, O_OUTTOPIC, O_CHANGELOG, O_MEMBER, O_FROM };
	static const struct option opts[] = {
		{ "brokers", required_argument, NULL, 'b' },
		{ "group", required_argument, NULL, 'g' },
		{ "topics", required_argument, NULL, 't' },
		{ "state", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "window", required_argument, NULL, 'w' },
		{ "slide", required_argument, NULL, O_SLIDE },
		{ "watermark", required_argument, NULL, O_WM },
		{ "idle-timeout", required_argument, NULL, O_IDLE },
		{ "max-skew", required_argument, NULL, O_SKEW },
		{ "columns", required_argument, NULL, O_COLS },
		{ "available-now", no_argument, NULL, O_NOW },
		{ "assign", no_argument, NULL, O_ASSIGN },
		{ "batch-max", required_argument, NULL, O_BMAX },
		{ "batch-time", required_argument, NULL, O_BTIME },
		{ "progress-interval", required_argument, NULL, O_PROG },
		{ "progress-json", no_argument, NULL, O_PJSON },
		{ "cache-windows", required_argument, NULL, O_CACHE },
		{ "on-data-loss", required_argument, NULL, O_LOSS },
		{ "subscribe", no_argument, NULL, O_SUB },
		{ "start-at", required_argument, NULL, O_START },
		{ "json", no_argument, NULL, O_JSON },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "output-topic", required_argument, NULL, O_OUTTOPIC },
		{ "changelog", required_argument, NULL, O_CHANGELOG },
		{ "member", required_argument, NULL, O_MEMBER },
		{ "from-topic", required_argument, NULL, O_FROM },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = getenv("KAFKA_BROKERS");
	int64_t slide = 0;
	int opt, cols[EXPORT_MAX_COLS], ncols;

	memset(c, 0, sizeof(*c));
	c->cmd = CLI_RUN;
	c->brokers = env && *env ? env : "localhost:9092";
	c->brokers_given = env && *env;
	c->group = "aggregator";
	c->state_path = "aggregator.db";
	c->output_path = "output.csv";
	c->columns = EXPORT_COLUMNS_DEFAULT;
	c->window_us = 60000000;
	c->delay_us = 120000000;
	c->idle_timeout_us = 30000000;
	c->max_skew_us = 3600000000LL;
	c->batch_max = 0; /* 20000, group mode 100000 (cli_group_mode) */
	c->batch_us = 100000;
	c->cache_windows = 16384;
	c->progress_us = 5000000;
	c->verbosity = LOG_INFO;
	c->start_at_ms = INT64_MIN;
	if (cli_topics(c, "BTC-USD,ETH-USD", err, errlen) < 0)
		return -1;

	if (argc > 1 && (strcmp(argv[1], "export") == 0 || strcmp(argv[1], "status") == 0)) {
		c->cmd = strcmp(argv[1], "export") == 0 ? CLI_EXPORT : CLI_STATUS;
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "b:g:t:s:o:w:X:F:qvhV", opts, NULL)) != -1) {
		int r = 0;
		switch (opt) {
		case 'b': c->brokers = optarg; c->brokers_given = 1; break;
		case 'g': c->group = optarg; break;
		case 't': r = cli_topics(c, optarg, err, errlen); break;
		case 's': c->state_path = optarg; c->state_given = 1; break;
		case 'o': c->output_path = optarg; break;
		case 'w': r = cli_duration("--window", optarg, &c->window_us, 0, err, errlen); break;
		case O_SLIDE: r = cli_duration("--slide", optarg, &slide, 0, err, errlen); break;
		case O_WM: r = cli_duration("--watermark", optarg, &c->delay_us, 1, err, errlen); break;
		case O_IDLE: r = cli_duration("--idle-timeout", optarg, &c->idle_timeout_us, 1, err, errlen); break;
		case O_SKEW: r = cli_duration("--max-skew", optarg, &c->max_skew_us, 0, err, errlen); break;
		case O_COLS:
			c->columns = !strcmp(optarg, "lab") ? EXPORT_COLUMNS_LAB : !strcmp(optarg, "all") ?
			             EXPORT_COLUMNS_DEFAULT : optarg;
			break;
		case O_NOW: c->available_now = 1; break;
		case O_ASSIGN: c->assign = 1; break;
		case O_SUB: c->subscribe = 1; break;
		case O_START: r = cli_start_at(c, optarg, err, errlen); break;
		case O_JSON: c->status_json = 1; break;
		case O_METRICS: c->metrics_addr = optarg; break;
		case O_OUTTOPIC: c->output_topic = optarg; break;
		case O_CHANGELOG: c->changelog_topic = optarg; break;
		case O_MEMBER: c->member = optarg; break;
		case O_FROM: c->from_topic = optarg; break;
		case O_BMAX: r = cli_count("--batch-max", optarg, &c->batch_max, err, errlen); break;
		case O_BTIME: r = cli_duration("--batch-time", optarg, &c->batch_us, 0, err, errlen); break;
		case O_PROG: r = cli_duration("--progress-interval", optarg, &c->progress_us, 1, err, errlen); break;
		case O_PJSON: c->progress_json = 1; break;
		case O_CACHE: r = cli_count("--cache-windows", optarg, &c->cache_windows, err, errlen); break;
		case O_LOSS:
			if (strcmp(optarg, "fail") && strcmp(optarg, "skip")) {
				snprintf(err, errlen, "--on-data-loss: fail or skip, not '%s'", optarg);
				r = -1;
			}
			c->data_loss_skip = !strcmp(optarg, "skip");
			break;
		case 'X':
			if (!strcmp(optarg, "list")) {
				rd_kafka_conf_properties_show(stdout);
				return 1;
			}
			if (!strcmp(optarg, "dump"))
				c->dump_conf = 1;
			else
				r = cli_prop(c, optarg, err, errlen);
			break;
		case 'F': r = props_read(optarg, cli_file_prop, c, err, errlen); break;
		case 'q': c->verbosity = LOG_WARN; break;
		case 'v': c->verbosity++; break;
		case 'h': fputs(cli_usage, stdout); return 1;
		case 'V':
			printf("aggregator %s (librdkafka %s, SQLite %s)\n", PIPELINE_VERSION, rd_kafka_version_str(),
			       sqlite3_libversion());
			return 1;
		default:
			snprintf(err, errlen, "try 'aggregator --help'");
			return -1;
		}
		if (r < 0)
			return -1;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (try 'aggregator --help')", argv[optind]);
		return -1;
	}
	/* export reads either a state file or an output topic, never both. */
	if (c->from_topic && c->cmd != CLI_EXPORT) {
		snprintf(err, errlen, "--from-topic is an option of 'aggregator export' only");
		return -1;
	}
	if (c->from_topic && c->state_given) {
		snprintf(err, errlen, "export: --from-topic and --state exclude each other (export from a topic, "
		         "or from a state file)");
		return -1;
	}
	if (c->from_topic && !*c->from_topic) {
		snprintf(err, errlen, "--from-topic: no topic given");
		return -1;
	}
	c->slide_us = slide ? slide : c->window_us;
	if (c->slide_us > c->window_us) {
		snprintf(err, errlen, "--slide must not be longer than --window");
		return -1;
	}
	if (c->window_us / c->slide_us > WIN_MAX_PER_TICK) {
		snprintf(err, errlen, "--window / --slide must be at most %d windows per tick", WIN_MAX_PER_TICK);
		return -1;
	}
	if (export_parse_columns(c->columns, cols, &ncols, err, errlen) < 0)
		return -1;
	/* A bounded run reads what is there without joining the group (as
	 * Spark's AvailableNow): no wait for a new group's first assignment
	 * (3 s on a broker with Kafka's group.initial.rebalance.delay.ms).  Its
	 * offsets still go to the group at the end.  --subscribe joins it;
	 * patterns can only be subscribed to. */
	int pattern = 0;
	for (int i = 0; i < c->ntopics; i++)
		pattern |= c->topics[i][0] == '^';
	if (c->available_now && !c->subscribe && !pattern)
		c->assign = 1;
	return cli_group_mode(c, err, errlen);
}

void cli_free(struct agg_config *c)
{
	free(c->topics_spec);
	for (int i = 0; i < c->nprops; i++)
		free(c->prop_buf[i]);
	c->topics_spec = NULL;
	c->nprops = 0;
}

/*
 * cli.c - the aggregator's command line (see cli.h).
 */
#include "cli.h"

#include "args.h"
#include "duration.h"
#include "log.h"
#include "tick.h"

#include <getopt.h>
#include <stddef.h>
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

/* Which command an option belongs to (args_opt.only; 0: every one). */
#define CLI_M_RUN 1u
#define CLI_M_EXPORT 2u
#define CLI_M_STATUS 4u
#define CLI_M_SERVE 8u

/* --help of each command: what comes before its options and after them
 * (each option's own lines are in cli_opts, beside it). */
static const char cli_usage_head[] =
"Usage: aggregator [OPTIONS]          consume ticks, keep windows, append output.csv\n"
"       aggregator export [OPTIONS]   rewrite the CSV from a state file or an output topic\n"
"       aggregator status [OPTIONS]   where a state file is (read-only, safe while it runs)\n"
"       aggregator serve [OPTIONS]    the live page over a state file, read-only\n"
"       (aggregator export --help, status --help, serve --help: their options)\n"
"\n"
"Event-time windows over Coinbase ticker messages from Kafka, kept exactly-once in\n"
"a SQLite state file; windows the watermark closed are appended once to the CSV.\n"
"\n";
static const char cli_usage_tail[] =
"\n"
"Example:\n"
"  aggregator --brokers localhost:9092 --state btc.db --output output.csv \\\n"
"             --window 1m --watermark 2m\n"
"  sqlite3 btc.db 'SELECT * FROM window_aggregates ORDER BY window_start_us DESC LIMIT 5'\n"
"\n"
"Exit: 0 done, 1 Kafka/I-O failure that can pass (disk full), 2 usage,\n"
"      3 state file unusable, 4 output unwritable, 5 ticks lost in Kafka,\n"
"      6 the host's clock behind the ticks by more than --max-skew.\n";
static const char cli_export_head[] =
"Usage: aggregator export [--state FILE] [--output FILE] [--rotate daily] [--columns LIST]\n"
"       aggregator export --from-topic TOPIC [--output FILE] [-b BROKERS] [-X k=v] [-F FILE]\n"
"                         [--columns LIST] [--ignore-topic LIST] [--stalled-after DUR]\n"
"\n"
"Rewrites the whole CSV (atomically) with every window the state file exported, or\n"
"(group mode) every window all input partitions have closed in TOPIC. The state is\n"
"opened read-only: safe while the aggregator runs. --output - writes to stdout.\n"
"\n";
static const char cli_export_tail[] =
"\n"
"Exit: 0 written, 1 no broker / nothing came (--from-topic), 2 usage, 3 state file\n"
"      unusable, 4 output unwritable, 5 the CSV holds rows the topic no longer has.\n";
static const char cli_status_head[] =
"Usage: aggregator status [--state FILE] [-b BROKERS] [-g GROUP] [--json]\n"
"\n"
"Where a state file is, read-only (safe while the aggregator runs): per partition\n"
"the state's offset and event time, with -b (or KAFKA_BROKERS) also the group's\n"
"committed offset, the log's start and end and the lag; above it the watermark,\n"
"the open windows, the newest event time, what holds the watermark back.\n"
"-g defaults to the group the state records (the one its aggregator ran in).\n"
"\n";
static const char cli_status_tail[] =
"\n"
"Exit: 0 shown, 2 usage, 3 state file unusable.\n";
static const char cli_serve_head[] =
"Usage: aggregator serve [--state FILE] [--http HOST:PORT]\n"
"\n"
"The live page (docs/live-page.md) over a state file alone, read-only: no Kafka,\n"
"nothing written; yesterday's file can be browsed too.  Stops on SIGINT/SIGTERM.\n"
"\n";
static const char cli_serve_tail[] =
"\n"
"Exit: 0 stopped, 2 usage, 3 state file unusable or missing.\n";

static int cli_brokers(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct agg_config *c = cfg;
	(void)err, (void)errlen;
	c->brokers = arg;
	c->brokers_given = 1;
	return 0;
}

static int cli_state(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct agg_config *c = cfg;
	(void)err, (void)errlen;
	c->state_path = arg;
	c->state_given = 1;
	return 0;
}

static int cli_output(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct agg_config *c = cfg;
	(void)err, (void)errlen;
	c->output_path = arg;
	c->output_given = 1;
	return 0;
}

static int cli_group(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct agg_config *c = cfg;
	(void)err, (void)errlen;
	c->group = arg;
	c->group_given = 1;
	return 0;
}

static int cli_columns(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct agg_config *c = cfg;
	(void)err, (void)errlen;
	c->columns = !strcmp(arg, "lab")       ? EXPORT_COLUMNS_LAB
	           : !strcmp(arg, "candles") ? EXPORT_COLUMNS_CANDLES
	           : !strcmp(arg, "all")     ? EXPORT_COLUMNS_ALL : arg;
	return 0;
}

static int cli_data_loss(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct agg_config *c = cfg;
	if (strcmp(arg, "fail") && strcmp(arg, "skip")) {
		snprintf(err, errlen, "--on-data-loss: fail or skip, not '%s'", arg);
		return -1;
	}
	c->data_loss_skip = !strcmp(arg, "skip");
	return 0;
}

static int cli_rotate(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct agg_config *c = cfg;
	if (strcmp(arg, "daily") && strcmp(arg, "none")) {
		snprintf(err, errlen, "--rotate: daily or none, not '%s'", arg);
		return -1;
	}
	c->rotate_daily = !strcmp(arg, "daily");
	return 0;
}

/* -X: a consumer property, or kcat's words dump and list. */
static int cli_x(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct agg_config *c = cfg;
	int r = args_x(&c->props, arg, err, errlen);
	if (r == ARGS_X_LIST) {
		rd_kafka_conf_properties_show(stdout);
		return 1;
	}
	if (r == ARGS_X_DUMP)
		c->dump_conf = 1;
	return r < 0 ? -1 : 0;
}

static int cli_f(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct agg_config *c = cfg;
	return args_f(&c->props, arg, err, errlen);
}

static int cli_quiet(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct agg_config *c = cfg;
	(void)arg, (void)err, (void)errlen;
	c->verbosity = LOG_WARN;
	return 0;
}

static int cli_verbose(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct agg_config *c = cfg;
	(void)arg, (void)err, (void)errlen;
	c->verbosity++;
	return 0;
}

static int cli_log_time(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct agg_config *c = cfg;
	if ((c->log_time = log_time_parse(arg)) < 0) {
		snprintf(err, errlen, "--log-time: auto, always or never, not '%s'", arg);
		return -1;
	}
	return 0;
}

static int cli_version(void *cfg, const char *arg, char *err, size_t errlen)
{
	(void)cfg, (void)arg, (void)err, (void)errlen;
	printf("aggregator %s (librdkafka %s, SQLite %s)\n", PIPELINE_VERSION, rd_kafka_version_str(),
	       sqlite3_libversion());
	return 1;
}

/* --start-at earliest | latest | 2023-04-24T15:00:00Z | -DUR (that long ago) */
static int cli_start_at(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct agg_config *c = cfg;
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

/* --topics: split into topics[] (a copy; the default is no argv string). */
static int cli_topics(void *cfg, const char *spec, char *err, size_t errlen)
{
	struct agg_config *c = cfg;
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
	/* The group's CSV is export --from-topic's: a member writes none, and an
	 * -o it took and ignored let one look for rows that never came. */
	if (c->output_given) {
		snprintf(err, errlen, "-o/--output is the local CSV: group mode (--output-topic) writes none; "
		         "'aggregator export --from-topic %s --output FILE' writes the group's", c->output_topic);
		return -1;
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
	/* --member's default is made and kept in the state file (member.h). */
	return 0;
}

#define CLI_AT(field) offsetof(struct agg_config, field)

/* The options: getopt's table, their checks and --help come from here. */
static const struct args_opt cli_opts[] = {
	{ .name = "brokers", .key = 'b', .kind = ARGS_FN, .fn = cli_brokers,
	  .help = "  -b, --brokers LIST      Kafka bootstrap servers (env KAFKA_BROKERS; localhost:9092)\n" },
	{ .name = "group", .only = CLI_M_RUN | CLI_M_STATUS, .key = 'g', .kind = ARGS_FN, .fn = cli_group,
	  .help = "  -g, --group ID          consumer group (aggregator)\n" },
	{ .name = "topics", .only = CLI_M_RUN, .key = 't', .kind = ARGS_FN, .fn = cli_topics,
	  .help = "  -t, --topics LIST       topics, comma-separated; ^regex subscribes by pattern\n"
	          "                          (BTC-USD,ETH-USD)\n" },
	{ .name = "state", .key = 's', .kind = ARGS_FN, .fn = cli_state,
	  .help = "  -s, --state FILE        SQLite state file (aggregator.db)\n" },
	{ .name = "output", .only = CLI_M_RUN | CLI_M_EXPORT, .key = 'o', .kind = ARGS_FN, .fn = cli_output,
	  .help = "  -o, --output FILE       CSV of closed windows (output.csv)\n" },
	{ .name = "window", .only = CLI_M_RUN, .key = 'w', .kind = ARGS_DURATION, .off = CLI_AT(window_us),
	  .help = "  -w, --window DUR        window length (1m); DUR: 500ms, 30s, 1m, 2h, \"10 minutes\"\n" },
	{ .name = "slide", .only = CLI_M_RUN, .kind = ARGS_DURATION, .off = CLI_AT(slide_us),
	  .help = "      --slide DUR         slide for sliding windows (= window: tumbling)\n" },
	{ .name = "watermark", .only = CLI_M_RUN, .kind = ARGS_DURATION0, .off = CLI_AT(delay_us),
	  .help = "      --watermark DUR     event-time delay before a window closes (2m)\n" },
	{ .name = "idle-timeout", .only = CLI_M_RUN, .kind = ARGS_DURATION0, .off = CLI_AT(idle_timeout_us),
	  .help = "      --idle-timeout DUR  a partition at its end this long holds the watermark\n"
	          "                          only at what the others delivered that long ago (30s)\n" },
	{ .name = "max-skew", .only = CLI_M_RUN, .kind = ARGS_DURATION, .off = CLI_AT(max_skew_us),
	  .help = "      --max-skew DUR      reject ticks this far ahead of their partition (1h)\n" },
	{ .name = "columns", .only = CLI_M_RUN | CLI_M_EXPORT, .kind = ARGS_FN, .fn = cli_columns,
	  .help = "      --columns LIST      CSV columns and order, or a preset: lab (window_start,\n"
	          "                          product_id and the lab's five), candles (OHLCV, vwap,\n"
	          "                          ticks), all (every column); default: the eight of\n"
	          "                          window_start,window_end,product_id and the lab's five\n" },
	{ .name = "rotate", .only = CLI_M_RUN | CLI_M_EXPORT, .kind = ARGS_FN, .fn = cli_rotate,
	  .help = "      --rotate daily      one CSV per UTC day of the windows' start,\n"
	          "                          OUTPUT-YYYY-MM-DD.csv (also for export)\n" },
	{ .name = "retain", .only = CLI_M_RUN, .kind = ARGS_DURATION, .off = CLI_AT(retain_us),
	  .help = "      --retain DUR        drop closed windows that start more than DUR (whole\n"
	          "                          UTC days) before the watermark from the state; they\n"
	          "                          stay in the day files (needs --rotate daily)\n" },
	{ .name = "start-at", .only = CLI_M_RUN, .kind = ARGS_FN, .fn = cli_start_at,
	  .help = "      --start-at WHEN     where partitions new to the state start: earliest,\n"
	          "                          latest, a UTC time, or -DUR (that long ago); default:\n"
	          "                          the group's offset, else auto.offset.reset\n" },
	{ .name = "available-now", .only = CLI_M_RUN, .kind = ARGS_FLAG, .off = CLI_AT(available_now),
	  .help = "      --available-now     process what the topics hold now, export, exit 0;\n"
	          "                          reads every partition without joining the group\n"
	          "                          (--subscribe: join it), commits to it at the end\n" },
	{ .name = "subscribe", .only = CLI_M_RUN, .kind = ARGS_FLAG, .off = CLI_AT(subscribe),
	  .help = "      --subscribe         with --available-now: join the group instead\n" },
	{ .name = "assign", .only = CLI_M_RUN, .kind = ARGS_FLAG, .off = CLI_AT(assign),
	  .help = "      --assign            read every partition of --topics without joining the\n"
	          "                          group (one instance; no rebalance wait at restart)\n" },
	{ .name = "on-data-loss", .only = CLI_M_RUN, .kind = ARGS_FN, .fn = cli_data_loss,
	  .help = "      --on-data-loss WHAT fail (default): stop (exit 5) when ticks not yet read\n"
	          "                          are gone from Kafka (retention, topic recreated);\n"
	          "                          skip: go on, counting them in the state (data_loss)\n" },
	{ .name = "batch-max", .only = CLI_M_RUN, .kind = ARGS_COUNT, .off = CLI_AT(batch_max),
	  .help = "      --batch-max N       messages per transaction at most (20000; group\n"
	          "                          mode 100000: a Kafka transaction costs ~25 ms)\n" },
	{ .name = "batch-time", .only = CLI_M_RUN, .kind = ARGS_DURATION, .off = CLI_AT(batch_us),
	  .help = "      --batch-time DUR    a transaction at least this often (100ms)\n" },
	{ .name = "cache-windows", .only = CLI_M_RUN, .kind = ARGS_COUNT, .off = CLI_AT(cache_windows),
	  .help = "      --cache-windows N   open windows kept in memory beyond the ones not yet\n"
	          "                          stored; others are read back from the state (16384)\n" },
	{ .name = "progress-interval", .only = CLI_M_RUN, .kind = ARGS_DURATION0, .off = CLI_AT(progress_us),
	  .help = "      --progress-interval DUR  progress line period, 0 = off (5s)\n" },
	{ .name = "progress-json", .only = CLI_M_RUN, .kind = ARGS_FLAG, .off = CLI_AT(progress_json),
	  .help = "      --progress-json     progress as JSON lines on stdout\n" },
	{ .name = "http", .only = CLI_M_RUN | CLI_M_SERVE, .kind = ARGS_HOSTPORT, .off = CLI_AT(http_addr),
	  .help = "      --http HOST:PORT    the live page on http://HOST:PORT/, with /metrics\n"
	          "                          (Prometheus), /healthz, /api/windows, /api/open,\n"
	          "                          /events; read-only.  An empty HOST (:PORT) is\n"
	          "                          127.0.0.1: 0.0.0.0:PORT or [::]:PORT to be reached\n"
	          "                          from elsewhere (docs/live-page.md)\n" },
	{ .name = "metrics", .only = CLI_M_RUN | CLI_M_SERVE, .kind = ARGS_HOSTPORT, .off = CLI_AT(metrics_addr),
	  .help = "      --metrics HOST:PORT the same as --http\n" },
	{ .name = "output-topic", .only = CLI_M_RUN, .kind = ARGS_STR, .off = CLI_AT(output_topic),
	  .help = "      --output-topic TOPIC group mode: members of one --group share the\n"
	          "                          partitions; closed windows go to TOPIC, state to a\n"
	          "                          changelog, offsets with them, in Kafka transactions\n"
	          "                          (aggregator export --from-topic TOPIC makes the CSV)\n" },
	{ .name = "changelog", .only = CLI_M_RUN, .kind = ARGS_STR, .off = CLI_AT(changelog_topic),
	  .help = "      --changelog TOPIC   group mode's compacted state topic (GROUP-changelog)\n" },
	{ .name = "member", .only = CLI_M_RUN, .kind = ARGS_STR, .off = CLI_AT(member),
	  .help = "      --member ID         group mode: this member's name, stable across its\n"
	          "                          restarts (made once: HOSTNAME-RANDOM, kept in the\n"
	          "                          state file)\n" },
	{ .name = "from-topic", .only = CLI_M_EXPORT, .kind = ARGS_STR, .off = CLI_AT(from_topic),
	  .help = "      --from-topic TOPIC  export: read the partial windows and markers of every\n"
	          "                          member from TOPIC (committed records), write every\n"
	          "                          window all input partitions have closed (not --state)\n" },
	{ .name = "ignore-topic", .only = CLI_M_EXPORT, .kind = ARGS_STR, .off = CLI_AT(ignore_topics),
	  .help = "      --ignore-topic LIST export --from-topic: leave these input topics out\n"
	          "                          (comma-separated; one the group no longer reads)\n" },
	{ .name = "stalled-after", .only = CLI_M_EXPORT, .kind = ARGS_DURATION, .off = CLI_AT(stalled_us),
	  .help = "      --stalled-after DUR export --from-topic: warn of a partition whose marker\n"
	          "                          is this much older than the newest one (5m)\n" },
	{ .name = "json", .only = CLI_M_STATUS, .kind = ARGS_FLAG, .off = CLI_AT(status_json),
	  .help = "      --json              the same as one JSON object on stdout\n" },
	{ .key = 'X', .kind = ARGS_FN, .fn = cli_x,
	  .help = "  -X KEY=VALUE            librdkafka consumer property (repeatable); -X dump\n"
	          "                          prints the configuration, -X list the properties\n" },
	{ .key = 'F', .kind = ARGS_FN, .fn = cli_f,
	  .help = "  -F FILE                 librdkafka properties, one KEY=VALUE a line (# comments)\n" },
	{ .name = "quiet", .key = 'q', .kind = ARGS_FN_NOARG, .fn = cli_quiet,
	  .help = "  -q, --quiet             warnings and errors only\n" },
	{ .name = "verbose", .key = 'v', .kind = ARGS_FN_NOARG, .fn = cli_verbose,
	  .help = "  -v, --verbose           more detail\n" },
	{ .name = "log-time", .kind = ARGS_FN, .fn = cli_log_time,
	  .help = "      --log-time WHEN     log lines start with their UTC time: auto (when\n"
	          "                          stderr is not a terminal nor the journal), always, never\n" },
	{ .name = "help", .key = 'h', .kind = ARGS_HELP,
	  .help = "  -h, --help              this text\n" },
	{ .name = "version", .key = 'V', .kind = ARGS_FN_NOARG, .fn = cli_version,
	  .help = "  -V, --version           the version, librdkafka's and SQLite's\n" },
};

#define CLI_NOPTS (sizeof(cli_opts) / sizeof(cli_opts[0]))
/* One spec per command, over the one table: a command takes, and its --help
 * lists, only its own options. */
static const struct args_spec cli_specs[] = {
	[CLI_RUN] = { "aggregator", cli_usage_head, cli_opts, CLI_NOPTS, cli_usage_tail, CLI_M_RUN, "aggregator" },
	[CLI_EXPORT] = { "aggregator", cli_export_head, cli_opts, CLI_NOPTS, cli_export_tail, CLI_M_EXPORT,
	                 "aggregator export" },
	[CLI_STATUS] = { "aggregator", cli_status_head, cli_opts, CLI_NOPTS, cli_status_tail, CLI_M_STATUS,
	                 "aggregator status" },
	[CLI_SERVE] = { "aggregator", cli_serve_head, cli_opts, CLI_NOPTS, cli_serve_tail, CLI_M_SERVE,
	                "aggregator serve" },
};

/* The defaults every option starts from. */
static int cli_defaults(struct agg_config *c, char *err, size_t errlen)
{
	const char *env = getenv("KAFKA_BROKERS");

	memset(c, 0, sizeof(*c));
	c->cmd = CLI_RUN;
	c->brokers = env && *env ? env : "localhost:9092";
	c->brokers_given = env && *env;
	c->group = "aggregator";
	c->state_path = "aggregator.db";
	c->output_path = "output.csv";
	c->columns = EXPORT_COLUMNS_DEFAULT;
	c->window_us = 60000000;
	c->slide_us = 0; /* = window_us (cli_check) */
	c->delay_us = 120000000;
	c->idle_timeout_us = 30000000;
	c->stalled_us = 300000000;
	c->max_skew_us = 3600000000LL;
	c->batch_max = 0; /* 20000, group mode 100000 (cli_group_mode) */
	c->batch_us = 100000;
	c->cache_windows = 16384;
	c->progress_us = 5000000;
	c->verbosity = LOG_INFO;
	c->log_time = LOG_TIME_AUTO;
	c->start_at_ms = INT64_MIN;
	return cli_topics(c, "BTC-USD,ETH-USD", err, errlen);
}

/* --rotate and --retain: the local CSV's.  Retention needs day files: a
 * missing or cut single CSV is rebuilt from the state, which could not give
 * back the rows it dropped; only the current day's file is ever rebuilt, and
 * retention keeps that day. */
static int cli_rotation(const struct agg_config *c, char *err, size_t errlen)
{
	if (c->output_topic && (c->rotate_daily || c->retain_us)) {
		snprintf(err, errlen, "--rotate and --retain are for the local CSV: not with --output-topic (group mode)");
		return -1;
	}
	if (c->retain_us && c->cmd != CLI_RUN) {
		snprintf(err, errlen, "--retain is an option of the run only");
		return -1;
	}
	if (c->retain_us && !c->rotate_daily) {
		snprintf(err, errlen, "--retain needs --rotate daily: a single CSV that went missing could not be "
		         "rebuilt from a state that dropped its windows; day files are rebuilt only for the current day, "
		         "which the state keeps");
		return -1;
	}
	return 0;
}

/* What the options mean together, once all are read. */
static int cli_check(struct agg_config *c, char *err, size_t errlen)
{
	int cols[EXPORT_MAX_COLS], ncols;

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
	if (c->ignore_topics && !c->from_topic) {
		snprintf(err, errlen, "--ignore-topic is an option of 'aggregator export --from-topic' only");
		return -1;
	}
	if (c->from_topic && !*c->from_topic) {
		snprintf(err, errlen, "--from-topic: no topic given");
		return -1;
	}
	if (!c->slide_us)
		c->slide_us = c->window_us;
	if (c->slide_us > c->window_us) {
		snprintf(err, errlen, "--slide must not be longer than --window");
		return -1;
	}
	if (c->window_us / c->slide_us > WIN_MAX_PER_TICK) {
		snprintf(err, errlen, "--window / --slide must be at most %d windows per tick", WIN_MAX_PER_TICK);
		return -1;
	}
	/* The run appends to its CSV and rebuilds it after a crash: stdout can
	 * be neither (export's --output - is, cmd_export.c). */
	if (c->cmd == CLI_RUN && !strcmp(c->output_path, "-")) {
		snprintf(err, errlen, "--output -: the run appends to its CSV and rebuilds it after a crash, which stdout "
		         "cannot be; 'aggregator export --output -' prints the CSV");
		return -1;
	}
	if (export_parse_columns(c->columns, cols, &ncols, err, errlen) < 0)
		return -1;
	if (cli_rotation(c, err, errlen) < 0)
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

int cli_parse(int argc, char **argv, struct agg_config *c, char *err, size_t errlen)
{
	int r;

	if (cli_defaults(c, err, errlen) < 0)
		return -1;
	if (argc > 1 && (!strcmp(argv[1], "export") || !strcmp(argv[1], "status") || !strcmp(argv[1], "serve"))) {
		c->cmd = !strcmp(argv[1], "export") ? CLI_EXPORT : !strcmp(argv[1], "status") ? CLI_STATUS : CLI_SERVE;
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	r = args_parse(&cli_specs[c->cmd], argc, argv, c, err, errlen);
	if (r)
		return r;
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (try '%s --help')", argv[optind],
		         cli_specs[c->cmd].help_cmd);
		return -1;
	}
	return cli_check(c, err, errlen);
}

void cli_free(struct agg_config *c)
{
	free(c->topics_spec);
	c->topics_spec = NULL;
	args_props_free(&c->props);
}

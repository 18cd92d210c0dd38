/*
 * config.h - what the aggregator is asked to do: the configuration its
 * command line (cli.c) fills in and every part reads, and its exit codes.
 * Kept apart from the parser, so that reading the settings does not mean
 * depending on how they were parsed.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "args.h"

#define CLI_MAX_TOPICS 64

enum cli_cmd { CLI_RUN, CLI_EXPORT, CLI_STATUS, CLI_SERVE };

struct agg_config {
	enum cli_cmd cmd;
	const char *brokers;        /* --brokers / KAFKA_BROKERS */
	int brokers_given;          /* -b or KAFKA_BROKERS (status asks Kafka only then) */
	int status_json;            /* status --json */
	const char *metrics_addr;   /* --metrics HOST:PORT (the old name of --http), NULL off */
	const char *http_addr;      /* --http HOST:PORT, NULL off (then --metrics, if given) */
	const char *group;          /* --group */
	const char *topics_arg;     /* --topics, as given */
	char *topics_spec;          /* owned copy, split in place into topics[] */
	const char *topics[CLI_MAX_TOPICS]; /* split topics_spec; "^..." is a regex */
	int ntopics;
	const char *state_path;     /* --state */
	int state_given;            /* --state was on the command line */
	const char *from_topic;     /* export --from-topic: the group's output topic, NULL: from --state */
	const char *ignore_topics;  /* export --ignore-topic LIST: input topics left out, NULL: none */
	int64_t stalled_us;         /* export --stalled-after: a marker this much older than the newest is stalled */
	const char *output_path;    /* --output */
	int output_given;           /* --output was on the command line */
	int group_given;            /* --group was on the command line */
	const char *columns;        /* --columns */
	int rotate_daily;           /* --rotate daily: one CSV per UTC day of the windows' start (rotate.h) */
	int64_t retain_us;          /* --retain: closed windows older than this leave the state, 0 never */
	int64_t window_us;          /* --window */
	int64_t slide_us;           /* --slide (== window_us: tumbling) */
	int64_t delay_us;           /* --watermark */
	int64_t idle_timeout_us;    /* --idle-timeout */
	int64_t max_skew_us;        /* --max-skew */
	int batch_max;              /* --batch-max messages */
	int64_t batch_us;           /* --batch-time */
	int cache_windows;          /* --cache-windows: open windows kept in memory */
	int64_t progress_us;        /* --progress-interval, 0 = off */
	int progress_json;          /* --progress-json */
	int available_now;          /* --available-now */
	int assign;                 /* --assign: all partitions, no group membership */
	int subscribe;              /* --subscribe: join the group even with --available-now */
	int data_loss_skip;         /* --on-data-loss=skip: go on past offsets gone from Kafka */
	int64_t start_at_ms;        /* --start-at: INT64_MIN (the group's offset), -2 earliest,
	                             * -1 latest, or a time (ms since the epoch) */
	int verbosity;              /* a log_level: LOG_WARN -q, LOG_INFO, LOG_DEBUG -v */
	int log_time;               /* --log-time: an enum log_time (log.h), auto */
	int dump_conf;              /* -X dump: print the consumer's configuration, exit */
	const char *output_topic;   /* --output-topic: group mode (txn.h), NULL off */
	const char *changelog_topic; /* --changelog (GROUP-changelog) */
	const char *member;         /* --member (HOST-HASH of the state's path) */
	char changelog_buf[256], member_buf[128];
	struct args_props props;    /* -X key=value and -F's, in order */
};

/* Exit codes of the aggregator. */
enum {
	AGG_EXIT_OK = 0,        /* finished (stopped by a signal, or --available-now done) */
	AGG_EXIT_RUNTIME = 1,   /* Kafka or I/O failure that can pass (disk full): restart later */
	AGG_EXIT_USAGE = 2,     /* bad command line */
	AGG_EXIT_STATE = 3,     /* state file unusable: locked, other schema/settings, corrupt, unwritable */
	AGG_EXIT_OUTPUT = 4,    /* output.csv unwritable */
	AGG_EXIT_DATA_LOSS = 5, /* ticks not yet read are gone from Kafka (--on-data-loss=fail) */
	AGG_EXIT_CLOCK = 6,     /* the host's clock is behind the ticks by more than --max-skew */
};

#endif

/*
 * consume.h - the Kafka side of the aggregator: a consumer in a group, the
 * rebalance protocol (eager or cooperative) and committing offsets, with the
 * engine told of every assignment and revocation.
 */
#ifndef CONSUME_H
#define CONSUME_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdint.h>

#include "config.h"

/* Called from inside rd_kafka_consumer_poll on a rebalance. on_assign may set
 * each partition's .offset (the state's next offset) before it is assigned;
 * on_revoke must settle the partitions' state before they are let go. */
#define CONSUME_FROM_GROUP ((void *)1)
#define CONSUME_FROM_RESET ((void *)2)
#define CONSUME_FROM_START ((void *)3)
#define CONSUME_START_GROUP INT64_MIN /* start_at: the group's offset, else auto.offset.reset */
struct consume_hooks {
	void *opaque;
	int verbosity; /* for consume's own log lines (a log_level) */
	/* Where a partition new to the state starts: CONSUME_START_GROUP, -2
	 * the log's start, -1 its end, or the first message at or after this
	 * time (ms since the epoch). */
	int64_t start_at;
	int (*on_assign)(void *opaque, rd_kafka_topic_partition_list_t *parts);
	void (*on_revoke)(void *opaque, const rd_kafka_topic_partition_list_t *parts, int lost);
	/* After on_assign, with the offsets each partition starts at: where the
	 * state had none, the group's committed offset (elem .opaque
	 * CONSUME_FROM_GROUP), or the log's start or end by auto.offset.reset
	 * (CONSUME_FROM_RESET) or by --start-at (CONSUME_FROM_START; logical
	 * when no message is that late), or still logical when they could not
	 * be asked. */
	void (*on_started)(void *opaque, const rd_kafka_topic_partition_list_t *parts);
	/* The result of an offset commit (served from rd_kafka_consumer_poll). */
	void (*on_commit)(void *opaque, rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t *offs);
	/* A client-level error (librdkafka's error_cb, served from
	 * rd_kafka_consumer_poll), after it is logged: __ALL_BROKERS_DOWN is
	 * how the consumer learns that no broker is reachable (it is never a
	 * message).  May be NULL. */
	void (*on_error)(void *opaque, rd_kafka_resp_err_t err, const char *reason);
	/* consume's own: subscribed (not --assign), the rebalance protocol is
	 * cooperative, and how many partitions the group assigned now. */
	int subscribed, coop, assigned;
};

/* Creates the consumer; it starts connecting at once, so the caller can open
 * its state meanwhile. hooks must outlive the handle. On failure NULL, err
 * set and *code AGG_EXIT_USAGE (a -X property refused) or AGG_EXIT_RUNTIME. */
/* librdkafka's log callback for a handle whose opaque is a consume_hooks
 * (its verbosity): the lines in our format. */
void consume_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);
rd_kafka_t *consume_new(const struct agg_config *cfg, struct consume_hooks *hooks,
                        int *code, char *err, size_t errlen);

/* The consumer's configuration built and thrown away: -X/-F checked by
 * librdkafka before anything is opened (status asks Kafka only after its
 * state). 0, or -1 with err (a usage error). */
int consume_check(const struct agg_config *cfg, char *err, size_t errlen);

/* -X dump: prints the consumer's configuration (ours, then -X/-F), as
 * librdkafka will have it. Returns an exit code, err set on failure. */
int consume_dump(const struct agg_config *cfg, char *err, size_t errlen);

/* Subscribes (group mode) or assigns every partition (--assign, offsets from
 * hooks->on_assign). 0, or -1 with err set; the caller destroys rk. */
int consume_start(rd_kafka_t *rk, const struct agg_config *cfg, struct consume_hooks *hooks,
                  char *err, size_t errlen);

/* --assign: partitions added to the topics since (a Metadata request, up to
 * 2 s) are assigned too, through the same hooks as at start.  Returns how
 * many, or -1 with err set. */
int consume_assign_added(rd_kafka_t *rk, const struct agg_config *cfg, struct consume_hooks *hooks,
                         char *err, size_t errlen);

/* Commits offsets (next offsets to read) to the group: async with wait_ms 0,
 * else waits up to wait_ms for the answer (RD_KAFKA_RESP_ERR__TIMED_OUT). */
rd_kafka_resp_err_t consume_commit(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *offsets, int wait_ms);
/* Whether the group's committed offsets (read back within wait_ms) are
 * want's: 1 yes, 0 no (or they could not be read). */
int consume_commit_holds(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *want, int wait_ms);

/* A thread that sends one watermark request at a time to a partition's
 * leader, which wakes librdkafka's broker thread (see engine.c's
 * eng_nudge_fetcher); the call blocks until the broker answers, which at the
 * start of a backlog over hundreds of partitions is behind their offset
 * lookups (~140 ms). */
struct consume_nudger {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	rd_kafka_t *rk;
	char topic[256];
	int32_t partition;
	int pending, busy, stop, running;
	int probe;           /* a reachability probe asked for */
	int64_t probe_ok;    /* monotonic us at which the last answered probe was sent, 0 none */
	int64_t probe_fail;  /* and the first failed one after it, 0 none */
};
int consume_nudger_start(struct consume_nudger *n, rd_kafka_t *rk); /* 0, or -1 */
/* Hands the thread a request unless one is still on its way. */
void consume_nudger_post(struct consume_nudger *n, const char *topic, int32_t partition);
/* Asks the thread for a Metadata request to any broker, answered within
 * CONSUME_PROBE_MS or failed: whether a broker answers at all (librdkafka's
 * __ALL_BROKERS_DOWN is not raised for every outage, and nothing says that a
 * broker is back while no message comes).  consume_nudger_probed: when
 * (monotonic us) the last answered probe was sent, and the first failed one
 * since (0: none). */
#define CONSUME_PROBE_MS 2000
void consume_nudger_probe(struct consume_nudger *n);
void consume_nudger_probed(struct consume_nudger *n, int64_t *ok, int64_t *failed);
void consume_nudger_stop(struct consume_nudger *n);

/* Leaves the group (revokes through the hooks) and destroys rk, waiting for
 * the group up to wait_ms. */
void consume_close(rd_kafka_t *rk, int wait_ms);

/* Where the group and the log are for one partition (aggregator status). */
struct consume_pos {
	const char *topic;     /* in */
	int32_t partition;     /* in */
	int64_t group_offset;  /* the group's committed offset, -1 unknown */
	int64_t log_start;     /* the log's ends, -1 unknown */
	int64_t log_end;
};
/* Asks Kafka (cfg's brokers and -X properties, as cfg->group without joining
 * it) for the group's committed offsets and the log's ends of p[0..n); what
 * cannot be had stays -1, with a warning logged. Never changes the group. */
void consume_positions(const struct agg_config *cfg, struct consume_pos *p, size_t n);

#endif

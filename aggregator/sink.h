/*
 * sink.h - where the engine's batch goes.
 *
 * The engine decides; a sink makes it durable.  A batch hands the sink, in
 * this order: begin, each window the batch touched, the windows to close,
 * each product and partition it changed (offsets, event time, counters),
 * then commit -- or abort, which undoes all of it.  After a commit the sink
 * tells the consumer group (committed).  Around batches the sink hears of
 * partitions assigned and revoked, of time passing, and of the end.
 *
 * Two sinks, as redis's ae.c has one small interface and a backend per
 * kernel (ae_epoll.c, ae_kqueue.c):
 *   sink_local.c  one aggregator: the SQLite transaction, closed windows
 *                 appended to output.csv, offsets to the group after COMMIT;
 *   sink_group.c  group mode (--output-topic): a Kafka transaction with the
 *                 changelog, the closed windows' partials, markers and the
 *                 offsets, then the SQLite transaction (txn.h).
 * Each returns 0, or -1 with err (or after eng_fatal, when it knows the exit
 * code better than "the state failed").
 */
#ifndef SINK_H
#define SINK_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct engine;
struct eng_part;
struct sink;

struct sink_ops {
	/* Once the state is open: what the sink writes to, opened. */
	int (*start)(struct sink *s);
	/* A tick of p in a window ending at or before this is late (WM_NONE: none is). */
	int64_t (*closed_until)(const struct sink *s, const struct eng_part *p);
	/* Between batches, nothing read: are there windows to write out all the same? */
	int (*due)(struct sink *s);

	int (*begin)(struct sink *s, char *err, size_t errlen);
	int (*window)(struct sink *s, const struct store_wkey *k, const struct win_agg *a, char *err, size_t errlen);
	/* The windows the batch closes, written out; *rows gets how many. */
	int (*close_windows)(struct sink *s, int64_t *rows, char *err, size_t errlen);
	int (*product)(struct sink *s, const struct eng_part *p, const struct store_product *pr, char *err,
	               size_t errlen);
	int (*partition)(struct sink *s, const struct eng_part *p, int64_t now, char *err, size_t errlen);
	int (*commit)(struct sink *s, char *err, size_t errlen);
	void (*abort)(struct sink *s);
	/* After a commit: the offsets to the group (sync: wait for its answer). */
	void (*committed)(struct sink *s, int sync);

	/* Partitions coming, before the engine reads their state (inside a
	 * state transaction).  Partitions going: the engine settles the batch
	 * first -- or, when they were lost (this member out of the group) and
	 * the sink cannot commit for them (commits_lost 0), forgets it -- then
	 * tells the sink, before it lets go of them. */
	int (*assign)(struct sink *s, const rd_kafka_topic_partition_list_t *parts);
	int (*commits_lost)(struct sink *s);
	void (*revoke)(struct sink *s, const rd_kafka_topic_partition_list_t *parts, int lost);
	/* Between batches (mono: now), and once at the end. */
	void (*idle)(struct sink *s, int64_t mono);
	void (*finish)(struct sink *s);
	void (*close)(struct sink *s);
};

struct sink {
	const struct sink_ops *ops;
	struct engine *e;
	const char *label;  /* what the progress report names: the CSV's path or the output topic */
	int label_topic;    /* label is a topic */
};

/* Made before the state is opened (the local sink checks its CSV against
 * the state file first): 0, or -1 after eng_fatal. */
int sink_local_open(struct engine *e, struct sink **out);
int sink_group_open(struct engine *e, struct sink **out);

#endif

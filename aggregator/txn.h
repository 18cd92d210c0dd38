/*
 * txn.h - group mode's Kafka side (--output-topic): several aggregators in one
 * consumer group, each owning some partitions, their state also in Kafka.
 *
 * Every batch is one Kafka transaction holding the changelog records of what
 * the batch changed (a compacted topic: partition state, products, open
 * windows; a window the output topic has is tombstoned), the partials of the
 * windows that closed and each partition's marker (to the output topic), and
 * the consumer's offsets (send_offsets_to_transaction, with the group's
 * generation: a member that lost its partitions cannot commit for them).  The
 * SQLite state commits after it: a crash in between leaves the state file
 * behind Kafka, which the next owner of the partition notices (its offset is
 * not the group's) and mends from the changelog (txn_restore).
 *
 * Record formats (text; keys tab-separated, values space-separated; doubles
 * in fmt_double's exact form; "-" for none):
 *   changelog  p\tTOPIC\tPART                   next_offset max_time rejected time_run time_run_max
 *                                                skew_run skew_first closed_until
 *              s\tTOPIC\tPART\tPRODUCT          ticks late duplicates max_sequence jump_seq jump_run
 *                                                back_seq back_run
 *              w\tTOPIC\tPART\tPRODUCT\tSTART\tEND  ticks sum_price sum_volume_24h max_time max_bid max_ask
 *   output     w\t... (the same)                  the window's partial from that partition, once
 *              c\tTOPIC\tPART                   closed_until partitions_of_topic: every partial of
 *                                                a window ending at or before closed_until is written
 */
#ifndef TXN_H
#define TXN_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

struct txn;

#define TXN_ABORTED (-1) /* the transaction was aborted: nothing of it is in Kafka */
#define TXN_FENCED  (-2) /* this member may not commit any more (fenced, lost its partitions, fatal) */

/* The transactional producer (transactional.id from --member), topics
 * created when missing (gtopics.h), a previous incarnation's transaction
 * aborted: 0, -1 or GTOPICS_REFUSED (a topic would delete what the group
 * needs), with err. */
int txn_open(struct txn **out, const struct agg_config *cfg, char *err, size_t errlen);
void txn_close(struct txn *t);

int txn_begin(struct txn *t, char *err, size_t errlen);
/* Changelog records of the state of (topic, partition); a NULL value is a tombstone. */
int txn_put_partition(struct txn *t, const char *topic, int32_t partition, const struct store_partition *p,
                      char *err, size_t errlen);
int txn_put_product(struct txn *t, const char *topic, int32_t partition, const struct store_product *pr,
                    char *err, size_t errlen);
int txn_put_window(struct txn *t, const struct store_wkey *k, const struct win_agg *a, char *err, size_t errlen);
/* A closed window: its partial to the output topic, its changelog record tombstoned. */
int txn_close_window(struct txn *t, const struct store_wkey *k, const struct win_agg *a, char *err, size_t errlen);
/* The output topic's marker of (topic, partition). */
int txn_marker(struct txn *t, const char *topic, int32_t partition, int64_t closed_until, int32_t topic_parts,
               char *err, size_t errlen);
/* The consumer's offsets into the transaction, then commit: 0, TXN_ABORTED
 * or TXN_FENCED, with err. */
int txn_commit(struct txn *t, rd_kafka_t *consumer, const rd_kafka_topic_partition_list_t *offsets,
               char *err, size_t errlen);
void txn_abort(struct txn *t);

/* Reads the changelog of (topic, partition) to its end (what is committed)
 * into the state's open transaction: what the file had of it goes first
 * (but the windows ending at or before the restored closed_until).  *found
 * says whether the changelog had the partition at all.  0, or -1 with err. */
int txn_restore(struct txn *t, struct store *st, const char *topic, int32_t partition, int *found,
                char *err, size_t errlen);

/* Partitions of topic (metadata), -1 when unknown. */
int32_t txn_topic_partitions(struct txn *t, const char *topic);

#endif

/*
 * status.h - `aggregator status`: where the state is, beside where Kafka and
 * the group are (kafka-consumer-groups --describe, with event time).
 * Read-only, safe while the aggregator runs.
 */
#ifndef STATUS_H
#define STATUS_H

struct agg_config;

/* Prints the status of cfg->state_path (a table, or JSON with --json);
 * asks Kafka (log ends, the group's offsets) when brokers were given.
 * Returns an exit code (AGG_EXIT_*). */
int status_command(const struct agg_config *cfg);

#endif

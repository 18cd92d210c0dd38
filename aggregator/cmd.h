/*
 * cmd.h - the aggregator's commands besides the run (engine_run): each reads
 * its settings (config.h) and wires the modules that do the work, so that
 * those modules need not know the command line; main.c dispatches to them.
 */
#ifndef CMD_H
#define CMD_H

#include <signal.h>

struct agg_config;

/* `aggregator export`: rewrites the CSV from the state file, or with
 * --from-topic from group mode's output topic (topicexport.h; stop ends that
 * read). Returns an exit code (AGG_EXIT_*). */
int cmd_export(const struct agg_config *cfg, volatile sig_atomic_t *stop);

/* `aggregator status`: where the state is, beside where Kafka and the group
 * are (kafka-consumer-groups --describe, with event time), as a table or as
 * JSON (--json); asks Kafka (the log's ends, the group's offsets) only when
 * brokers were given. Read-only, safe while the aggregator runs. Returns an
 * exit code (AGG_EXIT_*): AGG_EXIT_STATE when the state cannot be read
 * (missing, not ours, another schema version). */
int cmd_status(const struct agg_config *cfg);

/* `aggregator serve`: the live page over --state alone, read-only, no Kafka
 * (yesterday's file, or one another aggregator writes), on --http until
 * stop.  Returns an exit code (AGG_EXIT_*). */
int cmd_serve(const struct agg_config *cfg, volatile sig_atomic_t *stop);

#endif

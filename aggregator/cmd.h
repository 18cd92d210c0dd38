/*
 * cmd.h - the aggregator's commands besides the run (engine_run): each reads
 * its settings (config.h) and wires the modules that do the work, so that
 * those modules need not know the command line; main.c dispatches to them.
 */
#ifndef CMD_H
#define CMD_H

struct agg_config;

/* `aggregator status`: where the state is, beside where Kafka and the group
 * are (kafka-consumer-groups --describe, with event time), as a table or as
 * JSON (--json); asks Kafka (the log's ends, the group's offsets) only when
 * brokers were given. Read-only, safe while the aggregator runs. Returns an
 * exit code (AGG_EXIT_*): AGG_EXIT_STATE when the state cannot be read
 * (missing, not ours, another schema version). */
int cmd_status(const struct agg_config *cfg);

#endif

/*
 * topicexport.h - `aggregator export --from-topic TOPIC`: the materializer of
 * group mode. Reads every committed record of the members' output topic
 * (partial windows "w\tTOPIC\tPART\tPRODUCT\tSTART\tEND" and per input
 * partition markers "c\tTOPIC\tPART", see topicexport.c), and rewrites the CSV,
 * atomically, with every window all input partitions have closed: the same
 * bytes a single aggregator writes for those windows.
 */
#ifndef TOPICEXPORT_H
#define TOPICEXPORT_H

#include <signal.h>

struct agg_config;

/* Returns an exit code (AGG_EXIT_*): 0 done, 1 Kafka or I/O failure (no
 * broker, a stall, disk full), 2 usage (the output is its own temporary
 * state), 4 output unwritable. stop (SIGINT/SIGTERM) ends the read with 1,
 * the CSV left as it was. */
int texp_command(const struct agg_config *cfg, volatile sig_atomic_t *stop);

#endif

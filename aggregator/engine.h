/*
 * engine.h - the aggregator's loop: Kafka messages in, ticks into windows,
 * one SQLite transaction per batch with the offsets, closed windows appended
 * to the CSV, offsets committed to the group after COMMIT.
 */
#ifndef ENGINE_H
#define ENGINE_H

#include <signal.h>

#include "config.h"

/* Runs until *stop is set (or, with --available-now, until the topics are
 * read). Returns an exit code (AGG_EXIT_*). */
int engine_run(const struct agg_config *cfg, volatile sig_atomic_t *stop);

#endif

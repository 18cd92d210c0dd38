/*
 * outlier.h - one tick cannot poison a partition's event time: a value far
 * from the baseline moves it only when a run of ticks in a row confirms it
 * (a product's sequence follows the same idea: common/seqrule.h, shared with
 * the producer).  The runs are kept in the state's rows (store.h), so
 * a restart goes on deciding the same.  Pure: no I/O; the caller logs.
 */
#ifndef OUTLIER_H
#define OUTLIER_H

#include <stdint.h>

#include "store.h"

#define OUTLIER_TIME_CONFIRM 3   /* ticks in a row that confirm a jump in event time */
#define OUTLIER_SKEW_CONFIRM 10  /* the same for a jump beyond --max-skew (its first ones rejected) */

enum outlier_verdict {
	OUTLIER_NONE,      /* nothing far off */
	OUTLIER_STARTED,   /* far off: the first of a run, the baseline held */
	OUTLIER_HELD,      /* far off, a run goes on, the baseline held */
	OUTLIER_CONFIRMED, /* a run complete: the baseline moved to it */
};

/* A tick at event time t of partition p.  Within jump of p->max_time (or
 * behind it) it moves max_time as usual; further ahead it is a run's, and
 * max_time moves only when OUTLIER_TIME_CONFIRM ticks in a row are that far
 * (a tick back near max_time ends the run).  Before the partition has an
 * event time, its first run (ticks each no more than jump before the run's
 * largest) sets it.  Returns the verdict; *from gets max_time before. */
enum outlier_verdict outlier_time(struct store_partition *p, int64_t t, int64_t jump, int64_t *from);

/* --max-skew: whether a tick at t (wall clock now) is rejected: more than
 * skew in the future of the clock, or more than skew ahead of the partition's
 * event time unless it is live (within skew of the clock) or
 * OUTLIER_SKEW_CONFIRM ticks in a row confirm the jump (that tick is then
 * taken, and completes outlier_time's run at once). */
int outlier_skewed(struct store_partition *p, int64_t t, int64_t now, int64_t skew);

#endif

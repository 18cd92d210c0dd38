/*
 * seqrule.h - the feed-sequence rule of both programs: a tick whose sequence
 * is not above the largest taken is a replay (a duplicate), and one absurd or
 * reset sequence cannot poison that: a sequence far above the largest is
 * taken only once SEQRULE_CONFIRM ticks in a row confirm it, and a run as
 * long far below it means the largest was the outlier.  Pure: no I/O; the
 * caller counts and logs.  The producer keeps one per product, the
 * aggregator one per product and partition (in its state file).
 */
#ifndef SEQRULE_H
#define SEQRULE_H

#include <stdint.h>

#define SEQRULE_JUMP    100000000LL /* sequences this far off need confirming: days of messages */
#define SEQRULE_CONFIRM 10          /* ticks in a row that confirm them */

struct seqrule {
	int64_t max_sequence;       /* the largest taken, -1 none */
	int64_t jump_seq, jump_run; /* last sequence of a run far above max_sequence (-1 none), its length */
	int64_t back_seq, back_run; /* the same far below it */
};

enum seqrule_verdict {
	SEQRULE_NEW,          /* the new largest (or no sequence): take it */
	SEQRULE_DUPLICATE,    /* not above the largest: a replay, drop it */
	SEQRULE_AHEAD,        /* far above: take it, the largest held */
	SEQRULE_AHEAD_FIRST,  /* the same, the first of its run */
	SEQRULE_JUMPED,       /* far above, confirmed: the new largest */
	SEQRULE_BELOW,        /* far below: no replay goes back that far; take it */
	SEQRULE_WAS_OUTLIER,  /* far below, confirmed: the largest was the outlier */
};

/* No sequence seen yet. */
void seqrule_init(struct seqrule *r);
/* A tick with feed sequence seq (-1: none).  *from gets the largest before. */
enum seqrule_verdict seqrule_check(struct seqrule *r, int64_t seq, int64_t *from);

#endif

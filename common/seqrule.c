/*
 * seqrule.c - see seqrule.h.
 */
#include "seqrule.h"

void seqrule_init(struct seqrule *r)
{
	r->max_sequence = r->jump_seq = r->back_seq = -1;
	r->jump_run = r->back_run = 0;
}

/* One more tick in an unconfirmed sequence range: the run goes on when seq
 * follows the last one closely, else starts again.  Returns its length. */
static int64_t seqrule_run(int64_t *last, int64_t *run, int64_t seq)
{
	*run = *last >= 0 && seq > *last && seq - *last <= SEQRULE_JUMP ? *run + 1 : 1;
	*last = seq;
	return *run;
}

enum seqrule_verdict seqrule_check(struct seqrule *r, int64_t seq, int64_t *from)
{
	*from = r->max_sequence;
	if (seq < 0)
		return SEQRULE_NEW;
	if (r->max_sequence >= 0 && r->max_sequence - seq > SEQRULE_JUMP) {
		if (seqrule_run(&r->back_seq, &r->back_run, seq) < SEQRULE_CONFIRM)
			return SEQRULE_BELOW;
		r->max_sequence = seq;
		r->back_seq = -1;
		r->back_run = 0;
		return SEQRULE_WAS_OUTLIER;
	}
	if (r->max_sequence >= 0 && seq <= r->max_sequence)
		return SEQRULE_DUPLICATE;
	if (r->max_sequence >= 0 && seq - r->max_sequence > SEQRULE_JUMP) {
		if (seqrule_run(&r->jump_seq, &r->jump_run, seq) >= SEQRULE_CONFIRM) {
			r->max_sequence = seq;
			r->jump_seq = -1;
			r->jump_run = 0;
			return SEQRULE_JUMPED;
		}
		return r->jump_run == 1 ? SEQRULE_AHEAD_FIRST : SEQRULE_AHEAD;
	}
	r->max_sequence = seq;
	r->jump_run = 0;
	r->jump_seq = -1;
	return SEQRULE_NEW;
}

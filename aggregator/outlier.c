/*
 * outlier.c - see outlier.h.
 */
#include "outlier.h"

#include "window.h"

enum outlier_verdict outlier_time(struct store_partition *p, int64_t t, int64_t jump, int64_t *from)
{
	enum outlier_verdict v;

	*from = p->max_time;
	if (p->max_time != WM_NONE && t <= p->max_time + jump) {
		p->time_run = 0;
		p->time_run_max = WM_NONE;
		if (t > p->max_time)
			p->max_time = t;
		return OUTLIER_NONE;
	}
	if (p->time_run > 0 && t >= p->time_run_max - jump) {
		p->time_run++;
		if (t > p->time_run_max)
			p->time_run_max = t;
		v = OUTLIER_HELD;
	} else {
		p->time_run = 1;
		p->time_run_max = t;
		v = OUTLIER_STARTED;
	}
	if (p->time_run < OUTLIER_TIME_CONFIRM)
		return v;
	p->max_time = p->time_run_max;
	p->time_run = 0;
	p->time_run_max = WM_NONE;
	return OUTLIER_CONFIRMED;
}

int outlier_skewed(struct store_partition *p, int64_t t, int64_t now, int64_t skew)
{
	if (t > now + skew)
		return 1;
	if (p->max_time == WM_NONE || t <= p->max_time + skew || t >= now - skew) {
		p->skew_run = 0;
		return 0;
	}
	if (p->skew_run == 0 || t < p->skew_first || t > p->skew_first + skew) {
		p->skew_run = 1;
		p->skew_first = t;
	} else {
		p->skew_run++;
	}
	if (p->skew_run < OUTLIER_SKEW_CONFIRM)
		return 1;
	p->skew_run = 0;
	p->time_run = OUTLIER_TIME_CONFIRM - 1;
	p->time_run_max = t;
	return 0;
}

/* One more tick in an unconfirmed sequence range: the run goes on when seq
 * follows the last one closely, else starts again.  Returns its length. */
static int64_t outlier_seq_run(int64_t *last, int64_t *run, int64_t seq)
{
	*run = *last >= 0 && seq > *last && seq - *last <= OUTLIER_SEQ_JUMP ? *run + 1 : 1;
	*last = seq;
	return *run;
}

enum outlier_seq outlier_sequence(struct store_product *p, int64_t seq, int64_t *from)
{
	*from = p->max_sequence;
	if (seq < 0)
		return OUTLIER_SEQ_NEW;
	if (p->max_sequence >= 0 && p->max_sequence - seq > OUTLIER_SEQ_JUMP) {
		if (outlier_seq_run(&p->back_seq, &p->back_run, seq) < OUTLIER_SEQ_CONFIRM)
			return OUTLIER_SEQ_BELOW;
		p->max_sequence = seq;
		p->back_seq = -1;
		p->back_run = 0;
		return OUTLIER_SEQ_WAS_OUTLIER;
	}
	if (p->max_sequence >= 0 && seq <= p->max_sequence)
		return OUTLIER_SEQ_DUPLICATE;
	if (p->max_sequence >= 0 && seq - p->max_sequence > OUTLIER_SEQ_JUMP) {
		if (outlier_seq_run(&p->jump_seq, &p->jump_run, seq) >= OUTLIER_SEQ_CONFIRM) {
			p->max_sequence = seq;
			p->jump_seq = -1;
			p->jump_run = 0;
			return OUTLIER_SEQ_JUMPED;
		}
		return p->jump_run == 1 ? OUTLIER_SEQ_AHEAD_FIRST : OUTLIER_SEQ_AHEAD;
	}
	p->max_sequence = seq;
	p->jump_run = 0;
	p->jump_seq = -1;
	return OUTLIER_SEQ_NEW;
}

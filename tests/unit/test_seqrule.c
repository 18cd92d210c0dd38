/*
 * test_seqrule.c - the feed-sequence rule both programs use (common/seqrule.c):
 * a replay is a duplicate, one absurd sequence moves no baseline, a real jump
 * does once a run of ticks confirms it, a run far below replaces an outlier.
 */
#include "harness.h"
#include "seqrule.h"

static void test_sequence(void)
{
	struct seqrule pr;
	int64_t from;

	seqrule_init(&pr);
	T_INT(seqrule_check(&pr, 100, &from), SEQRULE_NEW, "the first sequence");
	T_INT(seqrule_check(&pr, 100, &from), SEQRULE_DUPLICATE, "the same again: a replay");
	T_INT(seqrule_check(&pr, -1, &from), SEQRULE_NEW, "no sequence: counted");
	T_INT(seqrule_check(&pr, 9000000000000000000LL, &from), SEQRULE_AHEAD_FIRST, "absurd: held");
	T_INT(pr.max_sequence, 100, "the largest unchanged");
	T_INT(seqrule_check(&pr, 101, &from), SEQRULE_NEW, "the next real one counts");
	for (int i = 0; i < SEQRULE_CONFIRM - 1; i++)
		seqrule_check(&pr, 500000000 + i, &from);
	T_INT(pr.max_sequence, 101, "a real jump, 9 ticks: not yet");
	T_INT(seqrule_check(&pr, 500000009, &from), SEQRULE_JUMPED, "the 10th confirms it");
	T_INT(pr.max_sequence, 500000009, "the new largest");

	/* The largest was an outlier (at the head): ten in a row far below replace it. */
	struct seqrule h;
	seqrule_init(&h);
	seqrule_check(&h, 9000000000000000000LL, &from);
	int below = 0;
	for (int i = 0; i < SEQRULE_CONFIRM; i++)
		below += seqrule_check(&h, 44321670296LL + i, &from) == SEQRULE_BELOW;
	T_INT(below, SEQRULE_CONFIRM - 1, "far below: counted, no replay");
	T_INT(h.max_sequence, 44321670296LL + SEQRULE_CONFIRM - 1, "the tenth replaced the outlier");
}

int main(void)
{
	test_sequence();
	return t_done();
}

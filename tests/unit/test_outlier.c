/*
 * test_outlier.c - the confirmation runs (outlier.c): a lone tick far off in
 * event time moves no baseline, a real jump does once a run of ticks confirms
 * it (the sequence's rule: test_seqrule.c).
 */
#include <string.h>

#include "harness.h"
#include "outlier.h"
#include "window.h"

#define S 1000000LL
#define M (60 * S)

static struct store_partition part(void)
{
	struct store_partition p;
	memset(&p, 0, sizeof(p));
	p.max_time = p.time_run_max = WM_NONE;
	return p;
}

static void test_time(void)
{
	struct store_partition p = part();
	int64_t from, J = 2 * M;

	/* The head: the first run of ticks close together sets the event time. */
	T_INT(outlier_time(&p, 1000 * M, J, &from), OUTLIER_STARTED, "head: the first tick starts a run");
	T_INT(p.max_time, WM_NONE, "no event time from one tick");
	outlier_time(&p, 1000 * M + S, J, &from);
	T_INT(outlier_time(&p, 1000 * M + 2 * S, J, &from), OUTLIER_CONFIRMED, "the third confirms");
	T_INT(p.max_time, 1000 * M + 2 * S, "event time: the run's largest");

	/* A lone tick 55 minutes ahead moves nothing; the next tick ends its run. */
	T_INT(outlier_time(&p, 1055 * M, J, &from), OUTLIER_STARTED, "55 minutes ahead: a run starts");
	T_INT(p.max_time, 1000 * M + 2 * S, "the event time held");
	T_INT(outlier_time(&p, 1000 * M + 3 * S, J, &from), OUTLIER_NONE, "the next on-time tick");
	T_OK(p.max_time == 1000 * M + 3 * S && p.time_run == 0, "moves it as usual and ends the run");
	T_INT(outlier_time(&p, 1000 * M + 2 * M, J, &from), OUTLIER_NONE, "exactly the delay ahead: no outlier");

	/* A real jump: 30 minutes of silence, then ticks at the new time. */
	int64_t base = p.max_time;
	T_INT(outlier_time(&p, base + 30 * M, J, &from), OUTLIER_STARTED, "a gap of 30 minutes");
	T_INT(outlier_time(&p, base + 30 * M + S, J, &from), OUTLIER_HELD, "held");
	T_INT(outlier_time(&p, base + 30 * M + 2 * S, J, &from), OUTLIER_CONFIRMED, "confirmed by 3");
	T_INT(from, base, "from the old event time");
	T_INT(p.max_time, base + 30 * M + 2 * S, "to the run's largest");

	/* Sparse ticks, each more than the delay after the last: still confirmed. */
	struct store_partition q = part();
	for (int i = 0; i < 3; i++)
		outlier_time(&q, 5000 * M + i * 3 * M, J, &from);
	T_INT(q.max_time, 5000 * M + 6 * M, "sparse ticks at the head set the event time");

	/* A 1970 tick at the head is not the baseline. */
	struct store_partition h = part();
	outlier_time(&h, 0, J, &from);
	outlier_time(&h, 1000 * M, J, &from);
	T_INT(h.max_time, WM_NONE, "1970, then a real tick: not yet");
	outlier_time(&h, 1000 * M + S, J, &from);
	T_INT(h.max_time, 1000 * M + S, "a third tick: the run's largest, not 1970");
	/* and one 55 minutes ahead at the head is not either */
	struct store_partition a = part();
	outlier_time(&a, 1055 * M, J, &from);
	for (int i = 0; i < 3; i++)
		outlier_time(&a, 1000 * M + i * S, J, &from);
	T_INT(a.max_time, 1000 * M + 2 * S, "a tick ahead at the head: the next three set it");
}

static void test_skew(void)
{
	struct store_partition p = part();
	int64_t now = 100000 * M, skew = 60 * M, from;

	T_INT(outlier_skewed(&p, now + 2 * skew, now, skew), 1, "beyond the clock by more than the skew: rejected");
	T_INT(outlier_skewed(&p, 1000 * M, now, skew), 0, "no event time yet: taken");
	p.max_time = 1000 * M;
	T_INT(outlier_skewed(&p, 1000 * M + 2 * skew, now, skew), 1, "far ahead of the partition, not live: rejected");
	T_INT(outlier_skewed(&p, now - S, now, skew), 0, "live (near the clock): taken");
	int rejected = 0;
	for (int i = 0; i < OUTLIER_SKEW_CONFIRM; i++)
		rejected += outlier_skewed(&p, 2000 * M + i * S, now, skew);
	T_INT(rejected, OUTLIER_SKEW_CONFIRM - 1, "a jump beyond the skew: the first 9 rejected, the 10th taken");
	T_INT(outlier_time(&p, 2000 * M + 9 * S, 2 * M, &from), OUTLIER_CONFIRMED,
	      "and it moves the event time at once");
}

int main(void)
{
	test_time();
	test_skew();
	return t_done();
}

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

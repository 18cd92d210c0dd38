/*
 * crash.h - the test build's crash points (make test defines AGG_TEST_HOOKS).
 *
 * The process stops dead, as kill -9 would, at the n-th pass through a named
 * point of a batch -- windows, offsets, csv, commit, group, txn, kafka -- so
 * that the crash tests (tests/t/47, 58) hit every point instead of where a
 * timer falls: AGG_CRASH_AT=POINT:N[:MS] (MS: a pause first, for what is in
 * flight, e.g. an offset commit, to arrive).  AGG_FAIL_COMMIT=POINT:N makes
 * the batch that passes a point for the n-th time fail its COMMIT, once, as a
 * full disk would (tests/t/77: the group is never ahead of the state, and
 * output.csv is cut back to the recorded length).  The release build has none.
 */
#ifndef CRASH_H
#define CRASH_H

#ifdef AGG_TEST_HOOKS
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

struct crash {
	char at[16];      /* the point, */
	long after, ms;   /* at its n-th pass, after a pause */
	char fail[16];    /* AGG_FAIL_COMMIT's point, */
	long fail_after;  /* at its n-th pass */
	int fail_armed;   /* the batch's COMMIT fails */
};

static inline void crash_init(struct crash *c)
{
	const char *v = getenv("AGG_CRASH_AT");
	c->ms = 0;
	if (!v || sscanf(v, "%15[a-z]:%ld:%ld", c->at, &c->after, &c->ms) < 2)
		c->at[0] = 0;
	v = getenv("AGG_FAIL_COMMIT");
	c->fail_armed = 0;
	if (!v || sscanf(v, "%15[a-z]:%ld", c->fail, &c->fail_after) < 2)
		c->fail[0] = 0;
}

/* Whether this batch's COMMIT is to fail (AGG_FAIL_COMMIT), once. */
static inline int crash_fail_commit(struct crash *c)
{
	if (!c->fail_armed)
		return 0;
	c->fail_armed = 0;
	log_msg(LOG_WARN, LOG_WARN, "AGG_FAIL_COMMIT: this batch's COMMIT fails");
	return 1;
}

static inline void crash_point(struct crash *c, const char *point)
{
	if (c->fail[0] && strcmp(c->fail, point) == 0 && --c->fail_after == 0)
		c->fail_armed = 1;
	if (!c->at[0] || strcmp(c->at, point) != 0 || --c->after > 0)
		return;
	log_msg(LOG_WARN, LOG_WARN, "AGG_CRASH_AT: killed at %s", point);
	if (c->ms > 0)
		nanosleep(&(struct timespec){ c->ms / 1000, c->ms % 1000 * 1000000 }, NULL);
	raise(SIGKILL);
}
#else
struct crash {
	char unused;
};
#define crash_init(c) ((void)(c))
#define crash_point(c, point) ((void)(c))
#define crash_fail_commit(c) ((void)(c), 0)
#endif

#endif

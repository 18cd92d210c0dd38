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
 * output.csv is cut back to the recorded length).  AGG_PAUSE_AT=POINT:N:FILE
 * stops at a point's n-th pass until FILE exists (up to 60 s), saying so on
 * stderr, so that a test can change the world right there (tests/t/121: a
 * transaction commits between two of the export's cuts).  The release build
 * has none.
 */
#ifndef CRASH_H
#define CRASH_H

#ifdef AGG_TEST_HOOKS
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* AGG_PAUSE_AT: at the n-th pass through point (counted in *passes), waits
 * until the named file exists. */
static inline void crash_pause(const char *point, long *passes)
{
	const char *v = getenv("AGG_PAUSE_AT");
	char at[16], file[512];
	long n;
	if (!v || sscanf(v, "%15[a-z]:%ld:%511s", at, &n, file) != 3 || strcmp(at, point) != 0 || ++*passes != n)
		return;
	log_msg(LOG_WARN, LOG_WARN, "AGG_PAUSE_AT: paused at %s until %s exists", point, file);
	for (int i = 0; i < 6000 && access(file, F_OK) != 0; i++)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	log_msg(LOG_WARN, LOG_WARN, "AGG_PAUSE_AT: going on from %s", point);
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
#define crash_pause(point, passes) ((void)(point), (void)(passes))
#endif

#endif

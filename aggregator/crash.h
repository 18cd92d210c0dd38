/*
 * crash.h - the test build's crash points (make test defines AGG_TEST_HOOKS).
 *
 * The process stops dead, as kill -9 would, at the n-th pass through a named
 * point of a batch -- windows, offsets, csv, commit, group, txn, kafka -- so
 * that the crash tests (tests/t/47, 58) hit every point instead of where a
 * timer falls: AGG_CRASH_AT=POINT:N[:MS] (MS: a pause first, for what is in
 * flight, e.g. an offset commit, to arrive).  The release build has none.
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
};

static inline void crash_init(struct crash *c)
{
	const char *v = getenv("AGG_CRASH_AT");
	c->ms = 0;
	if (!v || sscanf(v, "%15[a-z]:%ld:%ld", c->at, &c->after, &c->ms) < 2)
		c->at[0] = 0;
}

static inline void crash_point(struct crash *c, const char *point)
{
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
#endif

#endif

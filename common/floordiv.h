/*
 * floordiv.h - floor division.  C's '/' truncates toward zero, which would put
 * -1 us in 1970-01-01 instead of 1969-12-31, and a tick before the epoch in
 * the window after its own.
 */
#ifndef FLOORDIV_H
#define FLOORDIV_H

#include <assert.h>
#include <stdint.h>

/* floor(a / b) for b > 0, also for negative a. */
static inline int64_t floor_div(int64_t a, int64_t b)
{
	assert(b > 0);
	int64_t q = a / b;
	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

#endif

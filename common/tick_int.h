/*
 * tick_int.h - what the ticker parser's two files share (tick.c, the jansson
 * reference and the rules; tick_fast.c, the fast path): the same checks and
 * conversions, so that both accept exactly the same values.
 */
#ifndef TICK_INT_H
#define TICK_INT_H

#include <stddef.h>
#include <stdint.h>

#define TK_DEC_MAX 64 /* longest decimal string accepted; the feed uses < 25 */

/* True when s[0..n) matches JSON's number grammar (tick.c's header comment). */
int tk_decimal_ok(const char *s, size_t n);
/* "buy", "sell", anything else: TICK_SIDE_BUY, _SELL, _NONE. */
int64_t tk_side_of(const char *s, size_t n);

#endif

/*
 * duration.h - the durations both programs take on their command lines:
 * "90s", "2m", "1h", "500ms", "1d", "1.5s", "1m30s", and Spark's "10 minutes",
 * "30 seconds".
 */
#ifndef DURATION_H
#define DURATION_H

#include <stdint.h>

/* Returns 0 with *us set, or -1 (*us untouched). */
int duration_parse(const char *s, int64_t *us);

#endif

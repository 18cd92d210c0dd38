/*
 * rotate.h - --rotate daily: the CSV split into one file per UTC day of the
 * windows' start, output-YYYY-MM-DD.csv beside --output.  Windows are written
 * in end order, and all have one length, so their start days only grow: the
 * files fill one after the other, and only the last one (the state's current
 * file, meta csv_day) is ever written to or repaired.  Pure naming and day
 * arithmetic, and the removal of files past the current one.
 */
#ifndef ROTATE_H
#define ROTATE_H

#include <stddef.h>
#include <stdint.h>

#define ROT_DAY_US 86400000000LL
#define ROT_NONE INT64_MIN /* no day file yet */

/* The day (since the epoch, UTC) of a window that ends at end, len long: its start's. */
int64_t rot_day_of_end(int64_t end, int64_t len);
/* The day of an event time. */
int64_t rot_day_of(int64_t t);
/* The windows of day d end in (rot_after(d, len), rot_until(d, len)]. */
int64_t rot_after(int64_t day, int64_t len);
int64_t rot_until(int64_t day, int64_t len);
/* Day d's file of output: "dir/output-2024-03-01.csv" (the date before the
 * last extension, or at the end without one).  -1 when it does not fit. */
int rot_path(const char *output, int64_t day, char *out, size_t len);
/* Removes output's day files of days after day (ROT_NONE: every one): what
 * was written after the state's last commit.  Returns how many, -1 with err. */
int rot_remove_after(const char *output, int64_t day, char *err, size_t errlen);
/* How many day files of output are there after day (ROT_NONE: any), the
 * first's name in first: 0, or -1 with err. */
int rot_count_after(const char *output, int64_t day, char *first, size_t len, char *err, size_t errlen);

#endif

/*
 * fmt.h - the text forms of output.csv: timestamps and doubles; JSON strings.
 */
#ifndef FMT_H
#define FMT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FMT_BUF 40 /* big enough for any fmt_* output, incl. NUL */

/* Microseconds since the epoch -> "2023-04-24T15:01:47.940Z" (UTC, milliseconds,
 * truncated toward minus infinity as Spark does). Returns the length written. */
size_t fmt_time_ms(int64_t us, char buf[FMT_BUF]);

/* fmt_time_ms, or none when us is INT64_MIN (WM_NONE: no event time or
 * watermark yet), for the log and the status report. */
size_t fmt_time_or(int64_t us, const char *none, char buf[FMT_BUF]);

/* The shortest decimal form that reads back (strtod) to exactly v: "86540.3",
 * "0.1", "1e+22". NaN/inf are written "NaN", "Infinity", "-Infinity". */
size_t fmt_double(double v, char buf[FMT_BUF]);

/* s as a JSON string's content on f: quotes, backslashes and control bytes
 * escaped (the quotes around it are the caller's). */
void fmt_json_str(FILE *f, const char *s);


#endif

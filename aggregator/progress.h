/*
 * progress.h - the aggregator's progress report, in the spirit of Spark's
 * StreamingQueryProgress: a line on stderr, or a JSON line on stdout.
 */
#ifndef PROGRESS_H
#define PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct progress_report {
	double secs;            /* since the last report */
	int64_t msgs, batches;  /* in that time */
	double batch_secs;      /* of it in batches (flush and commit) */
	double busy_secs;       /* of it not waiting for messages */
	int64_t watermark;      /* WM_NONE before the first */
	size_t open_windows;
	int64_t rows, ticks, late, rejected, duplicates, lost; /* totals since the start */
	int64_t lag;            /* messages not read yet, -1 unknown */
	int final;              /* the last report, at exit */
};

/* JSON (json) on stdout, or a line on stderr at LOG_INFO verbosity. */
void progress_print(const struct progress_report *r, int json, int verbosity);

#endif

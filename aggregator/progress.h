/*
 * progress.h - the aggregator's progress report, in the spirit of Spark's
 * StreamingQueryProgress: a line on stderr, or a JSON line on stdout.
 *
 * A report covers the time since the previous one (--progress-interval),
 * which may hold several batches: the fields Spark has per micro-batch are
 * per interval here; what counts since the start sits under "totals".
 */
#ifndef PROGRESS_H
#define PROGRESS_H

#include <stddef.h>
#include <stdint.h>

/* One partition of the source: offsets at the previous report and now. */
struct progress_source {
	const char *topic;
	int32_t partition;
	int64_t start;          /* next offset at the previous report, -1 none */
	int64_t end;            /* next offset now, -1 none */
	int64_t latest;         /* the log end, -1 unknown */
};

struct progress_report {
	const char *id;         /* the group */
	const char *run_id;     /* this process's run (a random UUID) */
	const char *source;     /* the topics, as given */
	const char *sink;       /* the CSV's path, or in group mode the output topic */
	int sink_topic;         /* sink is a topic */
	double secs;            /* since the last report */
	int64_t msgs, batches;  /* in that time */
	int64_t in_rows, in_late; /* in that time: rows exported, ticks behind the watermark */
	double batch_secs;      /* of it in batches (flush and commit) */
	double busy_secs;       /* of it not waiting for messages */
	int64_t watermark;      /* WM_NONE before the first */
	int64_t max_event;      /* newest event time read, WM_NONE before the first */
	size_t open_windows;
	int64_t msgs_total, batches_total, rows, ticks, late, rejected, duplicates, lost; /* since the start */
	int64_t lag;            /* messages not read yet, -1 unknown */
	struct progress_source *sources; /* sorted in place by the JSON form */
	size_t nsources;
	int final;              /* the last report, at exit */
};

/* JSON (json) on stdout, or an info line in the log. */
void progress_print(struct progress_report *r, int json, int verbosity);

#endif

/*
 * progress.c - see progress.h.
 */
#include "progress.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "fmt.h"
#include "log.h"
#include "window.h"

void progress_print(const struct progress_report *r, int json, int verbosity)
{
	char wm[FMT_BUF];
	double in_rate = r->secs > 0 ? r->msgs / r->secs : 0;
	double proc_rate = r->busy_secs > 0 ? r->msgs / r->busy_secs : 0;
	double avg_batch_ms = r->batches ? r->batch_secs * 1000.0 / r->batches : 0;

	if (r->watermark == WM_NONE)
		snprintf(wm, sizeof(wm), "none");
	else
		fmt_time_ms(r->watermark, wm);
	if (json) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		printf("{\"timestamp\":%" PRId64 ",\"inputRowsPerSecond\":%.1f,\"processedRowsPerSecond\":%.1f,"
		       "\"batches\":%" PRId64 ",\"avgBatchMs\":%.2f,\"watermark\":\"%s\",\"openWindows\":%zu,"
		       "\"rowsExported\":%" PRId64 ",\"ticks\":%" PRId64 ",\"lateDropped\":%" PRId64
		       ",\"rejected\":%" PRId64 ",\"duplicates\":%" PRId64 ",\"dataLost\":%" PRId64 ",\"lag\":%" PRId64
		       "}\n", (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, in_rate, proc_rate, r->batches,
		       avg_batch_ms, wm, r->open_windows, r->rows, r->ticks, r->late, r->rejected, r->duplicates,
		       r->lost, r->lag);
		fflush(stdout);
		return;
	}
	if (verbosity < LOG_INFO)
		return;
	char lagbuf[32], lostbuf[48] = "";
	if (r->lag >= 0)
		snprintf(lagbuf, sizeof(lagbuf), "%" PRId64, r->lag);
	else
		snprintf(lagbuf, sizeof(lagbuf), "?");
	if (r->lost)
		snprintf(lostbuf, sizeof(lostbuf), ", LOST %" PRId64 " (data_loss)", r->lost);
	fprintf(stderr, "%% progress: %.0f msg/s in, %.0f msg/s processed, %" PRId64 " batches (avg %.1f ms), "
	        "watermark %s, %zu open windows, %" PRId64 " rows exported, late %" PRId64 ", rejected %" PRId64
	        ", duplicates %" PRId64 "%s, lag %s%s\n", in_rate, proc_rate, r->batches, avg_batch_ms, wm,
	        r->open_windows, r->rows, r->late, r->rejected, r->duplicates, lostbuf, lagbuf,
	        r->final ? " (final)" : "");
}

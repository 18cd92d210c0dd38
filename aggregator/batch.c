/*
 * batch.c - the batch: what it changed handed to the sink (sink.h) in the
 * order the interface gives, committed, then the offsets to the group, memory
 * trimmed, and a look at the state file.
 *
 * Determinism: open windows are kept in memory with their exact state-file
 * values and ticks are added in offset order, so a window's sums do not depend
 * on where batches (or crashes) fall.
 */
#include <stdio.h>
#include <string.h>

#include "engine_int.h"
#include "sink.h"

const int64_t eng_hist_le[ENG_HIST_N] = { 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000 };

static int eng_drop_closed(const struct win_entry *w, void *arg)
{
	const struct engine *e = arg;
	return !w->dirty && w->key.start + e->cfg->window_us <= e->watermark;
}

/*
 * The open windows kept in memory are a cache of the state file.  Past
 * --cache-windows of them, the ones already stored that their partition has
 * moved past (its latest tick is after their end) are dropped after the
 * commit; a tick that still falls in one reads it back (store_window_get).
 * This bounds memory and the per-batch scan when the watermark is held back
 * while windows pile up: a backlog over hundreds of partitions, where
 * librdkafka starts some partitions long after the others, or a partition
 * that stays behind.
 */
static int eng_drop_passed(const struct win_entry *w, void *arg)
{
	const struct engine *e = arg;
	return !w->dirty && w->key.start + e->cfg->window_us <= e->parts[w->key.part].s.max_time;
}

/* The batch to the sink, in the order sink.h gives: the windows it touched,
 * the windows to close, the products and partitions it changed (their
 * offsets); the watermark into the state.  *rows gets the rows written out.
 * 0, or -1 with err. */
static int eng_write_batch(struct engine *e, int64_t *rows, char *err, size_t errlen)
{
	struct sink *sk = e->sink;
	int64_t now = eng_now();

	if (sk->ops->begin(sk, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < e->wins.cap; i++) {
		struct win_entry *w = &e->wins.slots[i];
		if (!w->used || !w->dirty)
			continue;
		const struct eng_part *p = &e->parts[w->key.part];
		struct store_wkey k = { p->topic, p->partition, p->products[w->key.product].s.product_id, w->key.start,
		                        w->key.start + e->cfg->window_us };
		if (sk->ops->window(sk, &k, &w->agg, err, errlen) < 0)
			return -1;
		w->dirty = 0;
	}
	crash_point(&e->crash, "windows");
	if (sk->ops->close_windows(sk, rows, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < e->nparts; i++) {
		struct eng_part *p = &e->parts[i];
		eng_fp_take(p); /* with the offset it goes with */
		for (uint32_t j = 0; j < p->nproducts; j++) {
			if (!p->products[j].dirty)
				continue;
			if (sk->ops->product(sk, p, &p->products[j].s, err, errlen) < 0)
				return -1;
			p->products[j].dirty = 0;
		}
		if (!p->dirty)
			continue;
		if (sk->ops->partition(sk, p, now, err, errlen) < 0)
			return -1;
		p->dirty = 0;
	}
	crash_point(&e->crash, "offsets");
	if (e->watermark != e->stored_watermark && store_meta_set(e->st, "watermark_us", e->watermark, err, errlen) < 0)
		return -1;
	if (eng_store_held(e, err, errlen) < 0)
		return -1;
	return sk->ops->commit(sk, err, errlen);
}

/* After COMMIT: windows written out leave memory, and stored ones too
 * when more than the cache holds. */
static void eng_evict(struct engine *e, int64_t rows)
{
	if (rows > 0)
		win_table_evict(&e->wins, eng_drop_closed, e);
	if (e->wins.count > e->win_cache) {
		size_t before = e->wins.count;
		win_table_evict(&e->wins, eng_drop_passed, e);
		eng_log(e, LOG_DEBUG, "open windows: %zu kept in memory, %zu stored ones dropped", e->wins.count,
		        before - e->wins.count);
	}
	if (rows > 0 || e->wins.count > e->win_cache) /* next time at twice what is left */
		e->win_cache = e->wins.count * 2 > (size_t)e->cfg->cache_windows ? e->wins.count * 2
		                                                               : (size_t)e->cfg->cache_windows;
}

/* Counts a batch that took dt (us) for the progress report and /metrics. */
static void eng_count_batch(struct engine *e, int64_t dt)
{
	size_t b = 0;
	e->total.batches++;
	e->total.batch_us_total += dt;
	if (dt > e->total.batch_us_max)
		e->total.batch_us_max = dt;
	while (b < ENG_HIST_N && dt > eng_hist_le[b])
		b++;
	e->total.batch_hist[b]++;
}

/* The batch: written to the sink and committed; the offsets to the group
 * only then (the group is never ahead of the state), memory trimmed, and a
 * look at the state file (deleted or replaced while running, what has been
 * committed since went into a file nobody will open again).  A failure
 * before the commit undoes the batch in the sink.  0, or -1. */
int eng_flush(struct engine *e, int sync)
{
	char err[700] = "";
	int64_t t0 = eng_mono(), rows = 0;

	if (!e->dirty || e->exit_code)
		return e->exit_code ? -1 : 0;
	if (eng_tx(e) < 0)
		return -1;
	if (eng_write_batch(e, &rows, err, sizeof(err)) < 0 || e->exit_code) {
		if (!e->exit_code)
			eng_fatal(e, eng_state_code(e), err);
		e->sink->ops->abort(e->sink);
		strcpy(e->held_text, "-"); /* rolled back: written again by the next batch */
		return -1;
	}
	crash_point(&e->crash, "commit");
	int64_t closed_from = e->exported_until;
	e->stored_watermark = e->watermark;
	if (e->watermark != WM_NONE && (e->exported_until == WM_NONE || e->watermark > e->exported_until))
		e->exported_until = e->watermark;
	e->total.rows += rows;
	e->sink->ops->committed(e->sink, sync);
	eng_evict(e, rows);
	e->dirty = 0;
	e->close_pending = 0;
	e->batch_msgs = 0;
	eng_count_batch(e, eng_mono() - t0);
	e->commit_mono = eng_mono();
	e->commit_wall = eng_now();
	report_commit(e, closed_from);
	int fr = store_check_file(e->st, err, sizeof(err));
	if (fr != 0) {
		eng_fatal(e, fr == STORE_WRITTEN_BACK ? AGG_EXIT_RUNTIME : AGG_EXIT_STATE, err);
		return -1;
	}
	return 0;
}

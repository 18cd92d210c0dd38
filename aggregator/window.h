/*
 * window.h - event-time windows: which windows a tick falls in, the watermark
 * over several partitions, and the table of open windows kept in memory.
 * Pure computation: no I/O.
 */
#ifndef WINDOW_H
#define WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "agg.h" /* struct win_agg, win_agg_add */
#include "tick.h"

#define WM_NONE INT64_MIN    /* no event time / watermark yet */
#define WIN_MAX_PER_TICK 1024 /* most windows one tick may fall in (size/slide) */

/* Writes the start of every window [s, s+size) that contains t, latest first,
 * windows aligned to the epoch every `slide`. Returns how many (<= max). */
int win_assign(int64_t t, int64_t size, int64_t slide, int64_t *starts, int max);

/* What the watermark needs to know of one assigned partition. */
struct wm_input {
	int64_t max_time;   /* largest event time seen, WM_NONE before the first tick */
	int eof;            /* reached the end of the partition, nothing since */
	int64_t eof_since;  /* wall clock (us) when it reached the end */
	size_t tag;         /* the caller's: names the partition in wm_holder */
};

/* Why the watermark is where it is (wm_compute_held). */
enum wm_cause {
	WM_HELD_NONE,      /* nothing holds it: no partition, or none holds anything */
	WM_HELD_EVENT,     /* a partition's own event time, the smallest */
	WM_HELD_IDLE,      /* an idle partition behind the others, at settled: the event
	                    * time delivered idle_timeout ago (one without a tick too) */
	WM_HELD_NO_TICK,   /* a partition without a tick, not idle yet: all of it */
	WM_HELD_NEVER_BACK /* the holder is behind the watermark, which never moves back */
};
struct wm_holder {
	size_t tag;          /* the holding partition's wm_input.tag */
	enum wm_cause cause;
};

/* The aggregator's watermark: the minimum over the partitions of (max event
 * time - delay), never below prev (it never moves back). A partition is idle
 * once it has reached its end and stayed silent for idle_timeout; an idle
 * partition holds the watermark only at max(its max event time, settled),
 * settled being the largest event time delivered (by any partition) at least
 * idle_timeout ago (wm_history_settled): a backlog one partition delivers
 * after a quiet spell cannot close windows another partition's backlog,
 * arriving a moment later, still falls in. With available_now, a partition at
 * its end that never held a tick does not hold it at all. */
int64_t wm_compute(const struct wm_input *parts, size_t n, int64_t delay, int64_t now,
                   int64_t idle_timeout, int available_now, int64_t settled, int64_t prev);
/* wm_compute, also setting *floor to the smallest of what the partitions hold
 * (WM_NONE when one holds everything, INT64_MAX when none holds anything):
 * until settled changes, a tick moving a partition whose max_time was above
 * the floor cannot move the watermark. */
int64_t wm_compute_floor(const struct wm_input *parts, size_t n, int64_t delay, int64_t now,
                         int64_t idle_timeout, int available_now, int64_t settled, int64_t prev,
                         int64_t *floor);
/* wm_compute_floor, also saying which partition holds the watermark and why
 * (*who), for `aggregator status`. */
int64_t wm_compute_held(const struct wm_input *parts, size_t n, int64_t delay, int64_t now,
                        int64_t idle_timeout, int available_now, int64_t settled, int64_t prev,
                        int64_t *floor, struct wm_holder *who);

/* When the largest event time delivered so far grew: samples (wall clock,
 * value) about bucket apart, enough to answer "the largest value noted at
 * least age ago" for an age up to ~60 buckets. */
#define WM_HIST 64
struct wm_history {
	int64_t wall[WM_HIST], born[WM_HIST], value[WM_HIST];
	int head, n;
	int64_t base; /* the value of the newest sample dropped as superseded */
};
void wm_history_init(struct wm_history *h);
/* Notes that value (growing; smaller values are ignored) was delivered by wall clock now. */
void wm_history_note(struct wm_history *h, int64_t now, int64_t value, int64_t bucket);
/* The largest value noted at or before now - age; WM_NONE if none. */
int64_t wm_history_settled(struct wm_history *h, int64_t now, int64_t age);

/* One window of one product from one partition. */
struct win_key {
	uint32_t part;     /* the engine's partition index */
	uint32_t product;  /* the product's index within that partition */
	int64_t start;     /* window start, us */
};

struct win_entry {
	struct win_key key;
	struct win_agg agg;
	uint8_t used;      /* slot holds an entry */
	uint8_t loaded;    /* agg reflects the state file (looked up once) */
	uint8_t dirty;     /* changed since the last store */
};

/* Open-addressing hash table of windows; grows, never shrinks except by evict. */
struct win_table {
	struct win_entry *slots;
	size_t cap;    /* power of two */
	size_t count;
};

int win_table_init(struct win_table *t, size_t cap);
void win_table_free(struct win_table *t);
/* The entry for key, created empty (used=1, loaded=0) when absent; NULL on ENOMEM.
 * Pointers stay valid until the next win_table_get or win_table_evict. */
struct win_entry *win_table_get(struct win_table *t, const struct win_key *key);
/* Drops every entry for which drop(entry, arg) is true. */
void win_table_evict(struct win_table *t, int (*drop)(const struct win_entry *, void *), void *arg);

#endif

/*
 * window.c - window assignment, the watermark, and the in-memory table of open
 * windows (see window.h).
 */
#include "window.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "floordiv.h"

int win_assign(int64_t t, int64_t size, int64_t slide, int64_t *starts, int max)
{
	assert(size > 0 && slide > 0 && slide <= size);
	int n = 0;
	int64_t s = floor_div(t, slide) * slide; /* latest start <= t */

	for (; s > t - size && n < max; s -= slide)
		starts[n++] = s;
	return n;
}

/* At its end and silent for idle_timeout. */
static int wm_idle(const struct wm_input *p, int64_t now, int64_t idle_timeout)
{
	return p->eof && now - p->eof_since >= idle_timeout;
}

int64_t wm_compute_held(const struct wm_input *parts, size_t n, int64_t delay, int64_t now,
                        int64_t idle_timeout, int available_now, int64_t settled, int64_t prev,
                        int64_t *floor, struct wm_holder *who)
{
	int64_t lo = INT64_MAX;

	*floor = INT64_MAX;
	who->cause = WM_HELD_NONE;
	for (size_t i = 0; i < n; i++) {
		const struct wm_input *p = &parts[i];
		int64_t holds = p->max_time;
		enum wm_cause cause = WM_HELD_EVENT;
		if (available_now && p->eof && p->max_time == WM_NONE)
			continue;
		if (wm_idle(p, now, idle_timeout)) {
			if (settled != WM_NONE && (holds == WM_NONE || settled > holds)) {
				holds = settled;
				cause = WM_HELD_IDLE;
			}
		}
		if (holds == WM_NONE) {
			*floor = WM_NONE;
			who->tag = p->tag;
			who->cause = WM_HELD_NO_TICK;
			return prev; /* a partition without a tick holds everything */
		}
		if (holds < lo) {
			lo = holds;
			who->tag = p->tag;
			who->cause = cause;
		}
	}
	*floor = lo;
	if (lo == INT64_MAX)
		return prev;
	int64_t w = lo - delay;
	if (w >= prev)
		return w;
	who->cause = WM_HELD_NEVER_BACK;
	return prev;
}

int64_t wm_compute_floor(const struct wm_input *parts, size_t n, int64_t delay, int64_t now,
                         int64_t idle_timeout, int available_now, int64_t settled, int64_t prev,
                         int64_t *floor)
{
	struct wm_holder who;
	return wm_compute_held(parts, n, delay, now, idle_timeout, available_now, settled, prev, floor, &who);
}

int64_t wm_compute(const struct wm_input *parts, size_t n, int64_t delay, int64_t now,
                   int64_t idle_timeout, int available_now, int64_t settled, int64_t prev)
{
	int64_t floor;
	return wm_compute_floor(parts, n, delay, now, idle_timeout, available_now, settled, prev, &floor);
}

void wm_history_init(struct wm_history *h)
{
	memset(h, 0, sizeof(*h));
	h->base = WM_NONE;
}

void wm_history_note(struct wm_history *h, int64_t now, int64_t value, int64_t bucket)
{
	if (value == WM_NONE)
		return;
	if (h->n > 0) {
		int last = (h->head + h->n - 1) % WM_HIST;
		if (value <= h->value[last])
			return;
		if (now - h->born[last] < bucket) {
			/* Within the newest sample's bucket: it now says "this much
			 * by now", later than before, never earlier. */
			h->value[last] = value;
			h->wall[last] = now;
			return;
		}
	} else if (h->base != WM_NONE && value <= h->base) {
		return;
	}
	if (h->n == WM_HIST) {
		h->base = h->value[h->head];
		h->head = (h->head + 1) % WM_HIST;
		h->n--;
	}
	int i = (h->head + h->n) % WM_HIST;
	h->wall[i] = h->born[i] = now;
	h->value[i] = value;
	h->n++;
}

int64_t wm_history_settled(struct wm_history *h, int64_t now, int64_t age)
{
	int64_t cut = now - age;
	while (h->n > 0 && h->wall[h->head] <= cut) {
		h->base = h->value[h->head];
		h->head = (h->head + 1) % WM_HIST;
		h->n--;
	}
	return h->base;
}

static uint64_t win_hash(const struct win_key *k)
{
	uint64_t h = (uint64_t)k->start * 0x9E3779B97F4A7C15ULL;
	h ^= ((uint64_t)k->part << 32 | k->product) * 0xC2B2AE3D27D4EB4FULL;
	h ^= h >> 29;
	return h;
}

static int win_key_eq(const struct win_key *a, const struct win_key *b)
{
	return a->start == b->start && a->part == b->part && a->product == b->product;
}

int win_table_init(struct win_table *t, size_t cap)
{
	size_t c = 16;
	while (c < cap)
		c <<= 1;
	t->slots = calloc(c, sizeof(*t->slots));
	t->cap = c;
	t->count = 0;
	return t->slots ? 0 : -1;
}

void win_table_free(struct win_table *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* Inserts e (known absent) into slots without growing. */
static struct win_entry *win_table_place(struct win_entry *slots, size_t cap, const struct win_entry *e)
{
	size_t i = win_hash(&e->key) & (cap - 1);
	while (slots[i].used)
		i = (i + 1) & (cap - 1);
	slots[i] = *e;
	return &slots[i];
}

static int win_table_resize(struct win_table *t, size_t cap)
{
	struct win_entry *ns = calloc(cap, sizeof(*ns));
	if (!ns)
		return -1;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].used)
			win_table_place(ns, cap, &t->slots[i]);
	free(t->slots);
	t->slots = ns;
	t->cap = cap;
	return 0;
}

struct win_entry *win_table_get(struct win_table *t, const struct win_key *key)
{
	size_t i = win_hash(key) & (t->cap - 1);
	while (t->slots[i].used) {
		if (win_key_eq(&t->slots[i].key, key))
			return &t->slots[i];
		i = (i + 1) & (t->cap - 1);
	}
	if ((t->count + 1) * 2 > t->cap) {
		if (win_table_resize(t, t->cap * 2) < 0)
			return NULL;
		return win_table_get(t, key);
	}
	struct win_entry *e = &t->slots[i];
	memset(e, 0, sizeof(*e));
	e->key = *key;
	e->used = 1;
	t->count++;
	return e;
}

void win_table_evict(struct win_table *t, int (*drop)(const struct win_entry *, void *), void *arg)
{
	size_t start = 0, kept = 0;

	/* In place, no second table (it doubled the peak memory).  The sweep
	 * starts after a slot that is free before anything is dropped (load
	 * <= 1/2: there is one), so no probe sequence crosses it: in sweep order
	 * each survivor is re-placed on its home or the first free slot after it,
	 * never later than where it was, as a fresh insert would put it. */
	while (start < t->cap && t->slots[start].used)
		start++;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].used) {
			if (drop(&t->slots[i], arg))
				t->slots[i].used = 0;
			else
				kept++;
		}
	for (size_t n = 1; n < t->cap; n++) {
		size_t i = (start + n) & (t->cap - 1);
		struct win_entry e;

		if (!t->slots[i].used)
			continue;
		e = t->slots[i];
		t->slots[i].used = 0;
		win_table_place(t->slots, t->cap, &e);
	}
	t->count = kept;
	/* give memory back once the table is mostly empty */
	if (t->cap > 1024 && kept * 8 < t->cap) {
		size_t cap = 1024;
		while (cap < kept * 4)
			cap *= 2;
		win_table_resize(t, cap); /* on ENOMEM the big table stays */
	}
}

/* Unit tests: window assignment, the watermark over partitions, the window table. */
#include "harness.h"

#include "window.h"

#define S 1000000LL /* one second in us */

static void test_assign(void)
{
	int64_t st[WIN_MAX_PER_TICK];
	int n;

	n = win_assign(90 * S, 60 * S, 60 * S, st, WIN_MAX_PER_TICK);
	T_INT(n, 1, "tumbling: one window");
	T_INT(st[0], 60 * S, "tumbling: [60s, 120s)");
	n = win_assign(60 * S, 60 * S, 60 * S, st, WIN_MAX_PER_TICK);
	T_INT(st[0], 60 * S, "tumbling: start is inclusive");
	n = win_assign(60 * S - 1, 60 * S, 60 * S, st, WIN_MAX_PER_TICK);
	T_INT(st[0], 0, "tumbling: end is exclusive");
	n = win_assign(-1, 60 * S, 60 * S, st, WIN_MAX_PER_TICK);
	T_INT(st[0], -60 * S, "tumbling: before the epoch floors");

	n = win_assign(95 * S, 30 * S, 10 * S, st, WIN_MAX_PER_TICK);
	T_INT(n, 3, "sliding 30s/10s: three windows");
	T_INT(st[0], 90 * S, "sliding: latest [90, 120)");
	T_INT(st[1], 80 * S, "sliding: [80, 110)");
	T_INT(st[2], 70 * S, "sliding: [70, 100)");
	n = win_assign(90 * S, 30 * S, 10 * S, st, WIN_MAX_PER_TICK);
	T_INT(n, 3, "sliding: on a boundary, still three");
	T_INT(st[2], 70 * S, "sliding: [60, 90) excluded at its end");
	n = win_assign(95 * S, 25 * S, 10 * S, st, WIN_MAX_PER_TICK);
	T_INT(n, 2, "sliding 25s/10s: [70, 95) ends at t: excluded");
	n = win_assign(5 * S, 600 * S, 1 * S, st, 4);
	T_INT(n, 4, "capped at max");
}

static void test_watermark(void)
{
	struct wm_input p[3] = {
		{ .max_time = 500 * S }, { .max_time = 300 * S }, { .max_time = WM_NONE },
	};
	int64_t d = 120 * S, idle = 30 * S, now = 1000 * S, N = WM_NONE;

	T_INT(wm_compute(p, 2, d, now, idle, 0, N, N), 180 * S, "min over partitions minus delay");
	T_INT(wm_compute(p, 3, d, now, idle, 0, N, N), N, "an active partition without ticks holds it");
	p[2].eof = 1;
	p[2].eof_since = now;
	T_INT(wm_compute(p, 3, d, now, idle, 0, N, N), N, "empty at its end, not yet idle");
	T_INT(wm_compute(p, 3, d, now, idle, 1, N, N), 180 * S, "available-now: empty at its end does not hold");
	T_INT(wm_compute(p, 3, d, now + idle, idle, 0, N, N), N,
	      "idle, nothing delivered idle_timeout ago: the empty one still holds");
	T_INT(wm_compute(p, 3, d, now + idle, idle, 0, 450 * S, N), 180 * S,
	      "idle: holds at what was delivered idle_timeout ago");
	p[1].eof = 1;
	p[1].eof_since = now;
	T_INT(wm_compute(p, 3, d, now + idle, idle, 0, 450 * S, N), 330 * S,
	      "an idle slow partition holds at what was delivered idle_timeout ago");
	T_INT(wm_compute(p, 3, d, now + idle, idle, 0, 600 * S, N), 380 * S,
	      "all delivered long ago: the active partition counts");
	T_INT(wm_compute(p, 3, d, now + idle - 1, idle, 0, 600 * S, N), N,
	      "nothing idle before the timeout: the empty one holds");
	p[0].eof = 1;
	p[0].eof_since = now;
	T_INT(wm_compute(p, 3, d, now + idle, idle, 0, 500 * S, N), 380 * S,
	      "all idle, everything delivered idle_timeout ago: the largest counts");
	T_INT(wm_compute(p, 3, d, now + idle, idle, 0, 400 * S, N), 280 * S,
	      "all idle: no further than what was delivered idle_timeout ago");
	T_INT(wm_compute(p, 3, d, now + idle, idle, 0, 500 * S, 400 * S), 400 * S, "never moves back");
	T_INT(wm_compute(p, 0, d, now, idle, 0, N, 7), 7, "no partitions: unchanged");

	/* The floor: the smallest of what the partitions hold. */
	struct wm_input q[3] = {
		{ .max_time = 500 * S }, { .max_time = 300 * S }, { .max_time = WM_NONE },
	};
	int64_t floor = 0;
	T_INT(wm_compute_floor(q, 2, d, now, idle, 0, N, N, &floor), 180 * S, "same watermark as wm_compute");
	T_INT(floor, 300 * S, "floor: the slowest active partition");
	wm_compute_floor(q, 3, d, now, idle, 0, N, N, &floor);
	T_INT(floor, N, "floor: an active partition without ticks");
	q[2].eof = 1;
	q[2].eof_since = now;
	wm_compute_floor(q, 3, d, now, idle, 1, N, N, &floor);
	T_INT(floor, 300 * S, "floor: available-now, the empty one at its end does not count");
	q[0].eof = q[1].eof = 1;
	q[0].eof_since = q[1].eof_since = now;
	T_INT(wm_compute_floor(q, 3, d, now + idle, idle, 0, 500 * S, N, &floor), 380 * S, "all idle: the largest");
	T_INT(floor, 500 * S, "floor: what the idle ones hold");
	wm_compute_floor(q, 3, d, now + idle, idle, 1, N, N, &floor);
	T_INT(floor, 300 * S, "floor: available-now, idle and nothing settled: their own max");
	/* Moving a partition above the floor never moves the watermark. */
	struct wm_input r[4] = {
		{ .max_time = 100 * S }, { .max_time = 200 * S }, { .max_time = 300 * S }, { .max_time = 300 * S },
	};
	int64_t w = wm_compute_floor(r, 4, d, now, idle, 0, N, N, &floor), fails = 0;
	for (int i = 0; i < 2000; i++) {
		int k = (i * 7 + 3) % 4;
		int64_t old = r[k].max_time, f = floor;
		r[k].max_time += (i % 5) * S;
		int64_t w2 = wm_compute_floor(r, 4, d, now, idle, 0, N, w, &floor);
		if (old > f && w2 != w)
			fails++;
		w = w2;
	}
	T_INT(fails, 0, "a tick above the floor never moved the watermark (2000 moves)");

	/* Who holds it, and why (wm_compute_held, for status). */
	struct wm_input h[3] = {
		{ .max_time = 500 * S, .tag = 7 }, { .max_time = 300 * S, .tag = 8 }, { .max_time = WM_NONE, .tag = 9 },
	};
	struct wm_holder who;
	wm_compute_held(h, 2, d, now, idle, 0, N, N, &floor, &who);
	T_INT((int64_t)who.tag * 10 + who.cause, 8 * 10 + WM_HELD_EVENT, "held: the slowest partition's event time");
	wm_compute_held(h, 3, d, now, idle, 0, N, N, &floor, &who);
	T_INT((int64_t)who.tag * 10 + who.cause, 9 * 10 + WM_HELD_NO_TICK, "held: a partition without a tick");
	h[2].eof = 1;
	h[2].eof_since = now;
	T_INT(wm_compute_held(h, 3, d, now + idle, idle, 0, 250 * S, N, &floor, &who), 130 * S,
	      "idle and empty: at what was delivered idle_timeout ago");
	T_INT((int64_t)who.tag * 10 + who.cause, 9 * 10 + WM_HELD_IDLE, "held: the idle rule, by the empty one");
	wm_compute_held(h, 3, d, now + idle, idle, 0, 450 * S, N, &floor, &who);
	T_INT((int64_t)who.tag * 10 + who.cause, 8 * 10 + WM_HELD_EVENT, "settled past the slowest: its event time");
	T_INT(wm_compute_held(h, 3, d, now + idle, idle, 0, 250 * S, 400 * S, &floor, &who), 400 * S,
	      "below the last watermark: it stays");
	T_INT(who.cause, WM_HELD_NEVER_BACK, "held: it never moves back");
	wm_compute_held(h, 0, d, now, idle, 0, N, N, &floor, &who);
	T_INT(who.cause, WM_HELD_NONE, "no partition: nothing holds it");
}

static void test_history(void)
{
	struct wm_history h;
	wm_history_init(&h);
	T_INT(wm_history_settled(&h, 0, 10), WM_NONE, "history: nothing noted");
	wm_history_note(&h, 100, 5, 2);
	T_INT(wm_history_settled(&h, 109, 10), WM_NONE, "not yet age old");
	wm_history_note(&h, 101, 6, 2);
	T_INT(wm_history_settled(&h, 110, 10), WM_NONE, "in one bucket: the later time counts for both");
	T_INT(wm_history_settled(&h, 111, 10), 6, "age old");
	wm_history_note(&h, 103, 9, 2);
	T_INT(wm_history_settled(&h, 112, 10), 6, "a new bucket: the older value until it is age old");
	T_INT(wm_history_settled(&h, 113, 10), 9, "then the newer");
	wm_history_note(&h, 120, 4, 2);
	T_INT(wm_history_settled(&h, 200, 10), 9, "a smaller value is ignored");
	wm_history_init(&h);
	int64_t fails = 0;
	for (int i = 0; i < 300; i++) {
		int64_t t = 1000 + i * 10;
		wm_history_note(&h, t, 1000 + i, 10);
		int64_t want = i >= 10 ? 1000 + i - 10 : WM_NONE;
		if (wm_history_settled(&h, t, 100) != want)
			fails++;
	}
	T_INT(fails, 0, "300 buckets through 64 slots: always the value noted age ago");
}

static int drop_before(const struct win_entry *e, void *arg)
{
	return e->key.start < *(int64_t *)arg;
}

static void test_table(void)
{
	struct win_table t;
	int ok = 1;

	T_OK(win_table_init(&t, 4) == 0, "table init");
	for (int i = 0; i < 1000; i++) {
		struct win_key k = { .part = (uint32_t)(i % 3), .product = (uint32_t)(i % 2), .start = i * S };
		struct win_entry *e = win_table_get(&t, &k);
		if (!e || e->agg.ticks != 0)
			ok = 0;
		else
			e->agg.ticks = i + 1;
	}
	T_OK(ok, "1000 distinct keys inserted");
	T_INT(t.count, 1000, "count");
	for (int i = 0; i < 1000; i++) {
		struct win_key k = { .part = (uint32_t)(i % 3), .product = (uint32_t)(i % 2), .start = i * S };
		struct win_entry *e = win_table_get(&t, &k);
		if (!e || e->agg.ticks != i + 1)
			ok = 0;
	}
	T_OK(ok, "every key found again with its value");
	T_INT(t.count, 1000, "lookups do not insert");
	int64_t cut = 500 * S;
	win_table_evict(&t, drop_before, &cut);
	T_INT(t.count, 500, "evict drops the closed half");
	struct win_key k = { .part = 600 % 3, .product = 600 % 2, .start = 600 * S };
	T_INT(win_table_get(&t, &k)->agg.ticks, 601, "survivors keep their values");
	win_table_free(&t);
}

/* drop_mod: drops the keys whose index (start / S) is r modulo m. */
struct mod_cut { int64_t m, r; };
static int drop_mod(const struct win_entry *e, void *arg)
{
	const struct mod_cut *c = arg;
	return (e->key.start / S) % c->m == c->r;
}

/* In-place eviction against a reference: 300 rounds of inserts and
 * evictions of arbitrary subsets (clusters cut anywhere, wrap-around, the
 * shrink to a smaller table), after each every surviving key found with its
 * value and the count exact (so nothing dropped is left). */
static void test_table_evict_random(void)
{
	enum { U = 6000 };
	static long ref[U]; /* value + 1, 0 = absent */
	struct win_table t;
	uint64_t x = 0x2545f4914f6cdd1dULL;
	int ok = 1, shrunk = 0;
	size_t maxcap = 0;

	memset(ref, 0, sizeof(ref));
	T_OK(win_table_init(&t, 16) == 0, "table init (random evictions)");
	for (int round = 0; round < 300 && ok; round++) {
		int adds = round % 50 == 49 ? 0 : (int)(x % 3000);
		struct mod_cut c;
		size_t live = 0;

		for (int a = 0; a < adds; a++) {
			int k = (int)(t_xorshift(&x) % U);
			struct win_key key = { .part = (uint32_t)(k % 7), .product = (uint32_t)(k % 3), .start = k * S };
			struct win_entry *e = win_table_get(&t, &key);
			if (!e) {
				ok = 0;
				break;
			}
			e->agg.ticks = round * 10000 + a + 1;
			ref[k] = e->agg.ticks;
		}
		if (t.cap > maxcap)
			maxcap = t.cap;
		t_xorshift(&x);
		c.m = 1 + (int64_t)(x % 5);
		c.r = (int64_t)((x >> 8) % (uint64_t)c.m);
		if (round % 50 == 49)
			c.m = 1, c.r = 0; /* everything: the shrink */
		win_table_evict(&t, drop_mod, &c);
		if (t.cap < maxcap)
			shrunk = 1;
		for (int k = 0; k < U; k++) {
			if (ref[k] && k % c.m == c.r)
				ref[k] = 0;
			live += ref[k] != 0;
		}
		if (t.count != live)
			ok = 0;
		for (int k = 0; k < U && ok; k++) {
			struct win_key key = { .part = (uint32_t)(k % 7), .product = (uint32_t)(k % 3), .start = k * S };
			if (ref[k] && win_table_get(&t, &key)->agg.ticks != ref[k])
				ok = 0;
		}
		if (!ok)
			printf("#   round %d: count %zu, expected %zu\n", round, t.count, live);
	}
	T_OK(ok, "300 rounds of inserts and in-place evictions: every survivor found, count exact");
	T_OK(shrunk, "a mostly empty table shrinks (cap up to %zu, now %zu)", maxcap, t.cap);
	win_table_free(&t);
}

static void test_agg(void)
{
	struct win_agg a = { 0 };
	struct tick t1 = { "BTC-USD", 10, 100.5, 7, 100, 101, 1, -1, 0, TICK_SIDE_NONE };
	struct tick t2 = { "BTC-USD", 5, 99.5, 9, 99, 102, 2, -1, 0, TICK_SIDE_NONE };

	win_agg_add(&a, &t1);
	win_agg_add(&a, &t2);
	T_INT(a.ticks, 2, "ticks counted");
	T_DBL(a.sum_price / a.ticks, 100.0, 0, "mean price");
	T_DBL(a.sum_volume_24h / a.ticks, 8.0, 0, "mean volume");
	T_INT(a.max_time, 10, "max time is not the last time");
	T_DBL(a.max_best_bid, 100, 0, "max bid");
	T_DBL(a.max_best_ask, 102, 0, "max ask");
}

int main(void)
{
	test_assign();
	test_watermark();
	test_history();
	test_table();
	test_table_evict_random();
	test_agg();
	return t_done();
}

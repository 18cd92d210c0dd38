/*
 * test_record.c - group mode's records (record.c): every key and value reads
 * back to what was written (doubles bit for bit, "none" times), and what is
 * not one of ours is refused whole, not half read.
 */
#include <string.h>

#include "harness.h"
#include "record.h"
#include "window.h"

static void test_keys(void)
{
	char buf[REC_TEXT_MAX];
	const char *why;
	struct rec_key k;
	struct store_wkey wk = { "BTC-USD", 7, "BTC-USD", 1682348400000000, 1682348460000000 };

	int n = rec_key_window(buf, sizeof(buf), &wk);
	T_STR(buf, "w\tBTC-USD\t7\tBTC-USD\t1682348400000000\t1682348460000000", "a window's key");
	T_OK(rec_key_parse(buf, (size_t)n, &k, &why) == 0 && k.kind == 'w' && !strcmp(k.topic, "BTC-USD") &&
	     k.partition == 7 && !strcmp(k.product, "BTC-USD") && k.start == wk.start && k.end == wk.end,
	     "reads back");
	n = rec_key_partition(buf, sizeof(buf), 'c', "ticks", 0);
	T_OK(rec_key_parse(buf, (size_t)n, &k, &why) == 0 && k.kind == 'c' && !strcmp(k.topic, "ticks") &&
	     k.partition == 0 && !k.product, "a marker's key reads back");
	n = rec_key_product(buf, sizeof(buf), "t", 3, "ETH-USD");
	T_OK(rec_key_parse(buf, (size_t)n, &k, &why) == 0 && k.kind == 's' && k.partition == 3 &&
	     !strcmp(k.product, "ETH-USD"), "a product's key reads back");

	static const char *const bad[] = {
		"", "w", "x\tt\t0", "p\tt", "p\tt\t0\textra", "p\t\t0", "p\tt\t-1", "p\tt\t2147483648", "p\tt\t1x",
		"s\tt\t0\tBTC_USD", "w\tt\t0\tBTC-USD\t10\t10", "w\tt\t0\tBTC-USD\t10", "w\tt\t0\tBTC-USD\ta\t20",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		T_OK(rec_key_parse(bad[i], strlen(bad[i]), &k, &why) < 0 && why && *why, "refused: '%s'", bad[i]);
	T_OK(rec_key_parse("p\tt\0\t0", 7, &k, &why) < 0, "refused: a key holding a NUL");
}

static void test_values(void)
{
	char buf[REC_TEXT_MAX];
	struct win_agg a = { .ticks = 3, .sum_price = 82563.51000000001, .sum_volume_24h = 1e+22, .max_time = 1682348458172820, .max_best_bid = 27535.78, .max_best_ask = 0.1 }, ga;
	int n = rec_val_window(buf, sizeof(buf), &a);
	T_OK(rec_parse_window(buf, (size_t)n, &ga) == 0 && !memcmp(&a, &ga, sizeof(a)), "a window reads back bit for bit");
	struct store_partition p = { .next_offset = 1355, .max_time = WM_NONE, .rejected = 2, .time_run = 1,
	                             .time_run_max = 1682349718977595, .skew_run = 0, .skew_first = -5,
	                             .closed_until = 1682349540000000 }, gp;
	n = rec_val_partition(buf, sizeof(buf), &p);
	T_OK(rec_parse_partition(buf, (size_t)n, &gp) == 0 && !memcmp(&p, &gp, sizeof(p)),
	     "a partition reads back, its unknown time as unknown");
	p.closed_until = WM_NONE;
	n = rec_val_partition(buf, sizeof(buf), &p);
	T_OK(rec_parse_partition(buf, (size_t)n, &gp) == 0 && gp.closed_until == WM_NONE, "closed_until none: '-'");
	struct store_product pr = { .ticks = 9, .late = 1, .duplicates = 2,
	                            .seq = { .max_sequence = -1, .jump_seq = 90, .jump_run = 2, .back_seq = -1,
	                                     .back_run = 0 } }, gpr;
	memset(&gpr, 0, sizeof(gpr));
	n = rec_val_product(buf, sizeof(buf), &pr);
	T_OK(rec_parse_product(buf, (size_t)n, &gpr) == 0 && gpr.ticks == 9 && gpr.late == 1 && gpr.duplicates == 2 &&
	     gpr.seq.max_sequence == -1 && gpr.seq.jump_seq == 90 && gpr.seq.jump_run == 2 && gpr.seq.back_seq == -1,
	     "a product reads back");
	int64_t until;
	int32_t parts;
	n = rec_val_marker(buf, sizeof(buf), 1682349540000000, 3);
	T_OK(rec_parse_marker(buf, (size_t)n, &until, &parts) == 0 && until == 1682349540000000 && parts == 3,
	     "a marker reads back");

	static const char *const badw[] = {
		"", "3 1 2 3 4", "3 1 2 3 4 5 6", "0 1 2 3 4 5", "3 1  2 3 4 5", "3 x 2 3 4 5", "3 1 2 3.5 4 5",
		"3 1 2 3 4 1e999", "3 1 2 3 4 5 ",
	};
	for (size_t i = 0; i < sizeof(badw) / sizeof(badw[0]); i++)
		T_OK(rec_parse_window(badw[i], strlen(badw[i]), &ga) < 0, "window refused: '%s'", badw[i]);
	static const char *const badm[] = { "", "5", "5 0", "5 2 1", "x 2", "5 2147483648" };
	for (size_t i = 0; i < sizeof(badm) / sizeof(badm[0]); i++)
		T_OK(rec_parse_marker(badm[i], strlen(badm[i]), &until, &parts) < 0, "marker refused: '%s'", badm[i]);
	T_OK(rec_parse_partition("1 - 0 0 - 0 0", 13, &gp) < 0, "a partition short of a field refused");
	p.fp_set = 1;
	p.fp_time = 1682348400123;
	p.fp_hash = INT64_MIN + 7;
	n = rec_val_partition(buf, sizeof(buf), &p);
	T_OK(rec_parse_partition(buf, (size_t)n, &gp) == 0 && !memcmp(&p, &gp, sizeof(p)),
	     "a partition with the fingerprint of its last record reads back");
	T_OK(rec_parse_partition("1355 - 2 1 - 0 -5 -", 19, &gp) == 0 && gp.next_offset == 1355 && gp.fp_set == 0 &&
	     gp.skew_first == -5, "a partition written before the fingerprint: read, the fingerprint unknown");
	T_OK(rec_parse_partition("1 - 0 0 - 0 0 - -", 17, &gp) < 0, "9 fields refused");
	T_OK(rec_parse_partition("1 - 0 0 - 0 0 - 5 -", 19, &gp) < 0, "half a fingerprint refused");
	T_OK(rec_parse_partition("1 - 0 0 - 0 0 - - - -", 21, &gp) < 0, "11 fields refused");
	T_OK(rec_parse_partition("-1 - 0 0 - 0 0 -", 16, &gp) < 0, "a negative offset refused");
}

/* Every field of every record kind distinct and non-zero, and the whole
 * struct compared: a field written in another's place (jump_run for
 * back_run, close for open) reads back as a different struct. */
static void test_every_field(void)
{
	char buf[REC_TEXT_MAX];
	struct win_agg a, ga;
	memset(&a, 0, sizeof(a));
	memset(&ga, 0, sizeof(ga));
	for (int f = 0; f < AGG_NFIELDS; f++) {
		if (agg_fields[f].type == AGG_INT)
			agg_set_int(&a, f, 1000003 * (f + 1) + f);
		else
			agg_set_real(&a, f, 1.25 * (f + 1) + 0.001 * f);
	}
	int n = rec_val_window(buf, sizeof(buf), &a);
	T_OK(rec_parse_window(buf, (size_t)n, &ga) == 0 && !memcmp(&a, &ga, sizeof(a)),
	     "a window with every field distinct (candles too) reads back whole");

	struct store_partition p, gp;
	p = (struct store_partition){ .next_offset = 11, .max_time = 12, .rejected = 13, .time_run = 14,
	                              .time_run_max = 15, .skew_run = 16, .skew_first = 17, .closed_until = 18,
	                              .fp_set = 1, .fp_time = 20, .fp_hash = 21 };
	n = rec_val_partition(buf, sizeof(buf), &p);
	T_OK(rec_parse_partition(buf, (size_t)n, &gp) == 0 && !memcmp(&p, &gp, sizeof(p)),
	     "a partition with every field distinct reads back whole");

	struct store_product pr, gpr;
	memset(&pr, 0, sizeof(pr));
	memset(&gpr, 0, sizeof(gpr));
	strcpy(pr.product_id, "BTC-USD");
	strcpy(gpr.product_id, "BTC-USD"); /* the id is the key's, not the value's */
	pr.ticks = 31;
	pr.late = 32;
	pr.duplicates = 33;
	pr.seq = (struct seqrule){ .max_sequence = 34, .jump_seq = 35, .jump_run = 36, .back_seq = 37,
	                           .back_run = 38 };
	n = rec_val_product(buf, sizeof(buf), &pr);
	T_OK(rec_parse_product(buf, (size_t)n, &gpr) == 0 && !memcmp(&pr, &gpr, sizeof(pr)),
	     "a product with every field distinct reads back whole");

	int64_t until = 0;
	int32_t parts = 0;
	n = rec_val_marker(buf, sizeof(buf), 41, 42);
	T_OK(rec_parse_marker(buf, (size_t)n, &until, &parts) == 0 && until == 41 && parts == 42,
	     "a marker with distinct fields reads back");

	struct rec_settings s, gs;
	memset(&s, 0, sizeof(s)); /* its padding compared too */
	memset(&gs, 0, sizeof(gs));
	s.window_us = 51;
	s.slide_us = 52;
	s.delay_us = 53;
	s.changelog_parts = 54;
	n = rec_val_settings(buf, sizeof(buf), &s);
	T_OK(rec_parse_settings(buf, (size_t)n, &gs) == 0 && !memcmp(&s, &gs, sizeof(s)),
	     "the settings with distinct fields read back whole");
}

int main(void)
{
	test_keys();
	test_values();
	test_every_field();
	return t_done();
}

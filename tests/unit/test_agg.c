/*
 * test_agg.c - the window aggregate's tables (agg.c): a tick adds, partials
 * merge, the CSV formats and a record reads back through them; and the tables
 * agree with the SQL kept by hand (the windows table in schema.sql, the
 * window_aggregates view in views.sql), bit for bit.
 */
#include <sqlite3.h>
#include <string.h>

#include "harness.h"
#include "agg.h"
#include "fmt.h"
#include "record.h"
#include "store.h"

#define S 1000000LL

extern const char sql_views[];

/* A tick with the fields the lab's aggregates take (no size, side or trade). */
static struct tick tk(int64_t t, double price, double vol, double bid, double ask)
{
	struct tick x = { "BTC-USD", t, price, vol, bid, ask, -1, -1, 0, TICK_SIDE_NONE };
	return x;
}

/* The same with a trade: its size, side and id (-1: none). */
static struct tick tt(int64_t t, double price, double bid, double ask, double size, int64_t side, int64_t trade)
{
	struct tick x = { "BTC-USD", t, price, 1, bid, ask, -1, trade, size, side };
	return x;
}

/* A double with a full mantissa, in [1, 1e5): sums of them depend on order. */
static double rnd(uint64_t *s)
{
	return 1.0 + (double)(t_xorshift(s) >> 11) / (double)(1ULL << 53) * 99999.0;
}

static void test_add_merge(void)
{
	struct win_agg a = { 0 }, p = { 0 }, q = { 0 };
	struct tick t[3] = { tk(10, 100.5, 7, 100, 101), tk(5, 99.5, 9, 99, 102), tk(7, 0.1, 0.2, 0.3, 0.4) };

	for (int i = 0; i < 3; i++)
		win_agg_add(&a, &t[i]);
	T_INT(a.ticks, 3, "add: ticks counted");
	T_OK(a.sum_price == (100.5 + 99.5) + 0.1, "add: price summed in arrival order");
	T_OK(a.sum_volume_24h == (7.0 + 9) + 0.2, "add: volume summed");
	T_INT(a.max_time, 10, "add: max time is not the last time");
	T_OK(a.max_best_bid == 100 && a.max_best_ask == 102, "add: max bid and ask");
	struct win_agg z = { 0 };
	struct tick low = tk(-5, 1, 0, 0, 0);
	win_agg_add(&z, &low);
	T_INT(z.max_time, -5, "add: a maximum starts at the first tick, not at 0");

	win_agg_add(&p, &t[0]);
	win_agg_add(&p, &t[1]);
	win_agg_add(&q, &t[2]);
	agg_merge(&p, &q);
	T_OK(!memcmp(&p, &a, sizeof(a)), "merge: two partials = every tick added, bit for bit");
}

/* open, close, high, low, volume, vwap's sums, trade ids, spread, sides. */
static void test_candle(void)
{
	struct win_agg a = { 0 }, p = { 0 }, q = { 0 };
	struct tick t[5] = {
		tt(20, 101, 100, 102, 0.5, TICK_SIDE_BUY, 7),   /* the close's time, first */
		tt(10, 99, 98, 99.5, 2, TICK_SIDE_SELL, 9),     /* the open's time, first */
		tt(10, 98, 97, 99, 0, TICK_SIDE_NONE, -1),      /* a tie: not the open; no size, no trade */
		tt(20, 103, 103, 102, 1, TICK_SIDE_BUY, 12),    /* a tie: the close (later offset); crossed */
		tt(15, 97, 96, 97, 0.25, TICK_SIDE_SELL, 10),
	};
	for (int i = 0; i < 5; i++)
		win_agg_add(&a, &t[i]);
	T_INT(a.ticks_v6, 5, "ticks_v6 = ticks: whole");
	T_OK(a.open == 99 && a.open_time == 10, "open: least time, a tie keeps the earlier tick");
	T_OK(a.close == 103 && a.close_time == 20, "close: greatest time, a tie takes the later tick");
	T_OK(a.high == 103 && a.low == 97, "high and low");
	T_OK(a.sum_size == (((0.5 + 2) + 0) + 1) + 0.25, "volume summed in arrival order");
	T_OK(a.sum_notional == ((((101 * 0.5) + 99 * 2.0) + 0) + 103) + 97 * 0.25, "price * size summed");
	T_OK(a.min_trade_id == 7 && a.max_trade_id == 12 && a.trade_ticks == 4, "trade ids: the span and the count");
	T_OK(a.sum_spread == (((2 + 1.5) + 2) + -1.0) + 1 && a.max_spread == 2, "spread: ask - bid, summed and max");
	T_OK(a.buy_size == 1.5 && a.sell_size == 2.25, "buy and sell volume by side");

	/* partition 0 has the first two, 1 the other three: merged in that order */
	win_agg_add(&p, &t[0]);
	win_agg_add(&p, &t[1]);
	for (int i = 2; i < 5; i++)
		win_agg_add(&q, &t[i]);
	struct win_agg m = p;
	agg_merge(&m, &q);
	T_OK(m.open == 99 && m.close == 103, "merge: a tie in time goes to the first partition (open), the last (close)");
	m = q;
	agg_merge(&m, &p);
	T_OK(m.open == 98 && m.close == 101, "merge: the other partition order, the other ties");
	T_OK(m.high == 103 && m.low == 97 && m.min_trade_id == 7 && m.max_trade_id == 12 && m.trade_ticks == 4,
	     "merge: extremes and counts");

	struct win_agg one = { 0 };
	win_agg_add(&one, &t[4]);
	T_OK(one.open == 97 && one.close == 97 && one.high == 97 && one.low == 97, "a single tick: O = H = L = C");
	struct win_agg none = { 0 };
	win_agg_add(&none, &t[2]);
	T_OK(none.min_trade_id == INT64_MAX && none.max_trade_id == -1 && none.sum_size == 0,
	     "a tick without trade id or size");
}

static void test_format(void)
{
	struct win_agg a = { .ticks = 4, .sum_price = 404.0, .sum_volume_24h = 0.5, .max_time = 61 * S + 234567,
	                     .max_best_bid = 1853.43, .max_best_ask = 1e+22, .ticks_v6 = 4, .open = 100.5,
	                     .open_time = 61 * S, .close = 101.25, .close_time = 62 * S, .high = 102, .low = 99.5,
	                     .sum_size = 2, .sum_notional = 201, .min_trade_id = 100, .max_trade_id = 109,
	                     .trade_ticks = 4, .sum_spread = 1, .max_spread = 0.5, .buy_size = 1.5, .sell_size = 0.5 };
	static const char *const want[AGG_NCOLS] = {
		"1970-01-01T00:01:01.234Z", "101", "1853.43", "1e+22", "0.125",
		"100.5", "102", "99.5", "101.25", "2", "100.5", "4", "6", "0.25", "0.5", "1.5", "0.5",
	};
	char buf[FMT_BUF];

	T_INT(AGG_NCOLS, 17, "the lab's five and twelve of version 6");
	for (int c = 0; c < AGG_NCOLS; c++) {
		size_t n = agg_col_format(c, &a, buf);
		T_STR(buf, want[c], agg_cols[c].name);
		T_INT(n, strlen(want[c]), "its length");
		T_INT(agg_col_find(agg_cols[c].name, strlen(agg_cols[c].name)), c, "found by name");
	}
	T_INT(agg_col_find("avg(price", 9), -1, "a name cut short is not a column");
	/* empty: a window from before version 6, no size, no trade id */
	struct win_agg old = a;
	old.ticks_v6 = 3;
	int empty = 0;
	for (int c = 0; c < AGG_NCOLS; c++)
		empty += agg_col_format(c, &old, buf) == 0 && buf[0] == 0;
	T_INT(empty, 11, "a partial window: the eleven of version 6 but ticks empty");
	struct win_agg z = a;
	z.sum_size = z.sum_notional = 0;
	T_INT(agg_col_format(agg_col_find("vwap", 4), &z, buf), 0, "vwap of no volume: empty");
	T_STR(buf, "", "empty");
	z.max_trade_id = -1;
	z.min_trade_id = INT64_MAX;
	z.trade_ticks = 0;
	T_INT(agg_col_format(agg_col_find("trade_gap", 9), &z, buf), 0, "trade_gap of no trade id: empty");
	T_INT(agg_col_find("window_start", 12), -1, "the key columns are export.c's");
}

static void test_record(void)
{
	char buf[REC_TEXT_MAX];
	struct win_agg a = { .ticks = 3, .sum_price = 82563.51000000001, .sum_volume_24h = 1e+22,
	                     .max_time = 1682348458172820, .max_best_bid = 27535.78, .max_best_ask = 0.1 }, b;
	uint64_t seed = 42;

	/* a record of before version 6: six fields, read as a partial window */
	T_OK(rec_parse_window("3 82563.51000000001 1e+22 1682348458172820 27535.78 0.1", 55, &b) == 0 &&
	     !memcmp(&a, &b, sizeof(a)) && b.ticks_v6 == 0, "a record of six fields (version 5): partial");
	a.ticks_v6 = 3;
	a.open = 27521.17;
	a.close_time = -1;
	a.max_trade_id = -1;
	a.min_trade_id = INT64_MAX;
	a.sum_spread = 0.1 + 0.2;
	int n = rec_val_window(buf, sizeof(buf), &a);
	T_STR(buf, "3 82563.51000000001 1e+22 1682348458172820 27535.78 0.1 3 27521.17 0 0 -1 0 0 0 0 "
	           "9223372036854775807 -1 0 0.30000000000000004 0 0 0", "a window's value, byte for byte");
	T_INT(n, (long long)strlen(buf), "its length");
	int ok = 1;
	for (int i = 0; i < 1000; i++) {
		a.ticks = (int64_t)(t_xorshift(&seed) >> 40) + 1;
		a.sum_price = rnd(&seed) * (double)a.ticks;
		a.sum_volume_24h = rnd(&seed) / 7;
		a.max_time = (int64_t)(t_xorshift(&seed) >> 2) - (1LL << 61);
		a.max_best_bid = rnd(&seed);
		a.max_best_ask = rnd(&seed) * 1e-300;
		a.ticks_v6 = a.ticks;
		a.open = rnd(&seed);
		a.open_time = a.max_time - 5;
		a.close = -rnd(&seed);
		a.close_time = a.max_time;
		a.high = rnd(&seed) * 1e300;
		a.low = rnd(&seed) / 3;
		a.sum_size = rnd(&seed) / 11;
		a.sum_notional = rnd(&seed) * 1e5;
		a.min_trade_id = (int64_t)(t_xorshift(&seed) >> 3);
		a.max_trade_id = a.min_trade_id + 7;
		a.trade_ticks = a.ticks;
		a.sum_spread = -rnd(&seed);
		a.max_spread = rnd(&seed) / 13;
		a.buy_size = rnd(&seed) / 17;
		a.sell_size = rnd(&seed) / 19;
		n = rec_val_window(buf, sizeof(buf), &a);
		ok &= rec_parse_window(buf, (size_t)n, &b) == 0 && !memcmp(&a, &b, sizeof(a));
	}
	T_OK(ok, "1000 random windows read back bit for bit");
	rec_window_syntax(buf, sizeof(buf));
	T_STR(buf, "<ticks> <sum_price> <sum_volume_24h> <max_time> <max_best_bid> <max_best_ask> <ticks_v6> <open> "
	           "<open_time> <close> <close_time> <high> <low> <sum_size> <sum_notional> <min_trade_id> "
	           "<max_trade_id> <trade_ticks> <sum_spread> <max_spread> <buy_size> <sell_size>", "the syntax");
	T_OK(rec_parse_window("0 1 2 3 4 5", 11, &b) < 0, "a window of no tick refused");
	T_OK(rec_parse_window("1 1 2 3 4", 9, &b) < 0, "a field short refused");
}

static void test_sql(void)
{
	char out[4096];

	T_OK(agg_sql("SELECT @agg_columns@ FROM windows", AGG_NFIELDS, out, sizeof(out)) > 0 &&
	     !strncmp(out, "SELECT ticks, sum_price, sum_volume_24h, max_time, max_best_bid, max_best_ask, ticks_v6, "
	                   "open, open_time, close, ", 93) && strstr(out, ", sell_size FROM windows"),
	     "@agg_columns@");
	T_OK(agg_sql("VALUES (?1, @agg_params@)", AGG_NFIELDS, out, sizeof(out)) == 12 + 3 * AGG_NFIELDS - 1 &&
	     !strncmp(out, "VALUES (?1, ?, ?, ?, ?, ?, ?, ?", 31), "@agg_params@");
	T_OK(agg_sql("SELECT @agg_merged@;", AGG_NFIELDS, out, sizeof(out)) > 0 &&
	     !strncmp(out, "SELECT sum(ticks), sum(sum_price), sum(sum_volume_24h), max(max_time), max(max_best_bid), "
	                   "max(max_best_ask), sum(ticks_v6), (SELECT x.open FROM windows x WHERE ", 142) &&
	     strstr(out, "ORDER BY x.open_time, x.topic, x.partition LIMIT 1), min(open_time), (SELECT x.close ") &&
	     strstr(out, "ORDER BY x.close_time DESC, x.topic DESC, x.partition DESC LIMIT 1), max(close_time), "
	                 "max(high), min(low), sum(sum_size)"), "@agg_merged@: FIRST and LAST a subquery");
	T_OK(agg_sql("SELECT @agg_merged@;", AGG_F_ticks_v6, out, sizeof(out)) > 0 &&
	     strstr(out, "max(max_best_ask), 0, 0, 0, 0, 0, 0,") && !strstr(out, "ticks_v6"),
	     "@agg_merged@ of a table of version 5: the new fields 0");
	T_INT(agg_sql("no list at all", AGG_NFIELDS, out, sizeof(out)), 14, "plain SQL copied");
	T_INT(agg_sql("SELECT @agg_nope@", AGG_NFIELDS, out, sizeof(out)), -1, "an unknown list refused");
	T_INT(agg_sql("SELECT @agg_columns", AGG_NFIELDS, out, sizeof(out)), -1, "an unterminated list refused");
	T_INT(agg_sql("SELECT @agg_columns@", AGG_NFIELDS, out, 20), -1, "too long refused");
}

/* The windows table (schema.sql) has the fields as columns, after the key, in
 * order and of their type; views.sql names each, and window_aggregates has
 * every CSV column. */
static void test_schema(sqlite3 *db)
{
	sqlite3_stmt *q;
	int col = 0, ok = 1;

	sqlite3_prepare_v2(db, "SELECT name, type, \"notnull\" FROM pragma_table_info('windows') ORDER BY cid", -1, &q,
	                   NULL);
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 0), *type = (const char *)sqlite3_column_text(q, 1);
		int f = col++ - 5;
		if (f < 0)
			continue;
		if (f >= AGG_NFIELDS || strcmp(name, agg_fields[f].column) ||
		    strcmp(type, agg_fields[f].type == AGG_INT ? "INTEGER" : "REAL") || !sqlite3_column_int(q, 2)) {
			printf("# windows column %d: %s %s, not agg_fields[%d]\n", col - 1, name, type, f);
			ok = 0;
		}
	}
	sqlite3_finalize(q);
	T_OK(ok && col == 5 + AGG_NFIELDS, "schema.sql's windows table: the key, then every field, typed, in order");
	for (int f = 0; f < AGG_NFIELDS; f++)
		T_OK(strstr(sql_views, agg_fields[f].column) != NULL, "views.sql uses %s", agg_fields[f].column);
	for (int c = 0; c < AGG_NCOLS; c++) {
		char sql[128];
		snprintf(sql, sizeof(sql), "SELECT \"%s\" FROM window_aggregates", agg_cols[c].name);
		T_OK(sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK, "window_aggregates has \"%s\"",
		     agg_cols[c].name);
		sqlite3_finalize(q);
	}
}

/* Partials of 3 products x 4 windows x 7 partitions, merged by the export
 * (store_rows_each), by agg_merge in partition order, and by the view. */
struct merged {
	struct win_agg want[3][4];
	int rows, same, view_same;
};

static int check_row(const struct store_row *r, void *arg)
{
	struct merged *m = arg;
	int p = r->product_id[0] - 'A', w = (int)(r->window_start / (60 * S));
	m->rows++;
	m->same += p >= 0 && p < 3 && w >= 0 && w < 4 && !memcmp(&r->agg, &m->want[p][w], sizeof(r->agg));
	return 0;
}

/* Every CSV column of the view, against agg_col_format of the merged rows. */
static void check_view(sqlite3 *db, struct merged *m)
{
	sqlite3_stmt *q;
	for (int c = 0; c < AGG_NCOLS; c++) {
		char sql[256], mine[FMT_BUF], theirs[FMT_BUF];
		snprintf(sql, sizeof(sql), "SELECT product_id, window_start_us, \"%s\" FROM window_aggregates",
		         agg_cols[c].name);
		if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
			continue;
		while (sqlite3_step(q) == SQLITE_ROW) {
			int p = sqlite3_column_text(q, 0)[0] - 'A', w = (int)(sqlite3_column_int64(q, 1) / (60 * S));
			agg_col_format(c, &m->want[p][w], mine);
			if (sqlite3_column_type(q, 2) == SQLITE_NULL)
				theirs[0] = '\0';
			else if (agg_cols[c].fmt != AGG_FMT_REAL)
				snprintf(theirs, sizeof(theirs), "%s", (const char *)sqlite3_column_text(q, 2));
			else
				fmt_double(sqlite3_column_double(q, 2), theirs);
			if (strcmp(mine, theirs))
				printf("# view %s: %s, the CSV %s\n", agg_cols[c].name, theirs, mine);
			m->view_same += !strcmp(mine, theirs);
		}
		sqlite3_finalize(q);
	}
}

static void test_merge_vs_sql(void)
{
	struct store_settings s = { 60 * S, 60 * S, 120 * S };
	struct store *st = NULL;
	struct merged m;
	char err[512];
	uint64_t seed = 7;

	memset(&m, 0, sizeof(m));
	T_OK(store_open(&st, t_path("m.db"), &s, 0, err, sizeof(err)) == 0, "a state");
	store_begin(st, err, sizeof(err));
	for (int part = 0; part < 7; part++)
		for (int p = 0; p < 3; p++)
			for (int w = 0; w < 4; w++) {
				struct win_agg a = { 0 };
				char id[2] = { (char)('A' + p), 0 };
				for (int i = 0, n = 1 + (int)(t_xorshift(&seed) % 5); i < n; i++) {
					/* four times a window: ties within and across partitions */
					uint64_t r = t_xorshift(&seed);
					struct tick t = tt(w * 60 * S + (int64_t)(r % 4) * 15 * S, rnd(&seed), rnd(&seed),
					                   rnd(&seed), r >> 60 ? rnd(&seed) / 7 : 0, (int64_t)(r >> 8) % 3,
					                   (r >> 20) % 5 ? (int64_t)(r >> 40) : -1);
					t.volume_24h = rnd(&seed);
					win_agg_add(&a, &t);
				}
				if (p == 2 && w == 3 && part == 4)
					a.ticks_v6 = 0; /* one partial of before version 6: that window empty */
				struct store_wkey k = { "t", part, id, w * 60 * S, (w + 1) * 60 * S };
				store_window_put(st, &k, &a, err, sizeof(err));
				if (part == 0)
					m.want[p][w] = a;
				else
					agg_merge(&m.want[p][w], &a);
			}
	T_OK(store_commit(st, err, sizeof(err)) == 0, "84 partials stored");
	T_INT(store_rows_each(st, WM_NONE, 4 * 60 * S, check_row, &m, err, sizeof(err)), 12, "12 merged rows");
	T_INT(m.same, 12, "the rows statement merges as agg_merge does, bit for bit");
	sqlite3 *db;
	sqlite3_open_v2(t_path("m.db"), &db, SQLITE_OPEN_READONLY, NULL);
	test_schema(db);
	check_view(db, &m);
	T_INT(m.view_same, 12 * AGG_NCOLS, "window_aggregates gives the CSV's values, bit for bit");
	sqlite3_close(db);
	store_close(st);
}

int main(void)
{
	if (t_tmpdir("test_agg"))
		return 1;
	test_add_merge();
	test_candle();
	test_format();
	test_record();
	test_sql();
	test_merge_vs_sql();
	t_rmdir();
	return t_done();
}

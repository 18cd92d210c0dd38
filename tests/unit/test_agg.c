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

/* A tick with the fields the aggregate takes. */
static struct tick tk(int64_t t, double price, double vol, double bid, double ask)
{
	struct tick x = { "BTC-USD", t, price, vol, bid, ask, -1, -1 };
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

static void test_format(void)
{
	struct win_agg a = { 4, 404.0, 0.5, 61 * S + 234567, 1853.43, 1e+22 };
	static const char *const want[AGG_NCOLS] = {
		"1970-01-01T00:01:01.234Z", "101", "1853.43", "1e+22", "0.125",
	};
	char buf[FMT_BUF];

	T_INT(AGG_NCOLS, 5, "five aggregate columns today");
	for (int c = 0; c < AGG_NCOLS; c++) {
		size_t n = agg_col_format(c, &a, buf);
		T_STR(buf, want[c], agg_cols[c].name);
		T_INT(n, strlen(want[c]), "its length");
		T_INT(agg_col_find(agg_cols[c].name, strlen(agg_cols[c].name)), c, "found by name");
	}
	T_INT(agg_col_find("avg(price", 9), -1, "a name cut short is not a column");
	T_INT(agg_col_find("window_start", 12), -1, "the key columns are export.c's");
}

static void test_record(void)
{
	char buf[REC_TEXT_MAX];
	struct win_agg a = { 3, 82563.51000000001, 1e+22, 1682348458172820, 27535.78, 0.1 }, b;
	uint64_t seed = 42;

	int n = rec_val_window(buf, sizeof(buf), &a);
	T_STR(buf, "3 82563.51000000001 1e+22 1682348458172820 27535.78 0.1", "a window's value, byte for byte");
	T_INT(n, (long long)strlen(buf), "its length");
	int ok = 1;
	for (int i = 0; i < 1000; i++) {
		a.ticks = (int64_t)(t_xorshift(&seed) >> 40) + 1;
		a.sum_price = rnd(&seed) * (double)a.ticks;
		a.sum_volume_24h = rnd(&seed) / 7;
		a.max_time = (int64_t)(t_xorshift(&seed) >> 2) - (1LL << 61);
		a.max_best_bid = rnd(&seed);
		a.max_best_ask = rnd(&seed) * 1e-300;
		n = rec_val_window(buf, sizeof(buf), &a);
		ok &= rec_parse_window(buf, (size_t)n, &b) == 0 && !memcmp(&a, &b, sizeof(a));
	}
	T_OK(ok, "1000 random windows read back bit for bit");
	rec_window_syntax(buf, sizeof(buf));
	T_STR(buf, "<ticks> <sum_price> <sum_volume_24h> <max_time> <max_best_bid> <max_best_ask>", "the syntax");
	T_OK(rec_parse_window("0 1 2 3 4 5", 11, &b) < 0, "a window of no tick refused");
	T_OK(rec_parse_window("1 1 2 3 4", 9, &b) < 0, "a field short refused");
}

static void test_sql(void)
{
	char out[512];

	T_OK(agg_sql("SELECT @agg_columns@ FROM windows", out, sizeof(out)) > 0 &&
	     !strcmp(out, "SELECT ticks, sum_price, sum_volume_24h, max_time, max_best_bid, max_best_ask FROM windows"),
	     "@agg_columns@");
	T_OK(agg_sql("VALUES (?1, @agg_params@)", out, sizeof(out)) > 0 && !strcmp(out, "VALUES (?1, ?, ?, ?, ?, ?, ?)"),
	     "@agg_params@");
	T_OK(agg_sql("SELECT @agg_merged@;", out, sizeof(out)) > 0 &&
	     !strcmp(out, "SELECT sum(ticks), sum(sum_price), sum(sum_volume_24h), max(max_time), max(max_best_bid), "
	                  "max(max_best_ask);"), "@agg_merged@");
	T_INT(agg_sql("no list at all", out, sizeof(out)), 14, "plain SQL copied");
	T_INT(agg_sql("SELECT @agg_nope@", out, sizeof(out)), -1, "an unknown list refused");
	T_INT(agg_sql("SELECT @agg_columns", out, sizeof(out)), -1, "an unterminated list refused");
	T_INT(agg_sql("SELECT @agg_columns@", out, 20), -1, "too long refused");
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
			if (agg_cols[c].fmt == AGG_FMT_TIME)
				snprintf(theirs, sizeof(theirs), "%s", (const char *)sqlite3_column_text(q, 2));
			else
				fmt_double(sqlite3_column_double(q, 2), theirs);
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
					struct tick t = tk(w * 60 * S + (int64_t)(t_xorshift(&seed) % (60 * S)), rnd(&seed),
					                   rnd(&seed), rnd(&seed), rnd(&seed));
					win_agg_add(&a, &t);
				}
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
	test_format();
	test_record();
	test_sql();
	test_merge_vs_sql();
	t_rmdir();
	return t_done();
}

/* Unit tests: the state file (schema, views, lock, versions, settings) and the
 * CSV export with its crash recovery. */
#include "harness.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agg.h"
#include "export.h"
#include "store.h"

#define S 1000000LL

static int collect(const struct store_row *r, void *arg)
{
	struct store_row *out = arg;
	int i = 0;
	while (out[i].product_id)
		i++;
	out[i] = *r;
	out[i].product_id = "x"; /* the text is only valid during the callback */
	return 0;
}

static char *slurp(const char *p)
{
	static char buf[8192];
	FILE *f = fopen(p, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = 0;
	return buf;
}

static void test_schema_and_rows(void)
{
	struct store_settings s = { 60 * S, 60 * S, 120 * S };
	struct store *st = NULL, *st2 = NULL;
	char err[512];
	struct win_agg a = { .ticks = 2, .sum_price = 200.0, .sum_volume_24h = 20.0, .max_time = 61 * S, .max_best_bid = 99.0, .max_best_ask = 101.0 };
	struct win_agg b = { .ticks = 1, .sum_price = 103.0, .sum_volume_24h = 40.0, .max_time = 62 * S, .max_best_bid = 98.0, .max_best_ask = 105.0 };
	struct win_agg got;

	T_OK(store_open(&st, t_path("a.db"), &s, 0, err, sizeof(err)) == 0, "create a state file");
	T_OK(store_open(&st2, t_path("a.db"), &s, 0, err, sizeof(err)) < 0, "a second writer is refused");
	T_OK(strstr(err, "in use by another aggregator") != NULL, "with a clear message");
	T_OK(store_begin(st, err, sizeof(err)) == 0, "begin");
	struct store_wkey k0 = { "BTC-USD", 0, "BTC-USD", 60 * S, 120 * S };
	struct store_wkey k1 = { "BTC-USD", 1, "BTC-USD", 60 * S, 120 * S };
	T_OK(store_window_put(st, &k0, &a, err, sizeof(err)) == 0, "put partition 0's window");
	T_OK(store_window_put(st, &k1, &b, err, sizeof(err)) == 0, "put partition 1's window");
	T_INT(store_window_get(st, &k1, &got), 1, "get it back");
	T_DBL(got.sum_price, 103.0, 0, "exact sum");
	struct store_partition p = { .next_offset = 42, .max_time = 62 * S, .rejected = 3, .time_run_max = WM_NONE };
	T_OK(store_partition_put(st, "BTC-USD", 1, &p, 5, err, sizeof(err)) == 0, "put a partition");
	T_OK(store_meta_set(st, "watermark_us", 120 * S, err, sizeof(err)) == 0, "set the watermark");
	T_OK(store_commit(st, err, sizeof(err)) == 0, "commit");

	struct store_partition q;
	T_INT(store_partition_get(st, "BTC-USD", 1, &q), 1, "partition found");
	T_INT(q.next_offset, 42, "next offset kept");
	T_INT(store_partition_get(st, "BTC-USD", 7, &q), 0, "unknown partition");
	T_INT(q.next_offset, -1, "unknown partition has no offset");

	struct store_row rows[4];
	memset(rows, 0, sizeof(rows));
	T_INT(store_rows_each(st, WM_NONE, 120 * S, collect, rows, err, sizeof(err)), 1,
	      "partitions merge into one row");
	T_INT(rows[0].agg.ticks, 3, "ticks over both partitions");
	T_DBL(rows[0].agg.sum_price / rows[0].agg.ticks, 101.0, 0, "avg(price) over both partitions");
	T_DBL(rows[0].agg.sum_volume_24h / rows[0].agg.ticks, 20.0, 0, "avg(volume_24h)");
	T_INT(rows[0].agg.max_time, 62 * S, "max(timestamp)");
	T_DBL(rows[0].agg.max_best_bid, 99.0, 0, "max(best_bid)");
	T_DBL(rows[0].agg.max_best_ask, 105.0, 0, "max(best_ask)");
	T_INT(store_rows_each(st, 120 * S, 180 * S, collect, rows, err, sizeof(err)), 0, "range excludes its start");
	store_close(st);

	/* The views, read as a user would with sqlite3 while the aggregator runs. */
	sqlite3 *db;
	sqlite3_stmt *q1;
	sqlite3_open_v2(t_path("a.db"), &db, SQLITE_OPEN_READONLY, NULL);
	T_OK(sqlite3_prepare_v2(db, "SELECT window_start, window_end, product_id, \"max(timestamp)\", \"avg(price)\","
	     " ticks, closed, exported FROM window_aggregates", -1, &q1, NULL) == SQLITE_OK, "window_aggregates view");
	T_INT(sqlite3_step(q1), SQLITE_ROW, "one row");
	T_STR((const char *)sqlite3_column_text(q1, 0), "1970-01-01T00:01:00.000Z", "readable window_start");
	T_STR((const char *)sqlite3_column_text(q1, 3), "1970-01-01T00:01:02.000Z", "readable max(timestamp)");
	T_DBL(sqlite3_column_double(q1, 4), 101.0, 0, "same avg as the export");
	T_INT(sqlite3_column_int(q1, 5), 3, "ticks");
	T_INT(sqlite3_column_int(q1, 6), 1, "closed");
	T_INT(sqlite3_column_type(q1, 7), SQLITE_NULL, "not exported (nothing exported yet)");
	sqlite3_finalize(q1);
	T_OK(sqlite3_prepare_v2(db, "SELECT topic, partition, next_offset, rejected, watermark FROM progress"
	     " ORDER BY partition", -1, &q1, NULL) == SQLITE_OK, "progress view");
	T_INT(sqlite3_step(q1), SQLITE_ROW, "a progress row");
	T_INT(sqlite3_column_int(q1, 2), 42, "progress: next offset");
	T_STR((const char *)sqlite3_column_text(q1, 4), "1970-01-01T00:02:00.000Z", "progress: watermark");
	sqlite3_finalize(q1);
	sqlite3_close(db);

	struct store_settings other = { 30 * S, 30 * S, 120 * S };
	T_OK(store_open(&st, t_path("a.db"), &other, 0, err, sizeof(err)) < 0, "other settings refused");
	T_OK(strstr(err, "--window 1m") != NULL && strstr(err, "30s") != NULL, "message names both settings");
}

static const char *journal_mode(const char *file)
{
	static char mode[16];
	sqlite3 *db;
	sqlite3_stmt *q;
	mode[0] = 0;
	sqlite3_open(file, &db);
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		snprintf(mode, sizeof(mode), "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	sqlite3_close(db);
	return mode;
}

static void test_bad_files(void)
{
	struct store_settings s = { 60 * S, 60 * S, 120 * S };
	struct store *st = NULL;
	char err[512];
	int fd;

	fd = open(t_path("junk.db"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	T_OK(write(fd, "this is not a database, not at all, really not, not even close to it.....", 74) == 74, "junk written");
	close(fd);
	T_OK(store_open(&st, t_path("junk.db"), &s, 0, err, sizeof(err)) < 0, "a file that is not SQLite is refused");
	T_OK(strstr(err, "not an aggregator state file") != NULL, "clear message for junk");

	sqlite3 *db;
	sqlite3_open(t_path("v9.db"), &db);
	sqlite3_exec(db, "CREATE TABLE x(a); PRAGMA user_version = 9;", NULL, NULL, NULL);
	sqlite3_close(db);
	T_OK(store_open(&st, t_path("v9.db"), &s, 0, err, sizeof(err)) < 0, "a newer schema version is refused");
	T_OK(strstr(err, "version 9") != NULL, "message names the version");

	sqlite3_open(t_path("other.db"), &db);
	sqlite3_exec(db, "CREATE TABLE x(a);", NULL, NULL, NULL);
	sqlite3_close(db);
	T_OK(store_open(&st, t_path("other.db"), &s, 0, err, sizeof(err)) < 0, "someone else's SQLite file is refused");
	/* A refused file is left as it was: not switched to WAL. */
	T_OK(strcmp(journal_mode(t_path("other.db")), "delete") == 0, "the refused file keeps its journal mode");
	T_OK(strcmp(journal_mode(t_path("v9.db")), "delete") == 0, "so does the refused newer version");

	T_OK(store_open(&st, "/nonexistent-dir/x.db", &s, 0, err, sizeof(err)) < 0, "missing directory");
	T_OK(strstr(err, "directory exist") != NULL, "message points at the directory");
}

static int64_t app_id(const char *file)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	int64_t v = -1;
	sqlite3_open(file, &db);
	if (sqlite3_prepare_v2(db, "PRAGMA application_id", -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

/* Ours is told by the application_id, or in a state made before states
 * carried one, by its tables; anything else is refused unwritten. */
static void test_whose_file(void)
{
	struct store_settings s = { 60 * S, 60 * S, 120 * S };
	struct store *st = NULL;
	char err[600], path[700];
	sqlite3 *db;

	T_OK(store_open(&st, t_path("mine.db"), &s, 0, err, sizeof(err)) == 0, "a new state");
	store_close(st);
	T_INT(app_id(t_path("mine.db")), STORE_APP_ID, "carries our application_id");
	sqlite3_open(t_path("mine.db"), &db);
	sqlite3_exec(db, "PRAGMA application_id = 0", NULL, NULL, NULL);
	sqlite3_close(db);
	T_OK(store_open(&st, t_path("mine.db"), NULL, 1, err, sizeof(err)) == 0, "without it (an earlier version's): "
	     "opens read-only");
	store_close(st);
	T_INT(app_id(t_path("mine.db")), 0, "which writes nothing");
	T_OK(store_open(&st, t_path("mine.db"), &s, 0, err, sizeof(err)) == 0, "and for writing");
	store_close(st);
	T_INT(app_id(t_path("mine.db")), STORE_APP_ID, "which marks it ours");

	sqlite3_open(t_path("claimed.db"), &db);
	sqlite3_exec(db, "PRAGMA application_id = 7", NULL, NULL, NULL);
	sqlite3_close(db);
	T_OK(store_open(&st, t_path("claimed.db"), &s, 0, err, sizeof(err)) < 0, "an empty file of another program");
	T_OK(strstr(err, "application_id 0x00000007 is another program's") != NULL, "is not ours");

	sqlite3_open(t_path("meta4.db"), &db);
	sqlite3_exec(db, "CREATE TABLE meta (key, value); CREATE TABLE windows (x); PRAGMA user_version = 4;",
	             NULL, NULL, NULL);
	sqlite3_close(db);
	T_OK(store_open(&st, t_path("meta4.db"), &s, 0, err, sizeof(err)) < 0, "a meta table at version 4 is not enough");
	T_OK(strcmp(journal_mode(t_path("meta4.db")), "delete") == 0, "and it keeps its journal mode");

	/* two directories of 200 bytes, then a name that makes 512 bytes */
	int n = snprintf(path, sizeof(path), "%s", t_path("d"));
	for (int i = 0; i < 2; i++) {
		memset(path + n, 'd', 200);
		path[n + 200] = 0;
		mkdir(path, 0755);
		n += 200;
		path[n++] = '/';
	}
	memset(path + n, 'x', (size_t)(STORE_PATH_MAX + 1 - n));
	path[STORE_PATH_MAX + 1] = 0;
	T_OK(store_open(&st, path, &s, 0, err, sizeof(err)) < 0, "a path over STORE_PATH_MAX");
	T_OK(strstr(err, "too long") != NULL && access(path, F_OK) != 0, "is refused, nothing created");
	path[STORE_PATH_MAX] = 0;
	T_OK(access(path, F_OK) != 0, "not even at the path cut short");
	path[STORE_PATH_MAX] = 0;
	st = NULL;
	T_OK(store_open(&st, path, &s, 0, err, sizeof(err)) == 0, "one of STORE_PATH_MAX opens");
	store_close(st);
}

/* What versions 3, 4, 5 and 6 added, taken away again (the view first: it
 * names the columns). */
#define V6_TO_V5 "DROP VIEW window_aggregates; " \
	"ALTER TABLE windows DROP COLUMN ticks_v6; " "ALTER TABLE windows DROP COLUMN open; " \
	"ALTER TABLE windows DROP COLUMN open_time; " "ALTER TABLE windows DROP COLUMN close; " \
	"ALTER TABLE windows DROP COLUMN close_time; " "ALTER TABLE windows DROP COLUMN high; " \
	"ALTER TABLE windows DROP COLUMN low; " "ALTER TABLE windows DROP COLUMN sum_size; " \
	"ALTER TABLE windows DROP COLUMN sum_notional; " "ALTER TABLE windows DROP COLUMN min_trade_id; " \
	"ALTER TABLE windows DROP COLUMN max_trade_id; " "ALTER TABLE windows DROP COLUMN trade_ticks; " \
	"ALTER TABLE windows DROP COLUMN sum_spread; " "ALTER TABLE windows DROP COLUMN max_spread; " \
	"ALTER TABLE windows DROP COLUMN buy_size; " "ALTER TABLE windows DROP COLUMN sell_size; "
#define V5_TO_V4 V6_TO_V5 "ALTER TABLE partitions DROP COLUMN fp_time; ALTER TABLE partitions DROP COLUMN fp_hash; "
#define V4_TO_V3 V5_TO_V4 "ALTER TABLE partitions DROP COLUMN closed_until; "
#define V3_TO_V2 V4_TO_V3 "ALTER TABLE partitions DROP COLUMN time_run; ALTER TABLE partitions DROP COLUMN time_run_max;" \
	" ALTER TABLE partitions DROP COLUMN skew_run; ALTER TABLE partitions DROP COLUMN skew_first;" \
	" ALTER TABLE products DROP COLUMN jump_seq; ALTER TABLE products DROP COLUMN jump_run;" \
	" ALTER TABLE products DROP COLUMN back_seq; ALTER TABLE products DROP COLUMN back_run;"

static int test_store_one_product(const struct store_product *p, void *arg)
{
	*(struct store_product *)arg = *p;
	return 0;
}

/* A version 1 state file (before data_loss) is migrated when opened for
 * writing, and read as it is for export. */
static void test_migrate_v1(void)
{
	struct store_settings s = { 60 * S, 60 * S, 120 * S };
	struct store *st = NULL;
	char err[512];
	sqlite3 *db;
	int64_t v = 0;

	T_OK(store_open(&st, t_path("v1.db"), &s, 0, err, sizeof(err)) == 0, "a new state");
	store_close(st);
	sqlite3_open(t_path("v1.db"), &db);
	T_OK(sqlite3_exec(db, V3_TO_V2 "DROP TABLE data_loss; DROP VIEW progress; CREATE VIEW progress AS SELECT 1 AS x;"
	                      " PRAGMA user_version = 1;", NULL, NULL, NULL) == SQLITE_OK, "made a version 1 file");
	sqlite3_close(db);
	T_OK(store_open(&st, t_path("v1.db"), &s, 1, err, sizeof(err)) == 0, "version 1 opens read-only (export)");
	store_close(st);
	T_OK(store_open(&st, t_path("v1.db"), &s, 0, err, sizeof(err)) == 0, "version 1 opens for writing");
	T_OK(store_begin(st, err, sizeof(err)) == 0 &&
	     store_data_loss_add(st, "t", 0, 10, 25, 15, 1, err, sizeof(err)) == 0 &&
	     store_commit(st, err, sizeof(err)) == 0, "and takes a data_loss row");
	store_close(st);
	sqlite3_open(t_path("v1.db"), &db);
	sqlite3_stmt *q;
	sqlite3_prepare_v2(db, "SELECT (SELECT user_version FROM pragma_user_version) * 1000 + "
	                       "(SELECT count(*) FROM pragma_table_info('progress') WHERE name = 'lost')", -1, &q, NULL);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	T_OK(v == STORE_VERSION * 1000 + 1, "now this version, its progress view has lost");
}

/* A version 4 state file (before the fingerprint of the last record read)
 * is migrated: its partitions' fingerprints are unknown, until written. */
static void test_migrate_v4(void)
{
	struct store_settings s = { 60 * S, 60 * S, 120 * S };
	struct store *st = NULL;
	char err[512];
	sqlite3 *db;
	struct store_partition p = { .next_offset = 7, .max_time = 5 * S, .time_run_max = WM_NONE,
	                             .closed_until = WM_NONE, .fp_set = 1, .fp_time = 1682348400123,
	                             .fp_hash = INT64_MIN + 5 }, q;

	T_OK(store_open(&st, t_path("v4.db"), &s, 0, err, sizeof(err)) == 0, "a new state");
	T_OK(store_begin(st, err, sizeof(err)) == 0 && store_partition_put(st, "t", 0, &p, 1, err, sizeof(err)) == 0 &&
	     store_commit(st, err, sizeof(err)) == 0, "a partition with its fingerprint");
	T_OK(store_partition_get(st, "t", 0, &q) == 1 && q.fp_set == 1 && q.fp_time == p.fp_time &&
	     q.fp_hash == p.fp_hash, "it reads back");
	store_close(st);
	sqlite3_open(t_path("v4.db"), &db);
	T_OK(sqlite3_exec(db, V5_TO_V4 "PRAGMA user_version = 4;", NULL, NULL, NULL) == SQLITE_OK,
	     "made a version 4 file");
	sqlite3_close(db);
	T_OK(store_open(&st, t_path("v4.db"), &s, 0, err, sizeof(err)) == 0, "version 4 opens for writing");
	T_OK(store_partition_get(st, "t", 0, &q) == 1 && q.fp_set == 0 && q.next_offset == 7,
	     "its partition kept, the fingerprint unknown");
	store_close(st);
	T_OK(store_fp_hash("k", 1, "abcdefghij", 10) == store_fp_hash("k", 1, "abcdefghij", 10) &&
	     store_fp_hash("k", 1, "abcdefghij", 10) != store_fp_hash("k", 1, "abcdefghik", 10) &&
	     store_fp_hash("k", 1, "abcdefghij", 10) != store_fp_hash("kabcdefghij", 11, "", 0) &&
	     store_fp_hash(NULL, 0, "abcdefgh", 8) != store_fp_hash(NULL, 0, "abcdefgi", 8),
	     "the fingerprint's hash: stable, another for another byte, key and value apart");
	/* The value stored in state files: the same on every machine, for good. */
	T_INT(store_fp_hash("BTC-USD", 7, "{\"type\":\"ticker\"}", 17), -4055587657957516187LL,
	      "the fingerprint's hash of a fixed record");
}

/* A version 5 state file (before candles): its windows get the new columns
 * 0 and ticks_v6 0, partial: the CSV's new columns are empty for them, the
 * lab's as they were. */
static int test_store_one_row(const struct store_row *r, void *arg)
{
	*(struct store_row *)arg = *r;
	return 0;
}

static void test_migrate_v5(void)
{
	struct store_settings s = { 60 * S, 60 * S, 120 * S };
	struct store *st = NULL;
	char err[512], buf[64];
	sqlite3 *db;
	struct store_wkey k = { "t", 0, "BTC-USD", 60 * S, 120 * S };
	struct win_agg a = { .ticks = 2, .sum_price = 200.0, .sum_volume_24h = 20.0, .max_time = 61 * S,
	                     .max_best_bid = 99.0, .max_best_ask = 101.0 };
	struct store_row r;

	T_OK(store_open(&st, t_path("v5.db"), &s, 0, err, sizeof(err)) == 0, "a new state");
	T_OK(store_begin(st, err, sizeof(err)) == 0 && store_window_put(st, &k, &a, err, sizeof(err)) == 0 &&
	     store_commit(st, err, sizeof(err)) == 0, "a window");
	store_close(st);
	sqlite3_open(t_path("v5.db"), &db);
	T_OK(sqlite3_exec(db, V6_TO_V5 "PRAGMA user_version = 5;", NULL, NULL, NULL) == SQLITE_OK,
	     "made a version 5 file");
	sqlite3_close(db);
	T_OK(store_open(&st, t_path("v5.db"), &s, 0, err, sizeof(err)) == 0, "version 5 opens for writing");
	T_INT(store_rows_each(st, WM_NONE, 120 * S, test_store_one_row, &r, err, sizeof(err)), 1, "its window");
	T_OK(r.agg.ticks == 2 && r.agg.ticks_v6 == 0 && r.agg.max_best_ask == 101.0, "kept, and partial");
	T_INT(agg_col_format(agg_col_find("open", 4), &r.agg, buf), 0, "its open: empty");
	T_INT(agg_col_format(agg_col_find("avg(price)", 10), &r.agg, buf), 3, "its avg(price) as before");
	store_close(st);
}

/* A version 2 state file (before the confirmation runs) is migrated; the runs
 * are kept across a close. */
static void test_migrate_v2(void)
{
	struct store_settings s = { 60 * S, 60 * S, 120 * S };
	struct store *st = NULL;
	char err[512];
	sqlite3 *db;

	T_OK(store_open(&st, t_path("v2.db"), &s, 0, err, sizeof(err)) == 0, "a new state");
	struct store_partition p = { .next_offset = 7, .max_time = 5 * S, .rejected = 1, .time_run = 2,
	                             .time_run_max = 900 * S, .skew_run = 3, .skew_first = 4000 * S };
	struct store_product pr = { .product_id = "X-USD", .ticks = 3,
	                            .seq = { .max_sequence = 10, .jump_seq = 900000000, .jump_run = 4, .back_seq = -1,
	                                     .back_run = 0 } };
	T_OK(store_begin(st, err, sizeof(err)) == 0 && store_partition_put(st, "t", 0, &p, 1, err, sizeof(err)) == 0 &&
	     store_product_put(st, "t", 0, &pr, err, sizeof(err)) == 0 && store_commit(st, err, sizeof(err)) == 0,
	     "a partition and a product with runs");
	store_close(st);
	T_OK(store_open(&st, t_path("v2.db"), &s, 0, err, sizeof(err)) == 0, "opened again");
	struct store_partition q;
	T_OK(store_partition_get(st, "t", 0, &q) == 1 && q.time_run == 2 && q.time_run_max == 900 * S &&
	     q.skew_run == 3 && q.skew_first == 4000 * S && q.max_time == 5 * S, "the partition's runs kept");
	struct store_product got = { .seq = { .jump_run = -9 } };
	T_OK(store_products_each(st, "t", 0, test_store_one_product, &got) == 0 && got.seq.jump_seq == 900000000 &&
	     got.seq.jump_run == 4 && got.seq.back_seq == -1, "the product's runs kept");
	store_close(st);

	sqlite3_open(t_path("v2.db"), &db);
	T_OK(sqlite3_exec(db, V3_TO_V2 "PRAGMA user_version = 2;", NULL, NULL, NULL) == SQLITE_OK,
	     "made a version 2 file");
	sqlite3_close(db);
	T_OK(store_open(&st, t_path("v2.db"), &s, 1, err, sizeof(err)) == 0, "version 2 opens read-only (export)");
	store_close(st);
	T_OK(store_open(&st, t_path("v2.db"), &s, 0, err, sizeof(err)) == 0, "version 2 opens for writing");
	T_OK(store_partition_get(st, "t", 0, &q) == 1 && q.time_run == 0 && q.time_run_max == WM_NONE &&
	     q.next_offset == 7 && q.max_time == 5 * S, "no runs after the migration, the rest kept");
	got.seq.jump_run = -9;
	T_OK(store_products_each(st, "t", 0, test_store_one_product, &got) == 0 && got.seq.jump_seq == -1 &&
	     got.seq.jump_run == 0 && got.seq.max_sequence == 10, "the product: no runs, the rest kept");
	store_close(st);
}

/* A state of this version whose views are older (made by an earlier
 * aggregator of the same schema) gets the current ones when opened. */
static void test_views_updated(void)
{
	struct store_settings s = { 60 * S, 60 * S, 120 * S };
	struct store *st = NULL;
	char err[512];
	sqlite3 *db;
	sqlite3_stmt *vq = NULL;

	T_OK(store_open(&st, t_path("views.db"), &s, 0, err, sizeof(err)) == 0, "a new state");
	store_close(st);
	sqlite3_open(t_path("views.db"), &db);
	sqlite3_exec(db, "DROP VIEW window_aggregates; CREATE VIEW window_aggregates AS SELECT 1 AS x;", NULL, NULL,
	             NULL);
	sqlite3_close(db);
	T_OK(store_open(&st, t_path("views.db"), &s, 0, err, sizeof(err)) == 0, "opened again");
	store_close(st);
	sqlite3_open(t_path("views.db"), &db);
	T_OK(sqlite3_prepare_v2(db, "SELECT avg_price, max_best_bid, max_best_ask, avg_volume_24h, \"avg(price)\" "
	                        "FROM window_aggregates", -1, &vq, NULL) == SQLITE_OK,
	     "its views are the current ones (the CSV's columns, and the same without quoting)");
	sqlite3_finalize(vq);
	sqlite3_close(db);
}

/* The rejected table's budget: 16 KiB a payload, 16 MiB of payloads, 100000
 * rows; past it store_rejected_add says 1 and stores nothing. */
static void test_rejected_budget(void)
{
	struct store_settings s = { 60 * S, 60 * S, 120 * S };
	struct store *st = NULL;
	char err[512];
	static char big[20000];
	int ok = 1, r = 0;
	int64_t off = 0;

	memset(big, 'x', sizeof(big));
	T_OK(store_open(&st, t_path("rej.db"), &s, 0, err, sizeof(err)) == 0, "a new state");
	store_begin(st, err, sizeof(err));
	for (int i = 0; i < 1030 && ok; i++)
		ok = store_rejected_add(st, "t", 0, off++, "junk", big, sizeof(big), err, sizeof(err)) == 0;
	T_OK(ok, "1030 payloads of 20000 bytes recorded");
	for (; off < 100000 && ok; off++)
		ok = store_rejected_add(st, "t", 0, off, "junk", "x", 1, err, sizeof(err)) == 0;
	T_OK(ok, "rows up to 100000 recorded");
	r = store_rejected_add(st, "t", 0, off, "junk", "x", 1, err, sizeof(err));
	T_OK(r == 1, "the 100001st is not stored (returns 1)");
	store_commit(st, err, sizeof(err));
	store_close(st);

	sqlite3 *db;
	sqlite3_stmt *q;
	int64_t got[4] = { -1, -1, -1, -1 };
	sqlite3_open(t_path("rej.db"), &db);
	sqlite3_prepare_v2(db, "SELECT count(*), max(length(payload)), sum(length(payload) = 16384),"
	                       " sum(length(payload) = 0 AND bytes = 20000) FROM rejected", -1, &q, NULL);
	if (sqlite3_step(q) == SQLITE_ROW)
		for (int i = 0; i < 4; i++)
			got[i] = sqlite3_column_int64(q, i);
	sqlite3_finalize(q);
	sqlite3_close(db);
	T_OK(got[0] == 100000, "the table holds 100000 rows");
	T_OK(got[1] == 16384, "a payload is cut to 16 KiB");
	T_OK(got[2] == 1024, "1024 of them fill the 16 MiB of payloads");
	T_OK(got[3] == 6, "the 6 after that are rows without payload, their length kept");
}

static void test_export(void)
{
	struct store_settings s = { 60 * S, 60 * S, 120 * S };
	struct store *st = NULL;
	struct export_csv x;
	char err[512];
	int64_t bytes = 0, rows = 0;
	const char *hdr = EXPORT_COLUMNS_DEFAULT "\n";
	const char *row1 = "1970-01-01T00:01:00.000Z,1970-01-01T00:02:00.000Z,ETH-USD,1970-01-01T00:01:01.234Z,"
	                   "1853.55,1853.43,1853.55,98528.66344819\n";

	store_open(&st, t_path("e.db"), &s, 0, err, sizeof(err));
	struct store_wkey k = { "ETH-USD", 0, "ETH-USD", 60 * S, 120 * S };
	struct win_agg a = { .ticks = 1, .sum_price = 1853.55, .sum_volume_24h = 98528.66344819, .max_time = 61 * S + 234567, .max_best_bid = 1853.43, .max_best_ask = 1853.55 };
	store_begin(st, err, sizeof(err));
	store_window_put(st, &k, &a, err, sizeof(err));
	store_commit(st, err, sizeof(err));

	T_OK(export_open(&x, t_path("out.csv"), EXPORT_COLUMNS_DEFAULT, st, WM_NONE, WM_NONE, &bytes, err, sizeof(err)) == 0,
	     "open a new CSV");
	T_OK(export_append(&x, st, WM_NONE, 120 * S, &rows, err, sizeof(err)) == 0, "append");
	T_INT(rows, 1, "one row");
	char want[1024];
	snprintf(want, sizeof(want), "%s%s", hdr, row1);
	T_STR(slurp(t_path("out.csv")), want, "header once, timestamps in ms, shortest doubles");
	T_INT(x.bytes, (long long)strlen(want), "length tracked");
	export_close(&x);

	/* An interrupted export left a tail: it is cut back to the recorded length. */
	FILE *f = fopen(t_path("out.csv"), "a");
	fputs("1970-01-01T00:02:00.000Z,1970-01-01T00:03:00.000Z,ETH-US", f);
	fclose(f);
	bytes = (int64_t)strlen(want);
	T_OK(export_open(&x, t_path("out.csv"), EXPORT_COLUMNS_DEFAULT, st, WM_NONE, 120 * S, &bytes, err, sizeof(err)) == 0,
	     "reopen after a crash");
	T_STR(slurp(t_path("out.csv")), want, "the tail of the interrupted export is gone");
	export_close(&x);

	/* Deleted: rebuilt from the state. */
	unlink(t_path("out.csv"));
	T_OK(export_open(&x, t_path("out.csv"), EXPORT_COLUMNS_DEFAULT, st, WM_NONE, 120 * S, &bytes, err, sizeof(err)) == 0,
	     "reopen a deleted CSV");
	T_STR(slurp(t_path("out.csv")), want, "rebuilt from the state");
	export_close(&x);

	T_OK(export_rewrite(t_path("lab.csv"), "max(timestamp),avg(price),max(best_bid),max(best_ask),avg(volume_24h)",
	                    st, WM_NONE, 120 * S, &bytes, &rows, err, sizeof(err)) == 0, "rewrite with the lab's five columns");
	T_STR(slurp(t_path("lab.csv")),
	      "max(timestamp),avg(price),max(best_bid),max(best_ask),avg(volume_24h)\n"
	      "1970-01-01T00:01:01.234Z,1853.55,1853.43,1853.55,98528.66344819\n", "lab columns");
	int cols[EXPORT_MAX_COLS], n;
	T_OK(export_parse_columns("avg(price),nope", cols, &n, err, sizeof(err)) < 0, "unknown column refused");
	T_OK(export_parse_columns("avg(price),avg(price)", cols, &n, err, sizeof(err)) < 0, "repeated column refused");
	store_close(st);
}

static int summary_collect(const struct store_part_summary *p, void *arg)
{
	struct store_part_summary *out = arg;
	int i = 0;
	while (out[i].topic[0])
		i++;
	out[i] = *p;
	return 0;
}

static int summary_stop(const struct store_part_summary *p, void *arg)
{
	(void)p;
	(*(int *)arg)++;
	return 7;
}

/* What `aggregator status` reads: the summary and the partitions with their
 * products' counts and data losses, read-only beside a running writer. */
static void test_summary(void)
{
	struct store_settings s = { 60 * S, 60 * S, 120 * S };
	struct store *st = NULL, *ro = NULL;
	char err[512];
	struct win_agg a = { .ticks = 2, .sum_price = 200.0, .sum_volume_24h = 20.0, .max_time = 61 * S, .max_best_bid = 99.0, .max_best_ask = 101.0 };

	T_OK(store_open(&st, t_path("sum.db"), &s, 0, err, sizeof(err)) == 0, "a state");
	T_OK(store_begin(st, err, sizeof(err)) == 0, "begin");
	struct store_wkey closed = { "BTC-USD", 0, "BTC-USD", 60 * S, 120 * S };
	struct store_wkey open1 = { "BTC-USD", 0, "BTC-USD", 120 * S, 180 * S };
	struct store_wkey open2 = { "BTC-USD", 0, "ETH-USD", 120 * S, 180 * S };
	struct store_partition p0 = { .next_offset = 42, .max_time = 150 * S, .rejected = 3, .time_run_max = WM_NONE,
	                              .closed_until = WM_NONE };
	struct store_partition p1 = { .next_offset = 5, .max_time = WM_NONE, .time_run_max = WM_NONE,
	                              .closed_until = WM_NONE };
	struct store_product btc = { "BTC-USD", 10, 1, 2, { -1, -1, 0, -1, 0 } };
	struct store_product eth = { "ETH-USD", 20, 3, 4, { -1, -1, 0, -1, 0 } };
	T_OK(store_window_put(st, &closed, &a, err, sizeof(err)) == 0 &&
	     store_window_put(st, &open1, &a, err, sizeof(err)) == 0 &&
	     store_window_put(st, &open2, &a, err, sizeof(err)) == 0, "three windows");
	T_OK(store_partition_put(st, "BTC-USD", 0, &p0, 1000, err, sizeof(err)) == 0 &&
	     store_partition_put(st, "BTC-USD", 1, &p1, 2000, err, sizeof(err)) == 0, "two partitions");
	T_OK(store_product_put(st, "BTC-USD", 0, &btc, err, sizeof(err)) == 0 &&
	     store_product_put(st, "BTC-USD", 0, &eth, err, sizeof(err)) == 0, "two products of partition 0");
	T_OK(store_data_loss_add(st, "BTC-USD", 0, 10, 25, 15, 1, err, sizeof(err)) == 0 &&
	     store_data_loss_add(st, "BTC-USD", 0, 30, 32, 2, 1, err, sizeof(err)) == 0, "two data losses");
	T_OK(store_meta_set(st, "watermark_us", 120 * S, err, sizeof(err)) == 0 &&
	     store_meta_set(st, "exported_until_us", 120 * S, err, sizeof(err)) == 0, "progress");
	T_OK(store_commit(st, err, sizeof(err)) == 0, "commit");

	/* The writer keeps its lock: status reads beside it. */
	T_OK(store_open(&ro, t_path("sum.db"), NULL, 1, err, sizeof(err)) == 0, "opens read-only beside the writer");
	struct store_summary sum;
	struct store_part_summary parts[3];
	memset(parts, 0, sizeof(parts));
	T_INT(store_summary_read(ro, &sum, summary_collect, parts, err, sizeof(err)), 0, "read the summary");
	T_INT(sum.watermark, 120 * S, "the watermark");
	T_INT(sum.exported_until, 120 * S, "exported until");
	T_INT(sum.window_us, 60 * S, "the window setting");
	T_INT(sum.delay_us, 120 * S, "the watermark delay setting");
	T_INT(sum.open_windows, 2, "windows ending after the watermark");
	T_STR(parts[0].topic, "BTC-USD", "first partition's topic");
	T_INT(parts[0].partition, 0, "partitions in order");
	T_INT(parts[0].next_offset, 42, "its next offset");
	T_INT(parts[0].max_time, 150 * S, "its event time");
	T_INT(parts[0].rejected, 3, "its rejected");
	T_INT(parts[0].updated_us, 1000, "its last commit");
	T_INT(parts[0].ticks, 30, "ticks over its products");
	T_INT(parts[0].late, 4, "late over its products");
	T_INT(parts[0].duplicates, 6, "duplicates over its products");
	T_INT(parts[0].lost, 17, "offsets lost over its data losses");
	T_INT(parts[1].partition, 1, "second partition");
	T_INT(parts[1].max_time, WM_NONE, "no event time before its first tick");
	T_INT(parts[1].ticks + parts[1].late + parts[1].duplicates + parts[1].lost, 0, "no products, no losses: 0");
	T_OK(parts[2].topic[0] == 0, "no more partitions");
	int calls = 0;
	T_INT(store_summary_read(ro, &sum, summary_stop, &calls, err, sizeof(err)), 7, "the callback's stop is returned");
	T_INT(calls, 1, "after one partition");
	T_INT(store_summary_read(ro, &sum, summary_stop, &calls, err, sizeof(err)), 7, "and it reads again");
	store_close(ro);
	store_close(st);

	sqlite3 *db;
	sqlite3_open(t_path("sum.db"), &db);
	sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
	sqlite3_close(db);
	T_OK(store_open(&ro, t_path("sum.db"), NULL, 1, err, sizeof(err)) < 0, "a newer schema is refused read-only too");
	T_OK(strstr(err, "schema version 99, newer than this aggregator's") != NULL, "saying so");

	/* Version 1 had no data_loss table. */
	T_OK(store_open(&st, t_path("sum1.db"), &s, 0, err, sizeof(err)) == 0, "another state");
	store_close(st);
	sqlite3_open(t_path("sum1.db"), &db);
	sqlite3_exec(db, "DROP VIEW progress; DROP TABLE data_loss; CREATE VIEW progress AS SELECT 1 AS x;"
	                 " PRAGMA user_version = 1;", NULL, NULL, NULL);
	sqlite3_close(db);
	ro = NULL;
	T_OK(store_open(&ro, t_path("sum1.db"), NULL, 1, err, sizeof(err)) == 0, "version 1 opens read-only");
	T_OK(ro && store_summary_read(ro, &sum, summary_collect, parts, err, sizeof(err)) == -1,
	     "but has not what status reads");
	T_OK(strstr(err, "not an aggregator state of this version") != NULL && strstr(err, "data_loss") != NULL,
	     "which it says");
	store_close(ro);
}

int main(void)
{
	if (t_tmpdir("test_store"))
		return 1;
	test_schema_and_rows();
	test_bad_files();
	test_whose_file();
	test_migrate_v1();
	test_migrate_v2();
	test_migrate_v5();
	test_migrate_v4();
	test_views_updated();
	test_rejected_budget();
	test_export();
	test_summary();
	t_rmdir();
	return t_done();
}

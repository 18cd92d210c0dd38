/*
 * store.h - the SQLite state file: schema and its version, the single-writer
 * lock, one transaction per batch, and the reads and writes of windows,
 * partitions, products, rejected messages and progress (meta).
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

#include "seqrule.h"
#include "window.h"

#define STORE_VERSION 6 /* PRAGMA user_version of the schema in sql/schema.sql */
/* PRAGMA application_id of a state file ("AGST"), set when it is made (and
 * at the first write of a state made before it was): a file with another is
 * not ours, and is left as it is. */
#define STORE_APP_ID 0x41475354
/* The longest --state SQLite opens, as an absolute path: its unix VFS's 512
 * bytes less room for a "-journal" suffix (sqlite3PagerOpen). */
#define STORE_PATH_MAX 504

struct store;
struct sqlite3_stmt;

/* An event time column of a row of store.c's statements: SQL NULL is
 * WM_NONE. (Only store.c uses it since status reads through
 * store_summary_read; it can become static there.) */
int64_t store_col_time(struct sqlite3_stmt *s, int col);

/* How the windows were built; a state file keeps the ones it was created with. */
struct store_settings {
	int64_t window_us;
	int64_t slide_us;
	int64_t delay_us;
};

/* Opens (creating if needed) the state file for writing: takes an exclusive
 * lock (a second aggregator on it fails), checks on a read-only connection
 * that the file is empty or a state of ours (application_id, or an earlier
 * version's tables) of this version or older -- a file that is not is left
 * byte for byte as it was -- then enables WAL, creates or migrates the schema,
 * and records or checks the settings.  A path over STORE_PATH_MAX is refused
 * before anything is created.  read_only opens it for reading only (export,
 * status), without the lock, after the same check.  Returns 0, or -1 with err,
 * or STORE_ETRANSIENT with err when the failure can pass (a full or failing
 * disk). */
#define STORE_ETRANSIENT (-2)
int store_open(struct store **out, const char *path, const struct store_settings *s,
               int read_only, char *err, size_t errlen);
void store_close(struct store *st);

/* Whether the last failure can pass by itself (disk full, I/O error, a
 * writer holding the lock): the caller may stop and be restarted later. */
int store_transient(const struct store *st);

/* Outside a transaction: is the file at the state's path still the one
 * opened?  0 yes.  Deleted: the committed state is written back to the path
 * and STORE_WRITTEN_BACK returned (err says so: stop, a restart goes on from
 * it).  Replaced by another file: that file is left alone, the committed state
 * is saved to PATH.saved, and -1 returned with err. */
#define STORE_WRITTEN_BACK 1
int store_check_file(struct store *st, char *err, size_t errlen);

int store_begin(struct store *st, char *err, size_t errlen);
int store_commit(struct store *st, char *err, size_t errlen);
void store_rollback(struct store *st);
int store_in_tx(const struct store *st);

/* meta values as integers; get returns 1 when found, 0 when absent, -1 on error */
int store_meta_get(struct store *st, const char *key, int64_t *v);
int store_meta_get_text(struct store *st, const char *key, char *buf, size_t len);
int store_meta_set(struct store *st, const char *key, int64_t v, char *err, size_t errlen);
int store_meta_set_text(struct store *st, const char *key, const char *v, char *err, size_t errlen);

/* Row key of a window in the state: its partition and product by name. */
struct store_wkey {
	const char *topic;
	int32_t partition;
	const char *product_id;
	int64_t start, end;
};
/* 1 found (agg filled), 0 absent, -1 error */
int store_window_get(struct store *st, const struct store_wkey *k, struct win_agg *agg);
int store_window_put(struct store *st, const struct store_wkey *k, const struct win_agg *agg,
                     char *err, size_t errlen);
/* Removes a window's row (none there is no error). */
int store_window_del(struct store *st, const struct store_wkey *k, char *err, size_t errlen);

/* The confirmation runs (see engine.c) are kept with the counters they guard,
 * so that a restart goes on with the same decision wherever it falls. */
struct store_partition {
	int64_t next_offset;  /* -1 when the state has never seen the partition */
	int64_t max_time;     /* its event time: WM_NONE until confirmed */
	int64_t rejected;
	int64_t time_run;     /* ticks in a row far ahead of max_time (or before it is known) */
	int64_t time_run_max; /* their largest event time, WM_NONE if no run */
	int64_t skew_run;     /* ticks in a row rejected as too far ahead */
	int64_t skew_first;   /* event time of the first of them */
	int64_t closed_until; /* group mode: windows ending at or before it are in the output topic (WM_NONE) */
	int64_t fp_set;       /* 1: the record at next_offset - 1 is known by fp_time and fp_hash */
	int64_t fp_time;      /* its Kafka timestamp (ms) */
	int64_t fp_hash;      /* a hash of its key and value (store_fp_hash) */
};
/* The hash of a record's key and value kept in fp_hash: the same on every
 * machine and run. */
int64_t store_fp_hash(const void *key, size_t klen, const void *val, size_t vlen);
int store_partition_get(struct store *st, const char *topic, int32_t partition,
                        struct store_partition *p);
int store_partition_put(struct store *st, const char *topic, int32_t partition,
                        const struct store_partition *p, int64_t now_us, char *err, size_t errlen);
/* Group mode: calls fn for each window of a partition with after < end <=
 * until (after WM_NONE: from the first), in end order; stops at fn's non-zero
 * (returned). */
int store_windows_closing(struct store *st, const char *topic, int32_t partition, int64_t after, int64_t until,
                          int (*fn)(const struct store_wkey *, const struct win_agg *, void *), void *arg);
/* A savepoint inside the open transaction: begin, keep, or undo what came after it. */
enum store_sp { STORE_SP_BEGIN, STORE_SP_RELEASE, STORE_SP_UNDO };
int store_savepoint(struct store *st, enum store_sp op, char *err, size_t errlen);
/* Group mode's restore: forgets a partition (its row, products and the windows
 * ending after keep_until), and deletes one window (a changelog tombstone). */
int store_partition_clear(struct store *st, const char *topic, int32_t partition, int64_t keep_until,
                          char *err, size_t errlen);

struct store_product {
	char product_id[TICK_PRODUCT_MAX];
	int64_t ticks, late, duplicates;
	struct seqrule seq;   /* the largest sequence and its runs (common/seqrule.h) */
};
/* Calls fn for every product row of a partition; returns 0 or -1. */
int store_products_each(struct store *st, const char *topic, int32_t partition,
                        int (*fn)(const struct store_product *, void *), void *arg);
int store_product_put(struct store *st, const char *topic, int32_t partition,
                      const struct store_product *p, char *err, size_t errlen);

/* Records a rejected message, its payload cut to 16 KiB; within the table's
 * budget (16 MiB of payloads, 100000 rows) returns 0, past it 1 (not stored:
 * the caller only counts it), -1 with err on failure. */
int store_rejected_add(struct store *st, const char *topic, int32_t partition, int64_t offset,
                       const char *reason, const void *payload, size_t len, char *err, size_t errlen);

/* Records offsets [from, to) of a partition as not read (--on-data-loss=skip);
 * lost is how many of them the log had. */
int store_data_loss_add(struct store *st, const char *topic, int32_t partition, int64_t from, int64_t to,
                        int64_t lost, int64_t now_us, char *err, size_t errlen);

/* One window of one product, its partials of every partition merged (each
 * field by its rule, agg.h), as exported. */
struct store_row {
	const char *product_id;
	int64_t window_start, window_end;
	struct win_agg agg;
};
/* Calls fn for every window with after < window_end <= until, ordered by window
 * end then product. Returns the number of rows, or -1 with err. */
int64_t store_rows_each(struct store *st, int64_t after, int64_t until,
                        int (*fn)(const struct store_row *, void *), void *arg, char *err, size_t errlen);

/* --rotate daily: the end of the first window with after < end <= until: 1
 * found, 0 none, -1 with err. */
int store_first_end(struct store *st, int64_t after, int64_t until, int64_t *end, char *err, size_t errlen);
/* --retain: drops the windows that start before start_before and end at or
 * before closed_until (in the CSV already).  How many, or -1 with err. */
int64_t store_windows_retain(struct store *st, int64_t start_before, int64_t closed_until, char *err, size_t errlen);

/* What `aggregator status` shows of a state besides its partitions. */
struct store_summary {
	int64_t watermark;      /* WM_NONE before the first tick */
	int64_t exported_until; /* WM_NONE before the first export */
	int64_t window_us;      /* the settings the state was built with (WM_NONE absent) */
	int64_t delay_us;
	int64_t open_windows;   /* windows ending after the watermark */
	int64_t oldest_end;     /* the end of its oldest window (WM_NONE: none) */
	int64_t retained_from;  /* --retain dropped the windows starting before it (WM_NONE: none) */
};
/* One partition of a state, with its products' counts and its data losses summed. */
struct store_part_summary {
	char topic[256];
	int32_t partition;
	int64_t next_offset;
	int64_t max_time;       /* WM_NONE before its first tick */
	int64_t rejected;
	int64_t updated_us;     /* wall clock of the batch that last wrote it */
	int64_t ticks, late, duplicates; /* over its products */
	int64_t lost;           /* offsets skipped (--on-data-loss=skip) */
};
/* Reads the summary, then calls fn for every partition (by topic and
 * partition), all in one read transaction: one commit's view, also while an
 * aggregator writes. fn returns 0 to go on, or a positive value that stops
 * the read and is returned. Otherwise 0, or -1 with err. Works on a read-only
 * store. */
int store_summary_read(struct store *st, struct store_summary *sum,
                       int (*fn)(const struct store_part_summary *, void *), void *arg, char *err, size_t errlen);

#endif

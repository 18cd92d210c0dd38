/*
 * store_int.h - what the state file's two halves share, and nothing outside
 * them includes: store.c (the file: open, schema and migrations, lock,
 * transactions, meta) and store_rows.c (the rows: windows, partitions,
 * products, rejected messages, data loss, the export's and status's reads).
 */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <sqlite3.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

enum {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
	ST_META_GET, ST_META_SET,
	ST_WIN_GET, ST_WIN_PUT, ST_WIN_DEL,
	ST_PART_GET, ST_PART_PUT,
	ST_PROD_EACH, ST_PROD_PUT,
	ST_REJ_ADD, ST_ROWS,
	ST_WIN_CLOSING, ST_CLEAR_WINS, ST_CLEAR_PRODS, ST_CLEAR_PART,
	ST_FIRST_END, ST_RETAIN,
	ST__COUNT
};

/* sql/statements.sql, embedded */
extern const char sql_stmt_begin[], sql_stmt_commit[], sql_stmt_rollback[], sql_stmt_meta_get[],
	sql_stmt_meta_set[], sql_stmt_window_get[], sql_stmt_window_put[], sql_stmt_window_del[], sql_stmt_partition_get[],
	sql_stmt_partition_put[], sql_stmt_products_of[], sql_stmt_product_put[], sql_stmt_rejected_add[],
	sql_stmt_rejected_size[], sql_stmt_data_loss_add[], sql_stmt_rows[], sql_stmt_windows_closing[],
	sql_stmt_clear_windows[], sql_stmt_clear_products[], sql_stmt_clear_partition[], sql_stmt_identify[],
	sql_stmt_first_end[], sql_stmt_windows_retain[];
/* status's, prepared when it asks (store_summary_read) */
extern const char sql_stmt_read_begin[], sql_stmt_status_meta[], sql_stmt_status_partitions[];

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST__COUNT];
	int lock_fd;   /* holds the flock that keeps a second writer out; -1 read-only */
	dev_t dev;     /* the file opened, to notice it deleted or replaced */
	ino_t ino;
	int in_tx;     /* a transaction is open */
	int err_code;  /* SQLite result code of the last failure */
	char path[512];
	int64_t rej_rows, rej_bytes; /* what the rejected table holds; rows -1 until read */
};

/* The rejected table's budget: junk arriving for days must not fill the
 * disk (10 messages/s of 64 KiB each were 37 MB a minute).  A payload is kept
 * up to 16 KiB, payloads up to 16 MiB in all (then rows without payload), rows
 * up to 100000 (then rejects are only counted, in partitions.rejected). */
#define STORE_PAYLOAD_MAX   16384
#define STORE_REJ_BYTES_MAX (16 << 20)
#define STORE_REJ_ROWS_MAX  100000

int store_fail(struct store *st, char *err, size_t errlen, const char *what);
/* Runs sql (no rows), what naming it in err. */
int store_exec(struct store *st, const char *sql, char *err, size_t errlen, const char *what);
/* Runs a statement that returns no rows, then resets it. */
int store_step_done(struct store *st, int id, char *err, size_t errlen, const char *what);

#endif

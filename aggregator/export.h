/*
 * export.h - output.csv: the columns, appending closed windows, cutting back the
 * tail of an interrupted export, and rewriting the whole file from the state.
 */
#ifndef EXPORT_H
#define EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The columns: window_start, window_end, product_id, then agg.h's agg_cols.
 * The default is the eight of before version 6, byte for byte: a new
 * aggregate's column joins it only by choice (it changes output.csv). */
#define EXPORT_COLUMNS_DEFAULT \
	"window_start,window_end,product_id,max(timestamp),avg(price),max(best_bid),max(best_ask),avg(volume_24h)"
/* --columns lab: the lab's five, and which window and product each row is */
#define EXPORT_COLUMNS_LAB \
	"window_start,product_id,max(timestamp),avg(price),max(best_bid),max(best_ask),avg(volume_24h)"
/* --columns candles: OHLCV, as exchanges and charting tools have them */
#define EXPORT_COLUMNS_CANDLES "window_start,product_id,open,high,low,close,volume,vwap,ticks"
/* --columns all: every column */
#define EXPORT_COLUMNS_ALL \
	EXPORT_COLUMNS_DEFAULT ",open,high,low,close,volume,vwap,ticks,trade_gap,spread_mean,spread_max,buy_volume," \
	"sell_volume"
#define EXPORT_MAX_COLS (3 + AGG_NCOLS) /* each column at most once */
#define EXPORT_ESTATE (-2) /* returned when reading the state failed (not the CSV) */
#define EXPORT_ESPACE (-4) /* the CSV's disk is full or failing (ENOSPC, EDQUOT, EIO): can pass */

struct export_csv {
	char path[512];
	char columns[512];           /* the --columns spec, for a rewrite */
	int fd;                      /* open for appending, -1 when closed */
	int cols[EXPORT_MAX_COLS];   /* column ids, in output order */
	int ncols;
	int64_t bytes;               /* file length after the last append */
	int64_t from;                /* its rows: windows ending after this (WM_NONE: all; a day file's, rotate.h) */
	int err_no;                  /* errno of the last failed write, 0 if none */
	char *buf;                   /* rows formatted before one write */
	size_t len, cap;
};

/* Checks a --columns list (comma-separated column names, each once). */
int export_parse_columns(const char *spec, int *cols, int *ncols, char *err, size_t errlen);

/* Before anything is opened: refuses (-1, err) an output that is the state
 * file or one of its -wal/-shm/-journal files (EXPORT_ESAME: a usage error), or
 * an existing output that is not a regular file or not a CSV this program
 * wrote (first line not a header of known columns), or one that holds rows
 * while the state file is missing or empty (the state that wrote them is gone:
 * they would be dropped). */
#define EXPORT_ESAME (-3)
int export_check_target(const char *out, const char *state, int check_state, char *err, size_t errlen);

/* What a state recorded of the CSV it wrote (meta csv_bytes, csv_mark,
 * csv_columns). */
struct export_record {
	int64_t bytes;       /* its length, 0 none */
	int mark_known;      /* 0: a state of an earlier version, without csv_mark */
	int64_t mark;        /* csv_mark (export.c) */
	const char *columns; /* the columns it was written with ("" unknown) */
};
/* Before anything is written: refuses (-1, err naming both files) a CSV at
 * path that is not the one the state wrote: in its recorded columns and as
 * long or longer, its mark at the recorded length differs (without a mark,
 * the length is all there is); shorter or in other columns, it is not a
 * beginning of what the state writes (compared row by row, as a rebuild would
 * write it anyway: the windows ending after from, WM_NONE but for a day's
 * file); the state recorded no CSV, it holds rows.  Missing, empty,
 * not a CSV of ours (export_check_target's), or damaged (a NUL where the
 * state's bytes differ): 0, export_open repairs it.  EXPORT_ESTATE when
 * reading the state failed. */
int export_check_ours(const char *path, const char *state, const struct export_record *rec, struct store *st,
                      int64_t from, int64_t exported_until, char *err, size_t errlen);
/* x's file's mark at its length (meta csv_mark, see export.c): 0, or -1 with err. */
int export_mark(const struct export_csv *x, int64_t *mark, char *err, size_t errlen);

/* Opens path for appending after crash recovery against the recorded length:
 * a longer file is cut back to it (the tail of an interrupted export), a
 * shorter or missing one is rewritten from the state (windows ending after
 * from and up to exported_until: from is WM_NONE but for a day's file). *bytes is updated to the file's length. Returns 0, -1,
 * EXPORT_ESPACE or EXPORT_ESTATE. */
int export_open(struct export_csv *x, const char *path, const char *columns, struct store *st, int64_t from,
                int64_t exported_until, int64_t *bytes, char *err, size_t errlen);
void export_close(struct export_csv *x);

/* Appends the windows with after < window_end <= until (header first when the
 * file is empty), then fdatasync. *rows gets how many were written. On error
 * (-1, or EXPORT_ESTATE when the state could not be read) the file is cut back
 * to its previous length. */
int export_append(struct export_csv *x, struct store *st, int64_t after, int64_t until,
                  int64_t *rows, char *err, size_t errlen);

/* Cuts the file back to len (after a failed commit). */
int export_truncate(struct export_csv *x, int64_t len, char *err, size_t errlen);

/* Writes the whole CSV for every window with from < window_end <= until to path,
 * atomically (temporary file, fsync, rename). *bytes gets its length.
 * Returns 0, -1 or EXPORT_ESPACE (the CSV), or EXPORT_ESTATE (reading the state). */
int export_rewrite(const char *path, const char *columns, struct store *st, int64_t from, int64_t until,
                   int64_t *bytes, int64_t *rows, char *err, size_t errlen);

/* The same, for a CSV rebuilt from elsewhere (export --from-topic): refused
 * (EXPORT_ESHRINK, the file left as it is) when the file at path holds rows
 * the new one would not (fewer rows, or not beginning with the old bytes). */
#define EXPORT_ESHRINK (-5)
int export_rewrite_growing(const char *path, const char *columns, struct store *st, int64_t until,
                           int64_t *bytes, int64_t *rows, char *err, size_t errlen);

#endif

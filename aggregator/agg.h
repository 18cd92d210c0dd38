/*
 * agg.h - a window's aggregate, described once (docs/aggregates.md: adding
 * one).  Two lists drive everything else:
 *
 *  - AGG_FIELDS: the stored fields of a partial aggregate (one window of one
 *    product from one partition).  Each makes a member of struct win_agg, a
 *    column of the windows table (sql/schema.sql; statements.sql's @agg_*@
 *    lists), a number in a group record's value (record.c), and says which
 *    tick field it takes, how a tick adds to it and how two partials merge.
 *  - agg_cols (agg.c): the CSV columns a merged aggregate gives, each from a
 *    field, or a field divided by another (a mean: sum / ticks).
 *
 * The hot path, win_agg_add, is generated from AGG_FIELDS at compile time:
 * no table walk per tick.  Everything else (the state's binds and reads, the
 * records, the CSV) loops over agg_fields / agg_cols.  Pure: no I/O.
 */
#ifndef AGG_H
#define AGG_H

#include <stddef.h>
#include <stdint.h>

#include "tick.h"

/* X(name, C type, tick field, add, merge), in the windows table's column
 * order, which is also a group record's.  add: COUNT (+1 a tick; the field
 * named ticks, every window has >= 1), SUM (in arrival order), MAX (the first
 * tick's value, then the larger).  merge: SUM or MAX (SQL's sum() and max(),
 * which the export's rows statement runs; agg_merge is the same in C). */
#define AGG_FIELDS(X) \
	X(ticks,          int64_t, time_us,    COUNT, SUM) /* ticks counted */ \
	X(sum_price,      double,  price,      SUM,   SUM) /* for avg(price) */ \
	X(sum_volume_24h, double,  volume_24h, SUM,   SUM) /* for avg(volume_24h) */ \
	X(max_time,       int64_t, time_us,    MAX,   MAX) /* max(timestamp), us */ \
	X(max_best_bid,   double,  best_bid,   MAX,   MAX) \
	X(max_best_ask,   double,  best_ask,   MAX,   MAX)

/* The partial aggregate: one member per AGG_FIELDS entry, in its order. */
struct win_agg {
#define AGG_MEMBER(name, type, tf, add, merge) type name;
	AGG_FIELDS(AGG_MEMBER)
#undef AGG_MEMBER
};

/* Field ids: AGG_F_ticks, AGG_F_sum_price, ... (indexes of agg_fields). */
enum agg_field_id {
#define AGG_ID(name, type, tf, add, merge) AGG_F_##name,
	AGG_FIELDS(AGG_ID)
#undef AGG_ID
	AGG_NFIELDS
};

enum agg_type { AGG_INT, AGG_REAL };               /* int64_t, double */
enum agg_add { AGG_ADD_COUNT, AGG_ADD_SUM, AGG_ADD_MAX };
enum agg_merge { AGG_MERGE_SUM, AGG_MERGE_MAX };

/* One stored field, as the loops outside the hot path see it. */
struct agg_field {
	const char *column;     /* its windows column (= its struct win_agg member) */
	enum agg_type type;
	size_t offset;          /* in struct win_agg */
	enum agg_add add;
	enum agg_merge merge;
	const char *merge_sql;  /* "sum" or "max": merges the column in SQL */
};
extern const struct agg_field agg_fields[AGG_NFIELDS];

/* The value of field f of a (its type's member). */
int64_t agg_get_int(const struct win_agg *a, int f);
double agg_get_real(const struct win_agg *a, int f);
void agg_set_int(struct win_agg *a, int f, int64_t v);
void agg_set_real(struct win_agg *a, int f, double v);

/* Adds one tick to a partial (generated from AGG_FIELDS: no loop). */
void win_agg_add(struct win_agg *a, const struct tick *tk);
/* Merges the partial from into into, as the SQL merge does (sums added in
 * the order of the calls). */
void agg_merge(struct win_agg *into, const struct win_agg *from);

/* A CSV column of a merged aggregate. */
enum agg_fmt { AGG_FMT_TIME, AGG_FMT_REAL }; /* fmt_time_ms of an int field, fmt_double */
struct agg_col {
	const char *name;  /* the CSV header's name */
	enum agg_fmt fmt;
	int field;         /* the field shown (AGG_F_*) */
	int per;           /* -1, or the field it is divided by: field / per (a mean) */
};
#define AGG_NCOLS 5
extern const struct agg_col agg_cols[AGG_NCOLS];

/* The column named s[0..n), or -1. */
int agg_col_find(const char *s, size_t n);
/* Column c's value of a merged aggregate in the CSV's text form, into buf of
 * FMT_BUF (fmt.h) bytes; returns its length. */
size_t agg_col_format(int c, const struct win_agg *a, char *buf);

/* SQL with the aggregate's lists put in (statements.sql): @agg_columns@ ->
 * "ticks, sum_price, ...", @agg_params@ -> one "?" per field (numbered on
 * from the last ?N before it), @agg_merged@ -> "sum(ticks), sum(sum_price),
 * ...".  Returns the length written to out, or -1 (too long for len, or an
 * unknown @agg_...@). */
int agg_sql(const char *tmpl, char *out, size_t len);

#endif

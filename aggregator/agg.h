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

/* X(name, C type, tick value, add, merge), in the windows table's column
 * order, which is also a group record's.  The tick value is AGG_TV_<value>(tk)
 * below: a tick field, or a value made of them.  add: COUNT (+1 a tick; the
 * field named ticks, every window has >= 1), SUM (in arrival order), MAX and
 * MIN (the first tick's value, then the larger / smaller), FIRST and LAST (the
 * value of the tick with the least / greatest event time, kept in the field
 * <name>_time listed right after it; a tie keeps the earlier tick for FIRST
 * and takes the later for LAST: within a partition ticks arrive in offset
 * order, so ties go by offset).  merge: SUM, MAX, MIN (SQL's sum(), max(),
 * min(), which the export's rows statement runs; agg_merge is the same in C),
 * FIRST and LAST (the value of the partial with the least / greatest
 * <name>_time; a tie across partitions goes to the first / last partition in
 * (topic, partition) order, the order agg_merge is called in and the rows
 * statement's subquery sorts by).
 *
 * The fields after ticks_v6 came with schema version 6: a window or a record
 * from before has them 0, and ticks_v6 (the ticks counted since) below ticks;
 * the CSV leaves their columns empty for such a window (agg_col.v6). */
#define AGG_FIELDS(X) \
	X(ticks,          int64_t, time_us,      COUNT, SUM) /* ticks counted */ \
	X(sum_price,      double,  price,        SUM,   SUM) /* for avg(price) */ \
	X(sum_volume_24h, double,  volume_24h,   SUM,   SUM) /* for avg(volume_24h) */ \
	X(max_time,       int64_t, time_us,      MAX,   MAX) /* max(timestamp), us */ \
	X(max_best_bid,   double,  best_bid,     MAX,   MAX) \
	X(max_best_ask,   double,  best_ask,     MAX,   MAX) \
	X(ticks_v6,       int64_t, time_us,      COUNT, SUM) /* = ticks: the fields below are whole */ \
	X(open,           double,  price,        FIRST, FIRST) \
	X(open_time,      int64_t, time_us,      MIN,   MIN) /* open's event time */ \
	X(close,          double,  price,        LAST,  LAST) \
	X(close_time,     int64_t, time_us,      MAX,   MAX) /* close's event time */ \
	X(high,           double,  price,        MAX,   MAX) \
	X(low,            double,  price,        MIN,   MIN) \
	X(sum_size,       double,  last_size,    SUM,   SUM) /* volume */ \
	X(sum_notional,   double,  notional,     SUM,   SUM) /* for vwap: price * last_size */ \
	X(min_trade_id,   int64_t, trade_id_low, MIN,   MIN) /* INT64_MAX: no trade id */ \
	X(max_trade_id,   int64_t, trade_id,     MAX,   MAX) /* -1: no trade id */ \
	X(trade_ticks,    int64_t, has_trade,    SUM,   SUM) /* ticks with a trade id */ \
	X(sum_spread,     double,  spread,       SUM,   SUM) /* for spread_mean: best_ask - best_bid */ \
	X(max_spread,     double,  spread,       MAX,   MAX) \
	X(buy_size,       double,  buy_size,     SUM,   SUM) /* last_size of side buy */ \
	X(sell_size,      double,  sell_size,    SUM,   SUM) /* last_size of side sell */

/* The tick values: a field of struct tick, or a value made of them. */
#define AGG_TV_time_us(t)      ((t)->time_us)
#define AGG_TV_price(t)        ((t)->price)
#define AGG_TV_volume_24h(t)   ((t)->volume_24h)
#define AGG_TV_best_bid(t)     ((t)->best_bid)
#define AGG_TV_best_ask(t)     ((t)->best_ask)
#define AGG_TV_last_size(t)    ((t)->last_size)
#define AGG_TV_notional(t)     ((t)->price * (t)->last_size)
#define AGG_TV_trade_id(t)     ((t)->trade_id)
#define AGG_TV_trade_id_low(t) ((t)->trade_id < 0 ? INT64_MAX : (t)->trade_id)
#define AGG_TV_has_trade(t)    ((int64_t)((t)->trade_id >= 0))
#define AGG_TV_spread(t)       ((t)->best_ask - (t)->best_bid)
#define AGG_TV_buy_size(t)     ((t)->side == TICK_SIDE_BUY ? (t)->last_size : 0.0)
#define AGG_TV_sell_size(t)    ((t)->side == TICK_SIDE_SELL ? (t)->last_size : 0.0)

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
enum agg_add { AGG_ADD_COUNT, AGG_ADD_SUM, AGG_ADD_MAX, AGG_ADD_MIN, AGG_ADD_FIRST, AGG_ADD_LAST };
enum agg_merge { AGG_MERGE_SUM, AGG_MERGE_MAX, AGG_MERGE_MIN, AGG_MERGE_FIRST, AGG_MERGE_LAST };

/* One stored field, as the loops outside the hot path see it. */
struct agg_field {
	const char *column;     /* its windows column (= its struct win_agg member) */
	enum agg_type type;
	size_t offset;          /* in struct win_agg */
	enum agg_add add;
	enum agg_merge merge;
	const char *merge_sql;  /* "sum", "max", "min": merges the column in SQL; FIRST
	                           and LAST: a subquery (agg_sql) */
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
 * the order of the calls, ties of FIRST and LAST to the earlier / later
 * call): into starts as a copy of the first partial. */
void agg_merge(struct win_agg *into, const struct win_agg *from);

/* A CSV column of a merged aggregate. */
enum agg_fmt {
	AGG_FMT_TIME,  /* fmt_time_ms of an int field */
	AGG_FMT_REAL,  /* fmt_double of a field, or of field / per (empty when per is 0) */
	AGG_FMT_INT,   /* an int field in decimal */
	AGG_FMT_GAP,   /* trade_gap: max_trade_id - min_trade_id + 1 - trade_ticks (empty: no trade id) */
};
struct agg_col {
	const char *name;  /* the CSV header's name */
	enum agg_fmt fmt;
	int field;         /* the field shown (AGG_F_*) */
	int per;           /* -1, or the field it is divided by: field / per (a mean) */
	int v6;            /* empty unless ticks_v6 == ticks (a field of version 6) */
};
#define AGG_NCOLS 17
extern const struct agg_col agg_cols[AGG_NCOLS];

/* The column named s[0..n), or -1. */
int agg_col_find(const char *s, size_t n);
/* Column c's value of a merged aggregate in the CSV's text form, into buf of
 * FMT_BUF (fmt.h) bytes; returns its length (0: empty, no value). */
size_t agg_col_format(int c, const struct win_agg *a, char *buf);

/* SQL with the aggregate's lists put in (statements.sql): @agg_columns@ ->
 * "ticks, sum_price, ...", @agg_params@ -> one "?" per field (numbered on
 * from the last ?N before it), @agg_merged@ -> "sum(ticks), sum(sum_price),
 * ..." over a GROUP BY product_id, window_start, window_end of the table
 * windows (FIRST and LAST: a subquery of the group's partials, ordered by the
 * rule).  A table of an older version has only the first nfields columns:
 * the fields after them are "0" in the lists (for reads only).  Returns the length written to out, or -1 (too long for len, or an
 * unknown @agg_...@). */
int agg_sql(const char *tmpl, int nfields, char *out, size_t len);

#endif

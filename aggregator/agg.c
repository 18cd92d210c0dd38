/*
 * agg.c - the window aggregate's tables and the code generated from them
 * (see agg.h).
 */
#include "agg.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"

/* The type of a struct win_agg member, as an agg_type. */
#define AGG_TYPE_OF(name) _Generic(((struct win_agg *)0)->name, int64_t: AGG_INT, double: AGG_REAL)

/* A field takes a tick value of its own type (COUNT's is never read; the
 * controlling expression of _Generic is not evaluated). */
#define AGG_CHECK(name, type, tv, add, merge) \
	_Static_assert(_Generic(AGG_TV_##tv((const struct tick *)0), type: 1, default: 0), \
	               "AGG_FIELDS: " #name " takes the tick value " #tv " of another type");
AGG_FIELDS(AGG_CHECK)
#undef AGG_CHECK

/* A merge rule's SQL aggregate. */
#define AGG_SQL_SUM "sum"
#define AGG_SQL_MAX "max"
#define AGG_SQL_MIN "min"
#define AGG_SQL_FIRST NULL /* a subquery: agg_sql_pick */
#define AGG_SQL_LAST NULL

const struct agg_field agg_fields[AGG_NFIELDS] = {
#define AGG_ENTRY(name, type, tf, add, merge) \
	[AGG_F_##name] = { #name, AGG_TYPE_OF(name), offsetof(struct win_agg, name), AGG_ADD_##add, \
	                   AGG_MERGE_##merge, AGG_SQL_##merge },
	AGG_FIELDS(AGG_ENTRY)
#undef AGG_ENTRY
};

/* The CSV columns after window_start, window_end and product_id (export.c). */
const struct agg_col agg_cols[] = {
	{ "max(timestamp)",  AGG_FMT_TIME, AGG_F_max_time,       -1, 0 },
	{ "avg(price)",      AGG_FMT_REAL, AGG_F_sum_price,      AGG_F_ticks, 0 },
	{ "max(best_bid)",   AGG_FMT_REAL, AGG_F_max_best_bid,   -1, 0 },
	{ "max(best_ask)",   AGG_FMT_REAL, AGG_F_max_best_ask,   -1, 0 },
	{ "avg(volume_24h)", AGG_FMT_REAL, AGG_F_sum_volume_24h, AGG_F_ticks, 0 },
	/* version 6: candles and the chosen aggregates (README: output) */
	{ "open",            AGG_FMT_REAL, AGG_F_open,           -1, 1 },
	{ "high",            AGG_FMT_REAL, AGG_F_high,           -1, 1 },
	{ "low",             AGG_FMT_REAL, AGG_F_low,            -1, 1 },
	{ "close",           AGG_FMT_REAL, AGG_F_close,          -1, 1 },
	{ "volume",          AGG_FMT_REAL, AGG_F_sum_size,       -1, 1 },
	{ "vwap",            AGG_FMT_REAL, AGG_F_sum_notional,   AGG_F_sum_size, 1 },
	{ "ticks",           AGG_FMT_INT,  AGG_F_ticks,          -1, 0 },
	{ "trade_gap",       AGG_FMT_GAP,  AGG_F_max_trade_id,   -1, 1 },
	{ "spread_mean",     AGG_FMT_REAL, AGG_F_sum_spread,     AGG_F_ticks, 1 },
	{ "spread_max",      AGG_FMT_REAL, AGG_F_max_spread,     -1, 1 },
	{ "buy_volume",      AGG_FMT_REAL, AGG_F_buy_size,       -1, 1 },
	{ "sell_volume",     AGG_FMT_REAL, AGG_F_sell_size,      -1, 1 },
};
_Static_assert(sizeof(agg_cols) / sizeof(agg_cols[0]) == AGG_NCOLS, "AGG_NCOLS: the entries of agg_cols");

/* The hot path's steps, one per field: a the partial, name the field, x the
 * tick's value, t the tick, first whether it is the window's first tick.
 * FIRST and LAST compare with <name>_time before it is updated (it comes
 * after <name> in AGG_FIELDS): a tie keeps the earlier tick (FIRST), takes
 * the later (LAST). */
#define agg_add_COUNT(a, name, x, t, first) ((a)->name += 1)
#define agg_add_SUM(a, name, x, t, first)   ((a)->name += (x))
#define agg_add_MAX(a, name, x, t, first)   ((first) || (x) > (a)->name ? (void)((a)->name = (x)) : (void)0)
#define agg_add_MIN(a, name, x, t, first)   ((first) || (x) < (a)->name ? (void)((a)->name = (x)) : (void)0)
#define agg_add_FIRST(a, name, x, t, first) \
	((first) || (t)->time_us < (a)->name##_time ? (void)((a)->name = (x)) : (void)0)
#define agg_add_LAST(a, name, x, t, first) \
	((first) || (t)->time_us >= (a)->name##_time ? (void)((a)->name = (x)) : (void)0)
#define agg_merge_SUM(a, name, b)   ((a)->name += (b)->name)
#define agg_merge_MAX(a, name, b)   ((b)->name > (a)->name ? (void)((a)->name = (b)->name) : (void)0)
#define agg_merge_MIN(a, name, b)   ((b)->name < (a)->name ? (void)((a)->name = (b)->name) : (void)0)
#define agg_merge_FIRST(a, name, b) ((b)->name##_time < (a)->name##_time ? (void)((a)->name = (b)->name) : (void)0)
#define agg_merge_LAST(a, name, b)  ((b)->name##_time >= (a)->name##_time ? (void)((a)->name = (b)->name) : (void)0)

/* ~1M ticks/s, each in one or more windows: straight-line code, as written
 * by hand before (sums in arrival order, extremes from the first tick). */
void win_agg_add(struct win_agg *a, const struct tick *tk)
{
	int first = a->ticks == 0;
	(void)first;
#define AGG_ADD_ONE(name, type, tv, add, merge) agg_add_##add(a, name, AGG_TV_##tv(tk), tk, first);
	AGG_FIELDS(AGG_ADD_ONE)
#undef AGG_ADD_ONE
}

void agg_merge(struct win_agg *into, const struct win_agg *from)
{
#define AGG_MERGE_ONE(name, type, tv, add, merge) agg_merge_##merge(into, name, from);
	AGG_FIELDS(AGG_MERGE_ONE)
#undef AGG_MERGE_ONE
}

int64_t agg_get_int(const struct win_agg *a, int f)
{
	int64_t v;
	memcpy(&v, (const char *)a + agg_fields[f].offset, sizeof(v));
	return v;
}

double agg_get_real(const struct win_agg *a, int f)
{
	double v;
	memcpy(&v, (const char *)a + agg_fields[f].offset, sizeof(v));
	return v;
}

void agg_set_int(struct win_agg *a, int f, int64_t v)
{
	memcpy((char *)a + agg_fields[f].offset, &v, sizeof(v));
}

void agg_set_real(struct win_agg *a, int f, double v)
{
	memcpy((char *)a + agg_fields[f].offset, &v, sizeof(v));
}

int agg_col_find(const char *s, size_t n)
{
	for (int i = 0; i < AGG_NCOLS; i++)
		if (strlen(agg_cols[i].name) == n && memcmp(agg_cols[i].name, s, n) == 0)
			return i;
	return -1;
}

/* A field's value as a double (an int converted, as SQL's division does). */
static double agg_real_of(const struct win_agg *a, int f)
{
	return agg_fields[f].type == AGG_REAL ? agg_get_real(a, f) : (double)agg_get_int(a, f);
}

/* Contract: see agg.h.  A mean is the field divided by per in double, the
 * bits SQL's sum(x) / sum(ticks) gave when the view computed it.  Empty: a
 * field of version 6 of a window with ticks from before it, a ratio over 0
 * (vwap of ticks without last_size), trade_gap of ticks without trade ids. */
size_t agg_col_format(int c, const struct win_agg *a, char *buf)
{
	const struct agg_col *col = &agg_cols[c];

	buf[0] = '\0';
	if (col->v6 && a->ticks_v6 != a->ticks)
		return 0;
	switch (col->fmt) {
	case AGG_FMT_TIME:
		return fmt_time_ms(agg_get_int(a, col->field), buf);
	case AGG_FMT_INT:
		return (size_t)snprintf(buf, FMT_BUF, "%" PRId64, agg_get_int(a, col->field));
	case AGG_FMT_GAP:
		if (a->max_trade_id < 0)
			return 0;
		return (size_t)snprintf(buf, FMT_BUF, "%" PRId64,
		                        a->max_trade_id - a->min_trade_id + 1 - a->trade_ticks);
	case AGG_FMT_REAL:
		break;
	}
	double v = agg_real_of(a, col->field);
	if (col->per >= 0) {
		double d = agg_real_of(a, col->per);
		if (d == 0)
			return 0;
		v /= d;
	}
	return fmt_double(v, buf);
}

/* FIRST / LAST merged in SQL: the value of the group's partial with the
 * least (greatest) <col>_time, a tie to the first (last) in (topic,
 * partition) order, as agg_merge does called in that order. */
static int agg_sql_pick(char *out, size_t len, const char *sep, const char *col, int last)
{
	const char *d = last ? " DESC" : "";
	return snprintf(out, len,
	                "%s(SELECT x.%s FROM windows x WHERE x.product_id = windows.product_id AND "
	                "x.window_start = windows.window_start AND x.window_end = windows.window_end "
	                "ORDER BY x.%s_time%s, x.topic%s, x.partition%s LIMIT 1)", sep, col, col, d, d, d);
}

/* Appends one @agg_...@ list (name: what is between the @s) to out at *o;
 * -1 when the name is unknown or out is full. */
static int agg_sql_list(const char *name, size_t n, int nfields, char *out, size_t len, size_t *o)
{
	static const char *const lists[] = { "agg_columns", "agg_params", "agg_merged" };
	int which = -1;

	for (int i = 0; i < 3; i++)
		if (strlen(lists[i]) == n && memcmp(lists[i], name, n) == 0)
			which = i;
	if (which < 0)
		return -1;
	for (int f = 0; f < AGG_NFIELDS; f++) {
		const char *sep = f ? ", " : "", *col = agg_fields[f].column;
		int w = f >= nfields ? snprintf(out + *o, len - *o, "%s0", sep)
		      : which == 0 ? snprintf(out + *o, len - *o, "%s%s", sep, col)
		      : which == 1 ? snprintf(out + *o, len - *o, "%s?", sep)
		      : agg_fields[f].merge_sql ? snprintf(out + *o, len - *o, "%s%s(%s)", sep, agg_fields[f].merge_sql, col)
		      : agg_sql_pick(out + *o, len - *o, sep, col, agg_fields[f].merge == AGG_MERGE_LAST);
		if (w < 0 || (size_t)w >= len - *o)
			return -1;
		*o += (size_t)w;
	}
	return 0;
}

/* Contract: see agg.h. */
int agg_sql(const char *tmpl, int nfields, char *out, size_t len)
{
	size_t o = 0;

	while (*tmpl) {
		const char *at = strstr(tmpl, "@agg_"), *end = at ? strchr(at + 1, '@') : NULL;
		size_t plain = at ? (size_t)(at - tmpl) : strlen(tmpl);
		if (plain >= len - o)
			return -1;
		memcpy(out + o, tmpl, plain);
		o += plain;
		if (!at)
			break;
		if (!end || agg_sql_list(at + 1, (size_t)(end - at - 1), nfields, out, len, &o) < 0)
			return -1;
		tmpl = end + 1;
	}
	if (o >= len)
		return -1;
	out[o] = '\0';
	return (int)o;
}

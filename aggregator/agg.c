/*
 * agg.c - the window aggregate's tables and the code generated from them
 * (see agg.h).
 */
#include "agg.h"

#include <stdio.h>
#include <string.h>

#include "fmt.h"

/* The type of a struct win_agg member, as an agg_type. */
#define AGG_TYPE_OF(name) _Generic(((struct win_agg *)0)->name, int64_t: AGG_INT, double: AGG_REAL)

/* A field takes a tick field of its own type (COUNT's is never read). */
#define AGG_CHECK(name, type, tf, add, merge) \
	_Static_assert(_Generic(((struct tick *)0)->tf, type: 1, default: 0), \
	               "AGG_FIELDS: " #name " takes tick." #tf " of another type");
AGG_FIELDS(AGG_CHECK)
#undef AGG_CHECK

/* A merge rule's SQL aggregate. */
#define AGG_SQL_SUM "sum"
#define AGG_SQL_MAX "max"

const struct agg_field agg_fields[AGG_NFIELDS] = {
#define AGG_ENTRY(name, type, tf, add, merge) \
	[AGG_F_##name] = { #name, AGG_TYPE_OF(name), offsetof(struct win_agg, name), AGG_ADD_##add, \
	                   AGG_MERGE_##merge, AGG_SQL_##merge },
	AGG_FIELDS(AGG_ENTRY)
#undef AGG_ENTRY
};

/* The CSV columns after window_start, window_end and product_id (export.c). */
const struct agg_col agg_cols[] = {
	{ "max(timestamp)",  AGG_FMT_TIME, AGG_F_max_time,       -1 },
	{ "avg(price)",      AGG_FMT_REAL, AGG_F_sum_price,      AGG_F_ticks },
	{ "max(best_bid)",   AGG_FMT_REAL, AGG_F_max_best_bid,   -1 },
	{ "max(best_ask)",   AGG_FMT_REAL, AGG_F_max_best_ask,   -1 },
	{ "avg(volume_24h)", AGG_FMT_REAL, AGG_F_sum_volume_24h, AGG_F_ticks },
};
_Static_assert(sizeof(agg_cols) / sizeof(agg_cols[0]) == AGG_NCOLS, "AGG_NCOLS: the entries of agg_cols");

/* The hot path's steps, one per field: x is the tick's value, first whether
 * it is the window's first tick. */
#define agg_add_COUNT(p, x, first) (*(p) += 1)
#define agg_add_SUM(p, x, first)   (*(p) += (x))
#define agg_add_MAX(p, x, first)   ((first) || (x) > *(p) ? (void)(*(p) = (x)) : (void)0)
#define agg_merge_SUM(p, x)        (*(p) += (x))
#define agg_merge_MAX(p, x)        ((x) > *(p) ? (void)(*(p) = (x)) : (void)0)

/* ~1M ticks/s, each in one or more windows: straight-line code, as written
 * by hand before (sums in arrival order, maxima from the first tick). */
void win_agg_add(struct win_agg *a, const struct tick *tk)
{
	int first = a->ticks == 0;
	(void)first;
#define AGG_ADD_ONE(name, type, tf, add, merge) agg_add_##add(&a->name, tk->tf, first);
	AGG_FIELDS(AGG_ADD_ONE)
#undef AGG_ADD_ONE
}

void agg_merge(struct win_agg *into, const struct win_agg *from)
{
#define AGG_MERGE_ONE(name, type, tf, add, merge) agg_merge_##merge(&into->name, from->name);
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
 * bits SQL's sum(x) / sum(ticks) gave when the view computed it. */
size_t agg_col_format(int c, const struct win_agg *a, char *buf)
{
	const struct agg_col *col = &agg_cols[c];

	if (col->fmt == AGG_FMT_TIME)
		return fmt_time_ms(agg_get_int(a, col->field), buf);
	double v = agg_real_of(a, col->field);
	if (col->per >= 0)
		v /= agg_real_of(a, col->per);
	return fmt_double(v, buf);
}

/* Appends one @agg_...@ list (name: what is between the @s) to out at *o;
 * -1 when the name is unknown or out is full. */
static int agg_sql_list(const char *name, size_t n, char *out, size_t len, size_t *o)
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
		int w = which == 0 ? snprintf(out + *o, len - *o, "%s%s", sep, col)
		      : which == 1 ? snprintf(out + *o, len - *o, "%s?", sep)
		      : snprintf(out + *o, len - *o, "%s%s(%s)", sep, agg_fields[f].merge_sql, col);
		if (w < 0 || (size_t)w >= len - *o)
			return -1;
		*o += (size_t)w;
	}
	return 0;
}

/* Contract: see agg.h. */
int agg_sql(const char *tmpl, char *out, size_t len)
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
		if (!end || agg_sql_list(at + 1, (size_t)(end - at - 1), out, len, &o) < 0)
			return -1;
		tmpl = end + 1;
	}
	if (o >= len)
		return -1;
	out[o] = '\0';
	return (int)o;
}

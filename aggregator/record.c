/*
 * record.c - see record.h.
 */
#include "record.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "tick.h"
#include "window.h"

int rec_key_partition(char *buf, size_t len, char kind, const char *topic, int32_t partition)
{
	return snprintf(buf, len, "%c\t%s\t%" PRId32, kind, topic, partition);
}

int rec_key_product(char *buf, size_t len, const char *topic, int32_t partition, const char *product)
{
	return snprintf(buf, len, "s\t%s\t%" PRId32 "\t%s", topic, partition, product);
}

int rec_key_window(char *buf, size_t len, const struct store_wkey *k)
{
	return snprintf(buf, len, "w\t%s\t%" PRId32 "\t%s\t%" PRId64 "\t%" PRId64, k->topic, k->partition,
	                k->product_id, k->start, k->end);
}

/* A time, or "-" for none. */
static const char *rec_time(int64_t v, char buf[24])
{
	if (v == WM_NONE)
		return "-";
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

int rec_val_partition(char *buf, size_t len, const struct store_partition *p)
{
	char a[24], b[24], c[24], d[24] = "-", h[24] = "-";
	if (p->fp_set) {
		snprintf(d, sizeof(d), "%" PRId64, p->fp_time);
		snprintf(h, sizeof(h), "%" PRId64, p->fp_hash);
	}
	return snprintf(buf, len, "%" PRId64 " %s %" PRId64 " %" PRId64 " %s %" PRId64 " %" PRId64 " %s %s %s",
	                p->next_offset, rec_time(p->max_time, a), p->rejected, p->time_run,
	                rec_time(p->time_run_max, b), p->skew_run, p->skew_first, rec_time(p->closed_until, c), d, h);
}

int rec_val_product(char *buf, size_t len, const struct store_product *pr)
{
	return snprintf(buf, len, "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64
	                " %" PRId64 " %" PRId64, pr->ticks, pr->late, pr->duplicates, pr->seq.max_sequence,
	                pr->seq.jump_seq, pr->seq.jump_run, pr->seq.back_seq, pr->seq.back_run);
}

/* The fields of agg.h in their order, space-separated: integers in decimal,
 * doubles in fmt_double's exact form.  Returns snprintf's length (what the
 * whole value needs, as the other rec_val_*). */
int rec_val_window(char *buf, size_t len, const struct win_agg *a)
{
	size_t o = 0;

	for (int f = 0; f < AGG_NFIELDS; f++) {
		char d[FMT_BUF];
		if (agg_fields[f].type == AGG_INT)
			snprintf(d, sizeof(d), "%" PRId64, agg_get_int(a, f));
		else
			fmt_double(agg_get_real(a, f), d);
		int n = snprintf(buf + (o < len ? o : len), o < len ? len - o : 0, "%s%s", f ? " " : "", d);
		if (n < 0)
			return n;
		o += (size_t)n;
	}
	return (int)o;
}

void rec_window_syntax(char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int f = 0; f < AGG_NFIELDS && o < len; f++) {
		int n = snprintf(buf + o, len - o, "%s<%s>", f ? " " : "", agg_fields[f].column);
		if (n < 0)
			return;
		o += (size_t)n;
	}
}

int rec_val_marker(char *buf, size_t len, int64_t closed_until, int32_t topic_parts)
{
	return snprintf(buf, len, "%" PRId64 " %" PRId32, closed_until, topic_parts);
}

/* --- parsing ---------------------------------------------------------------- */

/* Copies p into buf as a string; -1 when too long or holding a NUL. */
static int rec_text(const void *p, size_t len, char *buf, size_t buflen)
{
	if (!p || len >= buflen || memchr(p, '\0', len))
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return 0;
}

/* Splits s in place at sep into exactly n fields, or -1. */
static int rec_split(char *s, char sep, char **f, int n)
{
	int i = 0;
	f[i++] = s;
	for (char *p = s; *p; p++)
		if (*p == sep) {
			if (i == n)
				return -1;
			*p = '\0';
			f[i++] = p + 1;
		}
	return i == n ? 0 : -1;
}

/* s as a whole decimal integer in [lo, hi]. */
static int rec_int(const char *s, int64_t lo, int64_t hi, int64_t *v)
{
	char *end;
	if (*s != '-' && !(*s >= '0' && *s <= '9'))
		return -1;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return -1;
	*v = n;
	return 0;
}

/* A time: an integer, or "-" (WM_NONE). */
static int rec_time_parse(const char *s, int64_t *v)
{
	if (!strcmp(s, "-")) {
		*v = WM_NONE;
		return 0;
	}
	return rec_int(s, INT64_MIN, INT64_MAX, v);
}

/* s as a whole double (fmt_double's text reads back exactly). */
static int rec_double(const char *s, double *v)
{
	char *end;
	if (!*s || *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')
		return -1;
	errno = 0;
	*v = strtod(s, &end);
	return *end || errno == ERANGE ? -1 : 0;
}

int rec_key_parse(const void *key, size_t len, struct rec_key *k, const char **why)
{
	char *f[6];
	int64_t part;

	*why = "not a key of ours";
	if (rec_text(key, len, k->buf, sizeof(k->buf)) < 0 || len < 2 || k->buf[1] != '\t')
		return -1;
	k->kind = k->buf[0];
	int n = k->kind == 'p' || k->kind == 'c' ? 3 : k->kind == 's' ? 4 : k->kind == 'w' ? 6 : 0;
	if (!n || rec_split(k->buf, '\t', f, n) < 0)
		return -1;
	*why = "bad topic, partition, product id or window";
	if (!*f[1] || rec_int(f[2], 0, INT32_MAX, &part) < 0)
		return -1;
	k->topic = f[1];
	k->partition = (int32_t)part;
	k->product = n > 3 ? f[3] : NULL;
	k->start = k->end = 0;
	if (k->product && !tick_product_id_ok(k->product, strlen(k->product)))
		return -1;
	if (n == 6 && (rec_int(f[4], INT64_MIN, INT64_MAX, &k->start) < 0 ||
	               rec_int(f[5], INT64_MIN, INT64_MAX, &k->end) < 0 || k->end <= k->start))
		return -1;
	return 0;
}

/* The fingerprint's two fields: both integers, or both "-" (unknown). */
static int rec_fp_parse(const char *t, const char *h, struct store_partition *p)
{
	if (!strcmp(t, "-") && !strcmp(h, "-"))
		return 0;
	p->fp_set = 1;
	return rec_int(t, INT64_MIN, INT64_MAX, &p->fp_time) < 0 || rec_int(h, INT64_MIN, INT64_MAX, &p->fp_hash) < 0
	       ? -1 : 0;
}

/* 10 fields; or the 8 written before the fingerprint (version 5), which
 * leave it unknown: that partition's log is checked after its next batch. */
int rec_parse_partition(const void *val, size_t len, struct store_partition *p)
{
	char buf[REC_TEXT_MAX], old[REC_TEXT_MAX], *f[10];
	if (rec_text(val, len, buf, sizeof(buf)) < 0)
		return -1;
	memcpy(old, buf, len + 1);
	memset(p, 0, sizeof(*p));
	if (rec_split(buf, ' ', f, 10) == 0) {
		if (rec_fp_parse(f[8], f[9], p) < 0)
			return -1;
	} else if (rec_split(old, ' ', f, 8) < 0) {
		return -1;
	}
	return rec_int(f[0], 0, INT64_MAX, &p->next_offset) < 0 || rec_time_parse(f[1], &p->max_time) < 0 ||
	       rec_int(f[2], 0, INT64_MAX, &p->rejected) < 0 || rec_int(f[3], 0, INT64_MAX, &p->time_run) < 0 ||
	       rec_time_parse(f[4], &p->time_run_max) < 0 || rec_int(f[5], 0, INT64_MAX, &p->skew_run) < 0 ||
	       rec_int(f[6], INT64_MIN, INT64_MAX, &p->skew_first) < 0 || rec_time_parse(f[7], &p->closed_until) < 0
	       ? -1 : 0;
}

int rec_parse_product(const void *val, size_t len, struct store_product *pr)
{
	char buf[REC_TEXT_MAX], *f[8];
	int64_t *v[8] = { &pr->ticks, &pr->late, &pr->duplicates, &pr->seq.max_sequence,
	                  &pr->seq.jump_seq, &pr->seq.jump_run, &pr->seq.back_seq, &pr->seq.back_run };
	if (rec_text(val, len, buf, sizeof(buf)) < 0 || rec_split(buf, ' ', f, 8) < 0)
		return -1;
	for (int i = 0; i < 8; i++)
		if (rec_int(f[i], i == 3 || i == 4 || i == 6 ? -1 : 0, INT64_MAX, v[i]) < 0)
			return -1;
	return 0;
}

/* AGG_NFIELDS fields, or the AGG_F_ticks_v6 of a record written before
 * version 6 (its new fields 0, ticks_v6 0: partial, as a migrated window);
 * ticks is >= 1. */
int rec_parse_window(const void *val, size_t len, struct win_agg *a)
{
	char buf[REC_TEXT_MAX], *f[AGG_NFIELDS];
	int n = AGG_NFIELDS;
	if (rec_text(val, len, buf, sizeof(buf)) < 0)
		return -1;
	if (rec_split(buf, ' ', f, n) < 0) {
		n = AGG_F_ticks_v6;
		if (rec_text(val, len, buf, sizeof(buf)) < 0 || rec_split(buf, ' ', f, n) < 0)
			return -1;
	}
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < n; i++) {
		double d;
		if (agg_fields[i].type == AGG_REAL) {
			if (rec_double(f[i], &d) < 0)
				return -1;
			agg_set_real(a, i, d);
		} else {
			int64_t v;
			if (rec_int(f[i], i == AGG_F_ticks ? 1 : agg_fields[i].add == AGG_ADD_COUNT ? 0 : INT64_MIN,
			            INT64_MAX, &v) < 0)
				return -1;
			agg_set_int(a, i, v);
		}
	}
	return 0;
}

int rec_parse_marker(const void *val, size_t len, int64_t *closed_until, int32_t *topic_parts)
{
	char buf[REC_TEXT_MAX], *f[2];
	int64_t parts;
	if (rec_text(val, len, buf, sizeof(buf)) < 0 || rec_split(buf, ' ', f, 2) < 0 ||
	    rec_int(f[0], INT64_MIN, INT64_MAX, closed_until) < 0 || rec_int(f[1], 1, INT32_MAX, &parts) < 0)
		return -1;
	*topic_parts = (int32_t)parts;
	return 0;
}

/* --- the group's settings --------------------------------------------------- */

#define REC_SETTINGS_KEY "g\tsettings"

int rec_key_settings(char *buf, size_t len)
{
	return snprintf(buf, len, "%s", REC_SETTINGS_KEY);
}

int rec_is_settings(const void *key, size_t len)
{
	return key && len == strlen(REC_SETTINGS_KEY) && !memcmp(key, REC_SETTINGS_KEY, len);
}

int rec_val_settings(char *buf, size_t len, const struct rec_settings *s)
{
	return snprintf(buf, len, "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId32, s->window_us, s->slide_us,
	                s->delay_us, s->changelog_parts);
}

int rec_parse_settings(const void *val, size_t len, struct rec_settings *s)
{
	char buf[REC_TEXT_MAX], *f[4];
	int64_t parts;
	if (rec_text(val, len, buf, sizeof(buf)) < 0 || rec_split(buf, ' ', f, 4) < 0 ||
	    rec_int(f[0], 1, INT64_MAX, &s->window_us) < 0 || rec_int(f[1], 1, INT64_MAX, &s->slide_us) < 0 ||
	    rec_int(f[2], 0, INT64_MAX, &s->delay_us) < 0 || rec_int(f[3], 1, INT32_MAX, &parts) < 0)
		return -1;
	s->changelog_parts = (int32_t)parts;
	return 0;
}

/*
 * store_rows.c - the state file's rows (see store.h): a window's aggregate
 * bound and read through agg.h's table, partitions, products, rejected
 * messages, data loss, the export's merged rows, group mode's closing and
 * restore, and status's summary.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "store_int.h"

/* A window's key is ?1 .. ?STORE_WKEY_PARAMS of its statements; window_put's
 * aggregate fields follow it. */
#define STORE_WKEY_PARAMS 5

static void store_bind_wkey(sqlite3_stmt *s, const struct store_wkey *k)
{
	sqlite3_bind_text(s, 1, k->product_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, k->start);
	sqlite3_bind_int64(s, 3, k->end);
	sqlite3_bind_text(s, 4, k->topic, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, k->partition);
}

/* A window's aggregate fields from columns col .. col + AGG_NFIELDS - 1
 * (@agg_columns@ or @agg_merged@: agg_fields' order). */
static void store_col_agg(sqlite3_stmt *s, int col, struct win_agg *a)
{
	for (int f = 0; f < AGG_NFIELDS; f++) {
		if (agg_fields[f].type == AGG_INT)
			agg_set_int(a, f, sqlite3_column_int64(s, col + f));
		else
			agg_set_real(a, f, sqlite3_column_double(s, col + f));
	}
}

int store_window_get(struct store *st, const struct store_wkey *k, struct win_agg *a)
{
	sqlite3_stmt *s = st->stmt[ST_WIN_GET];
	store_bind_wkey(s, k);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		store_col_agg(s, 0, a);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_window_put(struct store *st, const struct store_wkey *k, const struct win_agg *a,
                     char *err, size_t errlen)
{
	sqlite3_stmt *s = st->stmt[ST_WIN_PUT];
	store_bind_wkey(s, k);
	for (int f = 0; f < AGG_NFIELDS; f++) {
		if (agg_fields[f].type == AGG_INT)
			sqlite3_bind_int64(s, STORE_WKEY_PARAMS + 1 + f, agg_get_int(a, f));
		else
			sqlite3_bind_double(s, STORE_WKEY_PARAMS + 1 + f, agg_get_real(a, f));
	}
	return store_step_done(st, ST_WIN_PUT, err, errlen, "cannot write a window");
}

int store_window_del(struct store *st, const struct store_wkey *k, char *err, size_t errlen)
{
	store_bind_wkey(st->stmt[ST_WIN_DEL], k);
	return store_step_done(st, ST_WIN_DEL, err, errlen, "cannot delete a window");
}

/* Contract: see store.h. */
int64_t store_col_time(sqlite3_stmt *s, int col)
{
	return sqlite3_column_type(s, col) == SQLITE_NULL ? WM_NONE : sqlite3_column_int64(s, col);
}

int store_partition_get(struct store *st, const char *topic, int32_t partition, struct store_partition *p)
{
	sqlite3_stmt *s = st->stmt[ST_PART_GET];
	sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, partition);
	int rc = sqlite3_step(s);
	memset(p, 0, sizeof(*p));
	p->next_offset = -1;
	p->max_time = p->time_run_max = p->closed_until = WM_NONE;
	if (rc == SQLITE_ROW) {
		p->next_offset = sqlite3_column_int64(s, 0);
		p->max_time = store_col_time(s, 1);
		p->rejected = sqlite3_column_int64(s, 2);
		p->time_run = sqlite3_column_int64(s, 3);
		p->time_run_max = store_col_time(s, 4);
		p->skew_run = sqlite3_column_int64(s, 5);
		p->skew_first = sqlite3_column_int64(s, 6);
		p->closed_until = store_col_time(s, 7);
		p->fp_set = sqlite3_column_type(s, 8) != SQLITE_NULL && sqlite3_column_type(s, 9) != SQLITE_NULL;
		p->fp_time = p->fp_set ? sqlite3_column_int64(s, 8) : 0;
		p->fp_hash = p->fp_set ? sqlite3_column_int64(s, 9) : 0;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* 64-bit words read little-endian whatever the machine, each mixed in as
 * FNV-1a mixes a byte (xor, then FNV's 64-bit prime), a final avalanche
 * (splitmix64's): it runs on every message, eight times fewer steps than
 * FNV-1a's byte at a time. */
static uint64_t store_fp_mix(uint64_t h, const unsigned char *p, size_t n)
{
	const uint64_t prime = 1099511628211ULL;
	uint64_t w;

	h = (h ^ n) * prime;
	for (; n >= 8; p += 8, n -= 8) {
		w = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
		    (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
		h = (h ^ w) * prime;
		h ^= h >> 29;
	}
	for (w = 0; n > 0; n--)
		w = w << 8 | p[n - 1];
	return (h ^ w) * prime;
}

int64_t store_fp_hash(const void *key, size_t klen, const void *val, size_t vlen)
{
	uint64_t h = store_fp_mix(14695981039346656037ULL, key, key ? klen : 0);
	h = store_fp_mix(h, val, val ? vlen : 0);
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return (int64_t)h;
}

int store_partition_put(struct store *st, const char *topic, int32_t partition,
                        const struct store_partition *p, int64_t now_us, char *err, size_t errlen)
{
	sqlite3_stmt *s = st->stmt[ST_PART_PUT];
	sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, partition);
	sqlite3_bind_int64(s, 3, p->next_offset);
	if (p->max_time != WM_NONE)
		sqlite3_bind_int64(s, 4, p->max_time);
	sqlite3_bind_int64(s, 5, p->rejected);
	sqlite3_bind_int64(s, 6, now_us);
	sqlite3_bind_int64(s, 7, p->time_run);
	if (p->time_run_max != WM_NONE)
		sqlite3_bind_int64(s, 8, p->time_run_max);
	sqlite3_bind_int64(s, 9, p->skew_run);
	sqlite3_bind_int64(s, 10, p->skew_first);
	if (p->closed_until != WM_NONE)
		sqlite3_bind_int64(s, 11, p->closed_until);
	if (p->fp_set) {
		sqlite3_bind_int64(s, 12, p->fp_time);
		sqlite3_bind_int64(s, 13, p->fp_hash);
	}
	return store_step_done(st, ST_PART_PUT, err, errlen, "cannot write a partition");
}

int store_products_each(struct store *st, const char *topic, int32_t partition,
                        int (*fn)(const struct store_product *, void *), void *arg)
{
	sqlite3_stmt *s = st->stmt[ST_PROD_EACH];
	int rc, ret = 0;
	sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, partition);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_product p;
		const unsigned char *id = sqlite3_column_text(s, 0);
		snprintf(p.product_id, sizeof(p.product_id), "%s", id ? (const char *)id : "");
		p.ticks = sqlite3_column_int64(s, 1);
		p.late = sqlite3_column_int64(s, 2);
		p.duplicates = sqlite3_column_int64(s, 3);
		p.seq.max_sequence = sqlite3_column_type(s, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 4);
		p.seq.jump_seq = sqlite3_column_int64(s, 5);
		p.seq.jump_run = sqlite3_column_int64(s, 6);
		p.seq.back_seq = sqlite3_column_int64(s, 7);
		p.seq.back_run = sqlite3_column_int64(s, 8);
		if (fn(&p, arg) < 0) {
			ret = -1;
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = -1;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return ret;
}

int store_product_put(struct store *st, const char *topic, int32_t partition,
                      const struct store_product *p, char *err, size_t errlen)
{
	sqlite3_stmt *s = st->stmt[ST_PROD_PUT];
	sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, partition);
	sqlite3_bind_text(s, 3, p->product_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, p->ticks);
	sqlite3_bind_int64(s, 5, p->late);
	sqlite3_bind_int64(s, 6, p->duplicates);
	if (p->seq.max_sequence >= 0)
		sqlite3_bind_int64(s, 7, p->seq.max_sequence);
	sqlite3_bind_int64(s, 8, p->seq.jump_seq);
	sqlite3_bind_int64(s, 9, p->seq.jump_run);
	sqlite3_bind_int64(s, 10, p->seq.back_seq);
	sqlite3_bind_int64(s, 11, p->seq.back_run);
	return store_step_done(st, ST_PROD_PUT, err, errlen, "cannot write a product");
}

int store_rejected_add(struct store *st, const char *topic, int32_t partition, int64_t offset,
                       const char *reason, const void *payload, size_t len, char *err, size_t errlen)
{
	sqlite3_stmt *s = st->stmt[ST_REJ_ADD];
	if (st->rej_rows < 0) {
		sqlite3_stmt *q = NULL;
		st->rej_rows = st->rej_bytes = 0;
		if (sqlite3_prepare_v2(st->db, sql_stmt_rejected_size,
		                       -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
			st->rej_rows = sqlite3_column_int64(q, 0);
			st->rej_bytes = sqlite3_column_int64(q, 1);
		}
		sqlite3_finalize(q);
	}
	if (st->rej_rows >= STORE_REJ_ROWS_MAX)
		return 1;
	size_t keep = len > STORE_PAYLOAD_MAX ? STORE_PAYLOAD_MAX : len;
	if (st->rej_bytes + (int64_t)keep > STORE_REJ_BYTES_MAX)
		keep = 0;
	sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, partition);
	sqlite3_bind_int64(s, 3, offset);
	sqlite3_bind_text(s, 4, reason, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 5, payload ? payload : "", (int)keep, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, (int64_t)len);
	if (store_step_done(st, ST_REJ_ADD, err, errlen, "cannot record a rejected message") < 0)
		return -1;
	st->rej_rows++;
	st->rej_bytes += (int64_t)keep;
	return 0;
}

int store_data_loss_add(struct store *st, const char *topic, int32_t partition, int64_t from, int64_t to,
                        int64_t lost, int64_t now_us, char *err, size_t errlen)
{
	/* Prepared when needed: it happens rarely, if ever. */
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, sql_stmt_data_loss_add, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 2, partition);
		sqlite3_bind_int64(s, 3, from);
		sqlite3_bind_int64(s, 4, to);
		sqlite3_bind_int64(s, 5, lost);
		sqlite3_bind_int64(s, 6, now_us);
		rc = sqlite3_step(s);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		store_fail(st, err, errlen, "cannot record a data loss");
		return -1;
	}
	return 0;
}

int64_t store_rows_each(struct store *st, int64_t after, int64_t until,
                        int (*fn)(const struct store_row *, void *), void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *s = st->stmt[ST_ROWS];
	int64_t n = 0;
	int rc;

	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int64(s, 2, until);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_row r;
		r.product_id = (const char *)sqlite3_column_text(s, 0);
		r.window_start = sqlite3_column_int64(s, 1);
		r.window_end = sqlite3_column_int64(s, 2);
		store_col_agg(s, 3, &r.agg);
		if (fn(&r, arg) < 0) {
			sqlite3_reset(s);
			snprintf(err, errlen, "export stopped");
			return -1;
		}
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_fail(st, err, errlen, "cannot read windows");
		return -1;
	}
	return n;
}

int store_first_end(struct store *st, int64_t after, int64_t until, int64_t *end, char *err, size_t errlen)
{
	sqlite3_stmt *s = st->stmt[ST_FIRST_END];
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int64(s, 2, until);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*end = store_col_time(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW)
		return store_fail(st, err, errlen, "cannot read windows");
	return *end != WM_NONE;
}

int64_t store_windows_retain(struct store *st, int64_t start_before, int64_t closed_until, char *err, size_t errlen)
{
	sqlite3_stmt *s = st->stmt[ST_RETAIN];
	sqlite3_bind_int64(s, 1, start_before);
	sqlite3_bind_int64(s, 2, closed_until);
	if (store_step_done(st, ST_RETAIN, err, errlen, "cannot drop old windows") < 0)
		return -1;
	return sqlite3_changes64(st->db);
}

int store_partition_clear(struct store *st, const char *topic, int32_t partition, int64_t keep_until,
                          char *err, size_t errlen)
{
	static const int ids[] = { ST_CLEAR_WINS, ST_CLEAR_PRODS, ST_CLEAR_PART };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		sqlite3_stmt *s = st->stmt[ids[i]];
		sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 2, partition);
		if (ids[i] == ST_CLEAR_WINS)
			sqlite3_bind_int64(s, 3, keep_until == WM_NONE ? INT64_MIN : keep_until);
		if (store_step_done(st, ids[i], err, errlen, "cannot clear a partition") < 0)
			return -1;
	}
	return 0;
}

int store_savepoint(struct store *st, enum store_sp op, char *err, size_t errlen)
{
	static const char *const sql[] = { "SAVEPOINT sp", "RELEASE sp", "ROLLBACK TO sp; RELEASE sp" };
	return store_exec(st, sql[op], err, errlen, "savepoint");
}

int store_windows_closing(struct store *st, const char *topic, int32_t partition, int64_t after, int64_t until,
                          int (*fn)(const struct store_wkey *, const struct win_agg *, void *), void *arg)
{
	sqlite3_stmt *s = st->stmt[ST_WIN_CLOSING];
	int rc, ret = 0;
	sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, partition);
	sqlite3_bind_int64(s, 3, after == WM_NONE ? INT64_MIN : after);
	sqlite3_bind_int64(s, 4, until);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_wkey k = { topic, partition, (const char *)sqlite3_column_text(s, 0),
		                        sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2) };
		struct win_agg a;
		store_col_agg(s, 3, &a);
		if (!k.product_id || (ret = fn(&k, &a, arg)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = -1;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return ret;
}

/* status's statements are prepared when it asks, not at every open; a state
 * of an older schema without their tables (1 had no data_loss) is named so. */
static sqlite3_stmt *store_prepare_summary(struct store *st, const char *sql, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		st->err_code = sqlite3_errcode(st->db);
		snprintf(err, errlen, "state %s is not an aggregator state of this version (%s): "
		         "an aggregator opens and migrates it", st->path, sqlite3_errmsg(st->db));
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

static int store_summary_meta(struct store *st, struct store_summary *sum, char *err, size_t errlen)
{
	sqlite3_stmt *s = store_prepare_summary(st, sql_stmt_status_meta, err, errlen);
	if (!s)
		return -1;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		sum->watermark = store_col_time(s, 0);
		sum->delay_us = store_col_time(s, 1);
		sum->window_us = store_col_time(s, 2);
		sum->exported_until = store_col_time(s, 3);
		sum->open_windows = sqlite3_column_int64(s, 4);
		sum->oldest_end = store_col_time(s, 5);
		sum->retained_from = store_col_time(s, 6);
	} else {
		store_fail(st, err, errlen, "cannot read the progress");
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int store_summary_parts(struct store *st, int (*fn)(const struct store_part_summary *, void *), void *arg,
                               char *err, size_t errlen)
{
	sqlite3_stmt *s = store_prepare_summary(st, sql_stmt_status_partitions, err, errlen);
	int rc = SQLITE_DONE, ret = 0;
	if (!s)
		return -1;
	while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_part_summary p;
		const unsigned char *topic = sqlite3_column_text(s, 0);
		snprintf(p.topic, sizeof(p.topic), "%s", topic ? (const char *)topic : "");
		p.partition = sqlite3_column_int(s, 1);
		p.next_offset = sqlite3_column_int64(s, 2);
		p.max_time = store_col_time(s, 3);
		p.rejected = sqlite3_column_int64(s, 4);
		p.updated_us = sqlite3_column_int64(s, 5);
		p.ticks = sqlite3_column_int64(s, 6);
		p.late = sqlite3_column_int64(s, 7);
		p.duplicates = sqlite3_column_int64(s, 8);
		p.lost = sqlite3_column_int64(s, 9);
		ret = fn(&p, arg);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(st, err, errlen, "cannot read the partitions");
	sqlite3_finalize(s);
	return ret;
}

/* Contract: see store.h. */
int store_summary_read(struct store *st, struct store_summary *sum,
                       int (*fn)(const struct store_part_summary *, void *), void *arg, char *err, size_t errlen)
{
	char ignored[64];
	if (store_exec(st, sql_stmt_read_begin, err, errlen, "cannot begin a read") < 0)
		return -1;
	int rc = store_summary_meta(st, sum, err, errlen);
	if (rc == 0)
		rc = store_summary_parts(st, fn, arg, err, errlen);
	/* Ends the read (nothing to undo); its failure matters only when all else went well. */
	int end = store_exec(st, sql_stmt_commit, rc ? ignored : err, rc ? sizeof(ignored) : errlen,
	                     "cannot end a read");
	return rc ? rc : end;
}

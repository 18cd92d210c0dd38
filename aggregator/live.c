/*
 * live.c - see live.h.  Everything here runs on the HTTP server's thread.
 * The state is opened read-only, once, on the first request: the file is in
 * WAL mode, so this reader never blocks the engine's writer nor waits for it.
 * A query is bounded (LIMIT, and a progress handler that stops it after
 * LIVE_QUERY_MS) so that one request cannot hold the thread long.
 */
#include "live.h"

#include <jansson.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const char sql_stmt_live_closed[], sql_stmt_live_closed_between[], sql_stmt_live_closed_key[],
                  sql_stmt_live_open[], sql_stmt_live_status[];

#define LIVE_LIMIT_MAX 5000
#define LIVE_LIMIT_DEFAULT 500
#define LIVE_QUERY_MS 2000

struct live {
	char *path;
	sqlite3 *db;            /* read-only, opened on first use */
	struct timespec began;  /* the running query's start (progress handler) */
	/* The last /api/windows answer, reused while the closed windows stay
	 * the same (a page's poller asks for the same again and again; windows
	 * close a few times a minute). */
	char *cache_query;      /* its query string, NULL none */
	char *cache_body;
	size_t cache_len;
	int64_t cache_key[2];   /* live_closed_key then */
};

static int live_db(struct live *l)
{
	if (l->db)
		return 0;
	if (sqlite3_open_v2(l->path, &l->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sqlite3_close(l->db);
		l->db = NULL;
		return -1;
	}
	sqlite3_busy_timeout(l->db, 500);
	return 0;
}

/* Stops a query that has run for more than LIVE_QUERY_MS. */
static int live_progress(void *arg)
{
	struct live *l = arg;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - l->began.tv_sec) * 1000 + (now.tv_nsec - l->began.tv_nsec) / 1000000 > LIVE_QUERY_MS;
}

static json_t *live_num(sqlite3_stmt *st, int col)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL ? json_null() : json_real(sqlite3_column_double(st, col));
}

/* The windows a live_closed / live_open statement gives, as a JSON array
 * (NULL: the state could not be read). */
static json_t *live_windows(struct live *l, const char *sql, const char *product, int64_t from, int64_t to,
                            int limit)
{
	static const char *const names[] = { "ticks", "avg_price", "bid", "ask", "open", "high", "low", "close",
	                                     "volume" };
	sqlite3_stmt *st = NULL;
	json_t *out = NULL;
	if (live_db(l) < 0 || sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto done;
	if (product)
		sqlite3_bind_text(st, 1, product, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int64(st, 3, to);
	sqlite3_bind_int(st, 4, limit);
	clock_gettime(CLOCK_MONOTONIC, &l->began);
	sqlite3_progress_handler(l->db, 1000, live_progress, l);
	out = json_array();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *w = json_object();
		json_object_set_new(w, "product", json_string((const char *)sqlite3_column_text(st, 0)));
		json_object_set_new(w, "start", json_integer(sqlite3_column_int64(st, 1)));
		json_object_set_new(w, "end", json_integer(sqlite3_column_int64(st, 2)));
		for (int i = 0; i < 9; i++)
			json_object_set_new(w, names[i], i ? live_num(st, 3 + i) : json_integer(sqlite3_column_int64(st, 3)));
		json_array_append_new(out, w);
	}
	sqlite3_progress_handler(l->db, 0, NULL, NULL);
	if (rc != SQLITE_DONE) {
		json_decref(out);
		out = NULL;
	}
done:
	sqlite3_finalize(st);
	return out;
}

/* A query parameter's value (URL-decoded into buf), or NULL. */
static const char *live_param(const char *query, const char *name, char *buf, size_t buflen)
{
	size_t n = strlen(name);
	for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (strncmp(p, name, n) || p[n] != '=')
			continue;
		size_t o = 0;
		for (const char *v = p + n + 1; *v && *v != '&' && o + 1 < buflen; v++) {
			unsigned hex;
			if (*v == '%' && v[1] && v[2] && sscanf(v + 1, "%2x", &hex) == 1) {
				buf[o++] = (char)hex;
				v += 2;
			} else {
				buf[o++] = *v == '+' ? ' ' : *v;
			}
		}
		buf[o] = '\0';
		return buf;
	}
	return NULL;
}

/* A time parameter: Unix seconds (fractions allowed) -> us; 0 when absent,
 * -1 when not a number. */
static int live_time(const char *query, const char *name, int64_t *us)
{
	char buf[64], *end;
	if (!live_param(query, name, buf, sizeof(buf)))
		return 0;
	double v = strtod(buf, &end);
	if (end == buf || *end || !isfinite(v) || fabs(v) > 9e12)
		return -1;
	*us = (int64_t)llround(v * 1e6);
	return 0;
}

static int live_reply(json_t *j, char **body, size_t *len, int code)
{
	*body = json_dumps(j, JSON_COMPACT);
	*len = *body ? strlen(*body) : 0;
	json_decref(j);
	return code;
}

static int live_error(const char *msg, char **body, size_t *len, int code)
{
	return live_reply(json_pack("{ss}", "error", msg), body, len, code);
}

/* The partitions as the state has them: aggregator serve's status. */
static json_t *live_state_status(struct live *l)
{
	sqlite3_stmt *st = NULL;
	json_t *parts = json_array(), *out = NULL;
	int64_t wm = 0, updated = 0;
	if (live_db(l) < 0 || sqlite3_prepare_v2(l->db, sql_stmt_live_status, -1, &st, NULL) != SQLITE_OK)
		goto done;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_array_append_new(parts, json_pack("{ss si sI sI sI sI sI sI}",
		    "topic", (const char *)sqlite3_column_text(st, 0), "partition", sqlite3_column_int(st, 1),
		    "next_offset", (json_int_t)sqlite3_column_int64(st, 2), "ticks", (json_int_t)sqlite3_column_int64(st, 3),
		    "late", (json_int_t)sqlite3_column_int64(st, 4), "duplicates", (json_int_t)sqlite3_column_int64(st, 5),
		    "rejected", (json_int_t)sqlite3_column_int64(st, 6), "max_time", (json_int_t)sqlite3_column_int64(st, 7)));
		wm = sqlite3_column_int64(st, 8);
		updated = sqlite3_column_int64(st, 9);
	}
	if (rc == SQLITE_DONE)
		out = json_pack("{ss sO sI sI}", "mode", "serve", "partitions", parts, "watermark", (json_int_t)wm,
		                "last_commit", (json_int_t)updated);
done:
	json_decref(parts);
	sqlite3_finalize(st);
	return out;
}

/* The closed windows' key (live_closed_key) into key: 0, or -1. */
static int live_closed_key(struct live *l, int64_t key[2])
{
	sqlite3_stmt *st = NULL;
	int rc = -1;
	if (live_db(l) == 0 && sqlite3_prepare_v2(l->db, sql_stmt_live_closed_key, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		key[0] = sqlite3_column_int64(st, 0);
		key[1] = sqlite3_column_int64(st, 1);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* GET /api/windows?product=&from=&to=&limit= (closed), /api/open (the
 * state's: the engine publishes its own while it runs), /api/status. */
static int live_api(void *arg, const char *name, const char *query, char **body, size_t *len)
{
	struct live *l = arg;
	char product[128], lim[32];
	int64_t from = INT64_MIN, to = INT64_MAX;
	int open = !strcmp(name, "open");
	if (!strcmp(name, "status")) {
		json_t *j = live_state_status(l);
		return j ? live_reply(j, body, len, 200) : live_error("the state cannot be read", body, len, 503);
	}
	if (strcmp(name, "windows") && !open)
		return 0;
	long limit = LIVE_LIMIT_DEFAULT;
	if (live_param(query, "limit", lim, sizeof(lim))) {
		char *end;
		limit = strtol(lim, &end, 10);
		if (end == lim || *end || limit < 1 || limit > LIVE_LIMIT_MAX)
			return live_error("limit: 1 to 5000", body, len, 400);
	}
	if (live_time(query, "from", &from) < 0 || live_time(query, "to", &to) < 0)
		return live_error("from, to: Unix seconds", body, len, 400);
	/* the key and the answer from one snapshot of the state */
	int64_t key[2];
	int snap = !open && live_db(l) == 0 && sqlite3_exec(l->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
	int keyed = snap && live_closed_key(l, key) == 0;
	if (keyed && l->cache_query && !strcmp(l->cache_query, query) && key[0] == l->cache_key[0] &&
	    key[1] == l->cache_key[1] && (*body = malloc(l->cache_len + 1))) {
		sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL);
		memcpy(*body, l->cache_body, l->cache_len + 1);
		*len = l->cache_len;
		return 200;
	}
	const char *p = live_param(query, "product", product, sizeof(product));
	json_t *w = live_windows(l, open ? sql_stmt_live_open : sql_stmt_live_closed, p && *p ? p : NULL, from, to,
	                         (int)limit);
	if (snap)
		sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL);
	if (!w)
		return live_error("the state cannot be read", body, len, 503);
	int code = live_reply(json_pack("{so}", "windows", w), body, len, 200);
	if (keyed && *body) {
		free(l->cache_query);
		free(l->cache_body);
		l->cache_query = strdup(query);
		l->cache_body = strdup(*body);
		l->cache_len = *len;
		memcpy(l->cache_key, key, sizeof(l->cache_key));
		if (!l->cache_query || !l->cache_body) {
			free(l->cache_query);
			free(l->cache_body);
			l->cache_query = l->cache_body = NULL;
		}
	}
	return code;
}

/* A commit's note ({"closed_from":X,"closed_to":Y,...} from the engine) with
 * the windows that closed in between, read from the state, put first.  The
 * rest of the note (the status, with every partition) is copied as it is:
 * parsing and printing it again for every commit cost more than the query. */
static char *live_expand(void *arg, const char *note, size_t *len)
{
	struct live *l = arg;
	int64_t from, to;
	if (sscanf(note, "{\"closed_from\":%" SCNd64 ",\"closed_to\":%" SCNd64, &from, &to) != 2 || to <= from)
		return NULL;
	json_t *w = live_windows(l, sql_stmt_live_closed_between, NULL, from, to, LIVE_LIMIT_MAX);
	if (!w)
		w = json_array();
	char *ws = json_dumps(w, JSON_COMPACT);
	json_decref(w);
	char *out = NULL;
	if (ws && (out = malloc(strlen(ws) + strlen(note) + 16)))
		*len = (size_t)sprintf(out, "{\"windows\":%s,%s", ws, note + 1);
	free(ws);
	return out;
}

struct live *live_new(const char *state_path, struct httpd_handler *h)
{
	struct live *l = calloc(1, sizeof(*l));
	if (!l || !(l->path = strdup(state_path))) {
		free(l);
		return NULL;
	}
	*h = (struct httpd_handler){ .arg = l, .api = live_api, .expand = live_expand };
	return l;
}

void live_free(struct live *l)
{
	if (!l)
		return;
	sqlite3_close(l->db);
	free(l->cache_query);
	free(l->cache_body);
	free(l->path);
	free(l);
}

/*
 * store.c - the SQLite state file (see store.h). Every statement is prepared
 * once; the schema comes from sql/schema.sql and sql/views.sql, compiled in.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"

extern const char sql_schema[];
extern const char sql_views[];
extern const char sql_migrate_1_2[];
extern const char sql_migrate_2_3[];
extern const char sql_migrate_3_4[];
extern const char sql_migrate_4_5[];
extern const char sql_migrate_5_6[];

static const char *const store_sql[ST__COUNT] = {
	[ST_BEGIN] = sql_stmt_begin,
	[ST_COMMIT] = sql_stmt_commit,
	[ST_ROLLBACK] = sql_stmt_rollback,
	[ST_META_GET] = sql_stmt_meta_get,
	[ST_META_SET] = sql_stmt_meta_set,
	[ST_WIN_GET] = sql_stmt_window_get,
	[ST_WIN_PUT] = sql_stmt_window_put,
	[ST_WIN_DEL] = sql_stmt_window_del,
	[ST_PART_GET] = sql_stmt_partition_get,
	[ST_PART_PUT] = sql_stmt_partition_put,
	[ST_PROD_EACH] = sql_stmt_products_of,
	[ST_PROD_PUT] = sql_stmt_product_put,
	[ST_REJ_ADD] = sql_stmt_rejected_add,
	[ST_ROWS] = sql_stmt_rows,
	[ST_WIN_CLOSING] = sql_stmt_windows_closing,
	[ST_CLEAR_WINS] = sql_stmt_clear_windows,
	[ST_CLEAR_PRODS] = sql_stmt_clear_products,
	[ST_CLEAR_PART] = sql_stmt_clear_partition,
	[ST_FIRST_END] = sql_stmt_first_end,
	[ST_RETAIN] = sql_stmt_windows_retain,
};

int store_fail(struct store *st, char *err, size_t errlen, const char *what)
{
	st->err_code = sqlite3_errcode(st->db);
	snprintf(err, errlen, "state %s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
	return -1;
}

/* Runs a statement that returns no rows, then resets it. */
int store_step_done(struct store *st, int id, char *err, size_t errlen, const char *what)
{
	sqlite3_stmt *s = st->stmt[id];
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		return store_fail(st, err, errlen, what);
	return 0;
}

int store_exec(struct store *st, const char *sql, char *err, size_t errlen, const char *what)
{
	char *msg = NULL;
	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		st->err_code = sqlite3_errcode(st->db);
		snprintf(err, errlen, "state %s: %s: %s", st->path, what, msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Rewrites err when SQLite says the file is not a database or is corrupt. */
static void store_not_ours(struct store *st, char *err, size_t errlen)
{
	int code = sqlite3_errcode(st->db);
	if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
		snprintf(err, errlen, "state %s is not an aggregator state file (%s): "
		         "move it away or pass another --state", st->path, sqlite3_errmsg(st->db));
}

/* From version i + 1 to i + 2 (sql/migrate_*.sql). */
static const char *const store_migrations[] = { sql_migrate_1_2, sql_migrate_2_3, sql_migrate_3_4,
                                                 sql_migrate_4_5, sql_migrate_5_6 };

/* One transaction: sql, then the migrations from version `from` on (from 0:
 * none), the views, this version and our application_id (which a state made
 * before states carried one gets here, at its first write). */
static int store_schema_tx(struct store *st, const char *sql, int64_t from, const char *verb,
                           char *err, size_t errlen)
{
	char ddl[96], what[64];
	snprintf(ddl, sizeof(ddl), "PRAGMA user_version = %d; PRAGMA application_id = %d;", STORE_VERSION,
	         STORE_APP_ID);
	snprintf(what, sizeof(what), "cannot %s the schema", verb);
	if (store_exec(st, "BEGIN IMMEDIATE", err, errlen, what) < 0)
		return -1;
	int bad = store_exec(st, sql, err, errlen, what) < 0;
	for (int64_t v = from; !bad && v > 0 && v < STORE_VERSION; v++)
		bad = store_exec(st, store_migrations[v - 1], err, errlen, what) < 0;
	if (bad ||
	    store_exec(st, sql_views, err, errlen, "cannot create the views") < 0 ||
	    store_exec(st, ddl, err, errlen, "cannot set the schema version") < 0 ||
	    store_exec(st, "COMMIT", err, errlen, what) < 0) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

/* What the file at the state's path is (sql identify). */
struct store_id {
	int64_t app_id;   /* PRAGMA application_id */
	int64_t version;  /* PRAGMA user_version */
	int64_t tables;   /* entries in sqlite_schema */
	int64_t our_cols; /* of the columns every state has had (STORE_OUR_COLS) */
};
#define STORE_OUR_COLS 13 /* meta's key and value, windows' eleven */

static int store_identify(struct store *st, struct store_id *id, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, sql_stmt_identify, -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		id->app_id = sqlite3_column_int64(s, 0);
		id->version = sqlite3_column_int64(s, 1);
		id->tables = sqlite3_column_int64(s, 2);
		id->our_cols = sqlite3_column_int64(s, 3);
	} else {
		store_fail(st, err, errlen, "cannot read the schema");
		store_not_ours(st, err, errlen);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Whether id is a file this aggregator may open: empty (a new state), or a
 * state of ours -- its application_id, or, made before states carried one,
 * the tables every state has had -- of this version or older.  Else -1 with
 * err: another program's file is never written to. */
static int store_judge(struct store *st, const struct store_id *id, char *err, size_t errlen)
{
	int legacy = id->app_id == 0 && id->version > 0 && id->our_cols == STORE_OUR_COLS;

	if (id->app_id == 0 && id->version == 0 && id->tables == 0)
		return 0;
	if ((id->app_id != STORE_APP_ID && !legacy) || id->version <= 0) {
		char why[96];
		if (id->app_id != 0 && id->app_id != STORE_APP_ID)
			snprintf(why, sizeof(why), "its application_id 0x%08llx is another program's",
			         (unsigned long long)(uint32_t)id->app_id);
		else
			snprintf(why, sizeof(why), "user_version %lld, without the tables of one",
			         (long long)id->version);
		snprintf(err, errlen, "state %s is a SQLite file but not an aggregator state file (%s): refused, "
		         "left as it was; pass another --state", st->path, why);
		return -1;
	}
	if (id->version > STORE_VERSION) {
		snprintf(err, errlen, "state %s has schema version %lld, newer than this aggregator's %d: "
		         "use a newer aggregator", st->path, (long long)id->version, STORE_VERSION);
		return -1;
	}
	return 0;
}

/* Creates the schema in a new file, migrates an older one, or updates the
 * views of one of this version: a file store_judge let through.  Export
 * reads older ones as they are (the views it reads are the same). */
static int store_schema(struct store *st, const struct store_id *id, int read_only, char *err, size_t errlen)
{
	if (read_only) {
		if (id->version > 0)
			return 0;
		snprintf(err, errlen, "state %s is empty: no aggregator has written it yet", st->path);
		return -1;
	}
	/* Ours (or empty): only now is anything changed. */
	if (store_exec(st, "PRAGMA journal_mode = WAL", err, errlen, "cannot enable WAL") < 0 ||
	    store_exec(st, "PRAGMA synchronous = FULL", err, errlen, "cannot set synchronous") < 0) {
		store_not_ours(st, err, errlen);
		return -1;
	}
	if (id->version == STORE_VERSION) /* the views as this aggregator has them */
		return store_schema_tx(st, "", 0, "update", err, errlen);
	if (id->version > 0) /* 2 added data_loss, 3 the confirmation runs, 4 closed_until */
		return store_schema_tx(st, "", id->version, "migrate", err, errlen);
	return store_schema_tx(st, sql_schema, 0, "create", err, errlen);
}

static const char *store_dur(int64_t us, char *buf, size_t len)
{
	if (us % 60000000 == 0)
		snprintf(buf, len, "%lldm", (long long)(us / 60000000));
	else if (us % 1000000 == 0)
		snprintf(buf, len, "%llds", (long long)(us / 1000000));
	else
		snprintf(buf, len, "%lldms", (long long)(us / 1000));
	return buf;
}

/* Records the window settings in a new state, or checks them against the ones
 * the state was built with: mixing them would corrupt every open window. */
static int store_settings_check(struct store *st, const struct store_settings *s, char *err, size_t errlen)
{
	static const char *const keys[3] = { "window_us", "slide_us", "delay_us" };
	static const char *const flags[3] = { "--window", "--slide", "--watermark" };
	const int64_t want[3] = { s->window_us, s->slide_us, s->delay_us };

	/* one transaction: a new state's three settings cost one sync, not three */
	if (store_begin(st, err, errlen) < 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		int64_t have;
		int r = store_meta_get(st, keys[i], &have);
		if (r < 0) {
			store_fail(st, err, errlen, "cannot read settings");
			goto fail;
		}
		if (r == 0) {
			if (store_meta_set(st, keys[i], want[i], err, errlen) < 0)
				goto fail;
		} else if (have != want[i]) {
			char a[32], b[32];
			snprintf(err, errlen, "state %s was built with %s %s, this run asks for %s: "
			         "use the same setting or another --state", st->path, flags[i],
			         store_dur(have, a, sizeof(a)), store_dur(want[i], b, sizeof(b)));
			goto fail;
		}
	}
	return store_commit(st, err, errlen);
fail:
	store_rollback(st);
	return -1;
}

/* Prepares every statement (read_only: the export's reads), with the
 * aggregate's column lists put in (agg_sql).  A file read as it is, of a
 * version before 6, has the windows columns of before: the fields after
 * them read as 0, a partial window (agg.h). */
static int store_prepare(struct store *st, int read_only, int64_t version, char *err, size_t errlen)
{
	char sql[8192];
	int nfields = read_only && version < 6 ? AGG_F_ticks_v6 : AGG_NFIELDS;

	for (int i = 0; i < ST__COUNT; i++) {
		if (read_only && i != ST_META_GET && i != ST_ROWS && i != ST_FIRST_END)
			continue;
		if (agg_sql(store_sql[i], nfields, sql, sizeof(sql)) < 0) {
			snprintf(err, errlen, "state %s: statement %d: bad @agg_...@ list or too long", st->path, i);
			return -1;
		}
		if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL) != SQLITE_OK)
			return store_fail(st, err, errlen, "cannot prepare statements");
	}
	return 0;
}

/* Only one writer per state file: an flock on the file itself (SQLite's own
 * locks are fcntl locks, which flock does not disturb on Linux). */
static int store_lock(struct store *st, char *err, size_t errlen)
{
	st->lock_fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (st->lock_fd < 0) {
		snprintf(err, errlen, "cannot open state %s: %s%s", st->path, strerror(errno),
		         errno == ENOENT ? " (does its directory exist?)" : "");
		return -1;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "state %s is in use by another aggregator%s: stop it first, "
		         "or pass another --state", st->path, errno == EWOULDBLOCK ? "" : strerror(errno));
		return -1;
	}
	return 0;
}

/* A path SQLite cannot open (over STORE_PATH_MAX as an absolute path) is
 * refused before the lock file is made: before, a stray empty file was left
 * at the path cut to 511 bytes (struct store's path). */
static int store_path_check(const char *path, char *err, size_t errlen)
{
	char cwd[4096];
	size_t n = strlen(path);

	if (path[0] != '/' && getcwd(cwd, sizeof(cwd)))
		n += strlen(cwd) + 1;
	if (n <= STORE_PATH_MAX)
		return 0;
	snprintf(err, errlen, "state path too long (%zu bytes as an absolute path, SQLite opens at most %d): "
	         "refused before anything was created; pass a shorter --state: %s", n, STORE_PATH_MAX, path);
	return -1;
}

static int store_connect(struct store *st, int flags, char *err, size_t errlen)
{
	if (sqlite3_open_v2(st->path, &st->db, flags, NULL) != SQLITE_OK) {
		if (st->db)
			return store_fail(st, err, errlen, "cannot open");
		snprintf(err, errlen, "state %s: cannot open: out of memory", st->path);
		return -1;
	}
	sqlite3_busy_timeout(st->db, 10000);
	sqlite3_extended_result_codes(st->db, 0);
	return 0;
}

/* What the file is, read on a connection that cannot write to it (nor roll
 * back a journal, nor checkpoint a WAL at close); read_only keeps it open. */
static int store_check_ours(struct store *st, struct store_id *id, int read_only, char *err, size_t errlen)
{
	if (store_connect(st, SQLITE_OPEN_READONLY, err, errlen) < 0 || store_identify(st, id, err, errlen) < 0 ||
	    store_judge(st, id, err, errlen) < 0)
		return -1;
	if (!read_only) {
		sqlite3_close(st->db);
		st->db = NULL;
	}
	return 0;
}

int store_open(struct store **out, const char *path, const struct store_settings *s,
               int read_only, char *err, size_t errlen)
{
	struct store_id id;
	struct store *st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st->rej_rows = -1;
	st->lock_fd = -1;
	snprintf(st->path, sizeof(st->path), "%s", path);

	if (store_path_check(path, err, errlen) < 0)
		goto fail;
	if (!read_only && store_lock(st, err, errlen) < 0)
		goto fail;
	if (store_check_ours(st, &id, read_only, err, errlen) < 0)
		goto fail;
	if (!read_only && store_connect(st, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, errlen) < 0)
		goto fail;
	struct stat sb;
	if (stat(path, &sb) == 0) {
		st->dev = sb.st_dev;
		st->ino = sb.st_ino;
	}
	if (store_schema(st, &id, read_only, err, errlen) < 0)
		goto fail;
	if (store_prepare(st, read_only, id.version, err, errlen) < 0)
		goto fail;
	if (!read_only && s && store_settings_check(st, s, err, errlen) < 0)
		goto fail;
	*out = st;
	return 0;
fail:;
	int transient = st->db && store_transient(st);
	store_close(st);
	return transient ? STORE_ETRANSIENT : -1;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->in_tx)
		store_rollback(st);
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* releases the flock */
	free(st);
}

int store_transient(const struct store *st)
{
	switch (st->err_code) {
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return 1;
	default:
		return 0;
	}
}

int store_begin(struct store *st, char *err, size_t errlen)
{
	if (store_step_done(st, ST_BEGIN, err, errlen, "cannot begin a transaction") < 0)
		return -1;
	st->in_tx = 1;
	return 0;
}

int store_commit(struct store *st, char *err, size_t errlen)
{
	if (store_step_done(st, ST_COMMIT, err, errlen, "cannot commit") < 0) {
		store_rollback(st);
		return -1;
	}
	st->in_tx = 0;
	return 0;
}

void store_rollback(struct store *st)
{
	char err[16];
	if (sqlite3_get_autocommit(st->db) == 0)
		store_step_done(st, ST_ROLLBACK, err, sizeof(err), "rollback");
	st->in_tx = 0;
}

/* Writes the committed state to a new file at to (VACUUM INTO). */
static int store_copy_to(struct store *st, const char *to)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, "VACUUM INTO ?1", -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(s, 1, to, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE || rc == SQLITE_OK ? 0 : -1;
}

int store_check_file(struct store *st, char *err, size_t errlen)
{
	struct stat sb;
	char saved[600];

	if (stat(st->path, &sb) == 0) {
		if (sb.st_dev == st->dev && sb.st_ino == st->ino)
			return 0;
		snprintf(saved, sizeof(saved), "%s.saved", st->path);
		int ok = access(saved, F_OK) != 0 && store_copy_to(st, saved) == 0;
		snprintf(err, errlen, "state %s was replaced while running (another file is at its path now): "
		         "stopping; %s%s", st->path, ok ? "this run's state (as of its last commit) is in " :
		         "this run's state could not be saved to ", saved);
		return -1;
	}
	if (errno != ENOENT)
		return 0; /* cannot tell */
	if (store_copy_to(st, st->path) < 0) {
		snprintf(err, errlen, "state %s was deleted while running and could not be written back (%s): "
		         "stopping", st->path, sqlite3_errmsg(st->db));
		return -1;
	}
	snprintf(err, errlen, "state %s was deleted while running: written back from the open file as of the "
	         "last commit; stopping (a restart goes on from it)", st->path);
	return STORE_WRITTEN_BACK;
}

int store_in_tx(const struct store *st)
{
	return st->in_tx;
}

/* Steps a meta lookup; returns the stmt positioned on the row, or NULL. */
static sqlite3_stmt *store_meta_row(struct store *st, const char *key, int *found)
{
	sqlite3_stmt *s = st->stmt[ST_META_GET];
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	*found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
	return s;
}

int store_meta_get(struct store *st, const char *key, int64_t *v)
{
	int found;
	sqlite3_stmt *s = store_meta_row(st, key, &found);
	if (found == 1)
		*v = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return found;
}

int store_meta_get_text(struct store *st, const char *key, char *buf, size_t len)
{
	int found;
	sqlite3_stmt *s = store_meta_row(st, key, &found);
	if (found == 1) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		snprintf(buf, len, "%s", t ? (const char *)t : "");
	}
	sqlite3_reset(s);
	return found;
}

int store_meta_set(struct store *st, const char *key, int64_t v, char *err, size_t errlen)
{
	sqlite3_stmt *s = st->stmt[ST_META_SET];
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	return store_step_done(st, ST_META_SET, err, errlen, "cannot write meta");
}

int store_meta_set_text(struct store *st, const char *key, const char *v, char *err, size_t errlen)
{
	sqlite3_stmt *s = st->stmt[ST_META_SET];
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, v, -1, SQLITE_STATIC);
	return store_step_done(st, ST_META_SET, err, errlen, "cannot write meta");
}

/*
 * sink_local.c - one aggregator's sink (sink.h): the batch in one SQLite
 * transaction with the windows the watermark closed appended to output.csv
 * and its new length; the offsets go to the consumer group only after
 * COMMIT, so the group is never ahead of the state.  A crash anywhere leaves
 * the state at its last COMMIT; the CSV's tail written after it is cut back
 * at the next start (export_open).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine_int.h"
#include "export.h"
#include "fmt.h"
#include "rotate.h"
#include "sink.h"

struct local {
	struct sink base;
	struct export_csv csv;
	int64_t csv_before;   /* the CSV's length when the batch began */
	int64_t day;          /* --rotate daily: the current file's day (ROT_NONE: none yet) */
	int64_t day_before;   /* the same when the batch began */
	int64_t retained_from; /* --retain: windows starting before it are dropped (WM_NONE none) */
};

#define LOCAL(s) ((struct local *)(s))
/* Waits for the group (local_commit_group): one answer, a revoke's commits,
 * a close's.  With engine.c's ENG_CLOSE_MS a SIGTERM ends within about 7 s
 * whatever the group does: under the 10 s that users, tests and service
 * managers give it. */
#define LOCAL_WAIT_MS 1500
#define LOCAL_REVOKE_MS 2000
#define LOCAL_CLOSE_MS 3000

/* Exit code for a CSV failure (code from export_*: EXPORT_ESTATE is the state). */
static int local_export_code(const struct local *l, int r)
{
	if (r == EXPORT_ESTATE)
		return eng_state_code(l->base.e);
	if (r == EXPORT_ESPACE)
		return AGG_EXIT_RUNTIME;
	int en = l->csv.err_no;
	return en == ENOSPC || en == EDQUOT || en == EIO ? AGG_EXIT_RUNTIME : AGG_EXIT_OUTPUT;
}

/* Records the CSV's length, mark and columns in the state when they changed
 * (the mark also when a state of an earlier version has none yet). */
static int local_note_csv(struct local *l, int64_t bytes, const char *cols, int mark_known, int64_t mark)
{
	struct engine *e = l->base.e;
	const struct agg_config *c = e->cfg;
	char err[700];
	int64_t now;

	l->csv.bytes = bytes;
	if (export_mark(&l->csv, &now, err, sizeof(err)) < 0) {
		eng_fatal(e, AGG_EXIT_OUTPUT, err);
		return -1;
	}
	if (bytes == l->csv_before && strcmp(cols, c->columns) == 0 && mark_known && now == mark)
		return 0;
	if (store_begin(e->st, err, sizeof(err)) < 0 || store_meta_set(e->st, "csv_bytes", bytes, err, sizeof(err)) < 0 ||
	    store_meta_set(e->st, "csv_mark", now, err, sizeof(err)) < 0 ||
	    store_meta_set_text(e->st, "csv_columns", c->columns, err, sizeof(err)) < 0 ||
	    store_commit(e->st, err, sizeof(err)) < 0) {
		eng_fatal(e, eng_state_code(e), err);
		return -1;
	}
	return 0;
}

/* The file the state's CSV record is about: --output, or with --rotate
 * daily the current day's file (none yet: *day ROT_NONE, path ""), and the
 * windows it holds: from < end <= *until. */
static int local_current(struct local *l, char *path, size_t len, int64_t *from, int64_t *until)
{
	struct engine *e = l->base.e;
	const struct agg_config *c = e->cfg;
	int64_t day = ROT_NONE, v;
	char err[700];

	*from = WM_NONE;
	*until = e->exported_until;
	if (store_meta_get(e->st, "csv_day", &v) == 1)
		day = v;
	if (!c->rotate_daily && day != ROT_NONE) {
		rot_path(c->output_path, day, path, len);
		snprintf(err, sizeof(err), "state %s writes day files (--rotate daily; the current one is %s): run it "
		         "with --rotate daily ('aggregator export' writes one CSV from it)", c->state_path, path);
		eng_fatal(e, AGG_EXIT_USAGE, err);
		return -1;
	}
	l->day = day;
	if (!c->rotate_daily) {
		snprintf(path, len, "%s", c->output_path);
		return 0;
	}
	path[0] = '\0';
	if (day == ROT_NONE)
		return 0;
	if (rot_path(c->output_path, day, path, len) < 0) {
		eng_fatal(e, AGG_EXIT_USAGE, "--output: name too long for --rotate daily");
		return -1;
	}
	*from = rot_after(day, c->window_us);
	if (*until != WM_NONE && *until > rot_until(day, c->window_us))
		*until = rot_until(day, c->window_us);
	return 0;
}

/* --rotate daily: day files past the current one were written after the
 * last commit (a crash in a batch that began new days): removed, they are
 * written again.  With no current file yet, day files there are another
 * state's (or this one's first, cut short): refused. */
static int local_daily_tidy(struct local *l)
{
	struct engine *e = l->base.e;
	const struct agg_config *c = e->cfg;
	char err[1400], first[1024] = "";
	int64_t bytes = 0;

	if (l->day == ROT_NONE) {
		int n = rot_count_after(c->output_path, ROT_NONE, first, sizeof(first), err, sizeof(err));
		if (n > 0)
			snprintf(err, sizeof(err), "%d day file(s) of %s are there (%s, ...) but the state %s has written "
			         "none: refused, left as they were; pass another --output, or move them away (if they are "
			         "this state's first, cut short by a crash, they are written again)", n, c->output_path,
			         first, c->state_path);
		if (n != 0) {
			eng_fatal(e, AGG_EXIT_OUTPUT, err);
			return -1;
		}
		if (store_meta_get(e->st, "csv_bytes", &bytes) == 1 && bytes > 0)
			eng_log(e, LOG_INFO, "--rotate daily: the windows up to the last export stay in %s; the next "
			        "ones go to day files", c->output_path);
		return 0;
	}
	int n = rot_remove_after(c->output_path, l->day, err, sizeof(err));
	if (n < 0) {
		eng_fatal(e, AGG_EXIT_OUTPUT, err);
		return -1;
	}
	if (n > 0)
		eng_log(e, LOG_WARN, "removed %d day file(s) of %s after the current one: written after the last "
		        "commit, they are written again", n, c->output_path);
	return 0;
}

/* Opens the CSV, recovering its tail after a crash; rewritten first when
 * --columns changed since the last run.  A CSV that is not the one this
 * state wrote is refused before any of that (export_check_ours). */
static int local_start(struct sink *s)
{
	struct local *l = LOCAL(s);
	struct engine *e = s->e;
	const struct agg_config *c = e->cfg;
	char err[700], cols[512] = "", path[1024];
	int64_t bytes = 0, v, mark = 0, from, until;
	int r;

	if (store_meta_get(e->st, "retained_from_us", &v) == 1)
		l->retained_from = v;
	if (local_current(l, path, sizeof(path), &from, &until) < 0 || (c->rotate_daily && local_daily_tidy(l) < 0))
		return -1;
	if (!path[0])
		return 0; /* --rotate daily, no day file yet: the first is made by the first export */
	if (store_meta_get(e->st, "csv_bytes", &v) == 1)
		bytes = v;
	int mark_known = store_meta_get(e->st, "csv_mark", &mark) == 1;
	store_meta_get_text(e->st, "csv_columns", cols, sizeof(cols));
	struct export_record rec = { bytes, mark_known, mark, cols };
	r = export_check_ours(path, c->state_path, &rec, e->st, from, until, err, sizeof(err));
	if (r < 0) {
		eng_fatal(e, local_export_code(l, r), err);
		return -1;
	}
	if (bytes > 0 && strcmp(cols, c->columns) != 0) {
		int64_t rows;
		eng_log(e, LOG_INFO, "--columns changed since the last run: rewriting %s", path);
		r = export_rewrite(path, c->columns, e->st, from, until, &bytes, &rows, err, sizeof(err));
		if (r < 0) {
			eng_fatal(e, local_export_code(l, r), err);
			return -1;
		}
		mark_known = 0;
	}
	l->csv_before = bytes;
	r = export_open(&l->csv, path, c->columns, e->st, from, until, &bytes, err, sizeof(err));
	if (r < 0) {
		eng_fatal(e, local_export_code(l, r), err);
		return -1;
	}
	return local_note_csv(l, bytes, cols, mark_known, mark);
}

static int64_t local_closed_until(const struct sink *s, const struct eng_part *p)
{
	(void)p;
	return s->e->watermark;
}

static int local_due(struct sink *s)
{
	(void)s;
	return 0; /* the watermark closes windows, and eng_watermark says so */
}

static int local_begin(struct sink *s, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	LOCAL(s)->csv_before = LOCAL(s)->csv.bytes;
	LOCAL(s)->day_before = LOCAL(s)->day;
	return 0;
}

static int local_window(struct sink *s, const struct store_wkey *k, const struct win_agg *a, char *err, size_t errlen)
{
	return store_window_put(s->e->st, k, a, err, errlen);
}

/* --rotate daily: the next day's file, made anew (a file of that day is what
 * a run that crashed before its commit left: tidied at start, or made since). */
static int local_day_open(struct local *l, int64_t day, char *err, size_t errlen)
{
	const struct agg_config *c = l->base.e->cfg;
	char path[1024];
	int64_t bytes = 0;

	export_close(&l->csv);
	if (rot_path(c->output_path, day, path, sizeof(path)) < 0) {
		snprintf(err, errlen, "--output: name too long for --rotate daily");
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "output %s: cannot replace: %s", path, strerror(errno));
		return -1;
	}
	l->day = day;
	return export_open(&l->csv, path, c->columns, l->base.e->st, rot_after(day, c->window_us), WM_NONE, &bytes,
	                   err, errlen);
}

/* --rotate daily: the windows closed, each into its start day's file, the
 * days in order (the first window still to write names the next). */
static int local_append_daily(struct local *l, int64_t *rows, char *err, size_t errlen)
{
	struct engine *e = l->base.e;
	int64_t len = e->cfg->window_us, after = e->exported_until, until = e->watermark, end, n;
	int f;

	while ((f = store_first_end(e->st, after, until, &end, err, errlen)) == 1) {
		int64_t day = rot_day_of_end(end, len), upto = rot_until(day, len) < until ? rot_until(day, len) : until;
		int r = day > l->day ? local_day_open(l, day, err, errlen) : 0;
		if (r == 0)
			r = export_append(&l->csv, e->st, after, upto, &n, err, errlen);
		if (r < 0) {
			eng_fatal(e, local_export_code(l, r), err);
			return -1;
		}
		*rows += n;
		after = upto;
	}
	return f;
}

/* --retain: closed windows of whole days that start more than --retain
 * before the watermark leave the state, in the batch's transaction, once a
 * day of event time.  Never the current file's day (rebuilt from the state
 * if it goes missing), never an open window. */
static int local_retain(struct local *l, char *err, size_t errlen)
{
	struct engine *e = l->base.e;
	int64_t keep = e->cfg->retain_us;

	if (!keep || l->day == ROT_NONE || e->watermark == WM_NONE)
		return 0;
	int64_t day = rot_day_of(e->watermark - keep);
	int64_t from = (day < l->day ? day : l->day) * ROT_DAY_US;
	if (l->retained_from != WM_NONE && from <= l->retained_from)
		return 0;
	int64_t n = store_windows_retain(e->st, from, e->watermark, err, errlen);
	if (n < 0 || store_meta_set(e->st, "retained_from_us", from, err, errlen) < 0)
		return -1;
	l->retained_from = from;
	char t[FMT_BUF];
	fmt_time_or(from, "-", t);
	eng_log(e, LOG_DEBUG, "--retain: %lld windows starting before %s dropped from the state", (long long)n, t);
	return 0;
}

/* Appends the windows the watermark closed to the CSV (or its day files) and
 * records its new length in the transaction. */
static int local_close_windows(struct sink *s, int64_t *rows, char *err, size_t errlen)
{
	struct local *l = LOCAL(s);
	struct engine *e = s->e;

	*rows = 0;
	if (e->watermark == WM_NONE || (e->exported_until != WM_NONE && e->watermark <= e->exported_until))
		return 0;
	if (e->cfg->rotate_daily) {
		if (local_append_daily(l, rows, err, errlen) < 0)
			return -1;
	} else {
		int r = export_append(&l->csv, e->st, e->exported_until, e->watermark, rows, err, errlen);
		if (r < 0) {
			eng_fatal(e, local_export_code(l, r), err);
			return -1;
		}
	}
	if (*rows > 0)
		crash_point(&e->crash, "csv");
	if (store_meta_set(e->st, "exported_until_us", e->watermark, err, errlen) < 0)
		return -1;
	if (l->csv.fd < 0)
		return 0; /* --rotate daily, no day file yet */
	int64_t mark;
	if (store_meta_set(e->st, "csv_bytes", l->csv.bytes, err, errlen) < 0 ||
	    (l->day != l->day_before && (store_meta_set(e->st, "csv_day", l->day, err, errlen) < 0 ||
	                                 store_meta_set_text(e->st, "csv_columns", e->cfg->columns, err, errlen) < 0)))
		return -1;
	if (export_mark(&l->csv, &mark, err, errlen) < 0) {
		eng_fatal(e, AGG_EXIT_OUTPUT, err);
		return -1;
	}
	if (store_meta_set(e->st, "csv_mark", mark, err, errlen) < 0)
		return -1;
	return local_retain(l, err, errlen);
}

static int local_product(struct sink *s, const struct eng_part *p, const struct store_product *pr, char *err,
                         size_t errlen)
{
	return store_product_put(s->e->st, p->topic, p->partition, pr, err, errlen);
}

static int local_partition(struct sink *s, const struct eng_part *p, int64_t now, char *err, size_t errlen)
{
	return store_partition_put(s->e->st, p->topic, p->partition, &p->s, now, err, errlen);
}

static int local_commit(struct sink *s, char *err, size_t errlen)
{
	if (crash_fail_commit(&s->e->crash)) { /* the test build's AGG_FAIL_COMMIT: as a full disk */
		snprintf(err, errlen, "state %s: cannot commit: database or disk is full (AGG_FAIL_COMMIT)",
		         s->e->cfg->state_path);
		eng_fatal(s->e, AGG_EXIT_RUNTIME, err);
		return -1;
	}
	return store_commit(s->e->st, err, errlen);
}

static void local_abort(struct sink *s)
{
	struct local *l = LOCAL(s);
	char err[512];

	store_rollback(s->e->st);
	if (l->day != l->day_before) { /* --rotate daily: the batch began day files */
		const struct agg_config *c = s->e->cfg;
		char path[1024];
		int64_t bytes = l->csv_before;
		export_close(&l->csv);
		rot_remove_after(c->output_path, l->day_before, err, sizeof(err));
		l->day = l->day_before;
		if (l->day == ROT_NONE || rot_path(c->output_path, l->day, path, sizeof(path)) < 0)
			return;
		export_open(&l->csv, path, c->columns, s->e->st, rot_after(l->day, c->window_us), s->e->exported_until,
		            &bytes, err, sizeof(err));
		return;
	}
	if (l->csv.bytes != l->csv_before || l->csv.fd >= 0)
		export_truncate(&l->csv, l->csv_before, err, sizeof(err));
}

/* Offsets the group has not confirmed (a failed commit goes again with the
 * next batch); older than min_age (us) since they were last sent. */
static rd_kafka_topic_partition_list_t *local_unconfirmed(struct engine *e, int64_t mono, int64_t min_age)
{
	rd_kafka_topic_partition_list_t *offs = NULL;
	for (size_t i = 0; i < e->nparts; i++) {
		struct eng_part *p = &e->parts[i];
		if (!p->assigned || p->s.next_offset < 0 || p->s.next_offset == p->group_offset || p->dirty ||
		    (min_age && mono - p->commit_sent < min_age))
			continue;
		if (!offs)
			offs = rd_kafka_topic_partition_list_new(4);
		rd_kafka_topic_partition_list_add(offs, p->topic, p->partition)->offset = p->s.next_offset;
		p->commit_sent = mono;
	}
	return offs;
}

/* The group gets only what this COMMIT made durable. */
static void local_committed(struct sink *s, int sync)
{
	struct engine *e = s->e;
	rd_kafka_topic_partition_list_t *offs = local_unconfirmed(e, eng_mono(), 0);
	if (!offs)
		return;
	consume_commit(e->rk, offs, sync ? LOCAL_WAIT_MS : 0);
	rd_kafka_topic_partition_list_destroy(offs);
	crash_point(&e->crash, "group");
}

static int local_assign(struct sink *s, const rd_kafka_topic_partition_list_t *parts)
{
	(void)s;
	(void)parts;
	return 0; /* the state file is this aggregator's alone: its offsets win */
}

/* Commits the state's offsets to the group and waits for the answer, again
 * while budget_ms lasts: those of parts, or with parts NULL those of every
 * assigned partition.  Before partitions go to another member, and at close,
 * the group must hold what the state holds: the member that gets them next
 * starts at the group's offset, and an asynchronous commit may still be in
 * flight or have failed (a partition that gets no more ticks would not be
 * committed again by a later batch).  The budget bounds a revoke (the group
 * waits for it) and a shutdown (SIGTERM, then systemd's or the user's
 * patience); what does not make it is only a group behind the state, which
 * wins at restart.  Returns 0 when the group has them all. */
#define LOCAL_SETTLE_NS 300000000 /* librdkafka's retry.backoff.ms (100) and the round trip */
static int local_commit_group(struct engine *e, const rd_kafka_topic_partition_list_t *parts, int budget_ms)
{
	rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(4);
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	int64_t end = eng_mono() + (int64_t)budget_ms * 1000;
	int unconfirmed = 0;

	for (size_t i = 0; i < e->nparts; i++) {
		struct eng_part *p = &e->parts[i];
		if (!p->assigned || p->s.next_offset < 0)
			continue;
		/* At the close (parts NULL) every partition: a confirmed offset can
		 * still be overtaken by an older commit retried after it. */
		if (parts && !rd_kafka_topic_partition_list_find(parts, p->topic, p->partition))
			continue;
		rd_kafka_topic_partition_list_add(offs, p->topic, p->partition)->offset = p->s.next_offset;
		unconfirmed |= p->group_offset != p->s.next_offset;
	}
	for (int64_t left; offs->cnt > 0 && (left = (end - eng_mono()) / 1000) > 0;) {
		err = consume_commit(e->rk, offs, (int)left);
		/* No longer a member (expelled, fenced): no commit of this run will
		 * be taken. */
		if (err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID || err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
		    err == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID)
			break;
		/* An asynchronous commit the group has not confirmed may still be
		 * retried by librdkafka and land after this one, moving the group
		 * back (test 38: BTC-USD at 767 after the close committed 2710):
		 * read back, a moment later, and commit again until it holds. */
		if (!err && (unconfirmed || !parts)) {
			/* Twice, a moment apart: a late one lands between them. */
			nanosleep(&(struct timespec){ 0, LOCAL_SETTLE_NS }, NULL);
			int holds = consume_commit_holds(e->rk, offs, LOCAL_WAIT_MS);
			nanosleep(&(struct timespec){ 0, LOCAL_SETTLE_NS }, NULL);
			if (!holds || !consume_commit_holds(e->rk, offs, LOCAL_WAIT_MS)) {
				err = RD_KAFKA_RESP_ERR__STATE;
				continue;
			}
		}
		if (!err) {
			for (int i = 0; i < offs->cnt; i++) {
				struct eng_part *p = eng_part_find(e, offs->elems[i].topic, offs->elems[i].partition);
				if (p)
					p->group_offset = offs->elems[i].offset;
			}
			break;
		}
	}
	if (err)
		eng_log(e, LOG_WARN, "the group's offsets of %d partition(s) lag the state's: %s (the state's win at "
		        "restart; a member without this state would read them again)", offs->cnt, rd_kafka_err2str(err));
	rd_kafka_topic_partition_list_destroy(offs);
	return err ? -1 : 0;
}

/* Lost partitions are committed all the same: this state file is ours alone. */
static int local_commits_lost(struct sink *s)
{
	(void)s;
	return 1;
}

/* After the batch is settled, the group gets the revoked partitions' offsets
 * before the next member reads them (not when lost: this member is out of
 * the group, the commit would be refused). */
static void local_revoke(struct sink *s, const rd_kafka_topic_partition_list_t *parts, int lost)
{
	struct engine *e = s->e;
	if (!lost && !e->exit_code)
		local_commit_group(e, parts, LOCAL_REVOKE_MS);
}

/* Offsets the group has not confirmed, sent again every LOCAL_RECOMMIT_US
 * while they are not (a failed commit, no batch since): a partition that gets
 * no more ticks is not left behind until the close. */
#define LOCAL_RECOMMIT_US 2000000
static void local_idle(struct sink *s, int64_t mono)
{
	struct engine *e = s->e;
	if (e->exit_code)
		return;
	rd_kafka_topic_partition_list_t *offs = local_unconfirmed(e, mono, LOCAL_RECOMMIT_US);
	if (offs) {
		consume_commit(e->rk, offs, 0);
		rd_kafka_topic_partition_list_destroy(offs);
	}
}

static void local_finish(struct sink *s)
{
	if (!s->e->exit_code)
		local_commit_group(s->e, NULL, LOCAL_CLOSE_MS);
}

static void local_close(struct sink *s)
{
	export_close(&LOCAL(s)->csv);
	free(s);
}

static const struct sink_ops local_ops = {
	.start = local_start,
	.closed_until = local_closed_until,
	.due = local_due,
	.begin = local_begin,
	.window = local_window,
	.close_windows = local_close_windows,
	.product = local_product,
	.partition = local_partition,
	.commit = local_commit,
	.abort = local_abort,
	.committed = local_committed,
	.assign = local_assign,
	.commits_lost = local_commits_lost,
	.revoke = local_revoke,
	.idle = local_idle,
	.finish = local_finish,
	.close = local_close,
};

/* Refuses an output that is the state file, or a file that is not a CSV of
 * ours, before the state is opened (export_check_target). */
int sink_local_open(struct engine *e, struct sink **out)
{
	const struct agg_config *c = e->cfg;
	char err[700];

	int chk = export_check_target(c->output_path, c->state_path, 1, err, sizeof(err));
	if (chk < 0) {
		eng_fatal(e, chk == EXPORT_ESAME ? AGG_EXIT_USAGE : AGG_EXIT_OUTPUT, err);
		return -1;
	}
	struct local *l = calloc(1, sizeof(*l));
	if (!l) {
		eng_fatal(e, AGG_EXIT_RUNTIME, "out of memory");
		return -1;
	}
	l->base.ops = &local_ops;
	l->base.e = e;
	l->base.label = c->output_path;
	l->csv.fd = -1;
	l->day = l->day_before = ROT_NONE;
	l->retained_from = WM_NONE;
	*out = &l->base;
	return 0;
}

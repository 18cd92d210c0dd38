/*
 * sink_group.c - group mode's sink (sink.h; --output-topic): several
 * aggregators in one consumer group, each owning some partitions.
 *
 * A batch is one Kafka transaction (txn.h): the changelog records of every
 * window, product and partition it changed, the partials of the windows its
 * partitions closed with each partition's marker, and the consumer's offsets
 * -- then the SQLite transaction with the same changes.  A crash in between
 * leaves the state file behind Kafka; whoever gets the partition next sees
 * that its offset is not the group's and restores it from the changelog.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_int.h"
#include "floordiv.h"
#include "gtopics.h"
#include "sink.h"
#include "txn.h"

struct group {
	struct sink base;
	struct txn *txn;
	int64_t rows;                            /* partials the open batch wrote */
	rd_kafka_topic_partition_list_t *offs;   /* offsets of the batch being committed */
};

#define GROUP(s) ((struct group *)(s))

static int group_start(struct sink *s)
{
	char err[900];
	int r = txn_open(&GROUP(s)->txn, s->e->cfg, err, sizeof(err));
	if (r < 0) {
		eng_fatal(s->e, r == GTOPICS_REFUSED ? AGG_EXIT_STATE : AGG_EXIT_RUNTIME, err);
		return -1;
	}
	return 0;
}

/* What the partition wrote to the output topic is closed; it moves with
 * the partition (see group_part_until). */
static int64_t group_closed_until(const struct sink *s, const struct eng_part *p)
{
	(void)s;
	return p->s.closed_until;
}

/* Each assigned partition's windows closed since its closed_until go to
 * the output topic as partials (and leave the changelog), then its marker;
 * closed_until moves to the last window end at or before the partition's
 * watermark: the member's, but never ahead of the partition's own event
 * time less the delay until it is idle.  A partition that comes from another
 * member (its backlog behind this member's watermark) closes as its own
 * ticks allow, not as the member's other partitions would; its ticks are
 * late only for what it wrote out itself (closed_until moves with it, in the
 * changelog), so nothing is written twice and no tick on time is dropped. */
static int64_t group_part_until(const struct engine *e, const struct eng_part *p, int64_t now)
{
	int64_t size = e->cfg->window_us, slide = e->cfg->slide_us, wm = e->watermark;
	if (!p->assigned || wm == WM_NONE)
		return WM_NONE;
	if (!(p->eof && now - p->eof_since >= e->cfg->idle_timeout_us)) {
		if (p->s.max_time == WM_NONE)
			return WM_NONE;
		if (p->s.max_time - e->cfg->delay_us < wm)
			wm = p->s.max_time - e->cfg->delay_us;
	}
	int64_t until = floor_div(wm - size, slide) * slide + size;
	return p->s.closed_until == WM_NONE || until > p->s.closed_until ? until : WM_NONE;
}

/* Between batches: a partition may have windows to close with no message
 * coming (restored from another member behind its watermark, or idle
 * since): a batch then, to write them. */
static int group_due(struct sink *s)
{
	struct engine *e = s->e;
	int64_t now = eng_now();
	for (size_t i = 0; i < e->nparts; i++)
		if (group_part_until(e, &e->parts[i], now) != WM_NONE)
			return 1;
	return 0;
}

static int group_begin(struct sink *s, char *err, size_t errlen)
{
	GROUP(s)->rows = 0;
	if (txn_begin(GROUP(s)->txn, err, errlen) < 0) {
		eng_fatal(s->e, AGG_EXIT_RUNTIME, err);
		return -1;
	}
	return 0;
}

static int group_window(struct sink *s, const struct store_wkey *k, const struct win_agg *a, char *err, size_t errlen)
{
	if (txn_put_window(GROUP(s)->txn, k, a, err, errlen) < 0)
		return -1;
	return store_window_put(s->e->st, k, a, err, errlen);
}

struct group_emit {
	struct group *g;
	char *err;
	size_t errlen;
};

static int group_emit_window(const struct store_wkey *k, const struct win_agg *a, void *arg)
{
	struct group_emit *x = arg;
	x->g->rows++;
	return txn_close_window(x->g->txn, k, a, x->err, x->errlen) < 0 ? -1 : 0;
}

static int group_close_windows(struct sink *s, int64_t *rows, char *err, size_t errlen)
{
	struct group *g = GROUP(s);
	struct engine *e = s->e;
	int64_t now = eng_now();
	struct group_emit x = { g, err, errlen };

	for (size_t i = 0; i < e->nparts; i++) {
		struct eng_part *p = &e->parts[i];
		int64_t until = group_part_until(e, p, now);
		if (until == WM_NONE)
			continue;
		if (store_windows_closing(e->st, p->topic, p->partition, p->s.closed_until, until, group_emit_window, &x)) {
			if (!*err)
				snprintf(err, errlen, "state: cannot read the closed windows of %s [%d]", p->topic, p->partition);
			return -1;
		}
		if (txn_marker(g->txn, p->topic, p->partition, until, p->topic_parts, err, errlen) < 0)
			return -1;
		p->s.closed_until = until;
		p->dirty = 1;
	}
	*rows = g->rows;
	return 0;
}

static int group_product(struct sink *s, const struct eng_part *p, const struct store_product *pr, char *err,
                         size_t errlen)
{
	if (txn_put_product(GROUP(s)->txn, p->topic, p->partition, pr, err, errlen) < 0)
		return -1;
	return store_product_put(s->e->st, p->topic, p->partition, pr, err, errlen);
}

static int group_partition(struct sink *s, const struct eng_part *p, int64_t now, char *err, size_t errlen)
{
	if (txn_put_partition(GROUP(s)->txn, p->topic, p->partition, &p->s, err, errlen) < 0)
		return -1;
	return store_partition_put(s->e->st, p->topic, p->partition, &p->s, now, err, errlen);
}

/* The Kafka transaction commits, with every assigned partition's offset,
 * before the state does.  A member fenced out commits nothing and stops;
 * the group's other members have its partitions, and a restart rejoins. */
static int group_commit(struct sink *s, char *err, size_t errlen)
{
	struct group *g = GROUP(s);
	struct engine *e = s->e;
	int64_t mono = eng_mono();

	g->offs = rd_kafka_topic_partition_list_new(4);
	for (size_t i = 0; i < e->nparts; i++) {
		struct eng_part *p = &e->parts[i];
		if (!p->assigned || p->s.next_offset < 0)
			continue;
		rd_kafka_topic_partition_list_add(g->offs, p->topic, p->partition)->offset = p->s.next_offset;
		p->commit_sent = mono;
	}
	crash_point(&e->crash, "txn");
	int r = txn_commit(g->txn, e->rk, g->offs, err, errlen);
	if (r == TXN_FENCED) {
		char why[900];
		snprintf(why, sizeof(why), "%s: this member was fenced (its partitions went to another member while "
		         "it was away), or another member runs with its name (--member %s: two members with one name fence "
		         "each other): nothing of this batch was committed; restart it to rejoin the group", err, e->cfg->member);
		eng_fatal(e, AGG_EXIT_RUNTIME, why);
		return -1;
	}
	if (r < 0) {
		eng_fatal(e, AGG_EXIT_RUNTIME, err);
		return -1;
	}
	crash_point(&e->crash, "kafka");
	return store_commit(e->st, err, errlen);
}

static void group_drop_offsets(struct group *g)
{
	if (g->offs)
		rd_kafka_topic_partition_list_destroy(g->offs);
	g->offs = NULL;
}

static void group_abort(struct sink *s)
{
	txn_abort(GROUP(s)->txn); /* nothing of the batch in Kafka either */
	store_rollback(s->e->st);
	group_drop_offsets(GROUP(s));
}

/* The offsets went with the transaction: the group has them. */
static void group_committed(struct sink *s, int sync)
{
	struct group *g = GROUP(s);
	(void)sync;
	for (int i = 0; g->offs && i < g->offs->cnt; i++) {
		struct eng_part *p = eng_part_find(s->e, g->offs->elems[i].topic, g->offs->elems[i].partition);
		if (p)
			p->group_offset = g->offs->elems[i].offset;
	}
	group_drop_offsets(g);
}

/*
 * A partition comes to this member.  When the file holds it at the group's
 * committed offset (it was ours last, or never anyone's), it goes on from
 * the file.  Otherwise its last owner was another member, or this one
 * crashed between the Kafka transaction and the SQLite commit: its state is
 * restored from the changelog, which the same transactions wrote with those
 * offsets.  A changelog that is behind the group's offset is still held back
 * by a dead member's open transaction (read_committed stops there until the
 * broker aborts it, transaction.timeout.ms): read again.
 */
#define GROUP_RESTORE_TRIES 30 /* 1 s apart: past the 10 s transaction timeout */
static int group_restore(struct group *g, struct eng_part *p, const rd_kafka_topic_partition_list_t *committed)
{
	struct engine *e = g->base.e;
	char err[700];
	struct store_partition had;
	const rd_kafka_topic_partition_t *c = rd_kafka_topic_partition_list_find(committed, p->topic, p->partition);
	int64_t want = c && c->offset >= 0 ? c->offset : -1;

	if (p->topic_parts <= 0) {
		for (size_t i = 0; i < e->nparts && p->topic_parts <= 0; i++)
			if (e->parts[i].topic_parts > 0 && !strcmp(e->parts[i].topic, p->topic))
				p->topic_parts = e->parts[i].topic_parts;
		if (p->topic_parts <= 0)
			p->topic_parts = txn_topic_partitions(g->txn, p->topic);
	}
	if (store_partition_get(e->st, p->topic, p->partition, &had) < 0) {
		eng_fatal(e, eng_state_code(e), "state: cannot read a partition's state");
		return -1;
	}
	if (want < 0 || had.next_offset == want)
		return 0; /* the file is where the group is (or the group has nothing: the file wins) */
	int64_t t0 = eng_mono();
	for (int try = 0;; try++) {
		int found;
		struct store_partition got;
		if (txn_restore(g->txn, e->st, p->topic, p->partition, &found, err, sizeof(err)) < 0 ||
		    store_partition_get(e->st, p->topic, p->partition, &got) < 0) {
			eng_fatal(e, AGG_EXIT_RUNTIME, err);
			return -1;
		}
		if (found && got.next_offset == want) {
			eng_log(e, LOG_INFO, "restored %s [%d] from the changelog at offset %" PRId64 " in %" PRId64 " ms "
			        "(the state file had %" PRId64 ")", p->topic, p->partition, want,
			        (eng_mono() - t0) / 1000, had.next_offset);
			return 0;
		}
		if (!found) {
			/* Starting there with what the file has would write wrong rows. */
			snprintf(err, sizeof(err), "%s [%d]: the group has read it to offset %" PRId64 ", but the changelog "
			         "%s has nothing of it (deleted, or made again?): its open windows cannot be restored. "
			         "Recover: run the member whose state file has it at that offset (its last owner), or start "
			         "the group afresh (another -g, --output-topic and --changelog)", p->topic, p->partition,
			         want, e->cfg->changelog_topic);
			eng_fatal(e, AGG_EXIT_STATE, err);
			return -1;
		}
		if (got.next_offset > want || try + 1 >= GROUP_RESTORE_TRIES) {
			snprintf(err, sizeof(err), "%s [%d]: the changelog is at offset %" PRId64 ", the group at %" PRId64
			         ": they were written together, one of them was changed by hand", p->topic, p->partition,
			         got.next_offset, want);
			eng_fatal(e, AGG_EXIT_STATE, err);
			return -1;
		}
		if (try == 0)
			eng_log(e, LOG_INFO, "%s [%d]: the changelog is behind the group (%" PRId64 " < %" PRId64 "): a "
			        "transaction of a member that died is still open; waiting for the broker to abort it",
			        p->topic, p->partition, got.next_offset, want);
		nanosleep(&(struct timespec){ 1, 0 }, NULL);
	}
}

/* The group's offsets say whether this file is where the last owner left
 * each partition (group_restore). */
static int group_assign(struct sink *s, const rd_kafka_topic_partition_list_t *parts)
{
	struct engine *e = s->e;
	rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(parts);
	int ret = 0;

	if (rd_kafka_committed(e->rk, committed, 30000)) {
		eng_fatal(e, AGG_EXIT_RUNTIME, "kafka: cannot read the group's offsets of the partitions assigned");
		ret = -1;
	}
	for (int i = 0; ret == 0 && i < parts->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &parts->elems[i];
		struct eng_part *p = eng_part_find(e, tp->topic, tp->partition);
		if (!p)
			p = eng_part_add(e, tp->topic, tp->partition);
		if (!p) {
			eng_fatal(e, AGG_EXIT_RUNTIME, "out of memory");
			ret = -1;
		} else if (!p->assigned) {
			ret = group_restore(GROUP(s), p, committed);
		}
	}
	rd_kafka_topic_partition_list_destroy(committed);
	return ret;
}

/* Partitions lost (this member was out of the group): the batch cannot
 * commit (the transaction would be fenced), and need not: their next owner
 * starts from what was committed. */
static int group_commits_lost(struct sink *s)
{
	(void)s;
	return 0;
}

static void group_revoke(struct sink *s, const rd_kafka_topic_partition_list_t *parts, int lost)
{
	(void)s;
	(void)parts;
	(void)lost; /* the offsets went with the transactions */
}

static void group_idle(struct sink *s, int64_t mono)
{
	(void)s;
	(void)mono; /* the offsets went with the transactions */
}

static void group_finish(struct sink *s)
{
	(void)s;
}

static void group_close(struct sink *s)
{
	txn_close(GROUP(s)->txn);
	group_drop_offsets(GROUP(s));
	free(s);
}

static const struct sink_ops group_ops = {
	.start = group_start,
	.closed_until = group_closed_until,
	.due = group_due,
	.begin = group_begin,
	.window = group_window,
	.close_windows = group_close_windows,
	.product = group_product,
	.partition = group_partition,
	.commit = group_commit,
	.abort = group_abort,
	.committed = group_committed,
	.assign = group_assign,
	.commits_lost = group_commits_lost,
	.revoke = group_revoke,
	.idle = group_idle,
	.finish = group_finish,
	.close = group_close,
};

int sink_group_open(struct engine *e, struct sink **out)
{
	struct group *g = calloc(1, sizeof(*g));
	if (!g) {
		eng_fatal(e, AGG_EXIT_RUNTIME, "out of memory");
		return -1;
	}
	g->base.ops = &group_ops;
	g->base.e = e;
	g->base.label = e->cfg->output_topic;
	g->base.label_topic = 1;
	*out = &g->base;
	return 0;
}

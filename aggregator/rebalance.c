/*
 * rebalance.c - partitions coming and going: the consumer's hooks (assign,
 * revoke, started, the answer to an offset commit).  The sink is told: group
 * mode restores a partition from its changelog at assignment; at revocation
 * the batch is settled (or, lost where the sink cannot commit, forgotten)
 * and the local sink levels the group's offsets with the state's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine_int.h"
#include "sink.h"

static int rebalance_drop_any(const struct win_entry *w, void *arg)
{
	(void)w;
	(void)arg;
	return 1;
}

static int rebalance_drop_part(const struct win_entry *w, void *arg)
{
	return w->key.part == *(const uint32_t *)arg;
}

/* The group's answer to an offset commit: remember what it confirmed, so a
 * failed commit is sent again with the next batch. */
static void rebalance_on_commit(void *opaque, rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t *offs)
{
	struct engine *e = opaque;
	for (int i = 0; offs && i < offs->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &offs->elems[i];
		struct eng_part *p = eng_part_find(e, tp->topic, tp->partition);
		if (!p)
			continue;
		if (!err && !tp->err)
			p->group_offset = tp->offset;
		else
			eng_log(e, LOG_INFO, "offset commit of %s [%d] to the group failed: %s (sent again until it is taken)",
			        tp->topic, tp->partition, rd_kafka_err2str(err ? err : tp->err));
	}
}

/* A partition comes to us: what the state has of it wins over the group's
 * offset. */
static int rebalance_take(struct engine *e, rd_kafka_topic_partition_t *tp)
{
	struct eng_part *p = eng_part_find(e, tp->topic, tp->partition);
	if (!p)
		p = eng_part_add(e, tp->topic, tp->partition);
	if (!p) {
		eng_fatal(e, AGG_EXIT_RUNTIME, "out of memory");
		return -1;
	}
	if (p->assigned) { /* assigned again without a revoke: keep what we have */
		if (p->s.next_offset >= 0)
			tp->offset = p->s.next_offset;
		return 0;
	}
	p->group_offset = -1;
	if (store_partition_get(e->st, p->topic, p->partition, &p->s) < 0 || eng_load_products(e, p) < 0) {
		eng_fatal(e, eng_state_code(e), "state: cannot read a partition's state");
		return -1;
	}
	p->assigned = 1;
	p->gap_ok_at = -1;
	p->revoked_at = 0;
	p->eof = 0;
	p->fetched = 0;
	p->dirty = 0;
	p->start_offset = -1;
	p->reported = p->s.next_offset;
	if (p->s.next_offset >= 0)
		tp->offset = p->s.next_offset; /* the state's offset wins over the group's */
	/* One record early: the one read last, to check that the log is the
	 * one the state read (ingest.c, eng_fingerprint). */
	p->fp_check = p->s.next_offset > 0 && p->s.fp_set;
	if (p->fp_check)
		tp->offset = p->s.next_offset - 1;
	return 0;
}

static int rebalance_on_assign(void *opaque, rd_kafka_topic_partition_list_t *parts)
{
	struct engine *e = opaque;
	char err[512];
	int ret = 0;
	/* The partitions' state read in one transaction (one snapshot, one lock
	 * instead of two per partition). Nothing is written but what a restore
	 * brings, so its commit mostly costs no sync. */
	int tx = !store_in_tx(e->st);

	if (tx && store_begin(e->st, err, sizeof(err)) < 0) {
		eng_fatal(e, eng_state_code(e), err);
		return -1;
	}
	ret = e->sink->ops->assign(e->sink, parts);
	for (int i = 0; ret == 0 && i < parts->cnt; i++)
		ret = rebalance_take(e, &parts->elems[i]);
	if (tx && ret == 0 && store_commit(e->st, err, sizeof(err)) < 0) {
		eng_fatal(e, eng_state_code(e), err);
		ret = -1;
	} else if (tx && ret < 0) {
		store_rollback(e->st);
	}
	return ret;
}

/* Says where each newly assigned partition starts, exactly. */
static void rebalance_on_started(void *opaque, const rd_kafka_topic_partition_list_t *parts)
{
	struct engine *e = opaque;
	for (int i = 0; i < parts->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &parts->elems[i];
		struct eng_part *p = eng_part_find(e, tp->topic, tp->partition);
		if (!p || !p->assigned)
			continue;
		if (p->s.next_offset >= 0) {
			eng_log(e, LOG_INFO, "assigned %s [%d], starting at the state's offset %" PRId64, p->topic,
			        p->partition, p->s.next_offset);
			continue;
		}
		if (tp->offset >= 0)
			p->start_offset = tp->offset; /* for the lag until its first message */
		if (tp->opaque == CONSUME_FROM_START && tp->offset >= 0)
			eng_log(e, LOG_INFO, "assigned %s [%d], new to the state: starting at offset %" PRId64
			        " (--start-at)", p->topic, p->partition, tp->offset);
		else if (tp->opaque == CONSUME_FROM_START)
			eng_log(e, LOG_INFO, "assigned %s [%d], new to the state: starting at the end of its log "
			        "(--start-at)", p->topic, p->partition);
		else if (tp->offset >= 0 && tp->opaque == CONSUME_FROM_GROUP)
			eng_log(e, LOG_INFO, "assigned %s [%d], new to the state: starting at the group's committed offset %"
			        PRId64, p->topic, p->partition, tp->offset);
		else if (tp->offset >= 0)
			eng_log(e, LOG_INFO, "assigned %s [%d], new to the state, no offset in the group: starting at offset %"
			        PRId64 " (auto.offset.reset)", p->topic, p->partition, tp->offset);
		else
			eng_log(e, LOG_INFO, "assigned %s [%d], new to the state: starting at the group's committed offset, "
			        "or where auto.offset.reset says (not known yet)", p->topic, p->partition);
	}
}

/* Partitions lost, and a sink that cannot commit for them (group mode:
 * this member was out of the group): the batch cannot commit, and need not.
 * What it changed is undone here too; the partitions still assigned read
 * their state back from the file. */
static void rebalance_forget_batch(struct engine *e)
{
	if (store_in_tx(e->st))
		store_rollback(e->st);
	win_table_evict(&e->wins, rebalance_drop_any, NULL);
	for (size_t i = 0; i < e->nparts; i++) {
		struct eng_part *p = &e->parts[i];
		eng_fp_drop(p);
		p->dirty = 0;
		p->nproducts = 0;
		if (p->assigned && (store_partition_get(e->st, p->topic, p->partition, &p->s) < 0 ||
		                    eng_load_products(e, p) < 0))
			eng_fatal(e, eng_state_code(e), "state: cannot read a partition's state");
	}
	e->dirty = 0;
	e->batch_msgs = 0;
}

static void rebalance_on_revoke(void *opaque, const rd_kafka_topic_partition_list_t *parts, int lost)
{
	struct engine *e = opaque;

	/* Settle the batch first: what was read of these partitions is
	 * committed with their offsets -- unless they were lost and the sink
	 * cannot commit for them any more (group mode: their next owner starts
	 * from what was committed). */
	if (lost && !e->sink->ops->commits_lost(e->sink))
		rebalance_forget_batch(e);
	else
		eng_flush(e, 1);
	e->sink->ops->revoke(e->sink, parts, lost);
	for (int i = 0; i < parts->cnt; i++) {
		struct eng_part *p = eng_part_find(e, parts->elems[i].topic, parts->elems[i].partition);
		if (!p)
			continue;
		uint32_t idx = (uint32_t)(p - e->parts);
		eng_fp_drop(p); /* taken by the batch just settled, unless it failed */
		p->assigned = 0;
		p->revoked_at = eng_now();
		if (p->clock_run > 0 && --e->clock_runs == 0)
			e->clock_since = 0;
		p->clock_run = 0;
		p->nproducts = 0;
		win_table_evict(&e->wins, rebalance_drop_part, &idx);
		eng_log(e, LOG_INFO, "%s %s [%d]", lost ? "lost" : "revoked", p->topic, p->partition);
	}
}

void rebalance_hooks(struct engine *e)
{
	e->hooks.opaque = e;
	e->hooks.verbosity = e->cfg->verbosity;
	e->hooks.start_at = e->cfg->start_at_ms;
	e->hooks.on_assign = rebalance_on_assign;
	e->hooks.on_revoke = rebalance_on_revoke;
	e->hooks.on_started = rebalance_on_started;
	e->hooks.on_commit = rebalance_on_commit;
}

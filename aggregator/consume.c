/*
 * consume.c - Kafka consumer for the aggregator (see consume.h).
 */
#include "consume.h"
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void consume_resolve_unset(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                                  const struct consume_hooks *h);

static void consume_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct consume_hooks *h = opaque;
	rd_kafka_error_t *error = NULL;
	rd_kafka_resp_err_t ret = RD_KAFKA_RESP_ERR_NO_ERROR;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		/* Asked here only: rd_kafka_rebalance_protocol can wait for ever in
		 * a revoke once the consumer closes (librdkafka #4041). */
		h->coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
		if (h->on_assign(h->opaque, parts) < 0)
			log_msg(h->verbosity, LOG_ERROR, "cannot read the state of newly assigned partitions");
		consume_resolve_unset(rk, parts, h);
		h->on_started(h->opaque, parts);
		if (h->coop)
			error = rd_kafka_incremental_assign(rk, parts);
		else
			ret = rd_kafka_assign(rk, parts);
		h->assigned = h->coop ? h->assigned + parts->cnt : parts->cnt;
	} else {
		/* Settle the state (commit the batch) before the partitions go. */
		h->on_revoke(h->opaque, parts, rd_kafka_assignment_lost(rk));
		if (h->coop)
			error = rd_kafka_incremental_unassign(rk, parts);
		else
			ret = rd_kafka_assign(rk, NULL);
		h->assigned = h->coop && h->assigned > parts->cnt ? h->assigned - parts->cnt : 0;
	}
	if (error) {
		log_msg(h->verbosity, LOG_ERROR, "rebalance: %s", rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	} else if (ret) {
		log_msg(h->verbosity, LOG_ERROR, "rebalance: %s", rd_kafka_err2str(ret));
	}
}

static void consume_committed(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t *offs, void *opaque)
{
	struct consume_hooks *h = opaque;
	(void)rk;
	if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
		return;
	if (h->on_commit)
		h->on_commit(h->opaque, err, offs);
}

/* librdkafka's lines in our format, at our verbosity: syslog levels up to 4
 * are warnings here (the client works around them), 5 and 6 info, 7 debug. */
void consume_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	const struct consume_hooks *h = rd_kafka_opaque(rk);
	log_kafka(h ? h->verbosity : LOG_INFO, level, fac, buf);
}

/* Client-level errors: logged as librdkafka logged them without an
 * error_cb (a warning: the client retries), then told to the hooks. */
static void consume_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	const struct consume_hooks *h = opaque;
	(void)rk;
	log_kafka(h ? h->verbosity : LOG_INFO, 3, "ERROR", reason);
	if (h && h->on_error)
		h->on_error(h->opaque, (rd_kafka_resp_err_t)err, reason);
}

static int consume_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
	char e[256];
	if (rd_kafka_conf_set(conf, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "kafka property %s=%s: %s", k, v, e);
		return -1;
	}
	return 0;
}

/* Partitions the state has not seen (offset still INVALID) start at the
 * group's committed offset, else where auto.offset.reset says.  Resolved here
 * with one OffsetFetch instead of by librdkafka after the assignment: there
 * "no committed offset" reaches the reset with an error code, which delays the
 * ListOffsets by 100 ms (rd_kafka_offset_reset's backoff), a third of the time
 * to the first commit.  The partitions the group has no offset for are then
 * looked up at once: ListOffsets with the protocol's EARLIEST (-2) / LATEST
 * (-1) timestamp, one request per leader (rd_kafka_offsets_for_times),
 * instead of librdkafka's one request per partition (~100 ms for 724).  On any
 * failure the offsets stay INVALID or logical, and librdkafka resolves them
 * as before. */
/* The group's committed offsets of q, asked again while the coordinator is
 * not ready: on a new cluster the offsets topic is made at the first group
 * request, and until then the broker answers NOT_COORDINATOR or
 * COORDINATOR_LOAD_IN_PROGRESS.  librdkafka 2.0's own lookup after a plain
 * assign does not ask again: the partitions then never started (an
 * --available-now run hung).  Up to 30 s; returns the last error. */
static rd_kafka_resp_err_t consume_committed_retry(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *q, int verbosity)
{
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	for (int t = 0; t < 60; t++) {
		err = rd_kafka_committed(rk, q, 10000);
		for (int i = 0; !err && i < q->cnt; i++)
			if (q->elems[i].err)
				err = q->elems[i].err;
		if (err != RD_KAFKA_RESP_ERR_NOT_COORDINATOR && err != RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS &&
		    err != RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE && err != RD_KAFKA_RESP_ERR__TIMED_OUT &&
		    err != RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT)
			break;
		if (t == 0)
			log_msg(verbosity, LOG_INFO, "the group's offsets: %s: asking again", rd_kafka_err2str(err));
		for (int i = 0; i < q->cnt; i++) {
			q->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
			q->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
		}
		struct timespec ts = { 0, 500 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return err;
}

static void consume_resolve_unset(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                                  const struct consume_hooks *h)
{
	rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_new(parts->cnt);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts->cnt);
	char reset[32] = "";
	size_t rlen = sizeof(reset);
	int64_t logical = RD_KAFKA_OFFSET_INVALID;
	void *from = CONSUME_FROM_RESET;

	if (h->start_at != CONSUME_START_GROUP) {
		/* --start-at: the group's offsets are not asked; the offset of the
		 * first message at or after the time, or the log's start or end
		 * (ListOffsets' timestamps -2 and -1). */
		for (int i = 0; i < parts->cnt; i++)
			if (parts->elems[i].offset == RD_KAFKA_OFFSET_INVALID)
				rd_kafka_topic_partition_list_add(l, parts->elems[i].topic, parts->elems[i].partition)->offset =
					h->start_at;
		from = CONSUME_FROM_START;
		goto lookup;
	}

	if (rd_kafka_conf_get(rd_kafka_conf(rk), "auto.offset.reset", reset, &rlen) == RD_KAFKA_CONF_OK) {
		if (!strcmp(reset, "smallest") || !strcmp(reset, "earliest") || !strcmp(reset, "beginning"))
			logical = RD_KAFKA_OFFSET_BEGINNING;
		else if (!strcmp(reset, "largest") || !strcmp(reset, "latest") || !strcmp(reset, "end"))
			logical = RD_KAFKA_OFFSET_END;
	}
	for (int i = 0; i < parts->cnt; i++)
		if (parts->elems[i].offset == RD_KAFKA_OFFSET_INVALID)
			rd_kafka_topic_partition_list_add(q, parts->elems[i].topic, parts->elems[i].partition);
	if (q->cnt == 0 || logical == RD_KAFKA_OFFSET_INVALID || consume_committed_retry(rk, q, h->verbosity))
		goto out;
	for (int i = 0; i < q->cnt; i++) {
		rd_kafka_topic_partition_t *c = &q->elems[i], *t;
		if (c->err)
			continue;
		t = rd_kafka_topic_partition_list_find(parts, c->topic, c->partition);
		if (!t)
			continue;
		t->offset = c->offset >= 0 ? c->offset : logical;
		t->opaque = c->offset >= 0 ? CONSUME_FROM_GROUP : NULL;
		if (c->offset < 0)
			rd_kafka_topic_partition_list_add(l, c->topic, c->partition)->offset = logical;
	}
	/* the timestamps -2 / -1 of ListOffsets are EARLIEST / LATEST */
lookup:
	if (l->cnt == 0)
		goto out;
	rd_kafka_resp_err_t lerr = rd_kafka_offsets_for_times(rk, l, 10000);
	if (lerr) {
		if (from == CONSUME_FROM_START)
			log_msg(h->verbosity, LOG_WARN, "--start-at: the offsets could not be looked up (%s): "
			        "the new partitions start as auto.offset.reset says", rd_kafka_err2str(lerr));
		goto out;
	}
	for (int i = 0; i < l->cnt; i++) {
		rd_kafka_topic_partition_t *c = &l->elems[i], *t;
		if (c->err || (c->offset < 0 && from != CONSUME_FROM_START))
			continue;
		t = rd_kafka_topic_partition_list_find(parts, c->topic, c->partition);
		if (t) {
			/* no message at or after the time: the end */
			t->offset = c->offset >= 0 ? c->offset : RD_KAFKA_OFFSET_END;
			t->opaque = from;
		}
	}
out:
	rd_kafka_topic_partition_list_destroy(q);
	rd_kafka_topic_partition_list_destroy(l);
}

/* Every partition of the topics (--assign) into parts, from one Metadata
 * request (the locally known topics) waited for up to timeout_ms.  0, or -1
 * with err. */
static int consume_topic_parts(rd_kafka_t *rk, const struct agg_config *cfg, rd_kafka_topic_partition_list_t *parts,
                               int timeout_ms, char *err, size_t errlen)
{
	rd_kafka_topic_t *rkts[CLI_MAX_TOPICS];
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t merr;
	int nrkt = 0, ret = -1;

	for (int i = 0; i < cfg->ntopics; i++) {
		if (cfg->topics[i][0] == '^') {
			snprintf(err, errlen, "--assign takes topic names, not patterns (%s)", cfg->topics[i]);
			goto out;
		}
		rkts[nrkt++] = rd_kafka_topic_new(rk, cfg->topics[i], NULL);
	}
	merr = rd_kafka_metadata(rk, 0, nrkt == 1 ? rkts[0] : NULL, &md, timeout_ms);
	for (int i = 0; !merr && i < cfg->ntopics; i++) {
		const struct rd_kafka_metadata_topic *mt = NULL;

		for (int k = 0; k < md->topic_cnt && !mt; k++)
			if (!strcmp(md->topics[k].topic, cfg->topics[i]))
				mt = &md->topics[k];
		if (!mt || mt->err) {
			snprintf(err, errlen, "topic %s: %s", cfg->topics[i],
			         rd_kafka_err2str(mt ? mt->err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
			goto out;
		}
		for (int p = 0; p < mt->partition_cnt; p++)
			rd_kafka_topic_partition_list_add(parts, cfg->topics[i], mt->partitions[p].id);
	}
	if (merr) {
		if (merr == RD_KAFKA_RESP_ERR__TRANSPORT || merr == RD_KAFKA_RESP_ERR__TIMED_OUT ||
		    merr == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
			snprintf(err, errlen, "no broker reachable at %s (topic metadata: %s)", cfg->brokers,
			         rd_kafka_err2str(merr));
		else
			snprintf(err, errlen, "topic metadata: %s", rd_kafka_err2str(merr));
		goto out;
	}
	ret = 0;
out:
	if (md)
		rd_kafka_metadata_destroy(md);
	while (nrkt > 0)
		rd_kafka_topic_destroy(rkts[--nrkt]);
	return ret;
}

/* --assign: every partition of the topics, without group membership (no
 * rebalance to wait for at start or after a crash). Offsets are still
 * committed under the group id, for lag tools. */
static int consume_assign_all(rd_kafka_t *rk, const struct agg_config *cfg, struct consume_hooks *hooks,
                              char *err, size_t errlen)
{
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
	int ret = -1;

	if (consume_topic_parts(rk, cfg, parts, 10000, err, errlen) < 0)
		goto out;
	if (hooks->on_assign(hooks->opaque, parts) < 0) {
		snprintf(err, errlen, "cannot read the state of the partitions");
		goto out;
	}
	consume_resolve_unset(rk, parts, hooks);
	hooks->on_started(hooks->opaque, parts);
	rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, parts);
	if (aerr) {
		snprintf(err, errlen, "cannot assign partitions: %s", rd_kafka_err2str(aerr));
		goto out;
	}
	ret = 0;
out:
	rd_kafka_topic_partition_list_destroy(parts);
	return ret;
}

int consume_assign_added(rd_kafka_t *rk, const struct agg_config *cfg, struct consume_hooks *hooks,
                         char *err, size_t errlen)
{
	rd_kafka_topic_partition_list_t *all = rd_kafka_topic_partition_list_new(16), *now = NULL, *added = NULL;
	int ret = -1;

	if (consume_topic_parts(rk, cfg, all, 2000, err, errlen) < 0)
		goto out;
	rd_kafka_resp_err_t aerr = rd_kafka_assignment(rk, &now);
	if (aerr) {
		snprintf(err, errlen, "the assignment: %s", rd_kafka_err2str(aerr));
		goto out;
	}
	added = rd_kafka_topic_partition_list_new(4);
	for (int i = 0; i < all->cnt; i++)
		if (!rd_kafka_topic_partition_list_find(now, all->elems[i].topic, all->elems[i].partition))
			rd_kafka_topic_partition_list_add(added, all->elems[i].topic, all->elems[i].partition);
	ret = 0;
	if (added->cnt == 0)
		goto out;
	if (hooks->on_assign(hooks->opaque, added) < 0) {
		snprintf(err, errlen, "cannot read the state of the partitions");
		ret = -1;
		goto out;
	}
	consume_resolve_unset(rk, added, hooks);
	hooks->on_started(hooks->opaque, added);
	rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, added);
	if (e) {
		snprintf(err, errlen, "cannot assign partitions: %s", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		ret = -1;
		goto out;
	}
	ret = added->cnt;
out:
	rd_kafka_topic_partition_list_destroy(all);
	if (now)
		rd_kafka_topic_partition_list_destroy(now);
	if (added)
		rd_kafka_topic_partition_list_destroy(added);
	return ret;
}

/* librdkafka 2.0 (Debian bookworm's) with cooperative-sticky, against Apache
 * Kafka 4.1: when a second member joined, the first was told to revoke one of
 * its two partitions while the second was given both; the first went on
 * reading the other one (its commits refused with ILLEGAL_GENERATION, no
 * revoke ever came), so two members counted the same ticks (tests/t/37).
 * Refused there; an eager assignor (range, roundrobin) has no such window. */
static int consume_coop_refused(rd_kafka_conf_t *conf, const struct agg_config *cfg, char *err, size_t errlen)
{
	char v[256];
	size_t n = sizeof(v);

	if (cfg->assign || rd_kafka_version() >= 0x02010000 ||
	    rd_kafka_conf_get(conf, "partition.assignment.strategy", v, &n) != RD_KAFKA_CONF_OK ||
	    !strstr(v, "cooperative-sticky"))
		return 0;
	snprintf(err, errlen, "partition.assignment.strategy=cooperative-sticky is refused with librdkafka %s: "
	         "its incremental rebalance can leave a partition read by two members, counting ticks twice; "
	         "use range or roundrobin", rd_kafka_version_str());
	return -1;
}

/* The consumer's configuration: our defaults, then the user's properties. */
static rd_kafka_conf_t *consume_conf(const struct agg_config *cfg, int *code, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	/* Defaults chosen for exactly-once by the state file and a small footprint;
	 * every one can be overridden with -X. */
	static const char *const defaults[][2] = {
		{ "enable.auto.commit", "false" },
		{ "enable.auto.offset.store", "false" },
		{ "enable.partition.eof", "true" },
		{ "auto.offset.reset", "earliest" },
		{ "isolation.level", "read_committed" },
		/* The prefetch bound, which sets the memory a backlog takes. With
		 * librdkafka 2.0 a full queue stalls fetching for up to a second;
		 * the engine wakes the fetcher when it runs dry (eng_nudge_fetcher),
		 * and a smaller queue stalled more often. */
		{ "queued.max.messages.kbytes", "2048" },
		/* One fetch response stays in memory while any of its messages is
		 * queued (librdkafka's 50 MB default is the RSS of a backlog over
		 * many partitions); smaller responses also keep the partitions
		 * closer in event time, so windows close sooner (README:
		 * Performance). */
		{ "fetch.max.bytes", "1048576" },
		{ "fetch.wait.max.ms", "25" },   /* the embedded broker holds a fetch this long */
		{ "client.id", "aggregator" },
		{ "log.connection.close", "false" },
		/* A restart after a crash waits for the dead member's session to
		 * expire: keep that short (brokers' default minimum is 6 s). */
		{ "session.timeout.ms", "6000" },
		{ "heartbeat.interval.ms", "1000" },
		/* A partition added to a topic is found at the next metadata
		 * refresh: librdkafka's 5 minutes let the other partitions move
		 * the watermark past its first minutes of ticks (1468 of 1807
		 * late); 5 s is well inside the watermark delay. */
		{ "topic.metadata.refresh.interval.ms", "5000" },
	};

	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (consume_set(conf, defaults[i][0], defaults[i][1], err, errlen) < 0)
			goto fail;
	if (consume_set(conf, "bootstrap.servers", cfg->brokers, err, errlen) < 0 ||
	    consume_set(conf, "group.id", cfg->group, err, errlen) < 0)
		goto fail;
	/* Group mode: librdkafka's first choice, range, gives the first N
	 * members one partition of each N-partition topic and a member past N
	 * none at all; roundrobin spreads every partition of every topic. */
	if (cfg->output_topic && consume_set(conf, "partition.assignment.strategy", "roundrobin", err, errlen) < 0)
		goto fail;
	/* Group mode: a member hears of a rebalance (another one died) at its
	 * next heartbeat; a second is a sixth of a failover. */
	if (cfg->output_topic && consume_set(conf, "heartbeat.interval.ms", "300", err, errlen) < 0)
		goto fail;
	/* Group mode: static membership (KIP-345): a member restarted within
	 * its session timeout gets its partitions back without a rebalance of
	 * the whole group.  Its name is the member's (member.h): unique per
	 * state file, the same at every restart. */
	if (cfg->output_topic && cfg->member && consume_set(conf, "group.instance.id", cfg->member, err, errlen) < 0)
		goto fail;
	*code = AGG_EXIT_USAGE;
	for (int i = 0; i < cfg->props.n; i++)
		if (consume_set(conf, cfg->props.kv[i][0], cfg->props.kv[i][1], err, errlen) < 0)
			goto fail;
	if (consume_coop_refused(conf, cfg, err, errlen) < 0)
		goto fail;
	*code = AGG_EXIT_RUNTIME;
	return conf;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

rd_kafka_t *consume_new(const struct agg_config *cfg, struct consume_hooks *hooks,
                        int *code, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = consume_conf(cfg, code, err, errlen);
	rd_kafka_t *rk = NULL;
	char e[512];

	if (!conf)
		return NULL;
	rd_kafka_conf_set_log_cb(conf, consume_log);
	rd_kafka_conf_set_rebalance_cb(conf, consume_rebalance);
	rd_kafka_conf_set_offset_commit_cb(conf, consume_committed);
	rd_kafka_conf_set_error_cb(conf, consume_error);
	rd_kafka_conf_set_opaque(conf, hooks);

	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e));
	if (!rk) {
		snprintf(err, errlen, "cannot create the Kafka consumer: %s", e);
		goto fail;
	}
	conf = NULL; /* now owned by rk */
	rd_kafka_poll_set_consumer(rk);
	/* A topic handle makes librdkafka connect and ask for the topic's
	 * metadata in the background (it connects only when needed otherwise):
	 * that overlaps with the state file's opening, ~15 ms at start. */
	for (int i = 0; i < cfg->ntopics; i++)
		if (cfg->topics[i][0] != '^') {
			rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, cfg->topics[i], NULL);
			if (rkt)
				rd_kafka_topic_destroy(rkt);
		}
	return rk;
fail:
	if (conf)
		rd_kafka_conf_destroy(conf);
	return NULL;
}

int consume_start(rd_kafka_t *rk, const struct agg_config *cfg, struct consume_hooks *hooks,
                  char *err, size_t errlen)
{
	rd_kafka_topic_partition_list_t *subs;

	if (cfg->assign)
		return consume_assign_all(rk, cfg, hooks, err, errlen);

	subs = rd_kafka_topic_partition_list_new(cfg->ntopics);
	for (int i = 0; i < cfg->ntopics; i++)
		rd_kafka_topic_partition_list_add(subs, cfg->topics[i], RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t rerr = rd_kafka_subscribe(rk, subs);
	rd_kafka_topic_partition_list_destroy(subs);
	if (rerr) {
		snprintf(err, errlen, "cannot subscribe to %s: %s", cfg->topics_arg, rd_kafka_err2str(rerr));
		return -1;
	}
	hooks->subscribed = 1;
	return 0;
}

/* The answer is waited for on a queue of its own, up to wait_ms: a
 * synchronous rd_kafka_commit can wait for ever, and did in a revoke served by
 * rd_kafka_consumer_close after the member was expelled ("Unknown member"; test
 * 37 under load, SIGTERM never finished). */
rd_kafka_resp_err_t consume_commit(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *offsets, int wait_ms)
{
	rd_kafka_resp_err_t err;

	if (wait_ms <= 0) {
		err = rd_kafka_commit(rk, offsets, 1);
	} else {
		rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
		err = rd_kafka_commit_queue(rk, offsets, q, NULL, NULL);
		if (!err) {
			rd_kafka_event_t *ev = rd_kafka_queue_poll(q, wait_ms);
			if (!ev) {
				err = RD_KAFKA_RESP_ERR__TIMED_OUT;
			} else {
				const rd_kafka_topic_partition_list_t *res = rd_kafka_event_topic_partition_list(ev);
				err = rd_kafka_event_error(ev);
				for (int i = 0; !err && res && i < res->cnt; i++)
					err = res->elems[i].err;
				rd_kafka_event_destroy(ev);
			}
		}
		rd_kafka_queue_destroy(q);
	}
	/* A failed group commit loses nothing: the state file's offsets win at
	 * restart, and the engine sends it again (next batch, revoke, close). */
	if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
		log_msg(LOG_WARN, LOG_WARN, "offset commit to the group failed: %s (sent again)", rd_kafka_err2str(err));
	return err == RD_KAFKA_RESP_ERR__NO_OFFSET ? RD_KAFKA_RESP_ERR_NO_ERROR : err;
}

int consume_commit_holds(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *want, int wait_ms)
{
	rd_kafka_topic_partition_list_t *got = rd_kafka_topic_partition_list_copy(want);
	int holds = rd_kafka_committed(rk, got, wait_ms) == RD_KAFKA_RESP_ERR_NO_ERROR;

	for (int i = 0; holds && i < got->cnt; i++)
		holds = !got->elems[i].err && got->elems[i].offset == want->elems[i].offset;
	rd_kafka_topic_partition_list_destroy(got);
	return holds;
}

/* Leaving the group is bounded, in two steps.  First the subscription goes
 * and the revoke is served here, by rd_kafka_consumer_poll, as any other
 * rebalance: the revoke that rd_kafka_consumer_close serves itself can wait
 * for ever in rd_kafka_assign (librdkafka #4884; test 37 under load, after
 * "Unknown member").  Then the close runs in librdkafka's thread, for what is
 * left of wait_ms: it waits for the answers to offset commits in flight, up
 * to socket.timeout.ms (60 s) each when the coordinator does not answer (test
 * 123).  Past wait_ms the handle goes without the group: what the group did
 * not confirm, the state file holds. */
static int64_t consume_ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

void consume_close(rd_kafka_t *rk, int wait_ms)
{
	struct consume_hooks *h = rd_kafka_opaque(rk);
	struct timespec t0;
	int flags = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (h->subscribed && !rd_kafka_unsubscribe(rk)) {
		while (h->assigned > 0 && consume_ms_since(&t0) < wait_ms) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
			if (m)
				rd_kafka_message_destroy(m); /* not read: the state's offsets stay where they are */
		}
	}
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_error_t *error = rd_kafka_consumer_close_queue(rk, q);
	if (error) {
		rd_kafka_error_destroy(error);
		rd_kafka_consumer_close(rk);
	} else {
		for (;;) {
			/* A rebalance comes as an event (queue_poll_callback asserts on
			 * other ops there: test 37 aborted). */
			rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
			if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
				consume_rebalance(rk, rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev), h);
			if (ev)
				rd_kafka_event_destroy(ev);
			if (rd_kafka_consumer_closed(rk))
				break;
			if (consume_ms_since(&t0) >= wait_ms) {
				log_msg(LOG_WARN, LOG_WARN, "the group did not let this member go within %d ms: leaving "
				        "without its answer (the state file holds every offset)", wait_ms);
				flags = RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE;
				break;
			}
		}
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy_flags(rk, flags);
}

static int64_t consume_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One Metadata request (the topics the client knows) to any broker; its
 * start time recorded as answered, or as the first failure since. */
static void consume_probe_once(struct consume_nudger *n)
{
	const struct rd_kafka_metadata *md = NULL;
	int64_t at = consume_mono();
	rd_kafka_resp_err_t err = rd_kafka_metadata(n->rk, 0, NULL, &md, CONSUME_PROBE_MS);
	if (md)
		rd_kafka_metadata_destroy(md);
	pthread_mutex_lock(&n->lock);
	if (!err) {
		n->probe_ok = at;
		n->probe_fail = 0;
	} else if (!n->probe_fail) {
		n->probe_fail = at;
	}
	n->busy = 0;
}

static void *consume_nudger_main(void *arg)
{
	struct consume_nudger *n = arg;
	char topic[sizeof(n->topic)];
	int64_t lo, hi;

	pthread_mutex_lock(&n->lock);
	for (;;) {
		while (!n->stop && !n->pending && !n->probe)
			pthread_cond_wait(&n->cond, &n->lock);
		if (n->stop)
			break;
		if (n->probe) {
			n->probe = 0;
			n->busy = 1;
			pthread_mutex_unlock(&n->lock);
			consume_probe_once(n); /* returns with the lock held */
			continue;
		}
		memcpy(topic, n->topic, sizeof(topic));
		int32_t partition = n->partition;
		n->pending = 0;
		n->busy = 1;
		pthread_mutex_unlock(&n->lock);
		rd_kafka_query_watermark_offsets(n->rk, topic, partition, &lo, &hi, 1000);
		pthread_mutex_lock(&n->lock);
		n->busy = 0;
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int consume_nudger_start(struct consume_nudger *n, rd_kafka_t *rk)
{
	n->rk = rk;
	if (pthread_mutex_init(&n->lock, NULL))
		return -1;
	if (pthread_cond_init(&n->cond, NULL)) {
		pthread_mutex_destroy(&n->lock);
		return -1;
	}
	if (pthread_create(&n->thread, NULL, consume_nudger_main, n)) {
		pthread_cond_destroy(&n->cond);
		pthread_mutex_destroy(&n->lock);
		return -1;
	}
	n->running = 1;
	return 0;
}

void consume_nudger_stop(struct consume_nudger *n)
{
	if (!n->running)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = 1;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	n->running = 0;
}

void consume_nudger_post(struct consume_nudger *n, const char *topic, int32_t partition)
{
	if (!n->running)
		return;
	pthread_mutex_lock(&n->lock);
	if (!n->pending && !n->busy) {
		snprintf(n->topic, sizeof(n->topic), "%s", topic);
		n->partition = partition;
		n->pending = 1;
		pthread_cond_signal(&n->cond);
	}
	pthread_mutex_unlock(&n->lock);
}

void consume_nudger_probe(struct consume_nudger *n)
{
	if (!n->running)
		return;
	pthread_mutex_lock(&n->lock);
	if (!n->probe && !n->busy) {
		n->probe = 1;
		pthread_cond_signal(&n->cond);
	}
	pthread_mutex_unlock(&n->lock);
}

void consume_nudger_probed(struct consume_nudger *n, int64_t *ok, int64_t *failed)
{
	*ok = *failed = 0;
	if (!n->running)
		return;
	pthread_mutex_lock(&n->lock);
	*ok = n->probe_ok;
	*failed = n->probe_fail;
	pthread_mutex_unlock(&n->lock);
}

int consume_check(const struct agg_config *cfg, char *err, size_t errlen)
{
	int code;
	rd_kafka_conf_t *conf = consume_conf(cfg, &code, err, errlen);

	if (!conf)
		return -1;
	rd_kafka_conf_destroy(conf);
	return 0;
}

int consume_dump(const struct agg_config *cfg, char *err, size_t errlen)
{
	int code = AGG_EXIT_RUNTIME;
	rd_kafka_conf_t *conf = consume_conf(cfg, &code, err, errlen);
	size_t n;

	if (!conf)
		return code;
	const char **kv = rd_kafka_conf_dump(conf, &n);
	for (size_t i = 0; i + 1 < n; i += 2)
		printf("%s = %s\n", kv[i], kv[i + 1]);
	rd_kafka_conf_dump_free(kv, n);
	rd_kafka_conf_destroy(conf);
	return AGG_EXIT_OK;
}

/* Only what a lookup needs (no defaults of the run: it consumes nothing),
 * then the user's properties, which may be needed to reach the cluster. */
static rd_kafka_t *consume_lookup_new(const struct agg_config *cfg, char *e, size_t elen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk = NULL;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", cfg->brokers, e, elen) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "group.id", cfg->group, e, elen) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "log.connection.close", "false", e, elen) != RD_KAFKA_CONF_OK)
		goto fail;
	for (int i = 0; i < cfg->props.n; i++)
		if (rd_kafka_conf_set(conf, cfg->props.kv[i][0], cfg->props.kv[i][1], e, elen) != RD_KAFKA_CONF_OK)
			goto fail;
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, elen);
	if (rk)
		return rk; /* conf now owned by rk */
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

/* Contract: see consume.h. */
void consume_positions(const struct agg_config *cfg, struct consume_pos *p, size_t n)
{
	char e[512];
	rd_kafka_t *rk = consume_lookup_new(cfg, e, sizeof(e));

	for (size_t i = 0; i < n; i++)
		p[i].group_offset = p[i].log_start = p[i].log_end = -1;
	if (!rk) {
		log_msg(cfg->verbosity, LOG_WARN, "kafka: %s (no offsets from Kafka)", e);
		return;
	}
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
	for (size_t i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(l, p[i].topic, p[i].partition);
	rd_kafka_resp_err_t err = rd_kafka_committed(rk, l, 5000);
	if (err)
		log_msg(cfg->verbosity, LOG_WARN, "the group's offsets: %s", rd_kafka_err2str(err));
	for (size_t i = 0; i < n; i++) {
		rd_kafka_topic_partition_t *t = rd_kafka_topic_partition_list_find(l, p[i].topic, p[i].partition);
		if (!err && t && !t->err && t->offset >= 0)
			p[i].group_offset = t->offset;
		if (rd_kafka_query_watermark_offsets(rk, p[i].topic, p[i].partition, &p[i].log_start, &p[i].log_end,
		                                     5000)) {
			p[i].log_start = p[i].log_end = -1;
			if (i == 0)
				log_msg(cfg->verbosity, LOG_WARN, "the log's ends: no answer from %s", cfg->brokers);
		}
	}
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(rk);
}

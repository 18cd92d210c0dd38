/*
 * txn.c - see txn.h.
 */
#include "txn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fnv.h"
#include "gtopics.h"
#include "log.h"
#include "record.h"
#include "window.h"

#define TXN_TIMEOUT_MS   30000 /* a transaction call's bound */
#define TXN_RESTORE_MS   60000 /* reading a changelog partition to its end */
#define TXN_CHANGELOG_PARTS 4  /* partitions of a changelog topic we create */

struct txn {
	const struct agg_config *cfg;
	rd_kafka_t *rk;           /* the transactional producer */
	rd_kafka_t *restore;      /* a consumer for the changelog (read_committed), made at the first restore */
	rd_kafka_topic_t *changelog, *output;
	int32_t changelog_parts;  /* from the metadata, at open */
	int open;                 /* a transaction is open */
	rd_kafka_resp_err_t failed; /* a produce failed in this transaction */
};

static void txn_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	const struct txn *t = rd_kafka_opaque(rk);
	log_kafka(t ? t->cfg->verbosity : LOG_INFO, level, fac, buf);
}

/* A record's delivery failed: the transaction cannot commit (commit_transaction
 * says so too; this names the cause). */
static void txn_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	struct txn *t = opaque;
	if (m->err && !t->failed)
		t->failed = m->err;
}

static int txn_conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
	char e[256];
	if (rd_kafka_conf_set(conf, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "kafka property %s=%s: %s", k, v, e);
		return -1;
	}
	return 0;
}

/* The user's -X/-F properties that a client of this kind takes (security,
 * timeouts), ours first. */
static rd_kafka_conf_t *txn_conf(struct txn *t, const char *const (*ours)[2], size_t n, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	for (size_t i = 0; i < n; i++)
		if (txn_conf_set(conf, ours[i][0], ours[i][1], err, errlen) < 0)
			goto fail;
	if (txn_conf_set(conf, "bootstrap.servers", t->cfg->brokers, err, errlen) < 0)
		goto fail;
	for (int i = 0; i < t->cfg->props.n; i++) {
		const char *k = t->cfg->props.kv[i][0];
		/* the consumer's own, which a producer would warn about */
		if (!strncmp(k, "ssl", 3) || !strncmp(k, "sasl", 4) || !strcmp(k, "security.protocol") ||
		    !strncmp(k, "socket", 6) || !strcmp(k, "client.id") || !strcmp(k, "debug"))
			if (txn_conf_set(conf, k, t->cfg->props.kv[i][1], err, errlen) < 0)
				goto fail;
	}
	rd_kafka_conf_set_log_cb(conf, txn_log);
	rd_kafka_conf_set_opaque(conf, t);
	return conf;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

/* err from a transactional call, and what it means for us. */
static int txn_error(rd_kafka_error_t *e, const char *what, char *err, size_t errlen)
{
	int fenced = rd_kafka_error_is_fatal(e) || rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR__FENCED ||
	             rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
	             rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
	             rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID;
	snprintf(err, errlen, "kafka transaction: %s: %s", what, rd_kafka_error_string(e));
	rd_kafka_error_destroy(e);
	return fenced ? TXN_FENCED : TXN_ABORTED;
}

int32_t txn_topic_partitions(struct txn *t, const char *topic)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(t->rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	int32_t n = -1;
	if (rkt && rd_kafka_metadata(t->rk, 0, rkt, &md, TXN_TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    md->topic_cnt == 1 && !md->topics[0].err)
		n = md->topics[0].partition_cnt;
	if (md)
		rd_kafka_metadata_destroy(md);
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	return n;
}

static int txn_restore_consumer(struct txn *t, char *err, size_t errlen);
static int txn_settings(struct txn *t, char *err, size_t errlen);

int txn_open(struct txn **out, const struct agg_config *cfg, char *err, size_t errlen)
{
	static const char *const ours[][2] = {
		{ "enable.idempotence", "true" },
		{ "acks", "all" },
		{ "linger.ms", "5" },
		/* A member that died inside a transaction holds back what
		 * read_committed readers of its topics see (a restore, the
		 * export) until the broker aborts it: keep that short. */
		{ "transaction.timeout.ms", "10000" },
		{ "client.id", "aggregator-txn" },
	};
	struct txn *t = calloc(1, sizeof(*t));
	rd_kafka_conf_t *conf;
	char e[512], tid[512];
	rd_kafka_error_t *ke;
	int ret = -1;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	t->cfg = cfg;
	if (!(conf = txn_conf(t, ours, sizeof(ours) / sizeof(ours[0]), err, errlen)))
		goto fail;
	snprintf(tid, sizeof(tid), "%s.%s", cfg->group, cfg->member);
	if (txn_conf_set(conf, "transactional.id", tid, err, errlen) < 0) {
		rd_kafka_conf_destroy(conf);
		goto fail;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, txn_delivered);
	if (!(t->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e)))) {
		snprintf(err, errlen, "kafka producer: %s", e);
		rd_kafka_conf_destroy(conf);
		goto fail;
	}
	struct gtopics_made made;
	if ((ret = gtopics_ensure(t->rk, cfg, TXN_CHANGELOG_PARTS, &made, err, errlen)) < 0)
		goto fail;
	ret = -1;
	if (made.output && !made.changelog)
		log_msg(cfg->verbosity, LOG_WARN, "group mode: the output topic %s was created now, while the group's "
		        "changelog %s exists: what the group wrote to it before is gone (deleted?); export --from-topic "
		        "refuses to replace a CSV by one with fewer rows", cfg->output_topic, cfg->changelog_topic);
	/* Fences an earlier incarnation of this member and aborts what it left open. */
	if ((ke = rd_kafka_init_transactions(t->rk, TXN_TIMEOUT_MS))) {
		txn_error(ke, "init_transactions", err, errlen);
		goto fail;
	}
	t->changelog = rd_kafka_topic_new(t->rk, cfg->changelog_topic, NULL);
	t->output = rd_kafka_topic_new(t->rk, cfg->output_topic, NULL);
	t->changelog_parts = txn_topic_partitions(t, cfg->changelog_topic);
	if (!t->changelog || !t->output || t->changelog_parts <= 0) {
		snprintf(err, errlen, "changelog topic %s: no metadata", cfg->changelog_topic);
		goto fail;
	}
	/* The restore consumer, ready before a partition waits for it: its
	 * first connection and metadata would add half a second to a restore. */
	if (txn_restore_consumer(t, err, errlen) < 0)
		goto fail;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *crkt = rd_kafka_topic_new(t->restore, cfg->changelog_topic, NULL);
	if (crkt && rd_kafka_metadata(t->restore, 0, crkt, &md, TXN_TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR)
		rd_kafka_metadata_destroy(md);
	if (crkt)
		rd_kafka_topic_destroy(crkt);
	if ((ret = txn_settings(t, err, errlen)) < 0)
		goto fail;
	ret = -1;
	log_msg(cfg->verbosity, LOG_INFO, "group mode: transactional.id %s, changelog %s (%d partitions), output %s",
	        tid, cfg->changelog_topic, (int)t->changelog_parts, cfg->output_topic);
	*out = t;
	return 0;
fail:
	txn_close(t);
	return ret;
}

void txn_close(struct txn *t)
{
	if (!t)
		return;
	if (t->open)
		txn_abort(t);
	if (t->changelog)
		rd_kafka_topic_destroy(t->changelog);
	if (t->output)
		rd_kafka_topic_destroy(t->output);
	if (t->restore) {
		rd_kafka_consumer_close(t->restore);
		rd_kafka_destroy(t->restore);
	}
	if (t->rk) {
		rd_kafka_flush(t->rk, 5000);
		rd_kafka_destroy(t->rk);
	}
	free(t);
}

int txn_begin(struct txn *t, char *err, size_t errlen)
{
	rd_kafka_error_t *ke = rd_kafka_begin_transaction(t->rk);
	if (ke)
		return txn_error(ke, "begin", err, errlen);
	t->open = 1;
	t->failed = RD_KAFKA_RESP_ERR_NO_ERROR;
	return 0;
}

/* The changelog partition of an input partition: its records stay together,
 * so a restore reads one changelog partition. */
static int32_t txn_changelog_part(const struct txn *t, const char *topic, int32_t partition)
{
	return (int32_t)((fnv1a(topic) + (uint32_t)partition) % (uint32_t)t->changelog_parts);
}

/* Produces one record (value NULL: a tombstone), waiting while the queue is full. */
static int txn_produce(struct txn *t, rd_kafka_topic_t *rkt, int32_t part, const char *key, size_t klen,
                       const char *val, size_t vlen, char *err, size_t errlen)
{
	for (;;) {
		if (rd_kafka_produce(rkt, part, RD_KAFKA_MSG_F_COPY, (void *)val, val ? vlen : 0, key, klen, NULL) == 0)
			return 0;
		rd_kafka_resp_err_t e = rd_kafka_last_error();
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			snprintf(err, errlen, "kafka: produce to %s: %s", rd_kafka_topic_name(rkt), rd_kafka_err2str(e));
			return TXN_ABORTED;
		}
		rd_kafka_poll(t->rk, 10);
	}
}

/* One record to a partition of the changelog (the input partition's) or
 * the output topic (partition 0); val NULL: a tombstone. */
static int txn_put(struct txn *t, int to_output, const char *topic, int32_t partition, const char *key, int klen,
                   const char *val, int vlen, char *err, size_t errlen)
{
	if (to_output)
		return txn_produce(t, t->output, 0, key, (size_t)klen, val, (size_t)vlen, err, errlen);
	return txn_produce(t, t->changelog, txn_changelog_part(t, topic, partition), key, (size_t)klen, val,
	                   val ? (size_t)vlen : 0, err, errlen);
}

int txn_put_partition(struct txn *t, const char *topic, int32_t partition, const struct store_partition *p,
                      char *err, size_t errlen)
{
	char key[REC_TEXT_MAX], val[REC_TEXT_MAX];
	return txn_put(t, 0, topic, partition, key, rec_key_partition(key, sizeof(key), 'p', topic, partition), val,
	               rec_val_partition(val, sizeof(val), p), err, errlen);
}

int txn_put_product(struct txn *t, const char *topic, int32_t partition, const struct store_product *pr,
                    char *err, size_t errlen)
{
	char key[REC_TEXT_MAX], val[REC_TEXT_MAX];
	return txn_put(t, 0, topic, partition, key, rec_key_product(key, sizeof(key), topic, partition, pr->product_id),
	               val, rec_val_product(val, sizeof(val), pr), err, errlen);
}

int txn_put_window(struct txn *t, const struct store_wkey *k, const struct win_agg *a, char *err, size_t errlen)
{
	char key[REC_TEXT_MAX], val[REC_TEXT_MAX];
	int vl = a ? rec_val_window(val, sizeof(val), a) : 0;
	return txn_put(t, 0, k->topic, k->partition, key, rec_key_window(key, sizeof(key), k), a ? val : NULL, vl, err,
	               errlen);
}

int txn_close_window(struct txn *t, const struct store_wkey *k, const struct win_agg *a, char *err, size_t errlen)
{
	char key[REC_TEXT_MAX], val[REC_TEXT_MAX];
	int kl = rec_key_window(key, sizeof(key), k);
	int r = txn_put(t, 1, k->topic, k->partition, key, kl, val, rec_val_window(val, sizeof(val), a), err, errlen);
	return r ? r : txn_put(t, 0, k->topic, k->partition, key, kl, NULL, 0, err, errlen);
}

int txn_marker(struct txn *t, const char *topic, int32_t partition, int64_t closed_until, int32_t topic_parts,
               char *err, size_t errlen)
{
	char key[REC_TEXT_MAX], val[REC_TEXT_MAX];
	return txn_put(t, 1, topic, partition, key, rec_key_partition(key, sizeof(key), 'c', topic, partition), val,
	               rec_val_marker(val, sizeof(val), closed_until, topic_parts), err, errlen);
}

int txn_commit(struct txn *t, rd_kafka_t *consumer, const rd_kafka_topic_partition_list_t *offsets,
               char *err, size_t errlen)
{
	rd_kafka_error_t *ke;
	int r;

	if (offsets && offsets->cnt > 0) {
		rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata(consumer);
		ke = rd_kafka_send_offsets_to_transaction(t->rk, offsets, md, TXN_TIMEOUT_MS);
		rd_kafka_consumer_group_metadata_destroy(md);
		if (ke) {
			r = txn_error(ke, "send_offsets_to_transaction", err, errlen);
			txn_abort(t);
			return r;
		}
	}
	if ((ke = rd_kafka_commit_transaction(t->rk, TXN_TIMEOUT_MS))) {
		int retriable = rd_kafka_error_is_retriable(ke);
		r = txn_error(ke, "commit", err, errlen);
		if (t->failed)
			snprintf(err + strlen(err), errlen - strlen(err), " (a record: %s)", rd_kafka_err2str(t->failed));
		if (r == TXN_ABORTED && retriable && !(ke = rd_kafka_commit_transaction(t->rk, TXN_TIMEOUT_MS))) {
			t->open = 0;
			return 0;
		} else if (r == TXN_ABORTED && retriable) {
			r = txn_error(ke, "commit", err, errlen);
		}
		txn_abort(t);
		return r;
	}
	t->open = 0;
	return 0;
}

void txn_abort(struct txn *t)
{
	rd_kafka_error_t *ke = rd_kafka_abort_transaction(t->rk, TXN_TIMEOUT_MS);
	if (ke)
		rd_kafka_error_destroy(ke);
	t->open = 0;
}

/* --- restore ------------------------------------------------------------- */

static int txn_restore_consumer(struct txn *t, char *err, size_t errlen)
{
	static const char *const ours[][2] = {
		{ "isolation.level", "read_committed" },
		{ "enable.partition.eof", "true" },
		{ "enable.auto.commit", "false" },
		{ "group.id", "aggregator-restore" }, /* required by the API; never joined, nothing committed */
		/* A restore reads to the end and stops: the broker's wait for
		 * more (500 ms by default) would be most of its time. */
		{ "fetch.wait.max.ms", "10" },
		{ "fetch.error.backoff.ms", "10" },
		{ "client.id", "aggregator-restore" },
	};
	char e[512];
	rd_kafka_conf_t *conf = txn_conf(t, ours, sizeof(ours) / sizeof(ours[0]), err, errlen);
	if (!conf)
		return -1;
	if (!(t->restore = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e)))) {
		snprintf(err, errlen, "kafka consumer (restore): %s", e);
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	return 0;
}

/* One changelog record into the state, when it is of (topic, partition);
 * its partition record into *part.  What does not parse is not ours: left. */
static int txn_apply(struct store *st, const rd_kafka_message_t *m, const char *topic, int32_t partition,
                     struct store_partition *part, int *found, char *err, size_t errlen)
{
	struct rec_key k;
	const char *why;
	if (!m->key || rec_key_parse(m->key, m->key_len, &k, &why) < 0 || k.partition != partition ||
	    strcmp(k.topic, topic) != 0)
		return 0;
	if (k.kind == 'p') {
		if (m->payload && rec_parse_partition(m->payload, m->len, part) == 0)
			*found = 1;
		return 0;
	}
	if (k.kind == 's') {
		struct store_product pr;
		memset(&pr, 0, sizeof(pr));
		if (!m->payload || rec_parse_product(m->payload, m->len, &pr) < 0)
			return 0;
		snprintf(pr.product_id, sizeof(pr.product_id), "%s", k.product);
		return store_product_put(st, topic, partition, &pr, err, errlen);
	}
	if (k.kind == 'w') {
		struct store_wkey wk = { topic, partition, k.product, k.start, k.end };
		struct win_agg a;
		if (!m->payload)
			return store_window_del(st, &wk, err, errlen);
		return rec_parse_window(m->payload, m->len, &a) < 0 ? 0 : store_window_put(st, &wk, &a, err, errlen);
	}
	return 0;
}

/* Reads changelog partition cp from its start to its end (what is
 * committed), each record to fn (its return: 0 go on, -1 stop with err). */
static int txn_read_part(struct txn *t, int32_t cp, int (*fn)(const rd_kafka_message_t *m, void *arg), void *arg,
                         char *err, size_t errlen)
{
	int ret = 0;
	rd_kafka_topic_partition_list_t *as = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(as, t->cfg->changelog_topic, cp)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_resp_err_t ae = rd_kafka_assign(t->restore, as);
	rd_kafka_topic_partition_list_destroy(as);
	if (ae) {
		snprintf(err, errlen, "changelog: assign %s [%d]: %s", t->cfg->changelog_topic, (int)cp, rd_kafka_err2str(ae));
		return -1;
	}
	for (int waited = 0;;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(t->restore, 100);
		if (!m) {
			if ((waited += 100) >= TXN_RESTORE_MS) {
				snprintf(err, errlen, "changelog: %s [%d] did not reach its end within %d s",
				         t->cfg->changelog_topic, (int)cp, TXN_RESTORE_MS / 1000);
				ret = -1;
				break;
			}
			continue;
		}
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rd_kafka_message_destroy(m);
			break;
		}
		if (m->err) {
			snprintf(err, errlen, "changelog: %s", rd_kafka_message_errstr(m));
			ret = -1;
		} else {
			ret = fn(m, arg);
		}
		rd_kafka_message_destroy(m);
		if (ret < 0)
			break;
	}
	rd_kafka_assign(t->restore, NULL);
	return ret;
}

struct txn_apply_arg {
	struct store *st;
	const char *topic;
	int32_t partition;
	struct store_partition part;
	int found;
	char *err;
	size_t errlen;
};

static int txn_apply_cb(const rd_kafka_message_t *m, void *arg)
{
	struct txn_apply_arg *a = arg;
	return txn_apply(a->st, m, a->topic, a->partition, &a->part, &a->found, a->err, a->errlen);
}

int txn_restore(struct txn *t, struct store *st, const char *topic, int32_t partition, int *found,
                char *err, size_t errlen)
{
	struct store_partition had;
	struct txn_apply_arg a = { st, topic, partition, { 0 }, 0, err, errlen };
	int32_t cp = txn_changelog_part(t, topic, partition);

	*found = 0;
	if (!t->restore && txn_restore_consumer(t, err, errlen) < 0)
		return -1;
	store_partition_get(st, topic, partition, &had);
	/* Windows the output topic has stay: the file's, for queries.  All of
	 * it is undone when the changelog has nothing of the partition. */
	if (store_savepoint(st, STORE_SP_BEGIN, err, errlen) < 0 ||
	    store_partition_clear(st, topic, partition, had.closed_until, err, errlen) < 0)
		return -1;
	int ret = txn_read_part(t, cp, txn_apply_cb, &a, err, errlen);
	*found = a.found;
	if (ret == 0 && *found)
		ret = store_partition_put(st, topic, partition, &a.part, 0, err, errlen);
	char e2[256];
	if (ret == 0 && *found)
		return store_savepoint(st, STORE_SP_RELEASE, err, errlen);
	store_savepoint(st, STORE_SP_UNDO, e2, sizeof(e2)); /* nothing there, or a failure: the file stays as it was */
	return ret;
}

/* --- the group's settings ---------------------------------------------------- */

struct txn_seen {
	int n;                    /* settings records read */
	struct rec_settings last; /* the newest */
	struct rec_settings diff; /* one that differs from ours in the windows */
	int differs;
	const struct rec_settings *ours;
};

static int txn_seen_cb(const rd_kafka_message_t *m, void *arg)
{
	struct txn_seen *x = arg;
	struct rec_settings s;
	if (!rec_is_settings(m->key, m->key_len) || !m->payload || rec_parse_settings(m->payload, m->len, &s) < 0)
		return 0;
	x->n++;
	x->last = s;
	if (s.window_us != x->ours->window_us || s.slide_us != x->ours->slide_us || s.delay_us != x->ours->delay_us) {
		x->diff = s;
		x->differs = 1;
	}
	return 0;
}

/* The group's first member writes the settings record. */
static int txn_settings_write(struct txn *t, const struct rec_settings *ours, char *err, size_t errlen)
{
	char key[REC_TEXT_MAX], val[REC_TEXT_MAX];
	int kl = rec_key_settings(key, sizeof(key)), vl = rec_val_settings(val, sizeof(val), ours);
	if (txn_begin(t, err, errlen) < 0 || txn_produce(t, t->changelog, 0, key, (size_t)kl, val, (size_t)vl, err,
	                                                 errlen) < 0)
		return -1;
	return txn_commit(t, NULL, NULL, err, errlen) < 0 ? -1 : 0;
}

/* A member whose windows differ from the group's is refused; the
 * changelog's partition count is the recorded one (partitions added later
 * do not move a partition's records). */
static int txn_settings(struct txn *t, char *err, size_t errlen)
{
	const struct agg_config *c = t->cfg;
	struct rec_settings ours = { c->window_us, c->slide_us, c->delay_us, t->changelog_parts };
	struct txn_seen x = { .ours = &ours };

	if (txn_read_part(t, 0, txn_seen_cb, &x, err, errlen) < 0)
		return -1;
	/* The first: written, and read again (another one may have raced it),
	 * until the read sees it (the end a fresh read finds may be older). */
	for (int tries = 0; x.n == 0; tries++) {
		if ((tries == 0 && txn_settings_write(t, &ours, err, errlen) < 0) ||
		    txn_read_part(t, 0, txn_seen_cb, &x, err, errlen) < 0)
			return -1;
		if (x.n == 0 && tries >= 100) {
			snprintf(err, errlen, "changelog %s [0]: the group's settings record, written, is not read back "
			         "within 10 s", c->changelog_topic);
			return -1;
		}
		if (x.n == 0)
			nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
	}
	if (x.differs) {
		snprintf(err, errlen, "group %s runs with --window %" PRId64 "ms --slide %" PRId64 "ms --watermark %" PRId64
		         "ms (recorded in its changelog %s), this member with --window %" PRId64 "ms --slide %" PRId64
		         "ms --watermark %" PRId64 "ms: its rows would mix with theirs in one CSV; run it with the group's "
		         "settings, or in another group (-g, --output-topic)", c->group, x.diff.window_us / 1000,
		         x.diff.slide_us / 1000, x.diff.delay_us / 1000, c->changelog_topic, ours.window_us / 1000,
		         ours.slide_us / 1000, ours.delay_us / 1000);
		return GTOPICS_REFUSED;
	}
	if (x.last.changelog_parts > t->changelog_parts) {
		snprintf(err, errlen, "changelog %s has %d partitions, the group's settings record says it had %d: it was "
		         "deleted and made again, and holds nothing of the group's state any more; start the group afresh "
		         "(another -g, --output-topic and --changelog)", c->changelog_topic, (int)t->changelog_parts,
		         (int)x.last.changelog_parts);
		return GTOPICS_REFUSED;
	}
	if (x.last.changelog_parts != t->changelog_parts)
		log_msg(c->verbosity, LOG_INFO, "changelog %s has %d partitions; the group keeps its records in the first "
		        "%d, as when it began", c->changelog_topic, (int)t->changelog_parts, (int)x.last.changelog_parts);
	t->changelog_parts = x.last.changelog_parts;
	return 0;
}

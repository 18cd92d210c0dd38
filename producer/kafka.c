/*
 * kafka.c - the producer's Kafka side (producer.h): librdkafka's
 * configuration, delivery reports, the topics created at start, and
 * publishing one tick (or spooling it behind older ones).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "producer.h"

/* Microseconds -> milliseconds since the epoch, rounded down (also before
 * 1970): the Kafka timestamp of a tick. */
int64_t producer_us_to_ms(int64_t us)
{
	return us / 1000 - (us % 1000 < 0);
}


/*
 * Kafka side.
 */

/* Keeps a failed direct tick for the spool (in produce order, once the
 * others in flight are back: spooler_switch).  0, or -1 out of memory. */
static int keep_failed(struct prod_ctx *c, const rd_kafka_message_t *m, uint64_t ordinal)
{
	struct failed_tick *f;

	if (c->nfailed == c->capfailed) {
		size_t cap = c->capfailed ? c->capfailed * 2 : 64;
		struct failed_tick *nf = realloc(c->failed, cap * sizeof(*nf));
		if (!nf)
			return -1;
		c->failed = nf;
		c->capfailed = cap;
	}
	f = &c->failed[c->nfailed];
	f->ordinal = ordinal;
	f->topic = strdup(rd_kafka_topic_name(m->rkt));
	f->key = malloc(m->key_len + 1);
	f->payload = malloc(m->len + 1);
	if (!f->topic || !f->key || !f->payload) {
		free(f->topic), free(f->key), free(f->payload);
		return -1;
	}
	memcpy(f->key, m->key, m->key_len);
	memcpy(f->payload, m->payload, m->len);
	f->key_len = m->key_len;
	f->len = m->len;
	f->ts_ms = rd_kafka_message_timestamp(m, NULL);
	c->nfailed++;
	return 0;
}

/* Delivery report: every message ends here exactly once.  msg_opaque is
 * the produce ordinal * 2 of a direct tick, or its spool offset * 2 + 1 of
 * a replayed one.  A failed tick is not lost while there is a spool: a
 * direct one goes to the spool, a replayed one is sent again from it. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct prod_ctx *c = opaque;
	uintptr_t op = (uintptr_t)m->_private;

	(void)rk;
	if (op & 1)
		c->win_pending--;
	else
		c->direct_inflight--;
	if (!m->err) {
		c->n.delivered++;
		c->n.replayed += op & 1;
		c->last_ack = lws_now_usecs();
		return;
	}
	/* Ticks this producer purged itself to spool them (spooler_switch) did
	 * not fail: they are in the spool, counted there. */
	int purged = m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
	if (!purged) {
		c->n.failed++;
		c->last_fail = lws_now_usecs();
		c->last_err = m->err;
	}
	if (op & 1) {
		if ((uint64_t)(op >> 1) < c->fail_off) {
			c->fail_off = (uint64_t)(op >> 1);
			c->fail_err = m->err;
		}
	} else if (!c->spool || keep_failed(c, m, (uint64_t)(op >> 1)) < 0) {
		c->n.lost++;
		if (rl_allow(c, &c->rl_dr, "delivery failure"))
			plog(c, LOG_ERROR, "delivery to %s [%" PRId32 "] failed: %s%s", rd_kafka_topic_name(m->rkt),
			     m->partition, rd_kafka_err2str(m->err), c->spool ? " (out of memory for the spool)" : "");
		return;
	}
	if (!purged && rl_allow(c, &c->rl_dr, "delivery failure"))
		plog(c, LOG_WARN, "delivery to %s [%" PRId32 "] failed: %s: sent again from the spool",
		     rd_kafka_topic_name(m->rkt), m->partition, rd_kafka_err2str(m->err));
}

/* Client-level errors: fatal ones stop the producer, others are logged. */
/* librdkafka's lines in our format, at our verbosity (see consume.c). */
static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	const struct prod_ctx *c = rd_kafka_opaque(rk);
	log_kafka(c->conf.verbosity, level, fac, buf);
}

static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct prod_ctx *c = opaque;
	char buf[512];

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, buf, sizeof(buf));
		plog(c, LOG_ERROR, "kafka fatal error: %s", buf);
		c->kafka_fatal = 1;
		return;
	}
	plog(c, LOG_WARN, "kafka: %s: %s",
	     rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Builds the rd_kafka_conf: our defaults first, then -X in order. */
rd_kafka_conf_t *kafka_conf(struct prod_ctx *c, char *err, size_t errlen)
{
	static const char *const defaults[][2] = {
		{ "enable.idempotence", "true" },
		{ "acks", "all" },
		/* One request in flight per broker: with librdkafka 2.0's
		 * idempotent producer, retries of several in-flight batches after
		 * a broker outage lost acknowledged messages in our fault tests. */
		{ "max.in.flight.requests.per.connection", "1" },
		/* With one request in flight, the default 5 ms idles the
		 * connection between batches, and a live tick waits 4 ms
		 * longer (README: Performance). */
		{ "linger.ms", "1" },
		/* Smaller requests than the 1 MB default: with one request in
		 * flight, a smaller one is sent and acknowledged sooner
		 * (README: Performance). */
		{ "batch.size", "262144" },
		/* A bound on the ticks waiting for the broker (~10k): the
		 * default 1 GB held a replay's ticks in memory, no faster. */
		{ "queue.buffering.max.kbytes", "4096" },
		{ "client.id", "coinbase-producer" },
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	size_t i;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", c->conf.brokers, err,
			      errlen) != RD_KAFKA_CONF_OK)
		goto error;
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], err,
				      errlen) != RD_KAFKA_CONF_OK)
			goto error;
	for (i = 0; i < (size_t)c->conf.props.n; i++)
		if (rd_kafka_conf_set(conf, c->conf.props.kv[i][0], c->conf.props.kv[i][1], err, errlen) !=
		    RD_KAFKA_CONF_OK)
			goto error;
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_kafka_error);
	rd_kafka_conf_set_log_cb(conf, on_kafka_log);
	rd_kafka_conf_set_opaque(conf, c);
	return conf;
error:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

/* -X dump: print the effective configuration as key=value, like kcat. */
void kafka_conf_dump(rd_kafka_conf_t *conf)
{
	rd_kafka_topic_conf_t *tconf;
	size_t cnt, i;
	const char **arr = rd_kafka_conf_dump(conf, &cnt);

	for (i = 0; i + 1 < cnt; i += 2)
		printf("%s = %s\n", arr[i], arr[i + 1]);
	rd_kafka_conf_dump_free(arr, cnt);
	tconf = rd_kafka_conf_get_default_topic_conf(conf);
	if (!tconf)
		return;
	arr = rd_kafka_topic_conf_dump(tconf, &cnt);
	for (i = 0; i + 1 < cnt; i += 2)
		printf("%s = %s\n", arr[i], arr[i + 1]);
	rd_kafka_conf_dump_free(arr, cnt);
}

/*
 * Topic creation with CreateTopics, asynchronous so that the feed is not kept
 * waiting: the result is picked up by on_tick (finish_create_topics) within
 * CREATE_TOPICS_MS.  Never fatal: a broker without the API (the mock cluster
 * has none and never names a controller), or no answer, leaves the topics to
 * auto-creation; ticks produced meanwhile wait in librdkafka for the topic.
 */
void start_create_topics(struct prod_ctx *c)
{
	rd_kafka_NewTopic_t *nt[MAX_PRODUCTS];
	rd_kafka_AdminOptions_t *opts;
	char err[256];
	size_t n = 0;

	for (int i = 0; i < c->nprod; i++) {
		if (c->conf.topic && i > 0)
			break; /* -t: one topic for all */
		nt[n] = rd_kafka_NewTopic_new(c->prod[i].topic, c->conf.partitions,
					      c->conf.replication, err, sizeof(err));
		if (!nt[n]) {
			plog(c, LOG_WARN, "topic %s: %s", c->prod[i].topic, err);
			continue;
		}
		n++;
	}
	if (!n)
		return;
	opts = rd_kafka_AdminOptions_new(c->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_request_timeout(opts, CREATE_TOPICS_MS, err,
						  sizeof(err));
	rd_kafka_AdminOptions_set_operation_timeout(opts, CREATE_TOPICS_MS / 2,
						    err, sizeof(err));
	c->admin_q = rd_kafka_queue_new(c->rk);
	rd_kafka_CreateTopics(c->rk, nt, n, opts, c->admin_q);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_NewTopic_destroy_array(nt, n);
}

/* Logs the CreateTopics outcome once it is there (waiting up to wait_ms). */
void finish_create_topics(struct prod_ctx *c, int wait_ms)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(c->admin_q, wait_ms);
	int asked = c->conf.partitions > 0 || c->conf.replication > 0;
	const rd_kafka_CreateTopics_result_t *res;
	const rd_kafka_topic_result_t **tr;
	size_t cnt = 0;

	if (!ev) {
		if (wait_ms > 0)
			plog(c, LOG_WARN, "CreateTopics: no answer within %d ms: topics left to "
			     "auto-creation", wait_ms);
		return;
	}
	if (rd_kafka_event_error(ev)) {
		/* kafka-mock has no CreateTopics and names no controller (a
		 * timeout): nothing to say unless --partitions/--replication
		 * asked for something auto-creation will not give */
		plog(c, asked ? LOG_WARN : LOG_DEBUG, "CreateTopics not available (%s): topics left "
		     "to auto-creation%s", rd_kafka_event_error_string(ev),
		     asked ? ", with the broker's partitions and replication" : "");
		goto done;
	}
	res = rd_kafka_event_CreateTopics_result(ev);
	tr = res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
	for (size_t i = 0; tr && i < cnt; i++) {
		rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
		const char *name = rd_kafka_topic_result_name(tr[i]);
		const char *why = rd_kafka_topic_result_error_string(tr[i]);

		if (!e)
			plog(c, LOG_INFO, "created topic %s", name);
		else if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
			plog(c, asked ? LOG_INFO : LOG_DEBUG, "topic %s exists%s", name,
			     asked ? " (--partitions/--replication leave it as it is)" : "");
		else
			plog(c, LOG_INFO, "topic %s not created (%s): left to "
			     "auto-creation", name, why ? why : rd_kafka_err2str(e));
	}
done:
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(c->admin_q);
	c->admin_q = NULL;
}

/*
 * Enqueues one tick, or spools it while the spool holds older ones.
 * QUEUE_FULL waits in rd_kafka_poll and retries: nothing is dropped, the
 * feed socket simply is not read meanwhile (a replay at full speed meets
 * this all the time: logged only when a wait is long); Kafka away, the wait
 * ends in the spool.  Only after a stop request and FLUSH_MS of waiting does
 * it give up and count a failure.
 */
void publish(struct prod_ctx *c, struct product *p, const char *buf,
		    size_t len, int64_t ts_ms)
{
	lws_usec_t waited_since = 0;
	rd_kafka_resp_err_t err;
	int warned = 0;

	c->n.published++;
	p->published++;
	for (;;) {
		if (c->spooling) {
			spooler_tick(c, p->topic, p->id, strlen(p->id), ts_ms, buf, len);
			return;
		}
		err = rd_kafka_producev(c->rk, RD_KAFKA_V_RKT(p->rkt),
					RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					RD_KAFKA_V_KEY(p->id, strlen(p->id)),
					RD_KAFKA_V_VALUE((void *)buf, len),
					RD_KAFKA_V_TIMESTAMP(ts_ms),
					RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(c->ordinal << 1)),
					RD_KAFKA_V_END);
		if (!err) {
			c->ordinal++;
			if (!c->direct_inflight++)
				c->last_ack = lws_now_usecs(); /* the wait for a report starts now */
			return;
		}
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		if (!waited_since) {
			waited_since = lws_now_usecs();
			c->n.queue_full++;
		}
		/* returns as soon as delivery reports free room */
		rd_kafka_poll(c->rk, 100);
		spooler_check(c);
		if (!warned && lws_now_usecs() - waited_since >
			       QUEUE_WARN_MS * LWS_US_PER_MS) {
			warned = 1;
			plog(c, LOG_WARN, "producer queue full for %d ms: Kafka takes "
			     "ticks slower than the feed sends them (%d in queue)",
			     QUEUE_WARN_MS, rd_kafka_outq_len(c->rk));
		}
		if ((stop_signal || c->state != PROD_RUNNING || c->kafka_fatal) &&
		    lws_now_usecs() - waited_since > FLUSH_MS * LWS_US_PER_MS)
			break;
	}
	c->n.published--;
	p->published--;
	c->n.unqueued++;
	plog(c, LOG_ERROR, "%s: could not enqueue tick: %s", p->topic,
	     rd_kafka_err2str(err));
}

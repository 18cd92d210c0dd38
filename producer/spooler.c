/*
 * spooler.c - the spool (spool.h): Kafka away (no report for SPOOL_AFTER_MS with ticks
 * out, or a delivery failed), the ticks still in librdkafka are taken back
 * (purged) and written to the spool in the order they were produced, and
 * every new tick follows them there.  Replay goes SPOOL_WINDOW ticks at a
 * time; a window with a failure is sent again from its first failed tick
 * (what was delivered after it may then be in Kafka twice: the aggregator
 * drops such a copy by its sequence).  Once all is delivered the file is
 * emptied and ticks go to librdkafka directly again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "producer.h"

static int failed_cmp(const void *a, const void *b)
{
	const struct failed_tick *x = a, *y = b;
	return x->ordinal < y->ordinal ? -1 : x->ordinal > y->ordinal;
}

/* One tick to the spool; over its budget it is lost, counted and said. */
void spooler_tick(struct prod_ctx *c, const char *topic, const char *key, size_t key_len, int64_t ts_ms,
		       const char *buf, size_t len)
{
	char err[512];
	int r = spool_append(c->spool, topic, key, key_len, ts_ms, buf, len, err, sizeof(err));

	if (!r) {
		c->n.spooled++;
		return;
	}
	c->n.lost++;
	if (r == SPOOL_FULL && log_decade((int64_t)c->n.lost, 1))
		plog(c, LOG_WARN, "spool %s is full (--spool-max %d MB): %" PRIu64 " tick(s) lost so far",
		     spool_path(c->spool), c->conf.spool_max_mb, c->n.lost);
	else if (r < 0 && log_decade((int64_t)c->n.lost, 1))
		plog(c, LOG_ERROR, "%s: %" PRIu64 " tick(s) lost so far", err, c->n.lost);
}

/* From here on new ticks go to the spool: what librdkafka still holds of
 * the direct ones is taken back and spooled first, in produce order. */
void spooler_switch(struct prod_ctx *c, const char *why)
{
	if (!c->spooling)
		plog(c, LOG_WARN, "Kafka %s: ticks go to the spool %s until it takes them again", why,
		     spool_path(c->spool));
	c->spooling = 1;
	if (c->direct_inflight) {
		rd_kafka_purge(c->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		/* the purged ones' reports are queued by now; a few more polls
		 * for any a broker thread still holds */
		for (int i = 0; i < 100 && c->direct_inflight; i++)
			rd_kafka_poll(c->rk, i ? 10 : 0);
	}
	qsort(c->failed, c->nfailed, sizeof(*c->failed), failed_cmp);
	for (size_t i = 0; i < c->nfailed; i++) {
		struct failed_tick *f = &c->failed[i];
		spooler_tick(c, f->topic, f->key, f->key_len, f->ts_ms, f->payload, f->len);
		free(f->topic), free(f->key), free(f->payload);
	}
	c->nfailed = 0;
}

/* Errors that say Kafka is away or slow, not that it refuses the tick. */
static int retriable(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT: case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
	case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT: case RD_KAFKA_RESP_ERR__TIMED_OUT:
	case RD_KAFKA_RESP_ERR__TRANSPORT: case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
	case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT: case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
	case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND: case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION: case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
		return 1;
	default:
		return 0;
	}
}

/* The replay window came back with a failure: send again from its first
 * failed tick, after SPOOL_RETRY_MS; a tick Kafka refused SPOOL_ATTEMPTS
 * times in a row (not a timeout: too large, a bad record) is dropped so that
 * the others go on. */
static void spooler_failed(struct prod_ctx *c, lws_usec_t now)
{
	char err[512];
	struct spool_rec r;
	uint64_t pos = c->fail_off;

	c->fail_off = UINT64_MAX;
	c->replay_pos = pos;
	c->retry_at = now + SPOOL_RETRY_MS * LWS_US_PER_MS;
	if (retriable(c->fail_err))
		return;
	c->stuck_n = c->stuck_off == pos ? c->stuck_n + 1 : 1;
	c->stuck_off = pos;
	if (c->stuck_n < SPOOL_ATTEMPTS || spool_read(c->spool, &pos, &r, err, sizeof(err)) <= 0)
		return;
	c->n.lost++;
	plog(c, LOG_ERROR, "a tick to %s was refused %d times (%s): dropped; %" PRIu64 " tick(s) lost so far",
	     r.topic, SPOOL_ATTEMPTS, rd_kafka_err2str(c->fail_err), c->n.lost);
	c->replay_pos = pos;
	c->retry_at = now;
}

/* The next window of spooled ticks to librdkafka, once the last one is
 * back; the spool emptied when all is delivered. */
static void spooler_replay(struct prod_ctx *c, lws_usec_t now)
{
	char err[512];
	struct spool_rec r;
	uint64_t pos = c->replay_pos;

	if (c->win_pending || c->direct_inflight)
		return;
	if (c->fail_off != UINT64_MAX) {
		spooler_failed(c, now);
		return;
	}
	if (now < c->retry_at)
		return;
	if (pos >= spool_end(c->spool)) {
		plog(c, LOG_INFO, "spool replayed (%" PRIu64 " tick(s) so far): Kafka takes ticks again", c->n.replayed);
		if (spool_clear(c->spool, err, sizeof(err)) < 0)
			plog(c, LOG_ERROR, "%s", err);
		c->replay_pos = 0;
		c->spooling = 0;
		return;
	}
	for (int n = 0; n < SPOOL_WINDOW; n++) {
		uint64_t at = pos;
		int got = spool_read(c->spool, &pos, &r, err, sizeof(err));
		if (got <= 0) {
			if (got < 0) { /* unreadable from here: what follows is lost */
				plog(c, LOG_ERROR, "%s: the rest of the spool is dropped", err);
				c->n.lost++;
				pos = spool_end(c->spool);
			}
			break;
		}
		rd_kafka_resp_err_t e = rd_kafka_producev(c->rk, RD_KAFKA_V_TOPIC(r.topic),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(r.key, r.key_len),
			RD_KAFKA_V_VALUE((void *)r.payload, r.len), RD_KAFKA_V_TIMESTAMP(r.ts_ms),
			RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(at << 1 | 1)), RD_KAFKA_V_END);
		if (e) {
			pos = at;
			if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL && c->win_pending == 0) {
				c->fail_off = at;
				c->fail_err = e;
			}
			break;
		}
		c->win_pending++;
	}
	c->replay_pos = pos;
}

/* After every rd_kafka_poll: spool what failed, notice Kafka away, replay,
 * fsync the spool now and then. */
void spooler_check(struct prod_ctx *c)
{
	lws_usec_t now = lws_now_usecs();
	char err[512];

	if (!c->spool)
		return;
	if (c->nfailed)
		spooler_switch(c, "failed to take a tick");
	else if (c->direct_inflight && now - c->last_ack > SPOOL_AFTER_MS * LWS_US_PER_MS)
		spooler_switch(c, "acknowledged nothing for " PROD_STR(SPOOL_AFTER_MS) " ms");
	if (c->spooling)
		spooler_replay(c, now);
	if (now - c->synced_at > SPOOL_SYNC_MS * LWS_US_PER_MS) {
		c->synced_at = now;
		if (spool_sync(c->spool, err, sizeof(err)) < 0)
			plog(c, LOG_ERROR, "%s", err);
	}
}

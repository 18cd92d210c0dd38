/*
 * producer.c - Coinbase Exchange WebSocket ticker feed -> Kafka, one topic per
 * product.
 *
 * The feed connection (feed/conn.c: reconnects, watchdog, TLS, WebSocket)
 * runs one event loop; this file gets its messages, and a 50 ms tick that
 * serves librdkafka's delivery reports, the status line and the shutdown.
 * Every ticker message is published byte for byte to <prefix><product_id>,
 * keyed by product id, timestamped with the tick's own `time` (never later
 * than the clock), once: the
 * feed's resends after a reconnect are dropped by sequence, and trade_id
 * gaps are counted.  State lives in one struct prod_ctx; the only global is
 * the signal flag.
 */
#include <libwebsockets.h>
#include <librdkafka/rdkafka.h>
#include <jansson.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "seqrule.h" /* the feed-sequence rule: shared with the aggregator */
#include "tick.h" /* tick_parse_time, tick_parse_head: shared with the aggregator */
#include "conn.h" /* the feed connection */
#include "pcli.h" /* the command line */
#include "spool.h" /* ticks Kafka does not take, on disk */
#include "fnv.h"

#ifndef PIPELINE_VERSION
#define PIPELINE_VERSION "dev"
#endif

/* Exit codes, also listed in --help. */
#define EX_OK          0 /* stopped by a signal, every message delivered */
#define EX_UNDELIVERED 1 /* undelivered/failed messages, or Kafka fatal error */
#define EX_USAGE       2 /* bad command line or configuration */
#define EX_FEED        3 /* feed refused us: subscription, hostname, certificate */
#define EX_INIT        4 /* could not start (lws/librdkafka init, memory) */

#define RETIRED_HOST      "ws-feed.pro.coinbase.com"
#define MAX_PRODUCTS      64
#define PRODUCT_MAX       32          /* longest product id, incl. NUL */
#define TOPIC_MAX         250         /* Kafka's limit is 249 chars */
#define MSG_MAX           (64 * 1024) /* reassembly bound for one ws message */
#define TIMER_MS          50          /* housekeeping timer: delivery reports, status, stop */
#define FLUSH_MS          10000       /* bound on the final rd_kafka_flush */
#define QUEUE_WARN_MS     1000        /* a QUEUE_FULL wait this long is logged */
#define CLOSE_WAIT_MS     2000        /* bound on the ws close handshake */
#define CREATE_TOPICS_MS  10000       /* bound on CreateTopics */
#define SPOOL_AFTER_MS    5000        /* no delivery report this long with ticks out: Kafka is away */
#define SPOOL_SYNC_MS     200         /* the spool is fsync'd at most this often (a group of appends) */
#define SPOOL_WINDOW      2000        /* spooled ticks replayed at once (their reports awaited) */
#define SPOOL_RETRY_MS    1000        /* a replay that failed starts again after this */
#define SPOOL_ATTEMPTS    3           /* a tick Kafka refuses this often (not a timeout) is dropped */


#define PROD_STR_(x) #x
#define PROD_STR(x) PROD_STR_(x)

static volatile sig_atomic_t stop_signal; /* set by SIGINT/SIGTERM */

struct product {
	char id[PRODUCT_MAX];       /* "BTC-USD" */
	char topic[TOPIC_MAX];      /* prefix + id */
	rd_kafka_topic_t *rkt;      /* topic handle, owned */
	struct seqrule seq;         /* the largest sequence published and its runs (common/seqrule.h) */
	int64_t last_trade;         /* highest trade_id seen, -1 none */
	uint64_t published;         /* enqueued to librdkafka */
	uint64_t dups;              /* dropped as duplicate/stale */
	uint64_t missed;            /* trade_id gap total */
};

/* A simple log rate limiter: at most RL_BURST lines per RL_WINDOW_US. */
#define RL_BURST     5
#define RL_WINDOW_US (10 * LWS_US_PER_SEC)
struct ratelimit {
	lws_usec_t window_start;    /* start of the current window */
	unsigned used;              /* lines logged in the window */
	uint64_t suppressed;        /* lines dropped in the window */
};

struct counters {
	uint64_t frames;            /* complete ws messages received */
	uint64_t ticks;             /* ticker messages received */
	uint64_t heartbeats;        /* heartbeat messages received */
	uint64_t published;         /* ticks enqueued to librdkafka */
	uint64_t delivered;         /* successful delivery reports */
	uint64_t failed;            /* failed delivery reports */
	uint64_t unqueued;          /* ticks librdkafka refused to enqueue */
	uint64_t dups;              /* duplicate/stale ticks dropped */
	uint64_t missed;            /* trades missed (trade_id gaps) */
	uint64_t malformed;         /* unparseable or invalid messages */
	uint64_t oversized;         /* messages over MSG_MAX */
	uint64_t unknown;           /* ticks of products not subscribed */
	uint64_t feed_errors;       /* feed "error" messages */
	uint64_t queue_full;        /* QUEUE_FULL waits */
	uint64_t future;            /* ticks dated ahead of the clock: stamped with the produce time */
	uint64_t spooled;           /* ticks written to the spool */
	uint64_t replayed;          /* spooled ticks Kafka acknowledged */
	uint64_t lost;              /* ticks given up: spool full, refused by Kafka, failed without a spool */
};

/* A tick librdkafka failed to deliver, kept until it is spooled in order. */
struct failed_tick {
	uint64_t ordinal;           /* produce order */
	char *topic, *key, *payload; /* owned */
	size_t key_len, len;
	int64_t ts_ms;
};

/* Where the producer is on its way out; it only moves forward. */
enum prod_state {
	PROD_RUNNING,    /* publishing what the feed sends */
	PROD_STOP_ASKED, /* the program decided to stop (a fatal error): on_timer begins it */
	PROD_CLOSING,    /* the feed closing (begin_stop), until it is down or stop_deadline */
	PROD_DONE,       /* leave the service loop: flush and exit */
};

struct prod_ctx {
	struct pcli_config conf;    /* parsed options (pcli.h) */
	struct product prod[MAX_PRODUCTS]; /* subscribed products */
	int nprod;                  /* entries used in prod */
	struct counters n;          /* counters for status and exit */

	rd_kafka_t *rk;             /* producer, owned */
	int kafka_fatal;            /* error_cb saw __FATAL */
	rd_kafka_queue_t *admin_q;  /* pending CreateTopics result, owned */

	struct fconn *feed;         /* the feed connection, owned */
	struct metrics *metrics;    /* --metrics, NULL off */
	lws_usec_t metrics_at;      /* last publish */
	char *sub;                  /* subscribe message, owned */
	int subscribed;             /* "subscriptions" ack seen on this connection */
	int alive;                  /* the message being handled was a valid one */

	enum prod_state state;      /* running, stopping, done */
	lws_usec_t stop_deadline;   /* PROD_CLOSING: give up waiting for the close */
	int exit_code;              /* EX_FEED etc. decided on the way */

	lws_usec_t last_status;     /* time of last status line */
	uint64_t last_status_ticks; /* n.ticks at last status line */
	struct ratelimit rl_bad;    /* malformed/oversized/unknown logs */
	struct ratelimit rl_dr;     /* failed delivery logs */

	/* The spool: while it holds ticks, new ones go behind them, so that a
	 * product's ticks reach Kafka in order (the aggregator drops a tick
	 * below a sequence it has as a replay). */
	struct spool *spool;        /* NULL with --spool-max 0 */
	int spooling;               /* new ticks go to the spool */
	uint64_t ordinal;           /* produce order of direct ticks (their msg_opaque) */
	uint64_t direct_inflight;   /* ticks produced directly, no report yet */
	lws_usec_t last_ack;        /* the last delivery report, or when direct_inflight left 0 */
	struct failed_tick *failed; /* direct ticks that failed, to be spooled */
	size_t nfailed, capfailed;
	uint64_t replay_pos;        /* the next spool offset to replay */
	uint64_t win_pending;       /* replayed ticks without a report yet */
	uint64_t fail_off;          /* the first replayed tick that failed (UINT64_MAX none) */
	rd_kafka_resp_err_t fail_err; /* and why */
	uint64_t stuck_off;         /* a tick Kafka refused (not a timeout), */
	int stuck_n;                /* and how often in a row */
	lws_usec_t retry_at;        /* a failed replay starts again then */
	lws_usec_t synced_at;       /* the spool's last fsync */
};

/* A fatal error: stop with exit_code, once on_timer gets to it; a stop
 * already under way goes on as it was. */
static void request_stop(struct prod_ctx *c, int exit_code)
{
	c->exit_code = exit_code;
	if (c->state == PROD_RUNNING)
		c->state = PROD_STOP_ASKED;
}

/* Log lines in the programs' one format (common/log.h). */
static void plog(const struct prod_ctx *c, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void plog(const struct prod_ctx *c, enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(c->conf.verbosity, level, fmt, ap);
	va_end(ap);
}

/* Returns 1 when a rate-limited line may be logged now (and reports how many
 * were suppressed in the previous window). */
static int rl_allow(struct prod_ctx *c, struct ratelimit *rl, const char *what)
{
	lws_usec_t now = lws_now_usecs();

	if (now - rl->window_start > RL_WINDOW_US) {
		if (rl->suppressed)
			plog(c, LOG_WARN, "%" PRIu64 " more %s messages suppressed",
			     rl->suppressed, what);
		rl->window_start = now;
		rl->used = 0;
		rl->suppressed = 0;
	}
	if (rl->used < RL_BURST) {
		rl->used++;
		return 1;
	}
	rl->suppressed++;
	return 0;
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* Microseconds -> milliseconds since the epoch, rounded down (also before
 * 1970): the Kafka timestamp of a tick. */
static int64_t producer_us_to_ms(int64_t us)
{
	return us / 1000 - (us % 1000 < 0);
}

/* Tick time -> ms since the epoch (the Kafka timestamp), with the
 * aggregator's strict ISO-8601 parser; the fraction is truncated. */
static int producer_time_ms(const char *s, size_t len, int64_t *ms)
{
	int64_t us;
	if (tick_parse_time(s, len, &us) < 0)
		return -1;
	*ms = producer_us_to_ms(us);
	return 0;
}

/*
 * Kafka side.
 */

/* Keeps a failed direct tick for the spool (in produce order, once the
 * others in flight are back: spool_switch).  0, or -1 out of memory. */
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
	c->n.failed++;
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
	if (rl_allow(c, &c->rl_dr, "delivery failure"))
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
static rd_kafka_conf_t *kafka_conf(struct prod_ctx *c, char *err, size_t errlen)
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
static void kafka_conf_dump(rd_kafka_conf_t *conf)
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
static void start_create_topics(struct prod_ctx *c)
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
static void finish_create_topics(struct prod_ctx *c, int wait_ms)
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
		plog(c, LOG_INFO, "CreateTopics not available (%s): topics left "
		     "to auto-creation", rd_kafka_event_error_string(ev));
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
 * The spool (spool.h): Kafka away (no report for SPOOL_AFTER_MS with ticks
 * out, or a delivery failed), the ticks still in librdkafka are taken back
 * (purged) and written to the spool in the order they were produced, and
 * every new tick follows them there.  Replay goes SPOOL_WINDOW ticks at a
 * time; a window with a failure is sent again from its first failed tick
 * (what was delivered after it may then be in Kafka twice: the aggregator
 * drops such a copy by its sequence).  Once all is delivered the file is
 * emptied and ticks go to librdkafka directly again.
 */
static int failed_cmp(const void *a, const void *b)
{
	const struct failed_tick *x = a, *y = b;
	return x->ordinal < y->ordinal ? -1 : x->ordinal > y->ordinal;
}

/* One tick to the spool; over its budget it is lost, counted and said. */
static void spool_tick(struct prod_ctx *c, const char *topic, const char *key, size_t key_len, int64_t ts_ms,
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
static void spool_switch(struct prod_ctx *c, const char *why)
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
		spool_tick(c, f->topic, f->key, f->key_len, f->ts_ms, f->payload, f->len);
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
static void spool_failed(struct prod_ctx *c, lws_usec_t now)
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
static void spool_replay(struct prod_ctx *c, lws_usec_t now)
{
	char err[512];
	struct spool_rec r;
	uint64_t pos = c->replay_pos;

	if (c->win_pending || c->direct_inflight)
		return;
	if (c->fail_off != UINT64_MAX) {
		spool_failed(c, now);
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
static void spool_check(struct prod_ctx *c)
{
	lws_usec_t now = lws_now_usecs();
	char err[512];

	if (!c->spool)
		return;
	if (c->nfailed)
		spool_switch(c, "failed to take a tick");
	else if (c->direct_inflight && now - c->last_ack > SPOOL_AFTER_MS * LWS_US_PER_MS)
		spool_switch(c, "acknowledged nothing for " PROD_STR(SPOOL_AFTER_MS) " ms");
	if (c->spooling)
		spool_replay(c, now);
	if (now - c->synced_at > SPOOL_SYNC_MS * LWS_US_PER_MS) {
		c->synced_at = now;
		if (spool_sync(c->spool, err, sizeof(err)) < 0)
			plog(c, LOG_ERROR, "%s", err);
	}
}

/*
 * Enqueues one tick, or spools it while the spool holds older ones.
 * QUEUE_FULL waits in rd_kafka_poll and retries: nothing is dropped, the
 * feed socket simply is not read meanwhile (a replay at full speed meets
 * this all the time: logged only when a wait is long); Kafka away, the wait
 * ends in the spool.  Only after a stop request and FLUSH_MS of waiting does
 * it give up and count a failure.
 */
static void publish(struct prod_ctx *c, struct product *p, const char *buf,
		    size_t len, int64_t ts_ms)
{
	lws_usec_t waited_since = 0;
	rd_kafka_resp_err_t err;
	int warned = 0;

	c->n.published++;
	p->published++;
	for (;;) {
		if (c->spooling) {
			spool_tick(c, p->topic, p->id, strlen(p->id), ts_ms, buf, len);
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
		spool_check(c);
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

/*
 * Feed messages.
 */
static struct product *find_product(struct prod_ctx *c, const char *id)
{
	for (int i = 0; i < c->nprod; i++)
		if (!strcmp(c->prod[i].id, id))
			return &c->prod[i];
	return NULL;
}

/* Shows at most 80 bytes of a bad message, non-printables as '.'. */
static void snippet(const char *buf, size_t len, char out[84])
{
	size_t i, n = len < 80 ? len : 80;

	for (i = 0; i < n; i++)
		out[i] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '.';
	out[i] = '\0';
}

static void bad_message(struct prod_ctx *c, const char *why, const char *buf,
			size_t len)
{
	char s[84];

	c->n.malformed++;
	if (!rl_allow(c, &c->rl_bad, "bad-message"))
		return;
	snippet(buf, len, s);
	plog(c, LOG_WARN, "malformed message (%s), %zu bytes: %s", why, len, s);
}

/* Any well-formed feed message proves the feed alive (the connection's
 * watchdog is reset). */
static void feed_alive(struct prod_ctx *c)
{
	c->alive = 1;
}

/* Reads an optional integer member: 1 found, 0 absent, -1 wrong type. */
static int get_int(json_t *o, const char *key, int64_t *v)
{
	json_t *j = json_object_get(o, key);

	if (!j || json_is_null(j))
		return 0;
	if (!json_is_integer(j))
		return -1;
	*v = json_integer_value(j);
	return 1;
}

/*
 * The checks every ticker of a subscribed product passes once its fields are
 * read, by either parser: drop it as a duplicate when its sequence (hs: one
 * is present) is a replay (check_sequence), count a trade_id gap (ht: one is
 * present), then publish buf unchanged with timestamp ts_ms.
 */
/* What the producer reads of a ticker: its time and the two ids, each
 * optional. */
struct ticker_ids {
	int64_t ts_ms;        /* Kafka timestamp */
	int has_seq, has_trade;
	int64_t seq, trade;
};

/* The Kafka timestamp of a tick: its own time (what --start-at and time
 * retention count by), but never later than the clock.  Kafka rejects a
 * record more than log.message.timestamp.after.max.ms (1 h by default) ahead
 * of the broker's clock, and the error fails the whole batch: one tick dated
 * ahead cost the hundreds around it.  No live tick is from the future; such a
 * one gets the produce time (its time stays in the payload, which is what
 * the aggregator reads), counted and said at 1, 10, 100, ... */
static int64_t kafka_timestamp(struct prod_ctx *c, const struct product *p, int64_t ts_ms)
{
	struct timespec now;
	int64_t now_ms;

	clock_gettime(CLOCK_REALTIME, &now);
	now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	if (ts_ms <= now_ms)
		return ts_ms;
	c->n.future++;
	if (log_decade((int64_t)c->n.future, 1)) {
		time_t secs = (time_t)(ts_ms / 1000);
		struct tm tm;
		char when[32];

		gmtime_r(&secs, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		plog(c, LOG_WARN, "%s: tick time %s.%03dZ is %" PRId64 " s ahead of the clock: its Kafka timestamp is "
		     "the time it was produced (%" PRIu64 " such tick(s) so far)", p->id, when, (int)(ts_ms % 1000),
		     (ts_ms - now_ms) / 1000, c->n.future);
	}
	return now_ms;
}

/* The sequence rule (common/seqrule.h), as the aggregator applies it: a
 * replay is dropped, one absurd or reset sequence is published and said, but
 * moves the largest only once a run confirms it.  Returns 0 to publish. */
static int check_sequence(struct prod_ctx *c, struct product *p, int64_t seq)
{
	int64_t from;

	switch (seqrule_check(&p->seq, seq, &from)) {
	case SEQRULE_DUPLICATE:
		c->n.dups++;
		p->dups++;
		/* A resend after a subscribe is one tick; more says something is
		 * wrong: 5, 50, 500, ... */
		if (log_decade((int64_t)p->dups, 5))
			plog(c, LOG_WARN, "%s: %" PRIu64 " duplicates so far (sequence %" PRId64 " not above %" PRId64
			     "): a replay of the feed, or its sequence went back", p->id, p->dups, seq, from);
		else
			plog(c, LOG_DEBUG, "%s: duplicate/stale tick sequence %" PRId64 " (last %" PRId64 ") dropped",
			     p->id, seq, from);
		return -1;
	case SEQRULE_WAS_OUTLIER:
		plog(c, LOG_WARN, "%s: the largest sequence %" PRId64 " was an outlier: %d ticks from %" PRId64 " on",
		     p->id, from, SEQRULE_CONFIRM, seq);
		return 0;
	case SEQRULE_JUMPED:
		plog(c, LOG_INFO, "%s: sequence jumped from %" PRId64 " to %" PRId64 ", confirmed by %d ticks", p->id,
		     from, seq, SEQRULE_CONFIRM);
		return 0;
	case SEQRULE_AHEAD_FIRST:
		plog(c, LOG_WARN, "%s: sequence %" PRId64 " is far above %" PRId64 ": published, not taken as the "
		     "largest until %d ticks confirm it", p->id, seq, from, SEQRULE_CONFIRM);
		return 0;
	default:
		return 0;
	}
}

static void accept_ticker(struct prod_ctx *c, struct product *p, const char *buf,
			  size_t len, const struct ticker_ids *id)
{
	int64_t trade = id->trade;

	if (check_sequence(c, p, id->has_seq ? id->seq : -1))
		return;
	if (id->has_trade && p->last_trade >= 0 && trade > p->last_trade + 1) {
		uint64_t gap = (uint64_t)(trade - p->last_trade - 1);

		c->n.missed += gap;
		p->missed += gap;
		plog(c, LOG_WARN, "%s: missed %" PRIu64 " trade(s): trade_id %"
		     PRId64 " -> %" PRId64 " (%" PRIu64 " missed so far)", p->id,
		     gap, p->last_trade, trade, p->missed);
	}
	if (id->has_trade && trade > p->last_trade)
		p->last_trade = trade;
	publish(c, p, buf, len, kafka_timestamp(c, p, id->ts_ms));
}

/* A ticker of a subscribed product?  Counts and logs the ones that are not. */
static struct product *ticker_product(struct prod_ctx *c, const char *id)
{
	struct product *p = find_product(c, id);

	if (!p) {
		c->n.unknown++;
		if (rl_allow(c, &c->rl_bad, "bad-message"))
			plog(c, LOG_WARN, "tick of unsubscribed product %s dropped",
			     id);
	}
	return p;
}

/* A ticker parsed by jansson: dedup on sequence, gap check on trade_id, then
 * publish. */
static void handle_ticker(struct prod_ctx *c, json_t *root, const char *buf,
			  size_t len)
{
	json_t *jp = json_object_get(root, "product_id");
	json_t *jt = json_object_get(root, "time");
	struct product *p;
	struct ticker_ids id = { .seq = -1, .trade = -1 };
	int hs, ht;

	c->n.ticks++;
	if (!json_is_string(jp) || !json_is_string(jt)) {
		bad_message(c, "ticker without product_id or time", buf, len);
		return;
	}
	if (!(p = ticker_product(c, json_string_value(jp))))
		return;
	if (producer_time_ms(json_string_value(jt), json_string_length(jt), &id.ts_ms)) {
		bad_message(c, "bad time", buf, len);
		return;
	}
	hs = get_int(root, "sequence", &id.seq);
	ht = get_int(root, "trade_id", &id.trade);
	if (hs < 0 || ht < 0) {
		bad_message(c, "sequence/trade_id not integers", buf, len);
		return;
	}
	id.has_seq = hs;
	id.has_trade = ht;
	accept_ticker(c, p, buf, len, &id);
}

/*
 * The fast path for what the feed sends most: a flat, escape-free ticker that
 * the aggregator's scanner accepts (tick_parse_head: its tick_parse_fast
 * without the decimals, which the producer never reads), with a non-negative
 * integer or absent trade_id.  Returns 1 when the message was handled exactly
 * as handle_message + handle_ticker would have (same counters, same checks,
 * same bytes, key and timestamp published), 0 to leave it to jansson.
 * Declining is never a verdict: such messages still go through handle_ticker
 * and are published as before.
 */
static int handle_ticker_fast(struct prod_ctx *c, const char *buf, size_t len)
{
	struct tick t;
	struct product *p;

	if (tick_parse_head(buf, len, &t) < 0)
		return 0;
	c->n.frames++;
	feed_alive(c);
	c->n.ticks++;
	if (!(p = ticker_product(c, t.product_id)))
		return 1;
	/* tick_parse_head: sequence and trade_id are -1 when absent; it
	 * declines any other form of them, left to handle_ticker */
	struct ticker_ids id = { producer_us_to_ms(t.time_us), t.sequence >= 0, t.trade_id >= 0,
				 t.sequence, t.trade_id };
	accept_ticker(c, p, buf, len, &id);
	return 1;
}

/* A feed "error": logged; one that rejects the subscription is fatal. */
static void handle_error(struct prod_ctx *c, json_t *root)
{
	const char *msg = json_string_value(json_object_get(root, "message"));
	const char *reason = json_string_value(json_object_get(root, "reason"));

	c->n.feed_errors++;
	msg = msg ? msg : "(no message)";
	reason = reason ? reason : "(no reason)";
	if (!c->subscribed || strstr(msg, "ubscri") || strstr(reason, "ubscri")) {
		plog(c, LOG_ERROR, "feed rejected the subscription: %s: %s", msg,
		     reason);
		request_stop(c, EX_FEED);
		return;
	}
	plog(c, LOG_ERROR, "feed error: %s: %s", msg, reason);
}

/* One complete ws message from the feed. */
static void handle_message(struct prod_ctx *c, const char *buf, size_t len)
{
	json_error_t jerr;
	json_t *root;
	const char *type;

	if (handle_ticker_fast(c, buf, len))
		return;
	root = json_loadb(buf, len, 0, &jerr);
	c->n.frames++;
	if (!root || !json_is_object(root) ||
	    !(type = json_string_value(json_object_get(root, "type")))) {
		bad_message(c, root ? "no type" : jerr.text, buf, len);
		goto done;
	}
	feed_alive(c);
	if (!strcmp(type, "ticker")) {
		handle_ticker(c, root, buf, len);
	} else if (!strcmp(type, "heartbeat")) {
		c->n.heartbeats++;
	} else if (!strcmp(type, "subscriptions")) {
		char *s = json_dumps(json_object_get(root, "channels"), JSON_COMPACT);

		c->subscribed = 1;
		fconn_confirmed(c->feed);
		plog(c, LOG_INFO, "subscribed: %s", s ? s : "?");
		free(s);
	} else if (!strcmp(type, "error")) {
		handle_error(c, root);
	} else {
		plog(c, LOG_DEBUG, "ignoring feed message type %s", type);
	}
done:
	json_decref(root);
}

/* {"type":"subscribe","channels":[{"name":"ticker","product_ids":[..]},
 *  {"name":"heartbeat","product_ids":[..]}]} */
static int build_subscribe(struct prod_ctx *c)
{
	json_t *ids = json_array(), *root;

	for (int i = 0; i < c->nprod; i++)
		json_array_append_new(ids, json_string(c->prod[i].id));
	root = json_pack("{s:s, s:[{s:s, s:O}, {s:s, s:O}]}", "type", "subscribe",
			 "channels", "name", "ticker", "product_ids", ids, "name",
			 "heartbeat", "product_ids", ids);
	json_decref(ids);
	if (!root)
		return -1;
	c->sub = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return c->sub ? 0 : -1;
}

/*
 * The feed connection's events (feed/conn.h).
 */
static void on_feed_opened(void *opaque)
{
	struct prod_ctx *c = opaque;

	c->subscribed = 0;
}

static int on_feed_message(void *opaque, const char *buf, size_t len)
{
	struct prod_ctx *c = opaque;

	c->alive = 0;
	handle_message(c, buf, len);
	return c->alive;
}

static void on_feed_oversized(void *opaque, size_t len)
{
	struct prod_ctx *c = opaque;

	c->n.oversized++;
	if (rl_allow(c, &c->rl_bad, "bad-message"))
		plog(c, LOG_WARN, "message of %zu bytes (over %d) dropped", len, MSG_MAX);
}

/* The feed closing the connection on the retired hostname is fatal. */
static int on_feed_closed(void *opaque, int code, const char *why)
{
	struct prod_ctx *c = opaque;

	(void)code;
	if (!strstr(why, "deprecated hostname"))
		return 0;
	plog(c, LOG_ERROR, "feed closed the connection: \"%s\": the hostname %s is retired, use --url %s",
	     why, fconn_host(c->feed), PCLI_DEFAULT_URL);
	request_stop(c, EX_FEED);
	return 1;
}

static void on_feed_fatal(void *opaque)
{
	struct prod_ctx *c = opaque;

	request_stop(c, EX_FEED);
}

/* --metrics: what Prometheus scrapes, made at most once a second. */
static void publish_metrics(struct prod_ctx *c, lws_usec_t now, int force)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	const struct fconn_stats *fs = c->feed ? fconn_stats(c->feed) : NULL;

	if (!c->metrics || (!force && now - c->metrics_at < LWS_US_PER_SEC) || !(f = open_memstream(&text, &len)))
		return;
	c->metrics_at = now;
	static const struct { const char *name, *help; int what; } per_product[] = {
		{ "producer_ticks_published_total", "Ticks handed to Kafka, per product.", 0 },
		{ "producer_duplicate_ticks_total", "Ticks dropped as replays of the feed (sequence not above the last).", 1 },
		{ "producer_missed_trades_total", "Trades the feed skipped (trade_id gaps).", 2 },
	};
	for (size_t k = 0; k < sizeof(per_product) / sizeof(per_product[0]); k++) {
		metrics_family(f, per_product[k].name, "counter", per_product[k].help);
		for (int i = 0; i < c->nprod; i++) {
			const struct product *p = &c->prod[i];
			fprintf(f, "%s{product=\"%s\",topic=\"%s\"} %" PRIu64 "\n", per_product[k].name, p->id, p->topic,
				per_product[k].what == 0 ? p->published : per_product[k].what == 1 ? p->dups : p->missed);
		}
	}
	static const struct { const char *name, *help; } totals[] = {
		{ "producer_ticks_received_total", "Ticker messages received from the feed." },
		{ "producer_messages_delivered_total", "Ticks Kafka acknowledged." },
		{ "producer_delivery_failures_total", "Ticks Kafka failed to take (delivery reports with an error)." },
		{ "producer_unqueued_total", "Ticks librdkafka refused to queue." },
		{ "producer_queue_full_waits_total", "Waits for room in librdkafka's queue." },
		{ "producer_malformed_messages_total", "Feed messages that were no valid JSON or ticker." },
		{ "producer_reconnects_total", "Connection attempts after the first." },
		{ "producer_silences_total", "Connections dropped after --silence-timeout without a message." },
		{ "producer_future_ticks_total", "Ticks dated ahead of the clock, stamped with the produce time." },
		{ "producer_spooled_ticks_total", "Ticks written to the spool while Kafka was away." },
		{ "producer_replayed_ticks_total", "Spooled ticks Kafka acknowledged." },
		{ "producer_lost_ticks_total", "Ticks given up: spool full, refused by Kafka, or failed without a spool." },
	};
	uint64_t v[] = { c->n.ticks, c->n.delivered, c->n.failed, c->n.unqueued, c->n.queue_full, c->n.malformed,
			 fs ? fs->reconnects : 0, fs ? fs->silences : 0, c->n.future, c->n.spooled, c->n.replayed,
			 c->n.lost };
	for (size_t k = 0; k < sizeof(totals) / sizeof(totals[0]); k++) {
		metrics_family(f, totals[k].name, "counter", totals[k].help);
		fprintf(f, "%s %" PRIu64 "\n", totals[k].name, v[k]);
	}
	int64_t silence = c->feed ? fconn_silence_us(c->feed) : -1;
	metrics_family(f, "producer_feed_connected", "gauge", "1 while the feed connection is open.");
	fprintf(f, "producer_feed_connected %d\n", c->feed && fconn_open(c->feed));
	if (silence >= 0) {
		metrics_family(f, "producer_feed_silence_seconds", "gauge", "Time since the feed's last message.");
		fprintf(f, "producer_feed_silence_seconds %.3f\n", (double)silence / 1e6);
	}
	metrics_family(f, "producer_messages_in_flight", "gauge", "Ticks queued or sent, not acknowledged yet.");
	fprintf(f, "producer_messages_in_flight %" PRIu64 "\n", c->direct_inflight + c->win_pending);
	metrics_family(f, "producer_spool_ticks", "gauge", "Ticks in the spool file (delivered ones until it is emptied).");
	fprintf(f, "producer_spool_ticks %" PRIu64 "\n", c->spool ? spool_records(c->spool) : 0);
	fclose(f);
	metrics_publish(c->metrics, text, len);
	free(text);
}

/*
 * Housekeeping: the status line, the shutdown.
 */
/* The status line ("status", every --status-interval) and the last one
 * ("final": at info, or as a warning when ticks went undelivered or missed,
 * so that -q still shows it then). */
static void print_status(struct prod_ctx *c, const char *label, double secs)
{
	uint64_t inflight = c->direct_inflight + c->win_pending;
	double rate = secs > 0 ? (double)(c->n.ticks - c->last_status_ticks) / secs : 0;
	int bad = !strcmp(label, "final") && (c->n.lost || c->n.unqueued || c->n.missed || inflight || c->spooling);

	plog(c, bad ? LOG_WARN : LOG_INFO, "%s: ticks/s %.1f ticks %" PRIu64 " published %" PRIu64
	     " delivered %" PRIu64 " in-flight %" PRIu64 " failed %" PRIu64
	     " unqueued %" PRIu64 " reconnects %" PRIu64 " duplicates %" PRIu64 " missed-trades %"
	     PRIu64 " malformed %" PRIu64 " oversized %" PRIu64 " unknown %"
	     PRIu64 " queue-full %" PRIu64 " spooled %" PRIu64 " replayed %" PRIu64 " in-spool %" PRIu64
	     " lost %" PRIu64, label, rate, c->n.ticks, c->n.published,
	     c->n.delivered, inflight, c->n.failed, c->n.unqueued, fconn_stats(c->feed)->reconnects, c->n.dups,
	     c->n.missed, c->n.malformed, c->n.oversized, c->n.unknown, c->n.queue_full, c->n.spooled,
	     c->n.replayed, c->spool ? spool_records(c->spool) : 0, c->n.lost);
}

static void begin_stop(struct prod_ctx *c)
{
	c->state = PROD_CLOSING;
	c->stop_deadline = lws_now_usecs() + CLOSE_WAIT_MS * LWS_US_PER_MS;
	if (stop_signal > 0)
		plog(c, LOG_INFO, "signal %d: closing the feed, flushing Kafka",
		     (int)stop_signal);
	fconn_close(c->feed);
}

/* Every TIMER_MS: delivery reports, stop requests, the status line. */
static void on_timer(void *opaque)
{
	struct prod_ctx *c = opaque;
	lws_usec_t now = lws_now_usecs();

	rd_kafka_poll(c->rk, 0);
	spool_check(c);
	if (c->admin_q)
		finish_create_topics(c, 0);
	if (c->kafka_fatal && c->state == PROD_RUNNING)
		c->state = PROD_STOP_ASKED;
	if ((stop_signal && c->state == PROD_RUNNING) || c->state == PROD_STOP_ASKED)
		begin_stop(c);
	if (c->state == PROD_CLOSING && (fconn_down(c->feed) || now > c->stop_deadline)) {
		c->state = PROD_DONE;
		fconn_wake(c->feed);
		return;
	}
	publish_metrics(c, now, 0);
	if (c->conf.status_s > 0 && c->conf.verbosity >= LOG_INFO &&
	    now - c->last_status >= (lws_usec_t)c->conf.status_s * LWS_US_PER_SEC) {
		print_status(c, "status", (double)(now - c->last_status) / 1e6);
		c->last_status = now;
		c->last_status_ticks = c->n.ticks;
	}
}

/*
 * Setup.
 */

/* Splits --products into c->prod and names the topics. */
static int setup_products(struct prod_ctx *c, char *err, size_t errlen)
{
	const char *s = c->conf.products;

	while (*s) {
		size_t n = strcspn(s, ",");
		struct product *p;

		if (!n || n >= PRODUCT_MAX) {
			snprintf(err, errlen, "bad product id in --products '%s'",
				 c->conf.products);
			return -1;
		}
		if (c->nprod == MAX_PRODUCTS) {
			snprintf(err, errlen, "more than %d products", MAX_PRODUCTS);
			return -1;
		}
		p = &c->prod[c->nprod];
		memcpy(p->id, s, n);
		p->id[n] = '\0';
		/* The aggregator's rule: an id it would reject in every tick is
		 * refused here, at the start. */
		if (!tick_product_id_ok(p->id, n)) {
			snprintf(err, errlen, "bad product id '%s' (letters, digits and '-', "
				 "like BTC-USD)", p->id);
			return -1;
		}
		if (find_product(c, p->id)) {
			snprintf(err, errlen, "product '%s' given twice", p->id);
			return -1;
		}
		if (snprintf(p->topic, sizeof(p->topic), "%s%s",
			     c->conf.topic ? c->conf.topic : c->conf.topic_prefix,
			     c->conf.topic ? "" : p->id) >= (int)sizeof(p->topic)) {
			snprintf(err, errlen, "topic name too long for %s", p->id);
			return -1;
		}
		for (const char *t = p->topic; *t; t++)
			if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				    "0123456789-_.", *t)) {
				snprintf(err, errlen, "illegal character '%c' in "
					 "topic %s", *t, p->topic);
				return -1;
			}
		seqrule_init(&p->seq);
		p->last_trade = -1;
		c->nprod++;
		s += n;
		if (*s == ',' && *++s == '\0') {
			snprintf(err, errlen, "trailing comma in --products");
			return -1;
		}
	}
	if (!c->nprod) {
		snprintf(err, errlen, "--products is empty");
		return -1;
	}
	return 0;
}

/* The feed connection (feed/conn.h), with its events. */
static int setup_feed(struct prod_ctx *c)
{
	char err[512];
	int r;
	struct fconn_config fcfg = {
		.url = c->conf.url, .ca_file = c->conf.ca_file, .insecure = c->conf.insecure,
		.hello = c->sub, .user_agent = "coinbase-producer/" PIPELINE_VERSION, .msg_max = MSG_MAX,
		.silence_s = c->conf.silence_s, .max_backoff_s = c->conf.max_backoff_s, .timer_ms = TIMER_MS,
		.verbosity = c->conf.verbosity,
	};
	struct fconn_events fev = {
		.opaque = c, .opened = on_feed_opened, .message = on_feed_message,
		.oversized = on_feed_oversized, .closed_by_feed = on_feed_closed, .fatal = on_feed_fatal,
		.timer = on_timer,
	};

	if ((r = fconn_new(&c->feed, &fcfg, &fev, err, sizeof(err))) < 0) {
		plog(c, LOG_ERROR, "%s", err);
		return r == FCONN_EINIT ? EX_INIT : EX_USAGE;
	}
	if (!strcmp(fconn_host(c->feed), RETIRED_HOST))
		plog(c, LOG_WARN, "%s is the retired name of the feed; use %s",
		     RETIRED_HOST, PCLI_DEFAULT_URL);
	return -1;
}

/* The command line and what it names: the products and their topics, the
 * Kafka configuration (-X dump ends here, *kconf), the feed connection.
 * Returns -1 to go on, else the exit code. */
static int setup_config(struct prod_ctx *c, int argc, char **argv, rd_kafka_conf_t **kconf)
{
	char err[512];
	int r = pcli_parse(argc, argv, &c->conf, err, sizeof(err));

	if (r) {
		if (r < 0 && *err)
			log_msg(LOG_ERROR, LOG_ERROR, "%s", err);
		if (r < 0)
			log_msg(LOG_ERROR, LOG_ERROR, "try 'producer --help'");
		return r < 0 ? EX_USAGE : EX_OK;
	}
	if (setup_products(c, err, sizeof(err))) {
		plog(c, LOG_ERROR, "%s", err);
		return EX_USAGE;
	}
	if (!(*kconf = kafka_conf(c, err, sizeof(err)))) {
		plog(c, LOG_ERROR, "kafka config: %s", err);
		return EX_USAGE;
	}
	if (c->conf.dump_conf) {
		kafka_conf_dump(*kconf);
		return EX_OK;
	}
	if (build_subscribe(c)) {
		plog(c, LOG_ERROR, "out of memory");
		return EX_INIT;
	}
	return setup_feed(c);
}

/* The Kafka producer (taking *kconf) and a topic handle per product.
 * Returns -1 to go on, else the exit code. */
static int setup_kafka(struct prod_ctx *c, rd_kafka_conf_t **kconf)
{
	char err[512];

	c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, *kconf, err, sizeof(err));
	if (!c->rk) {
		plog(c, LOG_ERROR, "cannot create producer: %s", err);
		return EX_INIT;
	}
	*kconf = NULL; /* now owned by rk */
	/* With --partitions or --replication the topics are created before any
	 * topic handle exists: the handle's metadata request would have a broker
	 * that auto-creates topics (Kafka's default) make them first, with its
	 * defaults, and CreateTopics would find them there.  Without, broker
	 * defaults either way: CreateTopics runs beside the feed (setup_start). */
	if (c->conf.partitions > 0 || c->conf.replication > 0) {
		start_create_topics(c);
		if (c->admin_q)
			finish_create_topics(c, CREATE_TOPICS_MS + 1000);
	}
	for (int i = 0; i < c->nprod; i++) {
		c->prod[i].rkt = rd_kafka_topic_new(c->rk, c->prod[i].topic, NULL);
		if (!c->prod[i].rkt) {
			plog(c, LOG_ERROR, "topic %s: %s", c->prod[i].topic,
			     rd_kafka_err2str(rd_kafka_last_error()));
			return EX_INIT;
		}
	}
	return -1;
}

/* SIGINT/SIGTERM set the stop flag; a closed socket is an error, not a
 * signal. */
static void setup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* The spool: --spool DIR, else $STATE_DIRECTORY (systemd's StateDirectory=)
 * or the working directory's producer-spool/; the file is named after what
 * this producer writes where (brokers, topics, products), so that producers
 * of other products or clusters beside it have their own, and a restart of
 * the same one finds what its last run left.  0, or -1 (said). */
static int setup_spool(struct prod_ctx *c)
{
	char dir[1024], name[64], key[2048], err[512];
	const char *sd = getenv("STATE_DIRECTORY");
	uint64_t cut;

	c->fail_off = UINT64_MAX;
	c->stuck_off = UINT64_MAX;
	if (!c->conf.spool_max_mb)
		return 0;
	if (c->conf.spool_dir)
		snprintf(dir, sizeof(dir), "%s", c->conf.spool_dir);
	else
		snprintf(dir, sizeof(dir), "%s/producer-spool", sd && *sd ? sd : ".");
	snprintf(key, sizeof(key), "%s|%s|%s|%s", c->conf.brokers, c->conf.topic ? c->conf.topic : "",
		 c->conf.topic_prefix, c->conf.products);
	snprintf(name, sizeof(name), "spool-%08x", fnv1a(key));
	if (spool_open(&c->spool, dir, name, (uint64_t)c->conf.spool_max_mb << 20, &cut, err, sizeof(err)) < 0) {
		plog(c, LOG_ERROR, "%s", err);
		return -1;
	}
	if (cut)
		plog(c, LOG_WARN, "spool %s: %" PRIu64 " bytes of a record cut short (a crash while writing) removed",
		     spool_path(c->spool), cut);
	if (spool_records(c->spool)) {
		c->spooling = 1;
		plog(c, LOG_INFO, "spool %s holds %" PRIu64 " tick(s) of an earlier run: they go to Kafka first",
		     spool_path(c->spool), spool_records(c->spool));
	} else {
		plog(c, LOG_DEBUG, "spool: %s", spool_path(c->spool));
	}
	return 0;
}

/* Says what it does, creates the topics beside the feed, serves
 * --metrics.  Returns -1 to go on, else the exit code. */
static int setup_start(struct prod_ctx *c)
{
	char err[512];

	plog(c, LOG_INFO, "producer %s: %s -> %s, %d product(s), %s %s%s",
	     PIPELINE_VERSION, c->conf.url, c->conf.brokers, c->nprod,
	     c->conf.topic ? "topic" : "topics", c->prod[0].topic,
	     c->conf.topic || c->nprod == 1 ? "" : ", ...");
	if (c->conf.partitions <= 0 && c->conf.replication <= 0)
		start_create_topics(c);
	if (setup_spool(c) < 0)
		return EX_USAGE;
	if (c->conf.metrics_addr) {
		if (metrics_start(&c->metrics, c->conf.metrics_addr, err, sizeof(err)) < 0) {
			plog(c, LOG_ERROR, "%s", err);
			return EX_USAGE;
		}
		plog(c, LOG_INFO, "metrics on port %d (%s): GET /metrics", metrics_port(c->metrics),
		     c->conf.metrics_addr);
	}
	return -1;
}

/* Everything the loop needs. Returns -1 to run, else the exit code. */
static int setup(struct prod_ctx *c, int argc, char **argv)
{
	rd_kafka_conf_t *kconf = NULL;
	int rc = setup_config(c, argc, argv, &kconf);

	if (rc < 0)
		rc = setup_kafka(c, &kconf);
	if (kconf)
		rd_kafka_conf_destroy(kconf);
	if (rc >= 0)
		return rc;
	setup_signals();
	return setup_start(c);
}

/* The feed's event loop, until on_timer says PROD_DONE. */
static void run(struct prod_ctx *c)
{
	c->last_status = lws_now_usecs();
	publish_metrics(c, c->last_status, 1);
	fconn_start(c->feed);
	while (c->state != PROD_DONE)
		if (fconn_service(c->feed) < 0) {
			plog(c, LOG_ERROR, "lws_service failed");
			break;
		}
}

/* After the loop: what is left delivered (within FLUSH_MS), the final
 * counts; returns the exit code they make. */
static int finish(struct prod_ctx *c)
{
	int rc;

	if (rd_kafka_flush(c->rk, FLUSH_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (c->spool) {
			/* what Kafka has not taken is kept for the next run */
			spool_switch(c, "took not everything before the exit");
			rd_kafka_purge(c->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
			rd_kafka_poll(c->rk, 0);
			if (c->fail_off != UINT64_MAX)
				c->fail_off = UINT64_MAX;
		} else {
			plog(c, LOG_ERROR, "%d message(s) still undelivered after %d ms",
			     rd_kafka_outq_len(c->rk), FLUSH_MS);
		}
	}
	rd_kafka_poll(c->rk, 0);
	if (c->spool) {
		char err[512];
		if (spool_sync(c->spool, err, sizeof(err)) < 0)
			plog(c, LOG_ERROR, "%s", err);
	}
	print_status(c, "final", 0);
	publish_metrics(c, lws_now_usecs(), 1);
	fconn_free(c->feed); /* after its counters are printed */
	c->feed = NULL;
	for (int i = 0; i < c->nprod; i++)
		if (c->prod[i].published || c->prod[i].dups || c->prod[i].missed)
			plog(c, LOG_INFO, "%s: published %" PRIu64 " duplicates %"
			     PRIu64 " missed-trades %" PRIu64, c->prod[i].id,
			     c->prod[i].published, c->prod[i].dups,
			     c->prod[i].missed);
	if (c->spool && c->spooling)
		plog(c, LOG_WARN, "%" PRIu64 " tick(s) (%" PRIu64 " bytes) stay in the spool %s: the next run sends "
		     "them first (those already delivered again)", spool_records(c->spool), spool_end(c->spool),
		     spool_path(c->spool));
	if (c->exit_code)
		rc = c->exit_code;
	else if (c->kafka_fatal || c->n.lost || c->n.unqueued || c->nfailed ||
		 (!c->spool && c->n.delivered != c->n.published))
		rc = EX_UNDELIVERED;
	else
		rc = EX_OK;
	if (rc == EX_UNDELIVERED)
		plog(c, LOG_ERROR, "%" PRIu64 " of %" PRIu64 " tick(s) not delivered", c->n.lost + c->n.unqueued +
		     (c->spool ? 0 : c->n.published - c->n.delivered - c->n.lost), c->n.published + c->n.unqueued);
	return rc;
}

/* Frees what setup made, whatever step it stopped at. */
static void cleanup(struct prod_ctx *c)
{
	if (c->admin_q)
		rd_kafka_queue_destroy(c->admin_q);
	metrics_stop(c->metrics);
	fconn_free(c->feed);
	for (int i = 0; i < c->nprod; i++)
		if (c->prod[i].rkt)
			rd_kafka_topic_destroy(c->prod[i].rkt);
	if (c->rk)
		rd_kafka_destroy(c->rk);
	spool_close(c->spool);
	for (size_t i = 0; i < c->nfailed; i++)
		free(c->failed[i].topic), free(c->failed[i].key), free(c->failed[i].payload);
	free(c->failed);
	free(c->sub);
	pcli_free(&c->conf);
	free(c);
}

int main(int argc, char **argv)
{
	struct prod_ctx *c = calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		log_msg(LOG_ERROR, LOG_ERROR, "out of memory");
		return EX_INIT;
	}
	rc = setup(c, argc, argv);
	if (rc < 0) {
		run(c);
		rc = finish(c);
	}
	cleanup(c);
	return rc;
}

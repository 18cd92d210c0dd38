/*
 * producer.c - Coinbase Exchange WebSocket ticker feed -> Kafka, one topic per
 * product.
 *
 * One libwebsockets service loop owns everything: the feed connection (with
 * reconnect backoff and a silence watchdog), a 50 ms timer that serves
 * librdkafka delivery reports and prints the status line, and the shutdown
 * sequence.  Every ticker message is published byte for byte to
 * <prefix><product_id>, keyed by product id, timestamped with the tick's own
 * `time`.  State lives in one struct prod_ctx reached through
 * lws_context_user(); the only global is the signal flag.
 *
 * The connection is a raw libwebsockets client (TCP, timers, retries); TLS
 * (feedtls.c) and the WebSocket protocol (wsproto.c) on top of it are ours:
 * lws 4.1's client parses WebSocket payload one byte at a time, and cannot
 * start TLS on a raw client connection.
 */
#include <libwebsockets.h>
#include <librdkafka/rdkafka.h>
#include <jansson.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "tick.h" /* tick_parse_time, tick_parse_head: shared with the aggregator */
#include "wsproto.h" /* RFC 6455 handshake and frames over the raw connection */
#include "feedtls.h" /* wss://: OpenSSL over the raw connection */

#ifndef PIPELINE_VERSION
#define PIPELINE_VERSION "dev"
#endif

/* Exit codes, also listed in --help. */
#define EX_OK          0 /* stopped by a signal, every message delivered */
#define EX_UNDELIVERED 1 /* undelivered/failed messages, or Kafka fatal error */
#define EX_USAGE       2 /* bad command line or configuration */
#define EX_FEED        3 /* feed refused us: subscription, hostname, certificate */
#define EX_INIT        4 /* could not start (lws/librdkafka init, memory) */

#define DEFAULT_URL       "wss://ws-feed.exchange.coinbase.com"
#define RETIRED_HOST      "ws-feed.pro.coinbase.com"
#define DEFAULT_PRODUCTS  "BTC-USD,ETH-USD"
#define DEFAULT_BROKERS   "localhost:9092"
#define MAX_PRODUCTS      64
#define PRODUCT_MAX       32          /* longest product id, incl. NUL */
#define TOPIC_MAX         250         /* Kafka's limit is 249 chars */
#define MSG_MAX           (64 * 1024) /* reassembly bound for one ws message */
#define RX_CHUNK          (64 * 1024) /* bytes lws reads from the socket at once */
#define TICK_MS           50          /* poll/status/watchdog timer period */
#define FLUSH_MS          10000       /* bound on the final rd_kafka_flush */
#define QUEUE_WARN_MS     1000        /* a QUEUE_FULL wait this long is logged */
#define CLOSE_WAIT_MS     2000        /* bound on the ws close handshake */
#define CREATE_TOPICS_MS  10000       /* bound on CreateTopics */
#define BACKOFF_BASE_MS   250         /* first reconnect delay */
#define MAX_XPROPS        64


static volatile sig_atomic_t stop_signal; /* set by SIGINT/SIGTERM */

struct xprop {
	const char *key;   /* -X key (points into argv copy) */
	const char *val;   /* -X value */
};

struct prod_conf {
	const char *url;            /* --url */
	const char *products;       /* --products, comma separated */
	const char *brokers;        /* --brokers / $KAFKA_BROKERS */
	const char *topic_prefix;   /* --topic-prefix, "" = none */
	const char *ca_file;        /* --ca-file, NULL = system store only */
	int partitions;             /* --partitions for created topics, -1 broker default */
	int replication;            /* --replication for created topics, -1 broker default */
	int insecure;               /* --insecure: accept any certificate */
	int verbosity;              /* a log_level: LOG_WARN -q, LOG_INFO default, more -v */
	int silence_s;              /* --silence-timeout */
	int status_s;               /* --status-interval, 0 = off */
	int max_backoff_s;          /* --max-backoff */
	struct xprop xprops[MAX_XPROPS]; /* -X passthrough, in order */
	int nxprops;                /* entries used in xprops */
	int dump_conf;              /* -X dump */
};

struct product {
	char id[PRODUCT_MAX];       /* "BTC-USD" */
	char topic[TOPIC_MAX];      /* prefix + id */
	rd_kafka_topic_t *rkt;      /* topic handle, owned */
	int64_t last_seq;           /* highest sequence published, -1 none */
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
	uint64_t proto_errors;      /* connections dropped for a protocol error */
	uint64_t unknown;           /* ticks of products not subscribed */
	uint64_t feed_errors;       /* feed "error" messages */
	uint64_t reconnects;        /* connection attempts after the first */
	uint64_t silences;          /* connections dropped by the watchdog */
	uint64_t queue_full;        /* QUEUE_FULL waits */
};

/* The feed connection, one attempt after the other.  OPEN and the two
 * closing states are "established": the WebSocket handshake was done. */
enum conn_state {
	CONN_IDLE,           /* no attempt: the next one is scheduled */
	CONN_CONNECTING,     /* TCP (and TLS) under way */
	CONN_HANDSHAKE,      /* transport up, WebSocket handshake sent */
	CONN_OPEN,           /* messages flow, the watchdog is armed */
	CONN_CLOSE_SENT,     /* our close frame is out: waiting for the feed's */
	CONN_CLOSE_RECEIVED, /* the feed's close came first: ours is queued, then drop */
};

struct prod_ctx {
	struct prod_conf conf;      /* parsed options */
	struct product prod[MAX_PRODUCTS]; /* subscribed products */
	int nprod;                  /* entries used in prod */
	struct counters n;          /* counters for status and exit */

	rd_kafka_t *rk;             /* producer, owned */
	int kafka_fatal;            /* error_cb saw __FATAL */
	rd_kafka_queue_t *admin_q;  /* pending CreateTopics result, owned */

	struct lws_context *lws;    /* lws context, owned */
	struct lws *wsi;            /* feed connection, NULL when down */
	lws_sorted_usec_list_t sul_connect; /* (re)connect timer */
	lws_sorted_usec_list_t sul_tick;    /* TICK_MS housekeeping timer */
	lws_retry_bo_t retry;       /* backoff + hang-up policy */
	uint32_t backoff_ms[16];    /* retry.retry_ms_table */
	uint16_t retry_count;       /* consecutive failed attempts */
	uint64_t attempts;          /* connection attempts so far */

	char url_buf[512];          /* --url, cut up by lws_parse_uri */
	const char *host;           /* points into url_buf */
	char path[512];             /* "/" + path */
	int port;                   /* from the URL or 80/443 */
	int use_ssl;                /* wss:// */
	struct ftls *tls;           /* client TLS context (wss://), owned */
	struct ftls_conn *tlsc;     /* TLS of the connection, owned */

	char *sub;                  /* subscribe message, owned */
	size_t sub_len;             /* its length */
	char *msg;                  /* reassembly buffer, MSG_MAX + 1, owned */
	struct wsp_rx rx;           /* frame decoder of the connection */
	char ws_key[WSP_KEY_LEN + 1]; /* Sec-WebSocket-Key of the connection */
	char head[WSP_HEAD_MAX];    /* handshake response read so far */
	size_t head_len;            /* bytes in head */
	unsigned char *tx;          /* LWS_PRE + bytes for WRITEABLE, owned */
	size_t tx_len;              /* bytes queued after LWS_PRE */
	size_t tx_cap;              /* room after LWS_PRE */

	enum conn_state state;      /* of the feed connection */
	int fail_logged;            /* why the attempt failed is logged */
	int subscribed;             /* "subscriptions" ack seen on this conn */
	lws_usec_t last_rx;         /* last valid feed message (watchdog) */
	int alive;                  /* a valid message in the current read */

	int stop_requested;         /* the program decided to stop (a fatal error) */
	int stopping;               /* shutdown in progress */
	lws_usec_t stop_deadline;   /* give up waiting for the close */
	int done;                   /* leave the service loop */
	int exit_code;              /* EX_FEED etc. decided on the way */

	lws_usec_t last_status;     /* time of last status line */
	uint64_t last_status_ticks; /* n.ticks at last status line */
	struct ratelimit rl_bad;    /* malformed/oversized/unknown logs */
	struct ratelimit rl_dr;     /* failed delivery logs */
};

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

/* lws's own log lines go through our prefix; they end in '\n'. */
static void lws_log_emit(int level, const char *line)
{
	(void)level;
	fprintf(stderr, "%% lws: %s", line);
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

/* Delivery report: every message ends here exactly once. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct prod_ctx *c = opaque;

	(void)rk;
	if (!m->err) {
		c->n.delivered++;
		return;
	}
	c->n.failed++;
	if (rl_allow(c, &c->rl_dr, "delivery failure"))
		plog(c, LOG_ERROR, "delivery to %s [%" PRId32 "] failed: %s",
		     rd_kafka_topic_name(m->rkt), m->partition,
		     rd_kafka_err2str(m->err));
}

/* Client-level errors: fatal ones stop the producer, others are logged. */
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
		 * connection between batches: 1 ms gave 13-17% more ticks/s
		 * on a replay at full speed (paired runs), and a live tick
		 * waits 4 ms less. */
		{ "linger.ms", "1" },
		/* 256 KB requests instead of 1 MB: ~30% more ticks/s on a
		 * replay at full speed (paired runs: 64 KB 552k, 128 KB 604k,
		 * 256 KB 675k, 512 KB 659k, 1 MB ~550k msg/s; not profiled:
		 * with one request in flight a smaller one is most likely
		 * copied, sent and acknowledged sooner, with less in cache). */
		{ "batch.size", "262144" },
		/* 4 MB of ticks waiting for the broker (~10k): the default 1 GB /
		 * 100k let a replay at full speed hold ~50 MB (peak RSS 74 MB,
		 * not faster; make bench) */
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
	for (i = 0; i < (size_t)c->conf.nxprops; i++)
		if (rd_kafka_conf_set(conf, c->conf.xprops[i].key,
				      c->conf.xprops[i].val, err, errlen) !=
		    RD_KAFKA_CONF_OK)
			goto error;
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_kafka_error);
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
 * Enqueues one tick.  QUEUE_FULL waits in rd_kafka_poll and retries: nothing
 * is dropped, the feed socket simply is not read meanwhile (a replay at full
 * speed meets this all the time: logged only when a wait is long).  Only after a stop
 * request and FLUSH_MS of waiting does it give up and count a failure.
 */
static void publish(struct prod_ctx *c, struct product *p, const char *buf,
		    size_t len, int64_t ts_ms)
{
	lws_usec_t waited_since = 0;
	rd_kafka_resp_err_t err;
	int warned = 0;

	for (;;) {
		err = rd_kafka_producev(c->rk, RD_KAFKA_V_RKT(p->rkt),
					RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					RD_KAFKA_V_KEY(p->id, strlen(p->id)),
					RD_KAFKA_V_VALUE((void *)buf, len),
					RD_KAFKA_V_TIMESTAMP(ts_ms),
					RD_KAFKA_V_END);
		if (!err) {
			c->n.published++;
			p->published++;
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
		if (!warned && lws_now_usecs() - waited_since >
			       QUEUE_WARN_MS * LWS_US_PER_MS) {
			warned = 1;
			plog(c, LOG_WARN, "producer queue full for %d ms: Kafka takes "
			     "ticks slower than the feed sends them (%d in queue)",
			     QUEUE_WARN_MS, rd_kafka_outq_len(c->rk));
		}
		if ((stop_signal || c->stop_requested || c->kafka_fatal) &&
		    lws_now_usecs() - waited_since > FLUSH_MS * LWS_US_PER_MS)
			break;
	}
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

/* Any well-formed feed message proves the feed alive: noted here, and once
 * per read (ws_receive) the silence watchdog and lws's hang-up timer are
 * reset (a clock read and a timer move per tick cost ~5% at full speed). */
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
 * is present) is not above the last one published, count a trade_id gap (ht:
 * one is present), then publish buf unchanged with timestamp ts_ms.
 */
static void accept_ticker(struct prod_ctx *c, struct product *p, const char *buf,
			  size_t len, int64_t ts_ms, int hs, int64_t seq, int ht,
			  int64_t trade)
{
	if (hs && p->last_seq >= 0 && seq <= p->last_seq) {
		c->n.dups++;
		p->dups++;
		plog(c, LOG_DEBUG, "%s: duplicate/stale tick sequence %" PRId64
		     " (last %" PRId64 ") dropped", p->id, seq, p->last_seq);
		return;
	}
	if (ht && p->last_trade >= 0 && trade > p->last_trade + 1) {
		uint64_t gap = (uint64_t)(trade - p->last_trade - 1);

		c->n.missed += gap;
		p->missed += gap;
		plog(c, LOG_WARN, "%s: missed %" PRIu64 " trade(s): trade_id %"
		     PRId64 " -> %" PRId64 " (%" PRIu64 " missed so far)", p->id,
		     gap, p->last_trade, trade, p->missed);
	}
	if (ht && trade > p->last_trade)
		p->last_trade = trade;
	if (hs)
		p->last_seq = seq;
	publish(c, p, buf, len, ts_ms);
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
	int64_t seq = -1, trade = -1, ts;
	int hs, ht;

	c->n.ticks++;
	if (!json_is_string(jp) || !json_is_string(jt)) {
		bad_message(c, "ticker without product_id or time", buf, len);
		return;
	}
	if (!(p = ticker_product(c, json_string_value(jp))))
		return;
	if (producer_time_ms(json_string_value(jt), json_string_length(jt), &ts)) {
		bad_message(c, "bad time", buf, len);
		return;
	}
	hs = get_int(root, "sequence", &seq);
	ht = get_int(root, "trade_id", &trade);
	if (hs < 0 || ht < 0) {
		bad_message(c, "sequence/trade_id not integers", buf, len);
		return;
	}
	accept_ticker(c, p, buf, len, ts, hs, seq, ht, trade);
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
	accept_ticker(c, p, buf, len, producer_us_to_ms(t.time_us),
		      t.sequence >= 0, t.sequence, t.trade_id >= 0, t.trade_id);
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
		c->exit_code = EX_FEED;
		c->stop_requested = 1;
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
		c->retry_count = 0;
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
 *  {"name":"heartbeat","product_ids":[..]}]}, and the transmit buffer that
 * holds the handshake request, then the frames we send (subscribe, pongs,
 * close), until WRITEABLE. */
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
	if (!c->sub)
		return -1;
	c->sub_len = strlen(c->sub);
	/* request (URL <= 511 bytes) or subscribe + a few control frames */
	c->tx_cap = 2048 + c->sub_len + 4 * (125 + WSP_FRAME_OVERHEAD);
	c->tx = malloc(LWS_PRE + c->tx_cap);
	return c->tx ? 0 : -1;
}

/*
 * Connection management.
 */
static void connect_feed(lws_sorted_usec_list_t *sul);

static void schedule_reconnect(struct prod_ctx *c)
{
	if (c->stopping || stop_signal || c->stop_requested)
		return;
	lws_retry_sul_schedule(c->lws, 0, &c->sul_connect, &c->retry,
			       connect_feed, &c->retry_count);
}

static void connect_feed(lws_sorted_usec_list_t *sul)
{
	struct prod_ctx *c = lws_container_of(sul, struct prod_ctx, sul_connect);
	struct lws_client_connect_info i;

	if (c->stopping)
		return;
	memset(&i, 0, sizeof(i));
	i.context = c->lws;
	i.address = c->host;
	i.port = c->port;
	i.path = c->path;
	i.host = c->host;        /* TLS SNI and hostname check */
	i.method = "RAW";        /* the WebSocket layer is ours (wsproto.c) */
	i.local_protocol_name = "coinbase-feed";
	i.pwsi = &c->wsi;
	i.retry_and_idle_policy = &c->retry;
	if (c->attempts++)
		c->n.reconnects++;
	c->state = CONN_CONNECTING;
	c->fail_logged = 0;
	plog(c, LOG_INFO, "connecting to %s (attempt %" PRIu64 ")", c->conf.url,
	     c->attempts);
	if (!lws_client_connect_via_info(&i)) {
		c->wsi = NULL;
		c->state = CONN_IDLE;
		plog(c, LOG_WARN, "connect to %s failed immediately", c->conf.url);
		schedule_reconnect(c);
	}
}

/* Queues bytes for the next WRITEABLE; -1 when they do not fit. */
static int tx_raw(struct prod_ctx *c, struct lws *wsi, const void *p, size_t n)
{
	if (n > c->tx_cap - c->tx_len)
		return -1;
	memcpy(c->tx + LWS_PRE + c->tx_len, p, n);
	c->tx_len += n;
	lws_callback_on_writable(wsi);
	return 0;
}

/* Queues one client frame (masked with fresh random bytes). */
static int tx_frame(struct prod_ctx *c, struct lws *wsi, int op, const void *p,
		    size_t n)
{
	unsigned char mask[4];

	if (n + WSP_FRAME_OVERHEAD > c->tx_cap - c->tx_len)
		return -1;
	lws_get_random(c->lws, mask, sizeof(mask));
	c->tx_len += wsp_frame(c->tx + LWS_PRE + c->tx_len, op, p, n, mask);
	lws_callback_on_writable(wsi);
	return 0;
}

/* The transport is up: send the opening handshake. */
static int ws_connected(struct prod_ctx *c, struct lws *wsi)
{
	unsigned char nonce[16];
	char req[2048];
	int n;

	c->wsi = wsi;
	c->state = CONN_HANDSHAKE;
	c->head_len = 0;
	c->tx_len = 0;
	c->alive = 0;
	c->last_rx = lws_now_usecs(); /* the watchdog bounds the handshakes */
	if (c->tls) {
		char err[256];

		ftls_conn_free(c->tlsc);
		if (!(c->tlsc = ftls_conn_new(c->tls, c->host, err, sizeof(err))) ||
		    ftls_start(c->tlsc, err, sizeof(err)) != FTLS_OK) {
			plog(c, LOG_WARN, "TLS to %s: %s", c->conf.url, err);
			return -1;
		}
	}
	lws_get_random(c->lws, nonce, sizeof(nonce));
	wsp_make_key(nonce, c->ws_key);
	n = wsp_request(req, sizeof(req), c->host, c->port, c->use_ssl, c->path,
			c->ws_key, "coinbase-producer/" PIPELINE_VERSION);
	if (n < 0 || tx_raw(c, wsi, req, (size_t)n)) {
		plog(c, LOG_ERROR, "handshake request too long for %s", c->conf.url);
		return -1;
	}
	return 0;
}

/* The handshake succeeded: subscribe. */
static int ws_established(struct prod_ctx *c, struct lws *wsi)
{
	plog(c, LOG_INFO, "connected to %s", c->conf.url);
	c->state = CONN_OPEN;
	c->subscribed = 0;
	c->last_rx = lws_now_usecs();
	wsp_rx_init(&c->rx, c->msg, MSG_MAX);
	if (tx_frame(c, wsi, WSP_TEXT, c->sub, c->sub_len))
		return -1;
	plog(c, LOG_DEBUG, "sent %s", c->sub);
	return 0;
}

/* The feed's close frame: logged (a retired hostname is fatal), answered
 * with the same code, then the connection is dropped once that is written.
 * Returns 1 (drop now: our close went first) or 2 (stop reading). */
static int ws_peer_close(struct prod_ctx *c, const char *p, size_t len)
{
	const unsigned char *u = (const unsigned char *)p;
	char why[128] = "";
	int code = len >= 2 ? (u[0] << 8 | u[1]) : 0;

	if (len > 2)
		snprintf(why, sizeof(why), "%.*s", (int)(len - 2), p + 2);
	if (strstr(why, "deprecated hostname")) {
		plog(c, LOG_ERROR, "feed closed the connection: \"%s\": the "
		     "hostname %s is retired, use --url %s", why, c->host,
		     DEFAULT_URL);
		c->exit_code = EX_FEED;
		c->stop_requested = 1;
	} else if (c->state != CONN_CLOSE_SENT) {
		plog(c, LOG_WARN, "feed closed the connection (code %d%s%s)",
		     code, why[0] ? ": " : "", why);
	}
	if (c->state == CONN_CLOSE_SENT)
		return 1;
	c->state = CONN_CLOSE_RECEIVED;
	if (tx_frame(c, c->wsi, WSP_CLOSE, p, len >= 2 ? 2 : 0))
		return 1;
	return 2;
}

/* One message from the frame decoder. */
static int on_ws_message(void *arg, int op, const char *buf, size_t len)
{
	struct prod_ctx *c = arg;

	switch (op) {
	case WSP_TEXT:
	case WSP_BINARY:
		if (buf) {
			handle_message(c, buf, len);
			return 0;
		}
		c->n.oversized++;
		if (rl_allow(c, &c->rl_bad, "bad-message"))
			plog(c, LOG_WARN, "message of %zu bytes (over %d) dropped",
			     len, MSG_MAX);
		return 0;
	case WSP_PING:
		if (tx_frame(c, c->wsi, WSP_PONG, buf, len))
			plog(c, LOG_DEBUG, "pong not sent: transmit buffer full");
		return 0;
	case WSP_CLOSE:
		return ws_peer_close(c, buf, len);
	default: /* WSP_PONG: we send no pings */
		return 0;
	}
}

/* Bytes from the feed: first the handshake response, then frames.  Returns
 * -1 to drop the connection. */
static int ws_receive(struct prod_ctx *c, struct lws *wsi, const unsigned char *in,
		      size_t len)
{
	char err[256];
	int r;

	if (c->state == CONN_CLOSE_RECEIVED)
		return 0;
	if (c->state == CONN_HANDSHAKE) {
		size_t before = c->head_len;
		size_t take = len < sizeof(c->head) - before ? len :
			      sizeof(c->head) - before;

		memcpy(c->head + before, in, take);
		c->head_len += take;
		r = wsp_response(c->head, c->head_len, c->ws_key, err, sizeof(err));
		if (!r)
			return 0;
		if (r < 0) {
			plog(c, LOG_WARN, "WebSocket handshake with %s failed: %s",
			     c->conf.url, err);
			c->fail_logged = 1;
			return -1;
		}
		/* frames may follow the head in the same read */
		in += (size_t)r - before;
		len -= (size_t)r - before;
		if (ws_established(c, wsi))
			return -1;
	}
	r = wsp_rx_feed(&c->rx, in, len, on_ws_message, c, err, sizeof(err));
	if (c->alive && c->wsi) {
		c->alive = 0;
		c->last_rx = lws_now_usecs();
		lws_validity_confirmed(wsi);
	}
	if (r < 0) {
		c->n.proto_errors++;
		plog(c, LOG_WARN, "WebSocket protocol error from %s: %s; "
		     "reconnecting", c->conf.url, err);
		return -1;
	}
	return r == 1 ? -1 : 0;
}

/* Plaintext out of TLS: 1 (stop) when the connection is to be dropped. */
static int tls_plain(void *arg, const unsigned char *buf, size_t len)
{
	struct prod_ctx *c = arg;

	return ws_receive(c, c->wsi, buf, len) < 0;
}

/* Ciphertext from the feed.  A certificate that fails verification is fatal:
 * retrying cannot fix it. */
static int tls_receive(struct prod_ctx *c, struct lws *wsi, const unsigned char *in,
		       size_t len)
{
	char err[256];
	int r = ftls_input(c->tlsc, in, len, tls_plain, c, err, sizeof(err));

	if (r == FTLS_CERT) {
		plog(c, LOG_ERROR, "TLS: the certificate of %s failed verification "
		     "(unknown CA, self-signed, expired or wrong hostname): %s",
		     c->host, err);
		plog(c, LOG_ERROR, "give --ca-file FILE to trust its CA (or "
		     "--insecure for a test server); not retrying");
		c->exit_code = EX_FEED;
		c->stop_requested = 1;
		return -1;
	}
	if (r < 0) {
		plog(c, LOG_WARN, "%s: %s", c->conf.url, err);
		c->fail_logged = 1;
		return -1;
	}
	if (r)
		return -1;
	if (ftls_pending(c->tlsc) || (c->tx_len && ftls_ready(c->tlsc)))
		lws_callback_on_writable(wsi);
	return 0;
}

/* Sends what is queued: plaintext as it is, or through TLS once its
 * handshake is done (the handshake's own records first). */
static int ws_writeable(struct prod_ctx *c, struct lws *wsi)
{
	unsigned char buf[LWS_PRE + 16384];
	char err[256];
	size_t n;

	if (!c->tlsc) {
		if ((n = c->tx_len)) {
			c->tx_len = 0;
			if (lws_write(wsi, c->tx + LWS_PRE, n, LWS_WRITE_RAW) < (int)n)
				goto fail;
		}
		return c->state == CONN_CLOSE_RECEIVED ? -1 : 0;
	}
	if (c->tx_len && ftls_ready(c->tlsc)) {
		if (ftls_write(c->tlsc, c->tx + LWS_PRE, c->tx_len, err,
			       sizeof(err)) != FTLS_OK) {
			plog(c, LOG_WARN, "%s: %s", c->conf.url, err);
			return -1;
		}
		c->tx_len = 0;
	}
	while ((n = ftls_output(c->tlsc, buf + LWS_PRE, sizeof(buf) - LWS_PRE)))
		if (lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_RAW) < (int)n)
			goto fail;
	return c->state == CONN_CLOSE_RECEIVED && !c->tx_len ? -1 : 0;
fail:
	plog(c, LOG_WARN, "write to %s failed", c->conf.url);
	return -1;
}

/* The attempt ended (failed, closed, dropped): once per attempt, retry. */
static void ws_closed(struct prod_ctx *c, const char *why)
{
	if (c->state == CONN_IDLE)
		return;
	if (c->state >= CONN_OPEN)
		plog(c, c->stopping ? LOG_INFO : LOG_WARN, "disconnected from %s",
		     c->conf.url);
	else if (!c->stopping && !stop_signal && !c->stop_requested && !c->fail_logged)
		plog(c, LOG_WARN, "connection to %s failed: %s", c->conf.url, why);
	c->state = CONN_IDLE;
	c->wsi = NULL;
	ftls_conn_free(c->tlsc);
	c->tlsc = NULL;
	schedule_reconnect(c);
}

static int on_ws_event(struct lws *wsi, enum lws_callback_reasons reason,
		       void *user, void *in, size_t len)
{
	struct prod_ctx *c = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		ws_closed(c, in ? (const char *)in : "(no reason)");
		break;

	case LWS_CALLBACK_RAW_CONNECTED:
		return ws_connected(c, wsi);

	case LWS_CALLBACK_RAW_RX:
		return c->tlsc ? tls_receive(c, wsi, in, len) :
				 ws_receive(c, wsi, in, len);

	case LWS_CALLBACK_RAW_WRITEABLE:
		return ws_writeable(c, wsi);

	case LWS_CALLBACK_RAW_CLOSE:
		ws_closed(c, c->state == CONN_HANDSHAKE ? "closed before the WebSocket "
			  "handshake completed" : "closed");
		break;

	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	/* rx_buffer_size: with the context's pt_serv_buf_size, how much lws
	 * reads per recv() (a busy feed sends many ticks per segment) */
	{ "coinbase-feed", on_ws_event, 0, RX_CHUNK, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/*
 * Housekeeping every TICK_MS: delivery reports, stop requests, the silence
 * watchdog and the status line.
 */
static void print_status(struct prod_ctx *c, const char *label, double secs)
{
	uint64_t inflight = c->n.published - c->n.delivered - c->n.failed;
	double rate = secs > 0 ? (double)(c->n.ticks - c->last_status_ticks) / secs : 0;

	fprintf(stderr, "%% %s: ticks/s %.1f ticks %" PRIu64 " published %" PRIu64
		" delivered %" PRIu64 " in-flight %" PRIu64 " failed %" PRIu64
		" unqueued %" PRIu64 " reconnects %" PRIu64 " duplicates %" PRIu64 " missed-trades %"
		PRIu64 " malformed %" PRIu64 " oversized %" PRIu64 " unknown %"
		PRIu64 " queue-full %" PRIu64 "\n", label, rate, c->n.ticks, c->n.published,
		c->n.delivered, inflight, c->n.failed, c->n.unqueued, c->n.reconnects, c->n.dups,
		c->n.missed, c->n.malformed, c->n.oversized, c->n.unknown, c->n.queue_full);
}

static void begin_stop(struct prod_ctx *c)
{
	c->stopping = 1;
	c->stop_deadline = lws_now_usecs() + CLOSE_WAIT_MS * LWS_US_PER_MS;
	lws_sul_cancel(&c->sul_connect);
	if (stop_signal > 0)
		plog(c, LOG_INFO, "signal %d: closing the feed, flushing Kafka",
		     (int)stop_signal);
	if (!c->wsi)
		return;
	if (c->state == CONN_OPEN) {
		/* close code 1000 "bye"; the feed's answer drops the connection */
		static const char bye[] = "\x03\xe8" "bye";

		c->state = CONN_CLOSE_SENT;
		if (!tx_frame(c, c->wsi, WSP_CLOSE, bye, sizeof(bye) - 1))
			return;
	}
	if (c->state != CONN_CLOSE_SENT)
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	struct prod_ctx *c = lws_container_of(sul, struct prod_ctx, sul_tick);
	lws_usec_t now = lws_now_usecs();

	rd_kafka_poll(c->rk, 0);
	if (c->admin_q)
		finish_create_topics(c, 0);
	if (c->kafka_fatal)
		c->stop_requested = 1;
	if ((stop_signal || c->stop_requested) && !c->stopping)
		begin_stop(c);
	if (c->stopping && (!c->wsi || now > c->stop_deadline)) {
		c->done = 1;
		lws_cancel_service(c->lws);
		return;
	}
	if (!c->stopping && c->wsi && c->state >= CONN_HANDSHAKE &&
	    now - c->last_rx > (lws_usec_t)c->conf.silence_s * LWS_US_PER_SEC) {
		if (c->state >= CONN_OPEN)
			plog(c, LOG_WARN, "feed silent for %d s: reconnecting",
			     c->conf.silence_s);
		else
			plog(c, LOG_WARN, "no WebSocket handshake response from %s "
			     "in %d s: reconnecting", c->conf.url, c->conf.silence_s);
		c->n.silences++;
		c->last_rx = now; /* once per connection */
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
	if (c->conf.status_s > 0 && c->conf.verbosity >= LOG_INFO &&
	    now - c->last_status >= (lws_usec_t)c->conf.status_s * LWS_US_PER_SEC) {
		print_status(c, "STATUS", (double)(now - c->last_status) / 1e6);
		c->last_status = now;
		c->last_status_ticks = c->n.ticks;
	}
	lws_sul_schedule(c->lws, 0, &c->sul_tick, on_tick, TICK_MS * LWS_US_PER_MS);
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
		if (strlen(c->conf.topic_prefix) + n >= TOPIC_MAX) {
			snprintf(err, errlen, "topic name too long for %s", p->id);
			return -1;
		}
		memcpy(p->topic, c->conf.topic_prefix, strlen(c->conf.topic_prefix));
		memcpy(p->topic + strlen(c->conf.topic_prefix), p->id, n + 1);
		for (const char *t = p->topic; *t; t++)
			if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				    "0123456789-_.", *t)) {
				snprintf(err, errlen, "illegal character '%c' in "
					 "topic %s", *t, p->topic);
				return -1;
			}
		p->last_seq = -1;
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

/* ws:// or wss://host[:port][/path] into host/port/path/ssl flags. */
static int setup_url(struct prod_ctx *c, char *err, size_t errlen)
{
	const char *prot, *path;

	if (strlen(c->conf.url) >= sizeof(c->url_buf)) {
		snprintf(err, errlen, "--url too long");
		return -1;
	}
	strcpy(c->url_buf, c->conf.url);
	if (lws_parse_uri(c->url_buf, &prot, &c->host, &c->port, &path) ||
	    !*c->host) {
		snprintf(err, errlen, "cannot parse --url '%s'", c->conf.url);
		return -1;
	}
	if (!strcmp(prot, "wss")) {
		c->use_ssl = 1;
	} else if (strcmp(prot, "ws")) {
		snprintf(err, errlen, "--url must start with ws:// or wss://");
		return -1;
	}
	snprintf(c->path, sizeof(c->path), "/%s", path);
	return 0;
}

/* Backoff table BACKOFF_BASE_MS * 2^k capped at --max-backoff, retried
 * forever, 20% jitter.  lws sends no pings on a raw connection: its validity
 * timer only hangs up after twice the silence timeout without a valid
 * message, a backstop behind the watchdog in on_tick. */
static void setup_retry(struct prod_ctx *c)
{
	uint32_t cap = (uint32_t)c->conf.max_backoff_s * 1000, ms = BACKOFF_BASE_MS;
	uint16_t n = 0;

	if (cap < BACKOFF_BASE_MS)
		cap = BACKOFF_BASE_MS;
	while (n < 16) {
		c->backoff_ms[n++] = ms < cap ? ms : cap;
		if (ms >= cap)
			break;
		ms *= 2;
	}
	c->retry.retry_ms_table = c->backoff_ms;
	c->retry.retry_ms_table_count = n;
	c->retry.conceal_count = LWS_RETRY_CONCEAL_ALWAYS;
	c->retry.secs_since_valid_ping = (uint16_t)(c->conf.silence_s / 3 ?
						    c->conf.silence_s / 3 : 1);
	c->retry.secs_since_valid_hangup = (uint16_t)(c->conf.silence_s * 2 + 1);
	c->retry.jitter_percent = 20;
}

static void usage(FILE *out)
{
	fprintf(out,
"Usage: producer [options]\n"
"Coinbase Exchange ticker feed (WebSocket) -> Kafka, one topic per product.\n"
"  -u, --url URL             feed (default " DEFAULT_URL ")\n"
"  -p, --products LIST       products (default " DEFAULT_PRODUCTS ")\n"
"  -b, --brokers LIST        bootstrap servers (env KAFKA_BROKERS, default "
DEFAULT_BROKERS ")\n"
"  -t, --topic-prefix STR    topic = STR + product id (default none)\n"
"      --partitions N        for created topics (default -1: broker default)\n"
"      --replication N       for created topics (default -1: broker default)\n"
"      --ca-file PEM         extra trusted CA for wss://\n"
"      --insecure            accept any server certificate (tests only)\n"
"  -X key=value              librdkafka property (repeatable); -X dump\n"
"      --silence-timeout S   reconnect after S s without feed data (15)\n"
"      --status-interval S   status line every S s, 0 = off (5)\n"
"      --max-backoff S       reconnect backoff cap in seconds (30)\n"
"  -q, --quiet               warnings and errors only, no status line\n"
"  -v, --verbose             more logging (repeat for lws internals)\n"
"  -h, --help | -V, --version\n"
"Exit: 0 stopped by SIGINT/SIGTERM, all delivered; 1 undelivered/failed\n"
"messages or Kafka fatal error; 2 usage; 3 feed refused us (subscription\n"
"error, retired hostname, untrusted certificate); 4 startup failure.\n"
"Example:\n"
"  KAFKA_BROKERS=localhost:9092 producer -p BTC-USD,ETH-USD -t coinbase.\n");
}

/* Positive integer option in [lo, hi]. */
static int int_arg(const char *opt, const char *s, int lo, int hi, int *out)
{
	char *e;
	long v;

	errno = 0;
	v = strtol(s, &e, 10);
	if (errno || e == s || *e || v < lo || v > hi) {
		log_msg(LOG_ERROR, LOG_ERROR, "%s: expected an integer in [%d, %d], "
			"got '%s'", opt, lo, hi, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Parses argv into c->conf; returns -1 (usage error), 0 (run) or 1 (done:
 * --help/--version printed). */
static int parse_args(struct prod_ctx *c, int argc, char **argv)
{
	enum { O_PART = 256, O_REPL, O_CA, O_INSECURE, O_SILENCE, O_STATUS,
	       O_BACKOFF };
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "products", required_argument, NULL, 'p' },
		{ "brokers", required_argument, NULL, 'b' },
		{ "topic-prefix", required_argument, NULL, 't' },
		{ "partitions", required_argument, NULL, O_PART },
		{ "replication", required_argument, NULL, O_REPL },
		{ "ca-file", required_argument, NULL, O_CA },
		{ "insecure", no_argument, NULL, O_INSECURE },
		{ "silence-timeout", required_argument, NULL, O_SILENCE },
		{ "status-interval", required_argument, NULL, O_STATUS },
		{ "max-backoff", required_argument, NULL, O_BACKOFF },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct prod_conf *k = &c->conf;
	const char *env = getenv("KAFKA_BROKERS");
	int o;

	k->url = DEFAULT_URL;
	k->products = DEFAULT_PRODUCTS;
	k->brokers = env && *env ? env : DEFAULT_BROKERS;
	k->topic_prefix = "";
	k->partitions = -1;
	k->replication = -1;
	k->verbosity = LOG_INFO;
	k->silence_s = 15;
	k->status_s = 5;
	k->max_backoff_s = 30;
	while ((o = getopt_long(argc, argv, "u:p:b:t:X:qvhV", longopts, NULL)) != -1) {
		switch (o) {
		case 'u': k->url = optarg; break;
		case 'p': k->products = optarg; break;
		case 'b': k->brokers = optarg; break;
		case 't': k->topic_prefix = optarg; break;
		case O_CA: k->ca_file = optarg; break;
		case O_INSECURE: k->insecure = 1; break;
		case 'q': k->verbosity = LOG_WARN; break;
		case 'v': k->verbosity++; break;
		case 'h': usage(stdout); return 1;
		case 'V': printf("producer %s (librdkafka %s, libwebsockets %s, "
				 "jansson %s)\n", PIPELINE_VERSION,
				 rd_kafka_version_str(), lws_get_library_version(),
				 JANSSON_VERSION);
			return 1;
		case O_PART:
			if (int_arg("--partitions", optarg, -1, 100000, &k->partitions) ||
			    !k->partitions)
				return -1;
			break;
		case O_REPL:
			if (int_arg("--replication", optarg, -1, 1000, &k->replication) ||
			    !k->replication)
				return -1;
			break;
		case O_SILENCE:
			if (int_arg("--silence-timeout", optarg, 1, 3600, &k->silence_s))
				return -1;
			break;
		case O_STATUS:
			if (int_arg("--status-interval", optarg, 0, 86400, &k->status_s))
				return -1;
			break;
		case O_BACKOFF:
			if (int_arg("--max-backoff", optarg, 1, 3600, &k->max_backoff_s))
				return -1;
			break;
		case 'X': {
			char *eq = strchr(optarg, '=');

			if (!strcmp(optarg, "dump")) {
				k->dump_conf = 1;
				break;
			}
			if (!eq || eq == optarg) {
				log_msg(LOG_ERROR, LOG_ERROR, "-X expects key=value, "
					"got '%s'", optarg);
				return -1;
			}
			if (k->nxprops == MAX_XPROPS) {
				log_msg(LOG_ERROR, LOG_ERROR, "too many -X");
				return -1;
			}
			*eq = '\0'; /* argv strings are writable */
			k->xprops[k->nxprops].key = optarg;
			k->xprops[k->nxprops++].val = eq + 1;
			break;
		}
		default:
			return -1;
		}
	}
	if (optind < argc) {
		log_msg(LOG_ERROR, LOG_ERROR, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct prod_ctx *c = calloc(1, sizeof(*c));
	rd_kafka_conf_t *kconf = NULL;
	struct sigaction sa;
	char err[512];
	int rc = EX_INIT, r, lwslevel;

	if (!c) {
		log_msg(LOG_ERROR, LOG_ERROR, "out of memory");
		return EX_INIT;
	}
	r = parse_args(c, argc, argv);
	if (r) {
		if (r < 0)
			log_msg(LOG_ERROR, LOG_ERROR, "try 'producer --help'");
		rc = r < 0 ? EX_USAGE : EX_OK;
		goto cleanup;
	}
	rc = EX_USAGE;
	if (setup_products(c, err, sizeof(err)) || setup_url(c, err, sizeof(err))) {
		plog(c, LOG_ERROR, "%s", err);
		goto cleanup;
	}
	if (!(kconf = kafka_conf(c, err, sizeof(err)))) {
		plog(c, LOG_ERROR, "kafka config: %s", err);
		goto cleanup;
	}
	if (c->conf.dump_conf) {
		kafka_conf_dump(kconf);
		rc = EX_OK;
		goto cleanup;
	}
	if (!strcmp(c->host, RETIRED_HOST))
		plog(c, LOG_WARN, "%s is the retired name of the feed; use %s",
		     RETIRED_HOST, DEFAULT_URL);
	setup_retry(c);
	/* the trust store and --ca-file are read once, here */
	if ((c->use_ssl || c->conf.ca_file) &&
	    !(c->tls = ftls_new(c->conf.ca_file, c->conf.insecure, err,
				sizeof(err)))) {
		plog(c, LOG_ERROR, "%s", err);
		goto cleanup;
	}

	rc = EX_INIT;
	if (build_subscribe(c) || !(c->msg = malloc(MSG_MAX + 1))) {
		plog(c, LOG_ERROR, "out of memory");
		goto cleanup;
	}
	c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, err, sizeof(err));
	if (!c->rk) {
		plog(c, LOG_ERROR, "cannot create producer: %s", err);
		goto cleanup;
	}
	kconf = NULL; /* now owned by rk */
	/* With --partitions or --replication the topics are created before any
	 * topic handle exists: the handle's metadata request would have a broker
	 * that auto-creates topics (Kafka's default) make them first, with its
	 * defaults, and CreateTopics would find them there.  Without, broker
	 * defaults either way: CreateTopics runs beside the feed (below). */
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
			goto cleanup;
		}
	}

	lwslevel = LLL_ERR | LLL_USER;
	if (c->conf.verbosity < LOG_INFO)
		lwslevel = 0;
	else if (c->conf.verbosity >= 4)
		lwslevel |= LLL_WARN | LLL_NOTICE | LLL_INFO;
	lws_set_log_level(lwslevel, lws_log_emit);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.fd_limit_per_thread = 16;
	info.pt_serv_buf_size = RX_CHUNK;
	info.user = c;
	c->lws = lws_create_context(&info);
	if (!c->lws) {
		plog(c, LOG_ERROR, "cannot create the libwebsockets context");
		goto cleanup;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	plog(c, LOG_INFO, "producer %s: %s -> %s, %d product(s), topics %s%s...",
	     PIPELINE_VERSION, c->conf.url, c->conf.brokers, c->nprod,
	     c->conf.topic_prefix, c->prod[0].id);
	if (c->conf.partitions <= 0 && c->conf.replication <= 0)
		start_create_topics(c);

	c->last_status = lws_now_usecs();
	lws_sul_schedule(c->lws, 0, &c->sul_connect, connect_feed, 1);
	lws_sul_schedule(c->lws, 0, &c->sul_tick, on_tick, TICK_MS * LWS_US_PER_MS);
	while (!c->done)
		if (lws_service(c->lws, 0) < 0) {
			plog(c, LOG_ERROR, "lws_service failed");
			break;
		}
	lws_sul_cancel(&c->sul_tick);
	lws_sul_cancel(&c->sul_connect);
	lws_context_destroy(c->lws);
	c->lws = NULL;

	if (rd_kafka_flush(c->rk, FLUSH_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
		plog(c, LOG_ERROR, "%d message(s) still undelivered after %d ms",
		     rd_kafka_outq_len(c->rk), FLUSH_MS);
	rd_kafka_poll(c->rk, 0);
	print_status(c, "FINAL", 0);
	for (int i = 0; i < c->nprod; i++)
		if (c->prod[i].published || c->prod[i].dups || c->prod[i].missed)
			plog(c, LOG_INFO, "%s: published %" PRIu64 " duplicates %"
			     PRIu64 " missed-trades %" PRIu64, c->prod[i].id,
			     c->prod[i].published, c->prod[i].dups,
			     c->prod[i].missed);
	if (c->exit_code)
		rc = c->exit_code;
	else if (c->kafka_fatal || c->n.failed || c->n.unqueued ||
		 c->n.delivered != c->n.published)
		rc = EX_UNDELIVERED;
	else
		rc = EX_OK;
	if (rc == EX_UNDELIVERED)
		plog(c, LOG_ERROR, "%" PRIu64 " of %" PRIu64 " tick(s) not "
		     "delivered", c->n.published + c->n.unqueued - c->n.delivered,
		     c->n.published + c->n.unqueued);

cleanup:
	if (c->admin_q)
		rd_kafka_queue_destroy(c->admin_q);
	if (c->lws)
		lws_context_destroy(c->lws);
	for (int i = 0; i < c->nprod; i++)
		if (c->prod[i].rkt)
			rd_kafka_topic_destroy(c->prod[i].rkt);
	if (c->rk)
		rd_kafka_destroy(c->rk);
	if (kconf)
		rd_kafka_conf_destroy(kconf);
	free(c->sub);
	free(c->tx);
	ftls_conn_free(c->tlsc);
	ftls_free(c->tls);
	free(c->msg);
	free(c);
	return rc;
}

/*
 * producer.h - what the producer's files share, and nothing else includes:
 * its constants, exit codes and state (struct prod_ctx), and the calls one
 * file makes into another.
 *
 *   producer.c          main: setup, the timer, the shutdown
 *   producer/ticker.c   feed messages: parse, dedupe by sequence, trade-id gaps, publish
 *   producer/kafka.c    the Kafka side: configuration, delivery reports, topics, publish
 *   producer/spooler.c  Kafka away: ticks into the spool (spool.h) and replayed in order
 *   producer/report.c   the status line and /metrics
 *   producer/pcli.c     the command line
 */
#ifndef PRODUCER_H
#define PRODUCER_H

#include <jansson.h>
#include <libwebsockets.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdint.h>

#include "conn.h"
#include "log.h"
#include "pcli.h"
#include "seqrule.h"
#include "spool.h"
#include "tick.h"

/* Exit codes, also listed in --help. */
#define EX_OK          0 /* stopped by a signal, every message delivered */
#define EX_UNDELIVERED 1 /* undelivered/failed messages, or Kafka fatal error */
#define EX_USAGE       2 /* bad command line or configuration */
#define EX_FEED        3 /* feed refused us: subscription, hostname, certificate */
#define EX_INIT        4 /* could not start (lws/librdkafka init, memory) */

#define RETIRED_HOST      "ws-feed.pro.coinbase.com"
#define MAX_PRODUCTS      64
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

struct product {
	char id[TICK_PRODUCT_MAX];       /* "BTC-USD" */
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
	struct httpd *metrics;      /* --http (--metrics), NULL off */
	lws_usec_t metrics_at;      /* last publish */
	lws_usec_t started;         /* when the loop began */
	lws_usec_t feed_down_since; /* the feed not open and subscribed since then, 0 while it is */
	lws_usec_t last_fail;       /* the last delivery report with an error (purges aside), 0 none */
	rd_kafka_resp_err_t last_err; /* and its error */
	uint64_t rate_ticks;        /* n.ticks at the last publish: ticks/s on the page */
	double rate;                /* ticks/s between the last two publishes */
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

#define PROD_STR_(x) #x
#define PROD_STR(x) PROD_STR_(x)

/* producer.c */
extern volatile sig_atomic_t stop_signal; /* set by SIGINT/SIGTERM; written by the handler only */
/* A fatal error: stop with exit_code (on the next timer), once. */
void request_stop(struct prod_ctx *c, int exit_code);
void plog(const struct prod_ctx *c, enum log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* 1 when a rate-limited line may be logged now. */
int rl_allow(struct prod_ctx *c, struct ratelimit *rl, const char *what);

/* kafka.c */
int64_t producer_us_to_ms(int64_t us);
rd_kafka_conf_t *kafka_conf(struct prod_ctx *c, char *err, size_t errlen);
void kafka_conf_dump(rd_kafka_conf_t *conf);
void start_create_topics(struct prod_ctx *c);
void finish_create_topics(struct prod_ctx *c, int wait_ms);
/* Enqueues one tick (or spools it behind older ones). */
void publish(struct prod_ctx *c, struct product *p, const char *buf, size_t len, int64_t ts_ms);

/* spooler.c */
void spooler_tick(struct prod_ctx *c, const char *topic, const char *key, size_t key_len, int64_t ts_ms,
                  const char *buf, size_t len);
/* From now on new ticks go to the spool (what librdkafka holds first). */
void spooler_switch(struct prod_ctx *c, const char *why);
/* After every rd_kafka_poll: spool what failed, notice Kafka away, replay. */
void spooler_check(struct prod_ctx *c);

/* ticker.c: a subscribed product by id (NULL none), the subscribe message, and the feed connection's callbacks (conn.h). */
struct product *find_product(struct prod_ctx *c, const char *id);
int build_subscribe(struct prod_ctx *c);
void on_feed_opened(void *opaque);
int on_feed_message(void *opaque, const char *buf, size_t len);
void on_feed_oversized(void *opaque, size_t len);
int on_feed_closed(void *opaque, int code, const char *why);
void on_feed_fatal(void *opaque);

/* report.c: for --http, at most once a second (force: now): /metrics, the
 * page's /api/status and /healthz's verdict (the feed down, or Kafka
 * taking nothing while ticks wait, longer than --unhealthy-after). */
void publish_metrics(struct prod_ctx *c, lws_usec_t now, int force);
void print_status(struct prod_ctx *c, const char *label, double secs);

#endif

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
 * gaps are counted.  State lives in one struct prod_ctx (producer.h); the
 * only global is the signal flag.  This file: setup, the timer, the
 * shutdown; the rest is in producer/ (producer.h names the files).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fnv.h"
#include "httpd.h"
#include "metrics.h"
#include "producer.h" /* the producer's files: ticker.c, kafka.c, spooler.c, report.c */

#ifndef PIPELINE_VERSION
#define PIPELINE_VERSION "dev"
#endif

volatile sig_atomic_t stop_signal; /* set by SIGINT/SIGTERM (on_signal), nowhere else */

extern const char web_producer_html[]; /* web/producer.html (scripts/embed-web.sh) */

/* A fatal error: stop with exit_code, once on_timer gets to it; a stop
 * already under way goes on as it was. */
void request_stop(struct prod_ctx *c, int exit_code)
{
	c->exit_code = exit_code;
	if (c->state == PROD_RUNNING)
		c->state = PROD_STOP_ASKED;
}

/* Log lines in the programs' one format (common/log.h). */
void plog(const struct prod_ctx *c, enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(c->conf.verbosity, level, fmt, ap);
	va_end(ap);
}

/* Returns 1 when a rate-limited line may be logged now (and reports how many
 * were suppressed in the previous window). */
int rl_allow(struct prod_ctx *c, struct ratelimit *rl, const char *what)
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

/*
 * Housekeeping: the shutdown, the timer, setup and main.
 */
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
	spooler_check(c);
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
	/* the feed is up once it confirmed the subscription (/healthz) */
	if (fconn_open(c->feed) && c->subscribed)
		c->feed_down_since = 0;
	else if (!c->feed_down_since)
		c->feed_down_since = now;
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

		if (!n || n >= TICK_PRODUCT_MAX) {
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
		/* one line: what is wrong, and where to look */
		if (r < 0)
			log_msg(LOG_ERROR, LOG_ERROR, "%s%s", err,
			        strstr(err, "--help'") ? "" : " (try 'producer --help')");
		return r < 0 ? EX_USAGE : EX_OK;
	}
	log_set_time(c->conf.log_time); /* before librdkafka's and lws's threads log */
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
	const char *addr = c->conf.http_addr ? c->conf.http_addr : c->conf.metrics_addr;
	if (addr) {
		int mr = httpd_start(&c->metrics, c->conf.http_addr ? "--http" : "--metrics", addr, web_producer_html,
		                     NULL, err, sizeof(err));
		if (mr < 0) { /* the port taken can pass: EX_INIT, which the systemd unit restarts */
			plog(c, LOG_ERROR, "%s", err);
			return mr == HTTPD_EINUSE ? EX_INIT : EX_USAGE;
		}
		char url[300];
		httpd_url(c->metrics, url, sizeof(url));
		plog(c, LOG_INFO, "metrics on port %d (%s): the page on %s, GET /metrics /healthz /api/status",
		     httpd_port(c->metrics), addr, url);
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
	c->last_status = c->started = c->feed_down_since = lws_now_usecs();
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
			spooler_switch(c, "took not everything before the exit");
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
	httpd_stop(c->metrics);
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

/*
 * topicexport.c - `aggregator export --from-topic` (see topicexport.h).
 *
 * The output topic holds, as plain text:
 *   key "w\t<topic>\t<partition>\t<product_id>\t<window_start_us>\t<window_end_us>"
 *   value "<ticks> <sum_price> <sum_volume_24h> <max_time> <max_best_bid> <max_best_ask>"
 *     (agg.h's fields, record.c) one input partition's partial of one window
 *     (a row of the state's windows table); a later record of the key
 *     replaces it, a NULL value deletes it;
 *   key "c\t<topic>\t<partition>", value "<closed_until_us> <partitions_of_topic>"
 *     that input partition has written every partial of every window with
 *     window_end <= closed_until (closed_until only grows; NULL ignored).
 * The partials go into a temporary state file next to the output (store.c:
 * same table, same rows statement, so SQLite merges them, each field by its
 * rule in agg.h, in the same order as a single aggregator does), and
 * export_rewrite writes the windows up to the closed point: the least
 * closed_until over every partition of every input topic named, none while
 * one of them has no marker.
 *
 * A consistent cut: before reading, every partition's log end (high
 * watermark, uncommitted records included) is asked, and only records below
 * it are taken, each partition read (read_committed) until it is past it.
 * A marker below its partition's cut was written before the cut was taken,
 * so the partials of its transaction, written before it to whichever
 * partition, are below theirs, and are read: a transaction committed on one
 * partition and not yet on another cannot show a marker without its
 * partials.
 */
#include "topicexport.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "consume.h"
#include "crash.h"
#include "export.h"
#include "fmt.h"
#include "log.h"
#include "record.h"
#include "store.h"

#define TEXP_STALL_US (60LL * 1000000) /* no record and no end reached this long: give up */

/* The newest marker of one input partition. */
struct texp_marker {
	char *topic;
	int32_t partition;
	int64_t closed_until; /* the largest seen */
	int32_t parts;        /* partitions of its topic, by the newest marker */
	int64_t written_ms;   /* when the newest marker was written (its Kafka timestamp) */
};

/* One partition of the output topic. */
struct texp_part {
	int32_t id;
	int64_t cut;  /* records at or past this offset are not taken */
	int64_t next; /* next offset to read, as far as known */
	int done;     /* past the cut */
};

struct texp {
	const struct agg_config *cfg;
	struct store *st;
	struct texp_marker *mk;      /* markers, in arrival order */
	size_t nmk, capmk;
	char **topics;               /* input topics named by partials or markers */
	size_t ntopics, captopics;
	struct texp_part *parts;     /* the output topic's partitions */
	int nparts;
	int64_t partials, tombstones, markers, malformed; /* records taken, by kind */
	int64_t ignored;             /* records of --ignore-topic's topics */
	const struct texp_marker *newest; /* the marker written last */
	char err[700];
};

/* Microseconds of CLOCK_MONOTONIC. */
static int64_t texp_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The handle that asks for the log ends: the user's properties, but
 * read_uncommitted, so that the end counts records of open transactions. */
static rd_kafka_t *texp_cut_handle(struct texp *x, struct consume_hooks *h, int *code)
{
	const struct agg_config *cfg = x->cfg;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char e[512];

	*code = AGG_EXIT_USAGE;
	if (rd_kafka_conf_set(conf, "bootstrap.servers", cfg->brokers, e, sizeof(e)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "client.id", "aggregator-export", e, sizeof(e)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "log.connection.close", "false", e, sizeof(e)) != RD_KAFKA_CONF_OK)
		goto fail;
	for (int i = 0; i < cfg->props.n; i++)
		if (rd_kafka_conf_set(conf, cfg->props.kv[i][0], cfg->props.kv[i][1], e, sizeof(e)) != RD_KAFKA_CONF_OK) {
			snprintf(x->err, sizeof(x->err), "kafka property %s=%s: %s", cfg->props.kv[i][0], cfg->props.kv[i][1], e);
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	if (rd_kafka_conf_set(conf, "isolation.level", "read_uncommitted", e, sizeof(e)) != RD_KAFKA_CONF_OK)
		goto fail;
	rd_kafka_conf_set_log_cb(conf, consume_log);
	rd_kafka_conf_set_opaque(conf, h);
	*code = AGG_EXIT_RUNTIME;
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e));
	if (rk)
		return rk; /* conf now owned by rk */
fail:
	snprintf(x->err, sizeof(x->err), "kafka: %s", e);
	rd_kafka_conf_destroy(conf);
	return NULL;
}

/* The output topic's partitions and their cuts (log ends). 0, or -1 with err. */
static int texp_cuts(struct texp *x, rd_kafka_t *rk)
{
	const char *topic = x->cfg->from_topic;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	const struct rd_kafka_metadata_topic *mt = NULL;
	int ret = -1;

	if (!rkt) {
		snprintf(x->err, sizeof(x->err), "topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
		return -1;
	}
	/* A topic just made may have no leader for a moment: asked again, ~10 s. */
	for (int t = 0; t < 20; t++) {
		rd_kafka_resp_err_t merr = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
		if (merr) {
			if (merr == RD_KAFKA_RESP_ERR__TRANSPORT || merr == RD_KAFKA_RESP_ERR__TIMED_OUT ||
			    merr == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
				snprintf(x->err, sizeof(x->err), "no broker reachable at %s (topic metadata: %s)",
				         x->cfg->brokers, rd_kafka_err2str(merr));
			else
				snprintf(x->err, sizeof(x->err), "topic %s: metadata: %s", topic, rd_kafka_err2str(merr));
			goto out;
		}
		mt = md->topic_cnt == 1 ? &md->topics[0] : NULL;
		int leaderless = 0;
		for (int p = 0; mt && !mt->err && p < mt->partition_cnt; p++)
			leaderless |= mt->partitions[p].leader < 0;
		if (mt && !mt->err && mt->partition_cnt > 0 && !leaderless)
			break;
		if (mt && mt->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
			snprintf(x->err, sizeof(x->err), "topic %s does not exist at %s", topic, x->cfg->brokers);
			goto out;
		}
		rd_kafka_metadata_destroy(md);
		md = NULL;
		mt = NULL;
		struct timespec ts = { 0, 500 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (!mt) {
		snprintf(x->err, sizeof(x->err), "topic %s: no leader for its partitions after 10 s", topic);
		goto out;
	}
	x->parts = calloc((size_t)mt->partition_cnt, sizeof(*x->parts));
	if (!x->parts) {
		snprintf(x->err, sizeof(x->err), "out of memory");
		goto out;
	}
	x->nparts = mt->partition_cnt;
	long passes = 0;
	for (int p = 0; p < x->nparts; p++) {
		if (p > 0)
			crash_pause("cut", &passes); /* the test build: between two cuts */
		int64_t lo = 0, hi = 0;
		struct texp_part *tp = &x->parts[p];
		tp->id = mt->partitions[p].id;
		rd_kafka_resp_err_t qerr = rd_kafka_query_watermark_offsets(rk, topic, tp->id, &lo, &hi, 10000);
		if (qerr) {
			snprintf(x->err, sizeof(x->err), "%s [%" PRId32 "]: cannot ask for its log end: %s%s", topic, tp->id,
			         rd_kafka_err2str(qerr), qerr == RD_KAFKA_RESP_ERR__TIMED_OUT ||
			         qerr == RD_KAFKA_RESP_ERR__TRANSPORT ? " (no broker reachable?)" : "");
			goto out;
		}
		tp->cut = hi;
		tp->next = lo;
		tp->done = lo >= hi; /* nothing there */
	}
	ret = 0;
out:
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return ret;
}

/* Remembers an input topic by name (few: a linear search). */
static int texp_topic_note(struct texp *x, const char *topic)
{
	for (size_t i = 0; i < x->ntopics; i++)
		if (!strcmp(x->topics[i], topic))
			return 0;
	if (x->ntopics == x->captopics) {
		size_t cap = x->captopics ? x->captopics * 2 : 8;
		char **nt = realloc(x->topics, cap * sizeof(*nt));
		if (!nt)
			return -1;
		x->topics = nt;
		x->captopics = cap;
	}
	if (!(x->topics[x->ntopics] = strdup(topic)))
		return -1;
	x->ntopics++;
	return 0;
}

static struct texp_marker *texp_marker_find(struct texp *x, const char *topic, int32_t partition)
{
	for (size_t i = 0; i < x->nmk; i++)
		if (x->mk[i].partition == partition && !strcmp(x->mk[i].topic, topic))
			return &x->mk[i];
	return NULL;
}

/* A marker: closed_until only grows; the partition count is the newest. */
static int texp_marker_put(struct texp *x, const char *topic, int32_t partition, int64_t until, int32_t parts,
                           int64_t written_ms)
{
	struct texp_marker *m = texp_marker_find(x, topic, partition);
	if (!m) {
		if (x->nmk == x->capmk) {
			size_t cap = x->capmk ? x->capmk * 2 : 16;
			struct texp_marker *nm = realloc(x->mk, cap * sizeof(*nm));
			if (!nm)
				return -1;
			x->mk = nm;
			x->capmk = cap;
		}
		m = &x->mk[x->nmk];
		if (!(m->topic = strdup(topic)))
			return -1;
		x->nmk++;
		m->partition = partition;
		m->closed_until = until;
		m->written_ms = written_ms;
	}
	if (until > m->closed_until)
		m->closed_until = until;
	m->parts = parts;
	if (written_ms > m->written_ms)
		m->written_ms = written_ms;
	return texp_topic_note(x, topic);
}

/* Is topic among --ignore-topic's (a comma-separated list)? */
static int texp_ignored(const struct agg_config *cfg, const char *topic)
{
	size_t n = strlen(topic);
	for (const char *l = cfg->ignore_topics; l && *l;) {
		const char *c = strchr(l, ',');
		size_t len = c ? (size_t)(c - l) : strlen(l);
		if (len == n && !memcmp(l, topic, n))
			return 1;
		l = c ? c + 1 : l + len;
	}
	return 0;
}

/* Takes one record. 0 (taken, or malformed and counted), -1 with err when the
 * state cannot be written. */
static int texp_record(struct texp *x, const rd_kafka_message_t *m)
{
	static const char *const marker = "marker: bad partition, or value not '<closed_until_us> <partitions>'";
	static const char *const neither = "not a partial (w) or marker (c) key";
	struct rec_key k;
	const char *why;

	if (!m->key || rec_key_parse(m->key, m->key_len, &k, &why) < 0) {
		char c = m->key && m->key_len > 1 && ((const char *)m->key)[1] == '\t' ? *(const char *)m->key : 0;
		why = c == 'c' ? marker : c == 'w' ? "partial: bad partition, product id or window" : neither;
		goto bad;
	}
	if (texp_ignored(x->cfg, k.topic)) {
		x->ignored++;
		return 0;
	}
	if (k.kind == 'c') {
		int64_t until;
		int32_t parts;
		why = marker;
		if (!m->payload)
			return 0; /* a withdrawn marker says nothing */
		if (rec_parse_marker(m->payload, m->len, &until, &parts) < 0 || k.partition >= parts)
			goto bad;
		x->markers++;
		if (texp_marker_put(x, k.topic, k.partition, until, parts, rd_kafka_message_timestamp(m, NULL)) < 0)
			goto nomem;
		return 0;
	}
	if (k.kind != 'w') {
		why = neither;
		goto bad;
	}
	struct store_wkey wk = { k.topic, k.partition, k.product, k.start, k.end };
	if (texp_topic_note(x, k.topic) < 0)
		goto nomem;
	if (!m->payload) {
		x->tombstones++;
		return store_window_del(x->st, &wk, x->err, sizeof(x->err));
	}
	struct win_agg a;
	char shape[256], valwhy[300];
	if (rec_parse_window(m->payload, m->len, &a) < 0) {
		rec_window_syntax(shape, sizeof(shape));
		snprintf(valwhy, sizeof(valwhy), "partial: value not '%s'", shape);
		why = valwhy;
		goto bad;
	}
	x->partials++;
	return store_window_put(x->st, &wk, &a, x->err, sizeof(x->err));
bad:
	/* Someone else's record in the topic: skipped, said at the 1st, 10th, 100th, ... */
	x->malformed++;
	if (log_decade(x->malformed, 1))
		log_msg(x->cfg->verbosity, LOG_WARN, "%s [%" PRId32 "] offset %" PRId64 ": skipped (%s); %" PRId64
		        " skipped so far", x->cfg->from_topic, m->partition, m->offset, why, x->malformed);
	return 0;
nomem:
	snprintf(x->err, sizeof(x->err), "out of memory");
	return -1;
}

static struct texp_part *texp_part_of(struct texp *x, int32_t id)
{
	for (int i = 0; i < x->nparts; i++)
		if (x->parts[i].id == id)
			return &x->parts[i];
	return NULL;
}

/* Reads every partition from its start to its cut. 0, or -1 with err. */
/* Nothing read for TEXP_STALL_US: says what it waits for, the broker or a
 * transaction still open below a cut. */
static void texp_stall(struct texp *x, rd_kafka_resp_err_t lasterr)
{
	struct texp_part *w = NULL;
	for (int i = 0; i < x->nparts && !w; i++)
		if (!x->parts[i].done)
			w = &x->parts[i];
	if (lasterr == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || lasterr == RD_KAFKA_RESP_ERR__TRANSPORT)
		snprintf(x->err, sizeof(x->err), "no broker reachable at %s for %d s (%s)", x->cfg->brokers,
		         (int)(TEXP_STALL_US / 1000000), rd_kafka_err2str(lasterr));
	else
		snprintf(x->err, sizeof(x->err), "%s [%" PRId32 "]: nothing read for %d s at offset %" PRId64
		         ", short of its end %" PRId64 " when the export began (a transaction still open?)",
		         x->cfg->from_topic, w->id, (int)(TEXP_STALL_US / 1000000), w->next, w->cut);
}

static int texp_read(struct texp *x, rd_kafka_t *rk, volatile sig_atomic_t *stop)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(x->nparts);
	int left = 0, ret = -1;
	int64_t last = texp_now();
	rd_kafka_resp_err_t lasterr = RD_KAFKA_RESP_ERR_NO_ERROR;

	for (int i = 0; i < x->nparts; i++)
		if (!x->parts[i].done) {
			rd_kafka_topic_partition_list_add(l, x->cfg->from_topic, x->parts[i].id)->offset =
				RD_KAFKA_OFFSET_BEGINNING;
			left++;
		}
	rd_kafka_resp_err_t aerr = left ? rd_kafka_assign(rk, l) : RD_KAFKA_RESP_ERR_NO_ERROR;
	rd_kafka_topic_partition_list_destroy(l);
	if (aerr) {
		snprintf(x->err, sizeof(x->err), "cannot assign %s's partitions: %s", x->cfg->from_topic,
		         rd_kafka_err2str(aerr));
		return -1;
	}
	if (store_begin(x->st, x->err, sizeof(x->err)) < 0)
		return -1;
	while (left > 0) {
		if (*stop) {
			snprintf(x->err, sizeof(x->err), "stopped by a signal before the end of %s: %s left as it was",
			         x->cfg->from_topic, x->cfg->output_path);
			goto out;
		}
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m) {
			if (texp_now() - last < TEXP_STALL_US)
				continue;
			texp_stall(x, lasterr);
			goto out;
		}
		struct texp_part *p = texp_part_of(x, m->partition);
		int r = 0;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			/* read_committed: the end is the last stable offset */
			if (p && m->offset > p->next)
				p->next = m->offset;
		} else if (m->err) {
			lasterr = m->err;
			if (rd_kafka_fatal_error(rk, NULL, 0)) {
				snprintf(x->err, sizeof(x->err), "kafka: %s", rd_kafka_message_errstr(m));
				r = -1;
			} else {
				log_msg(x->cfg->verbosity, LOG_DEBUG, "kafka: %s", rd_kafka_message_errstr(m));
			}
		} else if (p && !p->done) {
			last = texp_now();
			lasterr = RD_KAFKA_RESP_ERR_NO_ERROR;
			if (m->offset < p->cut)
				r = texp_record(x, m);
			p->next = m->offset + 1;
		}
		if (p && !p->done && p->next >= p->cut) {
			p->done = 1;
			left--;
			last = texp_now();
		}
		rd_kafka_message_destroy(m);
		if (r < 0)
			goto out;
	}
	if (store_commit(x->st, x->err, sizeof(x->err)) < 0)
		return -1;
	ret = 0;
out:
	if (ret < 0 && store_in_tx(x->st))
		store_rollback(x->st);
	rd_kafka_assign(rk, NULL);
	return ret;
}

static int texp_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The closed point: the least closed_until over every partition of every
 * input topic named (WM_NONE while one has no marker). *have counts the
 * partitions with a marker, *all the partitions known; held names the one
 * that holds it back. */
static int64_t texp_closed(struct texp *x, int *have, int *all, char *held, size_t heldlen,
                           const struct texp_marker **heldm)
{
	int64_t closed = INT64_MAX;
	int missing = 0;

	*have = *all = 0;
	*heldm = NULL;
	snprintf(held, heldlen, "no marker in %s yet", x->cfg->from_topic);
	if (x->ntopics)
		qsort(x->topics, x->ntopics, sizeof(*x->topics), texp_cmp_str);
	for (size_t t = 0; t < x->ntopics; t++) {
		int32_t parts = 0;
		for (size_t i = 0; i < x->nmk; i++)
			if (!strcmp(x->mk[i].topic, x->topics[t]) && x->mk[i].parts > parts)
				parts = x->mk[i].parts;
		if (parts == 0) { /* partials but no marker at all */
			if (!missing++)
				snprintf(held, heldlen, "held back by %s (partials, no marker of any partition)", x->topics[t]);
			continue;
		}
		for (int32_t p = 0; p < parts; p++) {
			const struct texp_marker *m = texp_marker_find(x, x->topics[t], p);
			(*all)++;
			if (!m) {
				if (!missing++)
					snprintf(held, heldlen, "held back by %s [%" PRId32 "] (no marker)", x->topics[t], p);
				continue;
			}
			(*have)++;
			if (!x->newest || m->written_ms > x->newest->written_ms)
				x->newest = m;
			if (!missing && m->closed_until < closed) {
				char b[FMT_BUF];
				closed = m->closed_until;
				*heldm = m;
				fmt_time_or(closed, "none", b);
				snprintf(held, heldlen, "held back by %s [%" PRId32 "] (closed until %s)", x->topics[t], p, b);
			}
		}
	}
	return missing || closed == INT64_MAX ? WM_NONE : closed;
}

/* The partition that holds the export back has had no new marker for
 * --stalled-after while others had: the group no longer reads it (its
 * topic left --topics) or its member is stuck.  Said plainly, with the way
 * out. */
static void texp_stalled(const struct texp *x, const struct texp_marker *h)
{
	const struct texp_marker *n = x->newest;
	if (!h || !n || n->written_ms - h->written_ms < x->cfg->stalled_us / 1000)
		return;
	char since[FMT_BUF], until[FMT_BUF];
	fmt_time_ms(h->written_ms * 1000, since);
	fmt_time_or(h->closed_until, "none", until);
	log_msg(x->cfg->verbosity, LOG_WARN, "export from %s is held back by %s [%" PRId32 "]: its last marker (closed "
	        "until %s) was written at %s, %" PRId64 " s before the newest (%s [%" PRId32 "]): does the group still "
	        "read %s? If not, --ignore-topic %s leaves it out", x->cfg->from_topic, h->topic, h->partition, until,
	        since, (n->written_ms - h->written_ms) / 1000, n->topic, n->partition, h->topic, h->topic);
}

/* Contract: see topicexport.h. */
/* The partials go to a state file beside the output (tmp gets its name):
 * its directory is writable (else exit 4 before Kafka is asked), and a crash
 * leaves a named file, not a full /tmp.  AGG_EXIT_OK, or an exit code after
 * the error is logged. */
static int texp_scratch(struct texp *x, char *tmp, size_t tmplen)
{
	const struct agg_config *cfg = x->cfg;
	const char *slash = strrchr(cfg->output_path, '/');

	snprintf(tmp, tmplen, "%.*s.%s.texp-XXXXXX", slash ? (int)(slash - cfg->output_path + 1) : 0,
	         cfg->output_path, slash ? slash + 1 : cfg->output_path);
	int chk = export_check_target(cfg->output_path, tmp, 0, x->err, sizeof(x->err));
	if (chk < 0) {
		log_msg(cfg->verbosity, LOG_ERROR, "%s", x->err);
		return chk == EXPORT_ESAME ? AGG_EXIT_USAGE : AGG_EXIT_OUTPUT;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int en = errno;
		log_msg(cfg->verbosity, LOG_ERROR, "output %s: cannot create a file in its directory: %s",
		        cfg->output_path, strerror(en));
		tmp[0] = 0;
		return en == ENOSPC || en == EDQUOT || en == EIO ? AGG_EXIT_RUNTIME : AGG_EXIT_OUTPUT;
	}
	close(fd);
	return AGG_EXIT_OK;
}

/* The CSV rewritten with every window all input partitions have closed;
 * never one that lacks rows a previous export wrote (exit 5).  An exit code. */
static int texp_write(struct texp *x)
{
	const struct agg_config *cfg = x->cfg;
	char held[300], when[FMT_BUF];
	int have, all;
	const struct texp_marker *heldm;
	int64_t closed = texp_closed(x, &have, &all, held, sizeof(held), &heldm), bytes = 0, rows = 0;

	texp_stalled(x, heldm);
	int r = export_rewrite_growing(cfg->output_path, cfg->columns, x->st, closed, &bytes, &rows, x->err,
	                               sizeof(x->err));
	if (r == EXPORT_ESHRINK) {
		size_t l = strlen(x->err);
		snprintf(x->err + l, sizeof(x->err) - l, ": %s no longer holds records the previous export read "
		         "(deleted by retention, or the topic deleted and made again); %s left as it was (move it away "
		         "to write what the topic holds now)", cfg->from_topic, cfg->output_path);
		return AGG_EXIT_DATA_LOSS;
	}
	if (r < 0)
		return r == EXPORT_ESPACE || r == EXPORT_ESTATE ? AGG_EXIT_RUNTIME : AGG_EXIT_OUTPUT;
	fmt_time_or(closed, "none", when);
	log_msg(cfg->verbosity, LOG_INFO, "export from %s: %" PRId64 " windows (%" PRId64 " bytes) to %s; closed until "
	        "%s: %d of %d input partitions have a marker, %s; read %" PRId64 " partials, %" PRId64
	        " markers, %" PRId64 " withdrawn, %" PRId64 " skipped%s%s%s", cfg->from_topic, rows, bytes,
	        cfg->output_path, when, have, all, held, x->partials, x->markers, x->tombstones, x->malformed,
	        cfg->ignore_topics ? "; left out: " : "", cfg->ignore_topics ? cfg->ignore_topics : "",
	        cfg->ignore_topics ? " (--ignore-topic)" : "");
	return AGG_EXIT_OK;
}

/* The scratch state and its -wal/-shm removed, the tables freed. */
static void texp_free(struct texp *x, const char *tmp)
{
	char side[620];

	store_close(x->st);
	if (tmp[0]) {
		unlink(tmp);
		snprintf(side, sizeof(side), "%s-wal", tmp);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", tmp);
		unlink(side);
	}
	for (size_t i = 0; i < x->nmk; i++)
		free(x->mk[i].topic);
	free(x->mk);
	for (size_t i = 0; i < x->ntopics; i++)
		free(x->topics[i]);
	free(x->topics);
	free(x->parts);
}

int texp_command(const struct agg_config *cfg, volatile sig_atomic_t *stop)
{
	struct texp x = { .cfg = cfg };
	struct consume_hooks hooks = { .verbosity = cfg->verbosity };
	rd_kafka_t *cut = NULL, *rk = NULL;
	char tmp[600] = "";
	int rc = texp_scratch(&x, tmp, sizeof(tmp));

	if (rc != AGG_EXIT_OK) {
		texp_free(&x, tmp);
		return rc;
	}
	rc = AGG_EXIT_RUNTIME;
	if (store_open(&x.st, tmp, NULL, 0, x.err, sizeof(x.err)) < 0)
		goto out;
	if (!(cut = texp_cut_handle(&x, &hooks, &rc)))
		goto out;
	rc = AGG_EXIT_RUNTIME;
	if (texp_cuts(&x, cut) < 0)
		goto out;
	/* The reader: the aggregator's consumer (read_committed, end-of-partition
	 * events, the user's -X), assigned every partition, no group joined. */
	struct agg_config one = *cfg;
	one.topics[0] = cfg->from_topic;
	one.ntopics = 1;
	if (!(rk = consume_new(&one, &hooks, &rc, x.err, sizeof(x.err))))
		goto out;
	rc = AGG_EXIT_RUNTIME;
	if (texp_read(&x, rk, stop) < 0)
		goto out;
	rc = texp_write(&x);
out:
	if (rc != AGG_EXIT_OK)
		log_msg(cfg->verbosity, LOG_ERROR, "%s", x.err[0] ? x.err : "export failed");
	if (rk) {
		rd_kafka_consumer_close(rk);
		rd_kafka_destroy(rk);
	}
	if (cut)
		rd_kafka_destroy(cut);
	texp_free(&x, tmp);
	return rc;
}

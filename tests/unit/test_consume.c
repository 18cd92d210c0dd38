/*
 * test_consume.c - the aggregator's Kafka glue (aggregator/consume.c) against
 * librdkafka's mock cluster in this process: where partitions new to the state
 * start (the state's offset, else the group's, else auto.offset.reset, or
 * --start-at), and where the first message then comes from; --assign and
 * subscribe both calling the hooks; commits; the configuration (-X dump, a
 * refused property, cooperative-sticky on librdkafka 2.0); the nudger thread.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "consume.h"
#include "harness.h"
#include "kafka_harness.h"
#include "log.h"

#define NPART 3
static const int msgs_in[NPART] = { 5, 7, 9 }; /* messages per partition of topic c1 */

/* What the hooks saw, per partition of the one topic. */
struct seen {
	int64_t state_off[NPART];   /* what on_assign says the state has (INVALID: new) */
	int fail_assign;            /* on_assign fails (the state unreadable) */
	int assigns, starts, revokes, lost, commits;
	int64_t start_off[NPART];   /* on_started: the offset each starts at */
	void *start_from[NPART];    /* and where it came from (elem .opaque) */
	int nrevoked;               /* partitions of the last revoke */
	rd_kafka_resp_err_t commit_err;
	int64_t commit_off;         /* the first offset of the last commit result */
};

static int on_assign(void *opaque, rd_kafka_topic_partition_list_t *parts)
{
	struct seen *s = opaque;
	s->assigns++;
	if (s->fail_assign)
		return -1;
	for (int i = 0; i < parts->cnt; i++)
		if (parts->elems[i].partition < NPART)
			parts->elems[i].offset = s->state_off[parts->elems[i].partition];
	return 0;
}

static void on_started(void *opaque, const rd_kafka_topic_partition_list_t *parts)
{
	struct seen *s = opaque;
	s->starts++;
	for (int i = 0; i < parts->cnt; i++) {
		int32_t p = parts->elems[i].partition;
		if (p < NPART) {
			s->start_off[p] = parts->elems[i].offset;
			s->start_from[p] = parts->elems[i].opaque;
		}
	}
}

static void on_revoke(void *opaque, const rd_kafka_topic_partition_list_t *parts, int lost)
{
	struct seen *s = opaque;
	s->revokes++;
	s->lost += lost;
	s->nrevoked = parts->cnt;
}

static void on_commit(void *opaque, rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t *offs)
{
	struct seen *s = opaque;
	s->commits++;
	s->commit_err = err;
	s->commit_off = offs && offs->cnt ? offs->elems[0].offset : -999;
}

static void hooks_init(struct consume_hooks *h, struct seen *s, int64_t start_at)
{
	memset(s, 0, sizeof(*s));
	for (int p = 0; p < NPART; p++) {
		s->state_off[p] = RD_KAFKA_OFFSET_INVALID;
		s->start_off[p] = -999;
	}
	memset(h, 0, sizeof(*h));
	h->opaque = s;
	h->verbosity = LOG_ERROR;
	h->start_at = start_at;
	h->on_assign = on_assign;
	h->on_revoke = on_revoke;
	h->on_started = on_started;
	h->on_commit = on_commit;
}

/* cfg from an aggregator command line: -q -b BROKERS -t TOPIC -g GROUP and
 * up to three more arguments (NULL ends them). */
static int config(struct agg_config *cfg, const char *brokers, const char *topic, const char *group,
                  const char *a1, const char *a2, const char *a3)
{
	/* the state and output are never opened here */
	const char *args[] = { "-q", "-b", brokers, "-t", topic, "-g", group, "--state", "/nonexistent/state.db",
	                       "--output", "/nonexistent/output.csv", a1, a2, a3, NULL };
	return t_agg_config(cfg, args);
}

/* A consumer for cfg with the hooks (a check named what); NULL when there is
 * none, cfg then freed. */
static rd_kafka_t *consumer(struct agg_config *cfg, struct consume_hooks *h, const char *what)
{
	char err[512] = "";
	int code = 0;
	rd_kafka_t *rk = consume_new(cfg, h, &code, err, sizeof(err));

	T_OK(rk != NULL, "%s", what);
	if (!rk) {
		printf("# %s\n", err);
		cli_free(cfg);
	}
	return rk;
}

/* The offset of the first message of each partition the consumer reads
 * (-1: none within the time). */
static void first_offsets(rd_kafka_t *rk, int64_t first[NPART])
{
	int got = 0;
	for (int p = 0; p < NPART; p++)
		first[p] = -1;
	for (int i = 0; i < 100 && got < NPART; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (!m->err && m->partition < NPART && first[m->partition] < 0) {
			first[m->partition] = m->offset;
			got++;
		}
		rd_kafka_message_destroy(m);
	}
}

/* --assign: consume_new + consume_start, the first message of each partition
 * read, closed.  0, or -1 with err. */
static int assign_run(const char *brokers, const char *group, struct consume_hooks *h, const char *x,
                      int64_t first[NPART], char *err, size_t errlen)
{
	struct agg_config cfg;
	int code = 0, rc = -1;
	rd_kafka_t *rk;

	if (config(&cfg, brokers, "c1", group, "--assign", x ? "-X" : NULL, x) < 0)
		return -1;
	rk = consume_new(&cfg, h, &code, err, errlen);
	if (rk) {
		rc = consume_start(rk, &cfg, h, err, errlen);
		if (rc == 0 && first)
			first_offsets(rk, first);
		consume_close(rk, 5000);
	}
	cli_free(&cfg);
	return rc;
}

static void test_commit(const char *brokers)
{
	struct consume_hooks h;
	struct seen s;
	struct agg_config cfg;

	hooks_init(&h, &s, CONSUME_START_GROUP);
	if (config(&cfg, brokers, "c1", "g1", "--assign", NULL, NULL) < 0)
		return;
	rd_kafka_t *rk = consumer(&cfg, &h, "consume_new: a consumer");
	if (!rk)
		return;
	rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(offs, "c1", 1)->offset = 4;
	T_INT(consume_commit(rk, offs, 5000), RD_KAFKA_RESP_ERR_NO_ERROR, "a sync commit of c1/1 at 4");
	rd_kafka_topic_partition_list_destroy(offs);

	rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(q, "c1", 1);
	T_INT(rd_kafka_committed(rk, q, 10000), RD_KAFKA_RESP_ERR_NO_ERROR, "the group's offsets read back");
	T_INT(q->elems[0].offset, 4, "the group has c1/1 at 4");
	rd_kafka_topic_partition_list_destroy(q);

	/* nothing to commit is no error: the engine sends empty batches' offsets */
	offs = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(offs, "c1", 0)->offset = RD_KAFKA_OFFSET_INVALID;
	T_INT(consume_commit(rk, offs, 5000), RD_KAFKA_RESP_ERR_NO_ERROR, "a commit without an offset: no error");
	rd_kafka_topic_partition_list_destroy(offs);
	T_INT(s.commits, 0, "sync commits: on_commit not called without a poll");
	consume_close(rk, 5000);
	cli_free(&cfg);
}

/* Where partitions start with --assign: the state's offset first, else the
 * group's, else auto.offset.reset (looked up: not left logical). */
static void test_assign_offsets(const char *brokers)
{
	struct consume_hooks h;
	struct seen s;
	char err[512] = "";
	int64_t first[NPART];

	hooks_init(&h, &s, CONSUME_START_GROUP);
	s.state_off[0] = 2; /* the state has p0; the group has p1 at 4 (test_commit) */
	T_INT(assign_run(brokers, "g1", &h, NULL, first, err, sizeof(err)), 0, "--assign: started");
	T_INT(s.assigns, 1, "on_assign once, with every partition");
	T_INT(s.starts, 1, "on_started once");
	T_INT(s.start_off[0], 2, "p0: the state's offset");
	T_OK(s.start_from[0] == NULL, "p0: not from the group or a reset");
	T_INT(s.start_off[1], 4, "p1: new to the state, the group's offset");
	T_OK(s.start_from[1] == CONSUME_FROM_GROUP, "p1: CONSUME_FROM_GROUP");
	T_INT(s.start_off[2], 0, "p2: no offset anywhere, earliest resolved to the log's start");
	T_OK(s.start_from[2] == CONSUME_FROM_RESET, "p2: CONSUME_FROM_RESET");
	T_INT(first[0], 2, "p0's first message read: offset 2");
	T_INT(first[1], 4, "p1's first message read: offset 4");
	T_INT(first[2], 0, "p2's first message read: offset 0");
	T_INT(s.revokes, 0, "--assign: no revoke at close (no group membership)");

	hooks_init(&h, &s, CONSUME_START_GROUP);
	T_INT(assign_run(brokers, "g-new", &h, "auto.offset.reset=latest", NULL, err, sizeof(err)), 0,
	      "--assign -X auto.offset.reset=latest: started");
	for (int p = 0; p < NPART; p++) {
		char name[80];
		snprintf(name, sizeof(name), "latest: p%d at the log's end (%d)", p, msgs_in[p]);
		T_INT(s.start_off[p], msgs_in[p], name);
	}
	T_OK(s.start_from[2] == CONSUME_FROM_RESET, "latest: CONSUME_FROM_RESET");
}

/* --start-at earliest / latest: the group's offsets are not asked; the state's
 * offset still wins. */
static void test_start_at(const char *brokers)
{
	struct consume_hooks h;
	struct seen s;
	char err[512] = "";
	int64_t first[NPART];

	hooks_init(&h, &s, -1);
	s.state_off[0] = 3;
	T_INT(assign_run(brokers, "g1", &h, NULL, first, err, sizeof(err)), 0, "--start-at latest: started");
	T_INT(s.start_off[0], 3, "latest: p0 at the state's offset");
	T_INT(s.start_off[1], msgs_in[1], "latest: p1 at its end, not the group's 4");
	T_OK(s.start_from[1] == CONSUME_FROM_START, "latest: CONSUME_FROM_START");
	T_INT(s.start_off[2], msgs_in[2], "latest: p2 at its end");
	T_INT(first[0], 3, "p0's first message read: offset 3");

	hooks_init(&h, &s, -2);
	T_INT(assign_run(brokers, "g1", &h, NULL, NULL, err, sizeof(err)), 0, "--start-at earliest: started");
	T_INT(s.start_off[1], 0, "earliest: p1 at its start, not the group's 4");
	T_OK(s.start_from[1] == CONSUME_FROM_START, "earliest: CONSUME_FROM_START");
}

static void test_assign_errors(const char *brokers)
{
	struct consume_hooks h;
	struct seen s;
	char err[512] = "";

	hooks_init(&h, &s, CONSUME_START_GROUP);
	s.fail_assign = 1;
	T_INT(assign_run(brokers, "g1", &h, NULL, NULL, err, sizeof(err)), -1, "on_assign failing: consume_start fails");
	T_STR(err, "cannot read the state of the partitions", "and says why");
	T_INT(s.starts, 0, "on_started not called");

	struct agg_config cfg;
	hooks_init(&h, &s, CONSUME_START_GROUP);
	if (config(&cfg, brokers, "^c.*", "g1", "--assign", NULL, NULL) < 0)
		return;
	rd_kafka_t *rk = consumer(&cfg, &h, "a consumer for a pattern");
	if (!rk)
		return;
	T_INT(consume_start(rk, &cfg, &h, err, sizeof(err)), -1, "--assign with a pattern: refused");
	T_STR(err, "--assign takes topic names, not patterns (^c.*)", "and says why");
	consume_close(rk, 5000);
	cli_free(&cfg);
}

/* A group member: the rebalance callback calls on_assign and on_started with
 * the offsets resolved, assigns; an async commit's result comes to
 * on_commit; closing revokes through on_revoke (not lost). */
static void test_subscribe(const char *brokers)
{
	struct consume_hooks h;
	struct seen s;
	struct agg_config cfg;
	char err[512] = "";

	hooks_init(&h, &s, CONSUME_START_GROUP);
	s.state_off[2] = 8;
	if (config(&cfg, brokers, "c1", "g-sub", NULL, NULL, NULL) < 0)
		return;
	rd_kafka_t *rk = consumer(&cfg, &h, "a group member");
	if (!rk)
		return;
	T_INT(consume_start(rk, &cfg, &h, err, sizeof(err)), 0, "subscribed");
	int64_t first[NPART] = { -1, -1, -1 };
	for (int i = 0; i < 300 && (first[0] < 0 || first[2] < 0); i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (m && !m->err && m->partition < NPART && first[m->partition] < 0)
			first[m->partition] = m->offset;
		if (m)
			rd_kafka_message_destroy(m);
	}
	T_INT(s.assigns, 1, "the rebalance called on_assign");
	T_INT(s.starts, 1, "and on_started");
	T_INT(s.start_off[0], 0, "p0: no offset anywhere, the log's start");
	T_OK(s.start_from[0] == CONSUME_FROM_RESET, "p0: CONSUME_FROM_RESET");
	T_INT(s.start_off[2], 8, "p2: the state's offset");
	T_INT(first[0], 0, "p0's first message: offset 0");
	T_INT(first[2], 8, "p2's first message: offset 8");
	rd_kafka_topic_partition_list_t *a = NULL;
	T_INT(rd_kafka_assignment(rk, &a), RD_KAFKA_RESP_ERR_NO_ERROR, "the assignment");
	T_INT(a ? a->cnt : -1, NPART, "every partition assigned");
	if (a)
		rd_kafka_topic_partition_list_destroy(a);

	rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(offs, "c1", 0)->offset = 3;
	T_INT(consume_commit(rk, offs, 0), RD_KAFKA_RESP_ERR_NO_ERROR, "an async commit of c1/0 at 3");
	rd_kafka_topic_partition_list_destroy(offs);
	for (int i = 0; i < 100 && !s.commits; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (m)
			rd_kafka_message_destroy(m);
	}
	T_INT(s.commits, 1, "on_commit called from the poll");
	T_INT(s.commit_err, RD_KAFKA_RESP_ERR_NO_ERROR, "the commit succeeded");
	T_INT(s.commit_off, 3, "with its offset");

	consume_close(rk, 5000);
	T_INT(s.revokes, 1, "closing revoked through on_revoke");
	T_INT(s.nrevoked, NPART, "every partition");
	T_INT(s.lost, 0, "not as lost");
	cli_free(&cfg);
}

/* consume_dump's output (stdout) in buf. */
static int dump(struct agg_config *cfg, char *buf, size_t n, char *err, size_t errlen)
{
	char tmp[] = "/tmp/test_consume.XXXXXX";
	int fd = mkstemp(tmp), saved = dup(1), code;
	ssize_t got;

	fflush(stdout);
	dup2(fd, 1);
	code = consume_dump(cfg, err, errlen);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	got = read(fd, buf, n - 1);
	buf[got > 0 ? got : 0] = '\0';
	close(fd);
	unlink(tmp);
	return code;
}

static void test_config(const char *brokers)
{
	static char buf[65536];
	struct agg_config cfg;
	struct consume_hooks h;
	struct seen s;
	char err[512] = "";
	int code;

	if (config(&cfg, brokers, "c1", "g1", "-X", "fetch.wait.max.ms=100", NULL) < 0)
		return;
	T_INT(dump(&cfg, buf, sizeof(buf), err, sizeof(err)), AGG_EXIT_OK, "-X dump: exit 0");
	T_OK(strstr(buf, "\nenable.auto.commit = false\n") != NULL, "dump: our default enable.auto.commit=false");
	T_OK(strstr(buf, "\nisolation.level = read_committed\n") != NULL, "dump: isolation.level=read_committed");
	T_OK(strstr(buf, "\nfetch.max.bytes = 1048576\n") != NULL, "dump: fetch.max.bytes=1048576");
	T_OK(strstr(buf, "\nfetch.wait.max.ms = 100\n") != NULL, "dump: -X wins over our default (25)");
	T_OK(strstr(buf, "\ngroup.id = g1\n") != NULL, "dump: the group");
	cli_free(&cfg);

	if (config(&cfg, brokers, "c1", "g1", "-X", "no.such.property=1", NULL) < 0)
		return;
	T_INT(dump(&cfg, buf, sizeof(buf), err, sizeof(err)), AGG_EXIT_USAGE, "an unknown -X property: exit 2");
	T_OK(strncmp(err, "kafka property no.such.property=1: ", 35) == 0, "and names it");
	hooks_init(&h, &s, CONSUME_START_GROUP);
	code = 0;
	T_OK(consume_new(&cfg, &h, &code, err, sizeof(err)) == NULL, "consume_new refuses it too");
	T_INT(code, AGG_EXIT_USAGE, "as a usage error");
	cli_free(&cfg);

	/* librdkafka before 2.1: the incremental rebalance could leave a
	 * partition read by two members; only --assign needs no rebalance */
	int old = rd_kafka_version() < 0x02010000;
	if (config(&cfg, brokers, "c1", "g1", "-X", "partition.assignment.strategy=cooperative-sticky", NULL) < 0)
		return;
	err[0] = '\0';
	code = dump(&cfg, buf, sizeof(buf), err, sizeof(err));
	T_INT(code, old ? AGG_EXIT_USAGE : AGG_EXIT_OK, "cooperative-sticky: refused only before librdkafka 2.1");
	T_OK(!old || strstr(err, "cooperative-sticky is refused with librdkafka") != NULL, "and says why");
	cli_free(&cfg);
	if (config(&cfg, brokers, "c1", "g1", "--assign", "-X", "partition.assignment.strategy=cooperative-sticky") < 0)
		return;
	T_INT(dump(&cfg, buf, sizeof(buf), err, sizeof(err)), AGG_EXIT_OK, "cooperative-sticky with --assign: accepted");
	cli_free(&cfg);
}

/* The nudger hands one request at a time to its thread and stops cleanly. */
static void test_nudger(const char *brokers)
{
	struct consume_nudger n;
	struct consume_hooks h;
	struct seen s;
	struct agg_config cfg;
	int idle = 0;

	memset(&n, 0, sizeof(n));
	consume_nudger_post(&n, "c1", 0); /* not running: nothing */
	T_INT(n.pending, 0, "a post before start does nothing");
	hooks_init(&h, &s, CONSUME_START_GROUP);
	if (config(&cfg, brokers, "c1", "g1", "--assign", NULL, NULL) < 0)
		return;
	rd_kafka_t *rk = consumer(&cfg, &h, "a consumer for the nudger");
	if (!rk)
		return;
	T_INT(consume_nudger_start(&n, rk), 0, "the nudger starts");
	T_INT(n.running, 1, "running");
	consume_nudger_post(&n, "c1", 2);
	T_STR(n.topic, "c1", "a post hands over the topic");
	T_INT(n.partition, 2, "and the partition");
	for (int i = 0; i < 200 && !idle; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&n.lock);
		idle = !n.pending && !n.busy;
		pthread_mutex_unlock(&n.lock);
	}
	T_OK(idle, "the thread took the request and finished it");
	consume_nudger_stop(&n);
	T_INT(n.running, 0, "stopped");
	consume_nudger_stop(&n); /* twice: nothing */
	consume_close(rk, 5000);
	cli_free(&cfg);
}

int main(void)
{
	rd_kafka_t *rk = t_mock_producer();
	T_OK(rk != NULL, "a producer with a mock cluster of one broker");
	if (!rk)
		return t_done();
	rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(rk);
	const char *brokers = rd_kafka_mock_cluster_bootstraps(mc);
	rd_kafka_mock_topic_create(mc, "c1", NPART, 1);
	for (int p = 0; p < NPART; p++)
		for (int i = 0; i < msgs_in[p]; i++)
			rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("c1"), RD_KAFKA_V_PARTITION(p),
			                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE("x", 1), RD_KAFKA_V_END);
	T_INT(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR, "21 messages in 3 partitions");

	test_commit(brokers);
	test_assign_offsets(brokers);
	test_start_at(brokers);
	test_assign_errors(brokers);
	test_subscribe(brokers);
	test_config(brokers);
	test_nudger(brokers);

	rd_kafka_destroy(rk);
	return t_done();
}

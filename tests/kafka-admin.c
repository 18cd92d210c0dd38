/*
 * kafka-admin - the few Kafka admin requests the tests need, against any
 * broker (Apache Kafka, or kafka-mock where the mock implements them).
 *
 *   kafka-admin -b BROKERS create NAME[:PARTITIONS] [key=value]...
 *   kafka-admin -b BROKERS delete NAME...
 *   kafka-admin -b BROKERS partitions NAME:TOTAL
 *   kafka-admin -b BROKERS group-offsets GROUP TOPIC[:PARTITIONS]...
 *   kafka-admin -b BROKERS configs TOPIC
 *   kafka-admin -b BROKERS txn TRANSACTIONAL_ID TOPIC
 *   kafka-admin -b BROKERS ends TOPIC...
 *
 * create:        CreateTopics, replication factor 1 unless -r, with topic
 *                configs (retention.bytes=..., segment.bytes=...); an
 *                existing topic is an error.
 * delete:        DeleteTopics.
 * partitions:    CreatePartitions: the topic grows to TOTAL partitions.
 * group-offsets: the group's committed offsets (OffsetFetch), one line per
 *                partition "TOPIC PARTITION OFFSET" (-1: none committed).
 * configs:       the topic's configuration (DescribeConfigs), "key=value"
 *                a line, sorted as the broker gives them.
 * txn:           a transactional producer driven line by line from stdin,
 *                so that a test can hold a transaction open while something
 *                else happens: "PARTITION KEY|VALUE" produces a record
 *                ("KEY|": a NULL value) in the open transaction (begun at
 *                the first record after a commit or abort); "flush" waits
 *                until its records are at the broker; "commit", "abort".
 *                Each of those three answers one line on stdout (flushed,
 *                committed, aborted) once done.  At EOF a transaction still
 *                open is left so, for the broker to abort at its timeout.
 * ends:          each partition's end offset (the high watermark), one line
 *                per partition "TOPIC PARTITION END" (scripts/demo.sh: where
 *                a replay into existing topics begins).
 *
 * Kafka's own CLI tools do the same (scripts/kafka topics|groups), but start
 * a JVM each time; the tests call these in their setup and in loops.
 * Exit: 0 ok, 1 the request failed (the broker's error on stderr), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#define TIMEOUT_MS 30000
#define MAX_PARTS  10000

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: kafka-admin -b BROKERS [-r REPLICATION] COMMAND ARGS...\n"
		"  create NAME[:PARTITIONS] [key=value]...    CreateTopics with configs\n"
		"  delete NAME...                             DeleteTopics\n"
		"  partitions NAME:TOTAL                      CreatePartitions: grow to TOTAL\n"
		"  group-offsets GROUP TOPIC[:PARTITIONS]...  committed offsets, TOPIC PARTITION OFFSET\n"
		"  configs TOPIC                              DescribeConfigs, key=value lines\n"
		"  txn TRANSACTIONAL_ID TOPIC                 stdin: PART KEY|VALUE, flush, commit, abort\n"
		"  ends TOPIC...                              end offsets, TOPIC PARTITION END\n"
		"Exit: 0 ok, 1 request failed, 2 usage.\n");
}

/* NAME[:N] into name (in place) and partitions (dflt without :N). */
static int split_spec(char *spec, int dflt, int *parts)
{
	char *c = strrchr(spec, ':'), *end;
	long v;

	*parts = dflt;
	if (!c)
		return *spec ? 0 : -1;
	*c = '\0';
	errno = 0;
	v = strtol(c + 1, &end, 10);
	if (errno || *end || end == c + 1 || v < 1 || v > MAX_PARTS || !*spec)
		return -1;
	*parts = (int)v;
	return 0;
}

/* Waits for the admin result of type want on q; NULL with errstr on failure. */
static rd_kafka_event_t *wait_result(rd_kafka_queue_t *q, rd_kafka_event_type_t want,
				     char *errstr, size_t errsz)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS + 5000);

	if (!ev) {
		snprintf(errstr, errsz, "no answer within %d ms", TIMEOUT_MS + 5000);
		return NULL;
	}
	if (rd_kafka_event_type(ev) != want || rd_kafka_event_error(ev)) {
		snprintf(errstr, errsz, "%s", rd_kafka_event_error_string(ev));
		rd_kafka_event_destroy(ev);
		return NULL;
	}
	return ev;
}

static int topic_results(const rd_kafka_topic_result_t **tr, size_t cnt)
{
	int bad = 0;
	size_t i;

	for (i = 0; i < cnt; i++) {
		if (rd_kafka_topic_result_error(tr[i])) {
			fprintf(stderr, "kafka-admin: %s: %s\n", rd_kafka_topic_result_name(tr[i]),
				rd_kafka_topic_result_error_string(tr[i]));
			bad = 1;
		}
	}
	return bad;
}

static int cmd_create(rd_kafka_t *rk, rd_kafka_queue_t *q, int repl, int argc, char **argv,
		      char *errstr, size_t errsz)
{
	rd_kafka_NewTopic_t *nt;
	rd_kafka_event_t *ev;
	const rd_kafka_topic_result_t **tr;
	size_t cnt;
	int parts, i, rc;

	if (argc < 1 || split_spec(argv[0], 1, &parts)) {
		snprintf(errstr, errsz, "create: NAME[:PARTITIONS] expected");
		return 2;
	}
	nt = rd_kafka_NewTopic_new(argv[0], parts, repl, errstr, errsz);
	if (!nt)
		return 2;
	for (i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq || eq == argv[i]) {
			snprintf(errstr, errsz, "create: key=value expected, not '%s'", argv[i]);
			rd_kafka_NewTopic_destroy(nt);
			return 2;
		}
		*eq = '\0';
		rd_kafka_NewTopic_set_config(nt, argv[i], eq + 1);
	}
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	rd_kafka_NewTopic_destroy(nt);
	ev = wait_result(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, errstr, errsz);
	if (!ev)
		return 1;
	tr = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
	rc = topic_results(tr, cnt);
	rd_kafka_event_destroy(ev);
	if (rc)
		snprintf(errstr, errsz, "create failed");
	return rc;
}

static int cmd_partitions(rd_kafka_t *rk, rd_kafka_queue_t *q, int argc, char **argv,
			  char *errstr, size_t errsz)
{
	rd_kafka_NewPartitions_t *np;
	rd_kafka_event_t *ev;
	const rd_kafka_topic_result_t **tr;
	size_t cnt;
	int parts, rc;

	if (argc != 1 || !strchr(argv[0], ':') || split_spec(argv[0], 1, &parts)) {
		snprintf(errstr, errsz, "partitions: NAME:TOTAL expected");
		return 2;
	}
	np = rd_kafka_NewPartitions_new(argv[0], (size_t)parts, errstr, errsz);
	if (!np)
		return 2;
	rd_kafka_CreatePartitions(rk, &np, 1, NULL, q);
	rd_kafka_NewPartitions_destroy(np);
	ev = wait_result(q, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT, errstr, errsz);
	if (!ev)
		return 1;
	tr = rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &cnt);
	rc = topic_results(tr, cnt);
	rd_kafka_event_destroy(ev);
	if (rc)
		snprintf(errstr, errsz, "partitions failed");
	return rc;
}

static int cmd_delete(rd_kafka_t *rk, rd_kafka_queue_t *q, int argc, char **argv,
		      char *errstr, size_t errsz)
{
	rd_kafka_DeleteTopic_t **dt;
	rd_kafka_event_t *ev;
	const rd_kafka_topic_result_t **tr;
	size_t cnt;
	int i, rc;

	if (argc < 1) {
		snprintf(errstr, errsz, "delete: NAME expected");
		return 2;
	}
	dt = calloc((size_t)argc, sizeof(*dt));
	if (!dt) {
		snprintf(errstr, errsz, "out of memory");
		return 1;
	}
	for (i = 0; i < argc; i++)
		dt[i] = rd_kafka_DeleteTopic_new(argv[i]);
	rd_kafka_DeleteTopics(rk, dt, (size_t)argc, NULL, q);
	rd_kafka_DeleteTopic_destroy_array(dt, (size_t)argc);
	free(dt);
	ev = wait_result(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT, errstr, errsz);
	if (!ev)
		return 1;
	tr = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
	rc = topic_results(tr, cnt);
	rd_kafka_event_destroy(ev);
	if (rc)
		snprintf(errstr, errsz, "delete failed");
	return rc;
}

static int cmd_group_offsets(rd_kafka_t *rk, rd_kafka_queue_t *q, int argc, char **argv,
			     char *errstr, size_t errsz)
{
	rd_kafka_topic_partition_list_t *want;
	rd_kafka_ListConsumerGroupOffsets_t *req;
	const rd_kafka_group_result_t **gr;
	const rd_kafka_topic_partition_list_t *got;
	rd_kafka_event_t *ev;
	size_t cnt;
	int i, p, parts, rc = 0;

	if (argc < 2) {
		snprintf(errstr, errsz, "group-offsets: GROUP TOPIC[:PARTITIONS]... expected");
		return 2;
	}
	want = rd_kafka_topic_partition_list_new(argc);
	for (i = 1; i < argc; i++) {
		if (split_spec(argv[i], 1, &parts)) {
			snprintf(errstr, errsz, "group-offsets: bad TOPIC[:PARTITIONS] '%s'", argv[i]);
			rd_kafka_topic_partition_list_destroy(want);
			return 2;
		}
		for (p = 0; p < parts; p++)
			rd_kafka_topic_partition_list_add(want, argv[i], p);
	}
	req = rd_kafka_ListConsumerGroupOffsets_new(argv[0], want);
	rd_kafka_topic_partition_list_destroy(want);
	rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, NULL, q);
	rd_kafka_ListConsumerGroupOffsets_destroy(req);
	ev = wait_result(q, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT, errstr, errsz);
	if (!ev)
		return 1;
	gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
		rd_kafka_event_ListConsumerGroupOffsets_result(ev), &cnt);
	if (cnt != 1 || rd_kafka_group_result_error(gr[0])) {
		snprintf(errstr, errsz, "%s", cnt == 1 ? rd_kafka_error_string(rd_kafka_group_result_error(gr[0]))
						       : "no group in the answer");
		rd_kafka_event_destroy(ev);
		return 1;
	}
	got = rd_kafka_group_result_partitions(gr[0]);
	for (i = 0; got && i < got->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &got->elems[i];

		if (tp->err) {
			fprintf(stderr, "kafka-admin: %s [%d]: %s\n", tp->topic, tp->partition,
				rd_kafka_err2str(tp->err));
			rc = 1;
			continue;
		}
		printf("%s %d %lld\n", tp->topic, tp->partition,
		       (long long)(tp->offset < 0 ? -1 : tp->offset));
	}
	rd_kafka_event_destroy(ev);
	if (rc)
		snprintf(errstr, errsz, "group-offsets failed");
	return rc;
}

static int cmd_configs(rd_kafka_t *rk, rd_kafka_queue_t *q, int argc, char **argv,
		       char *errstr, size_t errsz)
{
	rd_kafka_ConfigResource_t *cr;
	const rd_kafka_ConfigResource_t **res;
	const rd_kafka_ConfigEntry_t **ents;
	rd_kafka_event_t *ev;
	size_t cnt, n, i;

	if (argc != 1) {
		snprintf(errstr, errsz, "configs: TOPIC expected");
		return 2;
	}
	cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, argv[0]);
	rd_kafka_DescribeConfigs(rk, &cr, 1, NULL, q);
	rd_kafka_ConfigResource_destroy(cr);
	ev = wait_result(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, errstr, errsz);
	if (!ev)
		return 1;
	res = rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &cnt);
	if (cnt != 1 || rd_kafka_ConfigResource_error(res[0])) {
		snprintf(errstr, errsz, "%s", cnt == 1 ? rd_kafka_ConfigResource_error_string(res[0]) : "no answer");
		rd_kafka_event_destroy(ev);
		return 1;
	}
	ents = rd_kafka_ConfigResource_configs(res[0], &n);
	for (i = 0; i < n; i++) {
		const char *v = rd_kafka_ConfigEntry_value(ents[i]);
		printf("%s=%s\n", rd_kafka_ConfigEntry_name(ents[i]), v ? v : "");
	}
	rd_kafka_event_destroy(ev);
	return 0;
}

/* One step of cmd_txn: a transactional call that failed says why. */
static int txn_step(rd_kafka_error_t *e, const char *what, char *errstr, size_t errsz)
{
	if (!e)
		return 0;
	snprintf(errstr, errsz, "txn: %s: %s", what, rd_kafka_error_string(e));
	rd_kafka_error_destroy(e);
	return 1;
}

static int cmd_txn(const char *brokers, int argc, char **argv, char *errstr, size_t errsz)
{
	char line[8192];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	int open = 0, rc = 0;

	if (argc != 2) {
		snprintf(errstr, errsz, "txn: TRANSACTIONAL_ID TOPIC expected");
		return 2;
	}
	conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errsz) ||
	    rd_kafka_conf_set(conf, "transactional.id", argv[0], errstr, errsz) ||
	    rd_kafka_conf_set(conf, "log_level", "3", errstr, errsz)) {
		rd_kafka_conf_destroy(conf);
		return 2;
	}
	if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errsz))) {
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	rc = txn_step(rd_kafka_init_transactions(rk, TIMEOUT_MS), "init", errstr, errsz);
	while (!rc && fgets(line, sizeof(line), stdin)) {
		char *bar, *key, *end;
		long part;

		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(line, "flush")) {
			rc = rd_kafka_flush(rk, TIMEOUT_MS) ? 1 : 0;
			if (rc)
				snprintf(errstr, errsz, "txn: flush: records still queued after %d ms", TIMEOUT_MS);
			else
				printf("flushed\n");
		} else if (!strcmp(line, "commit") || !strcmp(line, "abort")) {
			int commit = line[0] == 'c';
			if (open)
				rc = txn_step(commit ? rd_kafka_commit_transaction(rk, TIMEOUT_MS)
						     : rd_kafka_abort_transaction(rk, TIMEOUT_MS), line, errstr, errsz);
			open = 0;
			if (!rc)
				printf("%s\n", commit ? "committed" : "aborted");
		} else {
			errno = 0;
			part = strtol(line, &key, 10);
			bar = strchr(key, '|');
			if (errno || key == line || *key != ' ' || !bar || part < 0 || part > MAX_PARTS) {
				snprintf(errstr, errsz, "txn: 'PARTITION KEY|VALUE' expected, not '%.200s'", line);
				rc = 2;
				break;
			}
			key++;
			if (!open && (rc = txn_step(rd_kafka_begin_transaction(rk), "begin", errstr, errsz)))
				break;
			open = 1;
			end = bar + 1;
			if (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[1]), RD_KAFKA_V_PARTITION((int32_t)part),
					      RD_KAFKA_V_KEY(key, (size_t)(bar - key)),
					      RD_KAFKA_V_VALUE(*end ? end : NULL, strlen(end)),
					      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) {
				snprintf(errstr, errsz, "txn: produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
				rc = 1;
			}
		}
		fflush(stdout);
		rd_kafka_poll(rk, 0);
	}
	rd_kafka_destroy(rk);
	return rc;
}

/* Every partition's end offset of each topic, from the metadata's partition
 * count and a watermark query per partition (a missing topic is an error). */
static int cmd_ends(rd_kafka_t *rk, int argc, char **argv, char *errstr, size_t errsz)
{
	int i, p, rc = 0;

	if (argc < 1) {
		snprintf(errstr, errsz, "ends: TOPIC expected");
		return 2;
	}
	for (i = 0; i < argc && !rc; i++) {
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, argv[i], NULL);
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_resp_err_t err;

		err = rd_kafka_metadata(rk, 0, rkt, &md, TIMEOUT_MS);
		if (!err && (md->topic_cnt != 1 || md->topics[0].err))
			err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
		for (p = 0; !err && p < md->topics[0].partition_cnt; p++) {
			int64_t lo, hi;

			err = rd_kafka_query_watermark_offsets(rk, argv[i], p, &lo, &hi, TIMEOUT_MS);
			if (!err)
				printf("%s %d %lld\n", argv[i], p, (long long)hi);
		}
		if (err) {
			snprintf(errstr, errsz, "ends: %s: %s", argv[i], rd_kafka_err2str(err));
			rc = 1;
		}
		if (md)
			rd_kafka_metadata_destroy(md);
		rd_kafka_topic_destroy(rkt);
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"replication", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *brokers = getenv("KAFKA_BROKERS");
	char errstr[512] = "";
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk = NULL;
	rd_kafka_queue_t *q = NULL;
	int c, repl = 1, rc = 2;

	while ((c = getopt_long(argc, argv, "+b:r:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			brokers = optarg;
			break;
		case 'r': {
			char *end;
			long v = strtol(optarg, &end, 10);
			repl = *optarg && !*end && v >= 1 && v <= 32 ? (int)v : 0;
			if (!repl) {
				usage(stderr);
				return 2;
			}
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!brokers || optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[optind], "txn")) { /* a producer of its own */
		rc = cmd_txn(brokers, argc - optind - 1, argv + optind + 1, errstr, sizeof(errstr));
		goto done;
	}
	conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr))) {
		rd_kafka_conf_destroy(conf);
		goto done;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		rc = 1;
		goto done;
	}
	q = rd_kafka_queue_new(rk);
	argv += optind + 1;
	argc -= optind + 1;
	if (!strcmp(argv[-1], "create"))
		rc = cmd_create(rk, q, repl, argc, argv, errstr, sizeof(errstr));
	else if (!strcmp(argv[-1], "partitions"))
		rc = cmd_partitions(rk, q, argc, argv, errstr, sizeof(errstr));
	else if (!strcmp(argv[-1], "delete"))
		rc = cmd_delete(rk, q, argc, argv, errstr, sizeof(errstr));
	else if (!strcmp(argv[-1], "group-offsets"))
		rc = cmd_group_offsets(rk, q, argc, argv, errstr, sizeof(errstr));
	else if (!strcmp(argv[-1], "configs"))
		rc = cmd_configs(rk, q, argc, argv, errstr, sizeof(errstr));
	else if (!strcmp(argv[-1], "ends"))
		rc = cmd_ends(rk, argc, argv, errstr, sizeof(errstr));
	else
		snprintf(errstr, sizeof(errstr), "unknown command '%s'", argv[-1]);
done:
	if (rc)
		fprintf(stderr, "kafka-admin: %s\n", errstr);
	if (rc == 2 && !*errstr)
		usage(stderr);
	if (q)
		rd_kafka_queue_destroy(q);
	if (rk)
		rd_kafka_destroy(rk);
	return rc;
}

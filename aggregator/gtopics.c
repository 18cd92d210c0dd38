/*
 * gtopics.c - see gtopics.h.
 */
#include "gtopics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define GTOPICS_TIMEOUT_MS 30000

/* Sets a topic's configs; the names in pairs, NULL-terminated. */
static void gtopics_set(rd_kafka_NewTopic_t *nt, const char *const *kv)
{
	for (; kv[0]; kv += 2)
		rd_kafka_NewTopic_set_config(nt, kv[0], kv[1]);
}

/* CreateTopics for both; one that exists is left as it is. */
static int gtopics_create(rd_kafka_t *rk, const struct agg_config *c, int parts, struct gtopics_made *made,
                          char *err, size_t errlen)
{
	/* Compacted, and cleaned soon: a changelog is read whole at a restore. */
	static const char *const changelog[] = { "cleanup.policy", "compact", "segment.ms", "600000",
	                                         "min.cleanable.dirty.ratio", "0.1", NULL };
	/* Compacted: each key (a window's partial of one input partition, a
	 * partition's marker) is written once or replaced, never withdrawn,
	 * so nothing is ever deleted: the export reads it whole. */
	static const char *const output[] = { "cleanup.policy", "compact", NULL };
	rd_kafka_NewTopic_t *nt[2];
	char e[256];
	int ret = 0;

	nt[0] = rd_kafka_NewTopic_new(c->changelog_topic, parts, -1, e, sizeof(e));
	nt[1] = rd_kafka_NewTopic_new(c->output_topic, 1, -1, e, sizeof(e));
	if (!nt[0] || !nt[1]) {
		snprintf(err, errlen, "topic: %s", e);
		ret = -1;
		goto out;
	}
	gtopics_set(nt[0], changelog);
	gtopics_set(nt[1], output);
	rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_request_timeout(opts, GTOPICS_TIMEOUT_MS, e, sizeof(e));
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, nt, 2, opts, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, GTOPICS_TIMEOUT_MS + 1000);
	const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
	if (!res) {
		snprintf(err, errlen, "CreateTopics: %s", ev ? rd_kafka_event_error_string(ev) : "no answer");
		ret = -1;
	} else {
		size_t n;
		const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
		for (size_t i = 0; i < n && ret == 0; i++) {
			rd_kafka_resp_err_t te = rd_kafka_topic_result_error(tr[i]);
			const char *name = rd_kafka_topic_result_name(tr[i]);
			if (te == RD_KAFKA_RESP_ERR_NO_ERROR) {
				log_msg(c->verbosity, LOG_INFO, "created topic %s", name);
				*(strcmp(name, c->output_topic) ? &made->changelog : &made->output) = 1;
			} else if (te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
				snprintf(err, errlen, "cannot create topic %s: %s", name, rd_kafka_topic_result_error_string(tr[i]));
				ret = -1;
			}
		}
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opts);
out:
	for (int i = 0; i < 2; i++)
		if (nt[i])
			rd_kafka_NewTopic_destroy(nt[i]);
	return ret;
}

/* The value of name among a topic's configs ("" when absent). */
static const char *gtopics_value(const rd_kafka_ConfigResource_t *r, const char *name)
{
	size_t n;
	const rd_kafka_ConfigEntry_t **ents = rd_kafka_ConfigResource_configs(r, &n);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rd_kafka_ConfigEntry_name(ents[i]), name))
			return rd_kafka_ConfigEntry_value(ents[i]) ? rd_kafka_ConfigEntry_value(ents[i]) : "";
	return "";
}

/* One topic's configs: does the broker keep every key's newest record? */
static int gtopics_judge(const rd_kafka_ConfigResource_t *r, const char *what, char *err, size_t errlen)
{
	const char *policy = gtopics_value(r, "cleanup.policy"), *ms = gtopics_value(r, "retention.ms"),
	           *bytes = gtopics_value(r, "retention.bytes");
	int compact = strstr(policy, "compact") != NULL, deletes = strstr(policy, "delete") != NULL;
	int keeps_all = !strcmp(ms, "-1") && (!strcmp(bytes, "-1") || !*bytes);

	if ((compact && !deletes) || keeps_all)
		return 0;
	snprintf(err, errlen, "%s %s: cleanup.policy=%s, retention.ms=%s, retention.bytes=%s: the broker will delete "
	         "records the group needs (%s); make it compacted (kafka-configs.sh --alter --entity-type topics "
	         "--entity-name %s --add-config cleanup.policy=compact) or keep everything (retention.ms=-1)", what,
	         rd_kafka_ConfigResource_name(r), policy, ms, bytes,
	         !strcmp(what, "output topic") ? "the oldest windows would vanish from export --from-topic's CSV"
	                                       : "a partition's state, for the member that gets it next", 
	         rd_kafka_ConfigResource_name(r));
	return GTOPICS_REFUSED;
}

/* DescribeConfigs of both topics, each judged but one just made with ours
 * (the broker may not know it yet). */
static int gtopics_check(rd_kafka_t *rk, const struct agg_config *c, const struct gtopics_made *made, char *err,
                         size_t errlen)
{
	rd_kafka_ConfigResource_t *cr[2] = { rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, c->changelog_topic),
	                                     rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, c->output_topic) };
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	int ret = 0;

	rd_kafka_DescribeConfigs(rk, cr, 2, NULL, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, GTOPICS_TIMEOUT_MS + 1000);
	const rd_kafka_DescribeConfigs_result_t *res = ev ? rd_kafka_event_DescribeConfigs_result(ev) : NULL;
	size_t n = 0;
	const rd_kafka_ConfigResource_t **rs = res && !rd_kafka_event_error(ev)
	                                       ? rd_kafka_DescribeConfigs_result_resources(res, &n) : NULL;
	if (!rs || n != 2) {
		log_msg(c->verbosity, LOG_WARN, "group mode: cannot read the configs of %s and %s (%s): not checked "
		        "whether the broker keeps what the export and a restore need", c->changelog_topic,
		        c->output_topic, ev ? rd_kafka_event_error_string(ev) : "no answer");
		goto out;
	}
	for (size_t i = 0; i < n && ret == 0; i++) {
		const char *name = rd_kafka_ConfigResource_name(rs[i]);
		if (strcmp(name, c->output_topic) ? made->changelog : made->output)
			continue;
		if (rd_kafka_ConfigResource_error(rs[i]))
			log_msg(c->verbosity, LOG_WARN, "group mode: cannot read the configs of %s: %s", name,
			        rd_kafka_ConfigResource_error_string(rs[i]));
		else
			ret = gtopics_judge(rs[i], strcmp(name, c->output_topic) ? "changelog" : "output topic", err,
			                    errlen);
	}
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_ConfigResource_destroy_array(cr, 2);
	return ret;
}

int gtopics_ensure(rd_kafka_t *rk, const struct agg_config *cfg, int parts, struct gtopics_made *made,
                   char *err, size_t errlen)
{
	memset(made, 0, sizeof(*made));
	if (gtopics_create(rk, cfg, parts, made, err, errlen) < 0)
		return -1;
	return made->changelog && made->output ? 0 : gtopics_check(rk, cfg, made, err, errlen);
}

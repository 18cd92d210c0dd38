/*
 * gtopics.h - group mode's two topics (--changelog, --output-topic): made
 * with the settings that keep what a restore and `export --from-topic` read,
 * and an existing one checked for them.
 *
 * Both are read whole, key by key (a restore: the newest record of each key
 * of a partition; the export: every window's partials and every marker), so
 * neither may lose a key's newest record: the topics are created compacted
 * (cleanup.policy=compact: the broker keeps each key's newest record and
 * deletes none by age or size), and an existing one must be compacted
 * without "delete", or delete nothing (retention.ms=-1, retention.bytes=-1).
 */
#ifndef GTOPICS_H
#define GTOPICS_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "config.h"

#define GTOPICS_REFUSED (-3) /* a topic would delete records the group needs */

struct gtopics_made {
	int changelog; /* created by this call */
	int output;
};

/* CreateTopics for what is missing (the changelog with parts partitions,
 * the output topic with one), then DescribeConfigs of both: 0,
 * GTOPICS_REFUSED or -1, with err.  A broker that cannot describe them (an
 * old one, the embedded mock) gets a warning, not a refusal. */
int gtopics_ensure(rd_kafka_t *rk, const struct agg_config *cfg, int parts, struct gtopics_made *made,
                   char *err, size_t errlen);

#endif

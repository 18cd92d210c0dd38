/*
 * record.h - group mode's records (txn.h has their meaning): the text keys and
 * values of the changelog and the output topic.  Written by the members
 * (txn.c), read back by a restore (txn.c) and by export --from-topic
 * (topicexport.c): one definition of the format for all three.
 *
 *   key    p\tTOPIC\tPART | c\tTOPIC\tPART | s\tTOPIC\tPART\tPRODUCT
 *          | w\tTOPIC\tPART\tPRODUCT\tSTART_US\tEND_US
 *   value  p  next_offset max_time rejected time_run time_run_max skew_run skew_first closed_until
 *             fp_time fp_hash ("- -" unknown; records written before them end at closed_until)
 *          s  ticks late duplicates max_sequence jump_seq jump_run back_seq back_run
 *          w  the fields of agg.h's AGG_FIELDS, in order (ticks sum_price
 *             sum_volume_24h max_time max_best_bid max_best_ask)
 *          c  closed_until partitions_of_topic
 * Values are space-separated; doubles in fmt_double's exact form; "-" is a
 * time that is not known yet (WM_NONE).  Pure: no Kafka, no SQLite.
 */
#ifndef RECORD_H
#define RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define REC_TEXT_MAX 1024 /* longest key or value taken (a window's value: ~550) */

/* A parsed key; its strings point into buf. */
struct rec_key {
	char kind;             /* 'p', 's', 'w' or 'c' */
	const char *topic;
	int32_t partition;
	const char *product;   /* s, w */
	int64_t start, end;    /* w */
	char buf[REC_TEXT_MAX];
};

/* Keys: the length written (snprintf's). */
int rec_key_partition(char *buf, size_t len, char kind, const char *topic, int32_t partition); /* p, c */
int rec_key_product(char *buf, size_t len, const char *topic, int32_t partition, const char *product);
int rec_key_window(char *buf, size_t len, const struct store_wkey *k);
/* Values: the length written. */
int rec_val_partition(char *buf, size_t len, const struct store_partition *p);
int rec_val_product(char *buf, size_t len, const struct store_product *pr);
int rec_val_window(char *buf, size_t len, const struct win_agg *a);
/* What a window's value holds, for messages: "<ticks> <sum_price> ...". */
void rec_window_syntax(char *buf, size_t len);
int rec_val_marker(char *buf, size_t len, int64_t closed_until, int32_t topic_parts);

/* The group's settings record (changelog partition 0, key "g\tsettings",
 * value "window_us slide_us delay_us changelog_partitions"): written by the
 * first member, checked by every later one (txn.c). */
struct rec_settings {
	int64_t window_us, slide_us, delay_us; /* --window, --slide, --watermark */
	int32_t changelog_parts;               /* the changelog's partitions when it was first used */
};
int rec_key_settings(char *buf, size_t len);
int rec_is_settings(const void *key, size_t len);
int rec_val_settings(char *buf, size_t len, const struct rec_settings *s);
int rec_parse_settings(const void *val, size_t len, struct rec_settings *s);

/* Parsing, strict (a record of someone else's in the topic is refused, not
 * half-read): 0, or -1 with *why (a key) set. */
int rec_key_parse(const void *key, size_t len, struct rec_key *k, const char **why);
int rec_parse_partition(const void *val, size_t len, struct store_partition *p);
int rec_parse_product(const void *val, size_t len, struct store_product *pr); /* not its id */
int rec_parse_window(const void *val, size_t len, struct win_agg *a);
int rec_parse_marker(const void *val, size_t len, int64_t *closed_until, int32_t *topic_parts);

#endif

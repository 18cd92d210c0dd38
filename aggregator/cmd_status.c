/*
 * cmd_status.c - `aggregator status` (see cmd.h): the state's side from
 * store.c and Kafka's from consume.c, gathered in one view, which is then
 * printed as a table or as JSON.
 */
#include "cmd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "consume.h"
#include "fmt.h"
#include "log.h"
#include "store.h"

/* Everything status prints, read once. */
struct cmdst_view {
	const char *state;               /* the state's path, as given */
	struct store_summary sum;        /* its progress and settings */
	struct store_part_summary *part; /* its partitions, by topic and partition */
	struct consume_pos *kafka;       /* part[i] in Kafka: -1 unknown (or not asked) */
	size_t n, cap;                   /* partitions, and room in part */
	int64_t now;                     /* wall clock when read (us) */
	int64_t newest;                  /* the newest event time of a partition, WM_NONE none */
	int64_t last_commit;             /* wall clock of the last batch (us), 0 none */
	size_t slow;                     /* the partition furthest behind in event time, which
	                                  * holds the watermark back; n when none */
	int64_t bytes, wal_bytes;        /* the state file's size and its -wal's (0 none) */
	int64_t oldest;                  /* the start of its oldest window, WM_NONE none */
	char group[256];                 /* the group the state records (meta group), "" none */
	char held_topic[256];            /* what holds the watermark, as the run recorded it
	                                  * (meta watermark_held_by); "" unknown */
	int held_partition;
	char held_cause[16];             /* event-time, idle, no-tick, never-back */
};

/* What the state takes on disk, and how far back its windows go: --retain
 * keeps both bounded. */
static void cmdst_size(struct cmdst_view *v)
{
	struct stat sb;
	char wal[4200];

	v->bytes = stat(v->state, &sb) == 0 ? (int64_t)sb.st_size : 0;
	snprintf(wal, sizeof(wal), "%s-wal", v->state);
	v->wal_bytes = stat(wal, &sb) == 0 ? (int64_t)sb.st_size : 0;
	v->oldest = v->sum.oldest_end != WM_NONE && v->sum.window_us != WM_NONE ? v->sum.oldest_end - v->sum.window_us
	                                                                        : WM_NONE;
}

/* store_summary_read's callback: keeps a partition (1 stops: out of memory). */
static int cmdst_add(const struct store_part_summary *p, void *arg)
{
	struct cmdst_view *v = arg;
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		struct store_part_summary *np = realloc(v->part, cap * sizeof(*np));
		if (!np)
			return 1;
		v->part = np;
		v->cap = cap;
	}
	v->part[v->n++] = *p;
	return 0;
}

/* Kafka's side of every partition, asked only when brokers were given: a
 * status of the state alone must not wait for a broker. -1 when out of memory. */
static int cmdst_kafka(const struct agg_config *cfg, struct cmdst_view *v)
{
	v->kafka = calloc(v->n ? v->n : 1, sizeof(*v->kafka));
	if (!v->kafka)
		return -1;
	for (size_t i = 0; i < v->n; i++) {
		struct consume_pos *k = &v->kafka[i];
		k->topic = v->part[i].topic;
		k->partition = v->part[i].partition;
		k->group_offset = k->log_start = k->log_end = -1;
	}
	if (cfg->brokers_given && v->n > 0)
		consume_positions(cfg, v->kafka, v->n);
	return 0;
}

/* What the partitions say together: the newest event time, the last commit,
 * and which partition holds the watermark back (the one furthest behind). */
static void cmdst_derive(struct cmdst_view *v)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	v->now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	v->newest = WM_NONE;
	v->last_commit = 0;
	v->slow = v->n;
	for (size_t i = 0; i < v->n; i++) {
		const struct store_part_summary *p = &v->part[i];
		if (p->max_time != WM_NONE && (v->slow == v->n || p->max_time < v->part[v->slow].max_time))
			v->slow = i;
		if (p->max_time > v->newest)
			v->newest = p->max_time;
		if (p->updated_us > v->last_commit)
			v->last_commit = p->updated_us;
	}
}

/* Messages in the log the state has not read: past its offset, or, when it
 * has read nothing of the partition yet (-1), past where a run starts it (the
 * group's offset, else the log's start): an empty partition has none.  -1
 * when Kafka's side is unknown. */
static int64_t cmdst_lag(const struct cmdst_view *v, size_t i)
{
	const struct consume_pos *k = &v->kafka[i];
	int64_t from = v->part[i].next_offset;
	if (from < 0)
		from = k->group_offset >= 0 ? k->group_offset : k->log_start;
	if (k->log_end < 0 || from < 0)
		return -1;
	return k->log_end > from ? k->log_end - from : 0;
}

/* The run's record of what holds the watermark ("TOPIC<TAB>PARTITION<TAB>
 * CAUSE"): a state of an earlier version has none, and status then names the
 * partition furthest behind, as before. */
static void cmdst_held(struct cmdst_view *v, struct store *st)
{
	char rec[400], *tab1, *tab2;

	if (store_meta_get_text(st, "watermark_held_by", rec, sizeof(rec)) != 1)
		return;
	if (!(tab1 = strchr(rec, '\t')) || !(tab2 = strchr(tab1 + 1, '\t')))
		return;
	*tab1 = *tab2 = '\0';
	snprintf(v->held_topic, sizeof(v->held_topic), "%s", rec);
	v->held_partition = atoi(tab1 + 1);
	snprintf(v->held_cause, sizeof(v->held_cause), "%s", tab2 + 1);
}

/* How far the watermark is behind the newest event time beyond its delay:
 * what holds it back costs this much; WM_NONE unknown. */
static int64_t cmdst_held_back(const struct cmdst_view *v)
{
	if (v->sum.watermark == WM_NONE || v->newest == WM_NONE || v->sum.delay_us == WM_NONE)
		return WM_NONE;
	int64_t d = v->newest - (v->sum.watermark + v->sum.delay_us);
	return d > 0 ? d : 0;
}

/* "3.2 s", "4 min", "2.1 h", "5 d"; "-" for WM_NONE */
static void cmdst_age(int64_t us, char *buf, size_t len)
{
	double s = (double)us / 1e6;
	if (us == WM_NONE)
		snprintf(buf, len, "-");
	else if (s < 120)
		snprintf(buf, len, "%.1f s", s);
	else if (s < 7200)
		snprintf(buf, len, "%.0f min", s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%.1f h", s / 3600);
	else
		snprintf(buf, len, "%.0f d", s / 86400);
}

/* An offset or count in the table: "-" when unknown (negative). */
static void cmdst_int(char *buf, size_t len, int64_t v)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%" PRId64, v);
}

static void cmdst_print_size(const struct cmdst_view *v)
{
	char oldest[FMT_BUF], retained[FMT_BUF];

	fmt_time_or(v->oldest, "-", oldest);
	printf("state size %.1f MiB (WAL %.1f MiB), oldest window %s", (double)v->bytes / 1048576,
	       (double)v->wal_bytes / 1048576, oldest);
	if (v->sum.retained_from != WM_NONE) {
		fmt_time_or(v->sum.retained_from, "-", retained);
		printf(", windows before %s dropped (--retain)", retained);
	}
	printf("\n");
}

/* "; held back by ...": the partition and the rule that hold the watermark,
 * as the run recorded them (slow, the partition furthest behind, without). */
static void cmdst_print_held(const struct cmdst_view *v, const struct store_part_summary *slow,
                             const char *slow_behind)
{
	char back[32];
	const char *c = v->held_cause;

	cmdst_age(cmdst_held_back(v), back, sizeof(back));
	if (!v->held_topic[0]) {
		if (slow)
			printf("; held back by %s [%d], %s behind the newest", slow->topic, slow->partition,
			       slow_behind);
	} else if (strcmp(c, "event-time") == 0) {
		printf("; held back by %s [%d] (its event time), %s behind the newest", v->held_topic,
		       v->held_partition, back);
	} else if (strcmp(c, "idle") == 0) {
		printf("; held back by %s [%d], idle (at its end for --idle-timeout): it holds the watermark at "
		       "the event time delivered that long before, %s behind the newest", v->held_topic,
		       v->held_partition, back);
	} else if (strcmp(c, "no-tick") == 0) {
		printf("; held back by %s [%d]: no tick yet, it holds the watermark until it is idle "
		       "(--idle-timeout)", v->held_topic, v->held_partition);
	} else {
		printf("; the watermark stays where it was (it never moves back): %s [%d] is behind it",
		       v->held_topic, v->held_partition);
	}
}

static void cmdst_print_text(const struct cmdst_view *v)
{
	char wm[FMT_BUF], exported[FMT_BUF], newest[FMT_BUF], behind[32], age[32], lag_age[32];
	const struct store_part_summary *slow = v->slow < v->n ? &v->part[v->slow] : NULL;

	fmt_time_or(v->sum.watermark, "-", wm);
	fmt_time_or(v->sum.exported_until, "-", exported);
	fmt_time_or(v->newest, "-", newest);
	cmdst_age(slow && v->newest != WM_NONE ? v->newest - slow->max_time : WM_NONE, behind, sizeof(behind));
	cmdst_age(v->last_commit ? v->now - v->last_commit : WM_NONE, age, sizeof(age));
	cmdst_age(v->newest != WM_NONE ? v->now - v->newest : WM_NONE, lag_age, sizeof(lag_age));
	printf("state %s: watermark %s, exported until %s, %" PRId64 " open windows\n", v->state, wm, exported,
	       v->sum.open_windows);
	cmdst_print_size(v);
	printf("newest event time %s (%s ago); last commit %s ago", newest, lag_age, age);
	cmdst_print_held(v, slow, behind);
	printf("\n\n%-20s %4s %12s %12s %12s %12s %10s %-24s %10s %6s %8s %10s %6s\n", "TOPIC", "PART",
	       "STATE-OFFSET", "GROUP-OFFSET", "LOG-START", "LOG-END", "LAG", "EVENT-TIME", "TICKS", "LATE",
	       "REJECTED", "DUPLICATES", "LOST");
	for (size_t i = 0; i < v->n; i++) {
		const struct store_part_summary *p = &v->part[i];
		char et[FMT_BUF], so[24], g[24], lo[24], hi[24], lag[24];
		fmt_time_or(p->max_time, "-", et);
		cmdst_int(so, sizeof(so), p->next_offset); /* -1: nothing of it read yet */
		cmdst_int(g, sizeof(g), v->kafka[i].group_offset);
		cmdst_int(lo, sizeof(lo), v->kafka[i].log_start);
		cmdst_int(hi, sizeof(hi), v->kafka[i].log_end);
		cmdst_int(lag, sizeof(lag), cmdst_lag(v, i));
		printf("%-20s %4d %12s %12s %12s %12s %10s %-24s %10" PRId64 " %6" PRId64 " %8" PRId64
		       " %10" PRId64 " %6" PRId64 "\n", p->topic, p->partition, so, g, lo, hi, lag,
		       et, p->ticks, p->late, p->rejected, p->duplicates, p->lost);
	}
}

static void cmdst_json_part(const struct cmdst_view *v, size_t i)
{
	const struct store_part_summary *p = &v->part[i];
	const struct consume_pos *k = &v->kafka[i];
	char et[FMT_BUF];

	fmt_time_or(p->max_time, "-", et);
	printf("%s{\"topic\":\"", i ? "," : "");
	fmt_json_str(stdout, p->topic);
	printf("\",\"partition\":%d,\"stateOffset\":%" PRId64 ",\"groupOffset\":%" PRId64
	       ",\"logStart\":%" PRId64 ",\"logEnd\":%" PRId64 ",\"lag\":%" PRId64 ",\"eventTime\":\"%s\","
	       "\"ticks\":%" PRId64 ",\"late\":%" PRId64 ",\"rejected\":%" PRId64 ",\"duplicates\":%" PRId64
	       ",\"lost\":%" PRId64 "}", p->partition, p->next_offset, k->group_offset, k->log_start, k->log_end,
	       cmdst_lag(v, i), et, p->ticks, p->late, p->rejected, p->duplicates, p->lost);
}

static void cmdst_print_json(const struct cmdst_view *v)
{
	char wm[FMT_BUF], exported[FMT_BUF], newest[FMT_BUF], oldest[FMT_BUF], retained[FMT_BUF];
	const struct store_part_summary *slow = v->slow < v->n ? &v->part[v->slow] : NULL;

	fmt_time_or(v->sum.watermark, "-", wm);
	fmt_time_or(v->sum.exported_until, "-", exported);
	fmt_time_or(v->newest, "-", newest);
	fmt_time_or(v->oldest, "-", oldest);
	fmt_time_or(v->sum.retained_from, "-", retained);
	printf("{\"state\":\"");
	fmt_json_str(stdout, v->state);
	printf("\",\"stateBytes\":%" PRId64 ",\"walBytes\":%" PRId64 ",\"oldestWindow\":\"%s\",\"retainedFrom\":\"%s\"",
	       v->bytes, v->wal_bytes, oldest, retained);
	printf(",\"windowUs\":%" PRId64 ",\"delayUs\":%" PRId64 ",\"watermark\":\"%s\","
	       "\"exportedUntil\":\"%s\",\"openWindows\":%" PRId64 ",\"newestEventTime\":\"%s\","
	       "\"lastCommitAgeMs\":%" PRId64 ",\"heldBy\":", v->sum.window_us, v->sum.delay_us, wm, exported,
	       v->sum.open_windows, newest, v->last_commit ? (v->now - v->last_commit) / 1000 : -1);
	if (v->held_topic[0]) {
		int64_t back = cmdst_held_back(v);
		printf("{\"topic\":\"");
		fmt_json_str(stdout, v->held_topic);
		printf("\",\"partition\":%d,\"cause\":\"%s\",\"behindNewestMs\":", v->held_partition,
		       v->held_cause);
		if (back == WM_NONE || strcmp(v->held_cause, "no-tick") == 0)
			printf("null}");
		else
			printf("%" PRId64 "}", back / 1000);
	} else if (slow) {
		printf("{\"topic\":\"");
		fmt_json_str(stdout, slow->topic);
		printf("\",\"partition\":%d,\"behindNewestMs\":%" PRId64 "}", slow->partition,
		       (v->newest - slow->max_time) / 1000);
	} else {
		printf("null");
	}
	printf(",\"partitions\":[");
	for (size_t i = 0; i < v->n; i++)
		cmdst_json_part(v, i);
	printf("]}\n");
}

/* Contract: see cmd.h. */
int cmd_status(const struct agg_config *cfg)
{
	struct cmdst_view v = { .state = cfg->state_path };
	struct store *st = NULL;
	char err[700];
	int rc = AGG_EXIT_USAGE;

	if (consume_check(cfg, err, sizeof(err)) < 0) { /* -X/-F: a usage error, before the state */
		log_msg(cfg->verbosity, LOG_ERROR, "%s", err);
		goto out;
	}
	rc = AGG_EXIT_STATE;
	if (store_open(&st, cfg->state_path, NULL, 1, err, sizeof(err)) < 0) {
		log_msg(cfg->verbosity, LOG_ERROR, "%s", err);
		goto out;
	}
	/* -g defaults to the group the state's aggregator ran in (it records
	 * it), not to the run's default: a state of group G would show G's
	 * offsets as '-' otherwise. */
	struct agg_config asked = *cfg;
	if (!cfg->group_given && store_meta_get_text(st, "group", v.group, sizeof(v.group)) == 1)
		asked.group = v.group;
	cmdst_held(&v, st);
	int r = store_summary_read(st, &v.sum, cmdst_add, &v, err, sizeof(err));
	store_close(st); /* before Kafka is asked, which can take seconds */
	if (r < 0) {
		log_msg(cfg->verbosity, LOG_ERROR, "%s", err);
		goto out;
	}
	rc = AGG_EXIT_RUNTIME;
	if (r > 0 || cmdst_kafka(&asked, &v) < 0) {
		log_msg(cfg->verbosity, LOG_ERROR, "out of memory");
		goto out;
	}
	cmdst_derive(&v);
	cmdst_size(&v);
	if (cfg->status_json)
		cmdst_print_json(&v);
	else
		cmdst_print_text(&v);
	rc = AGG_EXIT_OK;
out:
	free(v.part);
	free(v.kafka);
	return rc;
}

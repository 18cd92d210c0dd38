/*
 * engine_int.h - what the parts of the engine share, and nothing outside
 * them includes: the engine's state, its partitions, and the few functions
 * one part calls in another.
 *
 *   engine_state.c  clocks, log, fatal errors, the partition table, the
 *                 watermark, the batch's state transaction (the bottom)
 *   engine.c      the loop: poll, when a batch is due, start and finish
 *   ingest.c      a message in: offsets checked, the tick parsed, its
 *                 sequence and time confirmed, into its windows
 *   batch.c       the batch handed to the sink and committed
 *   rebalance.c   partitions assigned and revoked, the group's offsets
 *   report.c      the progress line and JSON, /metrics
 *   report_live.c what the live page shows: status, open windows, health, events
 *   sink_local.c  the batch into SQLite and output.csv, offsets to the group
 *                 after COMMIT (sink.h)
 *   sink_group.c  the batch into a Kafka transaction, then SQLite (sink.h)
 */
#ifndef ENGINE_INT_H
#define ENGINE_INT_H

#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "consume.h"
#include "crash.h"
#include "log.h"
#include "progress.h"
#include "store.h"
#include "window.h"

struct sink;

struct eng_product {
	struct store_product s;  /* counters and max sequence, as stored */
	int dirty;               /* changed since the last commit */
};

struct eng_part {
	char *topic;
	int32_t partition;
	struct store_partition s;     /* next offset, max event time, rejected */
	struct eng_product *products;
	uint32_t nproducts, capproducts;
	int assigned;                 /* currently assigned to us */
	int dirty;                    /* changed since the last commit */
	int eof;                      /* at the end of the partition, nothing since */
	int fetched;                  /* delivered a message since it was assigned */
	int64_t eof_since;            /* wall clock (us) of reaching the end */
	int64_t group_offset;         /* offset the group has confirmed (-1 unknown) */
	int64_t commit_sent;          /* monotonic time its offset last went to the group */
	int64_t start_offset;         /* where a partition new to the state started (-1 unknown) */
	int64_t revoked_at;           /* wall clock (us) of its revocation, 0 if never */
	int64_t gap_ok_at;            /* next offset a gap was checked at and found in the log (-1) */
	int64_t reported;             /* next offset at the last progress report (-1) */
	int32_t topic_parts;          /* group mode: partitions of its topic, for the markers */
	int topic_product;            /* its topic is named after a product: only its ticks belong */
	int64_t foreign;              /* ticks of another product rejected this run (for the warnings) */
	rd_kafka_message_t *last;     /* the record read last, held until the batch notes its fingerprint */
	int fp_check;                 /* the record at next_offset - 1 is read again and compared */
	int clock_run;                /* ticks in a row ahead of the clock by more than --max-skew */
	int64_t clock_first;          /* offset of the first of that run */
	int64_t clock_last_us;        /* event time of the last of that run */
};

/* A clock fault: this many ticks in a row of a partition more than
 * --max-skew ahead of the clock stop the aggregator (AGG_EXIT_CLOCK).  While
 * such a run is open the batch is not committed (so that a fault commits
 * none of them), for at most ENG_CLOCK_HOLD_US: a lone tick dated ahead is
 * followed by ticks on time within it, and a run of two or more that lasts
 * that long is a clock fault as well (eng_clock_held). */
#define ENG_CLOCK_RUN 20
#define ENG_CLOCK_HOLD_US 10000000

/* Upper bounds (us) of the batch duration histogram (--metrics). */
#define ENG_HIST_N 10
extern const int64_t eng_hist_le[ENG_HIST_N];

struct eng_stats {
	int64_t msgs, ticks, late, rejected, duplicates, rows, batches, lost;
	int64_t batch_us_total, batch_us_max;
	int64_t batch_hist[ENG_HIST_N + 1]; /* batches per bucket (not cumulative), the last +Inf */
	int64_t busy_us;  /* time not spent waiting in rd_kafka_consumer_poll */
};

struct engine {
	const struct agg_config *cfg;
	struct store *st;
	struct sink *sink;            /* where a batch goes: sink_local or sink_group */
	rd_kafka_t *rk;
	struct consume_hooks hooks;
	struct consume_nudger nudger;
	struct httpd *metrics;        /* --http (--metrics), NULL when off */
	struct live *live;            /* what the server thread reads from the state */
	int64_t metrics_at;           /* monotonic time of the last publish */
	int64_t live_at;              /* the same for the live page's snapshots */
	int64_t live_event_at;        /* the last commit event with the status in it */
	int64_t live_waiting;         /* messages known to wait, at the last status (/healthz) */
	int64_t commit_mono, commit_wall; /* the last commit (0 before one) */
	struct eng_part *parts;       /* every partition ever assigned; indices are stable */
	size_t nparts, capparts;
	size_t last_part;             /* index eng_part_find found last */
	struct wm_input *wm;          /* scratch for wm_compute */
	struct win_table wins;        /* open windows */
	size_t win_cache;             /* more than this many: drop stored ones (eng_drop_passed) */
	int64_t watermark;            /* current, in memory */
	int64_t wm_floor;             /* wm_compute_floor's floor at the last eng_watermark */
	struct wm_holder held;        /* what holds the watermark (tag: index in parts) */
	char held_text[300];          /* held as the state's meta watermark_held_by has it */
	struct wm_history delivered;  /* when the largest event time delivered grew */
	int64_t stored_watermark;     /* as in the state */
	int64_t exported_until;       /* every window ending at or before it is written out */
	int64_t batch_msgs;           /* messages in the open batch */
	int dirty;                    /* something to commit */
	int close_pending;            /* a window closed: commit and export soon */
	int rejected_full;            /* said once: the rejected table is at its budget */
	int64_t brokers_down;         /* monotonic time since no broker is reachable, 0 if one is */
	int64_t probed_at;            /* while none is: the last probe asked (consume_nudger_probe) */
	int clock_runs;               /* partitions with a clock_run open: the batch waits */
	int64_t clock_since;          /* monotonic time the first of them opened */
	int exit_code;                /* set on a fatal error */
	char err[1024];
	struct eng_stats total, last; /* progress: totals, and totals at the last report */
	int64_t last_progress;
	char run_id[37];              /* a UUID for this run, in the progress JSON */
	struct progress_source *sources; /* scratch for the progress report */
	int64_t started;
	int64_t *starts;              /* scratch for win_assign */
	struct crash crash;           /* the test build's crash points */
};

/* engine_state.c */
int64_t eng_now(void);  /* wall clock, us */
int64_t eng_mono(void); /* monotonic, us */
void eng_log(const struct engine *e, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Records the first fatal error; the loop stops and main exits with code. */
void eng_fatal(struct engine *e, int code, const char *msg);
/* Exit code for a state failure: 1 when it can pass (disk full), else 3. */
int eng_state_code(const struct engine *e);
struct eng_part *eng_part_find(struct engine *e, const char *topic, int32_t partition);
struct eng_part *eng_part_add(struct engine *e, const char *topic, int32_t partition);
struct eng_product *eng_product_get(struct eng_part *p, const char *id, uint32_t *idx);
/* Reads a partition's products from the state into p. 0, or -1. */
int eng_load_products(struct engine *e, struct eng_part *p);
/* Opens the batch's state transaction at its first change: 0, or -1 after eng_fatal. */
int eng_tx(struct engine *e);
/* The watermark over the assigned partitions, at wall clock now. */
void eng_watermark(struct engine *e, int64_t now);
/* What holds the watermark, into the batch's state (meta watermark_held_by,
 * "TOPIC<TAB>PARTITION<TAB>CAUSE", for `status`) when it changed. 0, or -1. */
int eng_store_held(struct engine *e, char *err, size_t errlen);
/* batch.c: the batch to the sink, committed.  sync: the group's offsets waited for. */
int eng_flush(struct engine *e, int sync);

/* ingest.c: one message (or a consumer event) into the open batch; m is
 * the engine's then (destroyed, or held as its partition's last record). */
void eng_message(struct engine *e, rd_kafka_message_t *m);
/* A client-level error (consume.h's on_error; opaque is the engine). */
void eng_kafka_error(void *opaque, rd_kafka_resp_err_t err, const char *reason);
/* A broker answered again after none was reachable. */
void eng_brokers_up(struct engine *e);
/* The fingerprint of a partition's last record into p->s, the record let go. */
void eng_fp_take(struct eng_part *p);
/* 1 when a run of ticks ahead of the clock outlasted ENG_CLOCK_HOLD_US: a
 * clock fault, the engine stopping (ingest.c). */
int eng_clock_held(struct engine *e, int64_t mono);
/* The last record let go without its fingerprint. */
void eng_fp_drop(struct eng_part *p);

/* rebalance.c: the consumer's hooks. */
void rebalance_hooks(struct engine *e);

/* report.c */
void report_run_id(char out[37]);
void report_progress(struct engine *e, int64_t mono, int final);
void report_metrics(struct engine *e, int64_t mono, int force);

/* report_live.c (only with --http): the status and open windows snapshots and
 * /healthz's verdict, at most once a second (force: now); after a commit, its
 * event (windows that closed after closed_from, read by the server thread). */
void report_live(struct engine *e, int64_t mono, int force);
void report_commit(struct engine *e, int64_t closed_from);

#endif

/*
 * engine_state.c - what every part of the engine uses (engine_int.h): the
 * clocks, the log and the first fatal error, the table of partitions and
 * their products, the watermark over them, and the batch's state
 * transaction opened at its first change.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_int.h"
#include "floordiv.h"
#include "tick.h"

int64_t eng_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t eng_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void eng_log(const struct engine *e, enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(e->cfg->verbosity, level, fmt, ap);
	va_end(ap);
}

/* Exit code for a state failure: a fault that can pass (disk full, I/O
 * error) exits 1 so a supervisor restarts us later; the state resumes at its
 * last commit. Anything else about the file exits 3. */
int eng_state_code(const struct engine *e)
{
	return e->st && store_transient(e->st) ? AGG_EXIT_RUNTIME : AGG_EXIT_STATE;
}


void eng_fatal(struct engine *e, int code, const char *msg)
{
	if (e->exit_code)
		return;
	e->exit_code = code;
	snprintf(e->err, sizeof(e->err), "%s", msg);
}

/* Consecutive messages mostly come from the same partition: try the last
 * one found before searching. */
struct eng_part *eng_part_find(struct engine *e, const char *topic, int32_t partition)
{
	struct eng_part *p = e->last_part < e->nparts ? &e->parts[e->last_part] : NULL;
	if (p && p->partition == partition && strcmp(p->topic, topic) == 0)
		return p;
	for (size_t i = 0; i < e->nparts; i++)
		if (e->parts[i].partition == partition && strcmp(e->parts[i].topic, topic) == 0) {
			e->last_part = i;
			return &e->parts[i];
		}
	return NULL;
}

struct eng_part *eng_part_add(struct engine *e, const char *topic, int32_t partition)
{
	if (e->nparts == e->capparts) {
		size_t cap = e->capparts ? e->capparts * 2 : 8;
		/* Each array that grew is kept; capparts moves once all three did. */
		struct eng_part *np = realloc(e->parts, cap * sizeof(*np));
		if (np)
			e->parts = np;
		struct wm_input *nw = np ? realloc(e->wm, cap * sizeof(*nw)) : NULL;
		if (nw)
			e->wm = nw;
		struct progress_source *ns = nw ? realloc(e->sources, cap * sizeof(*ns)) : NULL;
		if (!ns)
			return NULL;
		e->sources = ns;
		e->capparts = cap;
	}
	struct eng_part *p = &e->parts[e->nparts];
	memset(p, 0, sizeof(*p));
	p->topic = strdup(topic);
	if (!p->topic)
		return NULL;
	p->partition = partition;
	p->topic_product = tick_topic_is_product(topic);
	e->nparts++;
	return p;
}

struct eng_product *eng_product_get(struct eng_part *p, const char *id, uint32_t *idx)
{
	for (uint32_t i = 0; i < p->nproducts; i++)
		if (strcmp(p->products[i].s.product_id, id) == 0) {
			*idx = i;
			return &p->products[i];
		}
	if (p->nproducts == p->capproducts) {
		uint32_t cap = p->capproducts ? p->capproducts * 2 : 4;
		struct eng_product *np = realloc(p->products, cap * sizeof(*np));
		if (!np)
			return NULL;
		p->products = np;
		p->capproducts = cap;
	}
	struct eng_product *pr = &p->products[p->nproducts];
	memset(pr, 0, sizeof(*pr));
	snprintf(pr->s.product_id, sizeof(pr->s.product_id), "%s", id);
	seqrule_init(&pr->s.seq);
	*idx = p->nproducts++;
	return pr;
}

/* Does moving the watermark to w close a window not yet exported? Window ends
 * are k * slide + window; count those at or before each point. */
static int eng_closes_window(const struct engine *e, int64_t w)
{
	int64_t size = e->cfg->window_us, slide = e->cfg->slide_us;
	if (e->exported_until == WM_NONE)
		return 1;
	return floor_div(w - size, slide) > floor_div(e->exported_until - size, slide);
}

/* The watermark over the assigned partitions, at wall clock now. */
void eng_watermark(struct engine *e, int64_t now)
{
	size_t n = 0;
	int64_t seen = WM_NONE;
	for (size_t i = 0; i < e->nparts; i++) {
		const struct eng_part *p = &e->parts[i];
		/* Group mode: a revoked partition's closed_until moves with it
		 * (its ticks are late only for what it wrote out itself), so it
		 * need not hold this member's watermark: rows are not held back
		 * by partitions another member owns now. */
		if (!p->assigned && (!p->revoked_at || e->cfg->output_topic))
			continue;
		e->wm[n].max_time = p->s.max_time;
		e->wm[n].tag = i;
		if (p->s.max_time > seen)
			seen = p->s.max_time;
		if (p->assigned) {
			e->wm[n].eof = p->eof;
			e->wm[n].eof_since = p->eof_since;
		} else {
			/* A revoked partition may come back with a backlog: it holds
			 * the watermark like a silent one until --idle-timeout. */
			e->wm[n].eof = 1;
			e->wm[n].eof_since = p->revoked_at;
		}
		n++;
	}
	e->wm_floor = INT64_MAX;
	e->held.cause = WM_HELD_NONE;
	if (n == 0)
		return;
	int64_t idle = e->cfg->idle_timeout_us;
	wm_history_note(&e->delivered, now, seen, idle / 32);
	int64_t w = wm_compute_held(e->wm, n, e->cfg->delay_us, now, idle, e->cfg->available_now,
	                            wm_history_settled(&e->delivered, now, idle), e->watermark, &e->wm_floor,
	                            &e->held);
	if (w != e->watermark) {
		if (eng_closes_window(e, w))
			e->close_pending = 1;
		e->watermark = w;
		e->dirty = 1;
	}
}

int eng_store_held(struct engine *e, char *err, size_t errlen)
{
	static const char *const causes[] = {
		[WM_HELD_NONE] = "", [WM_HELD_EVENT] = "event-time", [WM_HELD_IDLE] = "idle",
		[WM_HELD_NO_TICK] = "no-tick", [WM_HELD_NEVER_BACK] = "never-back",
	};
	char text[sizeof(e->held_text)] = "";

	if (e->held.cause != WM_HELD_NONE && e->held.tag < e->nparts)
		snprintf(text, sizeof(text), "%s\t%d\t%s", e->parts[e->held.tag].topic,
		         (int)e->parts[e->held.tag].partition, causes[e->held.cause]);
	if (strcmp(text, e->held_text) == 0)
		return 0;
	if (store_meta_set_text(e->st, "watermark_held_by", text, err, errlen) < 0)
		return -1;
	snprintf(e->held_text, sizeof(e->held_text), "%s", text); /* eng_flush forgets it on a failure */
	return 0;
}

/* Opens the batch's transaction at its first change. */
int eng_tx(struct engine *e)
{
	char err[512];
	if (store_in_tx(e->st))
		return 0;
	if (store_begin(e->st, err, sizeof(err)) < 0) {
		eng_fatal(e, eng_state_code(e), err);
		return -1;
	}
	return 0;
}


static int eng_load_product(const struct store_product *sp, void *arg)
{
	struct eng_part *p = arg;
	uint32_t idx;
	struct eng_product *pr = eng_product_get(p, sp->product_id, &idx);
	if (!pr)
		return -1;
	pr->s = *sp;
	return 0;
}

int eng_load_products(struct engine *e, struct eng_part *p)
{
	p->nproducts = 0;
	return store_products_each(e->st, p->topic, p->partition, eng_load_product, p);
}

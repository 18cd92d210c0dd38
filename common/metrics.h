/*
 * metrics.h - Prometheus metrics on --metrics HOST:PORT: a thread answers
 * GET /metrics with the text the engine last published (the text exposition
 * format, version 0.0.4); anything else gets 404.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdio.h>

struct metrics;

/* Listens on hostport ("127.0.0.1:9464", ":9464" for every address).
 * 0, or -1 with err (a bad address, a port not ours to take), or
 * METRICS_EINUSE with err when another process listens there: that can pass
 * (the previous run not yet gone), so the programs exit with a code their
 * systemd units restart. */
#define METRICS_EINUSE (-2)
int metrics_start(struct metrics **out, const char *hostport, char *err, size_t errlen);
/* Replaces what is served (copied). */
void metrics_publish(struct metrics *m, const char *text, size_t len);
void metrics_stop(struct metrics *m);
/* Writes a metric family's header to f, "# HELP name help" and "# TYPE name
 * type" (counter, gauge, histogram), for the samples that follow; both
 * programs build their text with it, so the two stay in one format. */
void metrics_family(FILE *f, const char *name, const char *type, const char *help);
/* The port it listens on (the one the kernel chose for port 0). */
int metrics_port(const struct metrics *m);

#endif

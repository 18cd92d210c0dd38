/*
 * metrics.h - the Prometheus text exposition format (version 0.0.4) both
 * programs build for GET /metrics (served by httpd.h).
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdio.h>

/* Writes a metric family's header to f, "# HELP name help" and "# TYPE name
 * type" (counter, gauge, histogram), for the samples that follow; both
 * programs build their text with it, so the two stay in one format. */
void metrics_family(FILE *f, const char *name, const char *type, const char *help);

#endif

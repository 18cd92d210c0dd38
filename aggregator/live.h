/*
 * live.h - the aggregator's side of the live page (docs/live-page.md): what
 * the HTTP server's thread answers from the state, on its own read-only
 * SQLite connection (never the engine's): GET /api/windows, and the closed
 * windows each commit's event carries.  Also `aggregator serve`, where the
 * state alone answers everything.
 */
#ifndef LIVE_H
#define LIVE_H

#include <stdint.h>

#include "httpd.h"

struct live;

/* The handler for httpd_start (h's arg is l).  NULL when out of memory. */
struct live *live_new(const char *state_path, struct httpd_handler *h);
void live_free(struct live *l);
/* The page served at / (embedded from web/aggregator.html). */
extern const char web_aggregator_html[];

#endif

/*
 * cmd_serve.c - `aggregator serve`: the live page over a state file alone
 * (cmd.h).  The server thread answers everything from the state (live.c);
 * nothing here writes, nothing connects to Kafka.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "httpd.h"
#include "live.h"
#include "log.h"

int cmd_serve(const struct agg_config *cfg, volatile sig_atomic_t *stop)
{
	struct httpd_handler h;
	struct httpd *s = NULL;
	struct live *l = NULL;
	sqlite3 *db = NULL;
	char err[512], url[300];
	int rc = AGG_EXIT_RUNTIME;

	/* the file must be there and a SQLite database: said now, not per request */
	if (access(cfg->state_path, R_OK) < 0 ||
	    sqlite3_open_v2(cfg->state_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "SELECT 1 FROM windows LIMIT 1", NULL, NULL, NULL) != SQLITE_OK) {
		log_msg(cfg->verbosity, LOG_ERROR, "serve: %s: no state file to read", cfg->state_path);
		rc = AGG_EXIT_STATE;
		goto out;
	}
	if (!(l = live_new(cfg->state_path, &h))) {
		log_msg(cfg->verbosity, LOG_ERROR, "out of memory");
		goto out;
	}
	const char *addr = cfg->http_addr ? cfg->http_addr : cfg->metrics_addr ? cfg->metrics_addr : "127.0.0.1:0";
	int r = httpd_start(&s, "--http", addr, web_aggregator_html, &h, err, sizeof(err));
	if (r < 0) {
		log_msg(cfg->verbosity, LOG_ERROR, "%s", err);
		rc = r == HTTPD_EINUSE ? AGG_EXIT_RUNTIME : AGG_EXIT_USAGE;
		goto out;
	}
	httpd_url(s, url, sizeof(url));
	log_msg(cfg->verbosity, LOG_INFO, "serving %s read-only: the live page on %s (port %d); Ctrl-C ends",
	        cfg->state_path, url, httpd_port(s));
	while (!*stop)
		usleep(100000);
	rc = AGG_EXIT_OK;
out:
	httpd_stop(s);
	live_free(l);
	sqlite3_close(db);
	return rc;
}

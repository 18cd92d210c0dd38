/*
 * cmd_export.c - `aggregator export` (see cmd.h): the CSV rewritten from the
 * state file through export.c, or from group mode's output topic through
 * topicexport.c (--from-topic).
 */
#include "cmd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "export.h"
#include "fmt.h"
#include "log.h"
#include "rotate.h"
#include "store.h"
#include "topicexport.h"

/* --rotate daily: every day the state holds, each in its file, made anew
 * (the same bytes the run wrote; days --retain dropped are not touched).
 * An exit code. */
static int cmdexp_daily(const struct agg_config *cfg, struct store *st, int64_t until)
{
	char err[700], path[1024], first[1024] = "";
	int64_t after = WM_NONE, end, rows = 0, files = 0, retained = WM_NONE, len = cfg->window_us;
	int f = 0, r = 0;

	store_meta_get(st, "window_us", &len); /* the state's windows, whatever --window says */

	if (until == WM_NONE) {
		log_msg(cfg->verbosity, LOG_INFO, "the state %s has exported no window yet: no day file written",
		        cfg->state_path);
		return AGG_EXIT_OK;
	}
	while (r == 0 && (f = store_first_end(st, after, until, &end, err, sizeof(err))) == 1) {
		int64_t day = rot_day_of_end(end, len), upto = rot_until(day, len), n = 0, bytes;
		if (upto > until)
			upto = until;
		if (rot_path(cfg->output_path, day, path, sizeof(path)) < 0) {
			log_msg(cfg->verbosity, LOG_ERROR, "--output: name too long for --rotate daily");
			return AGG_EXIT_USAGE;
		}
		r = export_check_target(path, cfg->state_path, 0, err, sizeof(err));
		if (r == 0)
			r = export_rewrite(path, cfg->columns, st, rot_after(day, len), upto, &bytes, &n, err,
			                   sizeof(err));
		if (!first[0])
			snprintf(first, sizeof(first), "%s", path);
		rows += n;
		files++;
		after = upto;
	}
	if (r < 0 || f < 0) {
		log_msg(cfg->verbosity, LOG_ERROR, "%s", err);
		return f < 0 || r == EXPORT_ESTATE ? AGG_EXIT_STATE : r == EXPORT_ESPACE ? AGG_EXIT_RUNTIME
		       : r == EXPORT_ESAME ? AGG_EXIT_USAGE : AGG_EXIT_OUTPUT;
	}
	log_msg(cfg->verbosity, LOG_INFO, "wrote %" PRId64 " windows to %" PRId64 " day files (%s to %s)", rows, files,
	        files ? first : "-", files ? path : "-");
	if (store_meta_get(st, "retained_from_us", &retained) == 1) {
		char t[FMT_BUF];
		fmt_time_or(retained, "-", t);
		log_msg(cfg->verbosity, LOG_INFO, "the days before %s were dropped from the state (--retain): their "
		        "files were left as they are", t);
	}
	return AGG_EXIT_OK;
}

/* From the state file, opened read-only (a running aggregator keeps its
 * lock): the whole CSV rewritten with every window it exported -- over a CSV
 * of this state's or a new file, never over another pipeline's. */
static int cmdexp_from_state(const struct agg_config *cfg)
{
	struct store *st = NULL;
	char err[700];
	int64_t until = WM_NONE, bytes = 0, rows = 0;
	int rc = AGG_EXIT_OK;

	int chk = export_check_target(cfg->output_path, cfg->state_path, 0, err, sizeof(err));
	if (chk < 0) {
		log_msg(cfg->verbosity, LOG_ERROR, "%s", err);
		return chk == EXPORT_ESAME ? AGG_EXIT_USAGE : AGG_EXIT_OUTPUT;
	}
	if (store_open(&st, cfg->state_path, NULL, 1, err, sizeof(err)) < 0) {
		log_msg(cfg->verbosity, LOG_ERROR, "%s", err);
		return AGG_EXIT_STATE;
	}
	if (store_meta_get(st, "exported_until_us", &until) < 0)
		until = WM_NONE;
	if (cfg->rotate_daily) {
		rc = cmdexp_daily(cfg, st, until);
		store_close(st);
		return rc;
	}
	int64_t retained;
	if (store_meta_get(st, "retained_from_us", &retained) == 1) {
		char t[FMT_BUF];
		fmt_time_or(retained, "-", t);
		log_msg(cfg->verbosity, LOG_ERROR, "the state %s no longer holds the windows starting before %s "
		        "(--retain): one CSV from it would lack them; nothing written. 'aggregator export --rotate daily' "
		        "writes the days it holds", cfg->state_path, t);
		store_close(st);
		return AGG_EXIT_USAGE;
	}
	char cols[512] = "";
	struct export_record rec = { 0, 0, 0, cols };
	store_meta_get(st, "csv_bytes", &rec.bytes);
	rec.mark_known = store_meta_get(st, "csv_mark", &rec.mark) == 1;
	store_meta_get_text(st, "csv_columns", cols, sizeof(cols));
	int r = export_check_ours(cfg->output_path, cfg->state_path, &rec, st, WM_NONE, until, err, sizeof(err));
	if (r == 0)
		r = export_rewrite(cfg->output_path, cfg->columns, st, WM_NONE, until, &bytes, &rows, err, sizeof(err));
	if (r < 0) {
		log_msg(cfg->verbosity, LOG_ERROR, "%s", err);
		rc = r == EXPORT_ESTATE ? AGG_EXIT_STATE : r == EXPORT_ESPACE ? AGG_EXIT_RUNTIME : AGG_EXIT_OUTPUT;
	} else if (cfg->verbosity >= LOG_INFO) {
		log_msg(cfg->verbosity, LOG_INFO, "wrote %" PRId64 " windows (%" PRId64 " bytes) to %s", rows, bytes,
		        cfg->output_path);
	}
	store_close(st);
	return rc;
}

static int cmdexp_one(const struct agg_config *cfg, volatile sig_atomic_t *stop)
{
	if (cfg->from_topic)
		return texp_command(cfg, stop);
	return cmdexp_from_state(cfg);
}

/* --output -: the CSV on stdout.  It is written as a file is (whole, checked,
 * atomically) into a private directory, then copied out: one way of writing,
 * and a failure leaves stdout empty rather than half a CSV. An exit code. */
static int cmdexp_stdout(const struct agg_config *cfg, volatile sig_atomic_t *stop)
{
	char dir[] = "/tmp/aggregator-export-XXXXXX", path[64], buf[65536];
	struct agg_config c = *cfg;
	int rc;
	size_t n;
	FILE *f;

	if (c.rotate_daily) {
		log_msg(cfg->verbosity, LOG_ERROR, "--output - (stdout) is one CSV: not with --rotate daily");
		return AGG_EXIT_USAGE;
	}
	if (!mkdtemp(dir)) {
		log_msg(cfg->verbosity, LOG_ERROR, "--output -: cannot make a directory in /tmp: %s", strerror(errno));
		return AGG_EXIT_OUTPUT;
	}
	snprintf(path, sizeof(path), "%s/output.csv", dir);
	c.output_path = path;
	c.verbosity = cfg->verbosity < LOG_WARN ? cfg->verbosity : LOG_WARN; /* "wrote ... to /tmp/..." says nothing */
	rc = cmdexp_one(&c, stop);
	if (rc == AGG_EXIT_OK && (f = fopen(path, "rb")) != NULL) {
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			if (fwrite(buf, 1, n, stdout) != n)
				break;
		if (ferror(f) || fflush(stdout) != 0) {
			log_msg(cfg->verbosity, LOG_ERROR, "--output -: cannot write stdout: %s", strerror(errno));
			rc = AGG_EXIT_OUTPUT;
		}
		fclose(f);
	}
	unlink(path);
	rmdir(dir);
	return rc;
}

/* Contract: see cmd.h. */
int cmd_export(const struct agg_config *cfg, volatile sig_atomic_t *stop)
{
	if (!strcmp(cfg->output_path, "-"))
		return cmdexp_stdout(cfg, stop);
	return cmdexp_one(cfg, stop);
}

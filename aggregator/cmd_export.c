/*
 * cmd_export.c - `aggregator export` (see cmd.h): the CSV rewritten from the
 * state file through export.c, or from group mode's output topic through
 * topicexport.c (--from-topic).
 */
#include "cmd.h"

#include <inttypes.h>

#include "config.h"
#include "export.h"
#include "log.h"
#include "store.h"
#include "topicexport.h"

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
	char cols[512] = "";
	struct export_record rec = { 0, 0, 0, cols };
	store_meta_get(st, "csv_bytes", &rec.bytes);
	rec.mark_known = store_meta_get(st, "csv_mark", &rec.mark) == 1;
	store_meta_get_text(st, "csv_columns", cols, sizeof(cols));
	int r = export_check_ours(cfg->output_path, cfg->state_path, &rec, st, until, err, sizeof(err));
	if (r == 0)
		r = export_rewrite(cfg->output_path, cfg->columns, st, until, &bytes, &rows, err, sizeof(err));
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

/* Contract: see cmd.h. */
int cmd_export(const struct agg_config *cfg, volatile sig_atomic_t *stop)
{
	if (cfg->from_topic)
		return texp_command(cfg, stop);
	return cmdexp_from_state(cfg);
}

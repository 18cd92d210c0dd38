/*
 * cli.h - the aggregator's command line: options, environment fallbacks,
 * --help and --version, into a struct agg_config (config.h).
 */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>

#include "config.h"

/* Parses argv into cfg. Returns 0 to run, 1 when --help/--version was printed
 * (exit 0), -1 on a usage error (message in err). */
int cli_parse(int argc, char **argv, struct agg_config *cfg, char *err, size_t errlen);
void cli_free(struct agg_config *cfg);

#endif

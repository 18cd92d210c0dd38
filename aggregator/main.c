/*
 * main.c - aggregator entry point: parses the command line, installs the stop
 * signals and hands over to the engine (the run) or to a command (cmd.h).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "consume.h"
#include "engine.h"
#include "log.h"
#include "member.h"

static volatile sig_atomic_t main_stop; /* set by SIGINT/SIGTERM */

static void main_on_signal(int sig)
{
	(void)sig;
	main_stop = 1;
}

int main(int argc, char **argv)
{
	struct agg_config cfg;
	char err[512] = "";
	int rc = cli_parse(argc, argv, &cfg, err, sizeof(err));

	if (rc != 0) {
		if (rc < 0)
			log_msg(LOG_ERROR, LOG_ERROR, "%s", err);
		cli_free(&cfg);
		return rc < 0 ? AGG_EXIT_USAGE : AGG_EXIT_OK;
	}
	log_set_time(cfg.log_time); /* before librdkafka's threads log */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = main_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (cfg.dump_conf) {
		rc = consume_dump(&cfg, err, sizeof(err));
		if (rc)
			log_msg(LOG_ERROR, LOG_ERROR, "%s", err);
	} else {
		switch (cfg.cmd) {
		case CLI_RUN:
			if (cfg.output_topic && !cfg.member && (rc = member_resolve(&cfg, err, sizeof(err))) != 0) {
				log_msg(LOG_ERROR, LOG_ERROR, "%s", err);
				break;
			}
			rc = engine_run(&cfg, &main_stop);
			break;
		case CLI_EXPORT:
			rc = cmd_export(&cfg, &main_stop);
			break;
		case CLI_STATUS:
			rc = cmd_status(&cfg);
			break;
		case CLI_SERVE:
			rc = cmd_serve(&cfg, &main_stop);
			break;
		}
	}
	cli_free(&cfg);
	return rc;
}

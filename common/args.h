/*
 * args.h - the command-line toolkit both programs parse with: an option
 * table (long name, short letter, what it sets and how it is checked, its
 * --help lines) driven through getopt_long, and the value checks every
 * option of a kind shares: counts, integers in a range, durations, whole
 * seconds, HOST:PORT, and librdkafka's -X key=value / -F FILE properties.
 * Each value is checked here once; errors name the option ("--window: ...").
 */
#ifndef ARGS_H
#define ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ARGS_MAX_PROPS 64
#define ARGS_DURATION_MAX_US (100LL * 366 * 86400 * 1000000) /* 100 years */

/* What an option's argument is, and where it goes (args_opt.off). */
enum args_kind {
	ARGS_FLAG,      /* no argument: int field = 1 */
	ARGS_STR,       /* const char * field = the argument (argv's) */
	ARGS_COUNT,     /* int field: 1 .. INT_MAX */
	ARGS_INT,       /* int field: lo .. hi */
	ARGS_DURATION,  /* int64_t field, microseconds: > 0, at most 100 years */
	ARGS_DURATION0, /* the same, "0" and zero durations allowed */
	ARGS_SECONDS,   /* int field, whole seconds lo .. hi: "90", "90s", "2m" */
	ARGS_HOSTPORT,  /* const char * field: HOST:PORT (args_hostport) */
	ARGS_FN,        /* fn(cfg, arg): anything else; arg NULL without argument */
	ARGS_FN_NOARG,  /* the same, no argument */
	ARGS_HELP,      /* no argument: prints args_usage, the parse returns 1 */
};

struct args_opt {
	const char *name;    /* long name without "--", NULL: short only */
	int key;             /* short letter, or 0: long only */
	enum args_kind kind;
	size_t off;          /* the field set in the config (offsetof) */
	long lo, hi;         /* ARGS_INT, ARGS_SECONDS: the range */
	/* ARGS_FN*: 0, 1 (done: --version printed, the parse returns 1) or -1
	 * with err */
	int (*fn)(void *cfg, const char *arg, char *err, size_t errlen);
	const char *help;    /* its --help lines, verbatim; NULL: not listed */
	unsigned only;       /* 0: in every spec; else only in a spec whose
	                        mask shares a bit (a program's subcommands) */
};

struct args_spec {
	const char *prog;            /* program name, for messages */
	const char *usage_head;      /* --help before the options */
	const struct args_opt *opts; /* the options, in --help's order */
	size_t nopts;
	const char *usage_tail;      /* --help after them */
	unsigned mask;               /* which opts are in it (args_opt.only) */
	const char *help_cmd;        /* "aggregator export --help": named in errors */
};

/* Sets cfg's fields from argv (getopt_long from optind = 1), in order.
 * Returns 0 (optind: the first argument left), 1 (done: --help or an
 * ARGS_FN's 1) or -1 with err, one line (an unknown option, a missing
 * value: "unknown option '--x' (try 'PROG --help')"). */
int args_parse(const struct args_spec *s, int argc, char **argv, void *cfg, char *err, size_t errlen);
/* The --help text: usage_head, every option's help, usage_tail. */
void args_usage(const struct args_spec *s, FILE *out);

/* The value checks, 0 or -1 with err naming opt; *out is set on success only. */
int args_count(const char *opt, const char *arg, int *out, char *err, size_t errlen);
int args_int(const char *opt, const char *arg, long lo, long hi, int *out, char *err, size_t errlen);
int args_duration(const char *opt, const char *arg, int allow_zero, int64_t *us, char *err, size_t errlen);
int args_seconds(const char *opt, const char *arg, long lo, long hi, int *out, char *err, size_t errlen);
/* HOST:PORT, HOST may be empty (every address) or a bracketless IPv6 one
 * (the last ':' splits); PORT 0 .. 65535, 0: one the kernel picks.  host
 * (hostlen bytes) and port may be NULL: only checked. */
int args_hostport(const char *opt, const char *arg, char *host, size_t hostlen, int *port, char *err,
                  size_t errlen);

/* librdkafka properties in the order given, as -X and -F add them. */
struct args_props {
	const char *kv[ARGS_MAX_PROPS][2]; /* key, value (into buf) */
	char *buf[ARGS_MAX_PROPS];         /* owned "key\0value" */
	int n;                             /* entries used */
};

enum { ARGS_X_DUMP = 1, ARGS_X_LIST = 2 };
/* -X ARG: key=value (split at the first '='), or the words dump and list
 * (kcat's: print the configuration, the properties), returned as
 * ARGS_X_DUMP / ARGS_X_LIST for the program to act on.  0, or -1 with err. */
int args_x(struct args_props *p, const char *arg, char *err, size_t errlen);
/* -F FILE (props.h's format): every key=value of the file.  0, or -1 with
 * err ("-F: FILE:LINE: what"). */
int args_f(struct args_props *p, const char *path, char *err, size_t errlen);
void args_props_free(struct args_props *p);

#endif

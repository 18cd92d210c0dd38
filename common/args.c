/*
 * args.c - see args.h.
 */
#include "args.h"

#include "duration.h"
#include "props.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* getopt_long's table is built from the args_opt table; long-only options
 * are told apart by ARGS_LONG_KEY + their index. */
#define ARGS_MAX_OPTS 64
#define ARGS_LONG_KEY 256

/* A whole decimal long, nothing around it; 0 or -1. */
static int args_strtol(const char *arg, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(arg, &end, 10);
	return errno || end == arg || *end ? -1 : 0;
}

int args_count(const char *opt, const char *arg, int *out, char *err, size_t errlen)
{
	long v;

	if (args_strtol(arg, &v) < 0 || v <= 0 || v > INT_MAX) {
		snprintf(err, errlen, "%s: '%s' is not a positive count", opt, arg);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int args_int(const char *opt, const char *arg, long lo, long hi, int *out, char *err, size_t errlen)
{
	long v;

	if (args_strtol(arg, &v) < 0 || v < lo || v > hi || v < INT_MIN || v > INT_MAX) {
		snprintf(err, errlen, "%s: expected an integer in [%ld, %ld], got '%s'", opt, lo, hi, arg);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int args_duration(const char *opt, const char *arg, int allow_zero, int64_t *us, char *err, size_t errlen)
{
	int64_t v;

	if (allow_zero && strcmp(arg, "0") == 0) {
		*us = 0;
		return 0;
	}
	if (duration_parse(arg, &v) < 0 || v < 0 || (!allow_zero && v == 0)) {
		snprintf(err, errlen, "%s: '%s' is not a %sduration (like 30s, 1m, 2h, \"10 minutes\")", opt, arg,
		         allow_zero ? "" : "positive ");
		return -1;
	}
	/* Durations are added to clock and event times: keep every sum far
	 * inside int64 microseconds. */
	if (v > ARGS_DURATION_MAX_US) {
		snprintf(err, errlen, "%s: '%s' is too long (at most 100 years)", opt, arg);
		return -1;
	}
	*us = v;
	return 0;
}

/* The producer's timers count whole seconds; a bare number is seconds, as
 * its options took before they took durations. */
int args_seconds(const char *opt, const char *arg, long lo, long hi, int *out, char *err, size_t errlen)
{
	int64_t us;
	char *end;
	long v = strtol(arg, &end, 10);

	if (end != arg && !*end) {
		/* past any range (strtol's clamp included): refused below,
		 * without overflowing */
		us = v < -1000000000L ? INT64_MIN : v > 1000000000L ? INT64_MAX : (int64_t)v * 1000000;
	} else if (duration_parse(arg, &us) < 0 || us % 1000000) {
		snprintf(err, errlen, "%s: expected whole seconds (like 15, 15s, 2m), got '%s'", opt, arg);
		return -1;
	}
	if (us < (int64_t)lo * 1000000 || us > (int64_t)hi * 1000000) {
		snprintf(err, errlen, "%s: expected %ld s to %ld s, got '%s'", opt, lo, hi, arg);
		return -1;
	}
	*out = (int)(us / 1000000);
	return 0;
}

/* The port is checked here rather than by getaddrinfo, which took 99999
 * and listened on 99999 - 65536. */
int args_hostport(const char *opt, const char *arg, char *host, size_t hostlen, int *port, char *err, size_t errlen)
{
	const char *colon = strrchr(arg, ':');
	size_t n = colon ? (size_t)(colon - arg) : 0;
	long v;

	if (!colon || !colon[1] || n >= 256 || (host && n >= hostlen)) {
		snprintf(err, errlen, "%s: HOST:PORT expected, not '%s'", opt, arg);
		return -1;
	}
	if (colon[1] < '0' || colon[1] > '9' || args_strtol(colon + 1, &v) < 0 || v > 65535) {
		snprintf(err, errlen, "%s: '%s': the port must be 0 to 65535 (0: one that is free)", opt, arg);
		return -1;
	}
	if (host) {
		memcpy(host, arg, n);
		host[n] = '\0';
	}
	if (port)
		*port = (int)v;
	return 0;
}

/* Keeps an owned copy of key and value (-F's line buffer and argv do not
 * stay). */
static int args_prop_add(struct args_props *p, const char *key, size_t kl, const char *value, char *err,
                         size_t errlen)
{
	size_t vl = strlen(value);
	char *buf;

	if (p->n == ARGS_MAX_PROPS) {
		snprintf(err, errlen, "at most %d properties", ARGS_MAX_PROPS);
		return -1;
	}
	if (!(buf = malloc(kl + vl + 2))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(buf, key, kl);
	buf[kl] = '\0';
	memcpy(buf + kl + 1, value, vl + 1);
	p->buf[p->n] = buf;
	p->kv[p->n][0] = buf;
	p->kv[p->n][1] = buf + kl + 1;
	p->n++;
	return 0;
}

int args_x(struct args_props *p, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	char why[128];

	if (!strcmp(arg, "dump"))
		return ARGS_X_DUMP;
	if (!strcmp(arg, "list"))
		return ARGS_X_LIST;
	if (!eq || eq == arg) {
		snprintf(err, errlen, "-X: expected key=value, got '%s'", arg);
		return -1;
	}
	if (args_prop_add(p, arg, (size_t)(eq - arg), eq + 1, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "-X: %s", why);
		return -1;
	}
	return 0;
}

static int args_file_prop(const char *key, const char *value, void *arg, char *err, size_t errlen)
{
	return args_prop_add(arg, key, strlen(key), value, err, errlen);
}

int args_f(struct args_props *p, const char *path, char *err, size_t errlen)
{
	char why[512];

	if (props_read(path, args_file_prop, p, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "-F: %s", why);
		return -1;
	}
	return 0;
}

void args_props_free(struct args_props *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->buf[i]);
	p->n = 0;
}

/* Whether option o belongs to spec s (a subcommand takes only its own). */
static int args_in(const struct args_spec *s, const struct args_opt *o)
{
	return !o->only || (o->only & s->mask);
}

void args_usage(const struct args_spec *s, FILE *out)
{
	fputs(s->usage_head, out);
	for (size_t i = 0; i < s->nopts; i++)
		if (s->opts[i].help && args_in(s, &s->opts[i]))
			fputs(s->opts[i].help, out);
	fputs(s->usage_tail, out);
}

static int args_takes_arg(const struct args_opt *o)
{
	return o->kind != ARGS_FLAG && o->kind != ARGS_FN_NOARG && o->kind != ARGS_HELP;
}

/* One option seen: its value checked and stored, by its kind. */
static int args_apply(const struct args_spec *s, const struct args_opt *o, void *cfg, const char *arg, char *err,
                      size_t errlen)
{
	char *field = (char *)cfg + o->off;
	char opt[64];

	if (o->name)
		snprintf(opt, sizeof(opt), "--%s", o->name);
	else
		snprintf(opt, sizeof(opt), "-%c", o->key);
	switch (o->kind) {
	case ARGS_FLAG:
		*(int *)(void *)field = 1;
		return 0;
	case ARGS_STR:
		*(const char **)(void *)field = arg;
		return 0;
	case ARGS_COUNT:
		return args_count(opt, arg, (int *)(void *)field, err, errlen);
	case ARGS_INT:
		return args_int(opt, arg, o->lo, o->hi, (int *)(void *)field, err, errlen);
	case ARGS_DURATION:
	case ARGS_DURATION0:
		return args_duration(opt, arg, o->kind == ARGS_DURATION0, (int64_t *)(void *)field, err, errlen);
	case ARGS_SECONDS:
		return args_seconds(opt, arg, o->lo, o->hi, (int *)(void *)field, err, errlen);
	case ARGS_HOSTPORT:
		if (args_hostport(opt, arg, NULL, 0, NULL, err, errlen) < 0)
			return -1;
		*(const char **)(void *)field = arg;
		return 0;
	case ARGS_FN:
	case ARGS_FN_NOARG:
		return o->fn(cfg, arg, err, errlen);
	case ARGS_HELP:
		args_usage(s, stdout);
		return 1;
	}
	snprintf(err, errlen, "%s: no such kind of option", opt);
	return -1;
}

/* getopt_long's long options and short string for the table. */
static int args_getopt_table(const struct args_spec *s, struct option *lo, char *shorts, size_t shortlen)
{
	size_t nl = 0, ns = 0;

	if (s->nopts >= ARGS_MAX_OPTS)
		return -1;
	shorts[ns++] = ':'; /* a missing value returns ':', told apart from an unknown option */
	for (size_t i = 0; i < s->nopts; i++) {
		const struct args_opt *o = &s->opts[i];
		int has = args_takes_arg(o);

		if (!args_in(s, o))
			continue;
		if (o->name)
			lo[nl++] = (struct option){ o->name, has ? required_argument : no_argument, NULL,
			                            o->key ? o->key : ARGS_LONG_KEY + (int)i };
		if (o->key) {
			if (ns + 3 > shortlen)
				return -1;
			shorts[ns++] = (char)o->key;
			if (has)
				shorts[ns++] = ':';
		}
	}
	lo[nl] = (struct option){ NULL, 0, NULL, 0 };
	shorts[ns] = '\0';
	return 0;
}

static const struct args_opt *args_find(const struct args_spec *s, int key)
{
	if (key >= ARGS_LONG_KEY && (size_t)(key - ARGS_LONG_KEY) < s->nopts)
		return &s->opts[key - ARGS_LONG_KEY];
	for (size_t i = 0; i < s->nopts; i++)
		if (s->opts[i].key && s->opts[i].key == key && args_in(s, &s->opts[i]))
			return &s->opts[i];
	return NULL;
}

/* getopt's '?' or ':' said in our one line, with where to look: the option
 * as typed (argv[optind - 1] for a long one, optopt for a short one). */
static void args_bad(const struct args_spec *s, int key, char **argv, char *err, size_t errlen)
{
	const char *help = s->help_cmd ? s->help_cmd : s->prog;
	const char *typed = optind > 0 ? argv[optind - 1] : "";
	char name[128];

	if (optopt && optopt < ARGS_LONG_KEY && !(typed[0] == '-' && typed[1] == '-'))
		snprintf(name, sizeof(name), "-%c", optopt);
	else
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(typed, "="), typed);
	int elsewhere = 0; /* another command's option (a subcommand's) */
	for (size_t i = 0; i < s->nopts; i++)
		elsewhere |= s->opts[i].name && !strcmp(name + 2, s->opts[i].name) && name[1] == '-';
	if (key == ':')
		snprintf(err, errlen, "option '%s' needs a value (try '%s --help')", name, help);
	else if (elsewhere)
		snprintf(err, errlen, "'%s' is not an option of '%s' (try '%s --help')", name, help, help);
	else
		snprintf(err, errlen, "unknown option '%s' (try '%s --help')", name, help);
}

int args_parse(const struct args_spec *s, int argc, char **argv, void *cfg, char *err, size_t errlen)
{
	struct option lo[ARGS_MAX_OPTS + 1];
	char shorts[2 * ARGS_MAX_OPTS + 1];
	int key;

	err[0] = '\0';
	if (args_getopt_table(s, lo, shorts, sizeof(shorts)) < 0) {
		snprintf(err, errlen, "%s: too many options for args_parse", s->prog);
		return -1;
	}
	/* 0, not 1: glibc then starts afresh, also after a parse that stopped
	 * inside a cluster of short options (the unit tests parse many argvs). */
	optind = 0;
	opterr = 0; /* its messages are ours (args_bad): one line, and where to look */
	while ((key = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		const struct args_opt *o = key == '?' || key == ':' ? NULL : args_find(s, key);
		int r;

		if (!o) {
			args_bad(s, key, argv, err, errlen);
			return -1;
		}
		if ((r = args_apply(s, o, cfg, optarg, err, errlen)) != 0)
			return r;
	}
	return 0;
}

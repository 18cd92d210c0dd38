/*
 * test_args.c - the command-line toolkit both programs parse with: every
 * value check (counts, ranges, durations, whole seconds, HOST:PORT, -X, -F)
 * at its edges with its exact message, and an option table driven through
 * getopt_long (kinds, fields, help, unknown options, what is left over).
 */
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "harness.h"

#define S 1000000LL

static void test_counts(void)
{
	char err[256];
	int n = 7;

	T_INT(args_count("--n", "42", &n, err, sizeof(err)), 0, "count 42");
	T_INT(n, 42, "stored");
	T_INT(args_count("--n", "2147483647", &n, err, sizeof(err)), 0, "INT_MAX is a count");
	n = 7;
	T_INT(args_count("--n", "2147483648", &n, err, sizeof(err)), -1, "INT_MAX + 1 is not");
	T_STR(err, "--n: '2147483648' is not a positive count", "the message names option and value");
	T_INT(n, 7, "nothing stored on error");
	T_INT(args_count("--n", "0", &n, err, sizeof(err)), -1, "0 is not a count");
	T_INT(args_count("--n", "-3", &n, err, sizeof(err)), -1, "-3 is not a count");
	T_INT(args_count("--n", "5abc", &n, err, sizeof(err)), -1, "trailing junk");
	T_INT(args_count("--n", "", &n, err, sizeof(err)), -1, "empty");
	T_INT(args_count("--n", "99999999999999999999", &n, err, sizeof(err)), -1, "past long");

	T_INT(args_int("--p", "-1", -1, 100, &n, err, sizeof(err)), 0, "range: the low end");
	T_INT(n, -1, "-1 stored");
	T_INT(args_int("--p", "100", -1, 100, &n, err, sizeof(err)), 0, "range: the high end");
	T_INT(args_int("--p", "101", -1, 100, &n, err, sizeof(err)), -1, "range: past the high end");
	T_STR(err, "--p: expected an integer in [-1, 100], got '101'", "says the range");
	T_INT(args_int("--p", "-2", -1, 100, &n, err, sizeof(err)), -1, "range: below the low end");
	T_INT(args_int("--p", "1x", -1, 100, &n, err, sizeof(err)), -1, "range: junk");
}

static void test_durations(void)
{
	char err[256];
	int64_t us = 7;
	int s = 7;

	T_INT(args_duration("--w", "1m", 0, &us, err, sizeof(err)), 0, "1m");
	T_INT(us, 60 * S, "in microseconds");
	T_INT(args_duration("--w", "10 minutes", 0, &us, err, sizeof(err)), 0, "Spark's form");
	T_INT(us, 600 * S, "10 minutes");
	us = 7;
	T_INT(args_duration("--w", "0", 0, &us, err, sizeof(err)), -1, "0 refused where it must be positive");
	T_STR(err, "--w: '0' is not a positive duration (like 30s, 1m, 2h, \"10 minutes\")", "message");
	T_INT(args_duration("--w", "0s", 0, &us, err, sizeof(err)), -1, "0s refused as well");
	T_INT(us, 7, "nothing stored on error");
	T_INT(args_duration("--d", "0", 1, &us, err, sizeof(err)), 0, "0 allowed where it may be");
	T_INT(us, 0, "0");
	T_INT(args_duration("--d", "0s", 1, &us, err, sizeof(err)), 0, "0s allowed there too");
	T_INT(args_duration("--d", "5", 1, &us, err, sizeof(err)), -1, "a bare number is no duration");
	T_STR(err, "--d: '5' is not a duration (like 30s, 1m, 2h, \"10 minutes\")", "message without 'positive'");
	T_INT(args_duration("--d", "36600d", 1, &us, err, sizeof(err)), 0, "100 years is the most");
	T_INT(args_duration("--d", "36601d", 1, &us, err, sizeof(err)), -1, "more is too long");
	T_STR(err, "--d: '36601d' is too long (at most 100 years)", "message");

	T_INT(args_seconds("--s", "90", 1, 3600, &s, err, sizeof(err)), 0, "a bare number is seconds");
	T_INT(s, 90, "90");
	T_INT(args_seconds("--s", "2m", 1, 3600, &s, err, sizeof(err)), 0, "2m");
	T_INT(s, 120, "120 s");
	T_INT(args_seconds("--s", "1m30s", 1, 3600, &s, err, sizeof(err)), 0, "1m30s");
	T_INT(s, 90, "90 s");
	T_INT(args_seconds("--s", "0", 0, 10, &s, err, sizeof(err)), 0, "0 when the range has it");
	T_INT(s, 0, "0 s");
	s = 7;
	T_INT(args_seconds("--s", "500ms", 0, 10, &s, err, sizeof(err)), -1, "not whole seconds");
	T_STR(err, "--s: expected whole seconds (like 15, 15s, 2m), got '500ms'", "message");
	T_INT(s, 7, "nothing stored on error");
	T_INT(args_seconds("--s", "0", 1, 10, &s, err, sizeof(err)), -1, "below the range");
	T_STR(err, "--s: expected 1 s to 10 s, got '0'", "says the range");
	T_INT(args_seconds("--s", "2h", 1, 3600, &s, err, sizeof(err)), -1, "above the range");
	T_INT(args_seconds("--s", "-5", 1, 3600, &s, err, sizeof(err)), -1, "negative");
	T_INT(args_seconds("--s", "9223372036854775807", 1, 3600, &s, err, sizeof(err)), -1,
	      "a huge number, refused without overflow");
	T_INT(args_seconds("--s", "-9223372036854775808", 1, 3600, &s, err, sizeof(err)), -1, "a huge negative one");
	T_INT(args_seconds("--s", "99999999999999999999", 1, 3600, &s, err, sizeof(err)), -1, "past long");
	T_STR(err, "--s: expected 1 s to 3600 s, got '99999999999999999999'", "out of range, as any big number");
}

static void test_hostport(void)
{
	char err[256], host[64];
	int port = -7;

	T_INT(args_hostport("--m", "127.0.0.1:9464", host, sizeof(host), &port, err, sizeof(err)), 0, "HOST:PORT");
	T_STR(host, "127.0.0.1", "the host");
	T_INT(port, 9464, "the port");
	T_INT(args_hostport("--m", ":9464", host, sizeof(host), &port, err, sizeof(err)), 0, ":PORT");
	T_STR(host, "", "every address");
	T_INT(args_hostport("--m", "::1:80", host, sizeof(host), &port, err, sizeof(err)), 0, "IPv6, last ':'");
	T_STR(host, "::1", "the IPv6 host");
	T_INT(args_hostport("--m", "127.0.0.1:0", host, sizeof(host), &port, err, sizeof(err)), 0,
	      "port 0: the kernel picks one (the tests' way)");
	T_INT(port, 0, "0");
	T_INT(args_hostport("--m", "127.0.0.1:65535", NULL, 0, NULL, err, sizeof(err)), 0, "65535, only checked");
	T_INT(args_hostport("--m", "127.0.0.1:65536", NULL, 0, NULL, err, sizeof(err)), -1, "65536 refused");
	T_INT(args_hostport("--m", "127.0.0.1:99999", NULL, 0, NULL, err, sizeof(err)), -1,
	      "99999 refused (it listened on 34463)");
	T_STR(err, "--m: '127.0.0.1:99999': the port must be 0 to 65535 (0: one that is free)", "message");
	T_INT(args_hostport("--m", "127.0.0.1:-1", NULL, 0, NULL, err, sizeof(err)), -1, "negative refused");
	T_INT(args_hostport("--m", "127.0.0.1:+80", NULL, 0, NULL, err, sizeof(err)), -1, "a sign refused");
	T_INT(args_hostport("--m", "127.0.0.1:http", NULL, 0, NULL, err, sizeof(err)), -1, "a service name refused");
	T_INT(args_hostport("--m", "nowhere", NULL, 0, NULL, err, sizeof(err)), -1, "no port");
	T_STR(err, "--m: HOST:PORT expected, not 'nowhere'", "message");
	T_INT(args_hostport("--m", "host:", NULL, 0, NULL, err, sizeof(err)), -1, "an empty port");
	T_INT(args_hostport("--m", "averylonghostname.example:80", host, 8, &port, err, sizeof(err)), -1,
	      "a host longer than the buffer");
}

static void test_props(void)
{
	struct args_props p = { .n = 0 };
	char err[256];
	FILE *f;

	T_INT(args_x(&p, "client.id=a=b", err, sizeof(err)), 0, "-X key=value");
	T_OK(p.n == 1 && !strcmp(p.kv[0][0], "client.id") && !strcmp(p.kv[0][1], "a=b"), "split at the first '='");
	T_INT(args_x(&p, "linger.ms=", err, sizeof(err)), 0, "an empty value");
	T_STR(p.kv[1][1], "", "kept empty");
	T_INT(args_x(&p, "dump", err, sizeof(err)), ARGS_X_DUMP, "-X dump");
	T_INT(args_x(&p, "list", err, sizeof(err)), ARGS_X_LIST, "-X list");
	T_INT(args_x(&p, "novalue", err, sizeof(err)), -1, "no '='");
	T_STR(err, "-X: expected key=value, got 'novalue'", "message");
	T_INT(args_x(&p, "=v", err, sizeof(err)), -1, "an empty key");
	T_INT(p.n, 2, "nothing added by the refused ones");

	T_INT(t_tmpdir("test_args"), 0, "scratch directory");
	f = fopen(t_path("p"), "w");
	fputs("# c\n\n acks = all \nsasl.jaas.config = a b=c\n", f);
	fclose(f);
	T_INT(args_f(&p, t_path("p"), err, sizeof(err)), 0, "-F FILE");
	T_OK(p.n == 4 && !strcmp(p.kv[2][0], "acks") && !strcmp(p.kv[2][1], "all") &&
	     !strcmp(p.kv[3][1], "a b=c"), "after -X, in order, trimmed");
	f = fopen(t_path("bad"), "w");
	fputs("acks=all\nno equals\n", f);
	fclose(f);
	T_INT(args_f(&p, t_path("bad"), err, sizeof(err)), -1, "-F with a bad line");
	T_OK(strstr(err, "-F: ") == err && strstr(err, "bad:2: expected key=value"), "names -F, file and line");
	args_props_free(&p);
	T_INT(p.n, 0, "freed");

	for (int i = 0; i < ARGS_MAX_PROPS; i++)
		args_x(&p, "k=v", err, sizeof(err));
	T_INT(args_x(&p, "k=v", err, sizeof(err)), -1, "one property too many");
	T_STR(err, "-X: at most 64 properties", "message");
	args_props_free(&p);
	t_rmdir();
}

/* A program's options as the two programs declare theirs. */
struct demo {
	int flag, count, secs, calls;
	const char *str, *addr;
	int64_t dur;
};

static int demo_fn(void *cfg, const char *arg, char *err, size_t errlen)
{
	struct demo *d = cfg;
	d->calls++;
	if (arg && !strcmp(arg, "stop"))
		return 1;
	if (arg && !strcmp(arg, "bad")) {
		snprintf(err, errlen, "--fn: bad");
		return -1;
	}
	return 0;
}

static const struct args_opt demo_opts[] = {
	{ .name = "flag", .key = 'f', .kind = ARGS_FLAG, .off = offsetof(struct demo, flag), .help = "  -f\n" },
	{ .name = "count", .kind = ARGS_COUNT, .off = offsetof(struct demo, count), .help = "  --count N\n" },
	{ .name = "secs", .kind = ARGS_SECONDS, .off = offsetof(struct demo, secs), .lo = 1, .hi = 600 },
	{ .name = "str", .key = 's', .kind = ARGS_STR, .off = offsetof(struct demo, str) },
	{ .name = "dur", .kind = ARGS_DURATION, .off = offsetof(struct demo, dur) },
	{ .name = "addr", .kind = ARGS_HOSTPORT, .off = offsetof(struct demo, addr) },
	{ .name = "fn", .kind = ARGS_FN, .fn = demo_fn },
	{ .key = 'n', .kind = ARGS_FN_NOARG, .fn = demo_fn, .help = "  -n\n" },
	{ .name = "help", .key = 'h', .kind = ARGS_HELP },
};
static const struct args_spec demo_spec = { "demo", "head\n", demo_opts, sizeof(demo_opts) / sizeof(demo_opts[0]),
	                                    "tail\n", 0, NULL };

static int demo_parse(struct demo *d, char *err, int argc, char **argv)
{
	memset(d, 0, sizeof(*d));
	opterr = 0; /* the unknown option below: no getopt line in the TAP output */
	return args_parse(&demo_spec, argc, argv, d, err, 256);
}

static void test_table(void)
{
	struct demo d;
	char err[256];
	char *a1[] = { "demo", "-f", "--count", "3", "--secs=2m", "-s", "x", "--dur", "1h", "--addr", ":80", "-n",
		       "--fn", "go", "rest", NULL };
	T_INT(demo_parse(&d, err, 15, a1), 0, "every kind");
	T_OK(d.flag == 1 && d.count == 3 && d.secs == 120 && !strcmp(d.str, "x") && d.dur == 3600 * S &&
	     !strcmp(d.addr, ":80") && d.calls == 2, "each field set");
	T_STR(a1[optind], "rest", "optind at what is left");
	char *a2[] = { "demo", "--count", "0", NULL };
	T_INT(demo_parse(&d, err, 3, a2), -1, "a bad count");
	T_STR(err, "--count: '0' is not a positive count", "named by its long name");
	char *a3[] = { "demo", "--secs", "2h", NULL };
	T_INT(demo_parse(&d, err, 3, a3), -1, "seconds out of the table's range");
	T_STR(err, "--secs: expected 1 s to 600 s, got '2h'", "the table's range");
	char *a4[] = { "demo", "--addr", "x:99999", NULL };
	T_INT(demo_parse(&d, err, 3, a4), -1, "a bad port");
	char *a5[] = { "demo", "--fn", "stop", "-f", NULL };
	T_INT(demo_parse(&d, err, 4, a5), 1, "a handler's 1 ends the parse");
	T_INT(d.flag, 0, "before the rest");
	char *a6[] = { "demo", "--fn", "bad", NULL };
	T_INT(demo_parse(&d, err, 3, a6), -1, "a handler's error");
	T_STR(err, "--fn: bad", "its message");
	char *a7[] = { "demo", "--nope", NULL };
	T_INT(demo_parse(&d, err, 2, a7), -1, "an unknown option");
	T_STR(err, "unknown option '--nope' (try 'demo --help')", "named in one line, with where to look");
	char *a8[] = { "demo", "--count", NULL };
	T_INT(demo_parse(&d, err, 2, a8), -1, "a missing argument");
	T_STR(err, "option '--count' needs a value (try 'demo --help')", "named in one line");
	opterr = 1;

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	args_usage(&demo_spec, f);
	fclose(f);
	T_STR(text, "head\n  -f\n  --count N\n  -n\ntail\n", "--help: head, the options' lines in order, tail");
	free(text);
}

int main(void)
{
	test_counts();
	test_durations();
	test_hostport();
	test_props();
	test_table();
	return t_done();
}

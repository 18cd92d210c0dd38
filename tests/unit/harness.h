/*
 * harness.h - a tiny counted unit-test harness that speaks TAP, so `prove` runs
 * the unit binaries beside the shell tests.  Every check is counted; the exit
 * code is the number of failures (capped), 0 when all passed.
 *
 *   int main(void) { T_OK(1 + 1 == 2, "adds"); T_INT(f(), 3, "f"); return t_done(); }
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct t_state {
	int run;    /* checks run */
	int failed; /* checks failed */
};
static struct t_state t_st; /* test binaries only: one counter per process */

static inline int t_report(int ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline int t_report(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	t_st.run++;
	if (!ok)
		t_st.failed++;
	printf("%sok %d - ", ok ? "" : "not ", t_st.run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		printf("#   failed at %s:%d\n", file, line);
	fflush(stdout);
	return ok;
}

#define T_OK(cond, ...) t_report(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define T_INT(got, want, name) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (!t_report(g_ == w_, __FILE__, __LINE__, "%s", name)) \
		printf("#   got %lld, want %lld\n", g_, w_); \
} while (0)

#define T_STR(got, want, name) do { \
	const char *g_ = (got), *w_ = (want); \
	int ok_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_; \
	if (!t_report(ok_, __FILE__, __LINE__, "%s", name)) \
		printf("#   got '%s', want '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
} while (0)

#define T_DBL(got, want, tol, name) do { \
	double g_ = (got), w_ = (want); \
	if (!t_report(fabs(g_ - w_) <= (tol), __FILE__, __LINE__, "%s", name)) \
		printf("#   got %.17g, want %.17g\n", g_, w_); \
} while (0)

/* xorshift64: the tests' reproducible random numbers (state never 0). */
/* A command line for a parser under test: argv[0] = prog, then the
 * arguments from first up to NULL (at most 30); returns argc. */
#define T_ARGV_MAX 32
static inline int t_argv(char **argv, const char *prog, const char *first, va_list ap)
{
	int argc = 0;
	argv[argc++] = (char *)prog;
	for (const char *a = first; a && argc < T_ARGV_MAX - 1; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	argv[argc] = NULL;
	return argc;
}

static inline uint64_t t_xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A scratch directory per test binary: t_tmpdir("test_x") makes
 * /tmp/test_x.XXXXXX (0, or -1), t_path names a file in it (four buffers in
 * turn, so one call may take a few), t_rmdir removes it with all inside. */
static char t_dir[64];

static inline int t_tmpdir(const char *prefix)
{
	snprintf(t_dir, sizeof(t_dir), "/tmp/%s.XXXXXX", prefix);
	return mkdtemp(t_dir) ? 0 : -1;
}

static inline const char *t_path(const char *name)
{
	static char buf[4][256];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", t_dir, name);
	return buf[i];
}

static inline void t_rmdir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t_dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", t_dir);
}

static inline int t_done(void)
{
	printf("1..%d\n", t_st.run);
	return t_st.failed > 100 ? 100 : t_st.failed;
}

#endif

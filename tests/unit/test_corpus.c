/*
 * test_corpus.c - runs tick_parse over every hostile message in tests/data/bad.
 *
 * Convention: each case is NN-name.json (the raw Kafka message value) plus
 * NN-name.expect whose first line is either "ACCEPT" or "REJECT <text>",
 * where <text> must occur in the reason tick_parse gives.  One TAP line per
 * case, naming the file.  The > 1 MiB case is built in memory here instead of
 * being committed.  Run from the repo root or from one level below it;
 * without the directory the test is skipped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* opendir/readdir/strdup when built outside the Makefile */
#endif
#include "harness.h"
#include "tick.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#define CORPUS_MAX 1024

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads a whole file; returns a malloc'd buffer (never NULL on success, even
 * for 0 bytes) with *len set, or NULL. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n == cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 4096);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* Checks one message against its expectation ("ACCEPT" / "REJECT <text>"). */
static void check(const char *name, const char *msg, size_t len, const char *expect)
{
	struct tick t;
	char err[512] = "";
	int rc = tick_parse(msg, len, &t, err, sizeof err);

	if (strcmp(expect, "ACCEPT") == 0) {
		if (!T_OK(rc == 0, "%s: ACCEPT", name))
			printf("#   reason: %s\n", err);
	} else if (strncmp(expect, "REJECT ", 7) == 0) {
		const char *want = expect + 7;
		if (!T_OK(rc == -1 && strstr(err, want) && !strchr(err, '\n'),
		          "%s: REJECT %s", name, want))
			printf("#   rc %d, reason: %s\n", rc, err);
	} else {
		T_OK(0, "%s: bad expectation line '%s'", name, expect);
	}
}

int main(void)
{
	static const char *const dirs[] = { "tests/data/bad", "../tests/data/bad" };
	const char *dir = NULL;
	DIR *d = NULL;
	struct dirent *e;
	char *names[CORPUS_MAX];
	size_t n = 0;

	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0] && !d; i++)
		if ((d = opendir(dirs[i])))
			dir = dirs[i];
	if (!d) {
		printf("1..0 # SKIP corpus not found\n");
		return 0;
	}
	while ((e = readdir(d)) && n < CORPUS_MAX) {
		size_t l = strlen(e->d_name);
		if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof names[0], cmp_str);

	for (size_t i = 0; i < n; i++) {
		char path[1024], expect[512] = "";
		size_t len = 0, elen = 0;
		char *msg, *ex;

		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		msg = slurp(path, &len);
		snprintf(path, sizeof path, "%s/%.*s.expect", dir, (int)(strlen(names[i]) - 5),
		         names[i]);
		ex = slurp(path, &elen);
		if (!msg || !ex) {
			T_OK(0, "%s: readable, with a .expect file", names[i]);
		} else {
			/* first line of the .expect file */
			size_t k = 0;
			while (k < elen && k < sizeof expect - 1 && ex[k] != '\n' && ex[k] != '\r') {
				expect[k] = ex[k];
				k++;
			}
			expect[k] = '\0';
			check(names[i], msg, len, expect);
		}
		free(msg);
		free(ex);
		free(names[i]);
	}
	T_OK(n >= 32, "corpus has at least 32 cases (%zu)", n);

	/* > 1 MiB: a valid tick padded with spaces, so only the size can fail it */
	{
		static const char ref[] =
			"{\"type\":\"ticker\",\"product_id\":\"ETH-USD\",\"price\":\"1853.55\","
			"\"volume_24h\":\"98528.66344819\",\"best_bid\":\"1853.43\",\"best_ask\":\"1853.55\","
			"\"time\":\"2023-04-24T15:01:47.940047Z\"}";
		size_t big = 1024 * 1024 + 1;
		char *m = malloc(big);
		memcpy(m, ref, sizeof ref - 1);
		memset(m + sizeof ref - 1, ' ', big - (sizeof ref - 1));
		check("(generated) oversize-1mib", m, big, "REJECT message too large (1048577 bytes)");
		check("(generated) padded-under-limit", m, TICK_MAX_BYTES, "ACCEPT");
		free(m);
	}
	return t_done();
}

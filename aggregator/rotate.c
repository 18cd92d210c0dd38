/*
 * rotate.c - the day files of --rotate daily (see rotate.h).
 */
#include "rotate.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "floordiv.h"

int64_t rot_day_of(int64_t t)
{
	return floor_div(t, ROT_DAY_US);
}

int64_t rot_day_of_end(int64_t end, int64_t len)
{
	return rot_day_of(end - len);
}

int64_t rot_after(int64_t day, int64_t len)
{
	return day * ROT_DAY_US + len - 1;
}

int64_t rot_until(int64_t day, int64_t len)
{
	return (day + 1) * ROT_DAY_US + len - 1;
}

/* output split into its directory ("" for the current one, else with its
 * slash), the stem of its name and its extension (with its dot, or ""). */
struct rot_name {
	char dir[512], stem[256], ext[64];
};

static int rot_split(const char *output, struct rot_name *n)
{
	const char *slash = strrchr(output, '/');
	const char *base = slash ? slash + 1 : output;
	const char *dot = strrchr(base, '.');
	if (!dot || dot == base)
		dot = base + strlen(base);
	if ((size_t)(base - output) >= sizeof(n->dir) || (size_t)(dot - base) >= sizeof(n->stem) ||
	    strlen(dot) >= sizeof(n->ext))
		return -1;
	snprintf(n->dir, sizeof(n->dir), "%.*s", (int)(base - output), output);
	snprintf(n->stem, sizeof(n->stem), "%.*s", (int)(dot - base), base);
	snprintf(n->ext, sizeof(n->ext), "%s", dot);
	return 0;
}

int rot_path(const char *output, int64_t day, char *out, size_t len)
{
	struct rot_name n;
	time_t t = (time_t)(day * 86400);
	struct tm tm;
	char date[16];

	if (rot_split(output, &n) < 0 || !gmtime_r(&t, &tm) || !strftime(date, sizeof(date), "%Y-%m-%d", &tm))
		return -1;
	int w = snprintf(out, len, "%s%s-%s%s", n.dir, n.stem, date, n.ext);
	return w < 0 || (size_t)w >= len ? -1 : 0;
}

/* The day of a directory entry that is one of n's day files, or ROT_NONE. */
static int64_t rot_entry_day(const struct rot_name *n, const char *name)
{
	size_t ls = strlen(n->stem), le = strlen(n->ext);
	int y, m, d, used = 0;

	if (strlen(name) != ls + 11 + le || strncmp(name, n->stem, ls) != 0 || name[ls] != '-' ||
	    strcmp(name + ls + 11, n->ext) != 0)
		return ROT_NONE;
	if (sscanf(name + ls + 1, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 || used != 10)
		return ROT_NONE;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d };
	/* A date timegm moves (2024-02-30) is caught by the caller: the name
	 * rot_path makes of the day differs. */
	return floor_div((int64_t)timegm(&tm), 86400);
}

/* Calls fn for every day file of output after day (a name rot_path makes,
 * nothing else); fn's non-zero stops. */
static int rot_each_after(const char *output, int64_t day, int (*fn)(const char *path, void *), void *arg,
                          char *err, size_t errlen)
{
	struct rot_name n;
	char path[1024];
	int r = 0;

	if (rot_split(output, &n) < 0) {
		snprintf(err, errlen, "output %s: name too long for --rotate", output);
		return -1;
	}
	DIR *dir = opendir(n.dir[0] ? n.dir : ".");
	if (!dir) {
		snprintf(err, errlen, "output %s: cannot list its directory: %s", output, strerror(errno));
		return -1;
	}
	for (struct dirent *de; r == 0 && (de = readdir(dir));) {
		int64_t d = rot_entry_day(&n, de->d_name);
		if (d == ROT_NONE || (day != ROT_NONE && d <= day) || rot_path(output, d, path, sizeof(path)) < 0 ||
		    strcmp(path + strlen(n.dir), de->d_name) != 0)
			continue;
		r = fn(path, arg);
	}
	closedir(dir);
	if (r < 0)
		snprintf(err, errlen, "output %s: cannot remove: %s", path, strerror(errno));
	return r;
}

struct rot_count {
	int n;
	char *first;
	size_t len;
};

static int rot_count_one(const char *path, void *arg)
{
	struct rot_count *c = arg;
	if (c->n++ == 0 || strcmp(path, c->first) < 0)
		snprintf(c->first, c->len, "%s", path);
	return 0;
}

int rot_count_after(const char *output, int64_t day, char *first, size_t len, char *err, size_t errlen)
{
	struct rot_count c = { 0, first, len };
	if (rot_each_after(output, day, rot_count_one, &c, err, errlen) < 0)
		return -1;
	return c.n;
}

static int rot_remove_one(const char *path, void *arg)
{
	int *n = arg;
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	(*n)++;
	return 0;
}

int rot_remove_after(const char *output, int64_t day, char *err, size_t errlen)
{
	int n = 0;
	if (rot_each_after(output, day, rot_remove_one, &n, err, errlen) < 0)
		return -1;
	return n;
}

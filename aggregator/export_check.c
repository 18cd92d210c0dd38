/*
 * export_check.c - whose CSV is it (export.h): an output that is the state
 * file, a file this program did not write, a CSV this state did not write
 * (its mark: the header and the tail before the recorded length, or row by
 * row against what the state would write), checked before anything is cut
 * back or appended.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export.h"
#include "export_int.h"
#include "fnv.h"
#include "log.h"

/* p with its directory (and p itself, when it exists) resolved: the name two
 * spellings of one file share. */
static int export_canon_depth(const char *p, char *out, size_t outlen, int depth)
{
	char dir[4096], *slash, *r;
	const char *base = p;
	struct stat sb;

	if ((r = realpath(p, NULL))) {
		snprintf(out, outlen, "%s", r);
		free(r);
		return 0;
	}
	/* A dangling symlink names the file it would create: follow it. */
	if (depth < 8 && lstat(p, &sb) == 0 && S_ISLNK(sb.st_mode)) {
		char target[4096], joined[8200];
		ssize_t n = readlink(p, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			snprintf(dir, sizeof(dir), "%s", p);
			slash = strrchr(dir, '/');
			if (target[0] == '/' || !slash)
				snprintf(joined, sizeof(joined), "%s", target);
			else
				snprintf(joined, sizeof(joined), "%.*s/%s", (int)(slash - dir), dir, target);
			return export_canon_depth(joined, out, outlen, depth + 1);
		}
	}
	snprintf(dir, sizeof(dir), "%s", p);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		base = slash + 1;
		r = realpath(dir[0] ? dir : "/", NULL);
	} else {
		r = realpath(".", NULL);
	}
	if (!r)
		return -1;
	snprintf(out, outlen, "%s/%s", strcmp(r, "/") ? r : "", base);
	free(r);
	return 0;
}

static int export_canon(const char *p, char *out, size_t outlen)
{
	return export_canon_depth(p, out, outlen, 0);
}

int export_check_target(const char *out, const char *state, int check_state, char *err, size_t errlen)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char co[4096], cs[4096], line[1024];
	struct stat so, ss;

	if (export_canon(out, co, sizeof(co)) == 0 && export_canon(state, cs, sizeof(cs)) == 0) {
		for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
			char name[4200];
			snprintf(name, sizeof(name), "%s%s", cs, sfx[i]);
			if (strcmp(co, name) == 0) {
				snprintf(err, errlen, "output %s is the state file%s%s: refused, nothing touched",
				         out, sfx[i][0] ? "'s " : "", sfx[i]);
				return EXPORT_ESAME;
			}
		}
	}
	if (stat(out, &so) < 0)
		return 0; /* a new file */
	if (stat(state, &ss) == 0 && so.st_dev == ss.st_dev && so.st_ino == ss.st_ino) {
		snprintf(err, errlen, "output %s is the state file %s (a link to it): refused, nothing touched", out, state);
		return EXPORT_ESAME;
	}
	if (!S_ISREG(so.st_mode)) {
		snprintf(err, errlen, "output %s is not a regular file (%s): refused", out,
		         S_ISFIFO(so.st_mode) ? "a FIFO" : S_ISDIR(so.st_mode) ? "a directory"
		         : S_ISCHR(so.st_mode) || S_ISBLK(so.st_mode) ? "a device" : "a special file");
		return -1;
	}
	if (so.st_size == 0)
		return 0;
	/* Its first line: a header of known column names, as this program writes. */
	FILE *f = fopen(out, "r");
	if (!f) {
		snprintf(err, errlen, "output %s: cannot read: %s", out, strerror(errno));
		return -1;
	}
	int ok = fgets(line, sizeof(line), f) != NULL;
	if (ok && line[0] == '\0' && !check_state) {
		fclose(f);
		return 0; /* NUL bytes: ours, cut and written at a stale offset; export_open repairs it */
	}
	if (ok && line[0] == '\0') {
		struct stat st2;
		if (stat(state, &st2) == 0 && st2.st_size > 0) {
			fclose(f);
			return 0; /* the same, with its state there to repair it from */
		}
	}
	ok = ok && strchr(line, '\n');
	long rows = 0;
	/* The rows are counted only when the state is gone: every start reads
	 * this, and the CSV grows for ever. */
	int state_gone = check_state && (stat(state, &ss) < 0 || ss.st_size == 0);
	if (ok) {
		int cols[EXPORT_MAX_COLS], ncols;
		char e2[256];
		line[strcspn(line, "\r\n")] = '\0';
		ok = export_parse_columns(line, cols, &ncols, e2, sizeof(e2)) == 0;
		for (int c; ok && state_gone && (c = fgetc(f)) != EOF;)
			rows += c == '\n';
	}
	fclose(f);
	if (!ok) {
		snprintf(err, errlen, "output %s exists and is not a CSV this aggregator wrote (its first line is "
		         "not a header of %s): refused, nothing touched; pass another --output", out,
		         EXPORT_COLUMNS_DEFAULT);
		return -1;
	}
	if (state_gone && rows > 0) {
		snprintf(err, errlen, "output %s holds %ld rows but the state file %s is %s: the state that wrote them "
		         "is gone, and a new one would start the CSV again without them. Restore the state file, or "
		         "move %s away to start afresh", out, rows, state, stat(state, &ss) < 0 ? "missing" : "empty", out);
		return -1;
	}
	return 0;
}

/* The mark of a CSV at length len (meta csv_mark): FNV-1a 64 of its first
 * line and of its last EXPORT_MARK_TAIL bytes before len.  Two reads, however
 * long the CSV (hashing years of rows at every start would take minutes);
 * another pipeline's CSV has other rows there (windows, products, prices).
 * -1 on a read error. */
#define EXPORT_MARK_TAIL 4096
static int export_mark_fd(int fd, int64_t len, int64_t *mark)
{
	char buf[EXPORT_MARK_TAIL];
	int64_t from = len > EXPORT_MARK_TAIL ? len - EXPORT_MARK_TAIL : 0;
	ssize_t n = pread(fd, buf, sizeof(buf) < (size_t)len ? sizeof(buf) : (size_t)len, 0);
	if (n < 0)
		return -1;
	char *nl = memchr(buf, '\n', (size_t)n);
	uint64_t h = fnv1a64(FNV1A64_INIT, buf, nl ? (size_t)(nl - buf) : (size_t)n);
	n = pread(fd, buf, (size_t)(len - from), from);
	if (n != len - from)
		return -1;
	*mark = (int64_t)fnv1a64(h, buf, (size_t)n);
	return 0;
}

/* Read through the descriptor written to: the path may have been deleted
 * or replaced since (export_append says so at the next batch). */
int export_mark(const struct export_csv *x, int64_t *mark, char *err, size_t errlen)
{
	int fd = x->fd >= 0 ? x->fd : open(x->path, O_RDONLY | O_CLOEXEC);
	int r = fd < 0 ? -1 : export_mark_fd(fd, x->bytes, mark);
	if (r < 0)
		snprintf(err, errlen, "output %s: cannot read it back: %s", x->path, strerror(errno));
	if (fd >= 0 && fd != x->fd)
		close(fd);
	return r;
}

/* Comparing a CSV with what the state would write (export_prefix). */
struct export_cmp {
	struct export_csv x; /* formats the state's rows */
	int fd;              /* the CSV, read */
	int64_t off, size;   /* compared so far, its length */
	int differs;         /* 1 at a byte that is not the state's, 2 there a NUL */
	int done;            /* stopped on purpose */
};

/* Compares what is formatted with the CSV at off; -1 stops (a difference, or its end). */
static int export_cmp_flush(struct export_cmp *c)
{
	char buf[65536];
	size_t at = 0;

	while (at < c->x.len && c->off < c->size) {
		size_t want = c->x.len - at;
		if ((int64_t)want > c->size - c->off)
			want = (size_t)(c->size - c->off);
		if (want > sizeof(buf))
			want = sizeof(buf);
		ssize_t n = pread(c->fd, buf, want, c->off);
		if (n <= 0) { /* cut while compared: not the state's */
			c->differs = c->done = 1;
			return -1;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != c->x.buf[at + (size_t)i]) {
				c->differs = buf[i] == '\0' ? 2 : 1;
				c->done = 1;
				return -1;
			}
		at += (size_t)n;
		c->off += n;
	}
	c->x.len = 0;
	c->done = c->off >= c->size;
	return c->done ? -1 : 0;
}

static int export_cmp_row(const struct store_row *r, void *arg)
{
	struct export_cmp *c = arg;
	if (export_row(r, &c->x) < 0)
		return -1;
	return c->x.len >= 65536 ? export_cmp_flush(c) : 0;
}

/* Whether the CSV (fd, size bytes, its header's columns) is a beginning of
 * what the state writes up to until: 1 yes, 0 no (*nul: the first byte that
 * differs is a NUL, damage rather than other rows), -1 a read error of the
 * CSV, EXPORT_ESTATE of the state. */
static int export_prefix(int fd, int64_t size, const char *columns, struct store *st, int64_t from, int64_t until,
                         int *nul, char *err, size_t errlen)
{
	struct export_cmp c = { .x = { .fd = -1 }, .fd = fd, .size = size };
	int r = -1;

	if (export_parse_columns(columns, c.x.cols, &c.x.ncols, err, errlen) < 0 || export_reserve(&c.x, 256) < 0)
		goto out;
	export_header(&c.x);
	if (export_cmp_flush(&c) == 0 && until != WM_NONE &&
	    store_rows_each(st, from, until, export_cmp_row, &c, err, errlen) < 0 && !c.done) {
		r = EXPORT_ESTATE;
		goto out;
	}
	if (!c.done)
		export_cmp_flush(&c);
	*nul = c.differs == 2;
	r = !c.differs && c.off >= size;
out:
	free(c.x.buf);
	return r;
}

/* The CSV's first line, when it is a header of ours (its columns in cols). */
static int export_file_header(int fd, char *cols, size_t len)
{
	int ids[EXPORT_MAX_COLS], n;
	char e[128];
	ssize_t m = pread(fd, cols, len - 1, 0);
	if (m <= 0)
		return 0;
	cols[m] = '\0';
	char *nl = strchr(cols, '\n');
	if (!nl)
		return 0;
	*nl = '\0';
	return export_parse_columns(cols, ids, &n, e, sizeof(e)) == 0;
}

/* Why the CSV (fd, size bytes) is not the one the state wrote (see
 * export.h), in why, or "". */
static int export_not_ours(int fd, int64_t size, const struct export_record *rec, struct store *st, int64_t from,
                           int64_t until, char *why, size_t len, char *err, size_t errlen)
{
	char cols[1024];
	int64_t m;
	int nul = 0;

	why[0] = '\0';
	if (!export_file_header(fd, cols, sizeof(cols)))
		return 0; /* not a CSV of ours: export_check_target's and export_open's */
	int same_cols = !rec->columns[0] || strcmp(cols, rec->columns) == 0;
	/* A state that has exported no row yet marks only a header, which
	 * another CSV of these columns has too: compared row by row instead (it
	 * writes none), so that its rows are never cut back. */
	int no_rows = rec->bytes <= (int64_t)strlen(cols) + 1;
	if (same_cols && !no_rows && size >= rec->bytes) {
		if (!rec->mark_known || (export_mark_fd(fd, rec->bytes, &m) == 0 && m == rec->mark))
			return 0;
		snprintf(why, len, "its bytes up to the %lld this state recorded are not the ones it wrote",
		         (long long)rec->bytes);
		return 0;
	}
	int r = export_prefix(fd, size, cols, st, from, until, &nul, err, errlen);
	if (r < 0)
		return r;
	if (r == 0 && !nul)
		snprintf(why, len, "%s", !same_cols ? "it has other columns, and is not a beginning of what this state "
		         "writes" : no_rows ? "it holds rows, and this state has exported none yet; if they are its first "
		         "export, cut short by a crash, moving the file away has it rebuilt" : "it is shorter than the "
		         "length this state recorded, and not a beginning of what it writes");
	return 0;
}

int export_check_ours(const char *path, const char *state, const struct export_record *rec, struct store *st,
                      int64_t from, int64_t exported_until, char *err, size_t errlen)
{
	char why[256] = "";
	struct stat sb;

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* missing: export_open rebuilds it, or says why it cannot */
	int r = fstat(fd, &sb) == 0 && sb.st_size > 0 ?
	        export_not_ours(fd, sb.st_size, rec, st, from, exported_until, why, sizeof(why), err, errlen) : 0;
	close(fd);
	if (r < 0)
		return r;
	if (why[0]) {
		snprintf(err, errlen, "output %s is not the CSV the state %s wrote (%s): refused, left as it was; "
		         "pass that state's --output, or move %s away to have it rebuilt from the state",
		         path, state, why, path);
		return -1;
	}
	return 0;
}


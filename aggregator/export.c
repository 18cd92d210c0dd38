/*
 * export.c - output.csv (see export.h). Rows are formatted into one buffer and
 * written with one write(); the length after it is what the caller records in
 * the same transaction that advances exported_until.
 */
#include "export.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmt.h"
#include "fnv.h"

/* Column ids: the window's key columns, then agg.h's columns (id
 * EXPORT_KEY_COLS + i is agg_cols[i]). */
enum { EXPORT_WINDOW_START, EXPORT_WINDOW_END, EXPORT_PRODUCT_ID, EXPORT_KEY_COLS };
static const char *const export_keys[EXPORT_KEY_COLS] = { "window_start", "window_end", "product_id" };
_Static_assert(EXPORT_MAX_COLS == EXPORT_KEY_COLS + AGG_NCOLS, "EXPORT_MAX_COLS: every column once");

static const char *export_name(int id)
{
	return id < EXPORT_KEY_COLS ? export_keys[id] : agg_cols[id - EXPORT_KEY_COLS].name;
}

/* The column named s[0..n), or -1. */
static int export_find(const char *s, size_t n)
{
	for (int i = 0; i < EXPORT_KEY_COLS; i++)
		if (strlen(export_keys[i]) == n && memcmp(export_keys[i], s, n) == 0)
			return i;
	int c = agg_col_find(s, n);
	return c < 0 ? -1 : EXPORT_KEY_COLS + c;
}

/* Every column's name, comma-separated, for messages. */
static void export_known(char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < EXPORT_MAX_COLS && o < len; i++) {
		int n = snprintf(buf + o, len - o, "%s%s", i ? "," : "", export_name(i));
		if (n < 0)
			return;
		o += (size_t)n;
	}
}

int export_parse_columns(const char *spec, int *cols, int *ncols, char *err, size_t errlen)
{
	const char *p = spec;
	*ncols = 0;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		int id = export_find(p, n);
		if (id < 0 || *ncols == EXPORT_MAX_COLS) {
			char known[512];
			export_known(known, sizeof(known));
			snprintf(err, errlen, "--columns: unknown or repeated column '%.*s' (known: %s)",
			         (int)n, p, known);
			return -1;
		}
		for (int i = 0; i < *ncols; i++)
			if (cols[i] == id) {
				snprintf(err, errlen, "--columns: column '%.*s' given twice", (int)n, p);
				return -1;
			}
		cols[(*ncols)++] = id;
		p += n;
		if (*p == ',')
			p++;
	}
	if (*ncols == 0) {
		snprintf(err, errlen, "--columns: no columns given");
		return -1;
	}
	return 0;
}

static int export_reserve(struct export_csv *x, size_t more)
{
	if (x->len + more <= x->cap)
		return 0;
	size_t cap = x->cap ? x->cap : 4096;
	while (cap < x->len + more)
		cap *= 2;
	char *nb = realloc(x->buf, cap);
	if (!nb)
		return -1;
	x->buf = nb;
	x->cap = cap;
	return 0;
}

static void export_put(struct export_csv *x, const char *s, size_t n)
{
	memcpy(x->buf + x->len, s, n);
	x->len += n;
}

static void export_header(struct export_csv *x)
{
	for (int i = 0; i < x->ncols; i++) {
		const char *name = export_name(x->cols[i]);
		export_reserve(x, strlen(name) + 2);
		if (i)
			export_put(x, ",", 1);
		export_put(x, name, strlen(name));
	}
	export_put(x, "\n", 1);
}

/* Formats one row; product ids are [A-Za-z0-9-] (checked by the parser), so
 * no field needs quoting. */
static int export_row(const struct store_row *r, void *arg)
{
	struct export_csv *x = arg;
	char f[FMT_BUF];

	if (export_reserve(x, (size_t)x->ncols * (FMT_BUF + 1) + strlen(r->product_id) + 2) < 0)
		return -1;
	for (int i = 0; i < x->ncols; i++) {
		size_t n;
		if (i)
			export_put(x, ",", 1);
		switch (x->cols[i]) {
		case EXPORT_WINDOW_START: n = fmt_time_ms(r->window_start, f); break;
		case EXPORT_WINDOW_END: n = fmt_time_ms(r->window_end, f); break;
		case EXPORT_PRODUCT_ID: export_put(x, r->product_id, strlen(r->product_id)); continue;
		default: n = agg_col_format(x->cols[i] - EXPORT_KEY_COLS, &r->agg, f); break;
		}
		export_put(x, f, n);
	}
	export_put(x, "\n", 1);
	return 0;
}

static int export_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int export_truncate(struct export_csv *x, int64_t len, char *err, size_t errlen)
{
	if (ftruncate(x->fd, len) < 0) {
		snprintf(err, errlen, "output %s: cannot cut back to %lld bytes: %s", x->path,
		         (long long)len, strerror(errno));
		return -1;
	}
	x->bytes = len;
	return 0;
}

/* -1, or EXPORT_ESPACE for a failure that can pass (a full or failing disk). */
static int export_fail(int en)
{
	return en == ENOSPC || en == EDQUOT || en == EIO ? EXPORT_ESPACE : -1;
}

/* Rows (lines after the first) in buf[0..len). */
static int64_t export_count_rows(const char *buf, size_t len)
{
	int64_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\n';
	return n > 0 ? n - 1 : 0;
}

/* Does the new CSV (buf) keep every row of the file at path?  Closed
 * windows never change and come in window order, so a later export of the
 * same columns begins with the earlier one's bytes; of other columns it has
 * at least as many rows.  0, or EXPORT_ESHRINK with err. */
static int export_keeps(const char *path, const char *buf, size_t len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0; /* none yet (export_check_target vetted what is there) */
	size_t cap = len + 1, n = 0;
	char *old = malloc(cap);
	int same = 0, ret = 0;
	if (old) {
		n = fread(old, 1, cap, f);
		same = n <= len && !memcmp(old, buf, n);
	}
	int64_t had = 0, has = export_count_rows(buf, len);
	const char *nl = memchr(buf, '\n', len);
	size_t hlen = nl ? (size_t)(nl - buf) + 1 : len;
	int header = old && n >= hlen && !memcmp(old, buf, hlen);
	if (old && !same) {
		/* count it all: it may be longer than the new one */
		had = export_count_rows(old, n);
		for (int c; (c = fgetc(f)) != EOF;)
			had += c == '\n';
		if (header || had > has) {
			snprintf(err, errlen, "output %s holds %" PRId64 " rows that this export would not write again "
			         "(it has %" PRId64 " rows%s)", path, had, has, header ? " and does not begin with them" : "");
			ret = EXPORT_ESHRINK;
		}
	} else if (!old) {
		snprintf(err, errlen, "out of memory");
		ret = -1;
	}
	free(old);
	fclose(f);
	return ret;
}

static int export_rewrite_x(const char *path, const char *columns, struct store *st, int64_t from, int64_t until,
                            int grow, int64_t *bytes, int64_t *rows, char *err, size_t errlen);

int export_rewrite(const char *path, const char *columns, struct store *st, int64_t from, int64_t until,
                   int64_t *bytes, int64_t *rows, char *err, size_t errlen)
{
	return export_rewrite_x(path, columns, st, from, until, 0, bytes, rows, err, errlen);
}

int export_rewrite_growing(const char *path, const char *columns, struct store *st, int64_t until,
                           int64_t *bytes, int64_t *rows, char *err, size_t errlen)
{
	return export_rewrite_x(path, columns, st, WM_NONE, until, 1, bytes, rows, err, errlen);
}

static int export_rewrite_x(const char *path, const char *columns, struct store *st, int64_t from, int64_t until,
                            int grow, int64_t *bytes, int64_t *rows, char *err, size_t errlen)
{
	struct export_csv x = { .fd = -1 };
	char tmp[600];
	int ret = -1;
	int64_t n = 0;

	snprintf(x.path, sizeof(x.path), "%s", path);
	if (export_parse_columns(columns, x.cols, &x.ncols, err, errlen) < 0)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* Created anew, never through a symlink someone left there: a stale
	 * one (a crash during an earlier rewrite) is removed first. */
	x.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (x.fd < 0 && errno == EEXIST && unlink(tmp) == 0)
		x.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (x.fd < 0) {
		ret = export_fail(errno);
		snprintf(err, errlen, "output %s: cannot create: %s", tmp, strerror(errno));
		goto out;
	}
	export_reserve(&x, 256);
	export_header(&x);
	if (until != WM_NONE) {
		n = store_rows_each(st, from, until, export_row, &x, err, errlen);
		if (n < 0) {
			ret = EXPORT_ESTATE;
			goto out;
		}
	}
	if (grow && (ret = export_keeps(path, x.buf, x.len, err, errlen)) != 0)
		goto out;
	ret = -1;
	if (export_write_all(x.fd, x.buf, x.len) < 0 || fsync(x.fd) < 0) {
		ret = export_fail(errno);
		snprintf(err, errlen, "output %s: cannot write: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, path) < 0) {
		ret = export_fail(errno);
		snprintf(err, errlen, "output %s: cannot rename %s over it: %s", path, tmp, strerror(errno));
		goto out;
	}
	*bytes = (int64_t)x.len;
	if (rows)
		*rows = n;
	ret = 0;
out:
	if (x.fd >= 0)
		close(x.fd);
	if (ret != 0)
		unlink(tmp);
	free(x.buf);
	return ret;
}

/* The file's first line is a header and its last 64 KiB up to len hold no
 * NUL byte and end with a newline: what this program writes. */
static int export_tail_ok(const char *path, int64_t len)
{
	char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC), ok = 0;
	if (fd < 0)
		return 0;
	int64_t from = len > (int64_t)sizeof(buf) ? len - (int64_t)sizeof(buf) : 0;
	ssize_t n = pread(fd, buf, (size_t)(len - from), from);
	if (n == len - from && n > 0 && buf[n - 1] == '\n' && !memchr(buf, '\0', (size_t)n)) {
		char first[1024];
		ssize_t m = pread(fd, first, sizeof(first) - 1, 0);
		if (m > 0) {
			first[m] = '\0';
			char *nl = strchr(first, '\n');
			int cols[EXPORT_MAX_COLS], ncols;
			char e[128];
			if (nl) {
				*nl = '\0';
				ok = export_parse_columns(first, cols, &ncols, e, sizeof(e)) == 0;
			}
		}
	}
	close(fd);
	return ok;
}

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

int export_open(struct export_csv *x, const char *path, const char *columns, struct store *st, int64_t from,
                int64_t exported_until, int64_t *bytes, char *err, size_t errlen)
{
	struct stat sb;

	memset(x, 0, sizeof(*x));
	x->fd = -1;
	x->from = from;
	snprintf(x->path, sizeof(x->path), "%s", path);
	snprintf(x->columns, sizeof(x->columns), "%s", columns);
	if (export_parse_columns(columns, x->cols, &x->ncols, err, errlen) < 0)
		return -1;

	int exists = stat(path, &sb) == 0;
	if (exists && sb.st_size == *bytes && *bytes > 0 && !export_tail_ok(path, *bytes)) {
		/* The recorded length, but not what we wrote (emptied and refilled
		 * with NULs by a writer at a stale offset, edited): rebuild. */
		int64_t rows = 0;
		log_msg(LOG_WARN, LOG_WARN, "output %s has its recorded length but not the rows written "
		        "(NUL bytes or a cut line): rewriting it from the state", path);
		int r = export_rewrite(path, columns, st, from, exported_until, bytes, &rows, err, errlen);
		if (r < 0)
			return r;
		exists = stat(path, &sb) == 0;
	}
	if (exists && sb.st_size > *bytes && *bytes > 0) {
		log_msg(LOG_WARN, LOG_WARN, "output %s: cutting back %lld bytes of an interrupted export",
		        path, (long long)(sb.st_size - *bytes));
	} else if ((exists && sb.st_size < *bytes) || (!exists && *bytes > 0) ||
	           (exists && *bytes == 0 && sb.st_size > 0)) {
		/* Shorter than recorded, gone, or not written by this state: rebuild. */
		int64_t rows = 0;
		log_msg(LOG_WARN, LOG_WARN, "output %s %s: rewriting it from the state", path,
		        !exists ? "is missing" : sb.st_size < *bytes ? "is shorter than recorded"
		                                                    : "was not written from this state");
		int r = export_rewrite(path, columns, st, from, *bytes > 0 ? exported_until : WM_NONE,
		                       bytes, &rows, err, errlen);
		if (r < 0)
			return r;
	}
	x->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644); /* read: export_mark */
	if (x->fd < 0) {
		snprintf(err, errlen, "output %s: cannot open for writing: %s", path, strerror(errno));
		return -1;
	}
	if (flock(x->fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "output %s is in use by another aggregator: pass another --output", path);
		close(x->fd);
		x->fd = -1;
		return -1;
	}
	if (export_truncate(x, *bytes, err, errlen) < 0 || lseek(x->fd, 0, SEEK_END) < 0) {
		close(x->fd);
		x->fd = -1;
		return -1;
	}
	if (x->bytes == 0) { /* a new CSV starts with its header */
		x->len = 0;
		if (export_reserve(x, 256) < 0)
			return -1;
		export_header(x);
		if (export_write_all(x->fd, x->buf, x->len) < 0 || fdatasync(x->fd) < 0) {
			int r = export_fail(errno);
			snprintf(err, errlen, "output %s: cannot write: %s", path, strerror(errno));
			return r;
		}
		x->bytes = (int64_t)x->len;
		*bytes = x->bytes;
	}
	return 0;
}

void export_close(struct export_csv *x)
{
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	free(x->buf);
	x->buf = NULL;
	x->len = x->cap = 0;
}

int export_append(struct export_csv *x, struct store *st, int64_t after, int64_t until,
                  int64_t *rows, char *err, size_t errlen)
{
	struct stat sb;
	int64_t before = x->bytes;

	*rows = 0;
	if (fstat(x->fd, &sb) == 0 && sb.st_nlink == 0) {
		snprintf(err, errlen, "output %s was deleted while running: restart the aggregator, "
		         "or run 'aggregator export' to rebuild it", x->path);
		return -1;
	}
	/* Emptied or cut (logrotate's copytruncate, ': > output.csv'), written
	 * to, or replaced by another file while we ran: writing at our offset
	 * would leave NUL bytes before the rows, or write into a file nobody
	 * reads.  Rebuilt from the state (every window up to after), then the
	 * new rows appended. */
	struct stat ps;
	int replaced = stat(x->path, &ps) == 0 && (ps.st_ino != sb.st_ino || ps.st_dev != sb.st_dev);
	if (replaced || sb.st_size != x->bytes) {
		int64_t bytes = 0, n0 = 0;
		log_msg(LOG_WARN, LOG_WARN, "output %s was %s while running (%lld bytes, %lld written): "
		        "rewriting it from the state", x->path, replaced ? "replaced" : "changed",
		        (long long)(replaced ? ps.st_size : sb.st_size), (long long)x->bytes);
		int r = export_rewrite(x->path, x->columns, st, x->from, x->bytes > 0 ? after : WM_NONE, &bytes, &n0, err,
		                       errlen);
		if (r < 0)
			return r;
		close(x->fd);
		x->fd = open(x->path, O_RDWR | O_CLOEXEC);
		if (x->fd < 0 || flock(x->fd, LOCK_EX | LOCK_NB) < 0 || lseek(x->fd, 0, SEEK_END) < 0) {
			snprintf(err, errlen, "output %s: cannot open it again after the rewrite: %s", x->path,
			         strerror(errno));
			return -1;
		}
		x->bytes = bytes;
		before = bytes;
	}
	x->len = 0;
	if (export_reserve(x, 256) < 0)
		goto nomem;
	if (x->bytes == 0)
		export_header(x);
	int64_t n = store_rows_each(st, after, until, export_row, x, err, errlen);
	if (n < 0)
		return EXPORT_ESTATE;
	if (x->len == 0)
		return 0;
	if (export_write_all(x->fd, x->buf, x->len) < 0 || fdatasync(x->fd) < 0) {
		x->err_no = errno;
		snprintf(err, errlen, "output %s: cannot write: %s", x->path, strerror(errno));
		if (ftruncate(x->fd, before) == 0) /* best effort: recovery cuts it at start too */
			lseek(x->fd, before, SEEK_SET);
		return -1;
	}
	x->bytes += (int64_t)x->len;
	*rows = n;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

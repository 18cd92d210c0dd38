/*
 * export.c - output.csv (see export.h). Rows are formatted into one buffer and
 * written with one write(); the length after it is what the caller records in
 * the same transaction that advances exported_until.
 */
#include "export.h"
#include "export_int.h"
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

int export_reserve(struct export_csv *x, size_t more)
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

void export_header(struct export_csv *x)
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
int export_row(const struct store_row *r, void *arg)
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

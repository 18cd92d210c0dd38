/*
 * feed-server - a local WebSocket server that speaks the Coinbase Exchange
 * market data feed protocol (subscribe -> subscriptions -> ticker/heartbeat),
 * replaying a JSON-lines file of ticker messages, with knobs to misbehave
 * (drops, stalls, garbage, fragmentation, errors) for the producer's tests.
 *
 *   feed-server --file tests/data/ticks.jsonl --port 0 --port-file /tmp/p --speed 0
 *
 * The replay cursor is global: it models the live market.  It only moves while
 * at least one connection is streaming (subscribed, not stalled, not being
 * dropped); when the last one goes away the lines released but not yet sent
 * on it are taken back, then --lose-on-drop K lines are skipped, so that a
 * reconnecting client continues where its stream left off (minus K).  Each
 * new subscription first gets the last ticker already sent of each subscribed
 * product (a stale duplicate, as the real feed does), then the live stream.
 * Tick lines are sent as their exact raw bytes (no re-serialization).
 *
 * lws usage: writes only from LWS_CALLBACK_SERVER_WRITEABLE, a burst of
 * frames per callback while the socket takes them (bounded), framed here and
 * written with LWS_WRITE_RAW in large writes; timers are lws_sul.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <jansson.h>
#include <libwebsockets.h>
#include "testcert.h" /* the --tls certificate */
#include "tick.h" /* tick_parse_time */

#ifndef PIPELINE_VERSION
#define PIPELINE_VERSION "dev"
#endif

#define MAX_PRODUCTS   64          /* products are bits of a uint64_t mask */
#define MAX_CONNS      64          /* concurrent connections */
#define RX_MAX         65536       /* largest client message accepted */
#define TICK_PERIOD_US (200 * LWS_US_PER_MS) /* wakes lws_service for the stop flag */
#define WRITE_BURST_FRAMES 2048    /* frames per WRITEABLE callback (~800 KB of ticks) */
#define WRITE_FLUSH_BYTES  65536   /* framed output written once it reaches this */

static volatile sig_atomic_t stop_flag;

enum drop_mode { DROP_RESET, DROP_CLOSE };
enum close_kind { CLOSE_NONE, CLOSE_FRAME, CLOSE_RESET };
enum conn_state { C_WAIT_SUB, C_STREAM, C_CLOSING };

struct opts {
	const char *file;
	int port;
	const char *port_file;
	double speed;
	int tls;
	const char *cert_out;
	long drop_after;
	int drop_mode;
	long stall_after;
	long lose_on_drop;
	const char *error_on_subscribe;
	const char *close_reason;
	int close_code;
	long garbage_every;
	long ping_every;
	long reject_status;
	int fragment;
	long heartbeat_ms;
	long subscribe_timeout_ms;
	long max_connections;
	int exit_at_eof;
	int verbose;
};

struct line {
	size_t off;        /* into app.data */
	size_t len;        /* without the line end */
	int64_t t_us;      /* event time */
	int64_t seq;       /* "sequence", -1 if absent */
	int64_t trade_id;  /* "trade_id", -1 if absent */
	int prod;
};

struct product {
	char name[TICK_PRODUCT_MAX];
	long last_rel;     /* index of the last line released, -1 */
	long last_sent;    /* index of the last line sent on any connection, -1 */
	long first;        /* index of its first line */
};

struct conn;

struct app {
	struct opts o;
	struct lws_context *ctx;
	char *data;
	size_t data_len;
	struct line *lines;
	size_t nlines;
	struct product prod[MAX_PRODUCTS];
	int nprod;
	/* replay */
	size_t cursor;          /* next line to release */
	size_t hw;              /* lines below this were sent at least once */
	size_t distinct_sent;
	size_t lost;
	lws_usec_t anchor_wall;
	int64_t anchor_t;
	int64_t last_rel_t;
	lws_usec_t last_rel_wall;
	int active;             /* connections streaming */
	int eof_logged;
	int eof_closing;
	int stop;
	/* connections */
	struct conn *conns[MAX_CONNS];
	int nconns;
	long accepted;
	long next_id;
	lws_sorted_usec_list_t sul_release, sul_tick, sul_eof;
	/* tls */
	char *cert_pem, *key_pem;
	size_t cert_len, key_len;
};

/* per-session data (lws allocates and zeroes it) */
struct conn {
	struct app *app;
	struct lws *wsi;
	long id;
	int state;
	int active;
	int stalled;
	int close_kind;
	int close_code;
	char close_text[124];
	uint64_t tick_mask, hb_mask, dup_mask, hb_pending;
	size_t pos;             /* next line of the replay for this connection */
	long fresh;             /* live ticks sent */
	long garbage_n;
	int garbage_pending;
	int ping_pending;       /* a ping goes right after the next frame */
	long pings, pongs;      /* sent / answered on this connection */
	long last_tick;         /* index of the last tick sent here, -1 */
	char *ctrl;             /* pending reply / error (json_dumps) */
	int close_after_ctrl;
	/* the message being sent */
	char *msg;
	size_t msg_len, msg_cap;
	size_t frag_off[4];
	int nfrag, frag_i;
	unsigned char *out;     /* LWS_PRE + framed output not yet written */
	size_t out_len, out_cap; /* bytes after LWS_PRE; out_cap excludes LWS_PRE */
	long nmsg;
	/* receive */
	char *rx;
	size_t rx_len;
	int rx_overflow;
	lws_sorted_usec_list_t sul_hb, sul_sub, sul_drain;
};

static const char *const usage_text =
"usage: feed-server --file TICKS.jsonl [options]\n"
"A local WebSocket server speaking the Coinbase Exchange feed protocol on\n"
"127.0.0.1, replaying the ticker messages of a JSON-lines file.\n"
"\n"
"  -f, --file F                 JSON lines of ticker messages (required)\n"
"  -p, --port N                 port, 0 = ephemeral (default 0)\n"
"      --port-file F            write the bound port to F (atomically) once listening\n"
"  -s, --speed X                1 = recorded pace from the time fields (default),\n"
"                               60 = 60x faster, 0 = as fast as the client reads\n"
"      --tls                    serve wss:// with a self-signed certificate made at start\n"
"                               (CN/SAN localhost, SAN IP 127.0.0.1)\n"
"      --cert-out F             write that certificate (PEM) to F, for a client CA file\n"
"      --drop-after N           drop each connection after N live ticker messages\n"
"      --drop-mode close|reset  close = close frame 1011, reset = TCP RST without a\n"
"                               close frame (default reset)\n"
"      --stall-after N          after N live ticker messages send nothing more on the\n"
"                               connection (no heartbeats either) but keep it open\n"
"      --lose-on-drop K         skip K lines of the replay each time the last streaming\n"
"                               connection goes away (trades missed while disconnected)\n"
"      --error-on-subscribe R   answer every subscribe with an error, reason R, and close\n"
"      --close-reason TEXT      right after the handshake, close with TEXT as reason\n"
"      --close-code N           the code for --close-reason (default 1008)\n"
"      --garbage-every N        after every N ticker messages also send a non-JSON text\n"
"                               frame (odd times) or a truncated ticker (even times)\n"
"      --fragment               send each message in 2-3 frames (continuations)\n"
"      --reject-status N        answer every WebSocket upgrade with HTTP status N\n"
"      --ping-every N           after every N ticker messages send a ping \"ping-K\"\n"
"                               (between fragments with --fragment); pongs are logged\n"
"      --heartbeat-ms N         heartbeat period per subscribed product (default 1000,\n"
"                               0 = none)\n"
"      --subscribe-timeout-ms N close connections that do not subscribe within N ms\n"
"                               (default 5000)\n"
"      --max-connections N      serve N connections, exit 0 when the last one closed\n"
"                               (default -1 = forever)\n"
"      --exit-at-eof            once the whole file was sent, exit 0 when no client is\n"
"                               left, or close them after 2 s and exit 0\n"
"  -v, --verbose                more logging (repeat for lws notices)\n"
"  -h, --help                   this help\n"
"  -V, --version                print the version\n"
"\n"
"Stale duplicate: each subscription first gets the last ticker already sent of\n"
"each subscribed product.  The replay cursor is shared by all connections and\n"
"only moves while one is streaming.\n"
"Example:\n"
"  feed-server --file tests/data/ticks.jsonl --speed 30 --port 8765\n"
"  producer --url ws://127.0.0.1:8765 --brokers localhost:9092\n"
"Exit: 0 stopped by SIGTERM/SIGINT (or --exit-at-eof), 1 failure (e.g. port in use),\n"
"2 usage.\n";

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	va_list ap;
	fputs("% ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void lws_log_emit(int level, const char *line)
{
	(void)level;
	fprintf(stderr, "%% lws: %s", line);
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static struct lws_protocols protocols[];

/* ---- time ---- */


static void format_time(int64_t us, char out[40])
{
	time_t sec = (time_t)(us / 1000000);
	long frac = (long)(us % 1000000);
	struct tm tm;
	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	gmtime_r(&sec, &tm);
	snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

/* ---- the file ---- */

static int product_index(struct app *app, const char *name, int add)
{
	int i;
	for (i = 0; i < app->nprod; i++)
		if (strcmp(app->prod[i].name, name) == 0)
			return i;
	if (!add || app->nprod == MAX_PRODUCTS || strlen(name) >= TICK_PRODUCT_MAX)
		return -1;
	snprintf(app->prod[i].name, TICK_PRODUCT_MAX, "%s", name);
	app->prod[i].last_rel = -1;
	app->prod[i].last_sent = -1;
	app->prod[i].first = -1;
	return app->nprod++;
}

/* What the replay needs of one ticker line. */
struct scanned {
	char pid[TICK_PRODUCT_MAX];
	char time[40];
	int64_t seq, trade_id;
};

/* Copies the string value of "key":"..." (compact JSON, no escapes) to out. */
static int scan_str(const char *s, size_t len, const char *key, char *out, size_t outlen)
{
	const char *p = memmem(s, len, key, strlen(key)), *e;
	size_t n;
	if (!p)
		return -1;
	p += strlen(key);
	e = memchr(p, '"', len - (size_t)(p - s));
	if (!e || (n = (size_t)(e - p)) >= outlen || memchr(p, '\\', n))
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int64_t scan_int(const char *s, size_t len, const char *key)
{
	const char *p = memmem(s, len, key, strlen(key)), *end = s + len;
	int64_t v = 0;
	if (!p)
		return -1;
	for (p += strlen(key); p < end && *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (*p - '0');
	return (p < end && (*p == ',' || *p == '}')) ? v : -1;
}

/* Fast path for compact lines as the feed sends them. */
static int scan_line(const char *s, size_t len, struct scanned *sc)
{
	if (len < 2 || s[0] != '{' || s[len - 1] != '}' ||
	    !memmem(s, len, "\"type\":\"ticker\"", 15) ||
	    scan_str(s, len, "\"product_id\":\"", sc->pid, sizeof sc->pid) ||
	    scan_str(s, len, "\"time\":\"", sc->time, sizeof sc->time))
		return -1;
	sc->seq = scan_int(s, len, "\"sequence\":");
	sc->trade_id = scan_int(s, len, "\"trade_id\":");
	return 0;
}

/* Any other JSON form of a ticker message. */
static int json_line(const char *s, size_t len, struct scanned *sc)
{
	json_error_t err;
	json_t *root = json_loadb(s, len, 0, &err), *v;
	const char *type, *pid, *tm;
	int rc = -1;
	type = json_string_value(json_object_get(root, "type"));
	pid = json_string_value(json_object_get(root, "product_id"));
	tm = json_string_value(json_object_get(root, "time"));
	if (type && strcmp(type, "ticker") == 0 && pid && tm && strlen(pid) < sizeof sc->pid &&
	    strlen(tm) < sizeof sc->time) {
		snprintf(sc->pid, sizeof sc->pid, "%s", pid);
		snprintf(sc->time, sizeof sc->time, "%s", tm);
		v = json_object_get(root, "sequence");
		sc->seq = json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
		v = json_object_get(root, "trade_id");
		sc->trade_id = json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
		rc = 0;
	}
	json_decref(root);
	return rc;
}

/* Reads the whole file into app->data, NUL-terminated. */
static int read_all(struct app *app, FILE *f)
{
	size_t cap = 0, n;

	if (fseek(f, 0, SEEK_END) == 0 && (n = (size_t)ftell(f)) != (size_t)-1) {
		cap = n + 65536; /* room to see the end of file without growing */
		rewind(f);
	}
	for (;;) {
		if (!app->data || app->data_len + 1 >= cap) {
			char *d;
			if (app->data)
				cap *= 2;
			else if (cap < (1 << 20))
				cap = 1 << 20;
			d = realloc(app->data, cap);
			if (!d)
				return -1;
			app->data = d;
		}
		n = fread(app->data + app->data_len, 1, cap - app->data_len - 1, f);
		app->data_len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		logmsg("feed-server: %s: read error", app->o.file);
		return -1;
	}
	app->data[app->data_len] = '\0';
	return 0;
}

/* Appends the ticker line s[0..len) (line lineno, as scanned) to app->lines. */
static int add_line(struct app *app, const char *s, size_t len, size_t lineno,
		    const struct scanned *sc, size_t *cap_lines)
{
	int p = product_index(app, sc->pid, 1);
	struct line *L;

	if (p < 0) {
		logmsg("feed-server: %s:%zu: too many products or id too long",
		       app->o.file, lineno);
		return -1;
	}
	if (app->nlines == *cap_lines) {
		struct line *nlines;
		*cap_lines = *cap_lines ? *cap_lines * 2 : 4096;
		nlines = realloc(app->lines, *cap_lines * sizeof *nlines);
		if (!nlines)
			return -1;
		app->lines = nlines;
	}
	L = &app->lines[app->nlines];
	L->off = (size_t)(s - app->data);
	L->len = len;
	L->prod = p;
	L->seq = sc->seq;
	L->trade_id = sc->trade_id;
	if (tick_parse_time(sc->time, strlen(sc->time), &L->t_us)) {
		logmsg("feed-server: %s:%zu: bad time '%s'", app->o.file, lineno, sc->time);
		return -1;
	}
	if (app->prod[p].first < 0)
		app->prod[p].first = (long)app->nlines;
	app->nlines++;
	return 0;
}

/* Indexes the ticker lines of app->data; other lines are skipped (the first
 * three named), so that a hand-edited file still replays. */
static int index_lines(struct app *app)
{
	size_t skipped = 0, lineno = 0, off, cap_lines = 0;

	for (off = 0; off < app->data_len;) {
		char *s = app->data + off, *nl = memchr(s, '\n', app->data_len - off);
		size_t len = nl ? (size_t)(nl - s) : app->data_len - off;
		struct scanned sc;

		off += len + (nl ? 1 : 0);
		lineno++;
		if (len && s[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		if (scan_line(s, len, &sc) && json_line(s, len, &sc)) {
			if (skipped++ < 3)
				logmsg("feed-server: %s:%zu: not a ticker message, skipped",
				       app->o.file, lineno);
			continue;
		}
		if (add_line(app, s, len, lineno, &sc, &cap_lines))
			return -1;
	}
	if (skipped)
		logmsg("feed-server: %s: %zu lines skipped", app->o.file, skipped);
	return 0;
}

static int load_file(struct app *app)
{
	FILE *f = fopen(app->o.file, "rb");
	int rc = -1;

	if (!f) {
		logmsg("feed-server: %s: %s", app->o.file, strerror(errno));
		return -1;
	}
	if (read_all(app, f) || index_lines(app))
		goto out;
	if (app->nlines == 0) {
		logmsg("feed-server: %s: no ticker messages", app->o.file);
		goto out;
	}
	app->last_rel_t = app->lines[0].t_us - 1000000;
	rc = 0;
out:
	if (rc && !ferror(f) && app->nlines == 0 && !app->data)
		logmsg("feed-server: out of memory");
	fclose(f);
	return rc;
}

/* ---- tls: a self-signed certificate for localhost / 127.0.0.1 ---- */

static int make_cert(struct app *app)
{
	char e[256];

	if (testcert_make("DNS:localhost,IP:127.0.0.1", &app->cert_pem, &app->cert_len,
			  &app->key_pem, &app->key_len, e, sizeof e) == 0)
		return 0;
	logmsg("feed-server: certificate generation failed: %s", e);
	return -1;
}

/* Writes len bytes to path through path.tmp + rename. */
static int write_atomic(const char *path, const char *buf, size_t len)
{
	char tmp[4096];
	FILE *f;
	int bad;
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return -1;
	f = fopen(tmp, "w");
	if (!f) {
		logmsg("feed-server: %s: %s", tmp, strerror(errno));
		return -1;
	}
	bad = fwrite(buf, 1, len, f) != len;
	bad |= fflush(f) != 0;
	bad |= fsync(fileno(f)) != 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path)) {
		logmsg("feed-server: %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* ---- the replay ---- */

static uint64_t bit(int p)
{
	return (uint64_t)1 << p;
}

static lws_usec_t due_of(const struct app *app, size_t i)
{
	double d = (double)(app->lines[i].t_us - app->anchor_t) / app->o.speed;
	return app->anchor_wall + (lws_usec_t)d;
}

static void release_one(struct app *app)
{
	const struct line *L = &app->lines[app->cursor];
	app->prod[L->prod].last_rel = (long)app->cursor;
	if (L->t_us > app->last_rel_t)
		app->last_rel_t = L->t_us;
	if (app->o.speed > 0) /* replay_now's clock; --speed 0 needs none */
		app->last_rel_wall = lws_now_usecs();
	app->cursor++;
}

/* event time "now" of the replay, for heartbeats */
static int64_t replay_now(const struct app *app)
{
	int64_t t = app->last_rel_t;
	if (app->o.speed > 0) {
		t += (int64_t)((double)(lws_now_usecs() - app->last_rel_wall) * app->o.speed);
		if (app->cursor < app->nlines && t >= app->lines[app->cursor].t_us)
			t = app->lines[app->cursor].t_us - 1;
		if (t < app->last_rel_t)
			t = app->last_rel_t;
	}
	return t;
}

static void stop_soon(struct app *app)
{
	app->stop = 1;
	lws_cancel_service(app->ctx);
}

static void eof_cb(lws_sorted_usec_list_t *sul);

static void check_eof(struct app *app)
{
	int i;
	if (app->eof_logged || app->cursor < app->nlines)
		return;
	for (i = 0; i < app->nconns; i++)
		if (app->conns[i]->active && app->conns[i]->pos < app->nlines)
			return;
	app->eof_logged = 1;
	if (app->lost)
		logmsg("replay done: %zu ticks (%zu lost on drops)", app->distinct_sent, app->lost);
	else
		logmsg("replay done: %zu ticks", app->distinct_sent);
	if (app->o.exit_at_eof && !app->stop) {
		if (app->nconns == 0)
			stop_soon(app);
		else
			lws_sul_schedule(app->ctx, 0, &app->sul_eof, eof_cb, 2 * LWS_US_PER_SEC);
	}
}

static void release_cb(lws_sorted_usec_list_t *sul)
{
	struct app *app = lws_container_of(sul, struct app, sul_release);
	lws_usec_t now = lws_now_usecs();
	int n = 0;

	while (app->cursor < app->nlines && due_of(app, app->cursor) <= now) {
		release_one(app);
		n++;
	}
	if (n)
		lws_callback_on_writable_all_protocol(app->ctx, &protocols[0]);
	if (app->cursor < app->nlines && app->active > 0)
		lws_sul_schedule(app->ctx, 0, &app->sul_release, release_cb,
				 due_of(app, app->cursor) - now);
	else
		check_eof(app);
}

static void activate(struct conn *c)
{
	struct app *app = c->app;
	c->active = 1;
	if (app->active++ == 0 && app->o.speed > 0 && app->cursor < app->nlines) {
		/* (re)start the clock: the next line is due now */
		app->anchor_t = app->lines[app->cursor].t_us;
		app->anchor_wall = lws_now_usecs();
		lws_sul_schedule(app->ctx, 0, &app->sul_release, release_cb, 1);
	}
}

static void deactivate(struct conn *c)
{
	struct app *app = c->app;
	long k;
	if (!c->active)
		return;
	c->active = 0;
	if (--app->active == 0) {
		lws_sul_cancel(&app->sul_release);
		/* take back what was released but never sent on this stream */
		if (c->pos < app->cursor)
			app->cursor = c->pos;
		for (k = 0; k < app->o.lose_on_drop && app->cursor < app->nlines; k++) {
			release_one(app);
			app->lost++;
		}
		if (app->o.lose_on_drop > 0 && app->o.verbose)
			logmsg("conn %ld: replay now at line %zu", c->id, app->cursor + 1);
	}
	check_eof(app);
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	struct app *app = lws_container_of(sul, struct app, sul_tick);
	if (stop_flag)
		stop_soon(app);
	lws_sul_schedule(app->ctx, 0, &app->sul_tick, tick_cb, TICK_PERIOD_US);
}

static void close_all(struct app *app, int code, const char *why)
{
	int i;
	for (i = 0; i < app->nconns; i++) {
		struct conn *c = app->conns[i];
		deactivate(c);
		c->state = C_CLOSING;
		c->stalled = 0;
		c->close_kind = CLOSE_FRAME;
		c->close_code = code;
		snprintf(c->close_text, sizeof c->close_text, "%s", why);
		lws_callback_on_writable(c->wsi);
	}
}

static void eof_cb(lws_sorted_usec_list_t *sul)
{
	struct app *app = lws_container_of(sul, struct app, sul_eof);
	if (app->eof_closing || app->nconns == 0) {
		stop_soon(app);
		return;
	}
	logmsg("replay done, closing %d connection(s)", app->nconns);
	app->eof_closing = 1;
	close_all(app, LWS_CLOSE_STATUS_NORMAL, "replay done");
	lws_sul_schedule(app->ctx, 0, &app->sul_eof, eof_cb, LWS_US_PER_SEC);
}

/* ---- connections ---- */

static void hb_cb(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_hb);
	if (c->stalled || c->state != C_STREAM)
		return;
	c->hb_pending |= c->hb_mask;
	lws_callback_on_writable(c->wsi);
	lws_sul_schedule(c->app->ctx, 0, &c->sul_hb, hb_cb,
			 (lws_usec_t)c->app->o.heartbeat_ms * LWS_US_PER_MS);
}

static void sub_timeout_cb(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_sub);
	if (c->state != C_WAIT_SUB)
		return;
	logmsg("conn %ld: no subscribe within %ld ms, closing", c->id,
	       c->app->o.subscribe_timeout_ms);
	c->state = C_CLOSING;
	c->close_kind = CLOSE_FRAME;
	c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
	snprintf(c->close_text, sizeof c->close_text, "no subscribe message received");
	lws_callback_on_writable(c->wsi);
}

static void drain_cb(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_drain);
	lws_callback_on_writable(c->wsi);
}

/* Queues a control message (reply or error), taking ownership of s. */
static void queue_ctrl(struct conn *c, char *s, int close_after)
{
	free(c->ctrl);
	c->ctrl = s;
	c->close_after_ctrl = close_after;
	lws_callback_on_writable(c->wsi);
}

static void send_error(struct conn *c, const char *reason)
{
	json_t *j = json_pack("{s:s,s:s,s:s}", "type", "error", "message",
			      "Failed to subscribe", "reason", reason);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	logmsg("conn %ld: error: %s", c->id, reason);
	c->state = C_CLOSING;
	c->close_code = LWS_CLOSE_STATUS_NORMAL;
	c->close_text[0] = '\0';
	if (!s) {
		c->close_kind = CLOSE_FRAME;
		lws_callback_on_writable(c->wsi);
		return;
	}
	queue_ctrl(c, s, 1);
}

/* Adds the product ids of arr (array of strings) to *mask; on an unknown or
 * bad id writes the error reason and returns -1. */
static int add_products(struct app *app, json_t *arr, uint64_t *mask, char *why, size_t whylen)
{
	size_t i;
	json_t *v;
	if (!json_is_array(arr)) {
		snprintf(why, whylen, "product_ids must be an array of strings");
		return -1;
	}
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		int p = s ? product_index(app, s, 0) : -1;
		if (!s) {
			snprintf(why, whylen, "product_ids must be an array of strings");
			return -1;
		}
		if (p < 0) {
			snprintf(why, whylen, "%.64s is not a valid product", s);
			return -1;
		}
		*mask |= bit(p);
	}
	return 0;
}

static json_t *product_array(const struct app *app, uint64_t mask)
{
	json_t *a = json_array();
	int p;
	for (p = 0; a && p < app->nprod; p++)
		if (mask & bit(p))
			json_array_append_new(a, json_string(app->prod[p].name));
	return a;
}

/* What a subscribe message asks for: the products of each channel. */
struct sub_req {
	uint64_t tick, hb;      /* products of the ticker and heartbeat channels */
	char why[160];          /* the error reason when the message is refused */
};

/* Reads the channels of a subscribe message (names, or {name, product_ids},
 * the top-level product_ids for the names) into r; -1 with r->why when the
 * real feed would refuse it. */
static int parse_channels(struct conn *c, json_t *root, struct sub_req *r)
{
	json_t *top = json_object_get(root, "product_ids");
	json_t *chans = json_object_get(root, "channels"), *ch;
	size_t i;

	if (!json_is_array(chans) || json_array_size(chans) == 0) {
		snprintf(r->why, sizeof r->why, "No channels provided");
		return -1;
	}
	json_array_foreach(chans, i, ch) {
		const char *name = json_is_string(ch) ? json_string_value(ch)
			: json_string_value(json_object_get(ch, "name"));
		json_t *prods = json_is_object(ch) && json_object_get(ch, "product_ids")
			? json_object_get(ch, "product_ids") : top;
		uint64_t m = 0;
		if (!name) {
			snprintf(r->why, sizeof r->why, "channels must be names or {name, product_ids}");
			return -1;
		}
		if (!prods) {
			snprintf(r->why, sizeof r->why, "No product ids provided for %.40s", name);
			return -1;
		}
		if (add_products(c->app, prods, &m, r->why, sizeof r->why))
			return -1;
		if (strcmp(name, "ticker") == 0)
			r->tick |= m;
		else if (strcmp(name, "heartbeat") == 0)
			r->hb |= m;
		else
			logmsg("conn %ld: channel '%.40s' ignored", c->id, name);
	}
	if (!r->tick && !r->hb) {
		snprintf(r->why, sizeof r->why, "No product ids provided");
		return -1;
	}
	return 0;
}

/* The "subscriptions" reply to r (json_dumps), NULL when out of memory. */
static char *subscriptions_reply(const struct app *app, const struct sub_req *r)
{
	json_t *reply = json_pack("{s:s,s:[]}", "type", "subscriptions", "channels");
	json_t *list = reply ? json_object_get(reply, "channels") : NULL;
	char *s;

	if (list && r->tick)
		json_array_append_new(list, json_pack("{s:s,s:o}", "name", "ticker", "product_ids",
						      product_array(app, r->tick)));
	if (list && r->hb)
		json_array_append_new(list, json_pack("{s:s,s:o}", "name", "heartbeat",
						      "product_ids", product_array(app, r->hb)));
	s = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	json_decref(reply);
	return s;
}

/* Starts streaming r on c after the reply s: the stale duplicates of products
 * already sent go first, as the real feed sends them. */
static void start_stream(struct conn *c, const struct sub_req *r, char *s)
{
	struct app *app = c->app;
	int p;

	logmsg("conn %ld: subscribed %s", c->id, s);
	lws_sul_cancel(&c->sul_sub);
	c->state = C_STREAM;
	c->tick_mask = r->tick;
	c->hb_mask = r->hb;
	c->dup_mask = 0;
	for (p = 0; p < app->nprod; p++)
		if ((r->tick & bit(p)) && app->prod[p].last_sent >= 0)
			c->dup_mask |= bit(p);
	c->pos = app->cursor;
	queue_ctrl(c, s, 0);
	if (r->hb && app->o.heartbeat_ms > 0)
		lws_sul_schedule(app->ctx, 0, &c->sul_hb, hb_cb,
				 (lws_usec_t)app->o.heartbeat_ms * LWS_US_PER_MS);
	if (r->tick)
		activate(c);
}

static void on_subscribe(struct conn *c, const char *buf, size_t len)
{
	struct app *app = c->app;
	struct sub_req r = {0};
	json_error_t jerr;
	json_t *root;
	const char *type;
	char *s;

	if (app->o.error_on_subscribe) {
		send_error(c, app->o.error_on_subscribe);
		return;
	}
	root = json_loadb(buf, len, 0, &jerr);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		send_error(c, "Malformed JSON");
		return;
	}
	type = json_string_value(json_object_get(root, "type"));
	if (!type || strcmp(type, "subscribe") != 0) {
		json_decref(root);
		send_error(c, "Type has to be either subscribe or unsubscribe");
		return;
	}
	if (parse_channels(c, root, &r)) {
		json_decref(root);
		send_error(c, r.why);
		return;
	}
	json_decref(root);
	s = subscriptions_reply(app, &r);
	if (!s) {
		send_error(c, "internal error");
		return;
	}
	start_stream(c, &r, s);
}

/* Makes buf[0..len) the message to send next. */
static int set_msg(struct conn *c, const char *buf, size_t len)
{
	int k, i;
	if (len > c->msg_cap) {
		size_t cap = len + 256;
		char *m = realloc(c->msg, cap);
		if (!m)
			return -1;
		c->msg = m;
		c->msg_cap = cap;
	}
	memcpy(c->msg, buf, len);
	c->msg_len = len;
	k = 1;
	if (c->app->o.fragment)
		k = 2 + (int)(c->nmsg % 2);
	if ((size_t)k > len)
		k = len ? (int)len : 1;
	for (i = 0; i <= k; i++)
		c->frag_off[i] = len * (size_t)i / (size_t)k;
	c->nfrag = k;
	c->frag_i = 0;
	c->nmsg++;
	return 0;
}

/*
 * Frames the next fragment of the current message onto c->out, exactly as
 * lws_write would put it on the wire (a server's frames are unmasked, and no
 * extension is negotiated): on_writeable writes c->out with one lws_write per
 * WRITE_FLUSH_BYTES instead of one per frame, as a busy feed fills its TCP
 * segments.
 */
#define PING_ROOM 40 /* a ping frame after the fragment */
static int send_frame(struct conn *c)
{
	size_t a = c->frag_off[c->frag_i], b = c->frag_off[c->frag_i + 1], n = b - a;
	unsigned char *h;
	size_t hl, i;

	if (c->out_len + 10 + n + PING_ROOM > c->out_cap) {
		size_t cap = c->out_len + 10 + n + PING_ROOM + WRITE_FLUSH_BYTES;
		unsigned char *o = realloc(c->out, LWS_PRE + cap);
		if (!o) {
			logmsg("conn %ld: out of memory", c->id);
			return -1;
		}
		c->out = o;
		c->out_cap = cap;
	}
	h = c->out + LWS_PRE + c->out_len;
	/* FIN on the last fragment; TEXT first, CONTINUATION after */
	h[0] = (unsigned char)((c->frag_i + 1 == c->nfrag ? 0x80 : 0) |
			       (c->frag_i == 0 ? 0x1 : 0x0));
	if (n < 126) {
		h[1] = (unsigned char)n;
		hl = 2;
	} else if (n < 65536) {
		h[1] = 126;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
		hl = 4;
	} else {
		h[1] = 127;
		for (i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	memcpy(h + hl, c->msg + a, n);
	c->out_len += hl + n;
	c->frag_i++;
	if (c->ping_pending) {
		/* a control frame may come between the fragments of a message */
		int pl = snprintf((char *)h + hl + n + 2, 32, "ping-%ld", ++c->pings);

		h[hl + n] = 0x89;
		h[hl + n + 1] = (unsigned char)pl;
		c->out_len += 2 + (size_t)pl;
		c->ping_pending = 0;
	}
	/* the next fragment, or whatever comes next */
	lws_callback_on_writable(c->wsi);
	return 0;
}

/* Writes the framed output to the socket: lws sends what the kernel takes and
 * keeps the rest, which it sends before the next WRITEABLE. */
static int flush_out(struct conn *c)
{
	int n;

	if (!c->out_len)
		return 0;
	n = lws_write(c->wsi, c->out + LWS_PRE, c->out_len, LWS_WRITE_RAW);
	if (n < (int)c->out_len) {
		logmsg("conn %ld: write failed", c->id);
		return -1;
	}
	c->out_len = 0;
	return 0;
}

/* After a live tick was queued: counters and the misbehaviour knobs. */
static void after_tick(struct conn *c)
{
	struct app *app = c->app;
	c->fresh++;
	if (app->o.garbage_every > 0 && c->fresh % app->o.garbage_every == 0)
		c->garbage_pending = 1;
	if (app->o.ping_every > 0 && c->fresh % app->o.ping_every == 0)
		c->ping_pending = 1;
	if (app->o.drop_after > 0 && c->fresh == app->o.drop_after) {
		logmsg("conn %ld: dropping after %ld ticks (%s)", c->id, c->fresh,
		       app->o.drop_mode == DROP_CLOSE ? "close 1011" : "reset");
		deactivate(c);
		c->state = C_CLOSING;
		c->close_kind = app->o.drop_mode == DROP_CLOSE ? CLOSE_FRAME : CLOSE_RESET;
		c->close_code = LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;
		snprintf(c->close_text, sizeof c->close_text, "dropped by feed-server");
	} else if (app->o.stall_after > 0 && c->fresh == app->o.stall_after) {
		logmsg("conn %ld: stalling after %ld ticks", c->id, c->fresh);
		deactivate(c);
		c->stalled = 1;
		lws_sul_cancel(&c->sul_hb);
	}
}

/* RST without a close frame, once the kernel has sent everything. */
static int do_reset(struct conn *c)
{
	int fd = (int)lws_get_socket_fd(c->wsi), outq = 0;
	struct linger lg = {1, 0};
	struct sockaddr sa;
	if (fd >= 0 && ioctl(fd, SIOCOUTQ, &outq) == 0 && outq > 0) {
		lws_sul_schedule(c->app->ctx, 0, &c->sul_drain, drain_cb, 2 * LWS_US_PER_MS);
		return 0;
	}
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		/* connect(AF_UNSPEC) disconnects a TCP socket with a RST */
		memset(&sa, 0, sizeof sa);
		sa.sa_family = AF_UNSPEC;
		if (connect(fd, &sa, sizeof sa))
			logmsg("conn %ld: disconnect: %s", c->id, strerror(errno));
	}
	return -1;
}

/* What an output step of one kind returns when nothing of its kind is due. */
#define STEP_NEXT 1

/* Frames the first fragment of the message just set (the next WRITEABLE
 * carries on with the rest). */
static int send_first(struct conn *c, int *sent)
{
	lws_callback_on_writable(c->wsi);
	*sent = 1;
	return send_frame(c);
}

/* Makes buf[0..len) the message and frames its first fragment. */
static int send_msg(struct conn *c, const char *buf, size_t len, int *sent)
{
	if (set_msg(c, buf, len))
		return -1;
	return send_first(c, sent);
}

/* The queued control reply or error; a close frame follows an error. */
static int send_ctrl(struct conn *c, int *sent)
{
	int rc = set_msg(c, c->ctrl, strlen(c->ctrl));

	free(c->ctrl);
	c->ctrl = NULL;
	if (rc)
		return -1;
	if (c->close_after_ctrl)
		c->close_kind = CLOSE_FRAME;
	return send_first(c, sent);
}

/* Ends the connection as decided: a RST (once the kernel sent the rest), or
 * lws' close frame with the code and reason. */
static int send_close(struct conn *c)
{
	if (c->close_kind == CLOSE_RESET)
		return do_reset(c);
	lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
			 (unsigned char *)c->close_text, strlen(c->close_text));
	return -1;
}

/* --garbage-every: a text frame that is not JSON (odd times), or the first
 * half of the last tick sent here (even times), so that both of the
 * producer's rejects are exercised. */
static int send_garbage(struct conn *c, int *sent)
{
	static const char junk[] = "garbage: this is not JSON {]";
	const struct app *app = c->app;
	const struct line *L;

	c->garbage_pending = 0;
	if (c->garbage_n++ % 2 == 0 || c->last_tick < 0)
		return send_msg(c, junk, sizeof junk - 1, sent);
	L = &app->lines[c->last_tick];
	return send_msg(c, app->data + L->off, L->len / 2, sent);
}

/* The stale duplicate of the next product still owed one. */
static int send_duplicate(struct conn *c, int *sent)
{
	const struct app *app = c->app;
	int p;

	for (p = 0; p < app->nprod; p++) {
		if (c->dup_mask & bit(p)) {
			const struct line *L = &app->lines[app->prod[p].last_sent];
			c->dup_mask &= ~bit(p);
			return send_msg(c, app->data + L->off, L->len, sent);
		}
	}
	return STEP_NEXT;
}

/* Writes product p's heartbeat to buf: the last trade and sequence released
 * (before the first release, those just before its first line), at the
 * replay's "now".  Returns its length, -1 when it does not fit. */
static int format_heartbeat(const struct app *app, int p, char *buf, size_t size)
{
	long li = app->prod[p].last_rel >= 0 ? app->prod[p].last_rel : app->prod[p].first;
	const struct line *L = &app->lines[li];
	int adj = app->prod[p].last_rel >= 0 ? 0 : 1;
	char when[40];
	int n;

	format_time(replay_now(app), when);
	n = snprintf(buf, size,
		     "{\"type\":\"heartbeat\",\"last_trade_id\":%" PRId64
		     ",\"product_id\":\"%s\",\"sequence\":%" PRId64 ",\"time\":\"%s\"}",
		     L->trade_id >= 0 ? L->trade_id - adj : 0, app->prod[p].name,
		     L->seq >= 0 ? L->seq - adj : 0, when);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

/* The heartbeat of the next product due one. */
static int send_heartbeat(struct conn *c, int *sent)
{
	const struct app *app = c->app;
	char hb[512];
	int p, n;

	for (p = 0; p < app->nprod; p++) {
		if (c->hb_pending & bit(p)) {
			c->hb_pending &= ~bit(p);
			n = format_heartbeat(app, p, hb, sizeof hb);
			if (n < 0)
				return -1;
			return send_msg(c, hb, (size_t)n, sent);
		}
	}
	return STEP_NEXT;
}

/* The index of the next line of the replay c subscribed to, released here at
 * --speed 0 (the client's reading paces the replay); -1 when none is due. */
static long next_line(struct conn *c)
{
	struct app *app = c->app;

	while (c->pos < app->nlines) {
		size_t idx = c->pos;
		if (idx >= app->cursor) {
			if (app->o.speed > 0)
				return -1;
			release_one(app);
		}
		c->pos++;
		if (c->tick_mask & bit(app->lines[idx].prod))
			return (long)idx;
	}
	return -1;
}

/* The next live tick, if one is due, with the replay's bookkeeping (what was
 * sent at least once, per product the last one sent) and the knobs. */
static int send_live(struct conn *c, int *sent)
{
	struct app *app = c->app;
	long idx = next_line(c);

	if (idx >= 0) {
		const struct line *L = &app->lines[idx];
		if (set_msg(c, app->data + L->off, L->len))
			return -1;
		c->last_tick = idx;
		app->prod[L->prod].last_sent = idx;
		if ((size_t)idx >= app->hw) {
			app->hw = (size_t)idx + 1;
			app->distinct_sent++;
		}
		after_tick(c); /* before the frame: a ping goes right after it */
		if (send_first(c, sent))
			return -1;
	}
	check_eof(app);
	return 0;
}

/*
 * One step of the connection's output: the next frame of the current message,
 * else the next message due (control reply, close, garbage, stale duplicate,
 * heartbeat, live tick, in that order).  *sent is set when a frame was
 * written; -1 closes the connection.
 */
static int write_step(struct conn *c, int *sent)
{
	int rc;

	*sent = 0;
	if (c->frag_i < c->nfrag) {
		*sent = 1;
		return send_frame(c);
	}
	if (c->ctrl)
		return send_ctrl(c, sent);
	if (c->close_kind != CLOSE_NONE)
		return send_close(c);
	if (c->state != C_STREAM || c->stalled)
		return 0;
	if (c->garbage_pending)
		return send_garbage(c, sent);
	if (c->dup_mask && (rc = send_duplicate(c, sent)) != STEP_NEXT)
		return rc;
	if (c->hb_pending && (rc = send_heartbeat(c, sent)) != STEP_NEXT)
		return rc;
	if (!c->active)
		return 0;
	return send_live(c, sent);
}

/*
 * LWS_CALLBACK_SERVER_WRITEABLE: as many steps as the socket takes, so that
 * --speed 0 is not one frame per poll round trip.  Frames collect in c->out
 * and go out in writes of WRITE_FLUSH_BYTES; the burst ends when the socket
 * is choked after such a write, after WRITE_BURST_FRAMES frames, or at a step
 * that writes nothing (paced replay with nothing due, a stall) or starts a
 * close.  Every step asks for the next WRITEABLE itself, so ending early
 * loses nothing, and whatever was framed is written before returning.
 */
static int on_writeable(struct conn *c)
{
	int n, rc = 0, sent;

	for (n = 0; n < WRITE_BURST_FRAMES; n++) {
		if (c->out_len >= WRITE_FLUSH_BYTES) {
			if (flush_out(c))
				return -1;
			if (lws_send_pipe_choked(c->wsi))
				break;
		}
		rc = write_step(c, &sent);
		if (rc || !sent || c->close_kind != CLOSE_NONE)
			break;
	}
	if (flush_out(c))
		return -1;
	return rc;
}

static void conn_remove(struct app *app, struct conn *c)
{
	int i;
	for (i = 0; i < app->nconns; i++) {
		if (app->conns[i] == c) {
			app->conns[i] = app->conns[--app->nconns];
			break;
		}
	}
}

/* LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: --reject-status answers the
 * upgrade with an HTTP error; past --max-connections, or while stopping,
 * the connection is refused (non-zero). */
static int on_filter(struct app *app, struct lws *wsi)
{
	if (app->o.reject_status) {
		logmsg("rejecting an upgrade with HTTP %ld", app->o.reject_status);
		lws_return_http_status(wsi, (unsigned int)app->o.reject_status,
				       "refused by feed-server --reject-status");
		return 1;
	}
	if (app->stop || app->eof_closing || app->nconns >= MAX_CONNS ||
	    (app->o.max_connections >= 0 && app->accepted >= app->o.max_connections)) {
		logmsg("refusing a connection");
		return 1;
	}
	return 0;
}

/* LWS_CALLBACK_ESTABLISHED: a new connection waits for its subscribe, or
 * with --close-reason is closed at once. */
static int on_established(struct app *app, struct conn *c, struct lws *wsi)
{
	memset(c, 0, sizeof *c);
	c->app = app;
	c->wsi = wsi;
	c->id = ++app->next_id;
	c->last_tick = -1;
	c->state = C_WAIT_SUB;
	app->conns[app->nconns++] = c;
	app->accepted++;
	if (!(c->rx = malloc(RX_MAX)))
		return -1;
	logmsg("conn %ld: connected", c->id);
	if (app->o.close_reason) {
		c->state = C_CLOSING;
		c->close_kind = CLOSE_FRAME;
		c->close_code = app->o.close_code;
		snprintf(c->close_text, sizeof c->close_text, "%s", app->o.close_reason);
		lws_callback_on_writable(wsi);
	} else if (app->o.subscribe_timeout_ms > 0) {
		lws_sul_schedule(app->ctx, 0, &c->sul_sub, sub_timeout_cb,
				 (lws_usec_t)app->o.subscribe_timeout_ms * LWS_US_PER_MS);
	}
	return 0;
}

/* LWS_CALLBACK_RECEIVE: fragments are collected up to RX_MAX; a whole
 * message is the subscribe while one is awaited, else ignored. */
static void on_receive(struct conn *c, struct lws *wsi, const void *in, size_t len)
{
	if (c->rx_len + len > RX_MAX)
		c->rx_overflow = 1;
	else {
		memcpy(c->rx + c->rx_len, in, len);
		c->rx_len += len;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return;
	if (c->rx_overflow) {
		logmsg("conn %ld: message over %d bytes ignored", c->id, RX_MAX);
	} else if (c->state == C_WAIT_SUB) {
		on_subscribe(c, c->rx, c->rx_len);
	} else if (c->app->o.verbose) {
		logmsg("conn %ld: message ignored: %.*s", c->id, (int)c->rx_len, c->rx);
	}
	c->rx_len = 0;
	c->rx_overflow = 0;
}

/* LWS_CALLBACK_CLOSED: the connection's timers and buffers go; the server
 * stops with its last connection after --exit-at-eof's end or the
 * --max-connections'th. */
static void on_closed(struct app *app, struct conn *c)
{
	deactivate(c);
	lws_sul_cancel(&c->sul_hb);
	lws_sul_cancel(&c->sul_sub);
	lws_sul_cancel(&c->sul_drain);
	conn_remove(app, c);
	logmsg("conn %ld: closed after %ld live ticks, %ld pings, %ld pongs",
	       c->id, c->fresh, c->pings, c->pongs);
	free(c->ctrl);
	free(c->msg);
	free(c->out);
	free(c->rx);
	c->app = NULL;
	if (app->nconns == 0 && !app->stop &&
	    ((app->o.exit_at_eof && app->eof_logged) ||
	     (app->o.max_connections >= 0 && app->accepted >= app->o.max_connections)))
		stop_soon(app);
}

/* The protocol's callback; c->app is NULL on a connection not (or no longer)
 * established, whose events are ignored. */
static int callback_feed(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			 void *in, size_t len)
{
	struct lws_context *ctx = lws_get_context(wsi);
	struct app *app = ctx ? lws_context_user(ctx) : NULL;
	struct conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return on_filter(app, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		return on_established(app, c, wsi);
	case LWS_CALLBACK_RECEIVE:
		if (c->app)
			on_receive(c, wsi, in, len);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c->app ? on_writeable(c) : 0;
	case LWS_CALLBACK_RECEIVE_PONG:
		if (c->app) {
			c->pongs++;
			logmsg("conn %ld: pong %.*s", c->id, (int)len, (const char *)in);
		}
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (c->app)
			on_closed(app, c);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static struct lws_protocols protocols[] = {
	/* tx_packet_size: lws sends up to that much of one lws_write at once */
	{"coinbase-feed", callback_feed, sizeof(struct conn), 4096, 0, NULL,
	 WRITE_FLUSH_BYTES + 4096},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- options ---- */

static int parse_long(const char *s, long min, long *v)
{
	char *e;
	errno = 0;
	*v = strtol(s, &e, 10);
	return (errno || e == s || *e || *v < min) ? -1 : 0;
}

enum {
	O_PORT_FILE = 256, O_TLS, O_CERT_OUT, O_DROP_AFTER, O_DROP_MODE, O_STALL_AFTER,
	O_LOSE, O_ERR_SUB, O_CLOSE_REASON, O_CLOSE_CODE, O_GARBAGE, O_PING, O_REJECT, O_FRAGMENT, O_HB_MS,
	O_SUB_TO, O_MAX_CONN, O_EXIT_EOF,
};

static const struct option long_opts[] = {
	{"file", required_argument, NULL, 'f'},
	{"port", required_argument, NULL, 'p'},
	{"port-file", required_argument, NULL, O_PORT_FILE},
	{"speed", required_argument, NULL, 's'},
	{"tls", no_argument, NULL, O_TLS},
	{"cert-out", required_argument, NULL, O_CERT_OUT},
	{"drop-after", required_argument, NULL, O_DROP_AFTER},
	{"drop-mode", required_argument, NULL, O_DROP_MODE},
	{"stall-after", required_argument, NULL, O_STALL_AFTER},
	{"lose-on-drop", required_argument, NULL, O_LOSE},
	{"error-on-subscribe", required_argument, NULL, O_ERR_SUB},
	{"close-reason", required_argument, NULL, O_CLOSE_REASON},
	{"close-code", required_argument, NULL, O_CLOSE_CODE},
	{"garbage-every", required_argument, NULL, O_GARBAGE},
	{"fragment", no_argument, NULL, O_FRAGMENT},
	{"ping-every", required_argument, NULL, O_PING},
	{"reject-status", required_argument, NULL, O_REJECT},
	{"heartbeat-ms", required_argument, NULL, O_HB_MS},
	{"subscribe-timeout-ms", required_argument, NULL, O_SUB_TO},
	{"max-connections", required_argument, NULL, O_MAX_CONN},
	{"exit-at-eof", no_argument, NULL, O_EXIT_EOF},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* The options that take a whole number: 0 set, -1 a bad value, 1 not one of
 * them. */
static int set_number(struct opts *o, int opt, const char *arg)
{
	long v;

	switch (opt) {
	case 'p':
		if (parse_long(arg, 0, &v) || v > 65535)
			return -1;
		o->port = (int)v;
		return 0;
	case O_CLOSE_CODE:
		if (parse_long(arg, 1000, &v) || v > 4999)
			return -1;
		o->close_code = (int)v;
		return 0;
	case O_REJECT:
		return parse_long(arg, 200, &o->reject_status) || o->reject_status > 599 ? -1 : 0;
	case O_MAX_CONN:
		/* -1 = forever; 0 would serve nothing */
		return parse_long(arg, -1, &o->max_connections) || o->max_connections == 0 ? -1 : 0;
	case O_DROP_AFTER: return parse_long(arg, 1, &o->drop_after);
	case O_STALL_AFTER: return parse_long(arg, 1, &o->stall_after);
	case O_LOSE: return parse_long(arg, 0, &o->lose_on_drop);
	case O_GARBAGE: return parse_long(arg, 1, &o->garbage_every);
	case O_PING: return parse_long(arg, 1, &o->ping_every);
	case O_HB_MS: return parse_long(arg, 0, &o->heartbeat_ms);
	case O_SUB_TO: return parse_long(arg, 0, &o->subscribe_timeout_ms);
	default: return 1;
	}
}

/* The other options of a run (files, texts, flags, the speed and the drop
 * mode): 0 set, -1 a bad value, 1 not one of them. */
static int set_other(struct opts *o, int opt, const char *arg)
{
	char *e;

	switch (opt) {
	case 'f': o->file = arg; return 0;
	case O_PORT_FILE: o->port_file = arg; return 0;
	case O_CERT_OUT: o->cert_out = arg; return 0;
	case O_ERR_SUB: o->error_on_subscribe = arg; return 0;
	case O_CLOSE_REASON: o->close_reason = arg; return 0;
	case O_TLS: o->tls = 1; return 0;
	case O_FRAGMENT: o->fragment = 1; return 0;
	case O_EXIT_EOF: o->exit_at_eof = 1; return 0;
	case 'v': o->verbose++; return 0;
	case 's':
		errno = 0;
		o->speed = strtod(arg, &e);
		return errno || e == arg || *e || !(o->speed >= 0) || !isfinite(o->speed) ? -1 : 0;
	case O_DROP_MODE:
		if (strcmp(arg, "close") == 0)
			o->drop_mode = DROP_CLOSE;
		else if (strcmp(arg, "reset") == 0)
			o->drop_mode = DROP_RESET;
		else
			return -1;
		return 0;
	default: return 1;
	}
}

/* Names the option whose value arg was refused. */
static void bad_value(int opt, const char *arg)
{
	int i;

	for (i = 0; long_opts[i].name && long_opts[i].val != opt; i++)
		;
	logmsg("feed-server: bad value '%s' for --%s", arg,
	       long_opts[i].name ? long_opts[i].name : "?");
}

/* 0 run, 1 exit 0 (--help, --version), -1 exit 2 (said why). */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	int c, rc;

	while ((c = getopt_long(argc, argv, "f:p:s:vhV", long_opts, NULL)) != -1) {
		rc = set_number(o, c, optarg);
		if (rc > 0)
			rc = set_other(o, c, optarg);
		if (rc < 0) {
			bad_value(c, optarg);
			return -1;
		}
		if (rc == 0)
			continue;
		if (c == 'h') {
			fputs(usage_text, stdout);
			return 1;
		}
		if (c == 'V') {
			printf("feed-server %s\n", PIPELINE_VERSION);
			return 1;
		}
		fputs(usage_text, stderr);
		return -1;
	}
	if (optind < argc) {
		logmsg("feed-server: unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (!o->file) {
		logmsg("feed-server: --file is required (see --help)");
		return -1;
	}
	return 0;
}

/* The app with the options' defaults. */
static struct app *app_new(void)
{
	struct app *app = calloc(1, sizeof *app);

	if (!app) {
		logmsg("feed-server: out of memory");
		return NULL;
	}
	app->o.speed = 1.0;
	app->o.drop_mode = DROP_RESET;
	app->o.close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
	app->o.heartbeat_ms = 1000;
	app->o.subscribe_timeout_ms = 5000;
	app->o.max_connections = -1;
	return app;
}

/* SIGTERM and SIGINT stop the loop (tick_cb looks); a client gone is an
 * error of its write, not a SIGPIPE. */
static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* The file, and with --tls the certificate (and --cert-out). */
static int prepare(struct app *app)
{
	if (load_file(app))
		return -1;
	logmsg("feed-server: %zu ticks of %d product(s) from %s", app->nlines, app->nprod,
	       app->o.file);
	if (!app->o.tls)
		return 0;
	if (make_cert(app))
		return -1;
	if (app->o.cert_out && write_atomic(app->o.cert_out, app->cert_pem, app->cert_len))
		return -1;
	return 0;
}

/* The lws context (no listener of its own: the vhost listens), then the vhost
 * on 127.0.0.1:--port; returns the port it listens on, -1 on failure. */
static int start_server(struct app *app)
{
	struct lws_context_creation_info info;
	struct lws_vhost *vh;
	int port;

	lws_set_log_level(app->o.verbose > 1 ? LLL_ERR | LLL_WARN | LLL_NOTICE
			  : LLL_ERR | LLL_WARN, lws_log_emit);

	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6 |
		       LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	if (app->o.tls)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.user = app;
	info.port = CONTEXT_PORT_NO_LISTEN;
	app->ctx = lws_create_context(&info);
	if (!app->ctx) {
		logmsg("feed-server: lws_create_context failed");
		return -1;
	}

	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	info.vhost_name = "feed";
	info.port = app->o.port;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	if (app->o.tls) {
		info.server_ssl_cert_mem = app->cert_pem;
		info.server_ssl_cert_mem_len = (unsigned int)app->cert_len;
		info.server_ssl_private_key_mem = app->key_pem;
		info.server_ssl_private_key_mem_len = (unsigned int)app->key_len;
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	}
	vh = lws_create_vhost(app->ctx, &info);
	if (!vh) {
		logmsg("feed-server: cannot listen on 127.0.0.1:%d", app->o.port);
		return -1;
	}
	port = lws_get_vhost_listen_port(vh);
	if (port <= 0) {
		logmsg("feed-server: cannot find the listening port");
		return -1;
	}
	logmsg("listening on %s://127.0.0.1:%d", app->o.tls ? "wss" : "ws", port);
	return port;
}

/* --port-file: the port, written once the server listens (the tests wait
 * for the file). */
static int write_port_file(const struct app *app, int port)
{
	char portbuf[32];
	int n;

	if (!app->o.port_file)
		return 0;
	n = snprintf(portbuf, sizeof portbuf, "%d\n", port);
	return write_atomic(app->o.port_file, portbuf, (size_t)n);
}

static void app_free(struct app *app)
{
	if (app->ctx) {
		app->stop = 1;
		lws_sul_cancel(&app->sul_tick);
		lws_sul_cancel(&app->sul_release);
		lws_sul_cancel(&app->sul_eof);
		lws_context_destroy(app->ctx);
	}
	free(app->lines);
	free(app->data);
	free(app->cert_pem);
	free(app->key_pem);
	free(app);
}

int main(int argc, char **argv)
{
	struct app *app = app_new();
	int rc = 1, n, port;

	if (!app)
		return 1;
	n = parse_opts(argc, argv, &app->o);
	if (n) {
		rc = n > 0 ? 0 : 2;
		goto out;
	}
	install_signals();
	if (prepare(app))
		goto out;
	port = start_server(app);
	if (port < 0 || write_port_file(app, port))
		goto out;

	lws_sul_schedule(app->ctx, 0, &app->sul_tick, tick_cb, TICK_PERIOD_US);
	while (!stop_flag && !app->stop)
		if (lws_service(app->ctx, 0) < 0)
			break;
	logmsg("feed-server: exiting (%zu ticks sent%s)", app->distinct_sent,
	       stop_flag ? ", signal" : "");
	rc = 0;
out:
	app_free(app);
	return rc;
}

/*
 * conn.c - the connection to the feed (see conn.h).
 *
 * libwebsockets gives a raw client connection (TCP, timers, retries); on it
 * we run TLS (feedtls) and the WebSocket protocol (wsproto).  Bytes to send
 * wait in one transmit buffer until lws says the socket is writeable.
 */
#include "conn.h"

#include <libwebsockets.h>

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "feedtls.h"
#include "log.h"
#include "wsproto.h"

#define FC_RX_CHUNK     (64 * 1024) /* bytes lws reads from the socket at once */
#define FC_BACKOFF_MS   250         /* first reconnect delay */
#define FC_STABLE_MS    10000       /* a confirmed connection up this long starts the backoff afresh */
#define FC_CLOSE_BYE    "\x03\xe8" "bye" /* close code 1000 */

/* One attempt after the other.  OPEN and the two closing states are
 * "established": the WebSocket handshake was done. */
enum fc_state {
	FC_IDLE,           /* no attempt: the next one is scheduled */
	FC_CONNECTING,     /* TCP (and TLS) under way */
	FC_HANDSHAKE,      /* transport up, WebSocket handshake sent */
	FC_OPEN,           /* messages flow, the watchdog is armed */
	FC_CLOSE_SENT,     /* our close frame is out: waiting for the feed's */
	FC_CLOSE_RECEIVED, /* the feed's close came first: ours is queued, then drop */
};

struct fconn {
	struct fconn_config cfg;
	struct fconn_events ev;
	struct fconn_stats stats;

	struct lws_context *lws;      /* the event loop, owned */
	struct lws *wsi;              /* the connection, NULL when down */
	lws_sorted_usec_list_t sul_connect; /* the next attempt */
	lws_sorted_usec_list_t sul_timer;
	lws_retry_bo_t retry;         /* backoff and hang-up policy */
	uint32_t backoff_ms[16];      /* retry.retry_ms_table */
	uint16_t retry_count;         /* consecutive attempts since the last stable connection */
	lws_usec_t confirmed_at;      /* fconn_confirmed on this connection, 0 not yet */

	char url_buf[512];            /* the URL, cut up by lws_parse_uri */
	const char *host;             /* in url_buf */
	char path[512];               /* "/" + path */
	int port;
	int use_ssl;                  /* wss:// */
	struct ftls *tls;             /* client TLS context, owned */
	struct ftls_conn *tlsc;       /* TLS of the connection, owned */

	size_t hello_len;
	char *msg;                    /* reassembly buffer, msg_max + 1, owned */
	struct wsp_rx rx;             /* frame decoder of the connection */
	char ws_key[WSP_KEY_LEN + 1]; /* Sec-WebSocket-Key of the connection */
	char head[WSP_HEAD_MAX];      /* handshake response read so far */
	size_t head_len;
	unsigned char *tx;            /* LWS_PRE + bytes for WRITEABLE, owned */
	size_t tx_len, tx_cap;        /* queued after LWS_PRE; room */

	enum fc_state state;
	int fail_logged;              /* why this attempt failed is logged */
	int closing;                  /* fconn_close, or a fatal error: no more attempts */
	int dns_told;                 /* fc_why ran since the last connection */
	lws_usec_t last_rx;           /* last valid feed message (watchdog) */
	int alive;                    /* a valid message in the current read */
};

static void fc_connect(lws_sorted_usec_list_t *sul);

#define FC_PROBE_MS 3000 /* how long the diagnosis waits for a TCP answer */

/* Why TCP to ai fails, from a connect of our own (lws says only "Unable to
 * connect"): refused, no answer, unreachable; nothing when it connects. */
static void fc_probe(const struct fconn *f, const struct addrinfo *ai, char *why, size_t len)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), e = 0;
	if (fd < 0)
		return;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		e = errno;
		if (e == EINPROGRESS) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			socklen_t el = sizeof(e);
			int r = poll(&p, 1, FC_PROBE_MS);
			if (r == 0)
				e = ETIMEDOUT;
			else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
				e = 0; /* interrupted (a signal): nothing to say */
		}
	}
	close(fd);
	if (e == ECONNREFUSED)
		snprintf(why, len, ": refused: nothing listens on %s port %d", f->host, f->port);
	else if (e == ETIMEDOUT)
		snprintf(why, len, ": no answer from %s port %d within %d s: a firewall, or offline?", f->host,
		         f->port, FC_PROBE_MS / 1000);
	else if (e == ENETUNREACH || e == EHOSTUNREACH || e == ENETDOWN)
		snprintf(why, len, ": %s port %d: %s: offline?", f->host, f->port, strerror(e));
	else if (e)
		snprintf(why, len, ": %s port %d: %s", f->host, f->port, strerror(e));
}

/* Why a connection could not start or failed before TCP was up: the name
 * does not resolve (offline, no DNS), or TCP is refused or not answered.
 * Into why (": ..."), or nothing when all looks well.  It blocks (a lookup,
 * a connect of up to FC_PROBE_MS): once per run of failed attempts. */
static void fc_why(const struct fconn *f, char *why, size_t len)
{
	struct addrinfo hints, *ai = NULL;
	char port[8];
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", f->port);
	int r = getaddrinfo(f->host, port, &hints, &ai);
	if (r)
		snprintf(why, len, ": cannot resolve %s (%s): offline, or no DNS?", f->host, gai_strerror(r));
	else if (ai)
		fc_probe(f, ai, why, len);
	if (ai)
		freeaddrinfo(ai);
}

static void fc_schedule(struct fconn *f)
{
	if (f->closing)
		return;
	lws_retry_sul_schedule(f->lws, 0, &f->sul_connect, &f->retry, fc_connect, &f->retry_count);
}

static void fc_connect(lws_sorted_usec_list_t *sul)
{
	struct fconn *f = lws_container_of(sul, struct fconn, sul_connect);
	struct lws_client_connect_info i;

	if (f->closing)
		return;
	memset(&i, 0, sizeof(i));
	i.context = f->lws;
	i.address = f->host;
	i.port = f->port;
	i.path = f->path;
	i.host = f->host;        /* TLS SNI and hostname check */
	i.method = "RAW";        /* the WebSocket layer is ours (wsproto.c) */
	i.local_protocol_name = "feed";
	i.pwsi = &f->wsi;
	i.retry_and_idle_policy = &f->retry;
	if (f->stats.attempts++)
		f->stats.reconnects++;
	f->state = FC_CONNECTING;
	f->fail_logged = 0;
	log_msg(f->cfg.verbosity, LOG_INFO, "connecting to %s (attempt %" PRIu64 ")", f->cfg.url,
	        f->stats.attempts);
	if (!lws_client_connect_via_info(&i)) {
		f->wsi = NULL;
		f->state = FC_IDLE;
		/* Why, once per run of such failures: the lookup blocks the loop. */
		char why[300] = "";
		if (!f->dns_told) {
			f->dns_told = 1;
			fc_why(f, why, sizeof(why));
		}
		log_msg(f->cfg.verbosity, LOG_WARN, "connect to %s failed immediately%s", f->cfg.url, why);
		fc_schedule(f);
	}
}

/* Queues bytes for the next WRITEABLE; -1 when they do not fit. */
static int fc_tx_raw(struct fconn *f, const void *p, size_t n)
{
	if (n > f->tx_cap - f->tx_len)
		return -1;
	memcpy(f->tx + LWS_PRE + f->tx_len, p, n);
	f->tx_len += n;
	lws_callback_on_writable(f->wsi);
	return 0;
}

/* Queues one client frame (masked with fresh random bytes). */
static int fc_tx_frame(struct fconn *f, int op, const void *p, size_t n)
{
	unsigned char mask[4];

	if (n + WSP_FRAME_OVERHEAD > f->tx_cap - f->tx_len)
		return -1;
	lws_get_random(f->lws, mask, sizeof(mask));
	f->tx_len += wsp_frame(f->tx + LWS_PRE + f->tx_len, op, p, n, mask);
	lws_callback_on_writable(f->wsi);
	return 0;
}

/* The transport is up: send the opening handshake. */
static int fc_connected(struct fconn *f, struct lws *wsi)
{
	unsigned char nonce[16];
	char req[2048];
	int n;

	f->wsi = wsi;
	f->state = FC_HANDSHAKE;
	f->dns_told = 0;
	f->head_len = 0;
	f->tx_len = 0;
	f->alive = 0;
	f->last_rx = lws_now_usecs(); /* the watchdog bounds the handshakes */
	if (f->tls) {
		char err[256];

		ftls_conn_free(f->tlsc);
		if (!(f->tlsc = ftls_conn_new(f->tls, f->host, err, sizeof(err))) ||
		    ftls_start(f->tlsc, err, sizeof(err)) != FTLS_OK) {
			log_msg(f->cfg.verbosity, LOG_WARN, "TLS to %s: %s", f->cfg.url, err);
			return -1;
		}
	}
	lws_get_random(f->lws, nonce, sizeof(nonce));
	wsp_make_key(nonce, f->ws_key);
	n = wsp_request(req, sizeof(req), f->host, f->port, f->use_ssl, f->path, f->ws_key, f->cfg.user_agent);
	if (n < 0 || fc_tx_raw(f, req, (size_t)n)) {
		log_msg(f->cfg.verbosity, LOG_ERROR, "handshake request too long for %s", f->cfg.url);
		return -1;
	}
	return 0;
}

/* The handshake succeeded: hello. */
static int fc_established(struct fconn *f)
{
	log_msg(f->cfg.verbosity, LOG_INFO, "connected to %s", f->cfg.url);
	f->state = FC_OPEN;
	f->last_rx = lws_now_usecs();
	wsp_rx_init(&f->rx, f->msg, f->cfg.msg_max);
	if (fc_tx_frame(f, WSP_TEXT, f->cfg.hello, f->hello_len))
		return -1;
	log_msg(f->cfg.verbosity, LOG_DEBUG, "sent %s", f->cfg.hello);
	f->ev.opened(f->ev.opaque);
	return 0;
}

/* The feed's close frame: its user judges it (a retired hostname is fatal),
 * answered with the same code, then the connection is dropped once that is
 * written.  Returns 1 (drop now: our close went first) or 2 (stop reading). */
static int fc_peer_close(struct fconn *f, const char *p, size_t len)
{
	const unsigned char *u = (const unsigned char *)p;
	char why[128] = "";
	int code = len >= 2 ? (u[0] << 8 | u[1]) : 0;

	if (len > 2)
		snprintf(why, sizeof(why), "%.*s", (int)(len - 2), p + 2);
	if (f->ev.closed_by_feed(f->ev.opaque, code, why))
		f->closing = 1;
	else if (f->state != FC_CLOSE_SENT)
		log_msg(f->cfg.verbosity, LOG_WARN, "feed closed the connection (code %d%s%s)", code,
		        why[0] ? ": " : "", why);
	if (f->state == FC_CLOSE_SENT)
		return 1;
	f->state = FC_CLOSE_RECEIVED;
	if (fc_tx_frame(f, WSP_CLOSE, p, len >= 2 ? 2 : 0))
		return 1;
	return 2;
}

/* One message from the frame decoder. */
static int fc_on_message(void *arg, int op, const char *buf, size_t len)
{
	struct fconn *f = arg;

	switch (op) {
	case WSP_TEXT:
	case WSP_BINARY:
		if (!buf)
			f->ev.oversized(f->ev.opaque, len);
		else if (f->ev.message(f->ev.opaque, buf, len))
			f->alive = 1;
		return 0;
	case WSP_PING:
		if (fc_tx_frame(f, WSP_PONG, buf, len))
			log_msg(f->cfg.verbosity, LOG_DEBUG, "pong not sent: transmit buffer full");
		return 0;
	case WSP_CLOSE:
		return fc_peer_close(f, buf, len);
	default: /* WSP_PONG: we send no pings */
		return 0;
	}
}

/* Bytes from the feed: first the handshake response, then frames.  Returns
 * -1 to drop the connection. */
static int fc_receive(struct fconn *f, struct lws *wsi, const unsigned char *in, size_t len)
{
	char err[256];
	int r;

	if (f->state == FC_CLOSE_RECEIVED)
		return 0;
	if (f->state == FC_HANDSHAKE) {
		size_t before = f->head_len;
		size_t take = len < sizeof(f->head) - before ? len : sizeof(f->head) - before;

		memcpy(f->head + before, in, take);
		f->head_len += take;
		r = wsp_response(f->head, f->head_len, f->ws_key, err, sizeof(err));
		if (!r)
			return 0;
		if (r < 0) {
			log_msg(f->cfg.verbosity, LOG_WARN, "WebSocket handshake with %s failed: %s", f->cfg.url, err);
			f->fail_logged = 1;
			return -1;
		}
		/* frames may follow the head in the same read */
		in += (size_t)r - before;
		len -= (size_t)r - before;
		if (fc_established(f))
			return -1;
	}
	r = wsp_rx_feed(&f->rx, in, len, fc_on_message, f, err, sizeof(err));
	/* once per read, not per message: a clock read and a timer move per
	 * message cost ~5% at full speed */
	if (f->alive && f->wsi) {
		f->alive = 0;
		f->last_rx = lws_now_usecs();
		lws_validity_confirmed(wsi);
	}
	if (r < 0) {
		f->stats.proto_errors++;
		log_msg(f->cfg.verbosity, LOG_WARN, "WebSocket protocol error from %s: %s; reconnecting", f->cfg.url,
		        err);
		return -1;
	}
	return r == 1 ? -1 : 0;
}

/* Plaintext out of TLS: 1 (stop) when the connection is to be dropped. */
static int fc_tls_plain(void *arg, const unsigned char *buf, size_t len)
{
	struct fconn *f = arg;

	return fc_receive(f, f->wsi, buf, len) < 0;
}

/* Ciphertext from the feed.  A certificate that fails verification is fatal:
 * retrying cannot fix it. */
static int fc_tls_receive(struct fconn *f, struct lws *wsi, const unsigned char *in, size_t len)
{
	char err[256];
	int r = ftls_input(f->tlsc, in, len, fc_tls_plain, f, err, sizeof(err));

	if (r == FTLS_CERT) {
		log_msg(f->cfg.verbosity, LOG_ERROR, "TLS: the certificate of %s failed verification (unknown CA, "
		        "self-signed, expired or wrong hostname): %s", f->host, err);
		log_msg(f->cfg.verbosity, LOG_ERROR, "give --ca-file FILE to trust its CA (or --insecure for a "
		        "test server); not retrying");
		f->closing = 1;
		f->ev.fatal(f->ev.opaque);
		return -1;
	}
	if (r < 0) {
		log_msg(f->cfg.verbosity, LOG_WARN, "%s: %s", f->cfg.url, err);
		f->fail_logged = 1;
		return -1;
	}
	if (r)
		return -1;
	if (ftls_pending(f->tlsc) || (f->tx_len && ftls_ready(f->tlsc)))
		lws_callback_on_writable(wsi);
	return 0;
}

/* Sends what is queued: plaintext as it is, or through TLS once its
 * handshake is done (the handshake's own records first). */
static int fc_writeable(struct fconn *f, struct lws *wsi)
{
	unsigned char buf[LWS_PRE + 16384];
	char err[256];
	size_t n;

	if (!f->tlsc) {
		if ((n = f->tx_len)) {
			f->tx_len = 0;
			if (lws_write(wsi, f->tx + LWS_PRE, n, LWS_WRITE_RAW) < (int)n)
				goto fail;
		}
		return f->state == FC_CLOSE_RECEIVED ? -1 : 0;
	}
	if (f->tx_len && ftls_ready(f->tlsc)) {
		if (ftls_write(f->tlsc, f->tx + LWS_PRE, f->tx_len, err, sizeof(err)) != FTLS_OK) {
			log_msg(f->cfg.verbosity, LOG_WARN, "%s: %s", f->cfg.url, err);
			return -1;
		}
		f->tx_len = 0;
	}
	while ((n = ftls_output(f->tlsc, buf + LWS_PRE, sizeof(buf) - LWS_PRE)))
		if (lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_RAW) < (int)n)
			goto fail;
	return f->state == FC_CLOSE_RECEIVED && !f->tx_len ? -1 : 0;
fail:
	log_msg(f->cfg.verbosity, LOG_WARN, "write to %s failed", f->cfg.url);
	return -1;
}

/* The attempt ended (failed, closed, dropped): once per attempt, retry. */
static void fc_closed(struct fconn *f, const char *why)
{
	if (f->state == FC_IDLE)
		return;
	if (f->state >= FC_OPEN)
		log_msg(f->cfg.verbosity, f->closing ? LOG_INFO : LOG_WARN, "disconnected from %s", f->cfg.url);
	else if (!f->closing && !f->fail_logged) {
		char diag[300] = "";
		if (f->state == FC_CONNECTING && !f->dns_told) {
			f->dns_told = 1;
			fc_why(f, diag, sizeof(diag));
		}
		log_msg(f->cfg.verbosity, LOG_WARN, "connection to %s failed: %s%s", f->cfg.url, why, diag);
	}
	/* A feed that confirms and then fails at once would otherwise be
	 * retried at the shortest wait for ever (three times a second). */
	if (f->confirmed_at && lws_now_usecs() - f->confirmed_at >= FC_STABLE_MS * LWS_US_PER_MS)
		f->retry_count = 0;
	f->confirmed_at = 0;
	f->state = FC_IDLE;
	f->wsi = NULL;
	ftls_conn_free(f->tlsc);
	f->tlsc = NULL;
	fc_schedule(f);
}

static int fc_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct fconn *f = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		fc_closed(f, in ? (const char *)in : "(no reason)");
		break;
	case LWS_CALLBACK_RAW_CONNECTED:
		return fc_connected(f, wsi);
	case LWS_CALLBACK_RAW_RX:
		return f->tlsc ? fc_tls_receive(f, wsi, in, len) : fc_receive(f, wsi, in, len);
	case LWS_CALLBACK_RAW_WRITEABLE:
		return fc_writeable(f, wsi);
	case LWS_CALLBACK_RAW_CLOSE:
		fc_closed(f, f->state == FC_HANDSHAKE ? "closed before the WebSocket handshake completed" : "closed");
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols fc_protocols[] = {
	/* rx_buffer_size: with the context's pt_serv_buf_size, how much lws
	 * reads per recv() (a busy feed sends many ticks per segment) */
	{ "feed", fc_event, 0, FC_RX_CHUNK, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* The watchdog (a connection silent for silence_s is dropped), then the
 * user's timer. */
static void fc_timer(lws_sorted_usec_list_t *sul)
{
	struct fconn *f = lws_container_of(sul, struct fconn, sul_timer);
	lws_usec_t now = lws_now_usecs();

	if (!f->closing && f->wsi && f->state >= FC_HANDSHAKE &&
	    now - f->last_rx > (lws_usec_t)f->cfg.silence_s * LWS_US_PER_SEC) {
		if (f->state >= FC_OPEN)
			log_msg(f->cfg.verbosity, LOG_WARN, "feed silent for %d s: reconnecting", f->cfg.silence_s);
		else
			log_msg(f->cfg.verbosity, LOG_WARN, "no WebSocket handshake response from %s in %d s: "
			        "reconnecting", f->cfg.url, f->cfg.silence_s);
		f->stats.silences++;
		f->last_rx = now; /* once per connection */
		lws_set_timeout(f->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
	lws_sul_schedule(f->lws, 0, &f->sul_timer, fc_timer, f->cfg.timer_ms * LWS_US_PER_MS);
	f->ev.timer(f->ev.opaque);
}

/* ws:// or wss://host[:port][/path] into host/port/path/ssl. */
static int fc_url(struct fconn *f, char *err, size_t errlen)
{
	const char *prot, *path;

	if (strlen(f->cfg.url) >= sizeof(f->url_buf)) {
		snprintf(err, errlen, "--url too long");
		return -1;
	}
	strcpy(f->url_buf, f->cfg.url);
	if (lws_parse_uri(f->url_buf, &prot, &f->host, &f->port, &path) || !*f->host) {
		snprintf(err, errlen, "cannot parse --url '%s'", f->cfg.url);
		return -1;
	}
	if (!strcmp(prot, "wss")) {
		f->use_ssl = 1;
	} else if (strcmp(prot, "ws")) {
		snprintf(err, errlen, "--url must start with ws:// or wss://");
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "/%s", path);
	return 0;
}

/* Backoff FC_BACKOFF_MS * 2^k capped at max_backoff_s, retried for ever, 20%
 * jitter.  lws sends no pings on a raw connection: its validity timer only
 * hangs up after twice the silence timeout without a valid message, a
 * backstop behind the watchdog in fc_timer. */
static void fc_retry(struct fconn *f)
{
	uint32_t cap = (uint32_t)f->cfg.max_backoff_s * 1000, ms = FC_BACKOFF_MS;
	uint16_t n = 0;

	if (cap < FC_BACKOFF_MS)
		cap = FC_BACKOFF_MS;
	while (n < 16) {
		f->backoff_ms[n++] = ms < cap ? ms : cap;
		if (ms >= cap)
			break;
		ms *= 2;
	}
	f->retry.retry_ms_table = f->backoff_ms;
	f->retry.retry_ms_table_count = n;
	f->retry.conceal_count = LWS_RETRY_CONCEAL_ALWAYS;
	f->retry.secs_since_valid_ping = (uint16_t)(f->cfg.silence_s / 3 ? f->cfg.silence_s / 3 : 1);
	f->retry.secs_since_valid_hangup = (uint16_t)(f->cfg.silence_s * 2 + 1);
	f->retry.jitter_percent = 20;
}

/* lws's own lines in our format ("% lws: ..."). */
static void fc_lws_log(int level, const char *line)
{
	(void)level;
	log_line("lws", line);
}

int fconn_new(struct fconn **out, const struct fconn_config *cfg, const struct fconn_events *ev,
              char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	struct fconn *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return FCONN_EINIT;
	}
	int ret = -1;
	f->cfg = *cfg;
	f->ev = *ev;
	if (fc_url(f, err, errlen) < 0)
		goto fail;
	fc_retry(f);
	/* the trust store and the CA file are read once, here */
	if ((f->use_ssl || cfg->ca_file) && !(f->tls = ftls_new(cfg->ca_file, cfg->insecure, err, errlen)))
		goto fail;
	f->hello_len = strlen(cfg->hello);
	/* the handshake request (URL <= 511 bytes), or hello and a few control frames */
	f->tx_cap = 2048 + f->hello_len + 4 * (125 + WSP_FRAME_OVERHEAD);
	f->tx = malloc(LWS_PRE + f->tx_cap);
	f->msg = malloc(cfg->msg_max + 1);
	ret = FCONN_EINIT;
	if (!f->tx || !f->msg) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	int lwslevel = LLL_ERR | LLL_USER;
	if (cfg->verbosity < LOG_INFO)
		lwslevel = 0;
	else if (cfg->verbosity > LOG_DEBUG)
		lwslevel |= LLL_WARN | LLL_NOTICE | LLL_INFO;
	lws_set_log_level(lwslevel, fc_lws_log);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = fc_protocols;
	info.fd_limit_per_thread = 16;
	info.pt_serv_buf_size = FC_RX_CHUNK;
	info.user = f;
	if (!(f->lws = lws_create_context(&info))) {
		snprintf(err, errlen, "cannot create the libwebsockets context");
		goto fail;
	}
	*out = f;
	return 0;
fail:
	fconn_free(f);
	return ret;
}

void fconn_free(struct fconn *f)
{
	if (!f)
		return;
	if (f->lws) {
		lws_sul_cancel(&f->sul_timer);
		lws_sul_cancel(&f->sul_connect);
		lws_context_destroy(f->lws);
	}
	ftls_conn_free(f->tlsc);
	ftls_free(f->tls);
	free(f->tx);
	free(f->msg);
	free(f);
}

const char *fconn_host(const struct fconn *f)
{
	return f->host;
}

const struct fconn_stats *fconn_stats(const struct fconn *f)
{
	return &f->stats;
}

void fconn_start(struct fconn *f)
{
	lws_sul_schedule(f->lws, 0, &f->sul_connect, fc_connect, 1);
	lws_sul_schedule(f->lws, 0, &f->sul_timer, fc_timer, f->cfg.timer_ms * LWS_US_PER_MS);
}

int fconn_service(struct fconn *f)
{
	return lws_service(f->lws, 0) < 0 ? -1 : 0;
}

void fconn_wake(struct fconn *f)
{
	lws_cancel_service(f->lws);
}

void fconn_confirmed(struct fconn *f)
{
	f->confirmed_at = lws_now_usecs();
}

void fconn_close(struct fconn *f)
{
	f->closing = 1;
	lws_sul_cancel(&f->sul_connect);
	if (!f->wsi)
		return;
	if (f->state == FC_OPEN) {
		/* the feed's answer drops the connection */
		f->state = FC_CLOSE_SENT;
		if (!fc_tx_frame(f, WSP_CLOSE, FC_CLOSE_BYE, sizeof(FC_CLOSE_BYE) - 1))
			return;
	}
	if (f->state != FC_CLOSE_SENT)
		lws_set_timeout(f->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

int fconn_down(const struct fconn *f)
{
	return !f->wsi;
}

int fconn_open(const struct fconn *f)
{
	return f->wsi && f->state == FC_OPEN;
}

int64_t fconn_silence_us(const struct fconn *f)
{
	return fconn_open(f) ? (int64_t)(lws_now_usecs() - f->last_rx) : -1;
}

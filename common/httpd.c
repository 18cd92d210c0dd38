/*
 * httpd.c - see httpd.h.  One thread polls the listening socket, a wake-up
 * pipe and every connection; sockets are non-blocking, so a client that
 * sends or takes a byte a second costs a slot until its deadline, never the
 * others' time.  Every response closes its connection (HTTP/1.1 with
 * "Connection: close"): a page loads a handful of resources, a scrape one.
 */
#include "httpd.h"

#include "args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HD_HEAD_MAX 8192      /* a request head larger than this: 431 */
#define HD_NAMED 8            /* published texts */
#define HD_KEEPALIVE_MS 15000 /* an SSE comment this often: proxies keep it open */

enum hd_state { HD_READ, HD_WRITE, HD_SSE, HD_DRAIN };
#define HD_DRAIN_MS 1000     /* after a response, what the client still sends is read and dropped */

struct hd_conn {
	int fd;                 /* -1: a free slot */
	enum hd_state state;
	int64_t deadline;       /* monotonic ms: dropped when passed */
	int64_t sent_at;        /* SSE: when the last byte went */
	char *in;               /* HD_READ: the head so far */
	size_t nin;
	char *out;              /* what is left to send */
	size_t nout, off;
	uint64_t cursor;        /* HD_SSE: the next event to send */
};

struct hd_event {
	uint64_t seq;
	char *data;
	size_t len;
};

struct hd_named {
	char name[32];
	char *text;
	size_t len;
};

struct httpd {
	int fd, wake[2];
	pthread_t thread;
	pthread_mutex_t lock;   /* guards named, stuck_at, reason, notes, stop */
	struct hd_named named[HD_NAMED];
	int64_t stuck_at;
	char reason[640];
	char *notes[HTTPD_RING];
	size_t notes_len[HTTPD_RING], nnotes;
	int stop;
	/* the thread's own */
	const char *page;
	struct httpd_handler h;
	char opt[32];
	char host[256];         /* as given, loopback when empty */
	struct hd_conn conns[HTTPD_MAX_CLIENTS];
	struct hd_event ring[HTTPD_RING];  /* event seq is at ring[seq % HTTPD_RING] */
	uint64_t next_seq;                  /* from 1 */
	unsigned long long boot;            /* event ids are "boot-seq": a restart is told apart */
};

static int64_t hd_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hd_close(struct hd_conn *c)
{
	close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Sets what c has to send: a head and body (copied), then closes. */
static void hd_reply(struct hd_conn *c, int code, const char *type, const char *extra, const char *body,
                     size_t len, int head_only)
{
	static const struct { int code; const char *text; } reasons[] = {
		{ 200, "OK" }, { 400, "Bad Request" }, { 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 431, "Request Header Fields Too Large" }, { 500, "Internal Server Error" },
		{ 503, "Service Unavailable" },
	};
	const char *reason = "Error";
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == code)
			reason = reasons[i].text;
	char head[512];
	int h = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                 "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n%sConnection: close\r\n\r\n",
	                 code, reason, type, len, extra ? extra : "");
	size_t blen = head_only ? 0 : len;
	free(c->out);
	c->out = malloc((size_t)h + blen);
	c->nout = c->off = 0;
	if (c->out) {
		memcpy(c->out, head, (size_t)h);
		if (blen)
			memcpy(c->out + h, body, blen);
		c->nout = (size_t)h + blen;
	}
	c->state = HD_WRITE;
	c->deadline = hd_ms() + HTTPD_SEND_DEADLINE_MS;
}

static void hd_text(struct hd_conn *c, int code, const char *text, const char *extra)
{
	hd_reply(c, code, "text/plain; charset=utf-8", extra, text, strlen(text), 0);
}

/* A published text, copied under the lock; 0 when there is none. */
static int hd_named_copy(struct httpd *s, const char *name, char **text, size_t *len)
{
	int found = 0;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < HD_NAMED; i++)
		if (s->named[i].name[0] && !strcmp(s->named[i].name, name)) {
			*text = malloc(s->named[i].len + 1);
			if (*text) {
				memcpy(*text, s->named[i].text, s->named[i].len);
				*len = s->named[i].len;
				found = 1;
			}
			break;
		}
	pthread_mutex_unlock(&s->lock);
	return found;
}

static void hd_healthz(struct httpd *s, struct hd_conn *c, int head_only)
{
	char body[660];
	pthread_mutex_lock(&s->lock);
	int64_t stuck_at = s->stuck_at;
	int stuck = stuck_at && stuck_at / 1000 <= hd_ms();
	snprintf(body, sizeof(body), "%s\n", stuck ? s->reason : "ok");
	pthread_mutex_unlock(&s->lock);
	hd_reply(c, stuck ? 503 : 200, "text/plain; charset=utf-8", NULL, body, strlen(body), head_only);
}

/* GET /api/NAME: published, else the program's handler. */
static void hd_api(struct httpd *s, struct hd_conn *c, const char *name, const char *query, int head_only)
{
	char *body = NULL;
	size_t len = 0;
	int code = 200;
	if (!hd_named_copy(s, name, &body, &len))
		code = s->h.api ? s->h.api(s->h.arg, name, query, &body, &len) : 0;
	if (!code) {
		hd_text(c, 404, "no such resource\n", NULL);
		return;
	}
	if (!body) {
		hd_text(c, 500, "out of memory\n", NULL);
		return;
	}
	hd_reply(c, code, "application/json", NULL, body, len, head_only);
	free(body);
}

/* The oldest event the ring still holds. */
static uint64_t hd_oldest(const struct httpd *s)
{
	return s->next_seq > HTTPD_RING ? s->next_seq - HTTPD_RING : 1;
}

/* GET /events: the stream's head; with a Last-Event-ID of this run still in
 * the ring it goes on after it, else from now on with a "reset" event first
 * (the page fetches the windows again). */
static void hd_sse_start(struct httpd *s, struct hd_conn *c, const char *last_id)
{
	int n = 0;
	for (size_t i = 0; i < HTTPD_MAX_CLIENTS; i++)
		n += s->conns[i].fd >= 0 && s->conns[i].state == HD_SSE;
	if (n >= HTTPD_MAX_SSE) {
		hd_text(c, 503, "too many event streams\n", "Retry-After: 10\r\n");
		return;
	}
	unsigned long long boot = 0, seq = 0;
	int resume = last_id && sscanf(last_id, "%llu-%llu", &boot, &seq) == 2 && boot == s->boot &&
	             seq + 1 >= hd_oldest(s) && seq < s->next_seq;
	char head[400];
	int h = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
	                 "Cache-Control: no-store\r\nConnection: close\r\n\r\nretry: 2000\n\n%s",
	                 resume ? "" : "event: reset\ndata: {}\n\n");
	free(c->out);
	c->out = malloc((size_t)h);
	c->nout = c->off = 0;
	if (c->out) {
		memcpy(c->out, head, (size_t)h);
		c->nout = (size_t)h;
	}
	c->cursor = resume ? seq + 1 : s->next_seq;
	c->state = HD_SSE;
	c->sent_at = hd_ms();
	c->deadline = c->sent_at + HTTPD_SEND_DEADLINE_MS;
}

/* The header's value in the head (case-insensitive name), or NULL; cut at
 * the line's end in place. */
static char *hd_header(char *head, const char *name)
{
	size_t n = strlen(name);
	for (char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
		if (!strncasecmp(p + 2, name, n) && p[2 + n] == ':') {
			char *v = p + 3 + n, *end = strstr(v, "\r\n");
			while (*v == ' ' || *v == '\t')
				v++;
			if (end)
				*end = '\0';
			return v;
		}
	}
	return NULL;
}

/* The request head, complete: what it asks for, answered. */
static void hd_route(struct httpd *s, struct hd_conn *c)
{
	char *head = c->in, method[16], target[2048], version[16];
	if (sscanf(head, "%15s %2047s %15s", method, target, version) != 3 || strncmp(version, "HTTP/1.", 7) ||
	    target[0] != '/' || strchr(head, '\0') != head + c->nin) {
		hd_text(c, 400, "bad request\n", NULL);
		return;
	}
	int head_only = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !head_only) {
		hd_text(c, 405, "only GET and HEAD: nothing here changes anything\n", "Allow: GET, HEAD\r\n");
		return;
	}
	char *query = strchr(target, '?');
	if (query)
		*query++ = '\0';
	char *text = NULL;
	size_t len = 0;
	if (!strcmp(target, "/") && s->page)
		hd_reply(c, 200, "text/html; charset=utf-8", "Content-Security-Policy: default-src 'self'; "
		         "script-src 'unsafe-inline'; style-src 'unsafe-inline'\r\n", s->page, strlen(s->page), head_only);
	else if (!strcmp(target, "/metrics") && hd_named_copy(s, "metrics", &text, &len))
		hd_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, text, len, head_only);
	else if (!strcmp(target, "/metrics"))
		hd_text(c, 200, "", NULL);
	else if (!strcmp(target, "/healthz"))
		hd_healthz(s, c, head_only);
	else if (!strncmp(target, "/api/", 5) && target[5] && !strchr(target + 5, '/'))
		hd_api(s, c, target + 5, query ? query : "", head_only);
	else if (!strcmp(target, "/events") && !head_only)
		hd_sse_start(s, c, hd_header(head, "Last-Event-ID"));
	else
		hd_text(c, 404, "not found: /, /metrics, /healthz, /api/windows, /api/open, /api/status, /events\n", NULL);
	free(text);
}

/* Reads what the client sent; routes the head once it is whole. */
static void hd_read(struct httpd *s, struct hd_conn *c)
{
	if (!c->in && !(c->in = malloc(HD_HEAD_MAX + 1))) {
		hd_close(c);
		return;
	}
	ssize_t r = read(c->fd, c->in + c->nin, HD_HEAD_MAX - c->nin);
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		hd_close(c);
		return;
	}
	if (r < 0)
		return;
	c->nin += (size_t)r;
	c->in[c->nin] = '\0';
	char *end = strstr(c->in, "\r\n\r\n");
	if (end) {
		end[2] = '\0';
		c->nin = (size_t)(end + 2 - c->in);
		hd_route(s, c);
	} else if (memchr(c->in, '\0', c->nin)) {
		hd_text(c, 400, "bad request\n", NULL);
	} else if (c->nin >= HD_HEAD_MAX) {
		hd_text(c, 431, "request head too large\n", NULL);
	}
}

/* Sends what it can; a response sent closes, a stream waits for more. */
static void hd_write(struct hd_conn *c)
{
	while (c->off < c->nout) {
		ssize_t w = send(c->fd, c->out + c->off, c->nout - c->off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0) {
			hd_close(c);
			return;
		}
		c->off += (size_t)w;
		c->sent_at = hd_ms();
	}
	if (c->state == HD_WRITE) {
		/* closing with unread bytes would reset the connection, and the
		 * client could lose the response (a 431 to a head too long): the
		 * rest is read and dropped, for a second at most */
		shutdown(c->fd, SHUT_WR);
		c->state = HD_DRAIN;
		c->deadline = hd_ms() + HD_DRAIN_MS;
	}
}

/* An SSE client with nothing pending gets its next event, or a comment to
 * keep the line open.  Returns -1 when it is dropped: behind the ring. */
static int hd_sse_next(struct httpd *s, struct hd_conn *c, int64_t now)
{
	if (c->off < c->nout)
		return 0;
	if (c->cursor < hd_oldest(s))
		return -1;
	free(c->out);
	c->out = NULL;
	c->nout = c->off = 0;
	if (c->cursor < s->next_seq) {
		const struct hd_event *ev = &s->ring[c->cursor % HTTPD_RING];
		char head[96];
		int h = snprintf(head, sizeof(head), "id: %llu-%" PRIu64 "\nevent: commit\ndata: ", s->boot, ev->seq);
		if (!(c->out = malloc((size_t)h + ev->len + 2)))
			return -1;
		memcpy(c->out, head, (size_t)h);
		memcpy(c->out + h, ev->data, ev->len);
		memcpy(c->out + h + ev->len, "\n\n", 2);
		c->nout = (size_t)h + ev->len + 2;
		c->cursor++;
	} else if (now - c->sent_at >= HD_KEEPALIVE_MS) {
		if (!(c->out = strdup(": keepalive\n\n")))
			return -1;
		c->nout = strlen(c->out);
	}
	c->deadline = now + HTTPD_SEND_DEADLINE_MS;
	return 0;
}

/* The notes the program queued become events (expanded here, on this
 * thread), the oldest ones leaving the ring. */
static void hd_take_notes(struct httpd *s)
{
	char *notes[HTTPD_RING];
	size_t lens[HTTPD_RING], n;
	pthread_mutex_lock(&s->lock);
	n = s->nnotes;
	memcpy(notes, s->notes, n * sizeof(notes[0]));
	memcpy(lens, s->notes_len, n * sizeof(lens[0]));
	s->nnotes = 0;
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		size_t len = lens[i];
		char *data = s->h.expand ? s->h.expand(s->h.arg, notes[i], &len) : NULL;
		if (data)
			free(notes[i]);
		else
			data = notes[i], len = lens[i];
		/* one line of data: an event's newlines would end it early */
		for (size_t k = 0; k < len; k++)
			if (data[k] == '\n' || data[k] == '\r')
				data[k] = ' ';
		struct hd_event *ev = &s->ring[s->next_seq % HTTPD_RING];
		free(ev->data);
		*ev = (struct hd_event){ s->next_seq++, data, len };
	}
}

/* Accepts what waits, up to the cap; past it, a 503 best effort. */
static void hd_accept(struct httpd *s)
{
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct hd_conn *c = NULL;
		for (size_t i = 0; i < HTTPD_MAX_CLIENTS && !c; i++)
			if (s->conns[i].fd < 0)
				c = &s->conns[i];
		if (!c) {
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
			                           "Retry-After: 1\r\nConnection: close\r\n\r\n";
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) { /* nothing to do */ }
			close(fd);
			continue;
		}
		c->fd = fd;
		c->state = HD_READ;
		c->deadline = hd_ms() + HTTPD_REQ_DEADLINE_MS;
	}
}

/* One turn over the connections: deadlines, events, what poll said. */
static void hd_turn(struct httpd *s, struct pollfd *pf, struct hd_conn **who, size_t n)
{
	int64_t now = hd_ms();
	for (size_t i = 2; i < n; i++) {
		struct hd_conn *c = who[i];
		if (c->fd < 0)
			continue;
		if (pf[i].revents & (POLLERR | POLLNVAL) || (c->state == HD_SSE && pf[i].revents & (POLLIN | POLLHUP))) {
			hd_close(c); /* a stream's client sends nothing more: it is gone */
			continue;
		}
		if (c->state == HD_DRAIN && pf[i].revents & (POLLIN | POLLHUP)) {
			char buf[4096];
			ssize_t r = read(c->fd, buf, sizeof(buf));
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				hd_close(c);
			continue;
		}
		if (c->state == HD_READ && pf[i].revents & (POLLIN | POLLHUP))
			hd_read(s, c);
		if (c->fd >= 0 && c->state != HD_READ && c->state != HD_DRAIN && (pf[i].revents & POLLOUT || c->off == 0))
			hd_write(c);
	}
	for (size_t i = 0; i < HTTPD_MAX_CLIENTS; i++) {
		struct hd_conn *c = &s->conns[i];
		if (c->fd < 0)
			continue;
		/* events while the socket takes them, then POLLOUT says when */
		int more = 1;
		while (c->fd >= 0 && c->state == HD_SSE && c->off >= c->nout && more) {
			more = c->cursor < s->next_seq;
			if (hd_sse_next(s, c, now) < 0) {
				hd_close(c);
				break;
			}
			hd_write(c);
		}
		if (c->fd < 0)
			continue;
		if (c->fd >= 0 && c->deadline <= now && (c->state != HD_SSE || c->off < c->nout))
			hd_close(c);
		else if (c->fd >= 0 && c->state == HD_SSE && c->cursor < hd_oldest(s))
			hd_close(c); /* behind the ring with an event half sent */
	}
}

static void *hd_main(void *arg)
{
	struct httpd *s = arg;
	struct pollfd pf[HTTPD_MAX_CLIENTS + 2];
	struct hd_conn *who[HTTPD_MAX_CLIENTS + 2];
	for (;;) {
		pthread_mutex_lock(&s->lock);
		int stop = s->stop;
		pthread_mutex_unlock(&s->lock);
		if (stop)
			break;
		hd_take_notes(s);
		size_t n = 2;
		pf[0] = (struct pollfd){ s->fd, POLLIN, 0 };
		pf[1] = (struct pollfd){ s->wake[0], POLLIN, 0 };
		for (size_t i = 0; i < HTTPD_MAX_CLIENTS; i++) {
			struct hd_conn *c = &s->conns[i];
			if (c->fd < 0)
				continue;
			short ev = c->state == HD_READ || c->state == HD_DRAIN ? POLLIN : c->off < c->nout ? POLLOUT : 0;
			if (c->state == HD_SSE)
				ev |= POLLIN;
			who[n] = c;
			pf[n++] = (struct pollfd){ c->fd, ev, 0 };
		}
		poll(pf, n, 250);
		if (pf[1].revents & POLLIN) {
			char buf[256];
			while (read(s->wake[0], buf, sizeof(buf)) > 0) {
			}
		}
		hd_take_notes(s);
		if (pf[0].revents & POLLIN)
			hd_accept(s);
		hd_turn(s, pf, who, n);
	}
	return NULL;
}

/* The listening socket on host (loopback when empty) and port. */
static int hd_listen(struct httpd *s, const char *hostport, char *err, size_t errlen)
{
	char host[256], port[8];
	struct addrinfo hints, *ai = NULL;
	int one = 1, portnum;
	if (args_hostport(s->opt, hostport, host, sizeof(host), &portnum, err, errlen) < 0)
		return -1;
	size_t hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') { /* [::1] */
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	snprintf(s->host, sizeof(s->host), "%s", host[0] ? host : "127.0.0.1");
	snprintf(port, sizeof(port), "%d", portnum);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	int gai = getaddrinfo(host[0] ? host : "127.0.0.1", port, &hints, &ai);
	if (gai) {
		snprintf(err, errlen, "%s %s: %s", s->opt, hostport, gai_strerror(gai));
		return -1;
	}
	s->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0 || setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s->fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(s->fd, 128) < 0) {
		int inuse = errno == EADDRINUSE;
		snprintf(err, errlen, "%s %s: %s%s", s->opt, hostport, strerror(errno),
		         inuse ? " (another process listens there; it may be gone at the next start)" : "");
		freeaddrinfo(ai);
		return inuse ? HTTPD_EINUSE : -1;
	}
	freeaddrinfo(ai);
	return 0;
}

int httpd_start(struct httpd **out, const char *opt, const char *hostport, const char *page,
                const struct httpd_handler *h, char *err, size_t errlen)
{
	struct httpd *s = calloc(1, sizeof(*s));
	int rc = -1;
	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->fd = s->wake[0] = s->wake[1] = -1;
	snprintf(s->opt, sizeof(s->opt), "%s", opt);
	s->page = page;
	if (h)
		s->h = *h;
	s->next_seq = 1;
	s->boot = (unsigned long long)time(NULL) * 1000 + (unsigned long long)(hd_ms() % 1000);
	for (size_t i = 0; i < HTTPD_MAX_CLIENTS; i++)
		s->conns[i].fd = -1;
	if ((rc = hd_listen(s, hostport, err, errlen)) < 0)
		goto fail;
	rc = -1;
	if (pipe2(s->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
		snprintf(err, errlen, "%s: pipe: %s", opt, strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&s->lock, NULL);
	if (pthread_create(&s->thread, NULL, hd_main, s)) {
		snprintf(err, errlen, "%s: cannot start a thread", opt);
		pthread_mutex_destroy(&s->lock);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->fd >= 0)
		close(s->fd);
	if (s->wake[0] >= 0) {
		close(s->wake[0]);
		close(s->wake[1]);
	}
	free(s);
	return rc;
}

void httpd_publish(struct httpd *s, const char *name, const char *text, size_t len)
{
	char *copy = malloc(len + 1);
	if (!copy)
		return;
	memcpy(copy, text, len);
	copy[len] = '\0';
	pthread_mutex_lock(&s->lock);
	struct hd_named *slot = NULL;
	for (size_t i = 0; i < HD_NAMED && !slot; i++)
		if (!strcmp(s->named[i].name, name) || !s->named[i].name[0])
			slot = &s->named[i];
	if (slot) {
		snprintf(slot->name, sizeof(slot->name), "%s", name);
		free(slot->text);
		slot->text = copy;
		slot->len = len;
		copy = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	free(copy);
}

void httpd_health(struct httpd *s, int64_t stuck_at, const char *reason)
{
	pthread_mutex_lock(&s->lock);
	s->stuck_at = stuck_at;
	snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
	pthread_mutex_unlock(&s->lock);
}

void httpd_event(struct httpd *s, const char *note, size_t len)
{
	char *copy = malloc(len + 1);
	if (!copy)
		return;
	memcpy(copy, note, len);
	copy[len] = '\0';
	pthread_mutex_lock(&s->lock);
	if (s->nnotes == HTTPD_RING) { /* the thread is far behind: the oldest note goes */
		free(s->notes[0]);
		memmove(s->notes, s->notes + 1, (HTTPD_RING - 1) * sizeof(s->notes[0]));
		memmove(s->notes_len, s->notes_len + 1, (HTTPD_RING - 1) * sizeof(s->notes_len[0]));
		s->nnotes--;
	}
	s->notes[s->nnotes] = copy;
	s->notes_len[s->nnotes++] = len;
	pthread_mutex_unlock(&s->lock);
	if (write(s->wake[1], "", 1) < 0) { /* full: the thread wakes anyway */ }
}

int httpd_port(const struct httpd *s)
{
	struct sockaddr_storage a;
	socklen_t n = sizeof(a);
	if (getsockname(s->fd, (struct sockaddr *)&a, &n) < 0)
		return -1;
	return ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
	                                     : ((struct sockaddr_in *)&a)->sin_port);
}

void httpd_url(const struct httpd *s, char *buf, size_t len)
{
	snprintf(buf, len, strchr(s->host, ':') ? "http://[%s]:%d/" : "http://%s:%d/", s->host, httpd_port(s));
}

void httpd_stop(struct httpd *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_mutex_unlock(&s->lock);
	if (write(s->wake[1], "", 1) < 0) { /* the poll's timeout wakes it */ }
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->lock);
	for (size_t i = 0; i < HTTPD_MAX_CLIENTS; i++)
		if (s->conns[i].fd >= 0)
			hd_close(&s->conns[i]);
	for (size_t i = 0; i < HTTPD_RING; i++)
		free(s->ring[i].data);
	for (size_t i = 0; i < s->nnotes; i++)
		free(s->notes[i]);
	for (size_t i = 0; i < HD_NAMED; i++)
		free(s->named[i].text);
	close(s->fd);
	close(s->wake[0]);
	close(s->wake[1]);
	free(s);
}

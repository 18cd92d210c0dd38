/*
 * test_httpd.c - the HTTP server (common/httpd.c) on its own: server-sent
 * events with a client that stops reading (dropped once behind the ring,
 * while a reading client gets every event in order), resuming by
 * Last-Event-ID, /healthz's verdict, and a stop under a second with such
 * clients connected.
 */
#include "harness.h"
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A connection with the request sent; rcvbuf > 0 makes its buffer small. */
static int conn(int port, const char *req, int rcvbuf)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || write(fd, req, strlen(req)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads what is there within ms into buf (appended at *n, bounded). */
static int drain(int fd, char *buf, size_t cap, size_t *n, int ms)
{
	struct pollfd pf = { fd, POLLIN, 0 };
	while (poll(&pf, 1, ms) > 0) {
		char tmp[65536];
		ssize_t r = read(fd, tmp, sizeof(tmp));
		if (r <= 0)
			return r == 0 || errno == ECONNRESET ? 1 : -1; /* 1: closed by the server */
		size_t take = (size_t)r < cap - 1 - *n ? (size_t)r : cap - 1 - *n;
		memcpy(buf + *n, tmp, take);
		*n += take;
		buf[*n] = '\0';
		ms = 0;
	}
	return 0;
}

/* The answer to one plain request. */
static void get(int port, const char *req, char *buf, size_t cap)
{
	size_t n = 0;
	int fd = conn(port, req, 0);
	buf[0] = '\0';
	for (int i = 0; i < 50 && fd >= 0 && drain(fd, buf, cap, &n, 100) == 0; i++) {
	}
	if (fd >= 0)
		close(fd);
}

static void test_health(struct httpd *s, int port)
{
	char buf[4096];
	get(port, "GET /healthz HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	T_OK(strstr(buf, "HTTP/1.1 200") && strstr(buf, "\r\n\r\nok\n"), "/healthz: 200 ok before any verdict");
	httpd_health(s, mono_us() + 60000000, "later");
	get(port, "GET /healthz HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	T_OK(strstr(buf, "HTTP/1.1 200"), "/healthz: 200 while the stuck time is ahead");
	httpd_health(s, mono_us() - 1, "no commit for 10 s while 5 messages wait");
	get(port, "GET /healthz HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	T_OK(strstr(buf, "HTTP/1.1 503") && strstr(buf, "no commit for 10 s while 5 messages wait"),
	     "/healthz: 503 with the reason once it is passed");
	httpd_health(s, 0, NULL);
	httpd_publish(s, "metrics", "m 1\n", 4);
	get(port, "GET /metrics HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	T_OK(strstr(buf, "\r\n\r\nm 1\n") != NULL, "/metrics: what was published");
}

/* 2000 events of 4 KB, about one every ms: the client that reads gets them
 * all in order, the one that stopped reading is dropped once it is more than
 * the ring (256 events) behind; the server holds at most the ring. */
static void test_backpressure(struct httpd *s, int port, char *last_id, size_t idlen)
{
	static char got[12 << 20];
	size_t n = 0, dead_n = 0;
	char ev[4096], dead[1024];
	int good = conn(port, "GET /events HTTP/1.1\r\n\r\n", 0);
	int stalled = conn(port, "GET /events HTTP/1.1\r\n\r\n", 4096);
	usleep(300000);
	memset(ev, 'x', sizeof(ev) - 1);
	ev[sizeof(ev) - 1] = '\0';
	for (int i = 1; i <= 2000; i++) {
		int h = snprintf(ev, 16, "%08d", i);
		ev[h] = 'x';
		httpd_event(s, ev, strlen(ev));
		drain(good, got, sizeof(got), &n, 0);
		usleep(500); /* commits come at most every few ms */
	}
	for (int i = 0; i < 40; i++)
		drain(good, got, sizeof(got), &n, 50);
	int events = 0, in_order = 1;
	for (const char *p = got; (p = strstr(p, "\ndata: 0")); p += 7) { /* not the reset's "{}" */
		events++;
		in_order &= atoi(p + 7) == events;
	}
	T_INT(events, 2000, "the reading client got every event");
	T_OK(in_order, "in order");
	const char *id = strstr(got, "id: ");
	for (const char *p = id; p && (p = strstr(p + 1, "\nid: "));)
		id = p + 1;
	if (id)
		snprintf(last_id, idlen, "%.*s", (int)strcspn(id + 4, "\n"), id + 4);
	int closed = 0;
	for (int i = 0; i < 100 && !closed; i++)
		closed = drain(stalled, dead, sizeof(dead), &dead_n, 50) == 1;
	T_OK(closed, "the client that stopped reading was dropped (behind the ring)");
	close(good);
	close(stalled);
}

/* Reconnecting with the last id: only what came after it; an id of
 * another run: "reset" first. */
static void test_resume(struct httpd *s, int port, const char *last_id)
{
	char req[256], buf[65536];
	size_t n = 0;
	snprintf(req, sizeof(req), "GET /events HTTP/1.1\r\nLast-Event-ID: %s\r\n\r\n", last_id);
	int fd = conn(port, req, 0);
	usleep(100000);
	httpd_event(s, "after", 5);
	for (int i = 0; i < 10; i++)
		drain(fd, buf, sizeof(buf), &n, 50);
	T_OK(strstr(buf, "data: after\n") && !strstr(buf, "event: reset") && !strstr(buf, "data: 00002000"),
	     "Last-Event-ID of the last event: the next one only, no reset");
	close(fd);
	n = 0;
	fd = conn(port, "GET /events HTTP/1.1\r\nLast-Event-ID: 1-5\r\n\r\n", 0);
	for (int i = 0; i < 10; i++)
		drain(fd, buf, sizeof(buf), &n, 50);
	T_OK(strstr(buf, "event: reset") != NULL, "an id from another run: reset");
	close(fd);
}

int main(void)
{
	struct httpd *s = NULL;
	char err[256], last_id[64] = "";
	T_INT(httpd_start(&s, "--http", "127.0.0.1:0", "<html></html>", NULL, err, sizeof(err)), 0, "starts");
	if (!s)
		return t_done();
	int port = httpd_port(s);
	test_health(s, port);
	test_backpressure(s, port, last_id, sizeof(last_id));
	test_resume(s, port, last_id);
	/* stop with a stalled stream and a half-sent request connected */
	int a = conn(port, "GET /events HTTP/1.1\r\n\r\n", 4096), b = conn(port, "GE", 0);
	usleep(100000);
	int64_t t0 = mono_us();
	httpd_stop(s);
	int64_t took = mono_us() - t0;
	T_OK(took < 1000000, "stops in under a second with slow clients connected (%lld ms)", (long long)took / 1000);
	close(a);
	close(b);
	return t_done();
}

/*
 * metrics.c - see metrics.h.  One connection at a time: a scrape is a few
 * kilobytes, every 15 s or so.
 */
#include "metrics.h"

#include "args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct metrics {
	int fd;                /* the listening socket */
	pthread_t thread;
	pthread_mutex_t lock;  /* guards text, len, stop */
	char *text;
	size_t len;
	int stop;
};

/* Contract: see metrics.h. */
void metrics_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void mt_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Reads the request head (bounded, 2 s) and answers it. */
static void mt_serve(struct metrics *m, int c)
{
	char req[4096] = "";
	size_t n = 0;
	struct pollfd pf = { c, POLLIN, 0 };

	while (n < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
		if (poll(&pf, 1, 2000) <= 0)
			return;
		ssize_t r = read(c, req + n, sizeof(req) - 1 - n);
		if (r <= 0)
			return;
		n += (size_t)r;
		req[n] = '\0';
	}
	req[n] = '\0';
	if (strncmp(req, "GET /metrics ", 13) != 0 && strncmp(req, "GET /metrics?", 13) != 0) {
		static const char nf[] = "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 22\r\n"
		                         "Connection: close\r\n\r\nonly /metrics is here\n";
		mt_write_all(c, nf, sizeof(nf) - 1);
		return;
	}
	pthread_mutex_lock(&m->lock);
	size_t len = m->len;
	char *body = malloc(len + 1);
	if (body)
		memcpy(body, m->text ? m->text : "", len);
	pthread_mutex_unlock(&m->lock);
	if (!body)
		return;
	char head[256];
	int h = snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8"
	                 "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", len);
	mt_write_all(c, head, (size_t)h);
	mt_write_all(c, body, len);
	free(body);
}

static void *mt_main(void *arg)
{
	struct metrics *m = arg;
	for (;;) {
		pthread_mutex_lock(&m->lock);
		int stop = m->stop;
		pthread_mutex_unlock(&m->lock);
		if (stop)
			break;
		struct pollfd pf = { m->fd, POLLIN, 0 };
		if (poll(&pf, 1, 200) <= 0)
			continue;
		int c = accept(m->fd, NULL, NULL);
		if (c < 0)
			continue;
		mt_serve(m, c);
		close(c);
	}
	return NULL;
}

int metrics_start(struct metrics **out, const char *hostport, char *err, size_t errlen)
{
	char host[256], port[8];
	struct addrinfo hints, *ai = NULL;
	int one = 1, portnum;

	*out = NULL;
	if (args_hostport("--metrics", hostport, host, sizeof(host), &portnum, err, errlen) < 0)
		return -1;
	snprintf(port, sizeof(port), "%d", portnum);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (gai) {
		snprintf(err, errlen, "--metrics %s: %s", hostport, gai_strerror(gai));
		return -1;
	}
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m) {
		freeaddrinfo(ai);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	m->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(m->fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(m->fd, 16) < 0) {
		int inuse = errno == EADDRINUSE;
		snprintf(err, errlen, "--metrics %s: %s%s", hostport, strerror(errno),
		         inuse ? " (another process listens there; it may be gone at the next start)" : "");
		freeaddrinfo(ai);
		if (m->fd >= 0)
			close(m->fd);
		free(m);
		return inuse ? METRICS_EINUSE : -1;
	}
	freeaddrinfo(ai);
	pthread_mutex_init(&m->lock, NULL);
	if (pthread_create(&m->thread, NULL, mt_main, m)) {
		snprintf(err, errlen, "--metrics: cannot start a thread");
		pthread_mutex_destroy(&m->lock);
		close(m->fd);
		free(m);
		return -1;
	}
	*out = m;
	return 0;
}

void metrics_publish(struct metrics *m, const char *text, size_t len)
{
	char *copy = malloc(len + 1);
	if (!copy)
		return;
	memcpy(copy, text, len);
	copy[len] = '\0';
	pthread_mutex_lock(&m->lock);
	free(m->text);
	m->text = copy;
	m->len = len;
	pthread_mutex_unlock(&m->lock);
}

int metrics_port(const struct metrics *m)
{
	struct sockaddr_storage a;
	socklen_t n = sizeof(a);
	if (getsockname(m->fd, (struct sockaddr *)&a, &n) < 0)
		return -1;
	return ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
	                                     : ((struct sockaddr_in *)&a)->sin_port);
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = 1;
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	pthread_mutex_destroy(&m->lock);
	close(m->fd);
	free(m->text);
	free(m);
}

/*
 * httpd.h - the programs' small HTTP server (--http HOST:PORT, alias
 * --metrics): one thread, poll(2) over non-blocking sockets, read-only.
 *
 *   GET /          the page given at start (embedded; 404 without one)
 *   GET /metrics   the text published as "metrics" (Prometheus)
 *   GET /healthz   200 "ok", or 503 with the reason httpd_health gave
 *   GET /api/NAME  the JSON published as NAME, else handler->api
 *   GET /events    server-sent events: every httpd_event, in order
 *
 * The programs never block on it: they publish copies under a mutex and the
 * thread serves them.  Every connection has a deadline, their number a cap;
 * an SSE client that falls more than the ring behind is dropped.
 * docs/live-page.md tells why it is written here and not taken from a library.
 */
#ifndef HTTPD_H
#define HTTPD_H

#include <stddef.h>
#include <stdint.h>

struct httpd;

/* What the program answers itself, called on the server thread (never on
 * the program's own): both may be NULL. */
struct httpd_handler {
	void *arg;
	/* GET /api/NAME?query not published: the status (200, 400, 404...) with
	 * *body malloc'd JSON, or 0 when it has no such NAME. */
	int (*api)(void *arg, const char *name, const char *query, char **body, size_t *len);
	/* An event's data from the note httpd_event queued (malloc'd; NULL
	 * sends the note as it is). */
	char *(*expand)(void *arg, const char *note, size_t *len);
};

#define HTTPD_EINUSE (-2)
#define HTTPD_MAX_CLIENTS 256   /* connections at once; more get 503 */
#define HTTPD_MAX_SSE 64        /* /events streams at once */
#define HTTPD_RING 256          /* events kept for clients behind / reconnecting */
#define HTTPD_REQ_DEADLINE_MS 5000  /* to send the request head */
#define HTTPD_SEND_DEADLINE_MS 10000 /* to take a response (or an event) */

/* Listens on hostport ("127.0.0.1:9464"; ":9464" is loopback too: to be
 * reached from elsewhere, "0.0.0.0:9464" or "[::]:9464").  opt names the option in messages.  page: the
 * HTML served at / (static, not copied), or NULL.  0, -1 with err, or
 * HTTPD_EINUSE with err when another process listens there. */
int httpd_start(struct httpd **out, const char *opt, const char *hostport, const char *page,
                const struct httpd_handler *h, char *err, size_t errlen);
/* Replaces what GET /metrics ("metrics") or GET /api/NAME serves (copied). */
void httpd_publish(struct httpd *s, const char *name, const char *text, size_t len);
/* /healthz: 503 with reason once the monotonic clock (us) passes stuck_at;
 * stuck_at 0 is healthy. */
void httpd_health(struct httpd *s, int64_t stuck_at, const char *reason);
/* Queues an event (copied); the thread expands it and sends it to every
 * /events client.  Never blocks on a client. */
void httpd_event(struct httpd *s, const char *note, size_t len);
/* The port it listens on (the one the kernel chose for port 0). */
int httpd_port(const struct httpd *s);
/* The page's address, "http://127.0.0.1:8080/" (an empty host: loopback). */
void httpd_url(const struct httpd *s, char *buf, size_t len);
/* Stops the thread (at once, whatever the clients do) and frees. */
void httpd_stop(struct httpd *s);

#endif

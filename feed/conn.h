/*
 * conn.h - the connection to the feed: a raw TCP client in libwebsockets'
 * event loop, with TLS (feedtls.c) and the WebSocket protocol (wsproto.c) of
 * our own on top (lws 4.1's client parses WebSocket payload one byte at a
 * time, and cannot start TLS on a raw client connection).  One attempt after
 * the other, for ever: backoff with jitter, a silence watchdog, the close
 * handshake at the end.  Its user gets complete messages and a few events,
 * and a timer in the same loop for its own housekeeping.
 */
#ifndef CONN_H
#define CONN_H

#include <stddef.h>
#include <stdint.h>

struct fconn;

struct fconn_config {
	const char *url;          /* ws:// or wss://host[:port][/path] */
	const char *ca_file;      /* an extra trust anchor (PEM), NULL for none */
	int insecure;             /* accept any certificate (test servers) */
	const char *hello;        /* sent as a text message once the connection is open */
	const char *user_agent;   /* of the handshake request */
	size_t msg_max;           /* longer messages are dropped (see oversized) */
	int silence_s;            /* a connection this long without a message is dropped */
	int max_backoff_s;        /* the longest wait between two attempts */
	int timer_ms;             /* period of the timer event */
	int verbosity;            /* a log_level (log.h) */
};

/* What the connection tells its user; every call comes from fconn_service. */
struct fconn_events {
	void *opaque;
	/* The WebSocket handshake is done (hello is on its way). */
	void (*opened)(void *opaque);
	/* One complete text or binary message; returns 1 when it was a valid feed
	 * message (it resets the silence watchdog), else 0. */
	int (*message)(void *opaque, const char *buf, size_t len);
	/* A message longer than msg_max, dropped. */
	void (*oversized)(void *opaque, size_t len);
	/* The feed's close frame (code 0 when it gave none): returns 1 when
	 * retrying cannot help (the connection is not tried again). */
	int (*closed_by_feed)(void *opaque, int code, const char *reason);
	/* Retrying cannot help: the certificate failed verification (logged). */
	void (*fatal)(void *opaque);
	/* Every timer_ms. */
	void (*timer)(void *opaque);
};

struct fconn_stats {
	uint64_t attempts;      /* connection attempts so far */
	uint64_t reconnects;    /* of them after the first */
	uint64_t proto_errors;  /* connections dropped for a protocol error */
	uint64_t silences;      /* connections dropped by the watchdog */
};

/* Parses the URL, reads the trust store, makes the event loop. 0, or -1 with
 * err (a bad URL or CA file: configuration), or FCONN_EINIT (no memory, no
 * event loop). */
#define FCONN_EINIT (-2)
int fconn_new(struct fconn **out, const struct fconn_config *cfg, const struct fconn_events *ev,
              char *err, size_t errlen);
void fconn_free(struct fconn *f);

const char *fconn_host(const struct fconn *f);
const struct fconn_stats *fconn_stats(const struct fconn *f);

/* Schedules the first attempt and the timer. */
void fconn_start(struct fconn *f);
/* Runs the loop once; -1 when it failed. */
int fconn_service(struct fconn *f);
/* Makes fconn_service return (e.g. from the timer, to leave the loop). */
void fconn_wake(struct fconn *f);

/* The feed confirmed what hello asked for: when this connection then stays
 * up for 10 s, the next reconnect starts its backoff again from the
 * shortest wait. */
void fconn_confirmed(struct fconn *f);

/* No more attempts; an open connection is closed with the close handshake
 * (code 1000), any other dropped.  fconn_down() says when it is gone. */
void fconn_close(struct fconn *f);
int fconn_down(const struct fconn *f);

/* 1 while the WebSocket connection is open (messages flow). */
int fconn_open(const struct fconn *f);
/* How long no valid message came on the open connection (us), -1 when none is open. */
int64_t fconn_silence_us(const struct fconn *f);

#endif

/*
 * feedtls.h - TLS for wss:// over the producer's raw libwebsockets
 * connection: OpenSSL driven through memory BIOs, so libwebsockets moves the
 * ciphertext and this module turns it into plaintext and back.
 *
 * Why not lws's own TLS: libwebsockets 4.1 starts TLS on a raw client before
 * its socket exists ("tls start fail"), and the WebSocket layer is ours
 * (wsproto.h) because its client parser runs once per payload byte.
 */
#ifndef FEEDTLS_H
#define FEEDTLS_H

#include <stddef.h>

struct ftls;        /* one per process: the client context (trust, verify) */
struct ftls_conn;   /* one per connection */

/* The client context: the system's trust store, plus every certificate of
 * ca_file (PEM) when given; insecure skips verification.  NULL with err. */
struct ftls *ftls_new(const char *ca_file, int insecure, char *err, size_t errlen);
void ftls_free(struct ftls *t);

/* A connection to host (name or IP literal: SNI and the certificate's name or
 * address are checked against it).  NULL with err. */
struct ftls_conn *ftls_conn_new(struct ftls *t, const char *host, char *err,
				size_t errlen);
void ftls_conn_free(struct ftls_conn *tc);

/* Results of ftls_input and ftls_write. */
enum {
	FTLS_OK = 0,        /* done (plaintext delivered / queued) */
	FTLS_ERROR = -1,    /* TLS failure, reason in err */
	FTLS_CERT = -2,     /* the server's certificate failed verification */
	FTLS_CLOSED = -3    /* the server sent close_notify */
};

/* Receives the plaintext of ftls_input. Non-zero stops and is returned. */
typedef int (*ftls_plain_cb)(void *arg, const unsigned char *buf, size_t len);

/* Ciphertext from the socket: drives the handshake, then passes every byte of
 * plaintext it yields to cb (in ≤ 16 KB pieces).  Returns FTLS_*, or cb's
 * non-zero value. */
int ftls_input(struct ftls_conn *tc, const void *in, size_t len,
	       ftls_plain_cb cb, void *arg, char *err, size_t errlen);

/* Starts the handshake (the ClientHello becomes pending output). */
int ftls_start(struct ftls_conn *tc, char *err, size_t errlen);

/* 1 once the handshake is complete. */
int ftls_ready(const struct ftls_conn *tc);

/* Encrypts plaintext (only once ftls_ready). */
int ftls_write(struct ftls_conn *tc, const void *buf, size_t len, char *err,
	       size_t errlen);

/* Bytes of ciphertext waiting for the socket. */
size_t ftls_pending(const struct ftls_conn *tc);

/* Ciphertext waiting for the socket: copies up to size bytes into out and
 * returns how many (0: nothing pending). */
size_t ftls_output(struct ftls_conn *tc, void *out, size_t size);

#endif

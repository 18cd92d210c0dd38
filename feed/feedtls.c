/*
 * feedtls.c - client TLS over memory BIOs (see feedtls.h).
 */
#include "feedtls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ftls {
	SSL_CTX *ctx;               /* client context, owned */
	int insecure;               /* no verification at all */
};

struct ftls_conn {
	SSL *ssl;                   /* owns rbio and wbio */
	BIO *rbio;                  /* ciphertext from the socket */
	BIO *wbio;                  /* ciphertext for the socket */
	int ready;                  /* handshake complete */
};

/* OpenSSL's error queue, most recent first, into err (and cleared). */
static void ssl_reason(const char *what, char *err, size_t errlen)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	snprintf(err, errlen, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

struct ftls *ftls_new(const char *ca_file, int insecure, char *err, size_t errlen)
{
	struct ftls *t = calloc(1, sizeof(*t));

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->insecure = insecure;
	if (!(t->ctx = SSL_CTX_new(TLS_client_method()))) {
		ssl_reason("cannot create the TLS context", err, errlen);
		goto error;
	}
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	if (!SSL_CTX_set_default_verify_paths(t->ctx)) {
		ssl_reason("cannot load the system trust store", err, errlen);
		goto error;
	}
	if (ca_file && !SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL)) {
		char why[200];

		ssl_reason("no PEM certificate could be read", why, sizeof(why));
		snprintf(err, errlen, "--ca-file %s: %s", ca_file, why);
		goto error;
	}
	SSL_CTX_set_verify(t->ctx, insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
			   NULL);
	return t;
error:
	ftls_free(t);
	return NULL;
}

void ftls_free(struct ftls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

struct ftls_conn *ftls_conn_new(struct ftls *t, const char *host, char *err,
				size_t errlen)
{
	struct ftls_conn *tc = calloc(1, sizeof(*tc));
	unsigned char addr[16];
	int is_ip = inet_pton(AF_INET, host, addr) == 1 ||
		    inet_pton(AF_INET6, host, addr) == 1;

	if (!tc || !(tc->ssl = SSL_new(t->ctx)) ||
	    !(tc->rbio = BIO_new(BIO_s_mem())) || !(tc->wbio = BIO_new(BIO_s_mem()))) {
		if (tc) {
			BIO_free(tc->rbio);
			tc->rbio = NULL;
		}
		ssl_reason("cannot create a TLS connection", err, errlen);
		ftls_conn_free(tc);
		return NULL;
	}
	SSL_set_bio(tc->ssl, tc->rbio, tc->wbio); /* now owned by ssl */
	SSL_set_connect_state(tc->ssl);
	if (!t->insecure) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(tc->ssl);

		X509_VERIFY_PARAM_set_hostflags(vp,
			X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (!(is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) :
			      X509_VERIFY_PARAM_set1_host(vp, host, 0))) {
			ssl_reason("cannot set the name to verify", err, errlen);
			ftls_conn_free(tc);
			return NULL;
		}
	}
	if (!is_ip)
		SSL_set_tlsext_host_name(tc->ssl, host); /* SNI: names only */
	return tc;
}

void ftls_conn_free(struct ftls_conn *tc)
{
	if (!tc)
		return;
	if (tc->ssl)
		SSL_free(tc->ssl);
	else {
		BIO_free(tc->rbio);
		BIO_free(tc->wbio);
	}
	free(tc);
}

/* After a failed SSL call: FTLS_CERT when verification is why, else
 * FTLS_ERROR / FTLS_CLOSED, with the reason in err. */
static int ssl_failure(struct ftls_conn *tc, int r, char *err, size_t errlen)
{
	long v = SSL_get_verify_result(tc->ssl);
	int e = SSL_get_error(tc->ssl, r);

	if (e == SSL_ERROR_ZERO_RETURN) {
		snprintf(err, errlen, "TLS connection closed by the server");
		ERR_clear_error();
		return FTLS_CLOSED;
	}
	if (!tc->ready && v != X509_V_OK) {
		snprintf(err, errlen, "%s", X509_verify_cert_error_string(v));
		ERR_clear_error();
		return FTLS_CERT;
	}
	ssl_reason(tc->ready ? "TLS error" : "TLS handshake failed", err, errlen);
	return FTLS_ERROR;
}

int ftls_start(struct ftls_conn *tc, char *err, size_t errlen)
{
	int r = SSL_do_handshake(tc->ssl);

	if (r == 1) {
		tc->ready = 1;
		return FTLS_OK;
	}
	if (SSL_get_error(tc->ssl, r) == SSL_ERROR_WANT_READ)
		return FTLS_OK;
	return ssl_failure(tc, r, err, errlen);
}

int ftls_ready(const struct ftls_conn *tc)
{
	return tc->ready;
}

int ftls_input(struct ftls_conn *tc, const void *in, size_t len,
	       ftls_plain_cb cb, void *arg, char *err, size_t errlen)
{
	unsigned char buf[16384];
	int r;

	if (len && BIO_write(tc->rbio, in, (int)len) != (int)len) {
		ssl_reason("TLS buffer", err, errlen);
		return FTLS_ERROR;
	}
	if (!tc->ready) {
		if ((r = ftls_start(tc, err, errlen)) != FTLS_OK)
			return r;
		if (!tc->ready)
			return FTLS_OK;
	}
	for (;;) {
		r = SSL_read(tc->ssl, buf, sizeof(buf));
		if (r <= 0)
			break;
		if ((r = cb(arg, buf, (size_t)r)))
			return r;
	}
	if (SSL_get_error(tc->ssl, r) == SSL_ERROR_WANT_READ)
		return FTLS_OK;
	return ssl_failure(tc, r, err, errlen);
}

int ftls_write(struct ftls_conn *tc, const void *buf, size_t len, char *err,
	       size_t errlen)
{
	size_t done = 0;

	while (done < len) {
		int r = SSL_write(tc->ssl, (const char *)buf + done,
				  (int)(len - done));

		if (r <= 0)
			return ssl_failure(tc, r, err, errlen);
		done += (size_t)r;
	}
	return FTLS_OK;
}

size_t ftls_pending(const struct ftls_conn *tc)
{
	return BIO_ctrl_pending(tc->wbio);
}

size_t ftls_output(struct ftls_conn *tc, void *out, size_t size)
{
	int r;

	if (!BIO_ctrl_pending(tc->wbio))
		return 0;
	r = BIO_read(tc->wbio, out, (int)size);
	return r > 0 ? (size_t)r : 0;
}

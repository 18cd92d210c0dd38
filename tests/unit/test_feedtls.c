/*
 * test_feedtls.c - the producer's TLS layer against an OpenSSL server in
 * memory (no sockets): a certificate made here for localhost / 127.0.0.1,
 * trusted through a CA file or not, names and addresses that match and that
 * do not, --insecure, plaintext both ways once up, the server's close_notify.
 */
#include "harness.h"
#include "feedtls.h"
#include "../testcert.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct server {
	SSL_CTX *ctx;
	SSL *ssl;
	BIO *in, *out;  /* ciphertext from / to the client */
};

struct got {
	char buf[4096];
	size_t n;
};

static int on_plain(void *arg, const unsigned char *buf, size_t len)
{
	struct got *g = arg;

	if (g->n + len < sizeof(g->buf)) {
		memcpy(g->buf + g->n, buf, len);
		g->n += len;
	}
	return 0;
}

static int server_new(struct server *s, const char *cert, const char *key)
{
	BIO *cb = BIO_new_mem_buf(cert, -1), *kb = BIO_new_mem_buf(key, -1);
	X509 *x = PEM_read_bio_X509(cb, NULL, NULL, NULL);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	int ok;

	memset(s, 0, sizeof(*s));
	s->ctx = SSL_CTX_new(TLS_server_method());
	ok = s->ctx && x && k && SSL_CTX_use_certificate(s->ctx, x) == 1 &&
	     SSL_CTX_use_PrivateKey(s->ctx, k) == 1;
	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(cb);
	BIO_free(kb);
	if (!ok || !(s->ssl = SSL_new(s->ctx)))
		return -1;
	s->in = BIO_new(BIO_s_mem());
	s->out = BIO_new(BIO_s_mem());
	SSL_set_bio(s->ssl, s->in, s->out);
	SSL_set_accept_state(s->ssl);
	return 0;
}

static void server_free(struct server *s)
{
	SSL_free(s->ssl);
	SSL_CTX_free(s->ctx);
}

/* Moves bytes both ways until nothing moves; returns the client's last
 * ftls_input result (FTLS_OK while all is well). */
static int pump(struct ftls_conn *c, struct server *s, struct got *g, char *err)
{
	unsigned char buf[16384];
	int r = FTLS_OK;

	for (int round = 0; round < 50; round++) {
		size_t n;
		int moved = 0;

		while ((n = ftls_output(c, buf, sizeof(buf))) > 0) {
			BIO_write(s->in, buf, (int)n);
			moved = 1;
		}
		if (!SSL_is_init_finished(s->ssl))
			SSL_do_handshake(s->ssl);
		else {
			char tmp[1024];
			int k;

			while ((k = SSL_read(s->ssl, tmp, sizeof(tmp))) > 0)
				; /* the client's plaintext: read by the tests below */
		}
		while ((n = (size_t)BIO_ctrl_pending(s->out)) > 0) {
			int k = BIO_read(s->out, buf, (int)(n < sizeof(buf) ? n : sizeof(buf)));

			if ((r = ftls_input(c, buf, (size_t)k, on_plain, g, err, 200)) != FTLS_OK)
				return r;
			moved = 1;
		}
		if (!moved)
			break;
	}
	return r;
}

/* One connection to host; returns ftls_input's verdict after the handshake. */
static int connect_to(const char *host, const char *ca_file, int insecure,
		      const char *cert, const char *key, char *err)
{
	struct ftls *t = ftls_new(ca_file, insecure, err, 200);
	struct ftls_conn *c = t ? ftls_conn_new(t, host, err, 200) : NULL;
	struct server s;
	struct got g = { .n = 0 };
	int r = -99;

	if (c && server_new(&s, cert, key) == 0) {
		r = ftls_start(c, err, 200);
		if (r == FTLS_OK)
			r = pump(c, &s, &g, err);
		if (r == FTLS_OK && !ftls_ready(c))
			r = -98;
		server_free(&s);
	}
	ftls_conn_free(c);
	ftls_free(t);
	return r;
}

int main(void)
{
	char *cert, *key, err[200] = "", path[] = "/tmp/test_feedtls.XXXXXX";
	size_t cl, kl;
	int fd;

	if (testcert_make("DNS:localhost,IP:127.0.0.1", &cert, &cl, &key, &kl, err, sizeof(err))) {
		printf("1..0 # SKIP cannot make a certificate: %s\n", err);
		return 0;
	}
	fd = mkstemp(path);
	T_OK(fd >= 0 && write(fd, cert, cl) == (ssize_t)cl, "CA file written");
	close(fd);

	T_INT(connect_to("localhost", path, 0, cert, key, err), FTLS_OK, "trusted CA, name matches");
	T_INT(connect_to("127.0.0.1", path, 0, cert, key, err), FTLS_OK, "trusted CA, IP address matches");
	err[0] = '\0';
	T_INT(connect_to("example.com", path, 0, cert, key, err), FTLS_CERT, "other name: refused");
	T_STR(err, "hostname mismatch", "  as a hostname mismatch");
	err[0] = '\0';
	T_INT(connect_to("127.0.0.2", path, 0, cert, key, err), FTLS_CERT, "other IP address: refused");
	T_STR(err, "IP address mismatch", "  as an IP address mismatch");
	err[0] = '\0';
	T_INT(connect_to("localhost", NULL, 0, cert, key, err), FTLS_CERT,
	      "no CA file (system store only): refused");
	T_STR(err, "self-signed certificate", "  as self-signed");
	T_INT(connect_to("example.com", NULL, 1, cert, key, err), FTLS_OK,
	      "--insecure: anything goes");
	T_OK(ftls_new("/nonexistent/ca.pem", 0, err, sizeof(err)) == NULL &&
	     strstr(err, "--ca-file /nonexistent/ca.pem: ") == err, "missing CA file: %s", err);

	/* plaintext both ways, then the server's close_notify */
	{
		struct ftls *t = ftls_new(path, 0, err, sizeof(err));
		struct ftls_conn *c = ftls_conn_new(t, "localhost", err, sizeof(err));
		struct server s;
		struct got g = { .n = 0 };
		char back[64] = "";
		int k;

		server_new(&s, cert, key);
		ftls_start(c, err, sizeof(err));
		T_INT(pump(c, &s, &g, err), FTLS_OK, "handshake");
		T_INT(ftls_write(c, "GET / HTTP/1.1\r\n\r\n", 18, err, sizeof(err)), FTLS_OK,
		      "client writes");
		pump(c, &s, &g, err);
		SSL_write(s.ssl, "HTTP/1.1 101 ok\r\n\r\n", 19);
		T_INT(pump(c, &s, &g, err), FTLS_OK, "server writes");
		T_OK(g.n == 19 && !memcmp(g.buf, "HTTP/1.1 101 ok\r\n\r\n", 19),
		     "client reads the server's plaintext");
		/* what the server read: fed once more, the request is still there */
		ftls_write(c, "ping", 4, err, sizeof(err));
		{
			unsigned char buf[4096];
			size_t n = ftls_output(c, buf, sizeof(buf));

			BIO_write(s.in, buf, (int)n);
			k = SSL_read(s.ssl, back, sizeof(back) - 1);
		}
		T_OK(k > 0 && strstr(back, "ping"), "server reads the client's plaintext");
		SSL_shutdown(s.ssl);
		T_INT(pump(c, &s, &g, err), FTLS_CLOSED, "close_notify: FTLS_CLOSED");
		server_free(&s);
		ftls_conn_free(c);
		ftls_free(t);
	}
	unlink(path);
	free(cert);
	free(key);
	return t_done();
}

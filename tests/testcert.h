/*
 * testcert.h - a self-signed certificate made at run time for the test
 * servers and the TLS unit test (no key material in the repository).
 */
#ifndef TESTCERT_H
#define TESTCERT_H

#include <stddef.h>

/* A P-256 key and a CA:TRUE certificate for CN=localhost with subjectAltName
 * san ("DNS:localhost,IP:127.0.0.1"), valid from an hour ago for 30 days,
 * both as PEM strings (malloc'd, NUL-terminated).  0, or -1 with err. */
int testcert_make(const char *san, char **cert_pem, size_t *cert_len,
		  char **key_pem, size_t *key_len, char *err, size_t errlen);

#endif

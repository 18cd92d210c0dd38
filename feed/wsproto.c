/*
 * wsproto.c - RFC 6455 client handshake and frame codec (see wsproto.h).
 */
#include "wsproto.h"

#include <openssl/evp.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define WSP_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static size_t b64_encode(const unsigned char *in, size_t n, char *out)
{
	static const char t[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

void wsp_make_key(const unsigned char nonce[16], char key[WSP_KEY_LEN + 1])
{
	b64_encode(nonce, 16, key);
}

int wsp_accept_for(const char *key, char out[WSP_ACCEPT_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char buf[128];
	unsigned mdlen = 0;
	int n = snprintf(buf, sizeof(buf), "%s%s", key, WSP_GUID);

	if (n < 0 || (size_t)n >= sizeof(buf) ||
	    !EVP_Digest(buf, (size_t)n, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
		return -1;
	b64_encode(md, 20, out);
	return 0;
}

int wsp_request(char *buf, size_t size, const char *host, int port, int tls,
		const char *path, const char *key, const char *user_agent)
{
	char hostport[300];
	int n;

	/* the port only when it is not the scheme's own (RFC 6455 4.1) */
	if (port == (tls ? 443 : 80))
		snprintf(hostport, sizeof(hostport), "%s", host);
	else
		snprintf(hostport, sizeof(hostport), "%s:%d", host, port);
	n = snprintf(buf, size,
		     "GET %s HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\n"
		     "Sec-WebSocket-Version: 13\r\n"
		     "Origin: %s://%s\r\n"
		     "User-Agent: %s\r\n"
		     "\r\n",
		     *path ? path : "/", hostport, key, tls ? "https" : "http",
		     hostport, user_agent);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

/* Is token (case-insensitive) one of the comma-separated items of v[0..n)? */
static int has_token(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token), i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && !strncasecmp(v + s, token, tl))
			return 1;
	}
	return 0;
}

int wsp_response(const char *buf, size_t len, const char *key, char *err,
		 size_t errlen)
{
	const char *end = NULL, *line, *eol;
	char accept[WSP_ACCEPT_LEN + 1];
	int upgrade = 0, connection = 0, accepted = 0;
	size_t head;

	for (size_t i = 0; i + 3 < len; i++)
		if (buf[i] == '\r' && !memcmp(buf + i, "\r\n\r\n", 4)) {
			end = buf + i;
			break;
		}
	if (!end) {
		if (len >= WSP_HEAD_MAX) {
			snprintf(err, errlen, "handshake response longer than %d "
				 "bytes", WSP_HEAD_MAX);
			return -1;
		}
		return 0;
	}
	head = (size_t)(end - buf) + 4;
	eol = memchr(buf, '\r', (size_t)(end - buf) + 1);
	if ((size_t)(eol - buf) < 12 || strncmp(buf, "HTTP/1.", 7) ||
	    strncmp(buf + 8, " 101", 4) || (eol - buf > 12 && buf[12] != ' ')) {
		int l = (int)(eol - buf) > 120 ? 120 : (int)(eol - buf);

		snprintf(err, errlen, "server answered \"%.*s\" instead of 101 "
			 "Switching Protocols", l, buf);
		return -1;
	}
	if (wsp_accept_for(key, accept)) {
		snprintf(err, errlen, "SHA-1 unavailable");
		return -1;
	}
	for (line = eol + 2; line < end; line = eol + 2) {
		const char *colon, *v, *ve;

		eol = memchr(line, '\r', (size_t)(end - line) + 1);
		colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon)
			continue;
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
#define IS(name) ((size_t)(colon - line) == sizeof(name) - 1 && \
		  !strncasecmp(line, name, sizeof(name) - 1))
		if (IS("Upgrade"))
			upgrade |= has_token(v, (size_t)(ve - v), "websocket");
		else if (IS("Connection"))
			connection |= has_token(v, (size_t)(ve - v), "upgrade");
		else if (IS("Sec-WebSocket-Accept"))
			accepted = ve - v == WSP_ACCEPT_LEN &&
				   !memcmp(v, accept, WSP_ACCEPT_LEN);
		else if ((IS("Sec-WebSocket-Extensions") ||
			  IS("Sec-WebSocket-Protocol")) && ve > v) {
			snprintf(err, errlen, "server chose %.*s \"%.*s\", none "
				 "was offered", (int)(colon - line), line,
				 (int)(ve - v) > 80 ? 80 : (int)(ve - v), v);
			return -1;
		}
#undef IS
	}
	if (!upgrade || !connection || !accepted) {
		snprintf(err, errlen, "bad handshake response: %s",
			 !upgrade ? "no \"Upgrade: websocket\"" :
			 !connection ? "no \"Connection: Upgrade\"" :
			 "Sec-WebSocket-Accept missing or wrong");
		return -1;
	}
	return (int)head;
}

size_t wsp_frame(unsigned char *out, int op, const void *payload, size_t len,
		 const unsigned char mask[4])
{
	const unsigned char *p = payload;
	size_t h = 0;

	out[h++] = (unsigned char)(0x80 | (op & 0x0f));
	if (len < 126) {
		out[h++] = (unsigned char)(0x80 | len);
	} else if (len < 65536) {
		out[h++] = 0x80 | 126;
		out[h++] = (unsigned char)(len >> 8);
		out[h++] = (unsigned char)len;
	} else {
		out[h++] = 0x80 | 127;
		for (int s = 56; s >= 0; s -= 8)
			out[h++] = (unsigned char)((uint64_t)len >> s);
	}
	memcpy(out + h, mask, 4);
	h += 4;
	for (size_t i = 0; i < len; i++)
		out[h + i] = p[i] ^ mask[i & 3];
	return h + len;
}

void wsp_rx_init(struct wsp_rx *d, char *msg, size_t msg_max)
{
	memset(d, 0, sizeof(*d));
	d->msg = msg;
	d->msg_max = msg_max;
}

/* The header in d->hdr is complete: checks it and sets up the payload. */
static int frame_start(struct wsp_rx *d, char *err, size_t errlen)
{
	const unsigned char *h = d->hdr;
	uint64_t len = h[1] & 0x7f;

	d->fin = h[0] >> 7;
	d->op = h[0] & 0x0f;
	if (h[0] & 0x70) {
		snprintf(err, errlen, "reserved bits set (0x%02x), no extension "
			 "was negotiated", h[0]);
		return -1;
	}
	if (h[1] & 0x80) {
		snprintf(err, errlen, "masked frame from the server");
		return -1;
	}
	if (len == 126) {
		len = (uint64_t)h[2] << 8 | h[3];
	} else if (len == 127) {
		len = 0;
		for (int i = 2; i < 10; i++)
			len = len << 8 | h[i];
		if (len >> 63) {
			snprintf(err, errlen, "frame length with the top bit set");
			return -1;
		}
	}
	switch (d->op) {
	case WSP_CLOSE:
	case WSP_PING:
	case WSP_PONG:
		if (!d->fin || len > 125) {
			snprintf(err, errlen, "control frame 0x%x %s", d->op,
				 d->fin ? "longer than 125 bytes" : "fragmented");
			return -1;
		}
		if (d->op == WSP_CLOSE && len == 1) {
			snprintf(err, errlen, "close frame of 1 byte");
			return -1;
		}
		d->ctl_len = 0;
		break;
	case WSP_CONT:
		if (!d->msg_op) {
			snprintf(err, errlen, "continuation frame outside a message");
			return -1;
		}
		break;
	case WSP_TEXT:
	case WSP_BINARY:
		if (d->msg_op) {
			snprintf(err, errlen, "new message inside a fragmented one");
			return -1;
		}
		d->msg_op = d->op;
		d->msg_len = 0;
		d->msg_total = 0;
		break;
	default:
		snprintf(err, errlen, "unknown opcode 0x%x", d->op);
		return -1;
	}
	d->left = len;
	d->in_payload = 1;
	return 0;
}

/* The current frame's payload is complete: hands over what it ends. */
static int frame_end(struct wsp_rx *d, wsp_msg_cb cb, void *arg)
{
	int op;

	d->in_payload = 0;
	d->hlen = 0;
	if (d->op & 0x8)
		return cb(arg, d->op, (const char *)d->ctl, d->ctl_len);
	if (!d->fin)
		return 0;
	op = d->msg_op;
	d->msg_op = 0;
	if (d->msg_total > d->msg_max)
		return cb(arg, op, NULL, (size_t)d->msg_total);
	d->msg[d->msg_len] = '\0';
	return cb(arg, op, d->msg, d->msg_len);
}

int wsp_rx_feed(struct wsp_rx *d, const unsigned char *p, size_t n,
		wsp_msg_cb cb, void *arg, char *err, size_t errlen)
{
	int r;

	while (n || (d->in_payload && !d->left)) {
		if (!d->in_payload) {
			size_t take;

			if (d->hlen < 2) {
				d->hdr[d->hlen++] = *p++;
				n--;
				if (d->hlen < 2)
					continue;
				d->hneed = 2 + ((d->hdr[1] & 0x7f) == 126 ? 2 :
						(d->hdr[1] & 0x7f) == 127 ? 8 : 0) +
					   (d->hdr[1] & 0x80 ? 4 : 0);
			}
			take = d->hneed - d->hlen < n ? d->hneed - d->hlen : n;
			memcpy(d->hdr + d->hlen, p, take);
			d->hlen += (unsigned)take;
			p += take;
			n -= take;
			if (d->hlen < d->hneed)
				return 0;
			if (frame_start(d, err, errlen))
				return -1;
			continue;
		}
		if (d->op & 0x8) {
			size_t take = d->left < n ? (size_t)d->left : n;

			memcpy(d->ctl + d->ctl_len, p, take);
			d->ctl_len += take;
			d->left -= take;
			p += take;
			n -= take;
		} else if (d->op != WSP_CONT && d->fin && !d->msg_total &&
			   d->left <= n && d->left <= d->msg_max) {
			/* a whole message in this read: hand it over in place */
			size_t len = (size_t)d->left;

			d->in_payload = 0;
			d->hlen = 0;
			d->msg_op = 0;
			p += len;
			n -= len;
			if ((r = cb(arg, d->op, (const char *)p - len, len)))
				return r;
			continue;
		} else {
			size_t take = d->left < n ? (size_t)d->left : n;

			if (d->msg_total + take <= d->msg_max) {
				memcpy(d->msg + d->msg_len, p, take);
				d->msg_len += take;
			}
			d->msg_total += take;
			d->left -= take;
			p += take;
			n -= take;
		}
		if (!d->left && (r = frame_end(d, cb, arg)))
			return r;
	}
	return 0;
}

/*
 * test_wsproto.c - the producer's RFC 6455 client layer: the RFC's own
 * handshake example, handshake responses good and bad, client frames decoded
 * by an independent unmasker, and the frame decoder against a stream of
 * messages (whole, fragmented, interleaved with pings, oversized) cut at
 * every byte boundary and at random, plus every protocol violation it must
 * refuse.
 */
#include "harness.h"
#include "wsproto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
	return t_xorshift(&rng);
}

/* A server frame (unmasked), written by hand here rather than by wsp_frame. */
static size_t srv_frame(unsigned char *out, int fin, int op, const void *p,
			size_t len)
{
	size_t h = 0;

	out[h++] = (unsigned char)((fin ? 0x80 : 0) | op);
	if (len < 126) {
		out[h++] = (unsigned char)len;
	} else if (len < 65536) {
		out[h++] = 126;
		out[h++] = (unsigned char)(len >> 8);
		out[h++] = (unsigned char)len;
	} else {
		out[h++] = 127;
		for (int s = 56; s >= 0; s -= 8)
			out[h++] = (unsigned char)((uint64_t)len >> s);
	}
	memcpy(out + h, p, len);
	return h + len;
}

/* What the decoder handed over, as "op:len:payload" records. */
struct sink {
	char log[1 << 20];
	size_t n;
	int msgs;
	const unsigned char *lo, *hi; /* input buffer of the last feed */
	int in_place;                 /* messages handed over inside it */
	int stop_at;                  /* return 7 at this message (0 never) */
};

static int sink_cb(void *arg, int op, const char *buf, size_t len)
{
	struct sink *s = arg;

	s->msgs++;
	s->n += (size_t)snprintf(s->log + s->n, sizeof(s->log) - s->n, "%d:%zu:",
				 op, len);
	if (buf) {
		if ((const unsigned char *)buf >= s->lo &&
		    (const unsigned char *)buf < s->hi)
			s->in_place++;
		if (s->n + len < sizeof(s->log)) {
			memcpy(s->log + s->n, buf, len);
			s->n += len;
		}
	} else {
		s->n += (size_t)snprintf(s->log + s->n, sizeof(s->log) - s->n,
					 "OVERSIZED");
	}
	s->log[s->n++] = '|';
	return s->stop_at && s->msgs == s->stop_at ? 7 : 0;
}

static int feed(struct wsp_rx *d, struct sink *s, const unsigned char *p,
		size_t n, char *err)
{
	s->lo = p;
	s->hi = p + n;
	return wsp_rx_feed(d, p, n, sink_cb, s, err, 200);
}

static void test_handshake(void)
{
	static const unsigned char nonce[16] = "the sample nonce";
	char key[WSP_KEY_LEN + 1], acc[WSP_ACCEPT_LEN + 1], req[1024], err[200];
	char resp[1024];
	int n;

	wsp_make_key(nonce, key);
	T_STR(key, "dGhlIHNhbXBsZSBub25jZQ==", "RFC 6455 1.3: key of the sample nonce");
	T_INT(wsp_accept_for(key, acc), 0, "accept computed");
	T_STR(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 1.3: its accept");

	n = wsp_request(req, sizeof(req), "ws-feed.exchange.coinbase.com", 443, 1,
			"/", key, "ua/1");
	T_OK(n > 0 && (size_t)n == strlen(req), "request written (%d bytes)", n);
	T_OK(strstr(req, "GET / HTTP/1.1\r\nHost: ws-feed.exchange.coinbase.com\r\n") == req,
	     "request line and Host without the default port");
	T_OK(strstr(req, "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n") &&
	     strstr(req, "\r\nSec-WebSocket-Version: 13\r\n") &&
	     strstr(req, "\r\nUpgrade: websocket\r\n") &&
	     strstr(req, "\r\nConnection: Upgrade\r\n") &&
	     !strcmp(req + n - 4, "\r\n\r\n"), "upgrade headers, ends in a blank line");
	n = wsp_request(req, sizeof(req), "127.0.0.1", 8080, 0, "/feed?x=1", key, "ua");
	T_OK(n > 0 && strstr(req, "GET /feed?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"),
	     "path kept, non-default port in Host");
	T_INT(wsp_request(req, 40, "h", 80, 0, "/", key, "ua"), -1, "too small a buffer: -1");

#define OKRESP "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" \
	"Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
	n = (int)strlen(OKRESP);
	T_INT(wsp_response(OKRESP, strlen(OKRESP), key, err, sizeof(err)), n,
	      "good response: its length");
	snprintf(resp, sizeof(resp), "%s\x81\x02hi", OKRESP);
	T_INT(wsp_response(resp, strlen(resp), key, err, sizeof(err)), n,
	      "frames after the head are not part of it");
	{
		int k = 0;

		while (k < n && wsp_response(OKRESP, (size_t)k, key, err, sizeof(err)) == 0)
			k++;
		T_OK(k == n, "every proper prefix: 0 (need more); first other at %d of %d", k, n);
	}
	snprintf(resp, sizeof(resp), "HTTP/1.1 101 OK\r\nupgrade:  WebSocket \r\n"
		 "Server: x\r\nconnection: keep-alive, upgrade\r\n"
		 "sec-websocket-accept:s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
	T_INT(wsp_response(resp, strlen(resp), key, err, sizeof(err)),
	      (int)strlen(resp), "header names/values case-insensitive, token lists");

	static const struct { const char *resp, *why; } bad[] = {
		{ "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
		  "server answered \"HTTP/1.1 404 Not Found\" instead of 101 Switching Protocols" },
		{ "HTTP/1.1 1010 x\r\n\r\n",
		  "server answered \"HTTP/1.1 1010 x\" instead of 101 Switching Protocols" },
		{ "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		  "bad handshake response: no \"Upgrade: websocket\"" },
		{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		  "bad handshake response: no \"Connection: Upgrade\"" },
		{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		  "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n\r\n",
		  "bad handshake response: Sec-WebSocket-Accept missing or wrong" },
		{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		  "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
		  "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
		  "server chose Sec-WebSocket-Extensions \"permessage-deflate\", none was offered" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		T_OK(wsp_response(bad[i].resp, strlen(bad[i].resp), key, err,
				  sizeof(err)) == -1, "bad response %zu refused", i);
		T_STR(err, bad[i].why, "  with its reason");
	}
	{
		static char big[WSP_HEAD_MAX + 10];

		memset(big, 'a', sizeof(big));
		T_INT(wsp_response(big, sizeof(big), key, err, sizeof(err)), -1,
		      "no end of head within WSP_HEAD_MAX: refused");
	}
}

/* wsp_frame, read back by a decoder written here. */
static void test_client_frames(void)
{
	static const size_t lens[] = { 0, 1, 125, 126, 1000, 65535, 65536, 70000 };
	static unsigned char pay[70000], out[70000 + WSP_FRAME_OVERHEAD];
	const unsigned char mask[4] = { 0x12, 0x34, 0xab, 0xcd };

	for (size_t i = 0; i < sizeof(pay); i++)
		pay[i] = (unsigned char)next();
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		size_t len = lens[k], n = wsp_frame(out, WSP_TEXT, pay, len, mask);
		size_t h = 2, plen = out[1] & 0x7f;
		int ok = out[0] == 0x81 && (out[1] & 0x80);

		if (plen == 126) {
			plen = (size_t)out[2] << 8 | out[3];
			h = 4;
		} else if (plen == 127) {
			plen = 0;
			for (int b = 2; b < 10; b++)
				plen = plen << 8 | out[b];
			h = 10;
		}
		ok = ok && plen == len && !memcmp(out + h, mask, 4) && n == h + 4 + len;
		for (size_t b = 0; ok && b < len; b++)
			ok = (out[h + 4 + b] ^ mask[b & 3]) == pay[b];
		T_OK(ok, "client frame of %zu bytes: FIN, masked, length form, payload", len);
	}
}

/* A stream of server frames and the log the decoder must produce for it. */
struct stream {
	unsigned char buf[1 << 19];
	size_t n;
	char want[1 << 20];
	size_t wn;
};

static void add_want(struct stream *st, int op, const void *p, size_t len, int over)
{
	st->wn += (size_t)snprintf(st->want + st->wn, sizeof(st->want) - st->wn,
				   "%d:%zu:", op, len);
	if (over) {
		st->wn += (size_t)snprintf(st->want + st->wn, sizeof(st->want) - st->wn,
					   "OVERSIZED");
	} else {
		memcpy(st->want + st->wn, p, len);
		st->wn += len;
	}
	st->want[st->wn++] = '|';
}

#define MAXMSG 1000

static void build_stream(struct stream *st)
{
	char m[3000];

	st->n = st->wn = 0;
	for (int i = 0; i < 60; i++) {
		size_t len = (size_t)(next() % (i % 10 == 9 ? 2500 : 400));
		int kind = (int)(next() % 6);

		for (size_t k = 0; k < len; k++)
			m[k] = (char)(' ' + next() % 90);
		if (kind == 0) { /* fragmented in 2-4 pieces, a ping between */
			size_t cut1 = len / 3, cut2 = 2 * len / 3;

			st->n += srv_frame(st->buf + st->n, 0, WSP_TEXT, m, cut1);
			st->n += srv_frame(st->buf + st->n, 1, WSP_PING, "p", 1);
			add_want(st, WSP_PING, "p", 1, 0);
			st->n += srv_frame(st->buf + st->n, 0, WSP_CONT, m + cut1, cut2 - cut1);
			st->n += srv_frame(st->buf + st->n, 1, WSP_CONT, m + cut2, len - cut2);
		} else if (kind == 1) {
			st->n += srv_frame(st->buf + st->n, 1, WSP_BINARY, m, len);
		} else if (kind == 2) {
			st->n += srv_frame(st->buf + st->n, 1, WSP_PONG, m, len % 126);
			add_want(st, WSP_PONG, m, len % 126, 0);
			st->n += srv_frame(st->buf + st->n, 1, WSP_TEXT, m, len);
		} else {
			st->n += srv_frame(st->buf + st->n, 1, WSP_TEXT, m, len);
		}
		add_want(st, kind == 1 ? WSP_BINARY : WSP_TEXT, m, len, len > MAXMSG);
	}
	st->n += srv_frame(st->buf + st->n, 1, WSP_CLOSE, "\x03\xe8" "bye", 5);
	add_want(st, WSP_CLOSE, "\x03\xe8" "bye", 5, 0);
}

static void test_decoder_stream(void)
{
	static struct stream st;
	static struct sink s;
	static char msg[MAXMSG + 1];
	struct wsp_rx d;
	char err[200];
	int ok = 1, r = 0;

	build_stream(&st);
	/* all at once */
	memset(&s, 0, sizeof(s));
	wsp_rx_init(&d, msg, MAXMSG);
	r = feed(&d, &s, st.buf, st.n, err);
	T_INT(r, 0, "whole stream decoded");
	T_OK(s.n == st.wn && !memcmp(s.log, st.want, st.wn),
	     "whole stream: every message, in order, byte-identical (%d)", s.msgs);
	T_OK(s.in_place >= 20, "unfragmented messages handed over in place (%d)",
	     s.in_place);

	/* cut in two at every byte */
	for (size_t cut = 0; ok && cut <= st.n; cut++) {
		memset(&s, 0, sizeof(s));
		wsp_rx_init(&d, msg, MAXMSG);
		r = feed(&d, &s, st.buf, cut, err) |
		    feed(&d, &s, st.buf + cut, st.n - cut, err);
		ok = !r && s.n == st.wn && !memcmp(s.log, st.want, st.wn);
		if (!ok)
			T_OK(0, "cut at %zu", cut);
	}
	T_OK(ok, "stream cut in two at each of its %zu bytes: same messages", st.n);

	/* random pieces of 1..300 bytes, 200 times */
	ok = 1;
	for (int round = 0; ok && round < 200; round++) {
		size_t off = 0;

		memset(&s, 0, sizeof(s));
		wsp_rx_init(&d, msg, MAXMSG);
		while (ok && off < st.n) {
			size_t k = 1 + (size_t)(next() % 300);

			if (k > st.n - off)
				k = st.n - off;
			ok = !feed(&d, &s, st.buf + off, k, err);
			off += k;
		}
		ok = ok && s.n == st.wn && !memcmp(s.log, st.want, st.wn);
	}
	T_OK(ok, "stream in random pieces (200 rounds): same messages");

	/* one byte at a time */
	memset(&s, 0, sizeof(s));
	wsp_rx_init(&d, msg, MAXMSG);
	ok = 1;
	for (size_t i = 0; ok && i < st.n; i++)
		ok = !feed(&d, &s, st.buf + i, 1, err);
	T_OK(ok && s.n == st.wn && !memcmp(s.log, st.want, st.wn),
	     "stream one byte at a time: same messages");

	/* a callback's non-zero return stops the decoder */
	memset(&s, 0, sizeof(s));
	wsp_rx_init(&d, msg, MAXMSG);
	s.stop_at = 3;
	T_INT(feed(&d, &s, st.buf, st.n, err), 7, "callback's return value stops it");
	T_INT(s.msgs, 3, "  after that message");
}

static void test_decoder_edges(void)
{
	static char msg[MAXMSG + 1];
	static struct sink s;
	unsigned char b[300];
	struct wsp_rx d;
	char err[200];
	size_t n;

	/* empty text message, empty ping, 126- and 127-form lengths */
	memset(&s, 0, sizeof(s));
	wsp_rx_init(&d, msg, MAXMSG);
	n = srv_frame(b, 1, WSP_TEXT, "", 0);
	n += srv_frame(b + n, 1, WSP_PING, "", 0);
	T_INT(feed(&d, &s, b, n, err), 0, "empty messages decoded");
	T_STR(s.log, "1:0:|9:0:|", "  as empty text and empty ping");

	memset(&s, 0, sizeof(s));
	wsp_rx_init(&d, msg, MAXMSG);
	memcpy(b, "\x81\x7f\x00\x00\x00\x00\x00\x00\x00\x03" "abc", 13);
	T_INT(feed(&d, &s, b, 13, err), 0, "64-bit length form of a short payload");
	T_STR(s.log, "1:3:abc|", "  decoded");

	static const struct { const char *bytes; size_t n; const char *why; } bad[] = {
		{ "\x81\x83" "abcdxyz", 9, "masked frame from the server" },
		{ "\xc1\x01" "a", 3, "reserved bits set (0xc1), no extension was negotiated" },
		{ "\x83\x01" "a", 3, "unknown opcode 0x3" },
		{ "\x8b\x00", 2, "unknown opcode 0xb" },
		{ "\x09\x00", 2, "control frame 0x9 fragmented" },
		{ "\x89\x7e\x00\x7e", 4, "control frame 0x9 longer than 125 bytes" },
		{ "\x88\x01" "a", 3, "close frame of 1 byte" },
		{ "\x80\x01" "a", 3, "continuation frame outside a message" },
		{ "\x01\x01" "a\x81\x01" "b", 6, "new message inside a fragmented one" },
		{ "\x81\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10,
		  "frame length with the top bit set" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&s, 0, sizeof(s));
		wsp_rx_init(&d, msg, MAXMSG);
		err[0] = '\0';
		T_OK(feed(&d, &s, (const unsigned char *)bad[i].bytes, bad[i].n,
			  err) == -1, "violation %zu refused", i);
		T_STR(err, bad[i].why, "  reason");
	}

	/* oversized, whole and fragmented, then a normal message still arrives */
	{
		static unsigned char big[4 * MAXMSG];
		static char pay[2 * MAXMSG];

		memset(pay, 'x', sizeof(pay));
		memset(&s, 0, sizeof(s));
		wsp_rx_init(&d, msg, MAXMSG);
		n = srv_frame(big, 1, WSP_TEXT, pay, MAXMSG + 1);
		n += srv_frame(big + n, 0, WSP_TEXT, pay, MAXMSG - 1);
		n += srv_frame(big + n, 1, WSP_CONT, pay, 2);
		n += srv_frame(big + n, 1, WSP_TEXT, pay, MAXMSG);
		T_INT(feed(&d, &s, big, n, err), 0, "oversized messages: no error");
		T_OK(!strncmp(s.log, "1:1001:OVERSIZED|1:1001:OVERSIZED|1:1000:xxx", 44),
		     "  reported with their size, then a message of exactly the limit");
	}
}

int main(void)
{
	test_handshake();
	test_client_frames();
	test_decoder_stream();
	test_decoder_edges();
	return t_done();
}

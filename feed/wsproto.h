/*
 * wsproto.h - the client side of RFC 6455 the producer speaks over a raw
 * libwebsockets connection: the opening handshake and the frame codec.
 *
 * libwebsockets still owns the socket, TLS, DNS, timers and reconnects; this
 * module only turns bytes into messages and back.  It exists because the
 * libwebsockets 4.1 client (Debian bookworm) runs its frame parser once per
 * payload byte, which capped the producer at a third of kcat -P; here a whole
 * frame that arrived in one read is handed over in place, without a copy.
 */
#ifndef WSPROTO_H
#define WSPROTO_H

#include <stddef.h>
#include <stdint.h>

#define WSP_KEY_LEN    24   /* base64 of the 16-byte nonce */
#define WSP_ACCEPT_LEN 28   /* base64 of a SHA-1 digest */
#define WSP_HEAD_MAX   8192 /* longest handshake response accepted */
#define WSP_FRAME_OVERHEAD 14 /* most header bytes a client frame takes */

enum wsp_opcode {
	WSP_CONT = 0x0, WSP_TEXT = 0x1, WSP_BINARY = 0x2,
	WSP_CLOSE = 0x8, WSP_PING = 0x9, WSP_PONG = 0xA
};

/* The Sec-WebSocket-Key for a 16-byte random nonce (NUL-terminated). */
void wsp_make_key(const unsigned char nonce[16], char key[WSP_KEY_LEN + 1]);

/* The Sec-WebSocket-Accept a server must answer to key.  0, or -1 when
 * SHA-1 is unavailable. */
int wsp_accept_for(const char *key, char out[WSP_ACCEPT_LEN + 1]);

/* The GET request of the opening handshake for ws[s]://host:port/path into
 * buf (no NUL).  Returns its length, or -1 when buf is too small. */
int wsp_request(char *buf, size_t size, const char *host, int port, int tls,
		const char *path, const char *key, const char *user_agent);

/* Checks the server's handshake response in buf[0..len): status 101, Upgrade
 * websocket, Connection upgrade, the Sec-WebSocket-Accept of key, no
 * extension or subprotocol (none offered).  Returns the length of the head
 * (bytes after it are frames), 0 when more bytes are needed, or -1 with the
 * reason in err. */
int wsp_response(const char *buf, size_t len, const char *key, char *err,
		 size_t errlen);

/* Writes one final client frame (masked with mask, as a client must) of
 * opcode op and payload[0..len) to out, which holds len +
 * WSP_FRAME_OVERHEAD bytes.  Returns the frame's length. */
size_t wsp_frame(unsigned char *out, int op, const void *payload, size_t len,
		 const unsigned char mask[4]);

/*
 * Frame decoder.  msg (msg_max + 1 bytes, owned by the caller) reassembles
 * fragmented or split messages; a message that arrived whole is handed over
 * where it lies.  Control frames may come between fragments.
 */
struct wsp_rx {
	char *msg;                  /* reassembly buffer, caller's */
	size_t msg_max;             /* longest message kept */
	size_t msg_len;             /* bytes in msg */
	uint64_t msg_total;         /* payload bytes of the message so far */
	int msg_op;                 /* WSP_TEXT/BINARY being assembled, 0 none */
	unsigned char hdr[14];      /* header of the frame being read */
	unsigned hlen;              /* bytes in hdr */
	unsigned hneed;             /* its full length, once known (>= 2) */
	int in_payload;             /* header done, payload bytes follow */
	int op;                     /* opcode of the current frame */
	int fin;                    /* FIN bit of the current frame */
	uint64_t left;              /* payload bytes of it still to come */
	unsigned char ctl[125];     /* payload of the current control frame */
	size_t ctl_len;             /* bytes in ctl */
};

/* One decoded message: op is WSP_TEXT/BINARY (buf[0..len), or buf NULL and
 * len the size when over msg_max), WSP_PING, WSP_PONG or WSP_CLOSE (the
 * control payload).  A non-zero return stops the decoder, which returns it. */
typedef int (*wsp_msg_cb)(void *arg, int op, const char *buf, size_t len);

/* Resets d to the start of a connection with buffer msg of msg_max + 1. */
void wsp_rx_init(struct wsp_rx *d, char *msg, size_t msg_max);

/* Decodes p[0..n) and calls cb for every complete message.  Returns 0, the
 * callback's non-zero value, or -1 on a protocol violation (reason in err):
 * masked or reserved bits, unknown opcode, bad control frame, broken
 * fragmentation, a 64-bit length with the top bit set. */
int wsp_rx_feed(struct wsp_rx *d, const unsigned char *p, size_t n,
		wsp_msg_cb cb, void *arg, char *err, size_t errlen);

#endif

#!/usr/bin/env python3
"""cdp.py DEVTOOLS_PORT COMMAND ARG

A minimal Chrome DevTools Protocol client (the standard library only: a
WebSocket handshake and frames over a socket) for tests/t/107: it talks to
the first page of a headless chromium started with --remote-debugging-port.

  eval EXPR        prints the JSON value of the JavaScript expression
  screenshot FILE  saves the page as a PNG
"""
import base64
import json
import os
import socket
import struct
import sys
import urllib.request


def page_ws(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
        targets = json.load(r)
    return next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")


class WS:
    def __init__(self, url):
        rest = url.split("://", 1)[1]
        hostport, path = rest.split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.s.recv(1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise SystemExit("cdp: no websocket: " + head.decode(errors="replace"))

    def _read(self, n):
        b = b""
        while len(b) < n:
            chunk = self.s.recv(n - len(b))
            if not chunk:
                raise SystemExit("cdp: connection closed")
            b += chunk
        return b

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else
                                bytes([0x80 | 127]) + struct.pack(">Q", n))
        self.s.sendall(head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(data)))

    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            msg += self._read(n)
            if b0 & 0x80:
                return msg.decode()


def call(ws, method, params):
    ws.send(json.dumps({"id": 1, "method": method, "params": params}))
    while True:
        r = json.loads(ws.recv())
        if r.get("id") == 1:
            if "error" in r:
                raise SystemExit("cdp: " + json.dumps(r["error"]))
            return r["result"]


def main():
    port, cmd, arg = sys.argv[1], sys.argv[2], sys.argv[3]
    ws = WS(page_ws(port))
    if cmd == "eval":
        r = call(ws, "Runtime.evaluate", {"expression": arg, "returnByValue": True})
        print(json.dumps(r["result"].get("value")))
    elif cmd == "screenshot":
        r = call(ws, "Page.captureScreenshot", {"format": "png"})
        with open(arg, "wb") as f:
            f.write(base64.b64decode(r["data"]))
    else:
        raise SystemExit("cdp: eval EXPR | screenshot FILE")


main()

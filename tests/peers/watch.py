#!/usr/bin/env python3
# tests/peers/watch.py --out LOG NAME=PATH...
# Follows each output until SIGTERM and appends one line per new row to LOG:
# "NAME SEEN_US WINDOW_START PRODUCT", SEEN_US the wall clock (microseconds)
# at which the row was first complete on disk.  PATH is a CSV file (ours,
# Quix: the header line is skipped) or a directory of part files (Spark's CSV
# sink: every part-*.csv, no header); only complete lines count.  The rows'
# first two columns are window_start and product_id.
#
# Woken by inotify (IN_MODIFY, IN_CLOSE_WRITE, IN_CREATE, IN_MOVED_TO on the
# directories that hold the outputs, through ctypes), so a row is seen within
# a scheduling delay of its write, not a polling period; it also looks every
# 50 ms (a directory created after the start, a missed event).
import ctypes
import os
import select
import signal
import struct
import sys
import time

args = sys.argv[1:]
out, targets = None, []
while args:
    a = args.pop(0)
    if a == "--out":
        out = args.pop(0)
    elif a == "--interval":   # accepted for compatibility; inotify needs none
        args.pop(0)
    else:
        name, path = a.split("=", 1)
        targets.append((name, path))
if not out or not targets:
    sys.exit("usage: watch.py --out LOG NAME=PATH...")

running = True
def stop(signum, frame):
    global running
    running = False
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)

libc = ctypes.CDLL(None, use_errno=True)
IN_MODIFY, IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE = 0x2, 0x8, 0x80, 0x100
MASK = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE
ifd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
watched = set()

def watch_dirs():
    for _, path in targets:
        d = path if os.path.isdir(path) else os.path.dirname(path) or "."
        if d not in watched and os.path.isdir(d) and ifd >= 0:
            if libc.inotify_add_watch(ifd, d.encode(), MASK) >= 0:
                watched.add(d)

log = open(out, "a", buffering=1)
pos, size = {}, {}

def scan(name, f, now, header):
    try:
        st = os.stat(f)
    except OSError:
        return
    if size.get(f) == st.st_size:
        return
    size[f] = st.st_size
    p = pos.get(f, 0)
    with open(f, "rb") as fh:
        fh.seek(p)
        data = fh.read()
    end = data.rfind(b"\n")
    if end < 0:
        return
    for line in data[:end].split(b"\n"):
        if header and p == 0 and line.startswith(b"window_start"):
            continue
        cols = line.decode().split(",", 2)
        if len(cols) >= 2:
            log.write("%s %d %s %s\n" % (name, now, cols[0], cols[1]))
    pos[f] = p + end + 1

def scan_all():
    now = time.time_ns() // 1000
    for name, path in targets:
        if os.path.isdir(path):
            try:
                ents = [e.name for e in os.scandir(path)
                        if e.name.startswith("part-") and not e.name.endswith(".crc")]
            except OSError:
                continue
            for e in ents:
                scan(name, os.path.join(path, e), now, False)
        else:
            scan(name, path, now, True)

while running:
    watch_dirs()
    scan_all()
    if ifd < 0:
        time.sleep(0.005)
        continue
    try:
        r, _, _ = select.select([ifd], [], [], 0.05)
    except InterruptedError:
        continue
    if r:
        try:
            while os.read(ifd, 65536):
                pass
        except BlockingIOError:
            pass
scan_all()
log.close()

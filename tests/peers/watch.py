#!/usr/bin/env python3
# tests/peers/watch.py --out LOG [--interval S] NAME=PATH...
# Polls each output every --interval seconds (default 0.005) until SIGTERM and
# appends one line per new row to LOG: "NAME SEEN_US WINDOW_START PRODUCT",
# SEEN_US the wall clock (microseconds) at which the row was first complete
# on disk.  PATH is a CSV file (ours, Quix: header line skipped) or a
# directory of part files (Spark's CSV sink: every part-*.csv, no header);
# only complete lines count.  The rows' first two columns are window_start
# and product_id.
import os
import signal
import sys
import time

args = sys.argv[1:]
out, interval, targets = None, 0.005, []
while args:
    a = args.pop(0)
    if a == "--out":
        out = args.pop(0)
    elif a == "--interval":
        interval = float(args.pop(0))
    else:
        name, path = a.split("=", 1)
        targets.append((name, path))
if not out or not targets:
    sys.exit("usage: watch.py --out LOG [--interval S] NAME=PATH...")

running = True
def stop(signum, frame):
    global running
    running = False
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)

log = open(out, "a", buffering=1)
pos = {}      # file -> bytes consumed (complete lines)
size = {}     # file -> size seen

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

while running:
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
    time.sleep(interval)
log.close()

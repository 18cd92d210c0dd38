#!/usr/bin/env python3
# tests/peers/compare.py - one run of `make bench-peers`, checked window by window.
#
#   compare.py --dump TOPICS.tsv --ours CSV --ours-state DB --spark DIR
#              --spark-stats OUT --quix CSV --quix-stats OUT [--watch LOG]
#              [--window-s 60 --watermark-s 120] --out RUN.json
#
# TOPICS.tsv is what the brokers' topics hold, read back after the run with
# `kcat -f '%t\t%p\t%T\t%s\n'`: topic, partition, the broker's append time (ms,
# the topics are LogAppendTime) and the tick.  From it:
#
#  - the reference: every window and product aggregated from every tick
#    (the lab's five, sums in log order);
#  - for each consumer, which windows its own watermark rule has closed by the
#    end of the data: ours, the minimum over the partitions of their latest
#    event time, minus the watermark; Spark, the maximum over all partitions
#    (one global watermark); Quix, per product (its windows are per message key
#    and partition after group_by), in milliseconds;
#  - the tick that closes a window for each consumer, by the same rules: the
#    first tick whose event time reaches window end + watermark, in every
#    partition (ours), in any partition (Spark), of that product (Quix); with
#    --watch (the rows' first appearance, tests/peers/watch.py) the closing
#    latency is the row's appearance minus that tick's append time.
#
# Each consumer's rows are compared with the reference (numbers within 1e-9
# relative, times to the millisecond, as all three write them) and every
# difference is classified:
#   open        the window is missing and its watermark had not passed its end
#   late        the row differs (or is missing) and the consumer reports ticks
#               of that product dropped as late
#   duplicate   the same window and product written twice
#   UNEXPLAINED anything else
# The result (counts, every difference, latencies) is one JSON object.
import argparse
import bisect
import glob
import json
import os
import sqlite3
import sys
from datetime import datetime, timezone, timedelta

ap = argparse.ArgumentParser()
ap.add_argument("--dump", required=True)
ap.add_argument("--ours", required=True)
ap.add_argument("--ours-state", required=True)
ap.add_argument("--spark", required=True)
ap.add_argument("--spark-stats", required=True)
ap.add_argument("--quix", required=True)
ap.add_argument("--quix-stats", required=True)
ap.add_argument("--watch")
ap.add_argument("--window-s", type=int, default=60)
ap.add_argument("--watermark-s", type=int, default=120)
ap.add_argument("--out", required=True)
args = ap.parse_args()

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
US = timedelta(microseconds=1)
W = args.window_s * 1_000_000
WM = args.watermark_s * 1_000_000
REL = 1e-9


def parse_us(s):
    return (datetime.fromisoformat(s.replace("Z", "+00:00")) - EPOCH) // US


def iso_ms(us):
    d = EPOCH + timedelta(microseconds=(us // 1000) * 1000)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


# --- the data ------------------------------------------------------------------------
ref = {}          # (start_us, product) -> [n, sum_price, sum_vol, max_t, max_bid, max_ask]
parts = {}        # (topic, partition) -> ([event time us...], [append ms...]) in log order
prod_max = {}     # product -> latest event time (us)
with open(args.dump) as f:
    for line in f:
        topic, part, app_ms, value = line.rstrip("\n").split("\t", 3)
        v = json.loads(value)
        t = parse_us(v["time"])
        p = v["product_id"]
        k = (t - t % W, p)
        a = ref.get(k)
        price, vol = float(v["price"]), float(v["volume_24h"])
        bid, ask = float(v["best_bid"]), float(v["best_ask"])
        if a is None:
            ref[k] = [1, price, vol, t, bid, ask]
        else:
            a[0] += 1; a[1] += price; a[2] += vol
            if t > a[3]: a[3] = t
            if bid > a[4]: a[4] = bid
            if ask > a[5]: a[5] = ask
        e = parts.setdefault((topic, int(part)), ([], [], p))
        e[0].append(t)
        e[1].append(int(app_ms))
        if t > prod_max.get(p, -1):
            prod_max[p] = t
if not ref:
    sys.exit("compare: no ticks in " + args.dump)

# Each partition's running maximum of event time, for "first tick reaching X".
runmax = {}
for key, (ts, apps, prod) in parts.items():
    m, rm = -1 << 62, []
    for t in ts:
        m = t if t > m else m
        rm.append(m)
    runmax[key] = rm


def first_reach(key, x):
    """Append time (ms) of the first tick of partition `key` at event time >= x."""
    rm = runmax[key]
    i = bisect.bisect_left(rm, x)
    return parts[key][1][i] if i < len(rm) else None


# --- each consumer's rule ------------------------------------------------------------
part_max = {k: rm[-1] for k, rm in runmax.items()}
ours_wm = min(part_max.values()) - WM
spark_wm = max(part_max.values()) - WM


def closed(who, start, prod):
    end = start + W
    if who == "ours":
        return end <= ours_wm
    if who == "spark":
        return end <= spark_wm
    return end // 1000 <= prod_max[prod] // 1000 - WM // 1000      # quix: ms


def closing_ms(who, start, prod):
    x = start + W + WM
    if who == "ours":
        ts = [first_reach(k, x) for k in parts]
        return None if None in ts else max(ts)
    if who == "spark":
        ts = [t for t in (first_reach(k, x) for k in parts) if t is not None]
        return min(ts) if ts else None
    ts = [t for t in (first_reach(k, x // 1000 * 1000) for k in parts if parts[k][2] == prod)
          if t is not None]
    return min(ts) if ts else None


# --- the outputs -----------------------------------------------------------------------
def read_rows(files, header):
    rows = []
    for fn in files:
        with open(fn) as f:
            for i, line in enumerate(f):
                line = line.rstrip("\n")
                if not line or (header and i == 0 and line.startswith("window_start")):
                    continue
                rows.append(line.split(","))
    return rows


spark_files = sorted(glob.glob(os.path.join(args.spark, "part-*.csv")))
outputs = {
    "ours": read_rows([args.ours], True),
    "spark": read_rows(spark_files, False),
    "quix": read_rows([args.quix], True),
}


def stats_line(path):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("% stats "):
                    return json.loads(line[8:])
    except OSError:
        pass
    return {}


late = {"ours": {}, "spark": {}, "quix": {}}
db = sqlite3.connect("file:%s?mode=ro" % args.ours_state, uri=True)
for prod, n in db.execute("SELECT product_id, sum(late) FROM products GROUP BY 1"):
    late["ours"][prod] = n
db.close()
sp = stats_line(args.spark_stats)
if sp.get("dropped_by_watermark"):
    # Spark counts rows after its partial aggregation, per product unknown.
    late["spark"] = {"*": sp["dropped_by_watermark"]}
qs = stats_line(args.quix_stats)
late["quix"] = qs.get("late", {})


def reported_late(who, prod):
    l = late[who]
    return l.get(prod, 0) or l.get("*", 0)


def num_eq(a, b):
    return a == b or abs(a - b) <= REL * max(abs(a), abs(b))


result = {"ticks": sum(len(v[0]) for v in parts.values()), "partitions": len(parts),
          "ref_windows": len(ref), "late": late, "consumers": {}}
for who, rows in outputs.items():
    seen, diffs = {}, []
    count = {"rows": len(rows), "equal": 0, "open": 0, "late": 0, "duplicate": 0, "UNEXPLAINED": 0}
    for r in rows:
        start, prod = parse_us(r[0]), r[1]
        k = (start, prod)
        if k in seen:
            count["duplicate"] += 1
            diffs.append({"window": r[0], "product": prod, "kind": "duplicate", "detail": "written twice"})
            continue
        seen[k] = r
        a = ref.get(k)
        if a is None:
            count["UNEXPLAINED"] += 1
            diffs.append({"window": r[0], "product": prod, "kind": "UNEXPLAINED", "detail": "no such window in the data"})
            continue
        want = [iso_ms(a[3]), a[1] / a[0], a[4], a[5], a[2] / a[0]]
        got = [r[2], float(r[3]), float(r[4]), float(r[5]), float(r[6])]
        names = ["max(timestamp)", "avg(price)", "max(best_bid)", "max(best_ask)", "avg(volume_24h)"]
        bad = [n for n, g, w in zip(names, got, want)
               if (g != w if isinstance(w, str) else not num_eq(g, w))]
        if not bad:
            count["equal"] += 1
            continue
        detail = "; ".join("%s %s, all ticks: %s" % (n, got[names.index(n)], want[names.index(n)]) for n in bad)
        kind = "late" if reported_late(who, prod) else "UNEXPLAINED"
        count[kind] += 1
        diffs.append({"window": r[0], "product": prod, "kind": kind, "detail": detail})
    for k in sorted(ref):
        if k in seen:
            continue
        start, prod = k
        if not closed(who, start, prod):
            kind, detail = "open", "its watermark had not passed the window's end when the data ended"
        elif reported_late(who, prod):
            kind, detail = "late", "missing: all of its %d ticks dropped as late" % ref[k][0]
        else:
            kind, detail = "UNEXPLAINED", "missing, %d ticks" % ref[k][0]
        count[kind] += 1
        diffs.append({"window": iso_ms(start), "product": prod, "kind": kind, "detail": detail})
    result["consumers"][who] = {"count": count, "diffs": diffs,
                                "expected_closed": sum(1 for (s, p) in ref if closed(who, s, p))}

# --- latency --------------------------------------------------------------------------
if args.watch:
    first_seen = {}
    with open(args.watch) as f:
        for line in f:
            who, us, ws, prod = line.split()
            first_seen.setdefault(who, {}).setdefault((parse_us(ws), prod), int(us))
    for who in outputs:
        lat = []
        for (start, prod), us in first_seen.get(who, {}).items():
            c = closing_ms(who, start, prod)
            if c is not None:
                lat.append((us / 1000.0) - c)
        result["consumers"][who]["latency_ms"] = sorted(lat)
        fs = first_seen.get(who)
        result["consumers"][who]["first_seen_us"] = min(fs.values()) if fs else None

with open(args.out, "w") as f:
    json.dump(result, f)
for who, c in result["consumers"].items():
    print("compare: %-5s %s" % (who, " ".join("%s=%d" % kv for kv in c["count"].items())), file=sys.stderr)

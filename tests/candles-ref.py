#!/usr/bin/env python3
"""candles-ref.py DUMP CSV WINDOW_S SLIDE_S DELAY_S

The reference for every aggregate of `--columns all` (tests/t/90, 91),
written apart from the aggregator: Python over the raw ticks of the topics.
DUMP has one record a line, "TOPIC PARTITION OFFSET JSON" (kcat -f '%t %p %o
%s\\n').  Each window of each product is computed per input partition in
offset order, then merged in (topic, partition) order, as README says the
aggregator does, so sums are compared bit for bit, not within a tolerance:
  open/close  the price of the least/greatest event time; ties: the earlier
              (open) / later (close) offset in a partition, the first / last
              partition in (topic, partition) order across
  volume      sum(last_size), a tick without it adds 0; vwap sum(price *
              last_size) / volume, empty when the volume is 0
  trade_gap   max(trade_id) - min(trade_id) + 1 - ticks with a trade id
  spread      best_ask - best_bid: mean over every tick, max
  buy/sell    sum(last_size) of side "buy" / "sell"
The watermark is the least over input partitions of their largest event time
minus the delay (WATERMARK_US overrides): every window ending at or before it
must be in the CSV, in (window_end, product_id) order, and nothing else.
PARTIAL: a file of "PRODUCT WINDOW_START_US" lines, the windows a state held
at its migration to version 6: their version-6 columns must be empty (the
lab's and ticks are checked by tests/offline.sh).
Prints the differences; exit 0 when none.
"""
import csv
import json
import os
import sys
from datetime import datetime, timezone

LAB = ["max(timestamp)", "avg(price)", "max(best_bid)", "max(best_ask)", "avg(volume_24h)"]
NEW = ["open", "high", "low", "close", "volume", "vwap", "trade_gap", "spread_mean", "spread_max",
       "buy_volume", "sell_volume"]


def us_of(s):
    """ISO-8601 UTC with 0..9 fraction digits, truncated to microseconds."""
    base, _, rest = s.partition(".")
    frac = ""
    if rest:
        frac = rest.rstrip("Zz")
    else:
        base = base.rstrip("Zz")
    t = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(t.timestamp()) * 1000000 + int((frac + "000000")[:6])


def ms_text(us):
    t = datetime.fromtimestamp(us // 1000000, tz=timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (us % 1000000 // 1000)


def starts(ts, win, slide):
    """The windows [s, s + win) holding ts, s a multiple of slide."""
    s = ts - ts % slide
    out = []
    while s + win > ts:
        out.append(s)
        s -= slide
    return out


def add(p, tk):
    """One tick into a partial (a dict), as it arrives (offset order)."""
    ts, price, size, tid = tk["ts"], tk["price"], tk["size"], tk["trade"]
    spread = tk["ask"] - tk["bid"]
    if not p:
        p.update(ticks=0, sp=0.0, sv=0.0, mt=ts, mb=tk["bid"], ma=tk["ask"], open=price, ot=ts, close=price,
                 ct=ts, high=price, low=price, vol=0.0, notional=0.0, tmin=None, tmax=None, tticks=0,
                 ssum=0.0, smax=spread, buy=0.0, sell=0.0)
    p["ticks"] += 1
    p["sp"] += price
    p["sv"] += tk["vol24"]
    p["mt"] = max(p["mt"], ts)
    p["mb"] = max(p["mb"], tk["bid"])
    p["ma"] = max(p["ma"], tk["ask"])
    if ts < p["ot"]:
        p["open"], p["ot"] = price, ts
    if ts >= p["ct"]:
        p["close"], p["ct"] = price, ts
    p["high"] = max(p["high"], price)
    p["low"] = min(p["low"], price)
    p["vol"] += size
    p["notional"] += price * size
    if tid is not None:
        p["tmin"] = tid if p["tmin"] is None else min(p["tmin"], tid)
        p["tmax"] = tid if p["tmax"] is None else max(p["tmax"], tid)
        p["tticks"] += 1
    p["ssum"] += spread
    p["smax"] = max(p["smax"], spread)
    p["buy"] += size if tk["side"] == "buy" else 0.0
    p["sell"] += size if tk["side"] == "sell" else 0.0


def merge(a, b):
    """b (a later partition) into a."""
    for k in ("ticks", "sp", "sv", "vol", "notional", "tticks", "ssum", "buy", "sell"):
        a[k] += b[k]
    for k in ("mt", "mb", "ma", "high", "smax"):
        a[k] = max(a[k], b[k])
    a["low"] = min(a["low"], b["low"])
    if b["ot"] < a["ot"]:
        a["open"], a["ot"] = b["open"], b["ot"]
    if b["ct"] >= a["ct"]:
        a["close"], a["ct"] = b["close"], b["ct"]
    for k, f in (("tmin", min), ("tmax", max)):
        if b[k] is not None:
            a[k] = b[k] if a[k] is None else f(a[k], b[k])


def read_ticks(path):
    """{(topic, partition): [tick, ...] in offset order}."""
    parts = {}
    with open(path) as f:
        for line in f:
            topic, part, off, js = line.rstrip("\n").split(" ", 3)
            m = json.loads(js)
            if m.get("type") != "ticker":
                continue
            tid = m.get("trade_id")
            parts.setdefault((topic, int(part)), []).append({
                "off": int(off), "product": m["product_id"], "ts": us_of(m["time"]),
                "price": float(m["price"]), "vol24": float(m["volume_24h"]), "bid": float(m["best_bid"]),
                "ask": float(m["best_ask"]), "size": float(m["last_size"]) if "last_size" in m else 0.0,
                "side": m.get("side"), "seq": m.get("sequence"),
                "trade": tid if isinstance(tid, int) and not isinstance(tid, bool) and tid >= 0 else None})
    for v in parts.values():
        v.sort(key=lambda t: t["off"])
    return parts


def reference(parts, win, slide):
    merged = {}
    for key in sorted(parts):
        partial, maxseq = {}, {}
        for tk in parts[key]:
            seq = tk["seq"]
            if seq is not None:  # a replayed sequence counts once
                if tk["product"] in maxseq and seq <= maxseq[tk["product"]]:
                    continue
                maxseq[tk["product"]] = seq
            for s in starts(tk["ts"], win, slide):
                add(partial.setdefault((tk["product"], s), {}), tk)
        for k, p in partial.items():
            if k in merged:
                merge(merged[k], p)
            else:
                merged[k] = dict(p)
    return merged


def text(v):
    return "" if v is None else repr(v) if isinstance(v, float) else str(v)


def values(p):
    """The CSV's values of a merged window, as numbers (None: empty)."""
    t = p["ticks"]
    return {
        "max(timestamp)": ms_text(p["mt"]), "avg(price)": p["sp"] / t, "max(best_bid)": p["mb"],
        "max(best_ask)": p["ma"], "avg(volume_24h)": p["sv"] / t, "open": p["open"], "high": p["high"],
        "low": p["low"], "close": p["close"], "volume": p["vol"],
        "vwap": p["notional"] / p["vol"] if p["vol"] != 0 else None, "ticks": t,
        "trade_gap": p["tmax"] - p["tmin"] + 1 - p["tticks"] if p["tmax"] is not None else None,
        "spread_mean": p["ssum"] / t, "spread_max": p["smax"], "buy_volume": p["buy"], "sell_volume": p["sell"],
    }


def same(want, got):
    if want is None or got == "":
        return want is None and got == ""
    if isinstance(want, str):
        return want == got
    if isinstance(want, int):
        return str(want) == got
    return float(got) == want  # bit for bit: the same double


def main():
    dump, out, win, slide, delay = sys.argv[1], sys.argv[2], *(int(float(x) * 1e6) for x in sys.argv[3:6])
    parts = read_ticks(dump)
    merged = reference(parts, win, slide)
    wm = os.environ.get("WATERMARK_US")
    wm = int(wm) if wm else min(max(t["ts"] for t in v) for v in parts.values()) - delay
    old_windows = set()
    if os.environ.get("PARTIAL"):
        with open(os.environ["PARTIAL"]) as f:
            old_windows = {(p, int(s)) for p, s in (line.split() for line in f)}
    want = sorted(((s + win, prod) for (prod, s) in merged if s + win <= wm))
    bad = []
    with open(out) as f:
        rows = list(csv.DictReader(f))
    got = []
    for r in rows:
        s = us_of(r["window_start"])
        got.append((s + win, r["product_id"]))
        p = merged.get((r["product_id"], s))
        if p is None:
            bad.append("not expected in csv: %s %s" % (r["product_id"], r["window_start"]))
            continue
        v = values(p)
        old = (r["product_id"], s) in old_windows
        for c in (NEW if old else LAB + NEW + ["ticks"]):
            w = None if old else v[c]
            if c in r and not same(w, r[c]):
                bad.append("differs: %s %s %s: want %s got %s" % (r["product_id"], r["window_start"], c,
                                                                  text(w), r[c]))
    if got != want:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        bad.append("rows: %d in csv, %d want; missing %s; extra %s; in order: %s" % (
            len(got), len(want), [ms_text(e) + " " + p for e, p in missing[:3]],
            [ms_text(e) + " " + p for e, p in extra[:3]], got == sorted(got)))
    for b in bad[:20]:
        print(b)
    print("checked %d windows against %d csv rows" % (len(want), len(rows)), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

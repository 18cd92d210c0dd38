#!/usr/bin/env python3
# tests/peers/quix_app.py - the same aggregation as a Quix Streams application:
# per topic (one per product) the ticks as JSON, event time from the tick's
# `time` (timestamp_extractor; Quix keeps milliseconds), group_by product_id
# (Quix windows are per message key and per partition: a product spread over
# several partitions goes through a repartition topic, as Quix requires), a
# tumbling window of 1 minute with a grace period of 2 minutes (the watermark),
# mean/max as the lab's five, .final() (a window is emitted once, when a tick
# of its key and partition reaches end + grace), RocksDB state with changelog
# topics (the defaults), at-least-once (the default guarantee).  The rows go
# to a CSV with the columns of our --columns lab.
#
# --count N: stop once N ticks have reached the window stage (the backlog run);
# otherwise it runs until SIGTERM.  Prints "% ready" at the first assignment
# and "% stats {...}" (late ticks per product) at the end.
import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone

from quixstreams import Application
from quixstreams.dataframe.windows import Max, Mean

ap = argparse.ArgumentParser()
ap.add_argument("--brokers", required=True)
ap.add_argument("--topics", default="BTC-USD,ETH-USD")
ap.add_argument("--output", required=True)
ap.add_argument("--state-dir", required=True)
ap.add_argument("--group", required=True)
ap.add_argument("--count", type=int, default=0)
args = ap.parse_args()

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

def time_us(s):
    """The tick's `time` (ISO-8601 UTC, up to microseconds) in microseconds."""
    d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return (d - EPOCH) // __import__("datetime").timedelta(microseconds=1)

def iso_ms(us):
    s, rest = divmod(us // 1000, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".%03dZ" % rest

def extract_ts(value, headers, timestamp, timestamp_type):
    return time_us(value["time"]) // 1000

def to_tick(v):
    return {"product_id": v["product_id"], "price": float(v["price"]),
            "volume_24h": float(v["volume_24h"]), "best_bid": float(v["best_bid"]),
            "best_ask": float(v["best_ask"]), "time_us": time_us(v["time"])}

late = {}
def on_late(value, key, timestamp_ms, late_by_ms, start, end, name, topic, partition, offset):
    p = value.get("product_id", "?") if isinstance(value, dict) else "?"
    late[p] = late.get(p, 0) + 1
    return False

out = open(args.output, "w", buffering=1)
out.write("window_start,product_id,max(timestamp),avg(price),max(best_bid),max(best_ask),avg(volume_24h)\n")
def write_row(value, key, timestamp, headers):
    product = key.decode() if isinstance(key, bytes) else key
    out.write("%s,%s,%s,%r,%r,%r,%r\n" % (
        iso_ms(value["start"] * 1000), product, iso_ms(value["max_time_us"]),
        value["avg_price"], value["max_best_bid"], value["max_best_ask"], value["avg_volume_24h"]))

app = Application(broker_address=args.brokers, consumer_group=args.group,
                  auto_offset_reset="earliest", state_dir=args.state_dir,
                  loglevel="WARNING")

seen = 0
def count(value):
    global seen
    seen += 1
    if args.count and seen >= args.count:
        app.stop()

for name in args.topics.split(","):
    topic = app.topic(name, value_deserializer="json", timestamp_extractor=extract_ts)
    sdf = app.dataframe(topic)
    sdf = sdf.apply(to_tick)
    sdf = sdf.group_by("product_id")
    sdf = sdf.update(count)
    sdf = (sdf.tumbling_window(duration_ms=60_000, grace_ms=120_000, on_late=on_late)
           .agg(avg_price=Mean("price"), avg_volume_24h=Mean("volume_24h"),
                max_time_us=Max("time_us"), max_best_bid=Max("best_bid"),
                max_best_ask=Max("best_ask"))
           .final())
    sdf = sdf.update(write_row, metadata=True)

print("% ready", flush=True)
app.run()
out.close()
print("% stats " + json.dumps({"ticks": seen, "late": late}), flush=True)

#!/usr/bin/env python3
# tests/peers/spark_lab.py - the Spark lab's consumer (../shared/lab.md, Task 2)
# as the lab has it written: readStream from both topics, a JSON schema, the
# casts, withWatermark("timestamp", "2 minutes"), groupBy(window(timestamp,
# "1 minute"), product_id), the five aggregations as the lab's dict, a CSV sink
# in append mode, master local[2].
#
# Parametrized only for what differs between machines and runs: brokers,
# topics, output and checkpoint directories, the trigger (availableNow for the
# backlog, the lab's default trigger for the live run), startingOffsets
# earliest (the lab's default, latest, would miss a backlog), UTC session time
# (the CSV's timestamps as ours), and two leading columns window_start and
# product_id: the lab's five columns alone do not say which window or product a
# row is (our --columns lab writes the same two).
#
# tests/bench-peers.sh runs it; it prints "% ready" once the query runs,
# "% input N" (ticks read so far) after each batch and, at the end, one JSON
# line "% stats {...}" with the rows dropped by the watermark and the batches
# run (from the query's progress reports).
import argparse
import json
import signal
import sys
import threading
import time

from pyspark.sql import SparkSession
from pyspark.sql.functions import col, from_json, window
from pyspark.sql.types import StringType, StructField, StructType, LongType

ap = argparse.ArgumentParser()
ap.add_argument("--brokers", required=True)
ap.add_argument("--topics", default="BTC-USD,ETH-USD")
ap.add_argument("--output", required=True, help="output directory (Spark writes part files there)")
ap.add_argument("--checkpoint", required=True)
ap.add_argument("--trigger", choices=["available-now", "default"], default="default")
ap.add_argument("--ivy", required=True, help="spark.jars.ivy")
ap.add_argument("--ivy-settings", help="spark.jars.ivySettings (Maven Central only)")
ap.add_argument("--kafka-package", required=True)
ap.add_argument("--resolve-only", action="store_true", help="get the Kafka connector (Ivy), then exit")
args = ap.parse_args()

builder = (SparkSession.builder.appName("coinbase-lab-consumer").master("local[2]")
           .config("spark.jars.packages", args.kafka_package)
           .config("spark.jars.ivy", args.ivy)
           .config("spark.sql.session.timeZone", "UTC")
           .config("spark.ui.enabled", "false")
           .config("spark.ui.showConsoleProgress", "false"))
if args.ivy_settings:
    builder = builder.config("spark.jars.ivySettings", args.ivy_settings)
spark = builder.getOrCreate()
spark.sparkContext.setLogLevel("WARN")
if args.resolve_only:
    spark.stop()
    sys.exit(0)

# 1. both topics
df = (spark.readStream.format("kafka")
      .option("kafka.bootstrap.servers", args.brokers)
      .option("subscribe", args.topics)
      .option("startingOffsets", "earliest")
      .load())

# 2. the schema of the ticker message, parsed, the fields cast
schema = StructType([
    StructField("type", StringType()),
    StructField("sequence", LongType()),
    StructField("product_id", StringType()),
    StructField("price", StringType()),
    StructField("open_24h", StringType()),
    StructField("volume_24h", StringType()),
    StructField("low_24h", StringType()),
    StructField("high_24h", StringType()),
    StructField("volume_30d", StringType()),
    StructField("best_bid", StringType()),
    StructField("best_bid_size", StringType()),
    StructField("best_ask", StringType()),
    StructField("best_ask_size", StringType()),
    StructField("side", StringType()),
    StructField("time", StringType()),
    StructField("trade_id", LongType()),
    StructField("last_size", StringType()),
])
ticks = (df.selectExpr("CAST(value AS STRING) AS value")
         .select(from_json(col("value"), schema).alias("data"))
         .select("data.*")
         .select(col("product_id"),
                 col("price").cast("double").alias("price"),
                 col("volume_24h").cast("double").alias("volume_24h"),
                 col("best_bid").cast("double").alias("best_bid"),
                 col("best_ask").cast("double").alias("best_ask"),
                 col("time").cast("timestamp").alias("timestamp")))

# 3. watermark, 4. window and aggregations (the lab's dict)
agg = (ticks.withWatermark("timestamp", "2 minutes")
       .groupBy(window(col("timestamp"), "1 minute"), col("product_id"))
       .agg({
           "price": "mean",
           "volume_24h": "mean",
           "timestamp": "max",
           "best_bid": "max",
           "best_ask": "max",
       }))

# 5. CSV sink, append mode, the lab's columns (after window_start, product_id)
out = agg.select(col("window.start").alias("window_start"), col("product_id"),
                 col("max(timestamp)"), col("avg(price)"), col("max(best_bid)"),
                 col("max(best_ask)"), col("avg(volume_24h)"))
writer = (out.writeStream.format("csv").outputMode("append")
          .option("path", args.output)
          .option("checkpointLocation", args.checkpoint))
if args.trigger == "available-now":
    writer = writer.trigger(availableNow=True)
query = writer.start()
print("% ready", flush=True)

stop = threading.Event()
def on_term(signum, frame):
    stop.set()
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)

# Progress of every batch (recentProgress keeps only the last 100).
seen = {}
def collect():
    n = len(seen)
    for p in query.recentProgress:
        seen[(p["batchId"], p["timestamp"])] = p
    if len(seen) != n:
        print("%% input %d" % sum(p.get("numInputRows", 0) for p in seen.values()), flush=True)
while query.isActive and not stop.is_set():
    collect()
    query.awaitTermination(0.5)
collect()
if query.isActive:
    query.stop()
dropped = sum(op.get("numRowsDroppedByWatermark", 0)
              for p in seen.values() for op in p.get("stateOperators", []))
rows_in = sum(p.get("numInputRows", 0) for p in seen.values())
print("% stats " + json.dumps({"batches": len(seen), "input_rows": rows_in,
                               "dropped_by_watermark": dropped}), flush=True)
spark.stop()

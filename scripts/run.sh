#!/usr/bin/env bash
# scripts/run.sh [BIN] - the live job (make run): the real Coinbase feed
# (the producer's default URL, or FEED_URL) -> Kafka (KAFKA_BROKERS when set,
# else a local Apache Kafka, scripts/kafka, its log kept in RUN_DIR/kafka)
# -> aggregator -> demo/live/ (RUN_DIR),
# until Ctrl-C, which stops everything cleanly (the aggregator commits and exits 0).
# Settings: see scripts/demo.sh (PRODUCTS, WINDOW, WATERMARK, PROGRESS,
# PRODUCER_ARGS, AGGREGATOR_ARGS, AGGREGATOR_GROUP).
case ${1:-} in -h | --help) sed -n '2,/^exec/{/^exec/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;; esac
exec "$(dirname "${BASH_SOURCE[0]}")/demo.sh" --live "$@"

#!/usr/bin/env bash
# scripts/run.sh [BIN] - the live job (make run): the real Coinbase feed
# (the producer's default URL, or FEED_URL) -> Kafka (KAFKA_BROKERS when set,
# else a local Apache Kafka, scripts/kafka, its log kept in RUN_DIR/kafka)
# -> aggregator -> demo/live/ (RUN_DIR),
# until Ctrl-C, which stops everything cleanly (the aggregator commits and exits 0).
# A feed it cannot reach is said within seconds, with how to replay instead.
#
# scripts/run.sh --replay FILE [--speed N] [BIN] - make replay: FILE (JSON lines
# of ticker messages) served by the local feed (bin/feed-server) at N x
# (default 30) -> producer -> a fresh local Apache Kafka (REPLAY_BROKERS: a
# cluster) whose topics keep old event times -> aggregator (group
# REPLAY_GROUP, coinbase-windows-replay) -> demo/replay/ (REPLAY_DIR), until
# every tick is in; then the chart, as make demo.
# Settings: see scripts/demo.sh (PRODUCTS, WINDOW, WATERMARK, PROGRESS,
# PRODUCER_ARGS, AGGREGATOR_ARGS, AGGREGATOR_GROUP).
case ${1:-} in -h | --help) sed -n '2,/^exec/{/^#/!d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;; esac
exec "$(dirname "${BASH_SOURCE[0]}")/demo.sh" --live "$@"

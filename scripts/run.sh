#!/usr/bin/env bash
# scripts/run.sh [BIN] - the live job (make run): the real Coinbase feed
# (the producer's default URL, or FEED_URL) -> Kafka (KAFKA_BROKERS when set,
# else an embedded broker started here) -> aggregator -> demo/live/ (RUN_DIR),
# until Ctrl-C, which stops everything cleanly (the aggregator commits and exits 0).
# Settings: see scripts/demo.sh (PRODUCTS, WINDOW, WATERMARK, PROGRESS,
# PRODUCER_ARGS, AGGREGATOR_ARGS, AGGREGATOR_GROUP).
exec "$(dirname "${BASH_SOURCE[0]}")/demo.sh" --live "$@"

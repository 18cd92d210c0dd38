#!/usr/bin/env bash
# producer: the broker goes down for a few seconds while ticks flow; the
# idempotent producer keeps them and delivers every one, once, when it returns.
. "$(dirname "$0")/../lib.sh"
plan 7

N=$(wc -l <"$FIX")
total_on_topics() { echo $(( $(topic_count "$1BTC-USD") + $(topic_count "$1ETH-USD") )); }

start_broker -b 1 || bail "no broker"
start_feed --file "$FIX" --speed 150 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" -t t18. --status-interval 1
ok_cmd "ticks flowing" wait_for 30 delivered_at_least 200
ok_cmd "broker down" broker_cmd "down 1"
sleep 4
ok_cmd "broker up" broker_cmd "up 1"
ok_cmd "all $N ticks delivered within 45 s" wait_for 45 delivered_at_least "$N"
stop producer
is "$?" 0 "exit 0 after SIGTERM"
for p in BTC-USD ETH-USD; do
	is "$(topic_dump "t18.$p")" "$(grep -F "\"product_id\":\"$p\"" "$FIX")" "$p: every tick once, in order"
done

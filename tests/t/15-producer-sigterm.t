#!/usr/bin/env bash
# producer: SIGTERM mid-stream closes the feed, flushes Kafka and exits 0 with
# delivered == published; the topics hold exactly that many ticks, a prefix of
# the fixture per product.
. "$(dirname "$0")/../lib.sh"
plan 6

N=$(wc -l <"$FIX")
total_on_topics() { echo $(( $(topic_count "$1BTC-USD") + $(topic_count "$1ETH-USD") )); }

start_broker -b 1 || bail "no broker"
start_feed --file "$FIX" --speed 100 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix t15. --status-interval 1
ok_cmd "ticks flowing" wait_for 30 delivered_at_least 300
stop producer TERM
is "$?" 0 "exit 0 after SIGTERM"
pub=$(producer_counter published)
is "$(producer_counter delivered)" "$pub" "final counters: delivered == published ($pub)"
cmp_ok "$pub" -lt "$N" "stopped mid-stream"
is "$(total_on_topics t15.)" "$pub" "topics hold exactly the published ticks"
is "$(topic_dump t15.BTC-USD)" "$(grep -F '"product_id":"BTC-USD"' "$FIX" | head -n "$(topic_count t15.BTC-USD)")" \
	"BTC-USD topic is a prefix of the fixture"

#!/usr/bin/env bash
# producer: fragmented messages are reassembled; garbage frames and truncated
# tickers are counted and logged (rate-limited), never fatal, never published.
. "$(dirname "$0")/../lib.sh"
plan 7

N=$(wc -l <"$FIX")
total_on_topics() { echo $(( $(topic_count "$1BTC-USD") + $(topic_count "$1ETH-USD") )); }

start_broker -b 1 || bail "no broker"
start_feed --file "$FIX" --speed 0 --fragment --garbage-every 100 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix t17. --status-interval 1
ok_cmd "all $N ticks delivered within 45 s" wait_for 45 delivered_at_least "$N"
stop producer
is "$?" 0 "exit 0 after SIGTERM"
is "$(producer_counter malformed)" "$((N / 100))" "every garbage frame counted"
is "$(producer_counter published)" "$N" "only real ticks published"
cmp_ok "$(grep -c 'malformed message' "$T/producer.err")" -le 10 "malformed log lines are rate-limited"
for p in BTC-USD ETH-USD; do
	is "$(topic_dump "t17.$p")" "$(grep -F "\"product_id\":\"$p\"" "$FIX")" "$p: reassembled ticks byte-identical"
done

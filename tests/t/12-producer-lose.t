#!/usr/bin/env bash
# producer: ticks lost while disconnected (--lose-on-drop) show up as trade_id
# gaps: logged per product and counted as missed trades.
. "$(dirname "$0")/../lib.sh"
plan 6

N=$(wc -l <"$FIX")
total_on_topics() { echo $(( $(topic_count "$1BTC-USD") + $(topic_count "$1ETH-USD") )); }

start_broker -b 1 || bail "no broker"
start_feed --file "$FIX" --speed 0 --drop-after 1000 --drop-mode reset --lose-on-drop 5 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" \
	--topic-prefix t12. --status-interval 1 --max-backoff 1
# 4 drops x 5 lost lines: 4352 ticks reach the producer.
ok_cmd "the rest of the ticks delivered within 45 s" wait_for 45 delivered_at_least $((N - 20))
stop producer
is "$?" 0 "exit 0 after SIGTERM"
on_topics=$(total_on_topics t12.)
is "$(producer_counter published)" "$on_topics" "topics hold what was published ($on_topics)"
is "$(producer_counter missed-trades)" "$((N - on_topics))" "missed trades == fixture ticks that never arrived"
like "$(grep 'missed' "$T/producer.err" | head -n 1)" \
	'warning: (BTC|ETH)-USD: missed [0-9]+ trade\(s\): trade_id [0-9]+ -> [0-9]+' "gap logged with product and trade ids"
like "$(grep -E "^$LOG_TS % info: BTC-USD: " "$T/producer.err")" 'missed-trades [1-9]' "per-product missed count in the final report"

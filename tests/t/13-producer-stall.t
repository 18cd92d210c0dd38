#!/usr/bin/env bash
# producer: a feed that goes silent (no ticks, no heartbeats, socket open) is
# detected after --silence-timeout and reconnected; nothing is lost.
. "$(dirname "$0")/../lib.sh"
plan 6

N=$(wc -l <"$FIX")
total_on_topics() { echo $(( $(topic_count "$1BTC-USD") + $(topic_count "$1ETH-USD") )); }

start_broker -b 1 || bail "no broker"
start_feed --file "$FIX" --speed 0 --stall-after 1500 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" \
	--topic-prefix t13. --status-interval 1 --max-backoff 1 --silence-timeout 2
ok_cmd "all $N ticks delivered within 45 s" wait_for 45 delivered_at_least "$N"
stop producer
is "$?" 0 "exit 0 after SIGTERM"
cmp_ok "$(grep -c 'feed silent for 2 s: reconnecting' "$T/producer.err")" -ge 2 "both stalls detected"
cmp_ok "$(producer_counter reconnects)" -ge 2 "reconnected after each stall"
for p in BTC-USD ETH-USD; do
	is "$(topic_dump "t13.$p")" "$(grep -F "\"product_id\":\"$p\"" "$FIX")" "$p: every tick once, in order"
done

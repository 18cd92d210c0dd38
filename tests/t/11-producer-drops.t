#!/usr/bin/env bash
# producer: forced drops mid-stream (close frame and TCP reset): it reconnects,
# resubscribes, drops the stale re-sent ticker, and every tick is on its topic
# exactly once and in order.
. "$(dirname "$0")/../lib.sh"
plan 12

N=$(wc -l <"$FIX")

start_broker -b 1 || bail "no broker"
for mode in close reset; do
	start_feed --file "$FIX" --speed 0 --drop-after 700 --drop-mode "$mode" || bail "no feed"
	spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" \
		--topic-prefix "t11$mode." --status-interval 1 --max-backoff 1
	ok_cmd "$mode: all $N ticks delivered within 45 s" wait_for 45 delivered_at_least "$N"
	stop producer
	is "$?" 0 "$mode: exit 0 after SIGTERM"
	cmp_ok "$(producer_counter reconnects)" -ge 6 "$mode: reconnected after every drop ($(producer_counter reconnects))"
	cmp_ok "$(producer_counter duplicates)" -ge 6 "$mode: stale re-sent tickers dropped and counted ($(producer_counter duplicates))"
	for p in BTC-USD ETH-USD; do
		is "$(topic_dump "t11$mode.$p")" "$(grep -F "\"product_id\":\"$p\"" "$FIX")" \
			"$mode: $p topic holds every tick exactly once, in order"
	done
	cp "$T/producer.err" "$T/producer-$mode.log"
	stop feed
done

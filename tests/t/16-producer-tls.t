#!/usr/bin/env bash
# producer: wss:// to the feed server's self-signed certificate works with
# --ca-file (hostname check on: SAN IP 127.0.0.1), and fails fast, clearly and
# non-zero without it.
. "$(dirname "$0")/../lib.sh"
plan 7

N=$(wc -l <"$FIX")
total_on_topics() { echo $(( $(topic_count "$1BTC-USD") + $(topic_count "$1ETH-USD") )); }

start_broker -b 1 || bail "no broker"
start_feed --file "$FIX" --speed 0 --tls --cert-out "$T/feed-cert.pem" || bail "no feed"
like "$FEED_URL" '^wss://' "feed serves wss://"

spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix t16. --status-interval 0
wait_exit producer 20
is "$?" 3 "untrusted certificate: exit 3, no retry loop"
like "$(grep -E "^$LOG_TS % error:" "$T/producer.err" | head -n 1)" 'TLS: the certificate of 127.0.0.1 failed verification' \
	"clear log line"
like "$(grep -E "^$LOG_TS % error:" "$T/producer.err" | tail -n 1)" '--ca-file' "tells how to fix it"

spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix t16. --status-interval 1 \
	--ca-file "$T/feed-cert.pem"
ok_cmd "with --ca-file: all $N ticks delivered" wait_for 45 delivered_at_least "$N"
stop producer
is "$?" 0 "exit 0 after SIGTERM"
is "$(topic_dump t16.ETH-USD)" "$(grep -F '"product_id":"ETH-USD"' "$FIX")" "ETH-USD ticks byte-identical over TLS"

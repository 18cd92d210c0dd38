#!/usr/bin/env bash
# producer: its own WebSocket layer (wsproto.c) against the feed server's
# protocol corners: pings between the fragments of a message are answered
# with the same payload and the message still reassembles; a server that
# refuses the upgrade with an HTTP status is retried with backoff, clearly
# logged, never fatal.
. "$(dirname "$0")/../lib.sh"
plan 9

N=$(wc -l <"$FIX")

start_broker -b 1 || bail "no broker"
start_feed --file "$FIX" --speed 0 --fragment --ping-every 25 --heartbeat-ms 0 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix t19a. --status-interval 1
ok_cmd "all $N ticks delivered within 45 s" wait_for 45 delivered_at_least "$N"
stop producer
is "$?" 0 "exit 0 after SIGTERM"
stop feed
pings=$((N / 25))
is "$(grep -c 'pong ping-' "$T/feed.err")" "$pings" "every ping ($pings) answered with a pong"
is "$(grep -o 'pong ping-[0-9]*' "$T/feed.err" | sed 's/pong ping-//' | tr '\n' ' ')" \
	"$(seq -s ' ' 1 "$pings") " "pongs carry their ping's payload, in order"
for p in BTC-USD ETH-USD; do
	is "$(topic_dump "t19a.$p")" "$(grep -F "\"product_id\":\"$p\"" "$FIX")" \
		"$p: fragmented ticks with pings between fragments byte-identical"
done

start_feed --file "$FIX" --reject-status 429 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix t19a. --max-backoff 1 \
	--status-interval 0
ok_cmd "refused upgrade: retried (3 attempts within 15 s)" \
	wait_for 15 grep -q "attempt 3" "$T/producer.err"
like "$(grep -m 1 'handshake' "$T/producer.err")" \
	'WebSocket handshake with ws://127.0.0.1:[0-9]+ failed: server answered "HTTP/1\.[01] 429' \
	"the HTTP status is in the log"
stop producer
is "$?" 0 "still running, exit 0 after SIGTERM"

#!/usr/bin/env bash
# brokers: kafka
# producer: Kafka away for longer than the delivery timeout while the feed
# delivers must lose no tick (before: librdkafka's message.timeout.ms, 300 s,
# failed 227 of 1356 ticks and the exit was 1).  To keep the test short the
# timeout is lowered to 5 s (-X message.timeout.ms=5000) and the broker is
# down (SIGKILL) for 20 s, four times that.  The producer spools what Kafka
# does not take (its default spool: $STATE_DIRECTORY/producer-spool, here in
# $T) and replays it when Kafka is back: every tick is on its topic, at least
# once, in order, and the spool is empty again.
. "$(dirname "$0")/../lib.sh"

start_broker -t t62.BTC-USD -t t62.ETH-USD || bail "no broker"
N=$(wc -l <"$FIX")
start_feed --file "$FIX" --speed 30 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix t62. --status-interval 1 \
	-X message.timeout.ms=5000
ok_cmd "ticks flowing" wait_for 30 delivered_at_least 200
ok_cmd "broker down" broker_cmd "down 1"
sleep 20
ok_cmd "broker up" broker_cmd "up 1"
handled() { grep -E "^$LOG_TS % (info|warning): status:" "$T/producer.err" | tail -n 1 | grep -qE " ticks $N .* in-flight 0 .* in-spool 0 "; }
ok_cmd "the feed's $N ticks handled, the spool replayed" wait_for 90 handled
stop producer
is "$?" 0 "exit 0 after SIGTERM"
cmp_ok "$(producer_counter spooled)" -gt 0 "ticks went through the spool"
is "$(producer_counter lost)" 0 "none lost"
for p in BTC-USD ETH-USD; do
	grep -F "\"product_id\":\"$p\"" "$FIX" >"$T/want.$p"
	topic_dump "t62.$p" >"$T/got.$p"
	is "$(sort -u "$T/got.$p")" "$(sort -u "$T/want.$p")" "$p: every tick on its topic, none missing"
	# in order: each tick's first copy comes after the previous tick's first
	is "$(awk '!seen[$0]++' "$T/got.$p")" "$(cat "$T/want.$p")" "$p: in order (copies aside)"
done
is "$(find "$T/producer-spool" -type f | wc -l)" 0 "the spool file is gone after a clean exit with nothing left"

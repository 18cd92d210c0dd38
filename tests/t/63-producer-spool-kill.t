#!/usr/bin/env bash
# brokers: kafka
# producer: kill -9 while the spool holds ticks (Kafka away), then a restart:
# the next run replays the spool first, and no tick is missing.  The first
# run reads a feed of the first 1500 ticks with Kafka down (SIGKILL); after
# 5 s without an acknowledgement it spools them; it is killed once all 1500
# are handled.  The second run, Kafka back, gets the rest from a new feed.
. "$(dirname "$0")/../lib.sh"

start_broker -t t63.BTC-USD -t t63.ETH-USD || bail "no broker"
head -n 1500 "$FIX" >"$T/first"
tail -n +1501 "$FIX" >"$T/rest"
ok_cmd "broker down" broker_cmd "down 1"
start_feed --file "$T/first" --speed 0 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix t63. --status-interval 1 \
	--spool "$T/spool"
ok_cmd "1500 ticks handled, spooled" wait_for 60 sh -c "grep -E '^$LOG_TS % (info|warning): status:' '$T/producer.err' | tail -n 1 | grep -qE ' ticks 1500 .* in-spool 1500 '"
stop producer KILL
stop feed
ok_cmd "broker up" broker_cmd "up 1"
cmp_ok "$(stat -c %s "$T/spool"/spool-*)" -gt 0 "the spool file holds them"
start_feed --file "$T/rest" --speed 0 || bail "no second feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix t63. --status-interval 1 \
	--spool "$T/spool"
N=$(wc -l <"$FIX")
# (the new ticks follow the spooled ones through the spool: in order)
ok_cmd "the rest handled, the spool replayed" wait_for 60 sh -c "grep -E '^$LOG_TS % (info|warning): status:' '$T/producer.err' | tail -n 1 | grep -qE ' ticks $((N - 1500)) .* in-flight 0 .* in-spool 0 '"
cmp_ok "$(producer_counter replayed)" -ge 1500 "the 1500 of the first run replayed"
stop producer
is "$?" 0 "exit 0 after SIGTERM"
like "$(cat "$T/producer.err")" "holds 1500 tick\(s\) of an earlier run" "it says it found them"
for p in BTC-USD ETH-USD; do
	grep -F "\"product_id\":\"$p\"" "$FIX" >"$T/want.$p"
	topic_dump "t63.$p" >"$T/got.$p"
	is "$(sort -u "$T/got.$p")" "$(sort -u "$T/want.$p")" "$p: every tick on its topic, none missing"
	is "$(awk '!seen[$0]++' "$T/got.$p")" "$(cat "$T/want.$p")" "$p: in order (copies aside)"
done

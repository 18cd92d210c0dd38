#!/usr/bin/env bash
# producer: a feed that rejects the subscription, and the retired hostname's
# close frame ("deprecated hostname"), end the producer with a clear message
# and exit 3 instead of a reconnect loop.
. "$(dirname "$0")/../lib.sh"
plan 7

N=$(wc -l <"$FIX")
total_on_topics() { echo $(( $(topic_count "$1BTC-USD") + $(topic_count "$1ETH-USD") )); }

start_broker -b 1 || bail "no broker"

start_feed --file "$FIX" --speed 0 --error-on-subscribe "BTC-XXX is not a valid product" || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" -p BTC-USD --topic-prefix t14. --max-backoff 1
wait_exit producer 20
is "$?" 3 "subscription rejected: exit 3"
like "$(grep "^% error:" "$T/producer.err")" 'feed rejected the subscription: .*BTC-XXX is not a valid product' \
	"the feed's reason is logged"
is "$(grep -c 'connecting to' "$T/producer.err")" 1 "no reconnect attempt"
stop feed

start_feed --file "$FIX" --speed 0 --close-reason "deprecated hostname" || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix t14. --max-backoff 1
wait_exit producer 20
is "$?" 3 "deprecated hostname: exit 3"
like "$(grep "^% error:" "$T/producer.err")" 'deprecated hostname.*use --url wss://ws-feed.exchange.coinbase.com' \
	"clear message naming the current hostname"
is "$(grep -c 'connecting to' "$T/producer.err")" 1 "no reconnect attempt"

# A feed whose name does not resolve (offline, no DNS): the log says so,
# instead of only "failed".
spawn producer "$BIN/producer" -b "$BROKERS" --url wss://no-such-host.invalid --topic-prefix t14. --max-backoff 1
said_why() { grep -q "cannot resolve no-such-host.invalid" "$T/producer.err"; }
ok_cmd "an unresolvable feed host: the log says it cannot resolve it" wait_for 20 said_why
stop producer TERM

#!/usr/bin/env bash
# producer: the broker goes down for a few seconds while ticks flow; the
# idempotent producer keeps them and delivers every one, once, when it returns.
# Once from our side: every tick published once, each topic holds them all in
# order.  kafka-mock may append a retried batch a second time (it checks
# sequence numbers only for transactional producers; a real broker does not
# append it): such copies are counted and shown, anything else fails (see
# reappends in lib.sh, and 18a for what the aggregator makes of them).  On
# Apache Kafka "down" is a SIGKILL of the broker and "up" its restart from its
# log dir; there a copy was seen once in test 36 (the batch in flight at the
# SIGKILL), never here: any is shown.
. "$(dirname "$0")/../lib.sh"
plan 8

N=$(wc -l <"$FIX")
total_on_topics() { echo $(( $(topic_count "$1BTC-USD") + $(topic_count "$1ETH-USD") )); }

start_broker -b 1 || bail "no broker"
start_feed --file "$FIX" --speed 150 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix t18. --status-interval 1
ok_cmd "ticks flowing" wait_for 30 delivered_at_least 200
ok_cmd "broker down" broker_cmd "down 1"
sleep 4
ok_cmd "broker up" broker_cmd "up 1"
ok_cmd "all $N ticks delivered within 45 s" wait_for 45 delivered_at_least "$N"
stop producer
is "$?" 0 "exit 0 after SIGTERM"
is "$(producer_counter published)" "$N" "every tick published once"
for p in BTC-USD ETH-USD; do
	copies=$(topic_reappends "t18.$p" "$p")
	rc=$?
	ok "$rc" "$p: every tick in the topic, in order$( ((copies > 0)) && echo " ($copies lines re-appended by the $TEST_BROKER broker)")"
done

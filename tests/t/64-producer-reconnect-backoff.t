#!/usr/bin/env bash
# brokers: mock
# producer: a feed that fails right after the subscription is confirmed (a
# tick, then a reset) is not hammered: the backoff (250 ms doubling, up to
# --max-backoff) starts again from the shortest wait only after a connection
# that stayed up for 10 s.  Before, the confirmation reset it at once and the
# producer reconnected about three times a second.
. "$(dirname "$0")/../lib.sh"

start_broker -b 1 || bail "no broker"
start_feed --file "$FIX" --speed 0 --drop-after 1 --drop-mode reset || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix t64. --max-backoff 30
sleep 8
attempts=$(grep -c 'connecting to' "$T/producer.err")
# 250 + 500 + 1000 + 2000 + 4000 ms (20% jitter): 5 or 6 attempts in 8 s
cmp_ok "$attempts" -le 6 "at most 6 attempts in 8 s (got $attempts)"
cmp_ok "$attempts" -ge 3 "but it does retry"
stop producer
is "$?" 0 "exit 0 after SIGTERM"

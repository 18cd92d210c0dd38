#!/usr/bin/env bash
# brokers: mock  (delayed acks: rtt; copies only the mock appends)
# Exactly-once through a broker that appends a retried batch twice.
# kafka-mock acks each Produce 100 ms late (rtt) and goes down five times
# while acks are on their way; the idempotent producer retries those batches
# with their sequence numbers, which a real broker recognises (acked, not
# appended) but the mock checks only for transactional producers, so it
# appends them again.  The topics hold every tick in order plus such copies;
# the aggregator drops the copies by their feed sequence (counted in
# products.duplicates) and its output.csv is the fixture's offline windows.
. "$(dirname "$0")/../lib.sh"
plan 11

N=$(wc -l <"$FIX")
start_broker -b 1 -t BTC-USD -t ETH-USD || bail "no broker"
ok_cmd "broker acks 100 ms late" broker_cmd "rtt 1 100"
start_feed --file "$FIX" --speed 150 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --status-interval 1
ok_cmd "ticks flowing" wait_for 30 delivered_at_least 200
outages=0
for i in 1 2 3 4 5; do
	broker_cmd "down 1" && sleep 0.3 && broker_cmd "up 1" && outages=$((outages + 1))
	sleep 0.5
done
is "$outages" 5 "five outages while ticks flow"
ok_cmd "all $N ticks delivered within 60 s" wait_for 60 delivered_at_least "$N"
stop producer
is "$(producer_counter published)" "$N" "every tick published once"

total=0
for p in BTC-USD ETH-USD; do
	copies=$(topic_reappends "$p" "$p")
	ok $? "$p: every tick in order, plus ${copies:-?} re-appended"
	total=$((total + ${copies:-0}))
done
note "the mock appended $total lines twice"

ok_cmd "broker acks at once again" broker_cmd "rtt 1 0"
ok_cmd "aggregator --available-now exits 0" timeout 60 "$BIN/aggregator" -b "$BROKERS" -q \
	--state "$T/state.db" --output "$T/output.csv" --available-now
ok_cmd "output.csv == offline windows of the fixture" "$ROOT/tests/offline.sh" "$FIX" "$T/output.csv"
if ((total > 0)); then
	is "$(sqlite3 "$T/state.db" "SELECT sum(ticks) || ' ' || sum(duplicates) || ' ' || sum(late) FROM products")" \
		"$N $total 0" "every tick counted once, each copy as a duplicate"
else
	skip "the mock appended no batch twice this time" 1
fi

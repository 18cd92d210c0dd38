#!/usr/bin/env bash
# brokers: mock  (kafka-mock injects the Fetch error)
# Messages delivered again below the state's offset are not counted again: a
# Fetch answered OFFSET_OUT_OF_RANGE makes librdkafka reset the partition to
# auto.offset.reset (earliest) and deliver the whole log again while the
# aggregator runs with every tick already stored.  Each such message is
# skipped by its offset ("already stored"), before the tick is parsed: no
# tick counted twice, none even seen as a duplicate of its feed sequence.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
ok_cmd "load the fixture" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t BTC-USD &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD"
args=(-b "$BROKERS" -g g78 --assign --batch-time 50ms --progress-interval 0 --state "$T/s.db" --output "$T/out.csv")
ok_cmd "every tick stored" timeout 60 "$BIN/aggregator" "${args[@]}" --available-now
counts() { sqlite3 "$T/s.db" "SELECT sum(ticks) || ' ' || sum(duplicates) FROM products"; }
is "$(counts)" "$((NB + NE)) 0" "each tick once"

spawn agg "$BIN/aggregator" "${args[@]}" -v
started() { grep -q "starting at the state's offset" "$T/agg.err"; }
ok_cmd "it runs, at the end of both partitions" wait_for 30 started
sleep 1
ok_cmd "Fetch answered OFFSET_OUT_OF_RANGE" broker_cmd "error Fetch OFFSET_OUT_OF_RANGE 2"
reset() { grep -qi "offset reset\|reset.*offset" "$T/agg.err"; }
ok_cmd "librdkafka resets to the start of the log" wait_for 30 reset
sleep 5 # the log delivered again: ~4400 messages, in batches of 50 ms
ok_cmd "still running" running agg
stop agg
is "$?" 0 "exit 0"
is "$(counts)" "$((NB + NE)) 0" "each tick still once, none seen as a duplicate"
ok_cmd "output.csv == offline windows" "$ROOT/tests/offline.sh" "$FIX" "$T/out.csv"
done_testing

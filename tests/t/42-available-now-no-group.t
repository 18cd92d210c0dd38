#!/usr/bin/env bash
# A bounded run (--available-now) reads every partition without joining the
# consumer group (Spark's AvailableNow does not either: a new group's first
# assignment waits group.initial.rebalance.delay.ms, 3 s on Kafka), and still
# commits its offsets to the group at the end.  --subscribe joins the group;
# a topic pattern can only be subscribed to.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
ok_cmd "load the fixture" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0"
group_offsets() { "$BIN/kafka-admin" -b "$BROKERS" group-offsets "$1" BTC-USD ETH-USD | awk '{print $1 ":" $3}' | paste -sd' '; }
state_offsets() { sqlite3 "$1" "SELECT group_concat(topic || ':' || next_offset, ' ') FROM (SELECT * FROM partitions ORDER BY topic)"; }
run() { # run NAME GROUP [options]
	local name=$1 g=$2; shift 2
	timeout 90 "$BIN/aggregator" -b "$BROKERS" -g "$g" -X session.timeout.ms=6000 --available-now --progress-interval 0 \
		--state "$T/$name.db" --output "$T/$name.csv" "$@" 2>"$T/$name.err"
}

ok_cmd "--available-now, a new group" run a g42a
is "$(grep -cE 'info: (revoked|lost)' "$T/a.err")" 0 "it never joined the group (nothing revoked at close)"
is "$(state_offsets "$T/a.db")" "BTC-USD:$NB ETH-USD:$NE" "it read every tick"
is "$(group_offsets g42a)" "$(state_offsets "$T/a.db")" "and committed its offsets to the group"
ok_cmd "output.csv == offline windows" "$ROOT/tests/offline.sh" "$FIX" "$T/a.csv"

ok_cmd "--available-now --subscribe" run b g42b --subscribe
cmp_ok "$(grep -cE 'info: revoked' "$T/b.err")" -ge 1 "it joined the group (its partitions revoked at close)"
is "$(state_offsets "$T/b.db")" "BTC-USD:$NB ETH-USD:$NE" "and read every tick"

ok_cmd "--available-now on a topic pattern subscribes" run c g42c -t '^(BTC|ETH)-USD$'
cmp_ok "$(grep -cE 'info: revoked' "$T/c.err")" -ge 1 "a pattern joins the group"
is "$(state_offsets "$T/c.db")" "BTC-USD:$NB ETH-USD:$NE" "and reads every tick"
done_testing

#!/usr/bin/env bash
# brokers: mock  (answers delayed on request)
# SIGTERM ends a member promptly when the group does not answer its closing
# offset commits: they are waited for only so long (a few seconds in all),
# the state wins at restart, and the restart gives the group its offsets.  A
# synchronous commit once waited for the answer for as long as it took (test
# 37 under load, after "Unknown member": SIGTERM never finished).
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
ok_cmd "load the fixture" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0"
state_offsets() { sqlite3 "$1" "SELECT group_concat(topic || ':' || next_offset, ' ') FROM (SELECT * FROM partitions ORDER BY topic)" 2>/dev/null; }
group_offsets() { "$BIN/kafka-admin" -b "$BROKERS" group-offsets g123 BTC-USD ETH-USD | awk '{print $1 ":" $3}' | sort | paste -sd' '; }
group_at_ends() { [[ $(group_offsets) == "BTC-USD:$NB ETH-USD:$NE" ]]; }
caught_up() { [[ $(state_offsets "$T/a.db") == "BTC-USD:$NB ETH-USD:$NE" ]]; }
agg() {
	spawn a "$BIN/aggregator" -b "$BROKERS" -g g123 -t BTC-USD,ETH-USD --batch-time 50ms --progress-interval 0 \
		--state "$T/a.db" --output "$T/a.csv"
}

agg
ok_cmd "caught up" wait_for 60 caught_up
for b in 1 2 3; do broker_cmd "rtt $b 30000" >/dev/null; done
t0=$(date +%s%N)
STOP_TIMEOUT=${STOP_TIMEOUT_123:-10} stop a TERM
is "$?" 0 "SIGTERM with the group not answering: exit 0"
ms=$((($(date +%s%N) - t0) / 1000000))
cmp_ok "$ms" -lt 9000 "and within 9 s (${ms} ms)"
like "$(cat "$T/a.err")" "group's offsets of [0-9]+ partition\\(s\\) lag the state's" "it says the group lags the state"
for b in 1 2 3; do broker_cmd "rtt $b 0" >/dev/null; done
# The commits sent at the close may still land (the mock delays answers, not
# requests): the restart is asked to have the group at the state, whatever
# the close left.
agg
assigned() { (($(grep -c 'info: assigned' "$T/a.err" 2>/dev/null) >= 2)); }
ok_cmd "the restart is assigned both partitions" wait_for 60 assigned
ok_cmd "the restart: the group gets the state's offsets" wait_for 60 group_at_ends
stop a TERM
is "$?" 0 "the restart exits 0"
is "$(sqlite3 "$T/a.db" "SELECT sum(ticks) || ' ' || sum(duplicates) FROM products")" "$((NB + NE)) 0" "every tick counted once"
done_testing

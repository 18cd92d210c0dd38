#!/usr/bin/env bash
# brokers: kafka
# Static membership in group mode (issue 24, case 15): each member joins
# with group.instance.id = its name (kept in its state file), so a member
# killed and restarted within its session timeout gets its partitions back
# without a rebalance: the other member keeps reading, nothing revoked.
# Before, every restart rebalanced the whole group.
. "$(dirname "$0")/../lib.sh"

KAFKA_CONFIG="transaction.abort.timed.out.transaction.cleanup.interval.ms=1000" \
	start_broker -t BTC-USD:2 -t ETH-USD:2 || bail "no broker"
ok_cmd "fixture loaded" sh -c "grep -F '\"product_id\":\"BTC-USD\"' '$FIX' | timeout 30 kcat -b '$BROKERS' -P -t BTC-USD &&
	grep -F '\"product_id\":\"ETH-USD\"' '$FIX' | timeout 30 kcat -b '$BROKERS' -P -t ETH-USD"
member() { # member NAME DB
	spawn "$1" "$BIN/aggregator" -b "$BROKERS" -g g85 --output-topic g85-out -s "$T/$2.db" --batch-time 50ms \
		--progress-interval 0 -X session.timeout.ms=10000
}
parts() { grep -o 'assigned [A-Z-]* \[[0-9]*\]' "$T/$1.err" | sort | paste -sd' '; }
member a a
member b b
ok_cmd "both members get partitions" wait_for 60 sh -c "grep -q 'info: assigned' '$T/a.err' && grep -q 'info: assigned' '$T/b.err'"
sleep 3 # settled
rb=$(grep -c 'info: revoked' "$T/b.err")
pa=$(parts a)
stop a KILL
member a2 a
ok_cmd "a restarted (kill -9) within its session timeout gets partitions" wait_for 30 sh -c "grep -q 'info: assigned' '$T/a2.err'"
is "$(parts a2)" "$pa" "the same partitions as before"
sleep 3
is "$(grep -c 'info: revoked' "$T/b.err")" "$rb" "b kept its partitions: no rebalance"
ok "$(running b; echo $?)" "b runs on"
stop a2
stop b
done_testing

#!/usr/bin/env bash
# brokers: kafka
# A member killed inside its Kafka transaction (AGG_CRASH_AT=txn, after its
# records reached the broker) leaves them there, open, then aborted by the
# broker.  Another member, with a state file of its own, gets its partitions
# and restores them from the changelog: it must read only what committed
# (read_committed, txn.c).  Read uncommitted, the restore would take the dead
# transaction's partition record (an offset past the group's) and windows:
# the member stops (exit 3), or writes rows the aborted batch never wrote out.
# The export from the output topic equals the offline reference.
. "$(dirname "$0")/../lib.sh"

KAFKA_CONFIG="transaction.abort.timed.out.transaction.cleanup.interval.ms=1000" \
	start_broker -t BTC-USD:2 -t ETH-USD || bail "no broker"
split_fixture_closed
cat "$T/btc.0" "$T/btc.1" "$T/eth" >"$T/all"
timeout 30 kcat -b "$BROKERS" -P -t BTC-USD -p 0 <"$T/btc.0" && timeout 30 kcat -b "$BROKERS" -P -t BTC-USD -p 1 <"$T/btc.1" &&
	timeout 30 kcat -b "$BROKERS" -P -t ETH-USD -p 0 <"$T/eth" || bail "cannot load"

member() { spawn "$1" env ${2:+AGG_CRASH_AT=$2} "$BIN/aggregator" -b "$BROKERS" -g g88 --output-topic g88-out \
	-s "$T/$1.db" --batch-max 300 --batch-time 20ms --idle-timeout 5s --progress-interval 0 \
	-X session.timeout.ms=6000; }
member a "txn:8:1000" # a second for its records to reach the broker: the transaction open there
wait_exit a 60
is "$?" 137 "a died at its 8th batch's transaction, open (SIGKILL)"
like "$(cat "$T/a.err")" "AGG_CRASH_AT: killed at txn" "at that point"

# The case is there: the changelog holds, past what committed, a partition
# record of the dead transaction ahead of the group's offset.
last_p() { # last_p ISOLATION: "TOPIC PART NEXT_OFFSET" of each input partition's last partition record
	timeout 30 kcat -b "$BROKERS" -C -t g88-changelog -e -q -X isolation.level="$1" -f '%k|%s\n' 2>/dev/null |
		awk -F'|' '/^p\t/ { split($1, k, "\t"); split($2, v, " "); last[k[2] " " k[3]] = v[1] }
			END { for (p in last) print p, last[p] }' | sort
}
committed=$(last_p read_committed)
uncommitted=$(last_p read_uncommitted)
is "$committed" "$(sqlite3 -separator ' ' "$T/a.db" "SELECT topic, partition, next_offset FROM partitions
	WHERE next_offset >= 0 ORDER BY 1, 2")" "what committed in the changelog is a's state file"
ahead=$(join <(sed 's/ /:/' <<<"$committed") <(sed 's/ /:/' <<<"$uncommitted") | awk '$3 > $2' | wc -l)
cmp_ok "$ahead" -ge 1 "the open transaction holds a partition record past what committed ($ahead partitions)"
is "$(timeout 30 "$BIN/kafka-admin" -b "$BROKERS" group-offsets g88 BTC-USD:2 ETH-USD:1 | awk '$3 >= 0' |
	sort | paste -sd' ')" "$(paste -sd' ' <<<"$committed")" "the group's offsets are what committed"

member b
complete() { timeout 60 "$BIN/aggregator" export --from-topic g88-out -b "$BROKERS" --output "$T/g.csv" \
	2>"$T/export.err" && [[ -s $T/g.csv ]] && "$ROOT/tests/offline.sh" "$T/all" "$T/g.csv" >"$T/offline.out" 2>&1; }
done_or_dead() { ! running b || complete; }
ok_cmd "b closes every window, or stops" wait_for 120 done_or_dead
ok "$(running b; echo $?)" "b runs on: its restore took no record of the dead transaction"
ok_cmd "the export from the output topic == offline windows" "$ROOT/tests/offline.sh" "$T/all" "$T/g.csv"
restored=$(grep -c 'restored .* from the changelog' "$T/b.err")
cmp_ok "$restored" -ge "$(wc -l <<<"$committed")" "b restored a's partitions from the changelog ($restored)"
stop b
is "$?" 0 "b stops, exit 0"
is "$(sqlite3 -separator ' ' "$T/b.db" "SELECT topic, partition, next_offset FROM partitions ORDER BY 1, 2")" \
	"BTC-USD 0 $(wc -l <"$T/btc.0")
BTC-USD 1 $(wc -l <"$T/btc.1")
ETH-USD 0 $(wc -l <"$T/eth")" "b's state file has every tick's offset"
done_testing

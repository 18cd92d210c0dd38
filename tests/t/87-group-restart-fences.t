#!/usr/bin/env bash
# brokers: kafka
# A member's restart fences its previous run (issue 24, test strength): the
# transactional.id is the member's name, the same in every run, so the
# restart's init_transactions aborts what the killed run left open at once.
# With an id of its own each run (the process id appended, say), nothing
# aborts it but the broker's transaction timeout (10 s, the aggregator's),
# and until then read_committed readers of the output topic stop at it: the
# export cannot see what the restarted member writes.  The broker here
# checks for timed-out transactions only once a minute, so that wait is long;
# the export must have every window within 7 s of the restart.
. "$(dirname "$0")/../lib.sh"

KAFKA_CONFIG="transaction.abort.timed.out.transaction.cleanup.interval.ms=60000" \
	start_broker -t BTC-USD:2 -t ETH-USD || bail "no broker"
split_fixture_closed
timeout 30 kcat -b "$BROKERS" -P -t BTC-USD -p 0 <"$T/btc.0" && timeout 30 kcat -b "$BROKERS" -P -t BTC-USD -p 1 <"$T/btc.1" &&
	timeout 30 kcat -b "$BROKERS" -P -t ETH-USD -p 0 <"$T/eth" || bail "cannot load"
ok_cmd "the single aggregator's run" timeout 120 "$BIN/aggregator" -b "$BROKERS" -g g87ref --assign --available-now \
	--progress-interval 0 -q -s "$T/ref.db" -o "$T/ref.csv"
want=$(($(wc -l <"$T/ref.csv") - 1))
cmp_ok "$want" -ge 40 "the reference has the windows ($want)"

member() { spawn "$1" env ${2:+AGG_CRASH_AT=$2} "$BIN/aggregator" -b "$BROKERS" -g g87 --output-topic g87-out \
	-s "$T/m.db" --batch-max 300 --batch-time 20ms --idle-timeout 1s --progress-interval 0; }
# What a read_committed reader sees: every window in the export, and in the
# changelog each input partition's last state record at its last offset
# (the killed transaction held changelog records, if not always partials).
ends="BTC-USD 0 $(wc -l <"$T/btc.0")
BTC-USD 1 $(wc -l <"$T/btc.1")
ETH-USD 0 $(wc -l <"$T/eth")"
changelog_at_end() {
	[[ $(timeout 30 kcat -b "$BROKERS" -C -t g87-changelog -e -q -X isolation.level=read_committed -f '%k|%s\n' 2>/dev/null |
		awk -F'|' '/^p\t/ { split($1, k, "\t"); split($2, v, " "); last[k[2] " " k[3]] = v[1] }
			END { for (p in last) print p, last[p] }' | sort) == "$ends" ]]
}
complete() { timeout 60 "$BIN/aggregator" export --from-topic g87-out -b "$BROKERS" --output "$T/g.csv" \
	2>"$T/export.err" && (($(wc -l <"$T/g.csv") - 1 >= want)) && changelog_at_end; }
# A first run closes some windows, so that the export has a CSV to grow.
member m0 "txn:3:1000" # a second for its records to reach the broker: the transaction open there
wait_exit m0 60
is "$?" 137 "the member died at its 3rd batch's transaction, open (SIGKILL)"
like "$(cat "$T/m0.err")" "AGG_CRASH_AT: killed at txn" "at that point"
t0=$(date +%s%N)
member m1
ok_cmd "the restarted member's windows are all in the export, its last state in the changelog" wait_for 60 complete
took=$((($(date +%s%N) - t0) / 1000000))
cmp_ok "$took" -lt 7000 "within 7 s of the restart (${took} ms): the restart aborted the open transaction"
ok_cmd "group CSV == single aggregator's CSV" cmp "$T/g.csv" "$T/ref.csv"
stop m1
is "$?" 0 "the member stops, exit 0"
like "$(cat "$T/m1.err")" "transactional.id g87\.[^ ,]+, " "it says its transactional.id"
is "$(grep -o 'transactional.id [^ ,]*' "$T/m0.err")" "$(grep -o 'transactional.id [^ ,]*' "$T/m1.err")" \
	"the same in both runs"
done_testing

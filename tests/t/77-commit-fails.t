#!/usr/bin/env bash
# The state's COMMIT fails (the test build's AGG_FAIL_COMMIT=POINT:N: the
# batch that passes POINT for the n-th time fails its COMMIT, as on a full
# disk).  The aggregator stops, exit 1, and what it leaves is consistent with
# the last COMMIT: the consumer group is never ahead of the state's offsets
# (offsets go to the group only after COMMIT), and output.csv is cut back to
# the length the state recorded (rows written by the failed batch are gone).
# A restart then gives every window once.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
ok_cmd "load the fixture" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t BTC-USD &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD"

# agg NAME ARGS...: one --available-now run of group g77NAME; stderr in $T/NAME.err, exit status returned.
agg() {
	local n=$1; shift
	timeout 60 "$BIN/aggregator" -b "$BROKERS" -g "g77$n" --assign --available-now --progress-interval 0 \
		--batch-max 300 --state "$T/$n.db" --output "$T/$n.csv" "$@" 2>>"$T/$n.err"
}
# offsets NAME: "topic partition state group" per partition, from aggregator status.
offsets() {
	timeout 30 "$BIN/aggregator" status --state "$T/$1.db" -b "$BROKERS" -g "g77$1" --json |
		jq -r '.partitions[] | "\(.topic) \(.partition) \(.stateOffset) \(.groupOffset // -1)"'
}
# group_not_ahead NAME: every partition's group offset <= the state's.
group_not_ahead() {
	local topic part st gr bad=0 out
	out=$(offsets "$1")
	[[ -n $out ]] || { diag "no offsets from status"; return 1; }
	while read -r topic part st gr; do
		if ((gr > st)); then
			diag "$topic [$part]: the group has $gr, the state $st"
			bad=1
		fi
	done <<<"$out"
	return "$bad"
}

# The 3rd batch's COMMIT fails, after its offsets were written in the transaction.
AGG_FAIL_COMMIT=offsets:3 agg offs
is "$?" 1 "COMMIT fails: exit 1"
like "$(cat "$T/offs.err")" "cannot commit: database or disk is full" "it says why"
ok_cmd "the group is not ahead of the state" group_not_ahead offs
cmp_ok "$(sqlite3 "$T/offs.db" "SELECT sum(next_offset) FROM partitions")" -gt 0 "two batches were committed"
ok_cmd "a restart goes on" agg offs
ok_cmd "output.csv == offline windows" "$ROOT/tests/offline.sh" "$FIX" "$T/offs.csv"
is "$(sqlite3 "$T/offs.db" "SELECT sum(ticks) || ' ' || sum(duplicates) FROM products")" "$((NB + NE)) 0" \
	"every tick counted once"

# The 2nd batch that writes rows to output.csv fails its COMMIT.
AGG_FAIL_COMMIT=csv:2 agg csv
is "$?" 1 "COMMIT of a batch with rows fails: exit 1"
rec=$(sqlite3 "$T/csv.db" "SELECT value FROM meta WHERE key = 'csv_bytes'")
cmp_ok "$rec" -gt 0 "the first rows were committed"
is "$(stat -c %s "$T/csv.csv")" "$rec" "output.csv cut back to the length the state recorded"
ok_cmd "the group is not ahead of the state" group_not_ahead csv
n0=$(wc -l <"$T/csv.err")
ok_cmd "a restart goes on" agg csv
unlike "$(tail -n +$((n0 + 1)) "$T/csv.err")" "cutting back" "nothing left to cut back at the restart"
ok_cmd "output.csv == offline windows" "$ROOT/tests/offline.sh" "$FIX" "$T/csv.csv"
done_testing

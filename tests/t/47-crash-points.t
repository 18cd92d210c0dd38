#!/usr/bin/env bash
# kill -9 at every named point of a batch, deterministically: the test build
# stops dead (SIGKILL) at the 3rd pass through a point (AGG_CRASH_AT), after a
# pause that lets an offset commit in flight arrive:
#   windows  windows written, in the batch's transaction
#   offsets  partitions' next offsets written too
#   csv      rows of closed windows appended to output.csv, before COMMIT
#   commit   COMMIT done, offsets not yet sent to the group
#   group    offsets sent to the group
# At each: the group's committed offsets are never ahead of the state's (they
# go to the group only after COMMIT), the restart finishes the job, and
# output.csv and the counts equal the offline reference: nothing lost, nothing
# twice.  The stored watermark never moves back across the restart.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
grep -F '"product_id":"BTC-USD"' "$FIX" >"$T/btc"
grep -F '"product_id":"ETH-USD"' "$FIX" >"$T/eth"
ok_cmd "load BTC-USD" sh -c "timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 <'$T/btc'"
ok_cmd "load ETH-USD" sh -c "timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0 <'$T/eth'"

agg() { # agg NAME: a bounded run in small batches, group gNAME
	timeout 90 "$BIN/aggregator" -b "$BROKERS" -g "g47$1" -t BTC-USD,ETH-USD --assign --available-now \
		--batch-max 400 --progress-interval 0 --idle-timeout 10m --state "$T/$1.db" --output "$T/$1.csv"
}
# "TOPIC:OFFSET ..." of the state and of the group (-1: none)
state_offsets() { sqlite3 "$T/$1.db" "SELECT topic || ':' || next_offset FROM partitions ORDER BY topic" | tr '\n' ' '; }
group_offsets() {
	"$BIN/kafka-admin" -b "$BROKERS" group-offsets "g47$1" BTC-USD ETH-USD | sort | awk '{printf "%s:%s ", $1, $3}'
}
# every group offset at or below the state's (none committed counts as below)
group_not_ahead() {
	local s g; s=$(state_offsets "$1"); g=$(group_offsets "$1")
	note "$1: state $s / group $g"
	awk -v s="$s" -v g="$g" 'BEGIN {
		n = split(s, a, " "); for (i = 1; i <= n; i++) { split(a[i], kv, ":"); st[kv[1]] = kv[2] }
		n = split(g, b, " "); for (i = 1; i <= n; i++) { split(b[i], kv, ":"); if (kv[2] > (kv[1] in st ? st[kv[1]] : 0)) exit 1 }
	}'
}
wm() { sqlite3 "$T/$1.db" "SELECT coalesce((SELECT value FROM meta WHERE key = 'watermark_us'), 'none')"; }

for point in windows offsets csv commit group; do
	AGG_CRASH_AT=$point:3:300 agg "$point" 2>"$T/$point.err1"
	st=$?
	is "$st" 137 "$point: killed there (SIGKILL)"
	like "$(cat "$T/$point.err1")" "killed at $point" "$point: at that point"
	ok_cmd "$point: the group is not ahead of the state" group_not_ahead "$point"
	w1=$(wm "$point")
	agg "$point" 2>"$T/$point.err2"
	is "$?" 0 "$point: the restart finishes"
	w2=$(wm "$point")
	ok_cmd "$point: the stored watermark did not move back ($w1 -> $w2)" \
		bash -c "[[ '$w1' == none || $w2 -ge $w1 ]]"
	is "$(sqlite3 "$T/$point.db" "SELECT sum(ticks) || ' ' || sum(late) || ' ' || sum(duplicates) FROM products")" \
		"$((NB + NE)) 0 0" "$point: every tick counted once"
	ok_cmd "$point: output.csv == offline windows" "$ROOT/tests/offline.sh" "$FIX" "$T/$point.csv"
	is "$(group_offsets "$point")" "$(state_offsets "$point")" "$point: the group's offsets are the state's at the end"
done
done_testing

#!/usr/bin/env bash
# A fresh state file in a consumer group that already has committed offsets
# (another aggregator, kcat, an earlier state that was moved away). As the
# issue specifies: a partition the state has never seen starts at the group's
# committed offset, else at the earliest. So a fresh state in the same group
# resumes where the group is (nothing twice), a fresh state in a new group
# reads everything (or nothing with auto.offset.reset=latest), and output.csv
# always has its header.  --assign resolves these offsets itself (one
# OffsetFetch, then one ListOffsets for auto.offset.reset), so both settings
# are checked there.
. "$(dirname "$0")/../lib.sh"
plan 28

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
ok_cmd "load the fixture" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0"
agg() { timeout 60 "$BIN/aggregator" -b "$BROKERS" -g g35 --available-now -q --progress-interval 0 "$@"; }
ok_cmd "a first state reads everything and commits the group's offsets" agg --assign --state "$T/first.db" --output "$T/first.csv"
ok_cmd "first: output == offline" "$ROOT/tests/offline.sh" "$FIX" "$T/first.csv"

ok_cmd "a fresh state, same group, --assign" agg --assign --state "$T/fresh.db" --output "$T/fresh.csv"
is "$(sqlite3 "$T/fresh.db" "SELECT coalesce(sum(ticks), 0) FROM products")" 0 \
	"--assign: the fresh state resumes at the group's committed offsets (nothing read twice)"
is "$(cat "$T/fresh.csv")" "$(head -n 1 "$T/first.csv")" "its output.csv holds the header only"

# It says exactly where it starts, and its lag counts from there (before: "the
# group's offset or the beginning, 0", and a lag of every message in the log).
for mode in --assign --subscribe; do
	timeout 60 "$BIN/aggregator" -b "$BROKERS" -g g35 --available-now $mode --progress-interval 1s --progress-json \
		--state "$T/fresh$mode.db" --output "$T/fresh$mode.csv" >"$T/fresh$mode.out" 2>"$T/fresh$mode.err"
	is "$?" 0 "$mode, a fresh state in the same group: exit 0"
	like "$(cat "$T/fresh$mode.err")" "assigned BTC-USD \[0\], new to the state: starting at the group's committed offset $NB" \
		"$mode: BTC-USD starts at the group's offset $NB, and says so"
	like "$(cat "$T/fresh$mode.err")" "assigned ETH-USD \[0\], new to the state: starting at the group's committed offset $NE" \
		"$mode: ETH-USD at $NE"
	like "$(tail -n 1 "$T/fresh$mode.out")" '"lag":0,' "$mode: its lag is 0"
done

ok_cmd "a fresh state, new group, group mode" agg -g g35b --state "$T/fresh2.db" --output "$T/fresh2.csv"
is "$(sqlite3 "$T/fresh2.db" "SELECT coalesce(sum(ticks), 0) FROM products")" "$((NB + NE))" \
	"a new group starts at the earliest offset: every tick counted"
ok_cmd "new group: output == offline" "$ROOT/tests/offline.sh" "$FIX" "$T/fresh2.csv"

ok_cmd "a fresh state, new group, --assign" agg --assign -g g35c --state "$T/fresh3.db" --output "$T/fresh3.csv"
is "$(sqlite3 "$T/fresh3.db" "SELECT coalesce(sum(ticks), 0) FROM products")" "$((NB + NE))" \
	"--assign, new group: starts at the earliest offset, every tick counted"
ok_cmd "a fresh state, new group, --assign, -X auto.offset.reset=latest" \
	agg --assign -g g35d -X auto.offset.reset=latest --state "$T/fresh4.db" --output "$T/fresh4.csv"
is "$(sqlite3 "$T/fresh4.db" "SELECT coalesce(sum(ticks), 0) FROM products")" 0 \
	"--assign, new group, latest: starts at the end, nothing counted"

# A partition whose log no longer starts at 0 (the mock keeps ~5 MB of each;
# on Kafka the topic keeps 2 MB in 1 MB segments: 10 MB of ticks move its
# start): a fresh state in a new group starts at the log start, found with one
# ListOffsets for all partitions, counts exactly the ticks still there, and no
# fetch runs out of range on the way.
if on_kafka; then
	ok_cmd "SOL-USD keeps 2 MB" "$BIN/kafka-admin" -b "$BROKERS" create SOL-USD:1 \
		retention.bytes=2097152 segment.bytes=1048576
else
	pass "SOL-USD auto-created (the mock keeps ~5 MB)"
fi
ok_cmd "10 MB of SOL-USD ticks" sh -c "'$BIN/gen-ticks' --products SOL-USD --count 25000 --rate 20 --seed 3 >'$T/sol.jsonl' &&
	timeout 60 kcat -b $BROKERS -P -t SOL-USD -p 0 <'$T/sol.jsonl'"
log_start() { timeout 20 kcat -b "$BROKERS" -Q -t SOL-USD:0:-2 | awk '/ offset /{print $NF}'; }
log_moved() { (($(log_start) > 0)); }
on_kafka && wait_for 20 log_moved
low=$(log_start)
high=$(timeout 20 kcat -b "$BROKERS" -Q -t SOL-USD:0:-1 | awk '/ offset /{print $NF}')
cmp_ok "${low:-0}" -gt 0 "the log of SOL-USD [0] now starts at $low, not 0"
ok_cmd "a fresh state, new group, --assign, on it" sh -c "timeout 60 '$BIN/aggregator' -b $BROKERS -g g35e -t SOL-USD \
	--assign --available-now --progress-interval 0 --state '$T/sol.db' --output '$T/sol.csv' 2>'$T/sol.err'"
like "$(cat "$T/sol.err")" "assigned SOL-USD \[0\], new to the state, no offset in the group: starting at offset $low" \
	"it says it starts at the log start, $low"
is "$(sqlite3 "$T/sol.db" "SELECT coalesce(sum(ticks), 0) + coalesce(sum(late), 0) FROM products")" "$((high - low))" \
	"it reads from the log start: every retained tick ($((high - low))), none before"
is "$(grep -ci 'out of range\|offset reset' "$T/sol.err")" 0 "no offset reset on the way"

#!/usr/bin/env bash
# brokers: kafka
# Ticks gone from Kafka before the aggregator read them, on the real broker:
#   1. retention deletes them (a topic keeping 2 MB in 1 MB segments; the
#      aggregator stopped after reading part of it, 10 MB more written);
#   2. the topic is deleted and recreated with fewer messages than the
#      state's offset (the cluster wiped).
# By default the aggregator stops with exit 5 and a message naming topic,
# partition, the missing offsets and how many; the windows already written
# stay.  --on-data-loss=skip goes on and records the loss in the state
# (data_loss table, progress view, progress JSON, the log).
. "$(dirname "$0")/../lib.sh"

start_broker || bail "no broker"
"$BIN/gen-ticks" --products SOL-USD --count 30000 --rate 20 --seed 5 >"$T/sol.jsonl" || bail "gen-ticks"
head -n 4000 "$T/sol.jsonl" >"$T/part1"
tail -n +4001 "$T/sol.jsonl" >"$T/part2"
ok_cmd "SOL-USD keeps 2 MB in 1 MB segments" "$BIN/kafka-admin" -b "$BROKERS" create SOL-USD:1 \
	retention.bytes=2097152 segment.bytes=1048576
ok_cmd "4000 ticks in" sh -c "timeout 60 kcat -b $BROKERS -P -t SOL-USD -p 0 <'$T/part1'"
agg() { # agg NAME [options]: --available-now on SOL-USD with state NAME.db
	local name=$1; shift
	timeout 90 "$BIN/aggregator" -b "$BROKERS" -g g39 -t SOL-USD --assign --available-now --progress-interval 0 \
		--state "$T/$name.db" --output "$T/$name.csv" "$@" >"$T/$name.out" 2>"$T/$name.err"
}
ok_cmd "the aggregator reads them" agg a
next() { sqlite3 "$1" "SELECT next_offset FROM partitions WHERE topic = 'SOL-USD'"; }
is "$(next "$T/a.db")" 4000 "its state is at offset 4000"
cp "$T/a.db" "$T/b.db"; cp "$T/a.csv" "$T/b.csv"
rows_before=$(wc -l <"$T/a.csv")

ok_cmd "26000 more ticks (~8 MB) while it is stopped" sh -c "timeout 60 kcat -b $BROKERS -P -t SOL-USD -p 0 <'$T/part2'"
log_start() { timeout 20 kcat -b "$BROKERS" -Q -t SOL-USD:0:-2 | awk '/ offset /{print $NF}'; }
# Retention runs every second and may have run while kcat was still writing:
# the log start is read once it is past 4000 and stays put for 3 s.
past_state() {
	local a; a=$(log_start)
	((a > 4000)) || return 1
	sleep 3
	[[ $(log_start) == "$a" ]]
}
ok_cmd "retention moved the log start past 4000" wait_for 40 past_state
low=$(log_start)

# 1. default: stop, say what is missing.
agg a
is "$?" 5 "the restart stops: exit 5"
msg=$(cat "$T/a.err")
like "$msg" "data loss: offsets 4000\\.\\.$((low - 1)) of SOL-USD \\[0\\] \\($((low - 4000)) messages\\) are gone" \
	"the message names topic, partition, the missing offsets and how many"
like "$msg" "--on-data-loss=skip" "and how to go on"
is "$(next "$T/a.db")" 4000 "the state is left at 4000"
is "$(wc -l <"$T/a.csv")" "$rows_before" "the rows already written stay, nothing added"

# 1'. --on-data-loss=skip: go on, count it.
ok_cmd "--on-data-loss=skip goes on" agg b --on-data-loss=skip --progress-interval 1ms --progress-json
# The skipped offsets count in the run's totals, not only in the state.
lost_json=$(grep '"dataLost"' "$T/b.out" | tail -n 1 | sed 's/.*"dataLost":\([0-9]*\).*/\1/')
is "$lost_json" "$((low - 4000))" "the progress JSON's dataLost counts the skipped offsets"
is "$(next "$T/b.db")" 30000 "it read to the end"
is "$(sqlite3 "$T/b.db" "SELECT from_offset || ' ' || to_offset || ' ' || lost FROM data_loss")" \
	"4000 $low $((low - 4000))" "data_loss: from, to, lost"
is "$(sqlite3 "$T/b.db" "SELECT lost FROM progress WHERE topic = 'SOL-USD'")" "$((low - 4000))" \
	"the progress view counts them"
is "$(sqlite3 "$T/b.db" "SELECT sum(ticks) FROM products")" "$((4000 + 30000 - low))" \
	"every tick still in the log counted once, the lost ones not"
like "$(cat "$T/b.err")" "data loss \\(--on-data-loss=skip: going on at offset $low\\)" "and says so in its log"
cp "$T/b.db" "$T/c.db"; cp "$T/b.csv" "$T/c.csv"

# 2. the topic deleted and recreated with 500 ticks: the state's 30000 is past its end.
ok_cmd "delete SOL-USD" "$BIN/kafka-admin" -b "$BROKERS" delete SOL-USD
# Created again (the deletion takes a moment; a metadata request may also
# auto-create it): a new, empty log.
log_end() { timeout 20 kcat -b "$BROKERS" -Q -t SOL-USD:0:-1 2>/dev/null | awk '/ offset /{print $NF}'; }
recreated() {
	"$BIN/kafka-admin" -b "$BROKERS" create SOL-USD:1 >/dev/null 2>&1
	[[ $(log_end) == 0 ]]
}
ok_cmd "it is created again, empty" wait_for 30 recreated
tail -n 500 "$T/sol.jsonl" | sed 's/"sequence":\([0-9]*\)/"sequence":9\1/' >"$T/part3"
ok_cmd "500 ticks into the new log" sh -c "timeout 60 kcat -b $BROKERS -P -t SOL-USD -p 0 <'$T/part3'"
agg b
is "$?" 5 "stored offset past the log end: exit 5"
like "$(cat "$T/b.err")" "the log of SOL-USD \\[0\\] now ends at offset 500, before the state's next offset 30000" \
	"says the log ends before the state's offset"
ok_cmd "--on-data-loss=skip reads the new log" agg c --on-data-loss=skip --progress-interval 1ms --progress-json
is "$(next "$T/c.db")" 500 "and is at its end"
is "$(sqlite3 "$T/c.db" "SELECT count(*) FROM data_loss WHERE from_offset = 30000 AND to_offset = 0")" 1 \
	"data_loss records the restart below (30000 -> 0)"
like "$(cat "$T/c.out")" '"dataLost":0' "progress JSON has the count (0 offsets skipped: the log restarted)"
done_testing

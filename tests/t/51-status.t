#!/usr/bin/env bash
# aggregator status: where the state is beside where Kafka and the group are
# (kafka-consumer-groups --describe with event time), as a table or JSON;
# read-only, so it works while the aggregator runs and holds its lock.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
ok_cmd "load the fixture" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0"
ok_cmd "a bounded run in group g51" timeout 60 "$BIN/aggregator" -b "$BROKERS" -g g51 --available-now -q \
	--state "$T/s.db" --output "$T/s.csv"

json=$(timeout 30 "$BIN/aggregator" status --state "$T/s.db" -b "$BROKERS" -g g51 --json)
is "$?" 0 "status --json: exit 0"
q() { jq -r "$1" <<<"$json"; }
is "$(q '[.partitions[] | "\(.topic) \(.stateOffset) \(.groupOffset) \(.logEnd) \(.lag) \(.ticks)"] | join(",")')" \
	"BTC-USD $NB $NB $NB 0 $NB,ETH-USD $NE $NE $NE 0 $NE" \
	"per partition: the state's offset, the group's, the log's end, lag 0, ticks"
is "$(q .watermark)" "$(sqlite3 "$T/s.db" "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', value / 1000 / 1000.0, 'unixepoch') FROM meta WHERE key = 'watermark_us'")" \
	"the watermark, as the state has it"
is "$(q .heldBy.topic)" "BTC-USD" "the partition that holds the watermark back (the one furthest behind)"
like "$(q .lastCommitAgeMs)" '^[0-9]+$' "the age of the last commit"

# Without -g: the group the state's aggregator ran in, which the state
# records (before: the default group's offsets, '-' with no reason).
json=$(timeout 30 "$BIN/aggregator" status --state "$T/s.db" -b "$BROKERS" --json)
is "$(q '[.partitions[] | "\(.topic) \(.groupOffset)"] | join(",")')" "BTC-USD $NB,ETH-USD $NE" \
	"status -b without -g: the group the state records (g51)"
is "$(sqlite3 "$T/s.db" "SELECT value FROM meta WHERE key = 'group'")" "g51" "the state records its group"

table=$(timeout 30 "$BIN/aggregator" status --state "$T/s.db" -b "$BROKERS" -g g51)
like "$table" "held back by BTC-USD \\[0\\]" "the table says what holds the watermark back"
like "$table" "ETH-USD +0 +$NE +$NE +0 +$NE +0 " "and has a row per partition"
like "$(timeout 30 "$BIN/aggregator" status --state "$T/s.db")" "BTC-USD +0 +$NB +- +- +- +- " \
	"without brokers: the state only"

# While an aggregator runs on the state (and holds its lock).
spawn live "$BIN/aggregator" -b "$BROKERS" -g g51 --assign --state "$T/s.db" --output "$T/s.csv"
running_state() { grep -q "starting at the state's offset" "$T/live.err"; }
ok_cmd "an aggregator runs on the state" wait_for 30 running_state
ok_cmd "status works beside it" timeout 30 "$BIN/aggregator" status --state "$T/s.db" --json
stop live TERM
"$BIN/aggregator" status --state "$T/none.db" 2>"$T/none.err"
is "$?" 3 "a state that is not there: exit 3"

# A state of a newer schema (what a newer aggregator wrote) is not read as if
# it were this version's: refused as the aggregator refuses it.
cp "$T/s.db" "$T/new.db"
sqlite3 "$T/new.db" "PRAGMA user_version = 99"
"$BIN/aggregator" status --state "$T/new.db" >"$T/new.out" 2>"$T/new.err"
is "$?" 3 "a state of a newer schema: exit 3"
like "$(cat "$T/new.err")" "schema version 99, newer than this aggregator's" "says why"
is "$(cat "$T/new.out")" "" "and prints no status"
done_testing

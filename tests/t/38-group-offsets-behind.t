#!/usr/bin/env bash
# brokers: mock  (OffsetCommit errors injected on request)
# The group's committed offsets are never left behind the state's: when the
# group commit after the last batch fails (request timed out), a partition
# that gets no more ticks would never be committed again, and a new member or
# a fresh state would read its ticks again.  The aggregator retries at close
# while it runs, with no ticks coming, every few seconds until the group has
# them, and at close and at revoke.
. "$(dirname "$0")/../lib.sh"
plan 14

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
ok_cmd "load the fixture" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0"
group_offsets() { "$BIN/kafka-admin" -b "$BROKERS" group-offsets "$1" BTC-USD ETH-USD | awk '{print $1 ":" $3}' | paste -sd' '; }
state_offsets() { sqlite3 "$1" "SELECT group_concat(topic || ':' || next_offset, ' ') FROM (SELECT * FROM partitions ORDER BY topic)"; }

# --available-now: every batch's group commit fails but the retries at close.
ok_cmd "the next 3 OffsetCommit requests fail" broker_cmd "error OffsetCommit REQUEST_TIMED_OUT 3"
ok_cmd "--available-now over the topics" timeout 60 "$BIN/aggregator" -b "$BROKERS" -g g38 --assign \
	--available-now --batch-max 100000 --state "$T/a.db" --output "$T/a.csv"
is "$(state_offsets "$T/a.db")" "BTC-USD:$NB ETH-USD:$NE" "the state holds every tick"
is "$(group_offsets g38)" "$(state_offsets "$T/a.db")" "the group's committed offsets == the state's"

# Group mode: every group commit fails while it reads the topics; the broker
# recovers; SIGTERM: the offsets go to the group at close.
ok_cmd "OffsetCommit fails from now on" broker_cmd "error OffsetCommit REQUEST_TIMED_OUT 100000"
spawn agg "$BIN/aggregator" -b "$BROKERS" -g g38b -X session.timeout.ms=6000 --batch-time 50ms \
	--state "$T/b.db" --output "$T/b.csv"
caught_up() { [[ $(state_offsets "$T/b.db" 2>/dev/null) == "BTC-USD:$NB ETH-USD:$NE" ]]; }
ok_cmd "group mode: caught up" wait_for 60 caught_up
broker_cmd "clear OffsetCommit"
stop agg TERM
is "$?" 0 "exit 0 on SIGTERM"
is "$(group_offsets g38b)" "$(state_offsets "$T/b.db")" "group mode: the group's offsets == the state's after close"

# Running, no ticks coming: the commits that failed are sent again until the
# group has them, without waiting for a next batch or for the close.
ok_cmd "OffsetCommit fails again" broker_cmd "error OffsetCommit REQUEST_TIMED_OUT 100000"
spawn agg3 "$BIN/aggregator" -b "$BROKERS" -g g38c --assign --batch-time 50ms --state "$T/c.db" --output "$T/c.csv"
caught_up_c() { [[ $(state_offsets "$T/c.db" 2>/dev/null) == "BTC-USD:$NB ETH-USD:$NE" ]]; }
ok_cmd "running: caught up" wait_for 60 caught_up_c
sleep 1
isnt "$(group_offsets g38c)" "$(state_offsets "$T/c.db")" "the group is behind while its commits fail"
broker_cmd "clear OffsetCommit"
group_has_c() { [[ $(group_offsets g38c) == "$(state_offsets "$T/c.db")" ]]; }
ok_cmd "while it runs, the group gets the state's offsets within 10 s" wait_for 10 group_has_c
stop agg3 TERM
is "$?" 0 "exit 0 on SIGTERM"

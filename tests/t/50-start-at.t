#!/usr/bin/env bash
# brokers: kafka  (kafka-mock's ListOffsets knows no timestamps)
# --start-at: where partitions new to the state start, as kcat's -o: the first
# message at or after a time (the producer stamps each message with its tick's
# time), earliest, latest, or a duration ago.  It never moves a partition the
# state already has, and the group's offsets are not asked.  So the windows of
# the last day can be rebuilt into a new state and CSV while the running
# aggregator goes on.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
start_feed --file "$FIX" --speed 0 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" -q
ok_cmd "the producer delivered the fixture" wait_for 60 topics_full
stop producer

agg() { # agg NAME [options]: a bounded run, state NAME.db, group g50
	timeout 60 "$BIN/aggregator" -b "$BROKERS" -g g50 --available-now --progress-interval 0 --idle-timeout 10m \
		--state "$T/$1.db" --output "$T/$1.csv" "${@:2}" 2>"$T/$1.err"
}
ticks() { sqlite3 "$T/$1.db" "SELECT coalesce(sum(ticks), 0) FROM products"; }
# the fixture's ticks from 15:10 on, and BTC-USD's before it
awk -F'"time":"' '{ split($2, a, "\""); if (a[1] >= "2023-04-24T15:10") print }' "$FIX" >"$T/from1510"
n1510=$(wc -l <"$T/from1510")
btc_before=$(grep -F '"product_id":"BTC-USD"' "$FIX" | awk -F'"time":"' '{ split($2, a, "\""); if (a[1] < "2023-04-24T15:10") n++ } END { print n + 0 }')

ok_cmd "a full run commits the group at the end of the topics" agg full
is "$(ticks full)" "$((NB + NE))" "it counted every tick"

agg t1510 --start-at 2023-04-24T15:10:00Z
is "$?" 0 "--start-at 2023-04-24T15:10:00Z: exit 0"
is "$(ticks t1510)" "$n1510" "counts the $n1510 ticks from 15:10 on, not the group's end"
like "$(cat "$T/t1510.err")" "assigned BTC-USD \\[0\\], new to the state: starting at offset $btc_before \\(--start-at\\)" \
	"says the exact offset it starts at"
ok_cmd "its windows == offline windows of those ticks" "$ROOT/tests/offline.sh" "$T/from1510" "$T/t1510.csv"

agg early --start-at earliest
is "$(ticks early)" "$((NB + NE))" "--start-at earliest: everything, in a group that is at the end"
agg late --start-at latest
is "$(ticks late)" 0 "--start-at latest: nothing (only what comes)"
like "$(cat "$T/late.err")" "starting at offset $NB \\(--start-at\\)" "at the end of the log"
agg ago --start-at -100000d
is "$(ticks ago)" "$((NB + NE))" "--start-at -100000d: everything since then"

cp "$T/t1510.db" "$T/again.db"; cp "$T/t1510.csv" "$T/again.csv"
agg again --start-at earliest
is "$(ticks again)" "$n1510" "a state that has the partitions goes on from its own offsets"
like "$(cat "$T/again.err")" "starting at the state's offset" "and says so"

agg bad --start-at yesterday
is "$?" 2 "--start-at yesterday: exit 2"
like "$(cat "$T/bad.err")" "--start-at: earliest, latest, a UTC time" "says what it takes"
done_testing

#!/usr/bin/env bash
# The host clock behind the feed by more than --max-skew: every tick is in
# the clock's future and rejected.  Before, all 1245 were rejected, the
# offsets committed past them, exit 0.  Now 20 ticks in a row of a partition
# ahead of the clock are a clock fault: the aggregator stops with exit 6 and
# a message that says to check the clock, and commits none of them (a batch
# with such a run open waits up to 10 s for the run to end or to reach 20).
# Once the clock is right (here: a --max-skew that covers it), a restart
# counts every tick.  A lone tick ahead of the clock is still only rejected
# (tests/t/30).
. "$(dirname "$0")/../lib.sh"

start_broker -t future -t live -t slow || bail "no broker"
grep -F '"product_id":"BTC-USD"' "$FIX" >"$T/btc"
N=$(wc -l <"$T/btc")
# The fixture's 22 minutes (2023-04-24 15:00-15:22) moved to 3 hours from now:
# the feed ahead of the clock by 2.5 to 3.4 hours.
ahead=$(date -u -d '+3 hours' +%Y-%m-%dT%H:)
sed "s/\"time\":\"2023-04-24T15:/\"time\":\"$ahead/" "$T/btc" >"$T/future.jsonl"
is "$(jq -r .time "$T/future.jsonl" | cut -c1-14 | sort -u)" "$ahead" "every tick dated 3 hours ahead"
ok_cmd "load future" sh -c "timeout 30 kcat -b $BROKERS -P -t future -p 0 <'$T/future.jsonl'"

agg() { # TOPIC [ARGS]
	local t=$1; shift
	timeout 60 "$BIN/aggregator" -b "$BROKERS" -g g71 -t "$t" --assign --available-now --progress-interval 0 \
		--idle-timeout 10m --state "$T/$t.db" --output "$T/$t.csv" "$@" 2>"$T/$t.err"
}
q() { sqlite3 "$T/$1.db" "$2"; }

agg future
is "$?" 6 "a backlog all ahead of the clock: exit 6"
like "$(cat "$T/future.err")" "error: .*ahead of the clock.*check the host's clock" "the message says to check the clock"
is "$(q future "SELECT count(*) FROM partitions WHERE next_offset > 0")" 0 "no offset committed past them"
is "$(q future "SELECT count(*) FROM rejected")" 0 "none of them stored as rejected"
is "$("$BIN/kafka-admin" -b "$BROKERS" group-offsets g71 future 2>&1)" "future 0 -1" "no offset of it in the group"

agg future --max-skew 1d
is "$?" 0 "the clock right again (a --max-skew that covers it): exit 0"
is "$(q future "SELECT sum(ticks) FROM products")" "$N" "every tick counted"

# live_run TOPIC COUNT PAUSE: an aggregator on TOPIC (a batch every 50 ms)
# while the first COUNT ticks ahead of the clock arrive one by one, PAUSE
# seconds apart; returns its exit status.
live_run() {
	local t=$1
	spawn "$t" "$BIN/aggregator" -b "$BROKERS" -g "g71$t" -t "$t" --assign --batch-time 50ms --progress-interval 0 \
		--state "$T/$t.db" --output "$T/$t.csv"
	sleep 2
	head -n "$2" "$T/future.jsonl" | while IFS= read -r l; do printf '%s\n' "$l"; sleep "$3"; done |
		timeout 30 kcat -b "$BROKERS" -P -t "$t" -p 0 -X linger.ms=1
	wait_exit "$t" 20
}

# Live: ticks ahead of the clock arriving one by one.
live_run live 40 0.15
is "$?" 6 "live ticks ahead of the clock: exit 6"
like "$(cat "$T/live.err")" "check the host's clock" "it says to check the clock"
is "$(q live "SELECT coalesce(max(next_offset), 0) FROM partitions")" 0 "none of them committed"

# Slow: one tick ahead of the clock every 4 s.  The batch waits 10 s for the
# run to end; a run of two or more that lasts that long is a clock fault too.
# Before, the hold ran out and the batch committed them as rejected (offsets
# past them: a restart with the clock right never counted them).
live_run slow 4 4
is "$?" 6 "slow ticks ahead of the clock: exit 6"
like "$(cat "$T/slow.err")" "clock fault: [0-9]+ ticks in a row of slow \\[0\\] .*none on time for 1[0-9] s after the first.*check the host's clock" \
	"it says so, and how long none came on time"
is "$(q slow "SELECT coalesce(max(next_offset), 0) FROM partitions")" 0 "none of them committed"
is "$(q slow "SELECT count(*) FROM rejected")" 0 "none of them stored as rejected"
done_testing

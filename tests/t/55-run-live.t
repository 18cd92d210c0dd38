#!/usr/bin/env bash
# brokers: mock
# make run (scripts/run.sh): the live job against a feed and a broker, ended
# as its user ends it, with Ctrl-C: everything stops in order, the
# aggregator commits, and the run exits 0 (a clean stop is no error: make
# prints no "Error 130"); the closed windows so far are in the CSV.
. "$(dirname "$0")/../lib.sh"

start_broker -b 1 -t BTC-USD -t ETH-USD || bail "no broker"
start_feed --file "$FIX" --speed 120 || bail "no feed"
# A background job of a script ignores SIGINT, and a shell cannot trap what
# it was started ignoring: perl restores the default, as a terminal has it.
spawn run perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die "exec: $!"' env KAFKA_BROKERS="$BROKERS" FEED_URL="$FEED_URL" RUN_DIR="$T/live" PROGRESS=1 \
	AGGREGATOR_ARGS="-X session.timeout.ms=6000" "$ROOT/scripts/run.sh" "$BIN"
rows() { [[ -s $T/live/output.csv ]] && (($(wc -l <"$T/live/output.csv") > ${1:-1})); }
ok_cmd "windows close while it runs" wait_for 60 rows 3
stop run INT
is "$?" 0 "Ctrl-C (SIGINT): exit 0"
like "$(cat "$T/run.out")" "stopped by SIGINT \(the aggregator committed and exited with status 0\)" \
	"it says everything stopped cleanly"
is "$(grep -c 'make: \*\*\*\|error:' "$T/run.out" "$T/run.err" | awk -F: '{s += $2} END {print s}')" 0 "no error line"
unlike "$(cat "$T/run.out")" "cannot be reached" "no word of an unreachable feed: it answered"
ok_cmd "the state is consistent with the CSV (export from the state == the CSV)" \
	sh -c "'$BIN/aggregator' export --state '$T/live/state.db' --output '$T/again.csv' && cmp '$T/again.csv' '$T/live/output.csv'"
# The programs run in their own sessions (a terminal's Ctrl-C reaches only
# the script): none may outlive it, also when a check above failed.
left=$(pgrep -f -- "$T/live" | paste -sd' ')
is "$left" "" "nothing of the run left running"
[[ -n $left ]] && kill -KILL $left
done_testing

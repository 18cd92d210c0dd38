#!/usr/bin/env bash
# brokers: mock
# make run after a kill -9 of make run.  The killed script could not stop its
# programs (each runs in a session of its own): the next run in the same
# directory stops them first, in order, and goes on.  When a program of that
# run then dies, the "last lines" it quotes are its own run's, not the
# killed run's from the same appended log.  (Before: the leftovers held the
# state, and the quoted lines were the last 8 of the whole log.)
. "$(dirname "$0")/../lib.sh"

start_broker -b 1 -t BTC-USD -t ETH-USD || bail "no broker"
start_feed --file "$FIX" --speed 60 || bail "no feed"
run() { # NAME: scripts/run.sh into $T/live
	spawn "$1" env KAFKA_BROKERS="$BROKERS" FEED_URL="$FEED_URL" RUN_DIR="$T/live" PROGRESS=1 \
		AGGREGATOR_ARGS="-X session.timeout.ms=6000" "$ROOT/scripts/run.sh" "$BIN"
}
log=$T/live/logs/aggregator.log
rows() { [[ -s $T/live/output.csv ]] && (($(wc -l <"$T/live/output.csv") > 2)); }
agg_pid() { pgrep -f -- "--state $T/live/state.db" | head -n 1; }

# Run 1: until windows close, then SIGKILL to the script alone, as kill -9 does.
run run1
ok_cmd "run 1: windows close" wait_for 90 rows
kill -KILL "$(pid_of run1)"
wait_exit run1 10 >/dev/null
a1=$(agg_pid)
like "$a1" '^[0-9]+$' "its aggregator outlives the killed script"
cmp_ok "$(wc -l <"$log")" -ge 2 "run 1's aggregator wrote its log ($(wc -l <"$log") lines)"

# Run 2: stops the leftovers first; its aggregator is then killed at once,
# while its part of the log is short.
run run2
said() { grep -q -- "$1" "$T/run2.out"; }
ok_cmd "run 2 stops run 1's aggregator" wait_for 60 said "killed before it could stop its programs: stopping its aggregator (pid $a1)"
ok_cmd "which ends" wait_for 30 bash -c "! kill -0 $a1 2>/dev/null"
new_agg() { a2=$(agg_pid); [[ -n $a2 && $a2 != "$a1" ]]; }
ok_cmd "run 2 starts its own aggregator" wait_for 60 new_agg
kill -KILL "$a2"
wait_exit run2 60
is "$?" 1 "run 2: exit 1 when its aggregator dies"
err=$(cat "$T/run2.err")
like "$err" "aggregator exited unexpectedly \(status 137\)" "it says the aggregator died"
quoted=$(sed -n '/last lines/,$p' <<<"$err" | tail -n +2 | sed 's/^    //')
mine=$(sed -n '/^--- make run/h; /^--- make run/!H; ${x;p}' "$log" | tail -n +2)
note "run 2's part of the log: $(wc -l <<<"$mine") line(s)"
cmp_ok "$(wc -l <<<"$mine")" -lt 8 "run 2's part is shorter than the 8 lines quoted at most"
bad=""
while IFS= read -r l; do
	[[ -z $l || $l == "(nothing)" ]] && continue
	grep -Fxq -- "$l" <<<"$mine" || bad+="$l"$'\n'
done <<<"$quoted"
is "$bad" "" "every quoted line is from run 2's part of the log"
like "$(grep -c '^--- make run' "$log")" '^2$' "the log marks where each run's part begins"
left=$(pgrep -f -- "$T/live" | paste -sd' ')
is "$left" "" "nothing of either run left running"
[[ -n $left ]] && kill -KILL $left
done_testing

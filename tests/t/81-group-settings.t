#!/usr/bin/env bash
# brokers: kafka
# Group members with other window settings (issue 24, case 7): the first
# member records --window, --slide and --watermark in the group's changelog;
# a member that differs is refused at start (exit 3) with a message naming
# both, instead of writing 5-minute rows into a CSV of 1-minute ones.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
ok_cmd "fixture loaded" sh -c "grep -F '\"product_id\":\"BTC-USD\"' '$FIX' | timeout 30 kcat -b '$BROKERS' -P -t BTC-USD &&
	grep -F '\"product_id\":\"ETH-USD\"' '$FIX' | timeout 30 kcat -b '$BROKERS' -P -t ETH-USD"
run() { # run NAME ARGS...: a member, at most 40 s
	local name=$1; shift
	timeout 40 "$BIN/aggregator" -b "$BROKERS" -g g81 --output-topic g81-out -s "$T/$name.db" --progress-interval 0 \
		-X session.timeout.ms=6000 "$@" 2>"$T/$name.err"
}
spawn m1 "$BIN/aggregator" -b "$BROKERS" -g g81 --output-topic g81-out -s "$T/m1.db" --progress-interval 0 \
	-X session.timeout.ms=6000
ok_cmd "the first member runs (1m windows)" wait_for 60 sh -c "grep -q 'info: assigned' '$T/m1.err'"

run m2 --window 5m
is "$?" 3 "a member with --window 5m is refused: exit 3"
like "$(cat "$T/m2.err")" "error: group g81 runs with --window 60000ms --slide 60000ms --watermark 120000ms .*this member with --window 300000ms --slide 300000ms" \
	"naming the group's settings and the member's"
run m3 --watermark 3m
is "$?" 3 "a member with --watermark 3m is refused: exit 3"
run m4 --window 2m --slide 1m
is "$?" 3 "a member with --window 2m --slide 1m is refused: exit 3"
is "$(grep -c 'info: assigned' "$T/m2.err" "$T/m3.err" "$T/m4.err" | awk -F: '{s += $2} END {print s}')" 0 \
	"none of them joined the group"
ok "$(running m1; echo $?)" "the first member runs on"
stop m1
is "$?" 0 "it stops: exit 0"
done_testing

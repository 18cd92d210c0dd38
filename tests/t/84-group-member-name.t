#!/usr/bin/env bash
# brokers: kafka
# --member's default (issue 24, case 14): made once and kept in the state
# file, so it is unique per state file and the same from the first run on.
# Before, it was the host and a hash of the state's path: two members run
# with --state state.db in two directories had one transactional.id (one
# was fenced), and a first run (its file not there yet for realpath) had
# another name than its restart, which then could not fence what the first
# run left open.  A fenced member's message names a duplicate name as a
# possible cause.
. "$(dirname "$0")/../lib.sh"

KAFKA_CONFIG="transaction.abort.timed.out.transaction.cleanup.interval.ms=1000" \
	start_broker -t BTC-USD:2 -t ETH-USD || bail "no broker"
ok_cmd "fixture loaded" sh -c "grep -F '\"product_id\":\"BTC-USD\"' '$FIX' | timeout 30 kcat -b '$BROKERS' -P -t BTC-USD &&
	grep -F '\"product_id\":\"ETH-USD\"' '$FIX' | timeout 30 kcat -b '$BROKERS' -P -t ETH-USD"
mkdir -p "$T/d1" "$T/d2"
member() { # member NAME DIR [ARGS...]: --state state.db in DIR
	local name=$1 dir=$2; shift 2
	spawn "$name" sh -c "cd '$T/$dir' && exec '$BIN/aggregator' -b '$BROKERS' -g g84 --output-topic g84-out \
		--state state.db --batch-time 50ms --progress-interval 0 -X session.timeout.ms=6000 $*"
}
tid() { sed -n 's/.*transactional\.id \([^,]*\),.*/\1/p' "$T/$1.err" | head -n 1; }
member a d1
member b d2
ok_cmd "both members get partitions" wait_for 60 sh -c "grep -q 'info: assigned' '$T/a.err' && grep -q 'info: assigned' '$T/b.err'"
a1=$(tid a)
b1=$(tid b)
like "$a1" "^g84\..+" "a has a transactional.id ($a1)"
isnt "$b1" "$a1" "b's differs, though both run with --state state.db"
sleep 5
ok "$( (running a && running b); echo $?)" "neither was fenced: both run"
stop a
is "$?" 0 "a stops"
member a2 d1
ok_cmd "a restarts" wait_for 60 sh -c "grep -q 'transactional.id' '$T/a2.err'"
is "$(tid a2)" "$a1" "a's restart has its first run's name: it fences what that run left open"
stop a2
stop b

# Two members given one --member: the one fenced says that may be why.
mkdir -p "$T/d3" "$T/d4"
member c d3 --member twin
ok_cmd "c gets partitions" wait_for 60 sh -c "grep -q 'info: assigned' '$T/c.err'"
member d d4 --member twin
fenced() { grep -q 'fenced' "$T/c.err" "$T/d.err"; }
ok_cmd "one of the twins is fenced" wait_for 90 fenced
like "$(cat "$T/c.err" "$T/d.err")" "fenced.*another member runs with its name \(--member twin" \
	"its message names a duplicate member name as a possible cause"
done_testing

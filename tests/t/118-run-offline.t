#!/usr/bin/env bash
# brokers: mock
# make run offline: the feed cannot be reached (here FEED_URL names a port
# nothing listens on).  Within seconds of the producer's first failure it
# says so, and how to go on without the feed: make replay, or FEED_URL=...;
# the producer keeps trying; Ctrl-C still stops it cleanly (exit 0).  (Before:
# it retried for ever and never named make replay or FEED_URL.)
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
port=$(free_port)
spawn run perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die "exec: $!"' env KAFKA_BROKERS="$BROKERS" \
	FEED_URL="ws://127.0.0.1:$port" RUN_DIR="$T/live" PROGRESS=1 "$ROOT/scripts/run.sh" "$BIN"
t0=$SECONDS
said() { grep -q -- "$1" "$T/run.out"; }
ok_cmd "it says the feed cannot be reached" wait_for 30 said "cannot be reached"
took=$((SECONDS - t0))
cmp_ok "$took" -le 20 "within seconds ($took s, the broker and the programs' start included)"
out=$(cat "$T/run.out")
like "$out" "run: the feed ws://127\.0\.0\.1:$port cannot be reached" "naming the feed"
like "$out" "make replay" "it says how to replay recorded ticks"
like "$out" "FEED_URL=ws://HOST:PORT make run" "and how to use another feed"
is "$(grep -c 'cannot be reached' <<<"$out")" 1 "once"
like "$out" "producer  \| warning: connection to .* refused: nothing listens on 127\.0\.0\.1 port $port" \
	"beside the producer's line that says why"
ok_cmd "the producer keeps trying" wait_for 10 bash -c "(( \$(grep -c 'connecting to' '$T/live/logs/producer.log') >= 3 ))"
stop run INT
is "$?" 0 "Ctrl-C: exit 0"
left=$(pgrep -f -- "$T/live" | paste -sd' ')
is "$left" "" "nothing of the run left running"
[[ -n $left ]] && kill -KILL $left
done_testing

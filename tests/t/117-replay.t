#!/usr/bin/env bash
# brokers: kafka
# make replay as a new user runs it: a recorded file (the fixture) through
# the live job's path - local feed, producer, a fresh local Apache Kafka
# (scripts/kafka), the aggregator in a consumer group - into a fresh
# directory, the first row of output.csv while it runs, every window equal
# to the offline reference, nothing left running.  Its topics keep the 2023
# ticks (retention.ms=-1, by size): a retention check on a broker whose
# default is 7 days leaves every one.  A replay into existing topics
# (REPLAY_BROKERS) stops when its own ticks are in, and one whose topic would
# delete them by time warns, naming the topic and the fix.  (Before: a
# replay took bin/feed-server --port-file plus FEED_URL=... make run, whose
# topics deleted the replayed ticks within minutes.)
. "$(dirname "$0")/../lib.sh"

K=$ROOT/scripts/kafka
on_kafka || skip_all "needs Apache Kafka (scripts/kafka)"

# The Makefile's target and its two settings.
is "$(make -s -n -C "$ROOT" replay 2>/dev/null | grep 'run.sh')" \
	"scripts/run.sh --replay 'tests/data/ticks.jsonl' --speed '30' bin" "make replay: the fixture at 30x"
is "$(make -s -n -C "$ROOT" replay FILE=/x/y.jsonl SPEED=7 2>/dev/null | grep 'run.sh')" \
	"scripts/run.sh --replay '/x/y.jsonl' --speed '7' bin" "make replay FILE=... SPEED=...: those"

# replay NAME [ENV=VALUE]...: scripts/run.sh --replay of the fixture at 60x
# into $T/NAME.  A background job of a script ignores SIGINT, which a shell
# cannot trap then: perl restores the default, as a terminal has it.
replay() {
	local name=$1; shift
	spawn "$name" perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die "exec: $!"' \
		env REPLAY_DIR="$T/$name" PROGRESS=1 "$@" "$ROOT/scripts/run.sh" --replay "$FIX" --speed 60 "$BIN"
}
said() { grep -q -- "$2" "$T/$1.out"; }
left() { pgrep -f -- "$T/$1" | paste -sd' '; }

# --- A: a fresh directory, its own Kafka ---------------------------------------
replay a
ok_cmd "the first row of output.csv while it runs" wait_for 180 said a 'first row of .*output.csv'
note "$(grep -o 'first row of [^:]*' "$T/a.out")"
brokers=$(sed -n 's/^replay: Apache Kafka at \([0-9.:]*\),.*/\1/p' "$T/a.out")
like "$brokers" '^127\.0\.0\.1:[0-9]+$' "it names its Kafka"
cfg=$("$BIN/kafka-admin" -b "$brokers" configs BTC-USD 2>&1)
like "$cfg" $'(^|\n)retention\\.ms=-1(\n|$)' "its topic keeps records whatever their time (retention.ms=-1)"
like "$cfg" $'(^|\n)retention\\.bytes=1073741824(\n|$)' "bounded by size (retention.bytes 1 GiB)"
wait_exit a 240
is "$?" 0 "it stops by itself once every tick is in: exit 0"
like "$(cat "$T/a.out")" "all 4372 ticks are in Kafka and in the aggregator's state" "it says every tick is in"
ok_cmd "output.csv == offline windows of the fixture" "$ROOT/tests/offline.sh" "$FIX" "$T/a/output.csv"
ok_cmd "and the chart" test -s "$T/a/output.png"
is "$(grep -c 'error\|warning: topic' "$T/a.out" "$T/a.err" | awk -F: '{s += $2} END {print s}')" 0 "no error, no warning"
is "$(left a)" "" "nothing of it left running"
ok_cmd "no pids file left" test ! -e "$T/a/pids"

# --- its topics keep the 2023 ticks through a retention check -------------------
# The broker again, from the replay's log, with Kafka's 7 days as its default
# and a retention check every second: only the topics' own settings keep them.
"$K" start -d "$T/a/kafka" -o log.retention.ms=604800000 -o log.retention.check.interval.ms=1000 \
	-o log.initial.task.delay.ms=1000 >"$T/k.out" 2>"$T/k.err"
is "$?" 0 "the replay's broker starts again from its log"
adopt kafka "$("$K" status -d "$T/a/kafka" | awk '$1 == "running" {print $2}')"
BROKERS=$(cat "$T/k.out")
sleep 4
is "$(topic_count BTC-USD) $(topic_count ETH-USD)" "2710 1662" "every replayed tick is still in Kafka after retention checks"

# --- C: into those topics (REPLAY_BROKERS): ends where its own ticks end -----------
replay c REPLAY_BROKERS="$BROKERS"
wait_exit c 240
is "$?" 0 "a replay into existing topics: exit 0"
like "$(cat "$T/c.out")" "all 4372 ticks are in Kafka" "it waits for its own 4372 ticks, not the topics' 8744"
unlike "$(cat "$T/c.out")" "warning: topic" "no warning about a topic: these keep old times"
ok_cmd "its output.csv == offline windows of the fixture" "$ROOT/tests/offline.sh" "$FIX" "$T/c/output.csv"
is "$(topic_count BTC-USD) $(topic_count ETH-USD)" "5420 3324" "the topics hold both replays"

# --- B: an existing topic that deletes by time -------------------------------------
"$BIN/kafka-admin" -b "$BROKERS" delete ETH-USD >/dev/null
ok_cmd "ETH-USD again, with 7 days' time retention" wait_for 30 \
	"$BIN/kafka-admin" -b "$BROKERS" create ETH-USD:1 retention.ms=604800000
replay b REPLAY_BROKERS="$BROKERS"
ok_cmd "a replay into it warns" wait_for 60 said b 'warning: topic ETH-USD'
out=$(cat "$T/b.out")
like "$out" "warning: topic ETH-USD exists and deletes records older than 7 days \(retention.ms=604800000\)" \
	"naming the topic and its retention"
like "$out" "from 2023-04-24T15:00:00" "and the replay's event times"
like "$out" "kafka-configs.sh --bootstrap-server $BROKERS --alter --entity-type topics --entity-name ETH-USD --add-config retention.ms=-1" \
	"and the command that keeps them"
unlike "$out" "warning: topic BTC-USD" "not the topic that keeps them"
stop b INT >/dev/null
is "$(left b)" "" "nothing of it left running after Ctrl-C"
done_testing

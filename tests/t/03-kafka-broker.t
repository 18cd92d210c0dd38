#!/usr/bin/env bash
# brokers: kafka
# scripts/kafka, the real broker as a user runs it: start prints the bootstrap
# address once it answers; topics are auto-created as Kafka ships them (one
# partition) or created with configs; stop is clean and start resumes from the
# directory with the same address and every message; so does start after a
# SIGKILL; status tells running from stopped; nothing is left running.
. "$(dirname "$0")/../lib.sh"

K=$ROOT/scripts/kafka
D=$T/k
kpid() { "$K" status -d "$D" 2>/dev/null | awk '$1 == "running" {print $2}'; }

addr=$("$K" start -d "$D" -o log.retention.ms=-1 2>"$T/start.err")
is "$?" 0 "start: exit 0"
like "$addr" '^127\.0\.0\.1:[0-9]+$' "start prints the bootstrap address"
pid=$(kpid)
[[ -n $pid ]] && adopt kafka "$pid"
like "$("$K" status -d "$D")" "^running $pid $addr\$" "status: running, pid, address"
is "$("$K" start -d "$D" 2>/dev/null)" "$addr" "start again: already running, same address"
is "$("$K" address -d "$D")" "$addr" "address"
BROKERS=$addr

# Topics: auto-created with Kafka's defaults, or created with configs.
seq 1000 | timeout 30 kcat -b "$BROKERS" -P -t auto03 -X topic.metadata.refresh.interval.ms=500
ok $? "produce 1000 messages to a topic nobody created"
like "$(timeout 10 kcat -b "$BROKERS" -L -t auto03)" 'topic "auto03" with 1 partitions' \
	"auto-created with num.partitions 1, as Kafka ships"
ok_cmd "CreateTopics with configs" "$BIN/kafka-admin" -b "$BROKERS" create t03:3 retention.bytes=4194304 \
	segment.bytes=1048576
desc=$("$K" topics -d "$D" --describe --topic t03 2>&1)
like "$desc" "PartitionCount: 3" "kafka-topics.sh (scripts/kafka topics): 3 partitions"
like "$desc" "retention.bytes=4194304" "and the topic's retention.bytes"
not_ok_cmd "creating it twice is an error" "$BIN/kafka-admin" -b "$BROKERS" create t03:3
seq 300 | timeout 30 kcat -b "$BROKERS" -P -t t03
is "$(topic_count t03)" 300 "300 messages over its 3 partitions"
is "$(timeout 30 kcat -b "$BROKERS" -G g03k -X auto.offset.reset=earliest -e -q -f '%s\n' t03 | sort -n)" \
	"$(seq 300)" "a consumer group reads every message once"
# Offsets committed to a group (by the aggregator: they are not ticks, all
# rejected, but read and committed, synchronously at close).  kcat -P's
# sticky partitioner often leaves a partition empty (all 300 in one, in about
# one run of three): nothing is read there, so the state has no row for it
# and the group no offset (kafka-admin prints -1); compared partition by
# partition, not summed (the -1s made 298 or 299 of 300).
ok_cmd "the aggregator reads t03 in group g03" timeout 60 "$BIN/aggregator" -b "$BROKERS" -g g03 -t t03 \
	--available-now -q --state "$T/g03.db" --output "$T/g03.csv"
is "$(sqlite3 "$T/g03.db" "SELECT sum(next_offset) FROM partitions WHERE topic = 't03'")" 300 \
	"the aggregator read all 300 messages of t03"
g03_offsets() { "$BIN/kafka-admin" -b "$BROKERS" group-offsets g03 t03:3 | awk '$3 >= 0 {print $2 ":" $3}' | sort -n | paste -sd' '; }
g03_state=$(sqlite3 "$T/g03.db" "SELECT partition || ':' || next_offset FROM partitions WHERE topic = 't03' ORDER BY partition" | paste -sd' ')
is "$(g03_offsets)" "$g03_state" "the group's committed offsets are the state's, partition by partition"

# Clean stop, restart from the directory.
"$K" stop -d "$D"
is "$?" 0 "stop: exit 0"
"$K" status -d "$D" >"$T/status.out"
is "$?" 3 "status after stop: exit 3"
is "$(cat "$T/status.out")" "stopped" "status says stopped"
ok_cmd "the JVM is gone" bash -c "! kill -0 $pid 2>/dev/null"
is "$(grep -c 'shut down completed' "$D/logs/server.log")" 1 "the broker logged a clean shutdown"
is "$("$K" start -d "$D" 2>/dev/null)" "$addr" "start after stop: the same address"
adopt kafka "$(kpid)"
is "$(topic_count t03)" 300 "every message still there after a clean restart"
is "$(topic_count auto03)" 1000 "auto03 too"

# SIGKILL, as a crash: the log survives, start resumes.
seq 301 400 | timeout 30 kcat -b "$BROKERS" -P -t t03 -X acks=all
pid=$(kpid)
"$K" kill -d "$D"
ok_cmd "kill: the JVM is gone" bash -c "! kill -0 $pid 2>/dev/null"
is "$("$K" start -d "$D" 2>/dev/null)" "$addr" "start after SIGKILL: the same address"
adopt kafka "$(kpid)"
is "$(topic_dump t03 | sort -n)" "$(seq 400)" "every acknowledged message survived the SIGKILL"
is "$(g03_offsets)" "$g03_state" "and the group's committed offsets"

# A taken port is refused with a message, nothing started.
"$K" stop -d "$D"
spawn squatter "$BIN/feed-server" --port "${addr##*:}" --file "$FIX"
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/${addr##*:}" 2>/dev/null
"$K" start -d "$D" >/dev/null 2>"$T/taken.err"
is "$?" 1 "start with its port taken: exit 1"
like "$(cat "$T/taken.err")" "port ${addr##*:} .* is taken" "says which port is taken"
stop squatter
"$K" status -d "$D" >/dev/null
is "$?" 3 "and nothing runs"
done_testing

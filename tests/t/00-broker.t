#!/usr/bin/env bash
# brokers: mock  (kafka-mock itself; 03 is the real broker's own test)
# 00-broker.t - the embedded broker (bin/kafka-mock) and tests/lib.sh itself:
# topics, produce/consume with kcat, consumer groups, control commands,
# signals, and that lib.sh cleans up its processes and temp dir.
. "$(dirname "$0")/../lib.sh"

# Consumer-group settings for the mock: after the last member leaves, the mock
# group waits session.timeout.ms - 1 s before a new member is admitted.
GROUP_OPTS=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500
	-X auto.offset.reset=earliest)

# --- command line -------------------------------------------------------------------
ok_cmd "kafka-mock --help" timeout 5 "$BIN/kafka-mock" --help
ok_cmd "kafka-mock --version" timeout 5 "$BIN/kafka-mock" --version
timeout 5 "$BIN/kafka-mock" --bogus </dev/null >/dev/null 2>&1
is "$?" 2 "unknown option exits 2"
timeout 5 "$BIN/kafka-mock" -t ticks:0 </dev/null >/dev/null 2>&1
is "$?" 2 "bad partition count exits 2"

# --- topics, produce, consume -------------------------------------------------------------
start_broker -t ticks:3 -t other -p 2
ok $? "broker started" || bail "no broker"
like "$BROKERS" '^127\.0\.0\.1:[0-9]+(,127\.0\.0\.1:[0-9]+){2}$' "three brokers by default"

meta=$(timeout 10 kcat -b "$BROKERS" -L)
like "$meta" 'topic "ticks" with 3 partitions' "kcat -L: ticks has 3 partitions"
like "$meta" 'topic "other" with 2 partitions' "kcat -L: -p sets the default partition count"
like "$meta" 'replicas: [0-9],[0-9],[0-9]' "replication factor 3"

seq 1000 | timeout 30 kcat -b "$BROKERS" -P -t ticks
ok $? "kcat produced 1000 messages"
is "$(topic_count ticks)" 1000 "topic_count: 1000 messages"
is "$(topic_dump ticks | sort -n)" "$(seq 1000)" "topic_dump: every value once"
sum=0
for p in 0 1 2; do
	sum=$((sum + $(topic_dump ticks "$p" | wc -l)))
done
is "$sum" 1000 "per-partition dumps add up"

got=$(timeout 40 kcat -b "$BROKERS" -G grp "${GROUP_OPTS[@]}" -e -q -f '%s\n' ticks | sort -n)
is "$got" "$(seq 1000)" "consumer group reads everything"
seq 1001 1005 | timeout 30 kcat -b "$BROKERS" -P -t ticks
got=$(timeout 40 kcat -b "$BROKERS" -G grp "${GROUP_OPTS[@]}" -e -q -f '%s\n' ticks | sort -n)
is "$got" "$(seq 1001 1005)" "consumer group resumes from committed offsets"

# --- control commands ------------------------------------------------------------------
ok_cmd "ping" broker_cmd ping
not_ok_cmd "unknown command is an error" broker_cmd frobnicate
broker_cmd "down 7"
like "$BROKER_REPLY" '^error: ' "down of a missing broker: error answer"
ok_cmd "topic extra 5" broker_cmd "topic extra 5"
like "$(timeout 10 kcat -b "$BROKERS" -L -t extra)" 'topic "extra" with 5 partitions' "created topic visible"
not_ok_cmd "topic twice is an error" broker_cmd "topic extra 5"
ok_cmd "rtt 2 20" broker_cmd "rtt 2 20"
ok_cmd "rtt 2 0" broker_cmd "rtt 2 0"

# down/up: a message for a partition led by a downed broker waits for it.
ok_cmd "leader ticks 0 1" broker_cmd "leader ticks 0 1"
ok_cmd "down 1" broker_cmd "down 1"
printf late >"$T/late.txt"   # kcat -P FILE: the whole file is one message
spawn late timeout 60 kcat -b "$BROKERS" -P -t ticks -p 0 \
	-X reconnect.backoff.max.ms=500 -X message.timeout.ms=50000 "$T/late.txt"
sleep 2
ok_cmd "metadata from the other brokers while 1 is down" timeout 10 kcat -b "$BROKERS" -L -t ticks
ok_cmd "the producer waits while the leader is down" running late
ok_cmd "up 1" broker_cmd "up 1"
wait_exit late 40
is "$?" 0 "the producer got through after up"
is "$(topic_dump ticks 0 | tail -n 1)" late "message is on partition 0"

# Error injection: the producer retries past injected errors.
ok_cmd "error Produce NOT_LEADER_FOR_PARTITION 2" broker_cmd "error Produce NOT_LEADER_FOR_PARTITION 2"
echo retried | timeout 30 kcat -b "$BROKERS" -P -t ticks -p 1
ok $? "produce succeeds after injected errors"
is "$(topic_dump ticks 1 | tail -n 1)" retried "retried message is there"
ok_cmd "error 3 REQUEST_TIMED_OUT (numeric ApiKey)" broker_cmd "error 3 REQUEST_TIMED_OUT"
ok_cmd "clear Metadata" broker_cmd "clear Metadata"
not_ok_cmd "unknown error name is an error" broker_cmd "error Produce NO_SUCH_ERROR"

# --- bootstrap file, stdin EOF, signals ------------------------------------------------------
spawn mock2 "$BIN/kafka-mock" -b 1 -f "$T/boot"
ok_cmd "bootstrap file written" wait_for 10 test -s "$T/boot"
is "$(cat "$T/boot")" "$(head -n 1 "$T/mock2.out")" "bootstrap file = first stdout line"
like "$(cat "$T/boot")" '^127\.0\.0\.1:[0-9]+$' "-b 1: one broker"
sleep 0.5
ok_cmd "keeps running after stdin EOF" running mock2
stop mock2 INT
is "$?" 0 "SIGINT: exit 0"

broker_pid=$(pid_of broker)
stop broker TERM
is "$?" 0 "SIGTERM: exit 0"
not_ok_cmd "broker process gone" kill -0 "$broker_pid"
if grep -q 'Sanitizer' "$T/broker.err" "$T/mock2.err"; then
	fail "no sanitizer reports"
	diag "$(grep -h -A20 'Sanitizer' "$T/broker.err" "$T/mock2.err" | head -n 40)"
else
	pass "no sanitizer reports"
fi

# --- lib.sh cleanup ------------------------------------------------------------------
# An inner test that starts a broker and a TERM-ignoring process, then ends in
# one of three ways; afterwards none of its processes or files may remain.
cat >"$T/inner.t" <<'EOF'
. "$ROOT/tests/lib.sh"
start_broker -b 1 || exit 9
spawn stubborn bash -c 'trap "" TERM; exec sleep 300'
spawn plain sleep 300
echo "$(pid_of broker) $(pid_of stubborn) $(pid_of plain) $T" >"$INFO.tmp"
mv "$INFO.tmp" "$INFO"
pass "inner"
case $1 in
normal) ;;
die) exit 3 ;;
hang) wait_for 300 false ;;
esac
EOF
for mode in normal die hang; do
	INFO=$T/info.$mode
	export INFO
	spawn "inner_$mode" bash "$T/inner.t" "$mode"
	wait_for 15 test -s "$INFO"
	ok $? "inner test ($mode) started its processes" || continue
	read -r b s p dir <"$INFO"
	if [[ $mode == hang ]]; then
		sleep 0.3
		stop "inner_$mode" TERM
		st=$?
		is "$st" 143 "inner test ($mode): interrupted by SIGTERM"
	else
		wait_exit "inner_$mode" 15
		st=$?
		if [[ $mode == normal ]]; then
			is "$st" 0 "inner test ($mode): exit 0"
		else
			is "$st" 3 "inner test ($mode): exit status kept"
		fi
	fi
	left=""
	for pid in $b $s $p; do
		_alive "$pid" && left+=" $pid"
	done
	is "$left" "" "inner test ($mode): no spawned process left (broker $b, stubborn $s, sleep $p)"
	ok_cmd "inner test ($mode): temp dir removed" test ! -e "$dir"
done
grep -q "ignored SIGTERM" "$T/inner_normal.err"
ok $? "TERM-ignoring process was killed after the grace period"

# --- helpers ---------------------------------------------------------------------------
port=$(free_port)
like "$port" '^[0-9]+$' "free_port gives a port"
ok_cmd "nobody listens on it" bash -c "! timeout 1 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$port' 2>/dev/null"
wait_for 0.3 false
ok $((! $?)) "wait_for times out with status 1"

done_testing

# shellcheck shell=bash
# tests/lib.sh - sourced by every end-to-end test tests/t/*.t (TAP, run by prove).
#
#   #!/usr/bin/env bash
#   . "$(dirname "$0")/../lib.sh"
#   plan 3                          # or call done_testing at the end
#   start_broker -t ticks:3         # exports BROKERS
#   ok_cmd "produce" sh -c "seq 10 | kcat -b $BROKERS -P -t ticks"
#   is "$(topic_count ticks)" 10 "all messages there"
#   broker_cmd "down 1"; pass "broker down"
#
# Environment: ROOT (repo top), BIN (binaries: $ROOT/build/san/bin when it
# exists, else $ROOT/bin), DATA ($ROOT/tests/data), T (this test's temp dir,
# removed at exit unless KEEP_TMP=1).  Every process started with spawn is
# killed at exit (TERM, then KILL after 3 s), also on failure or interrupt.
# Failure diagnostics go to stderr with a "# " prefix; nothing but TAP goes
# to stdout.  The exit status is the number of failed tests (max 254).
#
# TAP:       plan N | done_testing | skip_all WHY | bail WHY | diag MSG | note MSG
#            ok STATUS NAME | pass NAME | fail NAME | skip WHY [N]
#            ok_cmd NAME CMD... | not_ok_cmd NAME CMD... | is GOT WANT NAME
#            isnt GOT WANT NAME | like GOT ERE NAME | cmp_ok A -op B NAME
# processes: spawn NAME CMD... | stop NAME [SIG] | wait_exit NAME SECS | adopt NAME PID
#            running NAME | pid_of NAME        (logs: $T/NAME.out, $T/NAME.err)
# services:  start_broker [kafka-mock args] (BROKERS) | broker_cmd "down 1"
#            on_kafka (TEST_BROKER=kafka: Apache Kafka instead of kafka-mock)
#            start_feed [feed-server args] (FEED_PORT, FEED_URL)
# helpers:   wait_for SECS CMD... | topic_dump TOPIC [PART] | topic_count TOPIC
#            reappends WANT GOT | topic_reappends TOPIC PRODUCT | free_port | t_tmp
#            LOG_TS (the time that starts a log line: "^$LOG_TS % error:")
#
# Without a plan, reaching the end of the script counts as done_testing; an
# explicit non-zero exit (or set -e/-u abort) leaves no plan, so prove flags it.
#
# kafka-mock consumer groups: after the last member leaves (or times out), the
# mock admits a new member only after session.timeout.ms - 1 s of the previous
# member; use e.g. -X session.timeout.ms=6000 for consumers that restart.

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
if [[ -z ${BIN:-} ]]; then
	if [[ -d $ROOT/build/san/bin ]]; then BIN=$ROOT/build/san/bin; else BIN=$ROOT/bin; fi
fi
BIN=$(cd "$BIN" 2>/dev/null && pwd || echo "$BIN")
DATA=${DATA:-$ROOT/tests/data}
export ROOT BIN DATA

. "$ROOT/tests/san-env.sh"

# --- state -------------------------------------------------------------------
_T_RUN=0         # tests run
_T_FAILED=0      # tests failed
_T_PLANNED=""    # number from plan, or "done" after done_testing
_T_CLEANED=0
_T_LAST_FAIL=""  # number of the last failed test
declare -A _PIDS=()   # spawn name -> pid
_BROKER_FD=""
_BROKER_ANS=0    # answers read from the broker so far

# --- temp dir ------------------------------------------------------------------
# t_tmp: creates (once) and prints this test's temp dir; also sets T.
t_tmp() {
	if [[ -z ${T:-} || ! -d $T ]]; then
		T=$(mktemp -d "${TMPDIR:-/tmp}/t.$(basename "$0" .t).XXXXXX") || bail "mktemp failed"
		export T
	fi
	printf '%s\n' "$T"
}
T=""
t_tmp >/dev/null
# The producer's default spool ($STATE_DIRECTORY/producer-spool): in the
# test's temp dir, not in the directory the tests run from.
export STATE_DIRECTORY=$T

# --- TAP -------------------------------------------------------------------------
# diag MSG...: each argument (and each line in it) as a "# " line on stderr.
diag() {
	local arg line
	for arg in "$@"; do
		while IFS= read -r line; do printf '# %s\n' "$line" >&2; done <<<"$arg"
	done
}
# note MSG...: the same on stdout (part of the TAP stream, shown by prove -v).
note() {
	local arg line
	for arg in "$@"; do
		while IFS= read -r line; do printf '# %s\n' "$line"; done <<<"$arg"
	done
}
plan() {
	[[ -n $_T_PLANNED ]] && bail "plan given twice"
	_T_PLANNED=$1
	printf '1..%d\n' "$1"
}
done_testing() {
	[[ -n $_T_PLANNED ]] && return 0
	_T_PLANNED=done
	printf '1..%d\n' "$_T_RUN"
}
skip_all() {
	_T_PLANNED=skip
	printf '1..0 # SKIP %s\n' "$*"
	exit 0
}
bail() {
	# _BAIL_WHY: what the failed helper (e.g. start_broker) found, so that
	# prove's one-line report of the bail says it.
	printf 'Bail out! %s%s\n' "$*" "${_BAIL_WHY:+ ($_BAIL_WHY)}"
	_T_PLANNED=bail
	exit 255
}
# ok STATUS NAME: passes when STATUS is 0 (e.g. ok $? "name", ok "$((a == b))" is wrong: use ok_cmd/is).
ok() {
	local st=$1; shift
	_T_RUN=$((_T_RUN + 1))
	if [[ $st == 0 ]]; then
		printf 'ok %d - %s\n' "$_T_RUN" "$*"
		return 0
	fi
	_T_FAILED=$((_T_FAILED + 1))
	_T_LAST_FAIL=$_T_RUN
	printf 'not ok %d - %s\n' "$_T_RUN" "$*"
	# Report the first caller outside this file.
	local i where=""
	for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
		if [[ ${BASH_SOURCE[i]} != "${BASH_SOURCE[0]}" ]]; then
			where="${BASH_SOURCE[i]} line ${BASH_LINENO[i - 1]}"
			break
		fi
	done
	diag "  Failed test '$*'${where:+$'\n'  at $where.}"
	return 1
}
pass() { ok 0 "$*"; }
fail() { ok 1 "$*"; }
skip() { # skip REASON [COUNT]
	local i n=${2:-1}
	for ((i = 0; i < n; i++)); do
		_T_RUN=$((_T_RUN + 1))
		printf 'ok %d # skip %s\n' "$_T_RUN" "$1"
	done
}
# ok_cmd NAME CMD...: passes when CMD exits 0.  CMD's output is kept out of
# the TAP stream and shown (tail) on failure.
ok_cmd() {
	local name=$1 st out=$T/.ok_cmd.out; shift
	"$@" >"$out" 2>&1
	st=$?
	if ok "$st" "$name"; then return 0; fi
	diag "  command: $*" "  exit status: $st"
	[[ -s $out ]] && diag "$(tail -n 20 "$out")"
	return 1
}
# not_ok_cmd NAME CMD...: passes when CMD exits non-zero.
not_ok_cmd() {
	local name=$1 st out=$T/.ok_cmd.out; shift
	"$@" >"$out" 2>&1
	st=$?
	if [[ $st != 0 ]]; then ok 0 "$name"; return 0; fi
	ok 1 "$name"
	diag "  command unexpectedly succeeded: $*"
	return 1
}
# is GOT WANT NAME
is() {
	local got=$1 want=$2; shift 2
	if [[ $got == "$want" ]]; then ok 0 "$*"; return 0; fi
	ok 1 "$*"
	if [[ $got == *$'\n'* || $want == *$'\n'* ]]; then
		diag "  diff -u want got:"
		diag "$(diff -u <(printf '%s\n' "$want") <(printf '%s\n' "$got") | tail -n +3 | head -n 40)"
	else
		diag "         got: '$got'" "    expected: '$want'"
	fi
	return 1
}
isnt() {
	local got=$1 notwant=$2; shift 2
	if [[ $got != "$notwant" ]]; then ok 0 "$*"; return 0; fi
	ok 1 "$*"
	diag "         got: '$got'" "    expected: anything else"
	return 1
}
# like GOT REGEX NAME (bash extended regex)
like() {
	local got=$1 re=$2; shift 2
	if [[ $got =~ $re ]]; then ok 0 "$*"; return 0; fi
	ok 1 "$*"
	diag "                  '$got'" "    doesn't match '$re'"
	return 1
}
# bounded_run GROUP TOPIC [ARGS...]: aggregator --available-now on TOPIC
# (--assign), state $T/TOPIC.db, output $T/TOPIC.csv, stderr $T/TOPIC.err
bounded_run() {
	local g=$1 t=$2; shift 2
	timeout 60 "$BIN/aggregator" -b "$BROKERS" -g "$g" -t "$t" --assign --available-now --progress-interval 0 \
		--idle-timeout 10m --state "$T/$t.db" --output "$T/$t.csv" "$@" 2>"$T/$t.err"
}
# unlike GOT REGEX NAME: GOT does not match
unlike() {
	local got=$1 re=$2; shift 2
	if ! [[ $got =~ $re ]]; then ok 0 "$*"; return 0; fi
	ok 1 "$*"
	diag "                  '$got'" "    matches '$re'"
	return 1
}
# cmp_ok A OP B NAME with OP one of -eq -ne -lt -le -gt -ge
cmp_ok() {
	local a=$1 op=$2 b=$3; shift 3
	if [ "$a" "$op" "$b" ] 2>/dev/null; then ok 0 "$*"; return 0; fi
	ok 1 "$*"
	diag "    '$a'" "        $op" "    '$b'"
	return 1
}

# --- processes -------------------------------------------------------------------
# _alive PID: running and not a zombie.
_alive() {
	local f
	kill -0 "$1" 2>/dev/null || return 1
	f=$(_procstat "$1") || return 1
	[[ ${f%% *} != Z ]]
}
# _procstat PID: /proc/PID/stat from the state field on ("S ppid pgrp ...").
_procstat() {
	local line
	read -r line 2>/dev/null <"/proc/$1/stat" || return 1
	printf '%s\n' "${line##*) }"
}

_SETSID=$(command -v setsid || true)
# _signal SIG PID: to the process group of PID when it leads one, else PID.
_signal() {
	if [[ -n $_SETSID ]] && kill -s "$1" -- "-$2" 2>/dev/null; then return 0; fi
	kill -s "$1" "$2" 2>/dev/null
}

# spawn NAME CMD...: runs CMD in the background, stdout/stderr to $T/NAME.out
# and $T/NAME.err, stdin from $SPAWN_STDIN (default /dev/null).  Sets the
# pid in SPAWNED_PID and remembers it for stop/wait_exit/cleanup.
spawn() {
	local name=$1; shift
	[[ -n ${_PIDS[$name]:-} ]] && _alive "${_PIDS[$name]}" && bail "spawn: '$name' already running"
	# Own session and process group (setsid execs in place: same pid), so
	# signals reach whatever CMD forks too.
	$_SETSID "$@" <"${SPAWN_STDIN:-/dev/null}" >"$T/$name.out" 2>"$T/$name.err" &
	SPAWNED_PID=$!
	_PIDS[$name]=$SPAWNED_PID
	# Until setsid has run, a signal would hit the forked shell (which can
	# lose it); wait (up to 2 s) for the new process group.
	if [[ -n $_SETSID ]]; then
		local i f
		for ((i = 0; i < 200; i++)); do
			f=$(_procstat "$SPAWNED_PID") || break
			read -r _ _ f _ <<<"$f"
			[[ $f == "$SPAWNED_PID" ]] && break
			sleep 0.01
		done
	fi
	return 0
}
# adopt NAME PID: a process started elsewhere (e.g. a daemon that detached)
# is stopped and cleaned up like a spawned one.
adopt() { _PIDS[$1]=$2; }
# pid_of NAME
pid_of() { printf '%s\n' "${_PIDS[$1]:-}"; }
# running NAME: the spawned process is still alive.
running() { [[ -n ${_PIDS[$1]:-} ]] && _alive "${_PIDS[$1]}"; }

# wait_exit NAME TIMEOUT: waits for the process to exit; returns its exit
# status (128+N when killed by signal N), or 124 after TIMEOUT seconds
# (process left running).
wait_exit() {
	local name=$1 timeout=${2:-10} pid deadline
	pid=${_PIDS[$name]:-}
	[[ -z $pid ]] && { diag "wait_exit: no process '$name'"; return 127; }
	deadline=$(_deadline "$timeout")
	while _alive "$pid"; do
		if _past "$deadline"; then
			diag "wait_exit: '$name' (pid $pid) still running after ${timeout}s"
			return 124
		fi
		sleep 0.05
	done
	{ wait "$pid"; } 2>/dev/null
	local st=$?
	_PIDS[$name]=""
	unset "_PIDS[$name]"
	return $st
}
# stop NAME [SIGNAL]: sends SIGNAL (default TERM), waits up to 10 s (then
# KILLs); returns the exit status.
stop() {
	local name=$1 sig=${2:-TERM} pid st
	pid=${_PIDS[$name]:-}
	[[ -z $pid ]] && { diag "stop: no process '$name'"; return 127; }
	_signal "$sig" "$pid"
	wait_exit "$name" "${STOP_TIMEOUT:-10}"
	st=$?
	if [[ $st == 124 ]]; then
		_signal KILL "$pid"
		{ wait "$pid"; } 2>/dev/null
		unset "_PIDS[$name]"
	fi
	return $st
}

_cleanup() { # [EXIT_STATUS]
	local name pid st=${1:-0} deadline left
	((_T_CLEANED)) && return
	_T_CLEANED=1
	[[ -n $_BROKER_FD ]] && exec {_BROKER_FD}>&-
	# TERM everyone, then KILL stragglers after 3 s.
	for name in "${!_PIDS[@]}"; do
		pid=${_PIDS[$name]}
		[[ -n $pid ]] && _signal TERM "$pid"
	done
	deadline=$(_deadline 3)
	while :; do
		left=0
		for name in "${!_PIDS[@]}"; do
			pid=${_PIDS[$name]}
			[[ -n $pid ]] && _alive "$pid" && left=1
		done
		((left)) || break
		if _past "$deadline"; then
			for name in "${!_PIDS[@]}"; do
				pid=${_PIDS[$name]}
				if [[ -n $pid ]] && _alive "$pid"; then
					printf '# %s (pid %s) ignored SIGTERM, killing\n' "$name" "$pid" >&2
					_signal KILL "$pid"
				fi
			done
			break
		fi
		sleep 0.05
	done
	for name in "${!_PIDS[@]}"; do
		pid=${_PIDS[$name]}
		[[ -n $pid ]] || continue
		# Leftovers of the process group (children of an exited leader).
		[[ -n $_SETSID ]] && kill -s KILL -- "-$pid" 2>/dev/null
		{ wait "$pid"; } 2>/dev/null
	done
	# Show what the helpers said when something went wrong.
	if ((_T_FAILED)) || [[ $st != 0 && $_T_PLANNED != skip ]]; then
		local f
		for f in "$T"/*.err; do
			[[ -s $f ]] || continue
			printf '# --- %s (last 15 lines) ---\n' "${f##*/}" >&2
			tail -n 15 "$f" | sed 's/^/#   /' >&2
		done
	fi
	if [[ ${KEEP_TMP:-0} == 1 ]]; then
		printf '# KEEP_TMP=1: kept %s\n' "$T" >&2
	elif [[ -n $T && -d $T ]]; then
		rm -rf -- "$T"
	fi
}
_on_exit() {
	local st=$? cmd=$BASH_COMMAND
	_cleanup "$st"
	case $_T_PLANNED in
	skip | bail) exit "$st" ;;
	"")
		# No plan: reaching the end of the script means done_testing.  The
		# end may be a failed assertion as the last command; anything else
		# non-zero (exit N, set -e/-u abort) is a death: no plan, so prove
		# reports it.
		if [[ $st == 0 || ($st == 1 && $cmd == "return 1" && $_T_LAST_FAIL == "$_T_RUN") ]]; then
			printf '1..%d\n' "$_T_RUN"
		else
			printf '# test script died (exit %d) after %d test(s)\n' "$st" "$_T_RUN" >&2
			exit "$st"
		fi
		;;
	done) ;;
	*)
		if [[ $_T_PLANNED != "$_T_RUN" ]]; then
			printf '# planned %s test(s) but ran %d\n' "$_T_PLANNED" "$_T_RUN" >&2
			((_T_FAILED == 0)) && exit 255
		fi
		;;
	esac
	if ((_T_FAILED)); then
		printf '# failed %d of %d test(s)\n' "$_T_FAILED" "$_T_RUN" >&2
		exit $((_T_FAILED > 254 ? 254 : _T_FAILED))
	fi
	exit "$st"
}
_on_signal() {
	printf '# interrupted by SIG%s\n' "$1" >&2
	trap - "$1"
	_cleanup 1
	_T_PLANNED=bail   # no plan line: prove reports the interruption
	exit $((128 + $2))
}
trap _on_exit EXIT
trap '_on_signal INT 2' INT
trap '_on_signal TERM 15' TERM
trap '_on_signal HUP 1' HUP

# --- time ------------------------------------------------------------------------
# Microsecond timestamps from $EPOCHREALTIME (bash 5).
_now_us() { local t=${EPOCHREALTIME/./}; printf '%s\n' "$((10#$t))"; }
_deadline() { # SECONDS (may be fractional) -> absolute deadline in us
	local s=$1 us
	us=$(awk -v s="$s" 'BEGIN { printf "%d", s * 1000000 }')
	printf '%s\n' "$(($(_now_us) + us))"
}
_past() { (($(_now_us) >= $1)); }

# wait_for TIMEOUT CMD...: retries CMD every 0.1 s until it succeeds (0) or
# TIMEOUT seconds pass (1).
wait_for() {
	local deadline
	deadline=$(_deadline "$1"); shift
	while :; do
		"$@" && return 0
		_past "$deadline" && return 1
		sleep 0.1
	done
}

# --- broker ----------------------------------------------------------------------
# TEST_BROKER picks the broker (tests/run.sh runs each test on every broker its
# "# brokers:" line names):
#   mock   $BIN/kafka-mock, librdkafka's mock cluster (default)
#   kafka  Apache Kafka (scripts/kafka run), single node, its log in $T/kafka
TEST_BROKER=${TEST_BROKER:-mock}
export TEST_BROKER
# on_kafka: this run uses the real broker.
on_kafka() { [[ $TEST_BROKER == kafka ]]; }

# start_broker [kafka-mock args...]: starts the broker (name "broker") and
# exports BROKERS.  On the mock: $BIN/kafka-mock with its stdin on a FIFO held
# open here, up to 10 s for the bootstrap line.  On Kafka: the same -t
# NAME[:PARTITIONS] and -p DEFAULT topics (CreateTopics, replication 1; -b is
# ignored: one node), KAFKA_CONFIG (broker properties, one key=value a word)
# added; up to 60 s to answer.
start_broker() {
	running broker && bail "start_broker: a broker is already running"
	if on_kafka; then _start_kafka "$@"; else _start_mock "$@"; fi
}
_start_mock() {
	local fifo=$T/broker.in deadline
	[[ -x $BIN/kafka-mock ]] || bail "no $BIN/kafka-mock (run make)"
	rm -f "$fifo"
	mkfifo "$fifo" || bail "mkfifo $fifo failed"
	# Read-write open of a FIFO does not block waiting for the other side.
	exec {_BROKER_FD}<>"$fifo"
	_BROKER_ANS=0
	SPAWN_STDIN=$fifo spawn broker "$BIN/kafka-mock" "$@"
	deadline=$(_deadline 10)
	until (($(wc -l <"$T/broker.out") >= 1)); do
		if ! running broker; then
			_BAIL_WHY="kafka-mock exited early: $(tail -n 2 "$T/broker.err" | tr '\n' ' ')"
			diag "kafka-mock exited early:" "$(tail -n 20 "$T/broker.err")"
			return 1
		fi
		if _past "$deadline"; then
			_BAIL_WHY="kafka-mock printed no bootstrap address within 10 s"
			diag "$_BAIL_WHY"
			return 1
		fi
		sleep 0.05
	done
	BROKERS=$(head -n 1 "$T/broker.out")
	export BROKERS
	return 0
}
_start_kafka() {
	local o topics=() dflt=1 kv cfg=()
	local OPTIND=1
	while getopts "b:t:p:" o; do
		case $o in
		b) ;;
		t) topics+=("$OPTARG") ;;
		p) dflt=$OPTARG ;;
		*) bail "start_broker: no such option on Kafka" ;;
		esac
	done
	# No retention by time: the producer stamps each message with its tick's
	# time, and the fixture's ticks are from 2023, far past Kafka's 7 days:
	# the broker would delete them at once.  Retention by size (per topic)
	# is checked every second from the first (Kafka's 5 minutes, first after
	# 30 s, would outlast a test).
	for kv in log.retention.ms=-1 log.retention.check.interval.ms=1000 log.initial.task.delay.ms=1000 \
		${KAFKA_CONFIG:-}; do
		cfg+=(-o "$kv")
	done
	if ! _kafka_run "${cfg[@]}"; then
		# Seen once in a fresh root (the cause went with its temp dir): a new
		# broker that stopped during its start gets one more try, in a new
		# directory, on new ports; what it said stays in the test's stderr.
		diag "Kafka did not start; its ERROR lines:" "$(grep -hE '(ERROR|FATAL|Exception)' "$T/kafka/logs/server.log" 2>/dev/null | head -n 10)" \
			"retrying once in a new directory"
		running broker && stop broker KILL >/dev/null
		mv "$T/kafka" "$T/kafka.failed" 2>/dev/null
		_kafka_run "${cfg[@]}" || return 1
	fi
	for o in "${topics[@]}"; do
		[[ $o == *:* ]] || o=$o:$dflt
		"$BIN/kafka-admin" -b "$BROKERS" create "$o" >"$T/.admin.out" 2>&1 || {
			_BAIL_WHY="creating topic $o failed: $(tr '\n' ' ' <"$T/.admin.out")"
			diag "$_BAIL_WHY"
			return 1
		}
	done
	# CreateTopics returns before every answer to Metadata knows the topic:
	# an aggregator --assign started at once was told "Unknown topic or
	# partition" (tests/t/106, once).  Each topic with a leader for each
	# partition, up to 30 s.
	for o in "${topics[@]}"; do
		wait_for 30 _topic_ready "${o%%:*}" || {
			_BAIL_WHY="topic ${o%%:*} created but not in the metadata within 30 s"
			diag "$_BAIL_WHY"
			return 1
		}
	done
	return 0
}
# _topic_ready NAME: the broker's metadata has the topic, every partition
# with a leader.
_topic_ready() {
	local md
	md=$(timeout 10 kcat -b "$BROKERS" -L -t "$1" 2>/dev/null) || return 1
	[[ $md =~ topic\ \"$1\"\ with\ [1-9][0-9]*\ partitions:$'\n' ]] && [[ $md != *"leader -1"* ]]
}
# _kafka_run [-o key=value]...: (re)starts the Kafka broker of $T/kafka and
# waits until it answers.
_kafka_run() {
	local deadline
	spawn broker "$ROOT/scripts/kafka" run -d "$T/kafka" "$@"
	BROKERS=$(KAFKA_START_TIMEOUT=60 KAFKA_WAIT_PID=$SPAWNED_PID "$ROOT/scripts/kafka" wait -d "$T/kafka" \
		2>"$T/.kafka-wait.err")
	if [[ -z $BROKERS ]] || ! running broker; then
		_BAIL_WHY="Kafka did not start: $(tail -n 1 "$T/.kafka-wait.err" 2>/dev/null)$(tail -n 3 "$T/broker.err" "$T/broker.out" 2>/dev/null | tr '\n' ' ')"
		diag "Kafka did not start:" "$(cat "$T/.kafka-wait.err")" "$(tail -n 20 "$T/broker.err" "$T/broker.out" 2>/dev/null)"
		return 1
	fi
	export BROKERS
	return 0
}

# broker_cmd "COMMAND": sends one control command to the broker, waits (10 s)
# for its answer, which is left in BROKER_REPLY.  Returns 0 on "ok".  On Kafka:
# "down 1" kills the broker process (SIGKILL, as a crash), "up 1" restarts it
# from its log dir on the same ports; "topic NAME N" is CreateTopics; "ping";
# every other command exists only on the mock (an error here).
broker_cmd() {
	if on_kafka; then _kafka_cmd "$@"; return; fi
	local want deadline
	BROKER_REPLY=""
	[[ -n $_BROKER_FD ]] && running broker || { diag "broker_cmd: no broker running"; return 1; }
	printf '%s\n' "$*" >&"$_BROKER_FD"
	_BROKER_ANS=$((_BROKER_ANS + 1))
	want=$((_BROKER_ANS + 1))   # the bootstrap line comes first
	deadline=$(_deadline 10)
	while (($(wc -l <"$T/broker.out") < want)); do
		if _past "$deadline" || ! running broker; then
			diag "broker_cmd '$*': no answer"
			return 1
		fi
		sleep 0.02
	done
	BROKER_REPLY=$(sed -n "${want}p" "$T/broker.out")
	[[ $BROKER_REPLY == ok ]] && return 0
	diag "broker: $* -> $BROKER_REPLY"
	return 1
}
_kafka_cmd() {
	local words
	read -r -a words <<<"$*"
	BROKER_REPLY=ok
	case ${words[0]:-}:${words[1]:-} in
	down:1)
		running broker || { BROKER_REPLY="error: not running"; return 1; }
		stop broker KILL >/dev/null
		return 0
		;;
	up:1)
		running broker && { BROKER_REPLY="error: running"; return 1; }
		# The killed JVM's pid file names a dead process: run starts anew.
		_kafka_run && return 0
		BROKER_REPLY="error: restart failed"
		;;
	topic:*)
		"$BIN/kafka-admin" -b "$BROKERS" create "${words[1]}:${words[2]:-1}" >"$T/.admin.out" 2>&1 && return 0
		BROKER_REPLY="error: $(cat "$T/.admin.out")"
		;;
	ping:) running broker && return 0; BROKER_REPLY="error: not running" ;;
	*) BROKER_REPLY="error: '$*' exists only on kafka-mock" ;;
	esac
	diag "broker: $* -> $BROKER_REPLY"
	return 1
}

# --- feed server -------------------------------------------------------------------
# start_feed [feed-server args...]: starts $BIN/feed-server (name "feed") on a
# free port, waits up to FEED_START_TIMEOUT (10) s for its port file (it loads
# the whole file first); exports FEED_PORT, FEED_URL.
start_feed() {
	local a scheme=ws deadline
	[[ -x $BIN/feed-server ]] || bail "no $BIN/feed-server (run make)"
	for a in "$@"; do [[ $a == --tls ]] && scheme=wss; done
	rm -f "$T/feed.port"
	spawn feed "$BIN/feed-server" --port 0 --port-file "$T/feed.port" "$@"
	deadline=$(_deadline "${FEED_START_TIMEOUT:-10}")
	until [[ -s $T/feed.port && $(<"$T/feed.port") =~ ^[0-9]+$ ]]; do
		if ! running feed; then
			diag "feed-server exited early:" "$(tail -n 20 "$T/feed.err")"
			return 1
		fi
		if _past "$deadline"; then
			diag "feed-server wrote no port file within ${FEED_START_TIMEOUT:-10} s"
			return 1
		fi
		sleep 0.05
	done
	FEED_PORT=$(<"$T/feed.port")
	FEED_URL=$scheme://127.0.0.1:$FEED_PORT
	export FEED_PORT FEED_URL
	return 0
}

# --- Kafka helpers ---------------------------------------------------------------------
# topic_dump TOPIC [PARTITION]: every message value, one per line.
topic_dump() {
	local part=()
	[[ -n ${2:-} ]] && part=(-p "$2")
	timeout 20 kcat -b "$BROKERS" -C -t "$1" "${part[@]}" -o beginning -e -q -f '%s\n'
}
# split_fixture_closed: the fixture split for two BTC-USD partitions and one
# of ETH-USD, as the group tests load it: $T/btc.0 and $T/btc.1 (every other
# BTC-USD tick) and $T/eth, each ending in 3 ticks at 16:00 after its last,
# which close every window of the fixture; $T/btc holds BTC-USD's ticks.
split_fixture_closed() {
	local i
	_closing() { # FILE: 3 ticks at 16:00 after FILE's last
		tail -n 1 "$1" | jq -c '[range(1; 4) as $k | .sequence += $k | .trade_id += $k |
			.time = "2023-04-24T16:00:0\($k).000000Z"] | .[]'
	}
	grep -F '"product_id":"BTC-USD"' "$FIX" >"$T/btc"
	grep -F '"product_id":"ETH-USD"' "$FIX" >"$T/eth"
	for i in 0 1; do
		awk -v i=$i 'NR % 2 == i' "$T/btc" >"$T/btc.$i"
		_closing "$T/btc.$i" >>"$T/btc.$i"
	done
	_closing "$T/eth" >>"$T/eth"
}
# topic_count TOPIC: number of messages over all partitions.
topic_count() {
	timeout 20 kcat -b "$BROKERS" -C -t "$1" -o beginning -e -q -f '.\n' | wc -l
}
# reappends WANT GOT: GOT (a topic's lines) is WANT (the lines published,
# in order) where the only extra lines are re-appended batches: a run of
# lines already in the log, in their order, repeated right where the log had
# got to (the idempotent producer retried a batch whose ack was lost, and the
# broker appended it again).  Prints the number of re-appended lines; exit 1
# with a diagnostic on anything else (a line missing, out of order, or a copy
# that is not such a run).  kafka-mock does this: librdkafka's mock broker
# checks producer sequence numbers only for transactional producers
# (rd_kafka_mock_validate_records); a real broker acks the retry as a
# duplicate and appends nothing.
reappends() {
	awk 'BEGIN { n = k = copies = 0; copy = -1 }
	     NR == FNR { want[n++] = $0; if (!($0 in at)) at[$0] = n - 1; next }
	     copy >= 0 && copy < k && $0 == want[copy] { copy++; copies++; next }
	     copy >= 0 && copy < k { printf "line %d: copy of lines %d.. breaks off at %d of %d\n", FNR, start + 1, copy + 1, k; bad = 1; exit }
	     k < n && $0 == want[k] { k++; copy = -1; next }
	     ($0 in at) && at[$0] < k { copy = at[$0] + 1; start = at[$0]; copies++; next }
	     { printf "line %d: not the next line published (%d of %d): %.80s\n", FNR, k + 1, n, $0; bad = 1; exit }
	     END { if (bad) exit 1
	           if (copy >= 0 && copy < k) { printf "a copy breaks off at the end (%d of %d)\n", copy + 1, k; exit 1 }
	           if (k < n) { printf "%d of %d lines missing from the end\n", n - k, n; exit 1 }
	           print copies }' "$1" "$2" >"$T/reappends.out" 2>&1
	local rc=$?
	if ((rc)); then diag "reappends $2: $(cat "$T/reappends.out")"; return 1; fi
	cat "$T/reappends.out"
}
# topic_reappends TOPIC PRODUCT: reappends of the fixture's PRODUCT ticks
# ($T/want.PRODUCT) against TOPIC's messages ($T/got.TOPIC).
topic_reappends() {
	grep -F "\"product_id\":\"$2\"" "$FIX" >"$T/want.$2"
	topic_dump "$1" >"$T/got.$1"
	reappends "$T/want.$2" "$T/got.$1"
}

# --- the fixture and the programs' counters ---------------------------------------
# LOG_TS: the UTC time (an ERE) that starts every log line of the producer and
# the aggregator here (their stderr is a file: --log-time auto), so that
# "^$LOG_TS % error:" is an error line.
LOG_TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
# FIX: the recorded ticks; NB, NE: how many of them are BTC-USD and ETH-USD.
FIX=$DATA/ticks.jsonl
NB=$(grep -c '"product_id":"BTC-USD"' "$FIX" 2>/dev/null)
NE=$(grep -c '"product_id":"ETH-USD"' "$FIX" 2>/dev/null)
# topics_full: topics BTC-USD and ETH-USD hold (at least) the whole fixture.
topics_full() { [[ $(topic_count BTC-USD) -ge $NB && $(topic_count ETH-USD) -ge $NE ]]; }
# producer_counter NAME: the last value of NAME in the producer's status/final
# lines ($T/producer.err).
producer_counter() {
	grep -E "^$LOG_TS % (info|warning): (status|final):" "$T/producer.err" | tail -n 1 | grep -oE " $1 [0-9]+" | awk '{print $2}'
}
# delivered_at_least N: the producer reports N or more messages delivered.
delivered_at_least() { [[ $(producer_counter delivered) -ge $1 ]]; }
# state_dump DB: an aggregator state's windows, offsets, counters and meta, in
# a stable order (to compare two states; the consumer group each ran in is
# left out: two runs to compare use two groups).
state_dump() {
	sqlite3 "$1" "SELECT * FROM windows ORDER BY product_id, window_start, topic, partition;
	              SELECT topic, partition, next_offset, max_time, rejected FROM partitions ORDER BY 1, 2;
	              SELECT * FROM products ORDER BY 1, 2, 3;
	              SELECT key, value FROM meta WHERE key NOT IN ('group', 'group_mode') ORDER BY key"
}

# free_port: a TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if ! timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null; then
			printf '%s\n' "$p"
			return 0
		fi
	done
	return 1
}

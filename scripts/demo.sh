#!/usr/bin/env bash
# scripts/demo.sh - the whole pipeline on one machine, nothing to set up.
#
#   scripts/demo.sh [BIN]          (make demo)  replay tests/data/ticks.jsonl
#   scripts/demo.sh --live [BIN]   (make run)   the real Coinbase feed, until Ctrl-C
#   scripts/demo.sh --replay FILE [--speed N] [BIN]
#                                  (make replay) FILE through the live path
#
# Demo: starts the embedded broker (kafka-mock), the local feed (feed-server)
# replaying the fixture sped up, the producer and the aggregator; shows their
# output live, each line prefixed with the program's name, and the address of
# the live page (the aggregator's --http; the producer's page beside it);
# stops by itself once every tick of the fixture went through Kafka into the
# aggregator's state; leaves demo/output.csv, demo/state.db, demo/output.png
# and demo/logs/, and the same windows as candles: demo/candles.csv
# (aggregator export --columns candles) and demo/candles.png.  Then, when its
# output is a terminal, the page stays for DEMO_SERVE seconds (aggregator
# serve over demo/state.db) or until Ctrl-C; elsewhere (CI, a pipe) it ends.
# A new run starts from an empty demo/.
#
# Live (scripts/run.sh): the producer reads the real feed (its default URL, or
# FEED_URL) into KAFKA_BROKERS when set, else into a local Apache Kafka
# (scripts/kafka) whose log is kept in RUN_DIR/kafka/, so the next run resumes
# on the same topics; the aggregator (group coinbase-windows) writes
# demo/live/ (RUN_DIR) and serves the live page until Ctrl-C.  When the feed cannot be reached, it
# says so within seconds, with how to replay instead (the producer keeps
# retrying).
#
# Replay (scripts/run.sh --replay FILE, make replay): FILE (JSON lines of
# Coinbase ticker messages, as tests/data/ticks.jsonl; bin/gen-ticks makes
# more) served by the local feed (feed-server) at --speed N (30; 0 = flat
# out), through the producer into a fresh local Apache Kafka in
# REPLAY_DIR/kafka (or REPLAY_BROKERS), and the aggregator in a consumer group
# (REPLAY_GROUP), as make run has them; stops by itself once every tick is in
# the aggregator's state, and leaves REPLAY_DIR (demo/replay/, emptied at the
# start) as the demo leaves demo/.  The topics it creates keep every record
# whatever its time (retention.ms=-1, retention.bytes 1 GiB a partition):
# Kafka's default 7 days, counted from the ticks' own times, deletes recorded
# ticks minutes after they are written.  An existing topic (REPLAY_BROKERS)
# that would delete them is named in a warning with the command that fixes it.
# make run's local Kafka creates its topics in the same way.
#
# Ctrl-C (or SIGTERM) stops everything in order: producer and feed first, then
# the aggregator (it finishes its batch, commits, exports and exits 0), then the
# broker.  No process is left behind.  A run killed with SIGKILL cannot stop
# its programs: the next run in the same directory stops them first (their
# pids are in OUT/pids).  Each program's log (OUT/logs/NAME.log) is appended to
# by every run in that directory, each run's part after a "--- make ..." line;
# "exited unexpectedly" quotes only this run's part.
#
# Settings (environment):
#   DEMO_SPEED=30          replay speed (30 = 22 minutes of ticks in ~45 s; 0 = flat out);
#                          --speed N for a replay
#   DEMO_TICKS=FILE        JSON lines to replay (tests/data/ticks.jsonl)
#   DEMO_DIR=DIR           demo output directory (demo/; removed at start)
#   REPLAY_DIR=DIR         replay output directory (demo/replay/; emptied at start)
#   REPLAY_BROKERS=LIST    replay only: a Kafka cluster instead of the local broker
#                          (KAFKA_BROKERS is not used: recorded ticks stay out of
#                          the live job's topics unless asked for)
#   REPLAY_GROUP=ID        replay only: the aggregator's group (coinbase-windows-replay)
#   PRODUCTS=LIST          products / topics (BTC-USD,ETH-USD)
#   WINDOW=1m WATERMARK=2m the aggregator's window and watermark
#   PROGRESS=3             seconds between progress lines (live: 10)
#   DEMO_PORT=8080         the live page's port on 127.0.0.1 (taken: the next free
#                          one), the producer's page on the next free one; 0: none
#   DEMO_SERVE=SECONDS     demo only: how long the page stays after the run (600 when
#                          the output is a terminal, else 0: the demo ends at once)
#   KAFKA_BROKERS=LIST     live only: a Kafka cluster instead of the local broker
#   FEED_URL=URL           live only: feed URL (default: the producer's, Coinbase)
#   RUN_DIR=DIR            live only: output directory (demo/live/)
#   PRODUCER_ARGS, AGGREGATOR_ARGS   extra arguments, split on spaces
#                          (e.g. AGGREGATOR_ARGS="-X security.protocol=SSL")
set -uo pipefail

# MODE: demo (kafka-mock, the fixture), live (the real feed, Apache Kafka),
# replay (a file through the live path).  LIVE: live or replay, the modes
# on Apache Kafka (or a cluster) with a consumer group.
MODE=demo
REPLAY_FILE="" SPEED_SET=""
usage_error() { echo "demo: $* (try --help)" >&2; exit 2; }
while (($#)); do
	case $1 in
	-h | --help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	--live) [[ $MODE == replay ]] || MODE=live; shift ;;
	--replay)
		(($# >= 2)) || usage_error "--replay needs a FILE"
		MODE=replay REPLAY_FILE=$2
		# the caller's directory, before the cd below
		[[ $REPLAY_FILE == /* ]] || REPLAY_FILE=$PWD/$REPLAY_FILE
		shift 2
		;;
	--speed) (($# >= 2)) || usage_error "--speed needs a number"; DEMO_SPEED=$2 SPEED_SET=1; shift 2 ;;
	-*) usage_error "unknown option '$1'" ;;
	*) break ;;
	esac
done
(($# <= 1)) || usage_error "one BIN directory at most, not '$*'"
[[ $MODE == live && -n ${SPEED_SET:-} ]] && usage_error "--speed goes with --replay FILE (the live feed has its own pace)"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
BIN=${1:-bin}
BIN=$(cd "$BIN" 2>/dev/null && pwd) || { echo "demo: no directory '${1:-bin}' (run make first)" >&2; exit 1; }
case $MODE in demo) ME=demo LIVE=0 ;; live) ME=run LIVE=1 ;; replay) ME=replay LIVE=1 ;; esac

PRODUCTS=${PRODUCTS:-BTC-USD,ETH-USD}
WINDOW=${WINDOW:-1m}
WATERMARK=${WATERMARK:-2m}
DEMO_SPEED=${DEMO_SPEED:-30}
DEMO_TICKS=${DEMO_TICKS:-tests/data/ticks.jsonl}
case $MODE in
demo) OUT=${DEMO_DIR:-demo} PROGRESS=${PROGRESS:-3} ;;
live) OUT=${RUN_DIR:-demo/live} PROGRESS=${PROGRESS:-10} ;;
replay) OUT=${REPLAY_DIR:-demo/replay} PROGRESS=${PROGRESS:-3} DEMO_TICKS=$REPLAY_FILE ;;
esac
# The topics make replay (and make run's local Kafka) creates: every record
# kept whatever its time, bounded by size (Kafka deletes by time from each
# record's timestamp, here the tick's own time).
TOPIC_KEEP=(retention.ms=-1 retention.bytes=1073741824)
read -r -a PRODUCER_EXTRA <<<"${PRODUCER_ARGS:-}"
read -r -a AGGREGATOR_EXTRA <<<"${AGGREGATOR_ARGS:-}"

say() { printf '%s: %s\n' "$ME" "$*"; }
rel() { printf '%s\n' "${1#"$ROOT"/}"; }   # path relative to the repository
STATE="" CSV="" PNG="" LOGDIR=""
die() { printf '%s: error: %s\n' "$ME" "$*" >&2; exit 1; }

for p in kafka-mock kafka-admin feed-server producer aggregator; do
	[[ -x $BIN/$p ]] || die "no $BIN/$p: run 'make' first"
done
for t in sqlite3 setsid; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' not found: run 'make' (it installs what is missing)"
done
[[ $DEMO_SPEED =~ ^[0-9]+([.][0-9]+)?$ ]] || die "DEMO_SPEED must be a number (30 = 30x, 0 = as fast as possible), not '$DEMO_SPEED'"
[[ $PROGRESS =~ ^[0-9]+$ ]] || die "PROGRESS must be whole seconds, not '$PROGRESS'"
DEMO_PORT=${DEMO_PORT:-8080}
[[ $DEMO_PORT =~ ^[0-9]+$ ]] && ((DEMO_PORT < 65500)) || die "DEMO_PORT must be a port number (0: no page), not '$DEMO_PORT'"
# The page stays after the demo only for someone looking: a terminal.
if [[ -z ${DEMO_SERVE:-} ]]; then
	if [[ -t 1 ]]; then DEMO_SERVE=600; else DEMO_SERVE=0; fi
fi
[[ $DEMO_SERVE =~ ^[0-9]+$ ]] || die "DEMO_SERVE must be whole seconds (0: end at once), not '$DEMO_SERVE'"

# --- processes -----------------------------------------------------------------
# Each program runs in its own session (setsid), so the terminal's Ctrl-C
# reaches only this script, which then stops them in a safe order.  Their
# output goes through a filter that writes $OUT/logs/NAME.log (each line with
# its UTC time: their stderr is a pipe) and shows the line prefixed with NAME,
# without the date and the "% " (the terminal shows it as it happens); the
# filters ignore INT/TERM/HUP and end when their program is gone, so the last
# lines (final counters) are never lost.
# LOGFROM: where this run's part of each log begins (a byte offset).
declare -A PID=() FILTER=() STATUS=() LOGFROM=()

start() { # NAME CMD...
	local name=$1 fd tag log=$LOGDIR/$1.log; shift
	printf -v tag '%-10s|' "$name"
	# A resumed run appends to the same logs: this run's part begins here.
	printf -- '--- make %s, %s ---\n' "$ME" "$(date -u +%FT%TZ)" >>"$log"
	LOGFROM[$name]=$(stat -c %s "$log")
	exec {fd}> >(trap '' INT TERM HUP; tee -a "$log" | sed -u -E -e 's/^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z )?% //' -e "s/^/$tag /")
	FILTER[$name]=$!
	setsid "$@" </dev/null >&"$fd" 2>&1 &
	PID[$name]=$!
	exec {fd}>&-
	save_pids
}
# this run's part of NAME's log
own_log() { tail -c +"$((${LOGFROM[$1]:-0} + 1))" "$LOGDIR/$1.log" 2>/dev/null; }
# starttime PID VAR: VAR = the process's start time (field 22 of its stat),
# which tells it from a later process given the same pid; empty when gone.
# (No command substitution: see "Signals" below.)
starttime() {
	local st
	printf -v "$2" '%s' ""
	read -r st 2>/dev/null </proc/"$1"/stat || return 1
	st=${st##*) }
	read -r -a st <<<"$st"
	printf -v "$2" '%s' "${st[19]}"
}
# OUT/pids: NAME PID STARTTIME FILTER_PID FILTER_STARTTIME of every program
# running, for the next run when this one is killed with SIGKILL (its
# programs, each in its own session, outlive it; so do their log filters).
save_pids() {
	local name f pst fst
	for name in "${!PID[@]}"; do
		f=${FILTER[$name]:-0}
		starttime "${PID[$name]}" pst
		starttime "$f" fst
		printf '%s %s %s %s %s\n' "$name" "${PID[$name]}" "$pst" "$f" "$fst"
	done >"$OUT/pids.new" && mv -f -- "$OUT/pids.new" "$OUT/pids"
	[[ -s $OUT/pids ]] || rm -f -- "$OUT/pids"
}
# stop_leftovers: the programs a killed run in OUT left running are stopped
# as a run stops its own (producer first, broker last): an aggregator still
# holding the state, a broker holding the port would fail this run.
# Their filters are waited for: their last lines belong before this run's.
stop_leftovers() {
	local name pid st fpid fst i now
	local -A was=() filter=()
	[[ -s $OUT/pids ]] || return 0
	while read -r name pid st fpid fst; do
		[[ $pid =~ ^[0-9]+$ && -n $st ]] && starttime "$pid" now && [[ $now == "$st" ]] && was[$name]=$pid
		[[ $fpid =~ ^[0-9]+$ && -n $fst ]] && starttime "$fpid" now && [[ $now == "$fst" ]] && filter[$name]=$fpid
	done <"$OUT/pids"
	for name in producer feed aggregator catch-up broker; do
		if [[ -n ${was[$name]:-} ]]; then
			say "the previous run in $(rel "$OUT") was killed before it could stop its programs: stopping its $name (pid ${was[$name]})"
			PID[$name]=${was[$name]}
			stop "$name" 30
		fi
		for ((i = 0; i < 60; i++)); do
			[[ -n ${filter[$name]:-} ]] && kill -0 "${filter[$name]}" 2>/dev/null || break
			sleep 0.05
		done
	done
	STATUS=()
	rm -f -- "$OUT/pids"
}
alive() { # NAME: running (not exited, not a zombie)
	local pid=${PID[$1]:-} st
	[[ -n $pid ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	read -r st </proc/"$pid"/stat 2>/dev/null || return 1
	st=${st##*) }
	[[ ${st%% *} != Z ]]
}
reap() { # NAME: collects the exit status of a process that ended
	local pid=${PID[$1]:-}
	[[ -n $pid ]] || return 0
	wait "$pid" 2>/dev/null
	STATUS[$1]=$?
	unset "PID[$1]"
	save_pids
}
signal() { # SIG NAME: to the program's process group (falls back to the pid)
	local pid=${PID[$2]:-}
	[[ -n $pid ]] || return 0
	kill -s "$1" -- "-$pid" 2>/dev/null || kill -s "$1" "$pid" 2>/dev/null
}
stop() { # NAME [TIMEOUT_S]: SIGTERM, wait, SIGKILL after TIMEOUT (default 15 s)
	local name=$1 timeout=${2:-15} i
	[[ -n ${PID[$name]:-} ]] || return 0
	if alive "$name"; then
		signal TERM "$name"
		for ((i = 0; i < timeout * 10; i++)); do
			alive "$name" || break
			sleep 0.1
		done
		if alive "$name"; then
			say "$name did not stop within ${timeout}s: killing it"
			signal KILL "$name"
		fi
	fi
	signal KILL "$name"   # leftovers of its group, if any
	reap "$name"
}
stop_all() {
	local name i
	# Upstream first: no new ticks; then the aggregator commits what it has;
	# the broker last.
	stop producer 15
	stop feed 5
	stop aggregator 30
	stop catch-up 30
	stop broker 30
	stop serve 5
	# Filters end at EOF; give them a moment to print the last lines.
	for name in "${!FILTER[@]}"; do
		for ((i = 0; i < 30; i++)); do
			kill -0 "${FILTER[$name]}" 2>/dev/null || break
			sleep 0.05
		done
		kill -s KILL "${FILTER[$name]}" 2>/dev/null
		wait "${FILTER[$name]}" 2>/dev/null
		unset "FILTER[$name]"
	done
}

INTERRUPTED="" SERVING=0
on_exit() {
	local st=$?
	trap '' INT TERM HUP
	[[ -n ${PROBE:-} ]] && rm -f -- "$PROBE"
	if ((SERVING)); then
		# Ctrl-C is how the page's time ends early: the demo is done, exit 0.
		stop_all
		[[ -n $INTERRUPTED ]] && say "stopped serving the page (SIG$INTERRUPTED)" && st=0
	elif [[ ${#PID[@]} -gt 0 ]]; then
		[[ -n $INTERRUPTED ]] && say "stopping everything (the aggregator commits its last batch) ..."
		stop_all
		if [[ -n $INTERRUPTED ]]; then
			local agg_st=""
			[[ -n ${STATUS[aggregator]:-} ]] && agg_st=" (the aggregator committed and exited with status ${STATUS[aggregator]})"
			say "stopped by SIG$INTERRUPTED$agg_st; results so far in $(rel "$OUT")/, logs in $(rel "$LOGDIR")/"
			if ((LIVE)) && [[ -s $CSV ]] && (($(wc -l <"$CSV") > 1)); then
				"$ROOT/scripts/plot" -t "make run: closed windows so far" "$CSV" "$PNG" 2>&1 | sed "s/^/$ME: /"
			fi
			# Ctrl-C is how a live run ends: when everything stopped
			# cleanly that is success (exit 0: no "make: *** Error 130").
			((LIVE)) && [[ ${STATUS[aggregator]:-1} == 0 && ${STATUS[producer]:-0} == 0 ]] && st=0
		fi
	fi
	exit "$st"
}
on_signal() { # NAME NUMBER
	INTERRUPTED=$1
	printf '\n' >&2
	exit $((128 + $2))
}
trap on_exit EXIT
trap 'on_signal INT 2' INT
trap 'on_signal TERM 15' TERM
trap 'on_signal HUP 1' HUP

fail_if_dead() { # NAME...: exits with the tail of this run's log when one of them ended
	local name i lines
	for name in "$@"; do
		[[ -n ${PID[$name]:-} ]] || continue
		alive "$name" && continue
		reap "$name"
		# its filter ends at EOF: its last lines are in the file then
		for ((i = 0; i < 30; i++)); do
			kill -0 "${FILTER[$name]:-0}" 2>/dev/null || break
			sleep 0.05
		done
		printf '%s: error: %s exited unexpectedly (status %s); its last lines in %s:\n' \
			"$ME" "$name" "${STATUS[$name]}" "$LOGDIR/$name.log" >&2
		lines=$(own_log "$name" | tail -n 8)
		sed 's/^/    /' <<<"${lines:-(nothing)}" >&2
		exit 1
	done
}

# free_port FROM: the first port from FROM on that nothing on 127.0.0.1
# listens on (a connection to it is refused).
free_port() {
	local p
	for ((p = $1; p < $1 + 50; p++)); do
		(: <"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	die "no free port from $1 to $(($1 + 49)) for the live page (set DEMO_PORT)"
}

wait_file() { # FILE SECONDS NAME: until FILE holds a full line
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[[ -s $1 ]] && [[ $(tail -c 1 "$1" | od -An -c) == *'\n'* ]] && return 0
		fail_if_dead "$3"
		sleep 0.1
	done
	die "$3 did not start within $2 s (see $LOGDIR/$3.log)"
}

# consumed: N = the sum of the aggregator's next offsets = ticks it has
# consumed and committed (minus BASE: what a replay's topics held before it).
consumed() {
	local n=0
	if [[ -s $STATE ]] && sqlite3 -readonly "$STATE" 'SELECT coalesce(sum(next_offset), 0) FROM partitions' \
		>"$PROBE" 2>/dev/null; then
		read -r n <"$PROBE"
	fi
	N=$((${n:-0} - ${BASE:-0}))
}

SUMMARY_SQL='SELECT product_id, count(*) AS windows, sum(closed) AS closed, sum(ticks) AS ticks, round(avg(avg_price), 2) AS avg_price, min(window_start) AS first_window, max(window_start) AS last_window FROM window_aggregates GROUP BY 1'
summary_query() {
	sqlite3 -readonly -header -column "$STATE" "$SUMMARY_SQL" 2>&1 | sed 's/^/    /'
}

# --- set up --------------------------------------------------------------------
case $OUT in "" | / | . | .. | "$ROOT" | "$ROOT/") die "refusing output directory '$OUT'" ;; esac
stop_leftovers
if [[ $MODE == replay ]]; then
	# Fresh each time, as the demo; never a directory a replay did not make.
	if [[ -d $OUT && -n $(ls -A "$OUT") && ! -e $OUT/replay.txt ]]; then
		die "REPLAY_DIR=$OUT holds files a replay did not make (no replay.txt): move them, or pick another REPLAY_DIR"
	fi
	rm -rf -- "$OUT" || die "cannot empty $OUT"
	mkdir -p "$OUT" && printf 'make replay of %s\n' "$REPLAY_FILE" >"$OUT/replay.txt"
elif ((LIVE)); then
	# The state's offsets belong to one Kafka: resume only on the same cluster.
	# The embedded broker starts empty every time, so its state never resumes.
	# Without KAFKA_BROKERS the local Apache Kafka keeps its log in
	# $OUT/kafka/: the next run resumes on it.
	kafka_id=${KAFKA_BROKERS:-local}
	if [[ -e $OUT/state.db ]] && [[ $(cat "$OUT/kafka.txt" 2>/dev/null) != "$kafka_id" ||
		($kafka_id == local && ! -e $OUT/kafka/data/meta.properties) ]]; then
		rm -rf -- "$OUT.previous"
		mv -- "$OUT" "$OUT.previous" || die "cannot move $OUT aside"
		say "a new Kafka ($kafka_id): the previous run's files moved to $OUT.previous/"
	elif [[ -e $OUT/state.db ]]; then
		say "resuming $OUT/state.db (same Kafka: $kafka_id)"
	fi
	mkdir -p "$OUT" && printf '%s\n' "$kafka_id" >"$OUT/kafka.txt"
else
	# Fresh each time; a live run's and a replay's files (make run:
	# demo/live*, make replay: demo/replay) are kept.
	if [[ -d $OUT ]]; then
		find "$OUT" -mindepth 1 -maxdepth 1 ! -name live ! -name live.previous ! -name replay -exec rm -rf -- {} + ||
			die "cannot empty $OUT"
	fi
fi
mkdir -p "$OUT/logs" || die "cannot create $OUT/logs"
OUT=$(cd "$OUT" && pwd)
LOGDIR=$OUT/logs
STATE=$OUT/state.db CSV=$OUT/output.csv PNG=$OUT/output.png CDL_CSV=$OUT/candles.csv CDL_PNG=$OUT/candles.png
PROBE=$OUT/.probe   # what the loops' checks read, through a file (see "Signals")

topics=()
IFS=, read -r -a prods <<<"$PRODUCTS"
for p in "${prods[@]}"; do topics+=(-t "$p"); done

if [[ $MODE != live ]]; then
	[[ -r $DEMO_TICKS ]] || die "cannot read $([[ $MODE == demo ]] && echo DEMO_TICKS=)$DEMO_TICKS"
	expected=0
	for p in "${prods[@]}"; do
		expected=$((expected + $(grep -c "\"type\":\"ticker\".*\"product_id\":\"$p\"" "$DEMO_TICKS")))
	done
	((expected > 0)) || die "$DEMO_TICKS holds no ticker message of $PRODUCTS"
	first=$(grep -m1 -o '"time":"[^"]*"' "$DEMO_TICKS" | cut -d'"' -f4)
	last=$(tail -n 1 "$DEMO_TICKS" | grep -o '"time":"[^"]*"' | cut -d'"' -f4)
	span=$(($(date -d "$last" +%s) - $(date -d "$first" +%s)))
	first_ms=$(date -d "$first" +%s%3N)
	if [[ $DEMO_SPEED == 0 ]]; then eta="a few seconds"
	else eta="about $(awk -v s="$span" -v x="$DEMO_SPEED" 'BEGIN { printf "%d", s / x + 0.5 }') s"; fi
	say "replaying $(rel "$DEMO_TICKS"): $expected ticks of $PRODUCTS, $(((span + 30) / 60)) min of event time, at ${DEMO_SPEED}x ($eta)"
	if [[ $MODE == demo ]]; then
		say "pipeline: feed-server -> producer -> kafka-mock (embedded Kafka) -> aggregator -> $(rel "$CSV")"
	else
		say "pipeline: feed-server -> producer -> ${REPLAY_BROKERS:-Apache Kafka (local)} -> aggregator (group ${REPLAY_GROUP:-coinbase-windows-replay}) -> $(rel "$CSV")"
	fi
fi

# human_ms MS: 604800000 -> 7 days
human_ms() {
	awk -v ms="$1" 'BEGIN { s = ms / 1000
		if (s >= 86400) printf "%g days", s / 86400; else if (s >= 3600) printf "%g hours", s / 3600
		else printf "%g s", s }'
}
# warn_retention TOPIC CONFIGS: a replay into an existing topic whose time
# retention (from each record's timestamp: the tick's time) would delete the
# replayed ticks says so, and how to keep them.
warn_retention() {
	local rms tst
	rms=$(sed -n 's/^retention\.ms=//p' <<<"$2")
	tst=$(sed -n 's/^message\.timestamp\.type=//p' <<<"$2")
	[[ $rms =~ ^[0-9]+$ && $tst != LogAppendTime ]] || return 0
	(($(date +%s%3N) - rms > first_ms)) || return 0
	say "warning: topic $1 exists and deletes records older than $(human_ms "$rms") (retention.ms=$rms) by their timestamps, the ticks' own times:"
	say "  this replay's ticks, from $first, are older: Kafka deletes them at its next retention check"
	say "  (5 minutes by default), and an aggregator that has not read them yet stops (data loss, exit 5)."
	say "  Keep them: kafka-configs.sh --bootstrap-server $BROKERS --alter --entity-type topics --entity-name $1 --add-config retention.ms=-1"
	say "  (or delete the topic: a replay creates it with ${TOPIC_KEEP[*]})"
}
# prepare_topics: the topics, before anyone reads them.  Made to keep old
# event times on the local broker, and in a replay on REPLAY_BROKERS too
# (make run leaves a cluster's topics to the producer: the cluster's
# defaults).  In a replay an existing topic is checked for time retention,
# and its end offsets, summed in BASE, are where this replay's ticks begin.
BASE=0
prepare_topics() {
	local p cfg ends
	for p in "${prods[@]}"; do
		if cfg=$("$BIN/kafka-admin" -b "$BROKERS" configs "$p" 2>/dev/null); then
			[[ $MODE == replay ]] || continue
			warn_retention "$p" "$cfg"
			ends=$("$BIN/kafka-admin" -b "$BROKERS" ends "$p" 2>&1) || die "$ends"
			BASE=$((BASE + $(awk '{ s += $3 } END { print s + 0 }' <<<"$ends")))
		else
			"$BIN/kafka-admin" -b "$BROKERS" create "$p:1" "${TOPIC_KEEP[@]}" >/dev/null 2>"$OUT/admin.err" ||
				say "warning: topic $p not created ($(tr '\n' ' ' <"$OUT/admin.err")): the producer's is kept as the broker's defaults say"
		fi
	done
	rm -f -- "$OUT/admin.err"
}

# --- start ---------------------------------------------------------------------
if [[ $MODE == live && -n ${KAFKA_BROKERS:-} ]]; then
	BROKERS=$KAFKA_BROKERS
	say "Kafka: $BROKERS (KAFKA_BROKERS)"
elif [[ $MODE == replay && -n ${REPLAY_BROKERS:-} ]]; then
	BROKERS=$REPLAY_BROKERS
	say "Kafka: $BROKERS (REPLAY_BROKERS)"
	prepare_topics
elif ((LIVE)); then
	# A real Apache Kafka of our own (scripts/kafka), its log in $OUT/kafka.
	# A replay's keeps old event times also in topics made on first use.
	kopts=()
	[[ $MODE == replay ]] && kopts=(-o log.retention.ms=-1)
	start broker "$ROOT/scripts/kafka" run -d "$OUT/kafka" "${kopts[@]}"
	BROKERS=$(KAFKA_WAIT_PID=${PID[broker]} "$ROOT/scripts/kafka" wait -d "$OUT/kafka") ||
		{ fail_if_dead broker; die "Kafka did not start (see $(rel "$LOGDIR")/broker.log)"; }
	say "Apache Kafka at $BROKERS, its log in $(rel "$OUT/kafka") (scripts/kafka)"
	prepare_topics
else
	start broker "$BIN/kafka-mock" "${topics[@]}" -f "$OUT/bootstrap.txt"
	wait_file "$OUT/bootstrap.txt" 15 broker
	BROKERS=$(head -n 1 "$OUT/bootstrap.txt")
	say "embedded Kafka broker at $BROKERS"
fi

agg=("$BIN/aggregator" --brokers "$BROKERS" --topics "$PRODUCTS" --state "$STATE" --output "$CSV"
	--window "$WINDOW" --watermark "$WATERMARK" --progress-interval "${PROGRESS}s")
# The live pages (docs/live-page.md), on loopback.
AGG_PORT=0 PROD_PORT=0
if ((DEMO_PORT)); then
	AGG_PORT=$(free_port "$DEMO_PORT") || exit 1
	PROD_PORT=$(free_port $((AGG_PORT + 1))) || exit 1
	agg+=(--http "127.0.0.1:$AGG_PORT")
fi
if [[ $MODE == live ]]; then
	# Apache Kafka: a consumer group, as on a cluster.
	agg+=(--group "${AGGREGATOR_GROUP:-coinbase-windows}")
elif [[ $MODE == replay ]]; then
	# Its own group: never the live job's partitions.
	agg+=(--group "${REPLAY_GROUP:-coinbase-windows-replay}")
else
	agg+=(--assign)   # the embedded broker has the topics already: no group wait
fi
start aggregator "${agg[@]}" "${AGGREGATOR_EXTRA[@]}"

prod=("$BIN/producer" --brokers "$BROKERS" --products "$PRODUCTS" --status-interval "$PROGRESS")
((PROD_PORT)) && prod+=(--http "127.0.0.1:$PROD_PORT")
if [[ $MODE == live ]]; then
	[[ -n ${FEED_URL:-} ]] && prod+=(--url "$FEED_URL")
	say "feed: ${FEED_URL:-wss://ws-feed.exchange.coinbase.com (default)}"
else
	start feed "$BIN/feed-server" --file "$DEMO_TICKS" --speed "$DEMO_SPEED" \
		--port 0 --port-file "$OUT/feed.port" --exit-at-eof
	wait_file "$OUT/feed.port" 15 feed
	prod+=(--url "ws://127.0.0.1:$(<"$OUT/feed.port")")
fi
start producer "${prod[@]}" "${PRODUCER_EXTRA[@]}"
((AGG_PORT)) && say "the live page: http://127.0.0.1:$AGG_PORT/ (windows as they close, lag, watermark);" \
	"the producer's: http://127.0.0.1:$PROD_PORT/ (feed and Kafka)"

# first_row: says once when the CSV gets its first row (a fresh CSV only).
FIRST_ROW=""
[[ -s $CSV ]] && (($(wc -l <"$CSV") > 1)) && FIRST_ROW=before
first_row() {
	local row=""
	[[ -z $FIRST_ROW && -s $CSV ]] || return 0
	sed -n 2p "$CSV" >"$PROBE" && read -r row <"$PROBE"
	[[ -n $row ]] || return 0
	FIRST_ROW=$SECONDS
	say "first row of ${CSV#"$ROOT"/}, $SECONDS s after the start: $row"
}
# feed_hint: once the producer's first attempts of this run failed before it
# ever subscribed, how to go on without the feed (it keeps retrying).
FEED_HINT=""
feed_hint() {
	[[ -z $FEED_HINT ]] || return 0
	if own_log producer | grep -Eq '^([0-9T:.Z-]+ )?% info: subscribed'; then FEED_HINT=no; return 0; fi
	own_log producer | grep -Eq '^([0-9T:.Z-]+ )?% warning: connect(ion)? to .* failed' || return 0
	FEED_HINT=yes
	say "the feed ${FEED_URL:-wss://ws-feed.exchange.coinbase.com} cannot be reached (the producer says why; it keeps trying)."
	say "Offline? Replay recorded ticks through the same path: make replay   (FILE=ticks.jsonl SPEED=30 by default; docs/operations.md)"
	say "Another feed: FEED_URL=ws://HOST:PORT make run   (e.g. bin/feed-server --file FILE --port 8765)"
}

# --- Signals ------------------------------------------------------------------------
# The loops below are where Ctrl-C usually lands, and they run no command
# substitution $(...): bash 5.2 runs a trap that comes while it expands one
# with the parser mid-way, and the trap's own $(...) then fail ("unexpected
# EOF while looking for matching `)'"): on_exit stopped nothing, and every
# program was left running (seen once in tests/t/117 under load).  Their
# checks read through $PROBE instead.

# --- live: until Ctrl-C ---------------------------------------------------------------
if [[ $MODE == live ]]; then
	say "running; output in $(rel "$OUT")/ (output.csv, state.db, logs/). Ctrl-C stops everything cleanly."
	while :; do
		fail_if_dead broker aggregator producer
		feed_hint
		first_row
		sleep 0.5
	done
fi

# --- demo, replay: until every tick is in the aggregator's state -------------------
feed_done=""
while :; do
	fail_if_dead broker aggregator producer
	first_row
	consumed
	n=$N
	((n >= expected)) && break
	if [[ -z $feed_done ]] && ! alive feed; then
		reap feed
		feed_done=$SECONDS
	fi
	if [[ -n $feed_done ]] && ((SECONDS - feed_done > 10)); then
		say "the feed ended 10 s ago and the aggregator has $n of $expected ticks: stopping"
		break
	fi
	sleep 0.3
done
((n >= expected)) && say "all $n ticks are in Kafka and in the aggregator's state: stopping"
stop producer 15
stop feed 5
# The aggregator writes its final batch, commits, exports and exits 0.
stop aggregator 30
[[ ${STATUS[aggregator]:-1} == 0 ]] || die "aggregator exited with status ${STATUS[aggregator]:-?} (see $(rel "$LOGDIR")/aggregator.log)"
consumed
n=$N
if ((n < expected)); then
	# The aggregator stopped fetching before the end (seen on a busy machine
	# with the embedded broker).  A fresh instance resumes from the committed
	# state, reads the rest and is stopped the same way once it has it all.
	say "the aggregator has $n of $expected ticks: restarting it to catch up"
	start catch-up "${agg[@]}" "${AGGREGATOR_EXTRA[@]}"
	for ((i = 0; i < 600; i++)); do
		fail_if_dead catch-up
		consumed
		((N >= expected)) && break
		sleep 0.1
	done
	stop catch-up 30
	[[ ${STATUS[catch-up]} == 0 ]] || die "aggregator (catch-up) exited with status ${STATUS[catch-up]} (see $(rel "$LOGDIR")/catch-up.log)"
	consumed
	n=$N
	((n >= expected)) && say "all $n ticks are in the aggregator's state"
	((n >= expected)) || say "warning: only $n of $expected ticks reached the state (see $(rel "$LOGDIR")/)"
fi
stop broker 30
stop_all   # (the filters)
[[ ${STATUS[producer]:-0} == 0 ]] || say "warning: producer exited with status ${STATUS[producer]} (see $(rel "$LOGDIR")/producer.log)"

# --- results ---------------------------------------------------------------------------
rows=$(($(wc -l <"$CSV") - 1))
open=$(sqlite3 -readonly "$STATE" 'SELECT count(*) FROM window_aggregates WHERE NOT closed')
wm=$(sqlite3 -readonly "$STATE" "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', value / 1000 / 1000.0, 'unixepoch') FROM meta WHERE key = 'watermark_us'")
plot_msg=""
if ((rows > 0)); then
	plot_msg=$("$ROOT/scripts/plot" -t "make $ME: $rows closed windows of ${DEMO_TICKS##*/} (replayed at ${DEMO_SPEED}x)" "$CSV" "$PNG" 2>&1) ||
		say "warning: scripts/plot failed: $plot_msg"
	# The same windows as candles, from the state (README: output, --columns).
	plot_msg=$("$BIN/aggregator" export --state "$STATE" --output "$CDL_CSV" --columns candles 2>&1 &&
		"$ROOT/scripts/plot" -t "make $ME: the same windows as candles (--columns candles)" "$CDL_CSV" "$CDL_PNG" 2>&1) ||
		say "warning: the candles chart failed: $plot_msg"
fi
echo
say "done. Results:"
printf '    %-22s %s\n' "$(rel "$CSV")" "$rows closed windows (one row per window and product)" \
	"$(rel "$STATE")" "SQLite state: every window, the Kafka offsets, the watermark" \
	"$(rel "$PNG")" "$([[ -s $PNG ]] && echo "chart (scripts/plot)" || echo "no chart")" \
	"$(rel "$CDL_CSV")" "the same windows as candles (OHLCV, vwap, ticks)" \
	"$(rel "$CDL_PNG")" "$([[ -s $CDL_PNG ]] && echo "candlestick chart" || echo "no chart")" \
	"$(rel "$LOGDIR")/" "what each program printed"
say "$open more window(s) stay open in state.db only: a window is closed (and written to the CSV) once"
say "the watermark - latest event time minus $WATERMARK, here $wm - passes its end."
echo
say "sqlite3 $(rel "$STATE") '$SUMMARY_SQL'"
summary_query
echo
say "next: head $(rel "$CSV"); sqlite3 $(rel "$STATE") 'SELECT * FROM progress'; make run (live feed)"

# --- the page stays a while: aggregator serve over the state -----------------------
if ((DEMO_SERVE > 0 && AGG_PORT)); then
	port=$(free_port "$AGG_PORT") || exit 1
	start serve "$BIN/aggregator" serve --state "$STATE" --http "127.0.0.1:$port"
	SERVING=1
	echo
	if ((DEMO_SERVE % 60)); then for_how_long="$DEMO_SERVE s"; else for_how_long="$((DEMO_SERVE / 60)) min"; fi
	say "the live page stays on http://127.0.0.1:$port/ for $for_how_long" \
		"(aggregator serve, read-only over $(rel "$STATE")); Ctrl-C ends it sooner, DEMO_SERVE=SECONDS sets it"
	end=$((SECONDS + DEMO_SERVE))
	while ((SECONDS < end)); do
		fail_if_dead serve
		sleep 0.5
	done
	stop serve 5
	SERVING=0
	say "the page's time is over (DEMO_SERVE=$DEMO_SERVE)"
fi

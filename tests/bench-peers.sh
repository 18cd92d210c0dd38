#!/usr/bin/env bash
# tests/bench-peers.sh [BIN] - `make bench-peers`: the same data through the
# Spark lab's consumer (tests/peers/spark_lab.py, as the lab wrote it), a Quix
# Streams application (tests/peers/quix_app.py) and our aggregator, on Apache
# Kafka (scripts/kafka); outputs compared window by window
# (tests/peers/compare.py), costs measured side by side
# (tests/peers/procmon.py, tests/peers/watch.py), the report written between
# the markers <!-- peers --> and <!-- /peers --> of bench/results.md (the rest
# of the file, `make bench`'s, is kept) and printed.  Never part of `make test`.
#
# Two scenarios, each run BENCH_PEERS_RUNS times (medians):
#   backlog  BENCH_PEERS_N ticks (gen-ticks, BTC-USD and ETH-USD) loaded into
#            two topics of BENCH_PEERS_PARTS partitions each (round-robin,
#            no key, each partition in event-time order); each consumer reads
#            them from the start and stops at the end (ours --available-now,
#            Spark trigger availableNow, Quix after the N-th tick), one after
#            the other.
#   live     tests/data/ticks.jsonl (22 min of recorded ticks) through
#            bin/feed-server at BENCH_PEERS_SPEED x the recorded pace and
#            bin/producer into two fresh one-partition topics, the three
#            consumers running at once; the closing latency of every row.
#   lag      once: the same, but one feed and producer per product, ETH-USD's
#            started 4 minutes of event time after BTC-USD's (a partition
#            that lags behind the other); answers only.
#
# Settings: BENCH_PEERS_N (500000), BENCH_PEERS_PARTS (4), BENCH_PEERS_RUNS (3),
# BENCH_PEERS_SPEED (10), BENCH_PEERS_QUICK=1 (N=30000, one run, the live
# replay at 30x: a check that everything works, numbers meaningless),
# BENCH_PEERS_SKIP=live|backlog|lag, KEEP_TMP=1 (keep logs and outputs).
# PEERS_SPARK_VERSION (4.2.0: the newest pyspark whose spark-sql-kafka-0-10_2.13
# Maven Central has), PEERS_QUIX_VERSION (3.28.1).
#
# Installs (once, says so): a Python venv with pyspark and quixstreams from
# PyPI in ${XDG_CACHE_HOME:-~/.cache}/coinbase-windows/peers-venv (~620 MB),
# Spark's Kafka connector and its dependencies from Maven Central into
# .../coinbase-windows/spark-ivy (~125 MB); python3-venv through apt when
# Python cannot make a venv.  Java 17 (make deps) runs Spark and Kafka.
set -uo pipefail

BENCH_NAME=bench-peers
# shellcheck source=tests/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"

N=${BENCH_PEERS_N:-500000}
PARTS=${BENCH_PEERS_PARTS:-4}
RUNS=${BENCH_PEERS_RUNS:-3}
SPEED=${BENCH_PEERS_SPEED:-10}
if [[ ${BENCH_PEERS_QUICK:-0} == 1 ]]; then
	N=30000 RUNS=1 SPEED=30
fi
SKIP=${BENCH_PEERS_SKIP:-}
SPARK_VERSION=${PEERS_SPARK_VERSION:-4.2.0}
QUIX_VERSION=${PEERS_QUIX_VERSION:-3.28.1}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/coinbase-windows
VENV=$CACHE/peers-venv
IVY=$CACHE/spark-ivy
KAFKA_PKG=org.apache.spark:spark-sql-kafka-0-10_2.13:$SPARK_VERSION
PEERS=$ROOT/tests/peers
LIVE_FILE=${BENCH_PEERS_LIVE_FILE:-$ROOT/tests/data/ticks.jsonl}
LAG_S=0
PRODUCTS=BTC-USD,ETH-USD

for tool in kcat java python3 timeout; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done
for b in aggregator producer feed-server gen-ticks kafka-admin; do
	[[ -x $BIN/$b ]] || die "no $BIN/$b (run make)"
done

# --- what the peers need -------------------------------------------------------------
# venv_ok: the venv has the pinned versions.
venv_ok() {
	[[ -x $VENV/bin/python ]] &&
		"$VENV/bin/python" - "$SPARK_VERSION" "$QUIX_VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("pyspark"), version("quixstreams")) == (sys.argv[1], sys.argv[2]) else 1)
EOF
}
if ! venv_ok; then
	log "installing pyspark $SPARK_VERSION and quixstreams $QUIX_VERSION from PyPI into $VENV (~620 MB, once)"
	if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
		log "python3 cannot make a venv: installing the Debian package python3-venv (apt-get)"
		SUDO=""; ((EUID)) && SUDO=sudo
		$SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-venv >/dev/null || die "apt-get install python3-venv"
	fi
	[[ -x $VENV/bin/python ]] || python3 -m venv "$VENV" || die "python3 -m venv $VENV"
	"$VENV/bin/pip" install -q "pyspark==$SPARK_VERSION" "quixstreams==$QUIX_VERSION" >"$T/pip.log" 2>&1 ||
		{ tail -n 5 "$T/pip.log" >&2; die "pip install (log above)"; }
	venv_ok || die "the venv at $VENV does not have pyspark $SPARK_VERSION and quixstreams $QUIX_VERSION"
fi
PY=$VENV/bin/python
export SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON=$PY
if ! ls "$IVY"/jars/org.apache.spark_spark-sql-kafka-0-10_2.13-"$SPARK_VERSION".jar >/dev/null 2>&1; then
	log "getting $KAFKA_PKG and its dependencies from Maven Central into $IVY (~125 MB, once)"
	timeout 600 "$PY" "$PEERS/spark_lab.py" --resolve-only --brokers none --output none --checkpoint none \
		--ivy "$IVY" --ivy-settings "$PEERS/ivysettings.xml" --kafka-package "$KAFKA_PKG" >"$T/ivy.log" 2>&1 ||
		{ grep -E 'unresolved|not found|ERROR' "$T/ivy.log" | head -n 5 >&2; die "Spark could not get $KAFKA_PKG"; }
fi

# --- the broker ------------------------------------------------------------------------
TEST_BROKER=kafka
start_broker || die "Apache Kafka (scripts/kafka) did not start"
log "Apache Kafka at $BROKERS"
# A fresh broker creates __consumer_offsets (50 partitions) at the first group
# commit, ~1 s: done here once, not inside whichever consumer comes first.
"$BIN/kafka-admin" -b "$BROKERS" create warmup:1 >/dev/null && echo '{}' | kcat -b "$BROKERS" -P -t warmup &&
	timeout 60 "$BIN/aggregator" -q -b "$BROKERS" -t warmup --available-now -s "$T/warmup.db" -o "$T/warmup.csv" \
		-g warmup 2>/dev/null
# topic NAME PARTS: the broker stamps each message with its append time (the
# closing tick's time for the latency); no retention by time (2023 ticks).
topic() {
	"$BIN/kafka-admin" -b "$BROKERS" create "$1:$2" message.timestamp.type=LogAppendTime retention.ms=-1 \
		>/dev/null || die "topic $1"
}
# end_count TOPIC...: messages in the topics (sum of end offsets)
end_count() {
	local t a=() i n
	for t in "$@"; do
		n=$(timeout 20 kcat -b "$BROKERS" -L -t "$t" 2>/dev/null | grep -c 'partition [0-9]*,')
		for ((i = 0; i < n; i++)); do a+=(-t "$t:$i:-1"); done
	done
	timeout 20 kcat -b "$BROKERS" -Q "${a[@]}" 2>/dev/null | awk '/ offset / {s += $NF} END {print s + 0}'
}
# dump FILE TOPIC...: every message with topic, partition, append time (ms)
dump() {
	local f=$1 t; shift
	: >"$f"
	for t in "$@"; do
		timeout 60 kcat -b "$BROKERS" -C -t "$t" -o beginning -e -q -f '%t\t%p\t%T\t%s\n' >>"$f" || die "kcat -C $t"
	done
}
loadavg() { cut -d' ' -f1 /proc/loadavg; }
# busy: CPUs in use over the next 2 s (from /proc/stat), e.g. 0.13
busy() {
	local a b
	a=$(awk '/^cpu / { print $2+$3+$4+$6+$7+$8, $5 }' /proc/stat)
	sleep 2
	b=$(awk '/^cpu / { print $2+$3+$4+$6+$7+$8, $5 }' /proc/stat)
	awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " ")
		u = y[1] - x[1]; i = y[2] - x[2]; printf "%.2f\n", (u + i) ? n * u / (u + i) : 0 }'
}
# quiet: waits (up to 60 s) until less than half a CPU is busy (the machine
# is shared; the load average trails a finished run by minutes); prints the
# busy CPUs and the 1-minute load average it measured at, for the report.
quiet() {
	local i b
	for ((i = 0; i < 20; i++)); do
		b=$(busy)
		awk -v b="$b" 'BEGIN { exit !(b < 0.5) }' && break
		((i == 0)) && log "$b CPUs busy: waiting up to 60 s for a quieter machine"
		sleep 1
	done
	awk -v b="$b" 'BEGIN { exit !(b < 0.5) }' || log "still $b CPUs busy: measuring anyway (recorded)"
	echo "$b CPUs busy, load $(loadavg)"
}

# Consumers, each under procmon (peak RSS of its process tree, CPU, wall).
# run_ours DIR TOPICS [aggregator options]
run_ours() {
	local d=$1 topics=$2; shift 2
	"$PY" "$PEERS/procmon.py" --out "$d/ours.stats" -- "$BIN/aggregator" -q -b "$BROKERS" -t "$topics" --assign \
		-s "$d/ours.db" -o "$d/ours.csv" --columns lab -g "peers-ours-$RANDOM$RANDOM" --window 1m --watermark 2m "$@"
}
run_spark() { # DIR TOPICS TRIGGER
	"$PY" "$PEERS/procmon.py" --out "$1/spark.stats" -- "$PY" "$PEERS/spark_lab.py" --brokers "$BROKERS" \
		--topics "$2" --trigger "$3" --output "$1/spark-out" --checkpoint "$1/spark-ck" \
		--ivy "$IVY" --ivy-settings "$PEERS/ivysettings.xml" --kafka-package "$KAFKA_PKG"
}
run_quix() { # DIR TOPICS [--count N]
	local d=$1 topics=$2; shift 2
	"$PY" "$PEERS/procmon.py" --out "$d/quix.stats" -- "$PY" "$PEERS/quix_app.py" --brokers "$BROKERS" \
		--topics "$topics" --output "$d/quix.csv" --state-dir "$d/quix-state" --group "peers-quix-$RANDOM$RANDOM" "$@"
}

# --- backlog -----------------------------------------------------------------------------
backlog() {
	local data=$T/backlog.jsonl topics r d who st
	log "backlog: generating $N ticks"
	# the event time spans ~40 minutes whatever N
	"$BIN/gen-ticks" --products "$PRODUCTS" --count "$N" --rate $((N / 4000 > 20 ? N / 4000 : 20)) --seed 7 \
		>"$data" || die "gen-ticks"
	N=$(wc -l <"$data")
	mkdir -p "$T/parts"
	awk -v P="$PARTS" -v d="$T/parts" 'match($0, /"product_id":"[^"]*"/) {
		p = substr($0, RSTART + 14, RLENGTH - 15); n = c[p]++; print > (d "/" p "." (n % P)) }' "$data"
	for p in ${PRODUCTS//,/ }; do topic "$p" "$PARTS"; done
	local f b
	for f in "$T"/parts/*; do
		b=${f##*/}
		timeout 120 kcat -b "$BROKERS" -P -t "${b%.*}" -p "${b##*.}" -X linger.ms=20 <"$f" || die "kcat -P $b"
	done
	# shellcheck disable=SC2086
	[[ $(end_count ${PRODUCTS//,/ }) == "$N" ]] || die "the backlog topics do not hold $N ticks"
	# shellcheck disable=SC2086
	dump "$T/backlog.tsv" ${PRODUCTS//,/ }
	log "backlog: $N ticks ($(($(wc -c <"$data") / 1000000)) MB) in $PRODUCTS, $PARTS partitions each"
	for ((r = 1; r <= RUNS; r++)); do
		d=$T/backlog/r$r; mkdir -p "$d"
		# The order rotates from run to run (a page cache or JIT warmed by the one before).
		local order=(ours spark quix)
		order=("${order[@]:$(((r - 1) % 3))}" "${order[@]:0:$(((r - 1) % 3))}")
		for who in "${order[@]}"; do
			quiet >"$d/$who.load"
			spawn "watch-$who" "$PY" "$PEERS/watch.py" --out "$d/$who.watch" "$who=$d/$([[ $who == spark ]] && echo spark-out || echo "$who.csv")"
			log "backlog run $r/$RUNS: $who (load $(<"$d/$who.load"))"
			case $who in
			ours) run_ours "$d" "$PRODUCTS" --available-now >"$d/ours.out" 2>"$d/ours.err" ;;
			spark) run_spark "$d" "$PRODUCTS" available-now >"$d/spark.out" 2>"$d/spark.err" ;;
			quix) run_quix "$d" "$PRODUCTS" --count "$N" >"$d/quix.out" 2>"$d/quix.err" ;;
			esac
			st=$?
			sleep 0.05
			stop "watch-$who" >/dev/null
			((st == 0)) || die "$who (backlog run $r): exit $st: $(tail -n 5 "$d/$who.err")"
			log "  $who: $(jq -r '"\(.wall_s * 10 | floor / 10) s, CPU \(.cpu_s * 10 | floor / 10) s, peak RSS \(.peak_rss_kib / 1024 | floor) MiB"' "$d/$who.stats")"
		done
		cat "$d"/*.watch >"$d/all.watch"
		"$PY" "$PEERS/compare.py" --dump "$T/backlog.tsv" --ours "$d/ours.csv" --ours-state "$d/ours.db" \
			--spark "$d/spark-out" --spark-stats "$d/spark.out" --quix "$d/quix.csv" --quix-stats "$d/quix.out" \
			--watch "$d/all.watch" --out "$d/compare.json" || die "compare (backlog run $r)"
	done
}

# --- live ----------------------------------------------------------------------------------
# ready NAME: the consumer said "% ready" (Spark: its query runs)
said_ready() { grep -q '^% ready' "$T/$1.out" 2>/dev/null; }
# feed NAME FILE: a feed-server replaying FILE at SPEED; sets URL
feed() {
	rm -f "$T/$1.port"
	spawn "$1" "$BIN/feed-server" --port 0 --port-file "$T/$1.port" --file "$2" --speed "$SPEED" || die "feed-server"
	wait_for 30 test -s "$T/$1.port" || die "feed-server $1 wrote no port: $(tail -n 3 "$T/$1.err")"
	URL=ws://127.0.0.1:$(<"$T/$1.port")
}
# live_run KIND R: KIND live (one feed, one producer for both products) or lag
# (one feed and producer per product, ETH-USD's started LAG_S seconds after
# BTC-USD's: that partition lags 4 minutes of event time behind the other).
live_run() {
	local kind=$1 r=$2 d pre topics want who t0 wait_s
	want=$(wc -l <"$LIVE_FILE")
	d=$T/$kind/r$r; mkdir -p "$d"
	pre=$kind$r-
	topics=$pre${PRODUCTS//,/,$pre}
	for t in ${topics//,/ }; do topic "$t" 1; done
	quiet >"$d/load"
	log "$kind run $r: $want ticks at ${SPEED}x through the producer$([[ $kind == lag ]] && echo ", ETH-USD ${LAG_S} s behind") ($(<"$d/load"))"
	spawn "live-ours" bash -c "$(declare -f run_ours); $(declare -p PY PEERS BIN BROKERS); run_ours \"\$@\"" _ "$d" "$topics"
	spawn "live-spark" bash -c "$(declare -f run_spark); $(declare -p PY PEERS BROKERS IVY KAFKA_PKG); run_spark \"\$@\"" _ "$d" "$topics" default
	spawn "live-quix" bash -c "$(declare -f run_quix); $(declare -p PY PEERS BROKERS); run_quix \"\$@\"" _ "$d" "$topics"
	spawn "live-watch" "$PY" "$PEERS/watch.py" --out "$d/all.watch" "ours=$d/ours.csv" "spark=$d/spark-out" "quix=$d/quix.csv"
	wait_for 120 said_ready live-spark || die "Spark did not start: $(tail -n 5 "$T/live-spark.err")"
	wait_for 60 said_ready live-quix || die "Quix did not start: $(tail -n 5 "$T/live-quix.err")"
	sleep 5   # Spark's first (empty) batch, Quix's assignment
	local prods=("$PRODUCTS") files=("$LIVE_FILE") i
	if [[ $kind == lag ]]; then
		prods=(${PRODUCTS//,/ })
		files=()
		for p in "${prods[@]}"; do grep -F "\"product_id\":\"$p\"" "$LIVE_FILE" >"$T/$kind.$p.jsonl"; files+=("$T/$kind.$p.jsonl"); done
	fi
	t0=$(now_us)
	for ((i = 0; i < ${#prods[@]}; i++)); do
		((i > 0)) && sleep "$LAG_S"
		feed "feed$i" "${files[i]}"
		spawn "producer$i" "$BIN/producer" -q --url "$URL" --products "${prods[i]}" --brokers "$BROKERS" \
			--topic-prefix "$pre" --status-interval 0
	done
	wait_s=$((60 + 1500 / SPEED + LAG_S))
	# shellcheck disable=SC2086
	until [[ $(end_count ${topics//,/ }) -ge $want ]]; do
		for ((i = 0; i < ${#prods[@]}; i++)); do
			running "producer$i" || die "producer exited: $(tail -n 5 "$T/producer$i.err")"
		done
		(($(now_us) - t0 > wait_s * 1000000)) && die "$kind: $(end_count ${topics//,/ }) of $want ticks in Kafka after $wait_s s"
		sleep 1
	done
	log "  all $want ticks in Kafka after $((($(now_us) - t0) / 1000000)) s; waiting for the last rows"
	# Spark has read every tick, and no output has grown for 20 s (at most 5 min).
	local sig last="" since deadline=$(($(now_us) + 300000000))
	since=$(now_us)
	while (($(now_us) < deadline)); do
		sig="$(tail -n 1 "$T/live-spark.out") $(cat "$d/ours.csv" "$d/quix.csv" "$d"/spark-out/part-*.csv 2>/dev/null | wc -l)"
		[[ $sig != "$last" ]] && { last=$sig; since=$(now_us); }
		[[ $(tail -n 1 "$T/live-spark.out") == "% input $want" ]] && (($(now_us) - since > 20000000)) && break
		sleep 1
	done
	(($(now_us) < deadline)) || log "  the outputs did not settle within 5 min (Spark: $(tail -n 1 "$T/live-spark.out"))"
	for ((i = 0; i < ${#prods[@]}; i++)); do stop "producer$i" >/dev/null; stop "feed$i" >/dev/null; done
	for who in ours spark quix; do
		# procmon passes SIGTERM on to the consumer; the bash above it ends at
		# once, procmon writes its numbers when the consumer is done.
		stop "live-$who" >/dev/null
		wait_for 60 test -s "$d/$who.stats" || log "  $who: no numbers from procmon"
		cp "$T/live-$who.out" "$d/$who.out"; cp "$T/live-$who.err" "$d/$who.err"
	done
	stop live-watch >/dev/null
	# shellcheck disable=SC2086
	dump "$d/topics.tsv" ${topics//,/ }
	"$PY" "$PEERS/compare.py" --dump "$d/topics.tsv" --ours "$d/ours.csv" --ours-state "$d/ours.db" \
		--spark "$d/spark-out" --spark-stats "$d/spark.out" --quix "$d/quix.csv" --quix-stats "$d/quix.out" \
		--watch "$d/all.watch" --out "$d/compare.json" || die "compare ($kind run $r)"
}

[[ $SKIP == backlog ]] || backlog
if [[ $SKIP != live ]]; then
	for ((r = 1; r <= RUNS; r++)); do live_run live "$r"; done
fi
# 4 minutes of event time (under our --idle-timeout of 30 s at 10x); one run
# (answers, not costs)
LAG_S=$(((240 + SPEED - 1) / SPEED))
[[ $SKIP == lag || $SKIP == live ]] || live_run lag 1

# --- report --------------------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
machine="$(nproc) CPUs (${cpu:-unknown CPU}), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr), $(java -version 2>&1 | head -n 1)"
"$PY" "$PEERS/report.py" --dir "$T" --runs "$RUNS" --machine "$machine" --n "$N" --parts "$PARTS" \
	--speed "$SPEED" $([[ ${BENCH_PEERS_QUICK:-0} == 1 ]] && echo --quick) --live-file "${LIVE_FILE#"$ROOT"/}" --spark "$SPARK_VERSION" --quix "$QUIX_VERSION" \
	--kafka "$(ls "$("$ROOT/scripts/kafka" fetch 2>/dev/null)" | sed -n 's/^kafka_2.13-\(.*\)\.jar$/\1/p')" \
	>"$T/peers.md" || die "report"
# Into bench/results.md between the markers (make bench keeps them too).
results_section peers "$(cat "$T/peers.md")"
cat "$T/peers.md"
log "written to bench/results.md (between <!-- peers --> and <!-- /peers -->)"

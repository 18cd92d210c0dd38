#!/usr/bin/env bash
# tests/bench.sh [BIN] - `make bench`: how close producer and aggregator come to
# what this machine and Kafka allow, from one run: on the embedded broker, then
# the same data and measurements on Apache Kafka (scripts/kafka), side by side.
#
# Prints one markdown table (medians over BENCH_RUNS runs) and writes it to
# bench/results.md, keeping `make bench-peers`' section (<!-- peers -->).
# Never part of `make test`.
#
#   BENCH_N=3000000     generated ticks loaded into the broker (4 products; ~10 s
#                       of kcat -C, 1.2 GB; the default run takes ~6 min on 2 vCPUs)
#   BENCH_RUNS=3        runs; each number is the median over them
#   BENCH_LAT_N=150     windows closed per latency measurement
#   BENCH_AGG_TIMEOUT=120  seconds one --available-now run may take
#   BENCH_PARTS=        partitions per product topic (default: enough to keep
#                       each partition under ~3 MB; the mock keeps ~5 MB)
#   BENCH_KAFKA=0       the embedded broker only (no Apache Kafka pass)
#   BENCH_LIVE=1        only the live page's cost: on the embedded broker, row 2
#                       and row 2 with the page open (--http, an /events stream,
#                       /api/windows polled), alternating, BENCH_RUNS each; a
#                       table of every run, nothing else measured (docs/performance.md)
#   KEEP_TMP=1          keep the temp dir (logs, state files, CSVs)
#
# Needs: kcat, sqlite3, jq, awk, cc + pkg-config (builds tests/bench/benchtool.c
# into bench/.tools), /usr/bin/time (package `time`) for peak RSS.
set -uo pipefail

BENCH_NAME=bench
# shellcheck source=tests/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"

N=${BENCH_N:-3000000}
RUNS=${BENCH_RUNS:-3}
LAT_N=${BENCH_LAT_N:-150}
BENCH_AGG_TIMEOUT=${BENCH_AGG_TIMEOUT:-120}
PRODUCTS=(BTC-USD ETH-USD SOL-USD DOGE-USD)
TOPICS=$(IFS=,; echo "${PRODUCTS[*]}")
TOOLS=$OUT_DIR/.tools
mkdir -p "$TOOLS"

# ticks_at_least FILE N: the last --progress-json line in FILE counts >= N ticks
ticks_at_least() {
	local n
	n=$(grep -o '"ticks":[0-9]*' "$1" 2>/dev/null | tail -n 1 | cut -d: -f2)
	[[ -n $n ]] && ((n >= $2))
}

for tool in kcat sqlite3 jq awk cc pkg-config timeout; do
	command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps.sh)"
done
TIME=/usr/bin/time
[[ -x $TIME ]] || { log "/usr/bin/time missing (Debian package 'time'): peak RSS will read n/a"; TIME=""; }
for b in aggregator producer kafka-mock feed-server gen-ticks; do
	[[ -x $BIN/$b ]] || die "no $BIN/$b (run make)"
done

# --- helper binary ----------------------------------------------------------------
BT=$TOOLS/benchtool
if [[ ! -x $BT || $BT -ot $ROOT/tests/bench/benchtool.c || $BT -ot $ROOT/common/tick.c || $BT -ot $ROOT/common/tick_fast.c ]]; then
	log "building $BT"
	# shellcheck disable=SC2046
	cc -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -I"$ROOT/common" \
		"$ROOT/tests/bench/benchtool.c" "$ROOT/common/tick.c" "$ROOT/common/tick_fast.c" \
		$(pkg-config --cflags --libs jansson rdkafka) -lm -o "$BT" || die "cannot build benchtool"
fi

# --- data ---------------------------------------------------------------------------
log "generating $N ticks"
DATA_FILE=$T/ticks.jsonl
# Event time spans ~67 min whatever N (at least 50 ticks/s): a window of a
# partition holds tens of ticks, as on the live feed, not a handful.
RATE=$(( N / 4000 > 50 ? N / 4000 : 50 ))
"$BIN/gen-ticks" --products "$TOPICS" --count "$N" --rate "$RATE" --seed 7 >"$DATA_FILE" || die "gen-ticks"
N=$(wc -l <"$DATA_FILE")
BYTES=$(wc -c <"$DATA_FILE")
PAYLOAD_BYTES=$((BYTES - N))   # without the newlines
# Partitions: the biggest product (~43 %) must stay under ~3 MB per partition.
if [[ -n ${BENCH_PARTS:-} ]]; then
	P=$BENCH_PARTS
else
	P=$(awk -v b="$BYTES" 'BEGIN { p = int(b * 0.45 / 3e6) + 1; if (p < 16) p = 16; print p }')
fi
mkdir -p "$T/parts"
# One file per topic and partition, round-robin per product: each partition
# keeps event-time order and all partitions advance together.
awk -v P="$P" -v d="$T/parts" 'match($0, /"product_id":"[^"]*"/) {
	p = substr($0, RSTART + 14, RLENGTH - 15); n = c[p]++; f = d "/" p "." (n % P)
	print > f; if (n < P) files[f] = 1 } END { for (f in files) close(f) }' "$DATA_FILE"

topic_args=()
for p in "${PRODUCTS[@]}"; do topic_args+=(-t "$p:$P"); done

# end_offsets TOPIC PARTS: sum of the partitions' end offsets
end_offsets() {
	local t=$1 n=$2 i a=()
	for ((i = 0; i < n; i++)); do a+=(-t "$t:$i:-1"); done
	timeout 20 kcat -b "$BROKERS" -Q "${a[@]}" 2>/dev/null | awk '/ offset / {s += $NF} END {print s + 0}'
}

declare -A WANT=()
for p in "${PRODUCTS[@]}"; do WANT[$p]=$(grep -c "\"product_id\":\"$p\"" "$DATA_FILE"); done
# load: the data into the broker's topics, checked by their end offsets.
load() {
	local f b p got
	log "broker $BROKERS ($TEST_BROKER); loading $N ticks ($((BYTES / 1000000)) MB) into ${#PRODUCTS[@]} topics x $P partitions"
	for f in "$T"/parts/*; do
		b=${f##*/}
		timeout 120 kcat -b "$BROKERS" -P -t "${b%.*}" -p "${b##*.}" -X linger.ms=20 <"$f" || die "kcat -P $b"
	done
	for p in "${PRODUCTS[@]}"; do
		got=$(end_offsets "$p" "$P")
		[[ $got == "${WANT[$p]}" ]] || die "topic $p holds $got messages, expected ${WANT[$p]}"
	done
	log "loaded and verified: $(for p in "${PRODUCTS[@]}"; do printf '%s=%s ' "$p" "${WANT[$p]}"; done)"
}

# --- measurements -------------------------------------------------------------------

# kcat_limit: the best kcat does on this data: one kcat -C per topic (it takes
# one topic without a group), all at once, each stopping after its topic's
# count (-c: no end-of-partition wait), one byte written per message.
kcat_limit() {
	local p t0 t1 n total=0 pids=()
	t0=$(now_us)
	for p in "${PRODUCTS[@]}"; do
		timeout 120 kcat -b "$BROKERS" -C -t "$p" -o beginning -c "${WANT[$p]}" -e -q -f '.' |
			wc -c >"$T/kcat.$p" &
		pids+=($!)
	done
	wait "${pids[@]}"   # not a bare wait: the broker is a child of this shell too
	t1=$(now_us)
	for p in "${PRODUCTS[@]}"; do
		n=$(<"$T/kcat.$p")
		[[ $n == "${WANT[$p]}" ]] || die "kcat -C $p read $n, expected ${WANT[$p]}"
		total=$((total + n))
	done
	record kcat_rate "$(calc "$total / (($t1 - $t0) / 1e6)")"
	record kcat_mbs "$(calc "$PAYLOAD_BYTES / (($t1 - $t0) / 1e6) / 1e6")"
}

# kcat_default: for reference, kcat -C -e with its defaults, topic after topic
# (each waits fetch.wait.max.ms = 500 ms at the end of its partitions).
kcat_default() {
	local p t0 t1 n total=0 us=0
	for p in "${PRODUCTS[@]}"; do
		t0=$(now_us)
		n=$(timeout 120 kcat -b "$BROKERS" -C -t "$p" -o beginning -e -q -f '%s\n' | wc -l)
		t1=$(now_us)
		[[ $n == "${WANT[$p]}" ]] || die "kcat -C $p read $n, expected ${WANT[$p]}"
		us=$((us + t1 - t0)); total=$((total + n))
	done
	record kcatdef_rate "$(calc "$total / ($us / 1e6)")"
}

# max_gap_ms FILE: the longest wall-clock gap between two committed batches
# (consecutive --progress-json lines; with --progress-interval 1ms there is one
# per commit), the last line (the final settle) left out.
max_gap_ms() {
	grep -o '"timestampMs":[0-9]*' "$1" | cut -d: -f2 | sed '$d' |
		awk 'NR > 1 && $1 - p > m { m = $1 - p } { p = $1 } END { print m + 0 }'
}

# agg_backlog KEY [aggregator options]: --available-now over the loaded topics,
# fresh state file and group.  Records KEY_rate (msgs/s), KEY_rss (KiB) and
# KEY_first (ms from start to the first committed batch).
agg_backlog() {
	local key=$1 dir t0 t1 ticks first rows; shift
	dir=$T/$key.$RANDOM; mkdir -p "$dir"
	t0=$(now_us)
	timeout "$BENCH_AGG_TIMEOUT" ${TIME:+$TIME -f '%M %U %S' -o "$dir/time"} "$BIN/aggregator" -q -b "$BROKERS" -t "$TOPICS" \
		--assign --available-now --batch-time 100ms -s "$dir/state.db" -o "$dir/out.csv" \
		-g "bench-$key-$RANDOM$RANDOM" --progress-interval 1ms --progress-json "$@" \
		>"$dir/progress.json" 2>"$dir/err"
	local st=$?
	t1=$(now_us)
	if [[ $st == 124 ]]; then
		# Seen on the mock: every tick read (lag 0) but --available-now does not
		# exit.  Counted, reported, and the run goes on.
		log "  $key: TIMEOUT after ${BENCH_AGG_TIMEOUT}s: $(tail -n 1 "$dir/progress.json")"
		record "${key}_timeouts" 1
		return 0
	fi
	((st == 0)) || die "aggregator $key: exit $st ($(tail -n 3 "$dir/err"))"
	ticks=$(tail -n 1 "$dir/progress.json" | jq -r .totals.ticks)
	[[ $ticks == "$N" ]] || die "aggregator $key counted $ticks ticks, expected $N"
	rows=$(($(wc -l <"$dir/out.csv") - 1))
	first=$(first_commit "$dir/progress.json")
	record "${key}_rate" "$(calc "$N / (($t1 - $t0) / 1e6)")"
	record "${key}_rows" "$rows"
	log "  $key: $(fmt "$(calc "($t1 - $t0) / 1e3")") ms, $rows rows"
	[[ -n $first ]] && record "${key}_first" "$((first - t0 / 1000))"
	record "${key}_gap" "$(max_gap_ms "$dir/progress.json")"
	if [[ -n $TIME && -s $dir/time ]]; then
		record "${key}_rss" "$(tail -n 1 "$dir/time" | cut -d' ' -f1)"
		record "${key}_cpu" "$(tail -n 1 "$dir/time" | awk '{ print $2 + $3 }')"
	fi
	[[ ${KEEP_TMP:-0} == 1 ]] || rm -rf "$dir"
}

# agg_live KEY [aggregator options]: agg_backlog with the live page open, as a
# browser has it: --http on a free port, one /events stream (connected before
# the first commit: it retries every 10 ms until the server answers), and
# once a second /api/windows?limit=5000 (the most a page loads at once),
# /api/status and /api/open.  Records KEY_events (commit events the stream
# got) and KEY_polls (requests answered 200) besides agg_backlog's.
agg_live() {
	local key=$1 port dir u; shift
	port=$(free_port) || die "no free port"
	u=http://127.0.0.1:$port
	dir=$T/$key-clients.$RANDOM; mkdir -p "$dir"
	spawn sse bash -c "while :; do curl -sN --max-time 600 '$u/events' >>'$dir/events' 2>/dev/null; sleep 0.01; done"
	spawn poller bash -c "while :; do for a in 'windows?limit=5000' status open; do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 '$u/api/'\$a >>'$dir/polls' 2>/dev/null; done; sleep 1; done"
	agg_backlog "$key" --http "127.0.0.1:$port" "$@"
	stop sse >/dev/null
	stop poller >/dev/null
	record "${key}_events" "$(grep -c '^event: commit' "$dir/events" 2>/dev/null)"
	record "${key}_polls" "$(grep -c '^200$' "$dir/polls" 2>/dev/null)"
	[[ ${KEEP_TMP:-0} == 1 ]] || rm -rf "$dir"
}

# nth KEY N: the Nth sample of KEY (in the order recorded)
nth() { printf '%s' "${S[$1]:-}" | sed -n "$2p"; }

# live_only: BENCH_LIVE=1, the page's cost alone: row 2 without and with the
# page open, alternating, on the embedded broker; a table of every run.
live_only() {
	local run rows="" a b
	for ((run = 1; run <= RUNS; run++)); do
		log "run $run/$RUNS: aggregator e2e, then the same with the live page open"
		agg_backlog e2e
		agg_live live
	done
	a=$(med e2e_rate) b=$(med live_rate)
	for ((run = 1; run <= RUNS; run++)); do
		rows+="| $run | $(fmt "$(nth e2e_rate "$run")") | $(nth e2e_cpu "$run") | $(fmt "$(nth live_rate "$run")") | $(nth live_cpu "$run") | $(nth live_events "$run") | $(nth live_polls "$run") |"$'\n'
	done
	cat <<EOF
## The live page's cost (BENCH_LIVE=1)

Machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr); $(date -u +%Y-%m-%dT%H:%MZ); load average at the end $(cut -d' ' -f1-3 /proc/loadavg).
Data: $N ticks, ${#PRODUCTS[@]} topics x $P partitions, kafka-mock. Row 2 (\`--available-now --assign --batch-time 100ms\`),
without and with \`--http\` + an /events stream + /api/windows?limit=5000, /api/status, /api/open once a second; alternating.

| run | msg/s without | CPU s without | msg/s with the page | CPU s with | commit events streamed | API requests answered |
|---|---:|---:|---:|---:|---:|---:|
${rows}| median | $(fmt "$a") | $(med e2e_cpu) | $(fmt "$b") | $(med live_cpu) | | |

With the page / without, by rate: $(fmt "$(calc "$b / $a")" 3)x; by CPU: $(fmt "$(calc "$(med live_cpu) / $(med e2e_cpu)")" 3)x (target: the rate drops by less than 5%).
EOF
}

parse_only() {
	local out
	out=$("$BT" parse "$DATA_FILE" 1) || die "benchtool parse"
	record parse_rate "$(awk '{ printf "%.1f", $1 / $3 }' <<<"$out")"
}

# producer_run R: local feed at full speed -> producer -> broker, until every
# tick is in its topic (end offsets, polled by one benchtool client); then
# kcat -P of the same lines.
producer_run() {
	local r=$1 pre t0 t1 p tpid cpid
	pre=pr$r-
	FEED_START_TIMEOUT=120 start_feed -f "$DATA_FILE" --speed 0 || die "feed-server"
	t0=$(now_us)
	spawn producer ${TIME:+$TIME -f '%M' -o "$T/producer.$r.time"} "$BIN/producer" --url "$FEED_URL" \
		--products "$TOPICS" --brokers "$BROKERS" --topic-prefix "$pre" --status-interval 0
	tpid=$SPAWNED_PID
	local topics=() wpid
	for p in "${PRODUCTS[@]}"; do topics+=("$pre$p"); done
	"$BT" wait "$BROKERS" "$N" 4 120 "${topics[@]}" >"$T/producer.$r.done" 2>"$T/producer.$r.wait" &
	wpid=$!
	while kill -0 "$wpid" 2>/dev/null && running producer; do sleep 0.1; done
	running producer || kill "$wpid" 2>/dev/null
	wait "$wpid" || die "producer: not all $N ticks delivered ($(tail -n 1 "$T/producer.$r.wait"); $(tail -n 3 "$T/producer.err"))"
	t1=$(<"$T/producer.$r.done")
	record prod_rate "$(calc "$N / (($t1 - $t0) / 1e6)")"
	# SIGTERM to the producer itself (GNU time would die of it before reporting).
	cpid=$tpid
	[[ -n $TIME ]] && cpid=$(awk -v pp="$tpid" '$4 == pp { print $1 }' /proc/[0-9]*/stat 2>/dev/null | head -n 1)
	[[ -n $cpid ]] && kill -TERM "$cpid" 2>/dev/null
	wait_exit producer 15 || log "producer run $r: exit status $?"
	[[ -n $TIME && -s $T/producer.$r.time ]] && record prod_rss "$(tail -n 1 "$T/producer.$r.time")"
	stop feed >/dev/null 2>&1

	# The limit: one kcat -P of the same lines into one partition.
	broker_cmd "topic kp$r 1" || die "topic kp$r"
	t0=$(now_us)
	timeout 120 kcat -b "$BROKERS" -P -t "kp$r" -p 0 <"$DATA_FILE" || die "kcat -P"
	t1=$(now_us)
	record kcatp_rate "$(calc "$N / (($t1 - $t0) / 1e6)")"
}

# latency R KEY [aggregator options]: continuous aggregator, --window 1s
# --watermark 0s; benchtool produces ticks that each close one window and
# times the row's appearance in the CSV.
latency() {
	local r=$1 key=$2 topic dir; shift 2
	topic=lat$key$r
	dir=$T/$TEST_BROKER-$topic; mkdir -p "$dir"
	broker_cmd "topic $topic 1" || die "topic $topic"
	spawn "agg_$topic" "$BIN/aggregator" -q -b "$BROKERS" -t "$topic" --assign --window 1s \
		--watermark 0s -s "$dir/state.db" -o "$dir/out.csv" -g "bench-$topic-$RANDOM" "$@"
	timeout 300 "$BT" latency "$BROKERS" "$topic" "$dir/out.csv" "$LAT_N" 20 >"$dir/lat" 2>"$dir/lat.err" ||
		die "latency $key: $(tail -n 3 "$dir/lat.err") $(tail -n 3 "$T/agg_$topic.err")"
	stop "agg_$topic" >/dev/null
	record "${key}_p50" "$(pct 50 <"$dir/lat")"
	record "${key}_p99" "$(pct 99 <"$dir/lat")"
	record "${key}_max" "$(pct 100 <"$dir/lat")"
	record "${key}_n" "$(wc -l <"$dir/lat")"
}

# recovery R: continuous aggregator on a topic fed at 500 ticks/s; after 1000
# ticks are committed, kill -9; restart; time to the restart's first commit.
has_messages() { (($(end_offsets "$1" "$2") > 0)); }

recovery() {
	local r=$1 topic dir t0 first i
	topic=rec$r
	dir=$T/$TEST_BROKER-$topic; mkdir -p "$dir"
	broker_cmd "topic $topic 4" || die "topic $topic"
	spawn "feed_$topic" "$BT" feed "$BROKERS" "$topic" 4 500 60
	# "ticks arriving": the feeder's own start (~50 ms) is not the aggregator's
	wait_for 10 has_messages "$topic" 4 || die "recovery: the feeder produced nothing"
	local args=(-q -b "$BROKERS" -t "$topic" --assign -s "$dir/state.db" -o "$dir/out.csv"
		-g "bench-$topic" --progress-interval 1ms --progress-json)
	t0=$(now_us)
	spawn "agg_$topic" "$BIN/aggregator" "${args[@]}"
	wait_for 30 ticks_at_least "$T/agg_$topic.out" 1000 ||
		die "recovery: aggregator made no progress ($(tail -n 3 "$T/agg_$topic.err"))"
	first=$(first_commit "$T/agg_$topic.out")
	[[ -n $first ]] && record cont_first "$((first - t0 / 1000))"
	stop "agg_$topic" KILL >/dev/null
	sleep 0.2
	t0=$(now_us)
	spawn "agg2_$topic" "$BIN/aggregator" "${args[@]}"
	for ((i = 0; i < 1000; i++)); do   # 10 s
		first=$(first_commit "$T/agg2_$topic.out")
		[[ -n $first ]] && break
		sleep 0.01
	done
	[[ -n $first ]] || die "recovery: no commit within 10 s of the restart ($(tail -n 3 "$T/agg2_$topic.err"))"
	record recovery "$((first - t0 / 1000))"
	stop "agg2_$topic" >/dev/null
	stop "feed_$topic" >/dev/null
}

# pass: every measurement RUNS times on the broker running now.
pass() {
for ((run = 1; run <= RUNS; run++)); do
	log "run $run/$RUNS ($TEST_BROKER): kcat -C"
	kcat_limit
	kcat_default
	log "run $run/$RUNS: aggregator --available-now (default 1m windows, export on), and with the live page open"
	agg_backlog e2e
	agg_live live
	log "run $run/$RUNS: aggregator --columns all (every aggregate in the CSV) and --columns lab"
	agg_backlog allcols --columns all
	agg_backlog labcols --columns lab
	log "run $run/$RUNS: aggregator stages"
	agg_backlog noexport --watermark 100000h
	agg_backlog fewwin --window 100000h --watermark 100000h
	agg_backlog manywin --window 10s
	parse_only
	log "run $run/$RUNS: producer and kcat -P"
	producer_run "$run"
	log "run $run/$RUNS: latency"
	latency "$run" lat
	latency "$run" latfast --batch-time 10ms -X fetch.wait.max.ms=10
	log "run $run/$RUNS: kill -9 recovery"
	recovery "$run"
done
}

# The same data and measurements on the embedded broker, then on Apache Kafka
# (scripts/kafka, one node, its log in the temp dir) unless BENCH_KAFKA=0.
TEST_BROKER=mock start_broker -b 1 "${topic_args[@]}" || die "kafka-mock"
load
if [[ ${BENCH_LIVE:-0} == 1 ]]; then
	live_only
	exit 0
fi
pass
stop broker >/dev/null
KAFKA_VERSION_SEEN="" KAFKA_START_MS=""
if [[ ${BENCH_KAFKA:-1} != 0 ]]; then
	TEST_BROKER=kafka
	t0=$(now_us)
	start_broker || die "Apache Kafka (scripts/kafka) did not start"
	KAFKA_START_MS=$(calc "($(now_us) - $t0) / 1000")
	for a in "${topic_args[@]}"; do
		[[ $a == -t ]] && continue
		"$BIN/kafka-admin" -b "$BROKERS" create "$a" >/dev/null || die "topic $a"
	done
	KAFKA_VERSION_SEEN=$(ls "$("$ROOT/scripts/kafka" fetch 2>/dev/null)" | sed -n 's/^kafka_2.13-\(.*\)\.jar$/\1/p')
	PFX=k:
	load
	pass
	PFX=""
	stop broker >/dev/null
fi
# the state-size runs below on a mock of their own
TEST_BROKER=mock
start_broker -b 1 || die "kafka-mock"

# --- state size: windows, not ticks --------------------------------------------------
# A: rate R over 10 min; B: 2x the ticks over the same 10 min; C: the same number
# of ticks as A over 20 min.  --window 1s, so the windows follow the time span.
state_size() {
	local name=$1 minutes=$2 rate=$3 f dir p
	f=$T/size-$name.jsonl; dir=$T/size-$name; mkdir -p "$dir"
	"$BIN/gen-ticks" --products BTC-USD,ETH-USD --minutes "$minutes" --rate "$rate" --seed 11 >"$f" ||
		die "gen-ticks size $name"
	for p in BTC-USD ETH-USD; do
		broker_cmd "topic sz$name-$p 1" || die "topic sz$name-$p"
		grep "\"product_id\":\"$p\"" "$f" | timeout 60 kcat -b "$BROKERS" -P -t "sz$name-$p" -p 0 || die "kcat -P size"
	done
	timeout 120 "$BIN/aggregator" -q -b "$BROKERS" -t "sz$name-BTC-USD,sz$name-ETH-USD" --assign --available-now \
		--window 1s --watermark 2s -s "$dir/state.db" -o "$dir/out.csv" -g "bench-sz$name-$RANDOM" ||
		die "aggregator size $name"
	sqlite3 "$dir/state.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
	SZ_TICKS[$name]=$(wc -l <"$f")
	SZ_WINS[$name]=$(sqlite3 "$dir/state.db" 'SELECT count(*) FROM windows')
	SZ_BYTES[$name]=$(stat -c %s "$dir/state.db")
}
declare -A SZ_TICKS=() SZ_WINS=() SZ_BYTES=()
log "state size: A (10 min), B (2x ticks, same span), C (same ticks, 2x span)"
state_size A 10 4
state_size B 10 8
state_size C 20 2

# --- report -----------------------------------------------------------------------------

kr=$(med kcat_rate); kmb=$(med kcat_mbs)
e2e=$(med e2e_rate); ratio_e2e=$(calc "$e2e / $kr")
pr=$(med prod_rate); kpr=$(med kcatp_rate); ratio_p=$(calc "$pr / $kpr")
mib() { [[ -n $1 ]] && calc "$1 / 1024" || echo ""; }
rss_a=$(mib "$(med e2e_rss)"); rss_p=$(mib "$(med prod_rss)")
lat_p50=$(calc "$(med lat_p50) / 1000"); lat_p99=$(calc "$(med lat_p99) / 1000"); lat_max=$(calc "$(med lat_max) / 1000")
lf_p50=$(calc "$(med latfast_p50) / 1000"); lf_p99=$(calc "$(med latfast_p99) / 1000"); lf_max=$(calc "$(med latfast_max) / 1000")
first=$(med e2e_first); cfirst=$(med cont_first); rec=$(med recovery)
szA=${SZ_BYTES[A]} szB=${SZ_BYTES[B]} szC=${SZ_BYTES[C]}
ratio_B=$(calc "$szB / $szA"); ratio_C=$(calc "$szC / $szA")
wins_ratio_C=$(calc "${SZ_WINS[C]} / ${SZ_WINS[A]}")
# "grows with windows, not ticks": 2x ticks -> < 1.25x size; 2x windows-ish -> > 1.25x
size_ok=$(awk -v b="$ratio_B" -v c="$ratio_C" 'BEGIN { print (b < 1.25 && c > 1.25) ? "PASS" : "MISS" }')
rel() { calc "$1 / $kr"; }

# side-by-side values: mock, then Apache Kafka (the k: samples)
ratio_of() { local a b; a=$(med "$1"); b=$(med "$2"); [[ -n $a && -n $b ]] && calc "$a / $b" || echo ""; }
ms3() { echo "$(fmt "$(calc "$(med "$1_p50") / 1000")" 1) / $(fmt "$(calc "$(med "$1_p99") / 1000")" 1) / $(fmt "$(calc "$(med "$1_max") / 1000")" 1)"; }
both() { # LABEL CELL_MOCK CELL_KAFKA TARGET VERDICT_MOCK VERDICT_KAFKA
	printf '| %s | %s | %s | %s | %s / %s |\n' "$@"
}
side_table() {
	local k=k: km kk
	echo "| what | kafka-mock | Apache Kafka ${KAFKA_VERSION_SEEN:-} | target | mock / Kafka |"
	echo "|---|---:|---:|---|---|"
	both "limit: kcat -C, four topics at once" "$(fmt "$(med kcat_rate)") msg/s" "$(fmt "$(med ${k}kcat_rate)") msg/s" "" "" ""
	km=$(ratio_of e2e_rate kcat_rate); kk=$(ratio_of ${k}e2e_rate ${k}kcat_rate)
	both "aggregator e2e (row 2), ratio to that broker's kcat" "$(fmt "$(med e2e_rate)") msg/s, $(fmt "$km" 2)x" \
		"$(fmt "$(med ${k}e2e_rate)") msg/s, $(fmt "$kk" 2)x" ">= 0.6x" "$(verdict "$km" ">=" 0.6)" "$(verdict "$kk" ">=" 0.6)"
	km=$(ratio_of allcols_rate labcols_rate); kk=$(ratio_of ${k}allcols_rate ${k}labcols_rate)
	both "aggregator --columns all, ratio to --columns lab (issue 25: <= 15% slower)" \
		"$(fmt "$(med allcols_rate)") msg/s, $(fmt "$km" 2)x" "$(fmt "$(med ${k}allcols_rate)") msg/s, $(fmt "$kk" 2)x" \
		">= 0.85x" "$(verdict "$km" ">=" 0.85)" "$(verdict "$kk" ">=" 0.85)"
	km=$(ratio_of live_rate e2e_rate); kk=$(ratio_of ${k}live_rate ${k}e2e_rate)
	both "aggregator e2e with the live page open (row 2''), ratio to row 2" "$(fmt "$(med live_rate)") msg/s, $(fmt "$km" 2)x" \
		"$(fmt "$(med ${k}live_rate)") msg/s, $(fmt "$kk" 2)x" ">= 0.95x" "$(verdict "$km" ">=" 0.95)" "$(verdict "$kk" ">=" 0.95)"
	both "longest gap between commits (row 2')" "$(fmt "$(med e2e_gap)") ms" "$(fmt "$(med ${k}e2e_gap)") ms" "<= 100 ms" \
		"$(verdict "$(med e2e_gap)" "<=" 100)" "$(verdict "$(med ${k}e2e_gap)" "<=" 100)"
	km=$(ratio_of prod_rate kcatp_rate); kk=$(ratio_of ${k}prod_rate ${k}kcatp_rate)
	both "producer (row 4), ratio to that broker's kcat -P" "$(fmt "$(med prod_rate)") msg/s, $(fmt "$km" 2)x" \
		"$(fmt "$(med ${k}prod_rate)") msg/s, $(fmt "$kk" 2)x" ">= 0.5x" "$(verdict "$km" ">=" 0.5)" "$(verdict "$kk" ">=" 0.5)"
	both "limit: kcat -P into one partition" "$(fmt "$(med kcatp_rate)") msg/s" "$(fmt "$(med ${k}kcatp_rate)") msg/s" "" "" ""
	both "latency closing tick -> CSV row p50 / p99 / max (row 5)" "$(ms3 lat) ms" "$(ms3 ${k}lat) ms" "p99 <= 50 ms" \
		"$(verdict "$(calc "$(med lat_p99) / 1000")" "<=" 50)" "$(verdict "$(calc "$(med ${k}lat_p99) / 1000")" "<=" 50)"
	both "peak RSS aggregator / producer" "$(fmt "$(mib "$(med e2e_rss)")" 1) / $(fmt "$(mib "$(med prod_rss)")" 1) MiB" \
		"$(fmt "$(mib "$(med ${k}e2e_rss)")" 1) / $(fmt "$(mib "$(med ${k}prod_rss)")" 1) MiB" "<= 32 MiB" \
		"$(verdict "$(mib "$(med e2e_rss)")" "<=" 32)" "$(verdict "$(mib "$(med ${k}e2e_rss)")" "<=" 32)"
	both "start -> first commit, backlog / live (rows 6c, 6d)" "$(fmt "$(med e2e_first)") / $(fmt "$(med cont_first)") ms" \
		"$(fmt "$(med ${k}e2e_first)") / $(fmt "$(med ${k}cont_first)") ms" "<= 100 ms" \
		"$(verdict "$(med e2e_first)" "<=" 100)" "$(verdict "$(med ${k}e2e_first)" "<=" 100)"
	both "kill -9 -> first new commit (row 7)" "$(fmt "$(med recovery)") ms" "$(fmt "$(med ${k}recovery)") ms" "<= 1000 ms" \
		"$(verdict "$(med recovery)" "<=" 1000)" "$(verdict "$(med ${k}recovery)" "<=" 1000)"
	both "Kafka broker start -> answering (scripts/kafka, cached; new log dir)" "" "$(fmt "$KAFKA_START_MS") ms" "<= 15000 ms" "" \
		"$(verdict "$KAFKA_START_MS" "<=" 15000)"
}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
report=$(
	cat <<EOF
## Benchmark results

Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; $(uname -sr); $(date -u +%Y-%m-%dT%H:%MZ).
Data: $N ticks from \`gen-ticks --products $TOPICS --rate $RATE --seed 7\` ($(fmt "$(calc "$BYTES / 1e6")" 1) MB),
one topic per product, $P partitions each (round-robin, event-time order kept per partition),
embedded broker \`kafka-mock -b 1\` on 127.0.0.1. Medians of $RUNS runs (BENCH_RUNS), BENCH_N=$N.
Rates include each process's start-up and shutdown (wall clock from exec to exit).

| # | what is measured | median | ratio | target | |
|---|---|---:|---:|---|---|
| 1 | **limit**: \`kcat -C -o beginning -c COUNT -e -f .\`, one per topic, all four at once, $N messages | $(fmt "$kr") msg/s, $(fmt "$kmb" 1) MB/s | 1.00 | | |
| 1' | reference: \`kcat -C -o beginning -e\` with its defaults, topic after topic (500 ms end-of-partition wait each) | $(fmt "$(med kcatdef_rate)") msg/s | $(fmt "$(rel "$(med kcatdef_rate)")" 2)x | | |
| 2 | **aggregator e2e**: \`--available-now --assign --batch-time 100ms\`, 1m windows, 2m watermark, export on, fresh state and group | $(fmt "$e2e") msg/s | $(fmt "$ratio_e2e" 2)x kcat | >= 0.6x | $(verdict "$ratio_e2e" ">=" 0.6) |
| 2'' | aggregator e2e with the live page open: row 2 with \`--http\`, an /events stream and /api/windows?limit=5000, /api/status, /api/open polled each second | $(fmt "$(med live_rate)") msg/s | $(fmt "$(ratio_of live_rate e2e_rate)" 3)x row 2 | >= 0.95x | $(verdict "$(ratio_of live_rate e2e_rate)" ">=" 0.95) |
| 2' | longest gap between two commits in row 2 (\`--progress-json\` line per commit) | $(fmt "$(med e2e_gap)") ms | | <= 100 ms | $(verdict "$(med e2e_gap)" "<=" 100) |
| 3a | stage: tick parse only (\`tick_parse\` on the lines in memory, tests/bench/benchtool.c) | $(fmt "$(med parse_rate)") msg/s | $(fmt "$(rel "$(med parse_rate)")" 2)x | | |
| 3b | stage: e2e without export (\`--watermark 100000h\`: no window closes) | $(fmt "$(med noexport_rate)") msg/s | $(fmt "$(rel "$(med noexport_rate)")" 2)x | | |
| 3c | stage: consume+parse+commit floor (\`--window 100000h --watermark 100000h\`: ~1 window per partition, no export) | $(fmt "$(med fewwin_rate)") msg/s | $(fmt "$(rel "$(med fewwin_rate)")" 2)x | | |
| 3d | stage: many windows (\`--window 10s\`, export on: $(med manywin_rows) rows vs $(med e2e_rows) with 1m) | $(fmt "$(med manywin_rate)") msg/s | $(fmt "$(rel "$(med manywin_rate)")" 2)x | | |
| 4 | **producer**: feed-server \`--speed 0\` -> \`producer\` -> broker, until all $N are in the topics | $(fmt "$pr") msg/s | $(fmt "$ratio_p" 2)x kcat -P | >= 0.5x | $(verdict "$ratio_p" ">=" 0.5) |
| 4' | limit: \`kcat -P\` of the same lines into one partition | $(fmt "$kpr") msg/s | 1.00 | | |
| 5 | **latency** closing tick produced -> its row in output.csv (continuous, \`--window 1s --watermark 0s\`, default \`--batch-time 100ms\`), $(med lat_n) windows/run: p50 / p99 / max | $(fmt "$lat_p50" 1) / $(fmt "$lat_p99" 1) / $(fmt "$lat_max" 1) ms | | p99 <= 50 ms | $(verdict "$lat_p99" "<=" 50) |
| 5' | same with \`--batch-time 10ms -X fetch.wait.max.ms=10\` (reference only) | $(fmt "$lf_p50" 1) / $(fmt "$lf_p99" 1) / $(fmt "$lf_max" 1) ms | | | |
| 6a | peak RSS aggregator (row 2, \`/usr/bin/time\` max RSS) | $(fmt "$rss_a" 1) MiB | | <= 32 MiB | $(verdict "$rss_a" "<=" 32) |
| 6b | peak RSS producer (row 4) | $(fmt "$rss_p" 1) MiB | | <= 32 MiB | $(verdict "$rss_p" "<=" 32) |
| 6c | aggregator start -> first commit (row 2: exec -> first batch committed, from \`--progress-json\`) | $(fmt "$first") ms | | <= 100 ms | $(verdict "$first" "<=" 100) |
| 6d | same, continuous mode, fresh state, ticks arriving (row 7's first start) | $(fmt "$cfirst") ms | | <= 100 ms | $(verdict "$cfirst" "<=" 100) |
| 7 | **recovery**: restart after \`kill -9\` (continuous, \`--assign\`, 500 ticks/s arriving) -> first new commit | $(fmt "$rec") ms | | <= 1000 ms | $(verdict "$rec" "<=" 1000) |
| 8 | state size (\`--window 1s\`, WAL checkpointed): A ${SZ_TICKS[A]} ticks/10 min, ${SZ_WINS[A]} windows: $(fmt "$(calc "$szA / 1024")") KiB; B 2x ticks/same span (${SZ_TICKS[B]}, ${SZ_WINS[B]} windows): $(fmt "$(calc "$szB / 1024")") KiB; C same ticks/2x span (${SZ_TICKS[C]}, ${SZ_WINS[C]} windows): $(fmt "$(calc "$szC / 1024")") KiB | B/A $(fmt "$ratio_B" 2), C/A $(fmt "$ratio_C" 2) | windows C/A $(fmt "$wins_ratio_C" 2) | grows with windows, not ticks (B/A < 1.25, C/A > 1.25) | $size_ok |

Runs of \`--available-now\` that did not exit within BENCH_AGG_TIMEOUT (left out of the medians): $(printf '%s' "${S[e2e_timeouts]:-}${S[noexport_timeouts]:-}${S[fewwin_timeouts]:-}${S[manywin_timeouts]:-}" | grep -c 1).

### The same run on Apache Kafka, beside the mock

Rows 1-7 again on a real broker: Apache Kafka ${KAFKA_VERSION_SEEN:-(not run: BENCH_KAFKA=0)}, single node (KRaft), started by
\`scripts/kafka\` with its log in the temp dir, the same data loaded the same way.

$(side_table)

Reproduce: \`make bench\` (BENCH_N=, BENCH_RUNS=, BENCH_LAT_N=, BENCH_KAFKA=0 for the mock only); raw samples below
(\`k:\` = Apache Kafka).
EOF
	echo
	echo '<details><summary>samples per run</summary>'
	echo
	for k in $(printf '%s\n' "${!S[@]}" | sort); do
		printf -- '- %s: %s\n' "$k" "$(printf '%s' "${S[$k]}" | grep -v '^$' | tr '\n' ' ')"
	done
	echo
	echo '</details>'
)
printf '%s\n' "$report"
# Sections other scripts keep in bench/results.md (<!-- NAME --> ... <!-- /NAME -->,
# e.g. tests/bench-group.sh's <!-- group -->) stay, after this report.
kept=""
[[ -f $OUT_DIR/results.md ]] && kept=$(awk '/^<!-- [A-Za-z0-9_-]+ -->$/ { name = substr($2, 1); on = 1 }
	on { print } on && $0 == "<!-- /" name " -->" { on = 0; print "" }' "$OUT_DIR/results.md")
{ printf '%s\n' "$report"; [[ -n $kept ]] && printf '\n%s\n' "$kept"; } >"$OUT_DIR/results.md.tmp" &&
	mv "$OUT_DIR/results.md.tmp" "$OUT_DIR/results.md"
log "written to bench/results.md"

#!/usr/bin/env bash
# tests/bench-group.sh [BIN] - `make bench`, after tests/bench.sh: what group
# mode (--output-topic: Kafka transactions, changelog, offsets) costs, on a real
# broker (Apache Kafka, scripts/kafka, its own single node in the temp dir):
#
#   1. restore: a partition with 10k open windows (--window 1s, --watermark
#      100000h: none closes) moves from member A (stopped cleanly) to member B
#      with a fresh state file; B's "restored ... in T ms" line.
#   2. throughput: a backlog read by one member, by two members of one group,
#      and by the single-instance aggregator (--assign --available-now) on the
#      same data.
#   3. failover: two members with ticks arriving; kill -9 one; the survivor's
#      first commit that covers a partition the dead one had.
#
# Prints a markdown table (medians over BENCH_RUNS runs) and writes it into
# bench/results.md between <!-- group --> and <!-- /group --> (the rest of the
# file is kept).  Never part of `make test`.
#
#   BENCH_RUNS=3           runs; each number is the median over them
#   BENCH_GROUP_N=800000   ticks of the throughput backlog (4 products)
#   BENCH_GROUP_PARTS=4    partitions per product topic of that backlog
#   BENCH_GROUP_RESTORE_MIN=200  event-time minutes of the restore topic (1 product,
#                          ~3 ticks/s: ~10k distinct seconds, one open window each)
#   BENCH_GROUP_TIMEOUT=120  seconds one aggregator run may take
#   KEEP_TMP=1             keep the temp dir (logs, state files, progress JSON)
#
# Needs: kcat, sqlite3, jq, awk, cc + pkg-config (tests/bench/benchtool.c, as
# tests/bench.sh builds it), java + mvn (scripts/kafka; jars cached).
set -uo pipefail

BENCH_NAME=bench-group
# shellcheck source=tests/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"

RUNS=${BENCH_RUNS:-3}
N=${BENCH_GROUP_N:-800000}
P=${BENCH_GROUP_PARTS:-4}
RESTORE_MIN=${BENCH_GROUP_RESTORE_MIN:-200}
TIMEOUT=${BENCH_GROUP_TIMEOUT:-120}
PRODUCTS=(BTC-USD ETH-USD SOL-USD DOGE-USD)
TOPICS=$(IFS=,; echo "${PRODUCTS[*]}")
TOOLS=$OUT_DIR/.tools
mkdir -p "$TOOLS"
SESSION_MS=6000   # the aggregator's session.timeout.ms (its default here)


for tool in kcat sqlite3 jq awk cc pkg-config timeout java; do
	command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps.sh)"
done
for b in aggregator gen-ticks kafka-admin; do
	[[ -x $BIN/$b ]] || die "no $BIN/$b (run make)"
done
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

BT=$TOOLS/benchtool
if [[ ! -x $BT || $BT -ot $ROOT/tests/bench/benchtool.c || $BT -ot $ROOT/common/tick.c || $BT -ot $ROOT/common/tick_fast.c ]]; then
	log "building $BT"
	# shellcheck disable=SC2046
	cc -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -I"$ROOT/common" \
		"$ROOT/tests/bench/benchtool.c" "$ROOT/common/tick.c" "$ROOT/common/tick_fast.c" \
		$(pkg-config --cflags --libs jansson rdkafka) -lm -o "$BT" || die "cannot build benchtool"
fi

# --- broker and data ----------------------------------------------------------------
TEST_BROKER=kafka
t0=$(now_us)
start_broker || die "Apache Kafka (scripts/kafka) did not start"
log "Apache Kafka at $BROKERS (started in $(fmt "$(calc "($(now_us) - $t0) / 1000")") ms)"
KAFKA_VERSION_SEEN=$(ls "$("$ROOT/scripts/kafka" fetch 2>/dev/null)" | sed -n 's/^kafka_2.13-\(.*\)\.jar$/\1/p')

# end_offsets TOPIC PARTS: sum of the partitions' end offsets
end_offsets() {
	local t=$1 n=$2 i a=()
	for ((i = 0; i < n; i++)); do a+=(-t "$t:$i:-1"); done
	timeout 20 kcat -b "$BROKERS" -Q "${a[@]}" 2>/dev/null | awk '/ offset / {s += $NF} END {print s + 0}'
}

# The restore topic: one product, one partition, ~10k distinct seconds.
"$BIN/gen-ticks" --products BTC-USD --minutes "$RESTORE_MIN" --rate 3 --seed 5 >"$T/restore.jsonl" || die "gen-ticks restore"
RN=$(wc -l <"$T/restore.jsonl")
"$BIN/kafka-admin" -b "$BROKERS" create restore:1 >/dev/null || die "topic restore"
timeout 60 kcat -b "$BROKERS" -P -t restore -p 0 -X linger.ms=20 <"$T/restore.jsonl" || die "kcat -P restore"
[[ $(end_offsets restore 1) == "$RN" ]] || die "topic restore does not hold $RN messages"

# The backlog: 4 products, P partitions each, round-robin (event-time order kept per partition).
log "generating $N ticks (${#PRODUCTS[@]} products x $P partitions)"
"$BIN/gen-ticks" --products "$TOPICS" --count "$N" --rate $((N / 4000 > 50 ? N / 4000 : 50)) --seed 7 >"$T/ticks.jsonl" ||
	die "gen-ticks"
N=$(wc -l <"$T/ticks.jsonl")
BYTES=$(wc -c <"$T/ticks.jsonl")
mkdir -p "$T/parts"
awk -v P="$P" -v d="$T/parts" 'match($0, /"product_id":"[^"]*"/) {
	p = substr($0, RSTART + 14, RLENGTH - 15); n = c[p]++; f = d "/" p "." (n % P)
	print > f; if (n < P) files[f] = 1 } END { for (f in files) close(f) }' "$T/ticks.jsonl"
for p in "${PRODUCTS[@]}"; do
	"$BIN/kafka-admin" -b "$BROKERS" create "$p:$P" >/dev/null || die "topic $p"
done
for f in "$T"/parts/*; do
	b=${f##*/}
	timeout 120 kcat -b "$BROKERS" -P -t "${b%.*}" -p "${b##*.}" -X linger.ms=20 <"$f" || die "kcat -P $b"
done
got=0
for p in "${PRODUCTS[@]}"; do got=$((got + $(end_offsets "$p" "$P"))); done
[[ $got == "$N" ]] || die "the topics hold $got messages, expected $N"
rm -rf "$T/parts"
log "loaded: restore $RN ticks; backlog $N ticks ($((BYTES / 1000000)) MB)"

# --- helpers ---------------------------------------------------------------------------
# member NAME GROUP STATE TOPICS [aggregator options]: a group-mode member,
# --progress-json per commit on $T/NAME.out, its log on $T/NAME.err.
member() {
	local name=$1 g=$2 st=$3 topics=$4; shift 4
	spawn "$name" "$BIN/aggregator" -b "$BROKERS" -g "$g" -t "$topics" --output-topic "$g-out" -s "$st" \
		--batch-time 100ms --progress-json --progress-interval 1ms "$@"
}
# last_json NAME FIELD: FIELD (jq) of NAME's last complete progress line
last_json() {
	tail -n 2 "$T/$1.out" 2>/dev/null | grep '}$' | tail -n 1 | jq -r "$2" 2>/dev/null
}
# done_at NAME...: the first wall-clock ms (their lines) at which the members
# together have read all N messages and each shows lag 0; "" if not yet.
done_at() {
	local n sum=0 worst=0 ts lag
	for n in "$@"; do
		ts=$(last_json "$n" '.timestampMs') lag=$(last_json "$n" '.lag')
		[[ -n $ts && $lag == 0 ]] || return 1
		sum=$((sum + $(last_json "$n" '.totals.messages')))
	done
	((sum >= N)) || return 1
	# the first line of each member that reached its final count with lag 0
	for n in "$@"; do
		local m
		m=$(last_json "$n" '.totals.messages')
		ts=$(jq -r --argjson m "$m" 'select(.lag == 0 and .totals.messages == $m) | .timestampMs' "$T/$n.out" 2>/dev/null | head -n 1)
		((ts > worst)) && worst=$ts
	done
	echo "$worst"
}

# assigned_at FILE: timestampMs of the first progress line with partitions (the
# assignment and what eng_restore did are over)
assigned_at() { jq -r 'select((.sources[0].endOffset // {} | length) > 0) | .timestampMs' "$1" 2>/dev/null | head -n 1; }

# --- 1. restore ----------------------------------------------------------------------
restore_run() {
	local r=$1 g t0 line ms first wins off i
	g=grest$r-$RANDOM
	member "rA$r" "$g" "$T/rA$r.db" restore --window 1s --watermark 100000h
	for ((i = 0; i < TIMEOUT * 10; i++)); do
		[[ $(last_json "rA$r" '.totals.messages') == "$RN" ]] && break
		running "rA$r" || break
		sleep 0.1
	done
	[[ $(last_json "rA$r" '.totals.messages') == "$RN" ]] ||
		die "restore: member A read $(last_json "rA$r" '.totals.messages') of $RN ($(tail -n 3 "$T/rA$r.err"))"
	stop "rA$r" >/dev/null || die "restore: member A did not stop cleanly ($(tail -n 3 "$T/rA$r.err"))"
	wins=$(sqlite3 "$T/rA$r.db" 'SELECT count(*) FROM windows')
	record r_windows "$wins"
	t0=$(now_ms)
	member "rB$r" "$g" "$T/rB$r.db" restore --window 1s --watermark 100000h
	for ((i = 0; i < 600; i++)); do
		first=$(first_commit "$T/rB$r.out")
		[[ -n $first ]] && break
		running "rB$r" || break
		sleep 0.05
	done
	[[ -n $first ]] || die "restore: member B made no commit in 30 s ($(tail -n 3 "$T/rB$r.err"))"
	line=$(grep -m 1 'restored restore \[0\] from the changelog' "$T/rB$r.err") ||
		die "restore: member B did not restore ($(tail -n 3 "$T/rB$r.err"))"
	ms=$(sed -n 's/.* in \([0-9]*\) ms .*/\1/p' <<<"$line")
	off=$(sed -n 's/.* at offset \([0-9]*\) in .*/\1/p' <<<"$line")
	[[ $off == "$RN" ]] || die "restore: B restored at offset $off, expected $RN ($line)"
	stop "rB$r" >/dev/null
	[[ $(sqlite3 "$T/rB$r.db" 'SELECT count(*) FROM windows') == "$wins" ]] ||
		die "restore: B's file has $(sqlite3 "$T/rB$r.db" 'SELECT count(*) FROM windows') windows, A's $wins"
	record r_ms "$ms"
	record r_first "$((first - t0))"
	log "  restore: $wins windows, $ms ms (B: start -> first commit $((first - t0)) ms)"
}

# --- 2. throughput --------------------------------------------------------------------
single_run() {
	local r=$1 dir t0 t1 st
	dir=$T/single$r
	mkdir -p "$dir"
	t0=$(now_us)
	timeout "$TIMEOUT" "$BIN/aggregator" -q -b "$BROKERS" -t "$TOPICS" --assign --available-now --batch-time 100ms \
		-s "$dir/state.db" -o "$dir/out.csv" -g "bench-single-$r-$RANDOM" --progress-interval 1ms --progress-json \
		>"$dir/progress.json" 2>"$dir/err"
	st=$?
	t1=$(now_us)
	((st == 0)) || die "single aggregator: exit $st ($(tail -n 3 "$dir/err"))"
	local msgs batches
	msgs=$(tail -n 1 "$dir/progress.json" | jq -r .totals.messages)
	batches=$(tail -n 1 "$dir/progress.json" | jq -r .totals.batches)
	[[ $msgs == "$N" ]] || die "single aggregator read $msgs, expected $N"
	record single_rate "$(calc "$N / (($t1 - $t0) / 1e6)")"
	local ta tl
	ta=$(assigned_at "$dir/progress.json"); tl=$(tail -n 1 "$dir/progress.json" | jq -r .timestampMs)
	record single_steady "$(calc "$N / (($tl - $ta) / 1e3)")"
	record single_batch "$(calc "$N / $batches")"
	log "  single: $(fmt "$(calc "($t1 - $t0) / 1e3")") ms, $batches batches"
}

# group_run KEY R MEMBERS: MEMBERS members of a fresh group, fresh state files,
# until together they have read the backlog (lag 0); rate from the start of
# the first to that line.
group_run() {
	local key=$1 r=$2 k=$3 g names=() i t0 t_done="" batches=0 ta=""
	g=bench-$key-$r-$RANDOM
	t0=$(now_ms)
	for ((i = 1; i <= k; i++)); do
		member "$key$r-$i" "$g" "$T/$key$r-$i.db" "$TOPICS" -q
		names+=("$key$r-$i")
	done
	for ((i = 0; i < TIMEOUT * 10; i++)); do
		t_done=$(done_at "${names[@]}") && break
		for n in "${names[@]}"; do running "$n" || die "$key: member $n exited ($(tail -n 3 "$T/$n.err"))"; done
		sleep 0.1
	done
	[[ -n $t_done ]] || die "$key: not done within ${TIMEOUT}s"
	for n in "${names[@]}"; do
		batches=$((batches + $(last_json "$n" '.totals.batches')))
		record "${key}_first" "$(($(first_commit "$T/$n.out") - t0))"
		local a
		a=$(assigned_at "$T/$n.out")
		[[ -z $ta ]] || ((a < ta)) && ta=$a
		stop "$n" >/dev/null || log "  $key: member $n exit $? on SIGTERM ($(tail -n 2 "$T/$n.err"))"
		grep -qE 'fenced|error' "$T/$n.err" && log "  $key: $n said: $(grep -E 'fenced|error' "$T/$n.err" | head -n 2)"
	done
	record "${key}_rate" "$(calc "$N / (($t_done - $t0) / 1e3)")"
	record "${key}_steady" "$(calc "$N / (($t_done - $ta) / 1e3)")"
	record "${key}_batch" "$(calc "$N / $batches")"
	log "  $key ($k member(s)): $((t_done - t0)) ms, $batches batches"
}

# --- 3. failover -------------------------------------------------------------------------
# parts_of NAME: the partitions in NAME's last progress line's endOffset, "P ..."
parts_of() { last_json "$1" '.sources[0].endOffset // {} | .[] | keys[]' | sort -n | tr '\n' ' '; }

failover_run() {
	local r=$1 topic g t0 i dead="" deadj line t
	topic=fo$r
	g=bench-fo-$r-$RANDOM
	"$BIN/kafka-admin" -b "$BROKERS" create "$topic:4" >/dev/null || die "topic $topic"
	spawn "feed$r" "$BT" feed "$BROKERS" "$topic" 4 800 120
	member "fa$r" "$g" "$T/fa$r.db" "$topic"
	member "fb$r" "$g" "$T/fb$r.db" "$topic"
	# both members consuming, two partitions each
	for ((i = 0; i < 300; i++)); do
		[[ $(parts_of "fa$r" | wc -w) == 2 && $(parts_of "fb$r" | wc -w) == 2 &&
			$(last_json "fa$r" '.numInputRows') -gt 0 && $(last_json "fb$r" '.numInputRows') -gt 0 ]] 2>/dev/null && break
		sleep 0.1
	done
	dead=$(parts_of "fb$r")
	[[ $(wc -w <<<"$dead") == 2 ]] || die "failover: the members do not share the 4 partitions (a: $(parts_of "fa$r"), b: $dead)"
	deadj=$(jq -nc --arg d "$dead" '$d | split(" ") | map(select(. != ""))')
	sleep 1
	t0=$(now_ms)
	stop "fb$r" KILL >/dev/null
	local n0
	n0=$(wc -l <"$T/fa$r.out")
	t=""
	for ((i = 0; i < 600; i++)); do   # 30 s
		# the survivor's first line after t0 with a commit and one of the dead one's partitions
		t=$(tail -n +"$((n0 + 1))" "$T/fa$r.out" | grep '}$' | jq -r --argjson d "$deadj" '
			select(.numBatches > 0 and .numInputRows > 0 and any(.sources[0].endOffset[]? | keys[]; IN($d[]))) |
			.timestampMs' 2>/dev/null | head -n 1)
		[[ -n $t ]] && break
		sleep 0.05
	done
	[[ -n $t ]] || die "failover: the survivor took none of $dead within 30 s ($(tail -n 3 "$T/fa$r.err"))"
	record fo_ms "$((t - t0))"
	line=$(grep 'restored' "$T/fa$r.err" | sed -E 's/^([0-9T:.Z-]+ )?% info: //' | tr '\n' ';')
	record fo_restore "$(grep -c 'restored' "$T/fa$r.err")"
	log "  failover: $((t - t0)) ms (dead had $dead; survivor: ${line:-no restore})"
	# Did the kill leave a transaction open (the broker rolls it back only after
	# transaction.timeout.ms and its abort check: the group's offsets stay
	# unstable until then)?
	local tid
	tid=$(sed -n 's/.*transactional.id \([^ ,]*\),.*/\1/p' "$T/fb$r.err" | head -n 1)
	if [[ -n $tid ]] && grep -q "rollback of ongoing transaction for transactionalId $tid due to timeout" "$T/kafka/logs/server.log"; then
		record fo_open 1
		log "  failover: the dead member's transaction was open; the broker rolled it back at $(grep -h "rollback of ongoing transaction for transactionalId $tid" "$T/kafka/logs/server.log" | head -n 1 | cut -c2-24)"
	else
		record fo_open 0
	fi
	stop "fa$r" >/dev/null
	stop "feed$r" >/dev/null
}

for ((run = 1; run <= RUNS; run++)); do
	log "run $run/$RUNS: restore (10k open windows)"
	restore_run "$run"
	log "run $run/$RUNS: throughput, single instance"
	single_run "$run"
	log "run $run/$RUNS: throughput, one group member"
	group_run g1 "$run" 1
	log "run $run/$RUNS: throughput, two group members"
	group_run g2 "$run" 2
	log "run $run/$RUNS: failover (kill -9)"
	failover_run "$run"
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report ---------------------------------------------------------------------------
sr=$(med single_rate); g1=$(med g1_rate); g2=$(med g2_rate)
ratio1=$(calc "$g1 / $sr"); ratio2=$(calc "$g2 / $sr")
rms=$(med r_ms); fo=$(med fo_ms); fo_target=$((SESSION_MS + 1000))
fo_open_bound=$((SESSION_MS + 1000 + 10000 + 10000))
fo_each=""; fo_max=0; fo_verdict=PASS
mapfile -t fo_all < <(printf '%s' "${S[fo_ms]:-}" | grep -v '^$')
mapfile -t fo_opens < <(printf '%s' "${S[fo_open]:-}" | grep -v '^$')
for i in "${!fo_all[@]}"; do
	v=${fo_all[$i]} o=${fo_opens[$i]:-0}
	fo_each+="${fo_each:+, }$v$([[ $o == 1 ]] && echo '*')"
	((v > fo_max)) && fo_max=$v
	lim=$fo_target; [[ $o == 1 ]] && lim=$fo_open_bound
	((v <= lim)) || fo_verdict=MISS
done
section=$(
	cat <<EOF
## Group mode (tests/bench-group.sh)

Apache Kafka ${KAFKA_VERSION_SEEN:-?}, single node (scripts/kafka, its defaults: \`group.initial.rebalance.delay.ms\` 3000),
on this machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), load average $LOAD0 at the start, $LOAD1 at the end; $(date -u +%Y-%m-%dT%H:%MZ).
Medians of $RUNS runs (BENCH_RUNS). Backlog: $N ticks (\`gen-ticks\`, 4 products, $((BYTES / 1000000)) MB), $P partitions
per product topic; every run a fresh group and fresh state files; \`--batch-time 100ms\` everywhere.

| what is measured | median | target | |
|---|---:|---|---|
| restore of a partition with $(med r_windows) open windows (\`--window 1s --watermark 100000h\`, $RN ticks) by a member with a fresh state file: its \`restored ... in T ms\` | $(fmt "$rms") ms | <= 1000 ms | $(verdict "$rms" "<=" 1000) |
| (reference) that member: start -> first commit (group join included) | $(fmt "$(med r_first)") ms | | |
| throughput, single instance (\`--assign --available-now\`, exec -> exit) | $(fmt "$sr") msg/s, $(fmt "$(med single_batch)") msgs/batch | | |
| throughput, group mode, one member (start -> its progress line with lag 0 and every message read) | $(fmt "$g1") msg/s, $(fmt "$(med g1_batch)") msgs/batch; $(fmt "$ratio1" 2)x single | >= 0.8x | $(verdict "$ratio1" ">=" 0.8) |
| throughput, group mode, two members in one group (together) | $(fmt "$g2") msg/s, $(fmt "$(med g2_batch)") msgs/batch; $(fmt "$ratio2" 2)x single | | |
| (reference) group member start -> first commit (one member / two): the group join | $(fmt "$(med g1_first)") / $(fmt "$(med g2_first)") ms | | |
| (reference) the same rates from the first progress line with partitions (join left out): single / one member / two | $(fmt "$(med single_steady)") / $(fmt "$(med g1_steady)") / $(fmt "$(med g2_steady)") msg/s; one member $(fmt "$(calc "$(med g1_steady) / $(med single_steady)")" 2)x single | | |
| failover: \`kill -9\` of one of two members (4 partitions, 800 ticks/s arriving) -> the survivor's first commit with one of its partitions | $(fmt "$fo") ms | <= session timeout + 1 s = $fo_target ms | $(verdict "$fo" "<=" "$fo_target") |
| (reference) runs whose kill left the dead member's transaction open (rolled back by the broker on its timeout) | $(printf '%s' "${S[fo_open]:-}" | grep -c '^1') of $RUNS | | |
| failover, every run (ms; * = the kill left a transaction open) | $fo_each; largest $(fmt "$fo_max") ms | every run <= $fo_target ms, or <= $fo_open_bound ms when a transaction was left open | $fo_verdict |

What bounds the failover: the dead member's session (\`session.timeout.ms\`, $SESSION_MS ms; with static membership,
\`group.instance.id\`, a member that does not come back within it is removed then) + the survivor's next heartbeat
(300 ms) + the rebalance + the restores (tens of ms). When the kill falls inside a transaction, reading the group's
offsets waits until the broker rolls it back: + \`transaction.timeout.ms\` (10000) + the broker's
\`transaction.abort.timed.out.transaction.cleanup.interval.ms\` (10000 by default, 1000 on a broker set up as the
README says): up to $fo_open_bound ms here.

Samples per run: $(for k in $(printf '%s\n' "${!S[@]}" | sort); do printf '%s: %s; ' "$k" "$(printf '%s' "${S[$k]}" | grep -v '^$' | tr '\n' ' ' | sed 's/ $//')"; done)

Reproduce: \`make bench\` (BENCH_GROUP=0 skips this part), or \`tests/bench-group.sh bin\` (BENCH_RUNS=, BENCH_GROUP_N=).
EOF
)
printf '%s\n' "$section"
results_section group "$section"
log "written to bench/results.md"

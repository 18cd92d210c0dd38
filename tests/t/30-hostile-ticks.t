#!/usr/bin/env bash
# Hostile input end to end: every message of the corpus tests/data/bad/ (see
# its README: NN-name.json raw bytes, NN-name.expect "ACCEPT" or "REJECT text")
# is produced, raw, between the fixture ticks of BTC-USD and ETH-USD (good ticks
# keep their per-partition order). One `aggregator --available-now --assign`
# over both topics must:
#   - exit 0 (bad input never stops the stream);
#   - store every REJECT message in `rejected` (reason containing the corpus'
#     text, payload byte for byte, counted in partitions.rejected);
#   - count the ACCEPT messages (valid ticks replaying an ETH-USD sequence
#     already counted) as duplicates, not as rejects and not in any window;
#   - reject a message over 64 KiB (payload kept cut to 16 KiB, full length in
#     `bytes`) and a tick dated 2099 (more than --max-skew in the future of the
#     clock), and the 2099 tick must not make any later tick late;
#   - produce exactly the offline windows of the good ticks (tests/offline.sh)
#     with every good tick counted once; ticks re-produced later (same product
#     and sequence) are counted once, in products.duplicates.
# The --max-skew rule (README): a tick is rejected iff it is more than
# --max-skew in the future of the clock, or more than --max-skew ahead of its
# partition's latest tick AND in the future of the clock. Two more topics check
# both sides of it: ticks dated around now with one tick +1 day ahead (in the
# future of the clock: rejected, later ticks on time), and the 2023 fixture with
# one tick +1 day ahead (the clock is far later, so the rule accepts it: it
# counts and closes the windows before it).
. "$(dirname "$0")/../lib.sh"

BAD=$DATA/bad
[[ -d $BAD ]] || skip_all "no $BAD"
grep -F '"product_id":"BTC-USD"' "$FIX" >"$T/btc"
grep -F '"product_id":"ETH-USD"' "$FIX" >"$T/eth"

start_broker -t BTC-USD -t ETH-USD -t skew-now -t skew-old || bail "no broker"

# --- the streams -----------------------------------------------------------------
# A stream is a file of messages, each ended by \x01 (a byte no message holds);
# a message "KEY\x02" (key, empty value) is how kcat sends a 0-byte value.
DELIM=$'\x01'
for f in "$BAD"/*.json "$FIX"; do
	if grep -q "$DELIM" "$f" || grep -q $'\x02' "$f"; then bail "$f holds byte 0x01 or 0x02"; fi
done
declare -A OFF=()      # case name -> "topic offset"
declare -A WANT=()     # case name -> expected reason text, or ACCEPT
declare -A NMSG=([BTC-USD]=0 [ETH-USD]=0)
: >"$T/BTC-USD.stream"
: >"$T/ETH-USD.stream"
# good TOPIC FROM TO: lines FROM..TO (1-based) of the product's ticks.
good() {
	local topic=$1 src=$T/btc
	[[ $topic == ETH-USD ]] && src=$T/eth
	(($3 >= $2)) || return 0
	sed -n "$2,$3p" "$src" | tr '\n' '\001' >>"$T/$topic.stream"
	NMSG[$topic]=$((NMSG[$topic] + $3 - $2 + 1))
}
# raw TOPIC NAME FILE: one message with FILE's bytes as its value.
raw() {
	local topic=$1 name=$2 file=$3
	OFF[$name]="$topic ${NMSG[$topic]}"
	if [[ -s $file ]]; then
		cat "$file" >>"$T/$topic.stream"
	else
		printf 'empty\002' >>"$T/$topic.stream"
	fi
	printf '\001' >>"$T/$topic.stream"
	NMSG[$topic]=$((NMSG[$topic] + 1))
}

cases=()
for f in "$BAD"/*.json; do
	n=$(basename "$f" .json)
	[[ -f $BAD/$n.expect ]] || bail "no $BAD/$n.expect"
	read -r verdict text <"$BAD/$n.expect"
	case $verdict in
	ACCEPT) WANT[$n]=ACCEPT ;;
	REJECT) WANT[$n]=$text ;;
	*) bail "$BAD/$n.expect: neither ACCEPT nor REJECT" ;;
	esac
	cases+=("$n")
done
nacc=0 nrej=0
btc_cases=() eth_cases=()
for ((i = 0; i < ${#cases[@]}; i++)); do
	n=${cases[i]}
	if [[ ${WANT[$n]} == ACCEPT ]]; then
		# Valid ETH-USD ticks with sequence 44321677493: placed after the ETH-USD
		# tick with sequence 44321677494 (ETH-USD line 162), they are replays.
		eth_cases+=("$n"); nacc=$((nacc + 1))
	elif ((i % 2)); then
		btc_cases+=("$n"); nrej=$((nrej + 1))
	else
		eth_cases+=("$n"); nrej=$((nrej + 1))
	fi
done
is "$(sed -n 162p "$T/eth" | jq -r .sequence)" 44321677494 "fixture: ETH-USD tick 162 follows the corpus' sequence"

# A tick of 70000 bytes (a valid tick padded with spaces): over the 64 KiB limit.
{ head -n 1 "$T/btc" | tr -d '\n'; head -c $((70000 - $(head -n 1 "$T/btc" | tr -d '\n' | wc -c))) /dev/zero | tr '\0' ' '; } >"$T/huge.json"
is "$(wc -c <"$T/huge.json")" 70000 "a 70000-byte message"
# A BTC-USD tick dated 2099, without a sequence (so that, if it were counted, no
# replay check could hide it): more than --max-skew in the future of the clock.
sed -n 1300p "$T/btc" | jq -c 'del(.sequence) | .time = "2099-04-24T15:10:00.000000Z"' | tr -d '\n' >"$T/y2099.json"

# BTC-USD: the odd-numbered rejects, the huge tick, the 2099 tick, and ticks
# 1991..2000 produced again after tick 2100 (replays: counted once).
pos=300 step=$(((1250 - 300) / ${#btc_cases[@]}))
last=0
for n in "${btc_cases[@]}"; do
	good BTC-USD $((last + 1)) $pos; last=$pos
	raw BTC-USD "$n" "$BAD/$n.json"
	pos=$((pos + step))
done
good BTC-USD $((last + 1)) 1300; last=1300
raw BTC-USD huge "$T/huge.json"
raw BTC-USD y2099 "$T/y2099.json"
good BTC-USD 1301 2100
good BTC-USD 1991 2000
good BTC-USD 2101 "$NB"
BTC_DUPS=10
# ETH-USD: the even-numbered rejects and the ACCEPT cases, from tick 200 on.
pos=200 step=$(((NE - 250) / (${#eth_cases[@]} + 1)))
last=0
for n in "${eth_cases[@]}"; do
	good ETH-USD $((last + 1)) $pos; last=$pos
	raw ETH-USD "$n" "$BAD/$n.json"
	pos=$((pos + step))
done
good ETH-USD $((last + 1)) "$NE"

produce() { # TOPIC FILE
	timeout 30 kcat -b "$BROKERS" -P -t "$1" -p 0 -D '\x01' -K '\x02' -X message.max.bytes=1000000 <"$2"
}
for t in BTC-USD ETH-USD; do
	ok_cmd "produce $t with the hostile messages interleaved" produce "$t" "$T/$t.stream"
	is "$(topic_count "$t")" "${NMSG[$t]}" "$t holds ${NMSG[$t]} messages"
done

# --- the run -----------------------------------------------------------------------
agg() { timeout 60 "$BIN/aggregator" -b "$BROKERS" --assign --available-now --progress-interval 0 "$@"; }
agg --state "$T/state.db" --output "$T/out.csv" >"$T/agg.out" 2>"$T/agg.err"
is "$?" 0 "aggregator over the hostile streams exits 0"
q() { sqlite3 "$T/state.db" "$@"; }

# Every REJECT case is in `rejected` with its reason and its exact bytes.
for n in "${cases[@]}"; do
	read -r topic off <<<"${OFF[$n]}"
	if [[ ${WANT[$n]} == ACCEPT ]]; then
		is "$(q "SELECT count(*) FROM rejected WHERE topic = '$topic' AND offset = $off")" 0 \
			"$n (ACCEPT) is not rejected"
		continue
	fi
	reason=$(q "SELECT reason FROM rejected WHERE topic = '$topic' AND partition = 0 AND offset = $off")
	want=${WANT[$n]}
	if [[ -n $reason && $reason == *"$want"* ]]; then
		pass "$n rejected: $want"
	else
		fail "$n rejected: $want"
		diag "  $topic offset $off: reason '${reason:-<not in rejected>}'"
	fi
done
# Payloads are kept byte for byte (a sample of the awkward ones).
hexof() { od -An -tx1 -v "$1" | tr -d ' \n' | tr a-f A-F; }
for n in 35-invalid-utf8 53-trailing-garbage 55-deep-nesting 57-raw-nul-byte 59-utf8-bom; do
	[[ -n ${OFF[$n]:-} ]] || continue
	read -r topic off <<<"${OFF[$n]}"
	is "$(q "SELECT hex(payload) || ' ' || bytes FROM rejected WHERE topic = '$topic' AND offset = $off")" \
		"$(hexof "$BAD/$n.json") $(wc -c <"$BAD/$n.json")" "$n: payload stored byte for byte"
done
read -r topic off <<<"${OFF[03-empty]}"
is "$(q "SELECT length(payload) || ' ' || bytes FROM rejected WHERE topic = '$topic' AND offset = $off")" "0 0" \
	"03-empty: a 0-byte payload"

read -r topic off <<<"${OFF[huge]}"
like "$(q "SELECT reason FROM rejected WHERE topic = '$topic' AND offset = $off")" 'message too large \(70000 bytes\)' \
	"the 70000-byte message is rejected as too large"
is "$(q "SELECT length(payload) || ' ' || bytes FROM rejected WHERE topic = '$topic' AND offset = $off")" "16384 70000" \
	"its payload is kept cut to 16 KiB (the table's budget), its length in full"
read -r topic off <<<"${OFF[y2099]}"
like "$(q "SELECT reason FROM rejected WHERE topic = '$topic' AND offset = $off")" 'max-skew' \
	"the tick dated 2099 is rejected (--max-skew)"

is "$(q "SELECT count(*) FROM rejected")" "$((nrej + 2))" "rejected holds $nrej corpus rejects + 2, nothing else"
is "$(q "SELECT group_concat(topic || ':' || rejected, ' ') FROM (SELECT * FROM partitions ORDER BY topic)")" \
	"$(q "SELECT group_concat(topic || ':' || n, ' ') FROM (SELECT topic, count(*) AS n FROM rejected GROUP BY topic ORDER BY topic)")" \
	"partitions.rejected counts them per partition"
is "$(q "SELECT group_concat(topic || ':' || next_offset, ' ') FROM (SELECT * FROM partitions ORDER BY topic)")" \
	"BTC-USD:${NMSG[BTC-USD]} ETH-USD:${NMSG[ETH-USD]}" "every message consumed"

# The windows are those of the good ticks alone.
ok_cmd "output.csv == offline windows of the good ticks" "$ROOT/tests/offline.sh" "$FIX" "$T/out.csv"
is "$(q "SELECT group_concat(topic || '/' || product_id || ':' || ticks || ',' || late || ',' || duplicates, ' ')
         FROM (SELECT * FROM products ORDER BY topic, product_id)")" \
	"BTC-USD/BTC-USD:$NB,0,$BTC_DUPS ETH-USD/ETH-USD:$NE,0,$nacc" \
	"every good tick counted once, none late; replays counted as duplicates"
is "$(q "SELECT sum(ticks) FROM windows")" "$((NB + NE))" "window tick counts sum to the good ticks"
is "$(q "SELECT count(*) FROM windows WHERE window_start >= 4000000000000000")" 0 "no window in 2099"
if grep -q $'\x1b' "$T/agg.err"; then fail "no raw terminal escape reaches the log"; else pass "no raw terminal escape reaches the log"; fi

# Ticks re-produced later (e.g. the feed's replay after a producer restart) are
# counted once: the last 11 BTC-USD ticks and the first 5 ETH-USD ticks again.
cp "$T/out.csv" "$T/first.csv"
tail -n 11 "$T/btc" | tr '\n' '\001' >"$T/again.btc"
head -n 5 "$T/eth" | tr '\n' '\001' >"$T/again.eth"
ok_cmd "re-produce 11 BTC-USD and 5 ETH-USD ticks" sh -c "$(declare -f produce); BROKERS=$BROKERS; produce BTC-USD $T/again.btc && produce ETH-USD $T/again.eth"
agg --state "$T/state.db" --output "$T/out.csv" -q >>"$T/agg.out" 2>>"$T/agg.err"
is "$?" 0 "a second run over the replays exits 0"
is "$(q "SELECT group_concat(product_id || ':' || ticks || ',' || late || ',' || duplicates, ' ')
         FROM (SELECT * FROM products ORDER BY topic, product_id)")" \
	"BTC-USD:$NB,0,$((BTC_DUPS + 11)) ETH-USD:$NE,0,$((nacc + 5))" "the replays are counted as duplicates only"
ok_cmd "output.csv unchanged by the replays" cmp "$T/first.csv" "$T/out.csv"

# --- --max-skew, clock near the data ----------------------------------------------------
# 120 ticks 20..1 min before now, one tick +1 day after the last, then 60 more
# ticks: the +1 day tick is in the future of the clock and more than 1 h ahead
# of the partition: rejected; the ticks after it are on time.
tmpl=$(head -n 1 "$T/btc")
now=$(date +%s)
{
	seq=1000
	for ((i = 0; i < 180; i++)); do
		s=$((now - 1200 + i * 5))
		((i == 120)) && jq -c --arg t "$(date -u -d "@$((s + 86400))" +%Y-%m-%dT%H:%M:%S.000000Z)" \
			--argjson q "$((seq + 1))" '.time = $t | .sequence = $q' <<<"$tmpl" | tr '\n' '\001'
		seq=$((seq + 2))
		jq -c --arg t "$(date -u -d "@$s" +%Y-%m-%dT%H:%M:%S.000000Z)" --argjson q "$seq" \
			'.time = $t | .sequence = $q' <<<"$tmpl" | tr '\n' '\001'
	done
} >"$T/skew-now.stream"
ok_cmd "produce skew-now" produce skew-now "$T/skew-now.stream"
agg -t skew-now --state "$T/now.db" --output "$T/now.csv" -q
is "$?" 0 "aggregator over skew-now exits 0"
is "$(sqlite3 "$T/now.db" "SELECT offset || ' ' || (reason LIKE '%max-skew%') FROM rejected")" "120 1" \
	"clock near the data: the +1 day tick is rejected (--max-skew)"
is "$(sqlite3 "$T/now.db" "SELECT ticks || ' ' || late FROM products")" "180 0" \
	"and no later tick is late"

# --- --max-skew, clock far later than the data -------------------------------------------
# The fixture's BTC-USD ticks with one tick dated +1 day (2023-04-25) after tick
# 1300, without a sequence. The clock is years later, so the tick is not live:
# it is more than --max-skew ahead of its partition and not confirmed by the
# ticks after it, so it is rejected and no later tick is late.
sed -n 1300p "$T/btc" | jq -c 'del(.sequence) | .time = "2023-04-25T15:10:00.000000Z"' | tr '\n' '\001' >"$T/d1.json"
{ sed -n 1,1300p "$T/btc" | tr '\n' '\001'; cat "$T/d1.json"; sed -n "1301,${NB}p" "$T/btc" | tr '\n' '\001'; } >"$T/skew-old.stream"
ok_cmd "produce skew-old" produce skew-old "$T/skew-old.stream"
agg -t skew-old --state "$T/old.db" --output "$T/old.csv" -q
is "$?" 0 "aggregator over skew-old exits 0"
is "$(sqlite3 "$T/old.db" "SELECT offset || ' ' || (reason LIKE '%max-skew%') FROM rejected")" "1300 1" \
	"clock far later: the +1 day tick is rejected (--max-skew)"
is "$(sqlite3 "$T/old.db" "SELECT late FROM products")" 0 "and no later tick is late"

# A jump confirmed by the ticks after it (a gap in recorded data) is accepted
# after 10 consecutive ticks: the first 9 are rejected, the rest counted.
{ sed -n 1,1300p "$T/btc" | tr '\n' '\001'
  sed -n "1301,${NB}p" "$T/btc" | jq -c '.time |= (sub("^2023-04-24"; "2023-04-25"))' | tr '\n' '\001'; } >"$T/skew-gap.stream"
ok_cmd "produce skew-gap" produce skew-gap "$T/skew-gap.stream"
agg -t skew-gap --state "$T/gap.db" --output "$T/gap.csv" -q
is "$?" 0 "aggregator over skew-gap exits 0"
is "$(sqlite3 "$T/gap.db" "SELECT count(*) || ' ' || min(offset) || ' ' || max(offset) FROM rejected")" "9 1300 1308" \
	"a confirmed jump: only its first 9 ticks are rejected"
is "$(sqlite3 "$T/gap.db" "SELECT ticks || ' ' || late FROM products")" "$((NB - 9)) 0" \
	"the rest are counted, none late"

done_testing

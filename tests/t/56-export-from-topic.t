#!/usr/bin/env bash
# aggregator export --from-topic: the materializer of group mode.  Members
# write partial windows ("w\tTOPIC\tPART\tPRODUCT\tSTART\tEND" -> "ticks sums
# max_time maxes") and per input partition markers ("c\tTOPIC\tPART" ->
# "closed_until partitions") to an output topic; the export reads every
# committed record and writes the windows all input partitions have closed,
# byte for byte what one aggregator writes for them.  Here the partials and
# markers are made from a single aggregator's state (its windows table and its
# watermark), spread over the output topic's two partitions.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD:2 -t ETH-USD -t out:2 -t out2:2 -t out3:2 -t out4:2 -t out5:2 || bail "no broker"
grep -F '"product_id":"BTC-USD"' "$FIX" >"$T/btc"
half=$((NB / 2))
ok_cmd "load the fixture (BTC-USD over 2 partitions)" sh -c "head -n $half '$T/btc' | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 &&
	tail -n +$((half + 1)) '$T/btc' | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 1 &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0"
ok_cmd "the single aggregator (--available-now): the reference" timeout 90 "$BIN/aggregator" -b "$BROKERS" -g g56 \
	--assign --available-now --progress-interval 0 -s "$T/ref.db" -o "$T/ref.csv"
wm=$(sqlite3 "$T/ref.db" "SELECT value FROM meta WHERE key = 'watermark_us'")
rows=$(($(wc -l <"$T/ref.csv") - 1))
cmp_ok "$rows" -ge 10 "the reference has rows ($rows)"
is "$(sqlite3 "$T/ref.db" "SELECT value FROM meta WHERE key = 'exported_until_us'")" "$wm" \
	"it exported every window up to its watermark"

# The partials: one line "KEY|VALUE" per row of the windows table.  ieee754()
# gives each double exactly (M * 2^E); bash's printf reads it as a hex float
# and writes 17 digits (exact), jq shortens them as fmt_double does.
hexf() { local m=$1 e=$2 s=""; ((m < 0)) && { s=-; m=$((-m)); }; printf '%s0x%xp%d' "$s" "$m" "$e"; }
while IFS='|' read -r tp pa pr ws we ti sp sv mt bb ba; do
	args=()
	for d in "$sp" "$sv" "$bb" "$ba"; do
		[[ $d =~ ^ieee754\((-?[0-9]+),(-?[0-9]+)\)$ ]] || bail "ieee754 gave '$d'"
		args+=("$(printf '%.17g' "$(hexf "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}")")")
	done
	printf '["%s","%s","%s","%s","%s","%s",%s,%s,"%s",%s,%s]\n' "$tp" "$pa" "$pr" "$ws" "$we" "$ti" \
		"${args[0]}" "${args[1]}" "$mt" "${args[2]}" "${args[3]}"
done < <(sqlite3 "$T/ref.db" "SELECT topic, partition, product_id, window_start, window_end, ticks, ieee754(sum_price),
	ieee754(sum_volume_24h), max_time, ieee754(max_best_bid), ieee754(max_best_ask) FROM windows ORDER BY random()") |
	jq -r '"w\t\(.[0])\t\(.[1])\t\(.[2])\t\(.[3])\t\(.[4])|\(.[5]) \(.[6]) \(.[7]) \(.[8]) \(.[9]) \(.[10])"' >"$T/partials"
is "$(wc -l <"$T/partials")" "$(sqlite3 "$T/ref.db" 'SELECT count(*) FROM windows')" "a partial per row of the windows table"
like "$(head -n 1 "$T/partials")" $'^w\t(BTC|ETH)-USD\t[01]\t(BTC|ETH)-USD\t[0-9]{16}\t[0-9]{16}\\|[0-9]+ [0-9.e+]+ [0-9.e+]+ [0-9]{16} [0-9.e+]+ [0-9.e+]+$' \
	"a partial: its key and value"
# produce TOPIC PARTITION FILE: KEY|VALUE lines ("KEY|": a NULL value, a tombstone)
produce() { timeout 30 kcat -b "$BROKERS" -P -t "$1" -p "$2" -K '|' -Z <"$3"; }
# the partials of the reference over both partitions of TOPIC, and markers
# at closed_until for BTC-USD [0], [1] and ETH-USD [0] (an empty one: none)
publish() { # publish TOPIC BTC0 BTC1 ETH0
	awk 'NR % 2 == 0' "$T/partials" >"$T/$1.p0"
	awk 'NR % 2 == 1' "$T/partials" >"$T/$1.p1"
	: >"$T/$1.c"
	[[ -n $2 ]] && printf 'c\tBTC-USD\t0|%s 2\n' "$2" >>"$T/$1.c"
	[[ -n $3 ]] && printf 'c\tBTC-USD\t1|%s 2\n' "$3" >>"$T/$1.c"
	[[ -n $4 ]] && printf 'c\tETH-USD\t0|%s 1\n' "$4" >>"$T/$1.c"
	produce "$1" 0 "$T/$1.p0" && produce "$1" 1 "$T/$1.p1" && produce "$1" 0 "$T/$1.c"
}
xport() { # xport NAME TOPIC [ARGS...]: export --from-topic TOPIC to $T/NAME.csv, log $T/NAME.err
	local name=$1 topic=$2; shift 2
	timeout 90 "$BIN/aggregator" export -b "$BROKERS" --from-topic "$topic" --output "$T/$name.csv" "$@" 2>"$T/$name.err"
}

# 1. Every marker at the watermark: the reference CSV, byte for byte.  Before
# them on the same partitions: a wrong partial later replaced, a partial
# later withdrawn (tombstone), an older marker and a marker's tombstone, a
# record that is neither.
w1=$(head -n 1 "$T/partials")
{
	printf '%s|1 1 1 1 1 1\n' "${w1%%|*}"
	printf 'w\tETH-USD\t0\tXRP-USD\t0\t60000000|3 1.5 2 1000 4 5\n'
	printf 'c\tBTC-USD\t1|%s 2\n' "$((wm - 600000000))"
	printf 'c\tETH-USD\t0|\n'
	printf 'hello|world\n'
} >"$T/early"
printf 'w\tETH-USD\t0\tXRP-USD\t0\t60000000|\n' >"$T/late"
# (the first partial goes to partition 1, after its wrong value there)
step1() { produce out 1 "$T/early" && publish out "$wm" "$wm" "$wm" && produce out 1 "$T/late"; }
ok_cmd "publish partials and markers to out (2 partitions)" step1
ok_cmd "export --from-topic out" xport a out
ok_cmd "the CSV equals the single aggregator's output.csv (cmp)" cmp "$T/ref.csv" "$T/a.csv"
d=$(date -u -d "@$((wm / 1000000))" +%Y-%m-%dT%H:%M:%S)
like "$(grep 'info: export from out' "$T/a.err")" \
	"^$LOG_TS % info: export from out: $rows windows \\([0-9]+ bytes\\) to .*/a\\.csv; closed until ${d}\\.[0-9]{3}Z: 3 of 3 input partitions have a marker, held back by (BTC|ETH)-USD \\[[01]\\]" \
	"one summary line: rows, the closed point, partitions complete, which holds it back"
like "$(cat "$T/a.err")" "warning: out \\[1\\] offset [0-9]+: skipped \\(not a partial \\(w\\) or marker \\(c\\) key\\)" \
	"a record that is neither is skipped, with a warning"
like "$(grep 'info: export from out' "$T/a.err")" "1 withdrawn, 1 skipped$" "the tombstone withdrew its partial"
ok_cmd "the same again" xport b out
ok_cmd "gives the same file" cmp "$T/a.csv" "$T/b.csv"
ok_cmd "--columns lab from the state" timeout 30 "$BIN/aggregator" export --state "$T/ref.db" --output "$T/lab.ref.csv" \
	--columns lab
ok_cmd "--columns lab from the topic" xport lab out --columns lab
ok_cmd "the same CSV" cmp "$T/lab.ref.csv" "$T/lab.csv"
is "$(head -n 1 "$T/lab.csv")" "window_start,product_id,max(timestamp),avg(price),max(best_bid),max(best_ask),avg(volume_24h)" \
	"--columns lab: the lab's header"

# 2. BTC-USD [1] has no marker: nothing is complete.
ok_cmd "publish to out2 without BTC-USD [1]'s marker" publish out2 "$wm" '' "$wm"
ok_cmd "export --from-topic out2" xport c out2
is "$(cat "$T/c.csv")" "$(head -n 1 "$T/ref.csv")" "only the header"
like "$(grep 'info: export from out2' "$T/c.err")" \
	"out2: 0 windows .*closed until none: 2 of 3 input partitions have a marker, held back by BTC-USD \\[1\\] \\(no marker\\)" \
	"the log names the partition without a marker"

# 3. BTC-USD [1] closed 5 minutes earlier: the windows up to there, as
# export --state writes them from the reference state cut there.
early=$((wm - 300000000))
ok_cmd "publish to out3, BTC-USD [1] closed until watermark - 5m" publish out3 "$wm" "$early" "$wm"
ok_cmd "export --from-topic out3" xport d out3
cp "$T/ref.db" "$T/cut.db"
sqlite3 "$T/cut.db" "UPDATE meta SET value = $early WHERE key = 'exported_until_us'"
ok_cmd "export --state of the reference cut there" timeout 30 "$BIN/aggregator" export --state "$T/cut.db" --output "$T/cut.csv"
ok_cmd "the same CSV" cmp "$T/cut.csv" "$T/d.csv"
cmp_ok "$(wc -l <"$T/d.csv")" -lt "$((rows + 1))" "fewer rows than the reference"
cmp_ok "$(wc -l <"$T/d.csv")" -gt 1 "but some"
like "$(grep 'info: export from out3' "$T/d.err")" "3 of 3 input partitions have a marker, held back by BTC-USD \\[1\\] \\(closed until" \
	"held back by BTC-USD [1]"

# 4. Partials of a topic no marker names: not complete either.
ok_cmd "publish to out4: markers of BTC-USD only" publish out4 "$wm" "$wm" ''
ok_cmd "export --from-topic out4" xport e out4
is "$(cat "$T/e.csv")" "$(head -n 1 "$T/ref.csv")" "only the header"
like "$(cat "$T/e.err")" "held back by ETH-USD \\(partials, no marker of any partition\\)" "the log says which topic"

# 5. A transaction (read_committed): the partials and markers in one
# committed transaction, keys hashed over both partitions.  (An open one
# cannot be made here: kcat 1.7 produces its input only at EOF.)
cat "$T/partials" "$T/out.c" >"$T/txn.in"
ok_cmd "one committed transaction to out5" timeout 30 kcat -b "$BROKERS" -P -t out5 -K '|' -Z \
	-X transactional.id=t56a <"$T/txn.in"
ok_cmd "export --from-topic out5" xport f out5
ok_cmd "the CSV equals the reference" cmp "$T/ref.csv" "$T/f.csv"
like "$(grep 'info: export from out5' "$T/f.err")" "read $(wc -l <"$T/partials") partials, 3 markers" "every partial and marker read"

# 6. Failures: the output's directory missing (exit 4, as export --state); no
# broker (exit 1, bounded); the previous CSV is left as it was.
xport none out --output "$T/no/such/dir/x.csv"
is "$?" 4 "an output directory that does not exist: exit 4"
timeout 30 "$BIN/aggregator" export --state "$T/ref.db" --output "$T/no/such/dir/x.csv" 2>/dev/null
is "$?" 4 "(as export --state)"
cp "$T/a.csv" "$T/keep.csv"
start=$SECONDS
timeout 60 "$BIN/aggregator" export -b 127.0.0.1:1 --from-topic out --output "$T/a.csv" 2>"$T/nb.err"
is "$?" 1 "no broker at the address: exit 1"
cmp_ok "$((SECONDS - start))" -le 30 "within 30 s"
like "$(cat "$T/nb.err")" "error: no broker reachable at 127\\.0\\.0\\.1:1" "says no broker is reachable"
ok_cmd "the CSV is left as it was" cmp "$T/keep.csv" "$T/a.csv"
is "$(find "$T" -maxdepth 1 -name '.*texp*' | wc -l)" 0 "no temporary file left beside the output"
done_testing

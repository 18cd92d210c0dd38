#!/usr/bin/env bash
# brokers: kafka
# A partition revoked from a group member does not hold that member's
# watermark back (issue 24, case 15): its closed_until moved with it, so the
# member's rows come out as its own partitions allow, not --idle-timeout
# after the revoke.  Member a reads both partitions of BTC-USD; b joins and
# takes one; then both partitions get the rest of the ticks.  With
# --idle-timeout 10m, the export must have every window within seconds: were
# the revoked partition still in a's watermark, a's partition would close
# nothing more for 10 minutes.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD:2 || bail "no broker"
grep -F '"product_id":"BTC-USD"' "$FIX" >"$T/btc"
for i in 0 1; do
	awk -v i=$i 'NR % 2 == i' "$T/btc" >"$T/btc.$i"
	tail -n 1 "$T/btc.$i" | jq -c --argjson i "$i" '[range(1; 4) as $k | .sequence += 1000 * $k + $i |
		.trade_id += 1000 * $k + $i | .time = "2023-04-24T16:00:0\($k).000000Z"] | .[]' >>"$T/btc.$i"
	n=$(($(wc -l <"$T/btc.$i") / 2))
	head -n "$n" "$T/btc.$i" >"$T/btc.$i.first"
	tail -n +"$((n + 1))" "$T/btc.$i" >"$T/btc.$i.rest"
done
cat "$T/btc.0" "$T/btc.1" >"$T/all"
load() { # load first|rest
	timeout 30 kcat -b "$BROKERS" -P -t BTC-USD -p 0 <"$T/btc.0.$1" &&
		timeout 30 kcat -b "$BROKERS" -P -t BTC-USD -p 1 <"$T/btc.1.$1"
}
member() { spawn "$1" "$BIN/aggregator" -b "$BROKERS" -g g89 -t BTC-USD --output-topic g89-out -s "$T/$1.db" \
	--batch-time 50ms --idle-timeout 10m --progress-interval 0 -X session.timeout.ms=6000; }
offsets() { sqlite3 -separator ' ' "$T/$1.db" "SELECT partition, next_offset FROM partitions ORDER BY 1" 2>/dev/null |
	paste -sd' '; }
assigned() { grep -c 'info: assigned' "$T/$1.err" 2>/dev/null; }

ok_cmd "the first half of the ticks loaded" load first
member a
first="0 $(wc -l <"$T/btc.0.first") 1 $(wc -l <"$T/btc.1.first")"
ok_cmd "a reads both partitions to their end" wait_for 60 sh -c "[ \"\$(sqlite3 -separator ' ' '$T/a.db' \
	'SELECT partition, next_offset FROM partitions ORDER BY 1' 2>/dev/null | paste -sd' ')\" = '$first' ]"
member b
both() { (($(assigned a) >= 3 && $(assigned b) >= 1)); }
ok_cmd "b joins: a is assigned again, b gets partitions" wait_for 60 both
sleep 2 # settled
kept=$(grep -o 'info: assigned BTC-USD \[[0-9]\]' "$T/a.err" | tail -n +3 | grep -o '[0-9]' | paste -sd' ')
took=$(grep -o 'info: assigned BTC-USD \[[0-9]\]' "$T/b.err" | grep -o '[0-9]' | paste -sd' ')
is "$(printf '%s\n' $kept $took | sort | paste -sd' ')" "0 1" "a kept one partition ($kept), b took the other ($took)"
like "$(cat "$T/a.err")" "info: revoked BTC-USD \[$took\]" "a says $took was revoked"

t0=$(date +%s%N)
ok_cmd "the rest of the ticks loaded" load rest
complete() { timeout 60 "$BIN/aggregator" export --from-topic g89-out -b "$BROKERS" --output "$T/g.csv" \
	2>"$T/export.err" && "$ROOT/tests/offline.sh" "$T/all" "$T/g.csv" >"$T/offline.out" 2>&1; }
ok_cmd "the export has every window (== offline)" wait_for 60 complete
ms=$((($(date +%s%N) - t0) / 1000000))
cmp_ok "$ms" -lt 30000 "within 30 s of the load, --idle-timeout 10m (${ms} ms): the revoked partition did not hold a back"
ok_cmd "the export == offline windows" "$ROOT/tests/offline.sh" "$T/all" "$T/g.csv"
stop a
is "$?" 0 "a stops, exit 0"
stop b
is "$?" 0 "b stops, exit 0"
done_testing

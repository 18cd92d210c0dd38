#!/usr/bin/env bash
# A quiet spell, then a burst: both partitions silent for longer than
# --idle-timeout (a quiet market, a producer cut off from Kafka, an aggregator
# stopped), then the buffered ticks arrive, BTC-USD's backlog a moment before
# ETH-USD's.  BTC's backlog must not move the watermark past the ticks ETH has
# not delivered yet: no on-time tick is dropped as late.  An idle partition
# stops holding the watermark only for event times the others delivered at
# least --idle-timeout ago.  Late ticks, when there are some, give a warning
# line with their count.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
# Parts by event time: up to 15:05, the rest (17 minutes) after the quiet spell.
for p in BTC ETH; do
	grep -F "\"product_id\":\"$p-USD\"" "$FIX" >"$T/$p"
	awk '/"time":"2023-04-24T15:0[0-4]/' "$T/$p" >"$T/$p.1"
	awk '!/"time":"2023-04-24T15:0[0-4]/' "$T/$p" >"$T/$p.2"
done
n1b=$(wc -l <"$T/BTC.1") n1e=$(wc -l <"$T/ETH.1")
load() { timeout 30 kcat -b "$BROKERS" -P -t "$1-USD" -p 0 <"$T/$2"; }
offset() { sqlite3 "$T/a.db" "SELECT next_offset FROM partitions WHERE topic = '$1-USD'" 2>/dev/null; }
at() { [[ $(offset "$1") == "$2" ]]; }

ok_cmd "first 5 minutes of both products in" sh -c "$(declare -f load); T=$T BROKERS=$BROKERS; load BTC BTC.1 && load ETH ETH.1"
spawn a "$BIN/aggregator" -b "$BROKERS" -g g45 -t BTC-USD,ETH-USD --assign --idle-timeout 2s --batch-time 50ms \
	--progress-interval 0 --state "$T/a.db" --output "$T/a.csv"
ok_cmd "read: BTC" wait_for 30 at BTC "$n1b"
ok_cmd "read: ETH" wait_for 30 at ETH "$n1e"
sleep 3 # both at their end for longer than --idle-timeout
ok_cmd "BTC's backlog arrives" load BTC BTC.2
ok_cmd "and is read" wait_for 30 at BTC "$NB"
sleep 0.5
ok_cmd "ETH's backlog a moment later" load ETH ETH.2
ok_cmd "and is read" wait_for 30 at ETH "$NE"
stop a TERM
is "$?" 0 "SIGTERM: exit 0"
is "$(sqlite3 "$T/a.db" "SELECT sum(ticks) || ' ' || sum(late) FROM products")" "$((NB + NE)) 0" \
	"every tick counted, none late"
unlike "$(cat "$T/a.err")" "late" "no word of late ticks"
ok_cmd "a last --available-now pass" timeout 60 "$BIN/aggregator" -b "$BROKERS" -g g45 -t BTC-USD,ETH-USD --assign \
	--available-now --idle-timeout 10m -q --state "$T/a.db" --output "$T/a.csv"
ok_cmd "output.csv == offline windows" "$ROOT/tests/offline.sh" "$FIX" "$T/a.csv"

# Late ticks on purpose: three of the first minute again, now behind the watermark.
head -n 3 "$T/ETH.1" | sed 's/"sequence":\([0-9]*\)/"sequence":9\1/' >"$T/old"
ok_cmd "three old ETH ticks" load ETH old
timeout 60 "$BIN/aggregator" -b "$BROKERS" -g g45 -t BTC-USD,ETH-USD --assign \
	--available-now --idle-timeout 10m --progress-interval 0 --state "$T/a.db" --output "$T/a.csv" 2>"$T/b.err"
is "$?" 0 "read them: exit 0"
is "$(sqlite3 "$T/a.db" "SELECT late FROM products WHERE product_id = 'ETH-USD'")" 3 "counted late"
like "$(cat "$T/b.err")" "warning: ETH-USD \\[0\\] ETH-USD: 1 late tick .*window .*closed" "the first says so"
ok_cmd "output.csv unchanged: == offline windows" "$ROOT/tests/offline.sh" "$FIX" "$T/a.csv"
done_testing

#!/usr/bin/env bash
# One tick with an absurd feed sequence must not make every later tick of its
# product a "duplicate": a sequence far above the largest is counted but taken
# as the new largest only once 10 ticks in a row confirm it; one far below
# (the largest was the outlier, e.g. at the head of the partition) is no
# replay, and 10 in a row replace the largest.  A real replay is still counted
# once, and more than a handful of duplicates say so in a warning line.
. "$(dirname "$0")/../lib.sh"

start_broker -t mid -t head -t replay || bail "no broker"
grep -F '"product_id":"BTC-USD"' "$FIX" >"$T/btc"
N=$(wc -l <"$T/btc")
absurd='s/"sequence":[0-9]*/"sequence":9000000000000000000/'
sed "500$absurd" "$T/btc" >"$T/mid"         # one in the middle
sed "1$absurd" "$T/btc" >"$T/head"          # the first of the partition
{ cat "$T/btc"; tail -n 60 "$T/btc"; } >"$T/replay"   # the last 60 again
for t in mid head replay; do
	ok_cmd "load $t" sh -c "timeout 30 kcat -b $BROKERS -P -t $t -p 0 <'$T/$t'"
done
agg() { bounded_run g44 "$1"; }
counts() { sqlite3 "$T/$1.db" "SELECT sum(ticks) || ' ' || sum(duplicates) FROM products"; }

ok_cmd "an absurd sequence in the middle" agg mid
is "$(counts mid)" "$N 0" "every tick counted, none a duplicate"
like "$(cat "$T/mid.err")" "sequence 9000000000000000000 is far above" "it says it did not take it"

ok_cmd "an absurd sequence at the head" agg head
is "$(counts head)" "$N 0" "every tick counted, none a duplicate"
like "$(cat "$T/head.err")" "the largest sequence 9000000000000000000 was an outlier" "it says so"
ok_cmd "its windows == offline" "$ROOT/tests/offline.sh" "$T/btc" "$T/head.csv"

ok_cmd "a real replay of 60 ticks" agg replay
is "$(counts replay)" "$N 60" "counted once: 60 duplicates"
like "$(cat "$T/replay.err")" "warning: replay \\[0\\] BTC-USD: 50 duplicates so far" "more than a handful: a warning line"
done_testing

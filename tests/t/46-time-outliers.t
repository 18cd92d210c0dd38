#!/usr/bin/env bash
# One tick cannot poison event time.  A tick far ahead of its partition (55
# minutes, within --max-skew) is counted in its own window but moves neither the
# partition's event time nor the watermark until 10 ticks in a row confirm the
# jump (before, the ~2200 on-time ticks after it were late); a 1970 tick, or
# one 55 minutes ahead, at the head of a partition is not its baseline (before,
# the first real ticks were rejected as too far ahead of 1970, or all were late).
# A real jump (a gap of 30 minutes in the data) is confirmed and nothing is
# lost.
. "$(dirname "$0")/../lib.sh"

start_broker -t pure -t mid -t head70 -t head55 -t gap -t live || bail "no broker"
grep -F '"product_id":"BTC-USD"' "$FIX" >"$T/pure"
N=$(wc -l <"$T/pure")
ahead() { sed -e 's/"time":"[^"]*"/"time":"2023-04-24T16:00:00.000000Z"/' -e "s/\"sequence\":[0-9]*/\"sequence\":$1/"; }
# After tick 500 (15:04:03, sequence ...420; the next is ...443): one at 16:00.
{ head -n 500 "$T/pure"; sed -n 500p "$T/pure" | ahead 44321686421; tail -n +501 "$T/pure"; } >"$T/mid"
{ head -n 1 "$T/pure" | sed -e 's/"time":"[^"]*"/"time":"1970-01-01T00:00:00.000000Z"/' \
	-e 's/"sequence":[0-9]*/"sequence":44321670295/'; cat "$T/pure"; } >"$T/head70"
{ head -n 1 "$T/pure" | ahead 44321670295; cat "$T/pure"; } >"$T/head55"
sed -e 's/"time":"2023-04-24T15:1/"time":"2023-04-24T15:4/' -e 's/"time":"2023-04-24T15:2/"time":"2023-04-24T15:5/' \
	"$T/pure" >"$T/gap"
for t in pure mid head70 head55 gap; do
	ok_cmd "load $t" sh -c "timeout 30 kcat -b $BROKERS -P -t $t -p 0 <'$T/$t'"
done
agg() { bounded_run g46 "$1"; }
q() { sqlite3 "$T/$1.db" "$2"; }
counts() { q "$1" "SELECT sum(ticks) || ' ' || sum(late) || ' ' || (SELECT sum(rejected) FROM partitions) FROM products"; }
wm() { q "$1" "SELECT value FROM meta WHERE key = 'watermark_us'"; }

ok_cmd "the fixture alone" agg pure
is "$(counts pure)" "$N 0 0" "all counted"

ok_cmd "a tick 55 minutes ahead in the middle" agg mid
is "$(counts mid)" "$((N + 1)) 0 0" "every tick counted, none late, none rejected"
is "$(wm mid)" "$(wm pure)" "the watermark as without it"
is "$(cat "$T/mid.csv")" "$(cat "$T/pure.csv")" "output.csv as without it (its window is not closed)"
like "$(cat "$T/mid.err")" "mid \\[0\\]: a tick at 2023-04-24T16:00:00.000Z is .* ahead" "it says so"

ok_cmd "a 1970 tick at the head" agg head70
is "$(counts head70)" "$((N + 1)) 0 0" "every tick counted, none late, none rejected"
is "$(wm head70)" "$(wm pure)" "the watermark as without it"
is "$(grep -v '^1970-' "$T/head70.csv")" "$(cat "$T/pure.csv")" "output.csv as without it, and the 1970 tick's own row"
is "$(grep -c '^1970-' "$T/head70.csv")" 1 "(one row)"

ok_cmd "a tick 55 minutes ahead at the head" agg head55
is "$(counts head55)" "$((N + 1)) 0 0" "every tick counted, none late, none rejected"
is "$(wm head55)" "$(wm pure)" "the watermark as without it"
is "$(cat "$T/head55.csv")" "$(cat "$T/pure.csv")" "output.csv as without it"

ok_cmd "a gap of 30 minutes in the data" agg gap
is "$(counts gap)" "$N 0 0" "every tick counted, none late, none rejected"
ok_cmd "output.csv == offline windows" "$ROOT/tests/offline.sh" "$T/gap" "$T/gap.csv"
# A live feed back after a 2-hour outage: its ticks are near the clock, so
# the jump beyond --max-skew is taken at once, nothing rejected (without the
# live exception its first 9 ticks were).
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.000000Z; }
now=$(date +%s)
for i in $(seq 0 9); do
	sed -n "$((i + 1))p" "$T/pure" | sed "s/\"time\":\"[^\"]*\"/\"time\":\"$(iso $((now - 7200 - 60 + i)))\"/"
done >"$T/live"
for i in $(seq 0 9); do
	sed -n "$((i + 11))p" "$T/pure" | sed "s/\"time\":\"[^\"]*\"/\"time\":\"$(iso $((now - 10 + i)))\"/"
done >>"$T/live"
ok_cmd "load live" sh -c "timeout 30 kcat -b $BROKERS -P -t live -p 0 <'$T/live'"
ok_cmd "a live feed back after 2 hours" agg live
is "$(counts live)" "20 0 0" "every tick counted, none late, none rejected"
is "$(q live "SELECT max_time / 1000000 FROM partitions")" "$((now - 1))" "its event time is the live ticks'"
done_testing

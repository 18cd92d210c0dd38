#!/usr/bin/env bash
# aggregator over a backlog of several partitions: one topic, four partitions,
# a product split over two of them, one partition empty. Partial aggregates
# per partition merge into the same windows as the offline computation, with
# tumbling and with sliding windows; a sqlite3 reader holding a read
# transaction open does not stall the aggregator.
. "$(dirname "$0")/../lib.sh"
plan 13

start_broker -t ticks:4 -t empty:1 || bail "no broker"

# BTC-USD alternates between partitions 0 and 1, ETH-USD goes to 2, 3 stays empty.
grep -F '"product_id":"BTC-USD"' "$FIX" | awk 'NR % 2 == 1' > "$T/p0"
grep -F '"product_id":"BTC-USD"' "$FIX" | awk 'NR % 2 == 0' > "$T/p1"
grep -F '"product_id":"ETH-USD"' "$FIX" > "$T/p2"
for p in 0 1 2; do
	ok_cmd "load partition $p" sh -c "timeout 30 kcat -b $BROKERS -P -t ticks -p $p < $T/p$p"
done
# The watermark at the end: the smallest per-partition largest event time - 2 min.
last_us() { tail -n 1 "$1" | jq -r .time | { read -r t; echo "$(date -u -d "$t" +%s)$(echo "$t" | sed -E 's/.*\.([0-9]{6})Z/\1/')"; }; }
wm=$(for p in 0 1 2; do last_us "$T/p$p"; done | sort -n | head -n 1)

# A reader holds a read transaction for 6 s while the aggregator works.
mkfifo "$T/sql.in"
SPAWN_STDIN=$T/sql.in spawn reader sqlite3 "$T/state.db"
exec {sqlfd}>"$T/sql.in"
agg() { timeout 60 "$BIN/aggregator" -b "$BROKERS" -q "$@"; }
ok_cmd "a first run over an empty topic creates the state" \
	agg -t empty --available-now --assign --state "$T/state.db" --output "$T/out.csv" -g g1
echo "BEGIN; SELECT count(*) FROM windows;" >&$sqlfd
wait_for 5 test -s "$T/reader.out"
ok_cmd "the aggregator commits while a reader holds a read transaction" \
	agg -t ticks --available-now --state "$T/state.db" --output "$T/out.csv" -g g1
ok_cmd "the reader is still in its transaction" running reader
WATERMARK_US=$((wm - 120000000)) ok_cmd "tumbling 1m windows over 4 partitions == offline" \
	"$ROOT/tests/offline.sh" "$FIX" "$T/out.csv"
printf "COMMIT;\n.quit\n" >&$sqlfd
exec {sqlfd}>&-
ok_cmd "the reader finished cleanly" wait_exit reader 10
is "$(sqlite3 "$T/state.db" "SELECT count(DISTINCT partition) FROM windows WHERE product_id = 'BTC-USD'")" 2 \
	"BTC-USD windows kept per partition (partial aggregates)"
is "$(sqlite3 "$T/state.db" "SELECT count(*) FROM partitions")" 3 "three partitions held ticks"

ok_cmd "sliding 30s/10s, watermark 1m" \
	agg -t ticks --available-now --state "$T/slide.db" --output "$T/slide.csv" -g g2 --window 30s --slide 10s --watermark 1m
WATERMARK_US=$((wm - 60000000)) ok_cmd "sliding windows == offline" \
	"$ROOT/tests/offline.sh" "$FIX" "$T/slide.csv" 30 10 60
is "$(sqlite3 "$T/slide.db" "SELECT sum(ticks) FROM windows")" "$(($(wc -l <"$FIX") * 3))" \
	"each tick counted in its three sliding windows"

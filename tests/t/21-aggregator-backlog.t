#!/usr/bin/env bash
# aggregator over a backlog of several partitions: one topic, four partitions,
# a product split over two of them, one partition empty. Partial aggregates
# per partition merge into the same windows as the offline computation, with
# tumbling and with sliding windows; a sqlite3 reader holding a read
# transaction open does not stall the aggregator.  With --cache-windows 1
# (windows dropped from memory after each commit and read back from the
# state) the output and the state are the same as with the default cache,
# also when ticks come out of order.
. "$(dirname "$0")/../lib.sh"
plan 23

start_broker -t ticks:4 -t empty:1 -t shuf:2 || bail "no broker"

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
# reader_says TAG: the count the reader printed after TAG (waits up to 5 s).
reader_says() {
	wait_for 5 grep -q "^$1|" "$T/reader.out"
	sed -n "s/^$1|//p" "$T/reader.out"
}
echo "BEGIN; SELECT 'before', count(*) FROM windows;" >&$sqlfd
before=$(reader_says before)
ok_cmd "the aggregator commits while a reader holds a read transaction" \
	agg -t ticks --available-now --state "$T/state.db" --output "$T/out.csv" -g g1
ok_cmd "the reader is still running" running reader
# Its snapshot is the one of its first SELECT: the aggregator's commits,
# seen by any new reader, are not seen inside it until it ends.
cmp_ok "$(sqlite3 "$T/state.db" "SELECT count(*) FROM windows")" -gt "${before:-0}" "a new reader sees the aggregator's windows"
echo "SELECT 'inside', count(*) FROM windows;" >&$sqlfd
is "$(reader_says inside)" "$before" "the reader is still in its transaction: the same count as before the run"
WATERMARK_US=$((wm - 120000000)) ok_cmd "tumbling 1m windows over 4 partitions == offline" \
	"$ROOT/tests/offline.sh" "$FIX" "$T/out.csv"
printf "COMMIT;\nSELECT 'after', count(*) FROM windows;\n.quit\n" >&$sqlfd
exec {sqlfd}>&-
ok_cmd "the reader finished cleanly" wait_exit reader 10
is "$(reader_says after)" "$(sqlite3 "$T/state.db" "SELECT count(*) FROM windows")" "after its COMMIT the reader sees them"
is "$(sqlite3 "$T/state.db" "SELECT count(DISTINCT partition) FROM windows WHERE product_id = 'BTC-USD'")" 2 \
	"BTC-USD windows kept per partition (partial aggregates)"
is "$(sqlite3 "$T/state.db" "SELECT count(*) FROM partitions")" 3 "three partitions held ticks"

ok_cmd "sliding 30s/10s, watermark 1m" \
	agg -t ticks --available-now --state "$T/slide.db" --output "$T/slide.csv" -g g2 --window 30s --slide 10s --watermark 1m
WATERMARK_US=$((wm - 60000000)) ok_cmd "sliding windows == offline" \
	"$ROOT/tests/offline.sh" "$FIX" "$T/slide.csv" 30 10 60
is "$(sqlite3 "$T/slide.db" "SELECT sum(ticks) FROM windows")" "$(($(wc -l <"$FIX") * 3))" \
	"each tick counted in its three sliding windows"

# Out of order within a partition: each product's ticks reversed in blocks of
# 40, without their feed sequence (else they count as replayed duplicates).
rev40() { sed -E 's/"sequence":[0-9]+,//' | awk '{ b[n++] = $0 } n == 40 { while (n) print b[--n] } END { while (n) print b[--n] }'; }
grep -F '"product_id":"BTC-USD"' "$FIX" | rev40 > "$T/s0"
grep -F '"product_id":"ETH-USD"' "$FIX" | rev40 > "$T/s1"
ok_cmd "load the out-of-order topic" sh -c "timeout 30 kcat -b $BROKERS -P -t shuf -p 0 < $T/s0 &&
	timeout 30 kcat -b $BROKERS -P -t shuf -p 1 < $T/s1"
cache_run() { # NAME [options]
	local n=$1; shift
	timeout 60 "$BIN/aggregator" -b "$BROKERS" -v -t shuf --available-now --assign --window 1s --batch-max 7 \
		--state "$T/$n.db" --output "$T/$n.csv" -g "$n" "$@" 2>"$T/$n.err"
}
ok_cmd "1s windows, default cache" cache_run cdef
is "$(sqlite3 "$T/cdef.db" "SELECT sum(duplicates) + sum(late) FROM products")" 0 "out of order, but neither late nor duplicate"
ok_cmd "1s windows, --cache-windows 1" cache_run c1 --cache-windows 1
like "$(cat "$T/c1.err")" "stored ones dropped" "windows were dropped from memory"
ok_cmd "same output.csv, byte for byte" cmp "$T/cdef.csv" "$T/c1.csv"
dumpw() { sqlite3 "$1" "SELECT product_id, window_start, window_end, topic, partition, ticks, quote(sum_price),
	quote(sum_volume_24h), max_time, quote(max_best_bid), quote(max_best_ask) FROM windows ORDER BY 1, 2, 3, 4, 5"; }
is "$(dumpw "$T/c1.db" | md5sum)" "$(dumpw "$T/cdef.db" | md5sum)" "same window table (partials of both partitions), to the bit"

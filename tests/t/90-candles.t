#!/usr/bin/env bash
# Candles and the chosen aggregates (--columns all, candles): every value
# equal, bit for bit, to an independent reference (tests/candles-ref.py: Python
# over the raw ticks in the topics), on the fixture, on crafted ticks (ties in
# event time within and across partitions, a window of one tick, ticks without
# last_size or trade_id), with sliding windows, and on a generated backlog over
# three partitions with kill -9 at batch points in between.  The default and
# lab CSVs stay byte for byte what the aggregator of before version 6 wrote
# (tests/data/v5/fixture-*.expected).  On Apache Kafka also group mode: export
# --from-topic --columns all equals a single aggregator's CSV.
# brokers: mock kafka
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD -t mix:2 -t gen:3 || bail "no broker"
C=$ROOT/tests/data/candles
ok_cmd "load the fixture and the crafted ticks (topic mix, 2 partitions)" sh -c "
	grep -F '\"product_id\":\"BTC-USD\"' '$FIX' | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 &&
	grep -F '\"product_id\":\"ETH-USD\"' '$FIX' | timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0 &&
	timeout 30 kcat -b $BROKERS -P -t mix -p 0 <'$C/mix.0' && timeout 30 kcat -b $BROKERS -P -t mix -p 1 <'$C/mix.1'"
dump() { # dump TOPIC...: "TOPIC PARTITION OFFSET JSON" lines, the reference's input
	local t
	for t in "$@"; do timeout 30 kcat -b "$BROKERS" -C -t "$t" -o beginning -e -q -f '%t %p %o %s\n' || return 1; done
}
agg() { # agg NAME TOPICS [ARGS...]
	local name=$1 topics=$2; shift 2
	timeout 120 "$BIN/aggregator" -b "$BROKERS" -g "g90$name" -t "$topics" --assign --available-now \
		--progress-interval 0 --idle-timeout 10m -s "$T/$name.db" -o "$T/$name.csv" "$@" 2>"$T/$name.err"
}
ref() { # ref DUMP CSV WINDOW SLIDE DELAY: the reference agrees
	"$ROOT/tests/candles-ref.py" "$@" >"$T/ref.out" 2>&1 || { diag "$(head -n 20 "$T/ref.out")"; return 1; }
	note "$(tail -n 1 "$T/ref.out")"
}
ok_cmd "dump the topics" sh -c "$(declare -f dump); BROKERS=$BROKERS dump BTC-USD ETH-USD mix >'$T/fix.dump'"
is "$(wc -l <"$T/fix.dump")" $((NB + NE + 18)) "every tick in the dump"

# Today's CSVs, byte for byte.
ok_cmd "default columns" agg def BTC-USD,ETH-USD
ok_cmd "the default CSV is byte for byte the one of before version 6" cmp "$T/def.csv" "$ROOT/tests/data/v5/fixture-default.expected"
ok_cmd "--columns lab" agg lab BTC-USD,ETH-USD --columns lab
ok_cmd "the lab CSV is byte for byte the one of before version 6" cmp "$T/lab.csv" "$ROOT/tests/data/v5/fixture-lab.expected"

# Every aggregate against the reference.
ok_cmd "--columns all" agg all BTC-USD,ETH-USD,mix --columns all
is "$(head -n 1 "$T/all.csv")" "window_start,window_end,product_id,max(timestamp),avg(price),max(best_bid),max(best_ask),avg(volume_24h),open,high,low,close,volume,vwap,ticks,trade_gap,spread_mean,spread_max,buy_volume,sell_volume" \
	"all: the header"
ok_cmd "all == the reference, bit for bit" ref "$T/fix.dump" "$T/all.csv" 60 60 120
# The crafted windows, by hand (README: output): open: a tie at 15:03:10 in
# partition 0 (100 then 101) and 1 (99) goes to the earlier offset, then the
# first partition; close: a tie at 15:03:50 (105 in 0, 104 then 106 in 1) to
# the later offset, then the last partition.  Trade ids 10 15 | 12 16 17: 8 in
# the span, 5 carried, 3 folded.
row() { grep "^2023-04-24T15:0$1:00.000Z,.*,TST-USD," "$T/all.csv" | cut -d, -f9-; }
is "$(row 3)" "100,106,99,106,4.75,$(python3 -c 'print(repr((((100*1.0+0)+105*2.0)+(99*0.5+104*1.0+106*0.25))/4.75))'),6,3,1.5,2,2.5,2.25" \
	"ties: open to the earlier offset and first partition, close to the later and last"
is "$(row 5)" "200,200,200,200,0.1,200,1,0,0.75,0.75,0.1,0" "a window of one tick: O = H = L = C"
is "$(row 4)" "300,301,300,301,0,,2,,2,2,0,0" "ticks without last_size or trade_id: volume 0, vwap and trade_gap empty"
ok_cmd "--columns candles" agg cdl BTC-USD,ETH-USD,mix --columns candles
is "$(head -n 1 "$T/cdl.csv")" "window_start,product_id,open,high,low,close,volume,vwap,ticks" "candles: the header"
is "$(cut -d, -f1,3,9-15 "$T/all.csv" | sed 1d)" "$(sed 1d "$T/cdl.csv")" \
	"candles: the same values as all"
is "$(sqlite3 -csv "$T/all.db" "SELECT open, high, low, close, volume, ticks, trade_gap, partial FROM window_aggregates
	WHERE product_id = 'TST-USD' AND window_start_us = 1682348580000000")" "100.0,106.0,99.0,106.0,4.75,6,3,0" \
	"window_aggregates names them plainly, with the CSV's values"

ok_cmd "sliding windows (1m every 20s)" agg sl BTC-USD,ETH-USD,mix --columns all --window 1m --slide 20s
ok_cmd "sliding == the reference" ref "$T/fix.dump" "$T/sl.csv" 60 20 120
ok_cmd "sliding, default columns" agg sld BTC-USD,ETH-USD --window 1m --slide 20s
ok_cmd "sliding default CSV byte for byte the one of before" cmp "$T/sld.csv" "$ROOT/tests/data/v5/fixture-sliding.expected"

# A generated backlog, each product over three partitions, killed at batch points.
"$BIN/gen-ticks" --products BTC-USD,ETH-USD,SOL-USD --start 2023-04-24T15:00:00Z --minutes 12 --rate 2 --seed 90 \
	>"$T/gen.jsonl" || bail "gen-ticks"
ok_cmd "load the backlog round-robin over gen's 3 partitions" sh -c "for i in 0 1 2; do
	awk -v i=\$i 'NR % 3 == i' '$T/gen.jsonl' | timeout 30 kcat -b $BROKERS -P -t gen -p \$i || exit 1; done"
for point in windows csv commit; do
	AGG_CRASH_AT=$point:2 agg gen gen --columns all --batch-max 300
	is "$?" 137 "gen: killed at $point"
done
ok_cmd "gen: the restart finishes" agg gen gen --columns all --batch-max 300
is "$(sqlite3 "$T/gen.db" 'SELECT sum(ticks) FROM products')" "$(wc -l <"$T/gen.jsonl")" "gen: every tick counted once"
ok_cmd "gen: dump" sh -c "$(declare -f dump); BROKERS=$BROKERS dump gen >'$T/gen.dump'"
ok_cmd "gen: == the reference, bit for bit, after the crashes" ref "$T/gen.dump" "$T/gen.csv" 60 60 120

if on_kafka; then
	# Group mode: two members, the output topic, then export --from-topic.
	member() {
		spawn "$1" "$BIN/aggregator" -b "$BROKERS" -g g90grp -t gen --output-topic g90-out -s "$T/$1.db" \
			--batch-time 50ms --idle-timeout 5s --progress-interval 1s
	}
	member m1
	member m2
	want=$(($(wc -l <"$T/gen.csv") - 1))
	xport() { timeout 60 "$BIN/aggregator" export --from-topic g90-out -b "$BROKERS" --columns all --output "$T/grp.csv" 2>"$T/grp.err"; }
	complete() { xport && (($(wc -l <"$T/grp.csv") - 1 >= want)); }
	ok_cmd "group: export --from-topic has the $want windows" wait_for 120 complete
	ok_cmd "group: export --from-topic --columns all == a single aggregator's CSV, byte for byte" cmp "$T/grp.csv" "$T/gen.csv"
	stop m1
	stop m2
fi
done_testing

#!/usr/bin/env bash
# Late ticks and the edges of windows and of the watermark, exactly:
#   - a tick at a window's start is in it, one 1 us before its end too, one at
#     its end is in the next window;
#   - a window closes when the watermark reaches its end (end <= watermark),
#     and a tick that falls in it afterwards is late: counted, dropped, the
#     row unchanged;
#   - the watermark is kept in the state: after a restart it does not move
#     back, so a tick behind it is late there too, and every closed window in
#     the state is the one output.csv has (aggregator export == output.csv).
. "$(dirname "$0")/../lib.sh"

start_broker -t edge -t wa -t wb || bail "no broker"
tpl=$(head -n 1 "$FIX")
echo 1000 >"$T/seq"
tick() { # tick PRODUCT TIME PRICE: one ticker message, sequences growing (also in subshells)
	local seq=$(($(cat "$T/seq") + 1))
	echo "$seq" >"$T/seq"
	sed -e "s/\"product_id\":\"[^\"]*\"/\"product_id\":\"$1\"/" -e "s/\"time\":\"[^\"]*\"/\"time\":\"2023-04-24T$2Z\"/" \
		-e "s/\"price\":\"[^\"]*\"/\"price\":\"$3\"/" -e "s/\"sequence\":[0-9]*/\"sequence\":$seq/" <<<"$tpl"
}
load() { timeout 30 kcat -b "$BROKERS" -P -t "$1" -p 0; }
q() { sqlite3 "$T/$1.db" "$2"; }

# 1. Edges, in one bounded run.
{
	tick BTC-USD 15:00:00.000000 100
	tick BTC-USD 15:00:30.000000 102
	tick BTC-USD 15:00:59.999999 104
	tick BTC-USD 15:01:00.000000 200
	tick BTC-USD 15:03:00.000000 300   # watermark 15:01:00.000000: [15:00, 15:01) closes
	tick BTC-USD 15:00:59.999999 999   # in [15:00, 15:01): late
	tick BTC-USD 15:01:00.000001 202   # in [15:01, 15:02): on time
} | load edge
is "$?" 0 "7 ticks into edge"
ok_cmd "a bounded run" timeout 60 "$BIN/aggregator" -b "$BROKERS" -g g48 -t edge --assign --available-now \
	--progress-interval 0 --idle-timeout 10m --state "$T/e.db" --output "$T/e.csv"
is "$(q e "SELECT ticks || ' ' || late FROM products")" "7 1" "7 ticks, 1 late"
is "$(q e "SELECT value FROM meta WHERE key = 'watermark_us'")" 1682348460000000 "watermark 15:01:00.000000"
is "$(tail -n +2 "$T/e.csv" | cut -d, -f1-5)" \
	"2023-04-24T15:00:00.000Z,2023-04-24T15:01:00.000Z,BTC-USD,2023-04-24T15:00:59.999Z,102" \
	"one row: [15:00, 15:01), its three ticks (not the late one, not the one at its end)"
is "$(q e "SELECT window_start || ' ' || ticks || ' ' || \"avg(price)\" FROM window_aggregates WHERE NOT closed ORDER BY 1")" \
	"2023-04-24T15:01:00.000Z 2 201.0
2023-04-24T15:03:00.000Z 1 300.0" "open: [15:01, 15:02) with the tick at its start and the one after; [15:03, 15:04)"

# 2. The watermark across a restart.  wa has BTC-USD up to 15:03, wb ETH-USD up
# to 15:10; both idle (--idle-timeout 1s) the watermark goes to 15:08.
for s in $(seq 0 10 180); do tick BTC-USD "15:0$((s / 60)):$(printf %02d $((s % 60))).000000" 100; done | load wa
for s in $(seq 0 10 600); do
	m=$((s / 60)); tick ETH-USD "15:$(printf %02d $m):$(printf %02d $((s % 60))).000000" 50
done | load wb
wm_is() { [[ $(q w "SELECT value FROM meta WHERE key = 'watermark_us'" 2>/dev/null) == "$1" ]]; }
spawn w1 "$BIN/aggregator" -b "$BROKERS" -g g48 -t wa,wb --assign --idle-timeout 1s --batch-time 50ms \
	--progress-interval 0 --state "$T/w.db" --output "$T/w.csv"
ok_cmd "both idle: the watermark reaches 15:08" wait_for 30 wm_is 1682348880000000
stop w1 TERM
spawn w2 "$BIN/aggregator" -b "$BROKERS" -g g48 -t wa,wb --assign --idle-timeout 10m --batch-time 50ms \
	--progress-interval 0 --state "$T/w.db" --output "$T/w.csv"
tick BTC-USD 15:05:00.000000 100 | load wa
at20() { [[ $(q w "SELECT next_offset FROM partitions WHERE topic = 'wa'" 2>/dev/null) == 20 ]]; }
ok_cmd "restarted, it reads a BTC-USD tick at 15:05" wait_for 30 at20
stop w2 TERM
is "$(q w "SELECT late FROM products WHERE topic = 'wa'")" 1 "late: the stored watermark (15:08) held after the restart"
ok "$(wm_is 1682348880000000; echo $?)" "the watermark did not move back"
ok_cmd "aggregator export" "$BIN/aggregator" export --state "$T/w.db" --output "$T/x.csv"
is "$(cat "$T/x.csv")" "$(cat "$T/w.csv")" "every closed window in the state is in output.csv as it is"
done_testing

#!/usr/bin/env bash
# brokers: none
# scripts/plot draws the CSV: dates on the axis when the windows span days
# (the date in the axis label when they do not), the title as given (no
# gnuplot markup: '_' and '^' stay), bid/ask labelled as the window's maxima,
# the PNG as wide as asked; the lab's column preset works; a CSV without the
# columns it needs is refused with a reason.
. "$(dirname "$0")/../lib.sh"

csv() { # csv FILE MINUTES_APART: two products, 40 windows, the header of --columns all
	echo "window_start,window_end,product_id,max(timestamp),avg(price),max(best_bid),max(best_ask),avg(volume_24h)" >"$1"
	local i t s e
	for ((i = 0; i < 40; i++)); do
		t=$((1682348400 + i * $2 * 60)) # 2023-04-24T15:00:00Z on
		s=$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%S.000Z); e=$(date -u -d "@$((t + 60))" +%Y-%m-%dT%H:%M:%S.000Z)
		echo "$s,$e,BTC_USD,$s,$((27000 + i)).5,$((27001 + i)),$((27002 + i)),12000"
		echo "$s,$e,ETH-USD,$s,$((1800 + i)).25,$((1801 + i)),$((1802 + i)),100000"
	done >>"$1"
}
png_width() { od -An -tu1 -j16 -N4 "$1" | awk '{print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4}'; }

csv "$T/day.csv" 1   # 40 windows a minute apart: one day
csv "$T/days.csv" 100 # 40 windows 100 min apart: 2023-04-24 .. 2023-04-27
title='lab_run: a_b ^2 {x}'
ok_cmd "one day: exit 0" env PLOT_GP="$T/day.gp" "$ROOT/scripts/plot" -t "$title" -W 900 "$T/day.csv" "$T/day.png"
is "$(head -c 8 "$T/day.png" | od -An -c | tr -d ' ')" '211PNG\r\n032\n' "a PNG"
is "$(png_width "$T/day.png")" 900 "as wide as -W asks"
like "$(cat "$T/day.gp")" 'set format x "%H:%M"' "one day: times on the axis"
like "$(cat "$T/day.gp")" 'set xlabel "window start \(UTC\), 2023-04-24" noenhanced' "and the date in the axis label"
like "$(cat "$T/day.gp")" 'set terminal pngcairo [^$]* noenhanced' "no gnuplot markup anywhere"
like "$(cat "$T/day.gp")" 'multiplot layout 2,1 title "lab_run: a_b \^2 \{x\}"' "the title as given"
like "$(cat "$T/day.gp")" "title 'max\(best_bid\) \(highest bid\)'" "bid labelled as the window's highest"
like "$(cat "$T/day.gp")" "title 'max\(best_ask\) \(highest ask\)'" "ask too"
like "$(cat "$T/day.gp")" 'set title "BTC_USD' "a panel per product, its id as it is"
ok_cmd "several days: exit 0" env PLOT_GP="$T/days.gp" "$ROOT/scripts/plot" "$T/days.csv" "$T/days.png"
like "$(cat "$T/days.gp")" 'set format x "%m-%d\\n%H:%M"' "several days: dates on the axis"
like "$(cat "$T/days.gp")" 'window start \(UTC\), 2023-04-24 \.\. 2023-04-27' "the span in the axis label"
is "$(png_width "$T/days.png")" 1200 "the default width"
# --columns lab: window_start, product_id and the lab's five
cut -d, -f1,3,5,8,4,6,7 "$T/day.csv" >"$T/lab.csv"
ok_cmd "the lab's columns plot" "$ROOT/scripts/plot" "$T/lab.csv" "$T/lab.png"
cut -d, -f2- "$T/day.csv" | cut -d, -f1,2,4 >"$T/bare.csv" # window_end, product_id, avg(price)
ok_cmd "window_end as the time column" "$ROOT/scripts/plot" "$T/bare.csv" "$T/bare.png"
# --columns candles: candlesticks, empty values (partial windows) skipped
awk -F, -v OFS=, 'NR == 1 { print "window_start,product_id,open,high,low,close,volume,vwap,ticks"; next }
	{ print $1, $3, $5, $7, $6 - 1, $5 + 0.5, 1, $5, 3 }' "$T/day.csv" >"$T/cdl.csv"
echo "2023-04-24T16:00:00.000Z,ETH-USD,,,,,,,4" >>"$T/cdl.csv"
ok_cmd "candles: exit 0" env PLOT_GP="$T/cdl.gp" "$ROOT/scripts/plot" "$T/cdl.csv" "$T/cdl.png"
like "$(cat "$T/cdl.gp")" "using 1:5:7:6:8:.* with candlesticks" "candles drawn as candlesticks (open, low, high, close)"
unlike "$(cat "$T/cdl.gp")" "avg\(price\)" "no avg(price) line without the column"
like "$(cat "$T/cdl.gp")" "set datafile missing \"NaN\"" "an empty value is missing, not 0"
ok_cmd "the lab's columns: lines, no candles" sh -c "PLOT_GP='$T/lab.gp' '$ROOT/scripts/plot' '$T/lab.csv' '$T/lab.png' && ! grep -q candlesticks '$T/lab.gp'"
cut -d, -f1,2,4 "$T/day.csv" >"$T/noprod.csv"
"$ROOT/scripts/plot" "$T/noprod.csv" "$T/x.png" 2>"$T/err"
is "$?" 1 "no product_id: exit 1"
like "$(cat "$T/err")" "lacks the column\(s\) product_id avg\(price\)" "and names what is missing"
"$ROOT/scripts/plot" -W 300 "$T/day.csv" "$T/x.png" 2>"$T/err"
is "$?" 1 "-W 300: exit 1"
done_testing

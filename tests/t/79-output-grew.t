#!/usr/bin/env bash
# output.csv grown under a running aggregator (a line appended by hand, or
# another writer): the next rows are not appended after the foreign bytes;
# the file is rebuilt from the state first, as when it is emptied or replaced
# (tests/t/43), so that it holds every window once and nothing else.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
grep -F '"product_id":"BTC-USD"' "$FIX" >"$T/btc"
grep -F '"product_id":"ETH-USD"' "$FIX" >"$T/eth"
load() { # FROM TO: lines FROM..TO of each product's ticks
	sed -n "$1,$2p" "$T/btc" | timeout 30 kcat -b "$BROKERS" -P -t BTC-USD &&
		sed -n "$1,$2p" "$T/eth" | timeout 30 kcat -b "$BROKERS" -P -t ETH-USD
}
ok_cmd "load the first half" load 1 $((NE / 2))
spawn agg "$BIN/aggregator" -b "$BROKERS" -g g79 --assign --batch-time 50ms --progress-interval 0 \
	--idle-timeout 10m --state "$T/s.db" --output "$T/out.csv"
rows_at_least() { [[ -f $T/out.csv ]] && (($(wc -l <"$T/out.csv") >= $1)); }
ok_cmd "rows appear" wait_for 60 rows_at_least 4
# 10 KiB, more than the rest of the run writes: written over at our offset
# (not rebuilt), some of it would stay.
printf '2023-04-24T00:00:00.000Z,2023-04-24T00:01:00.000Z,BTC-USD,added by hand%s\n' "$(printf 'x%.0s' {1..10240})" \
	>>"$T/out.csv"
ok_cmd "load the rest" load $((NE / 2 + 1)) 100000
caught_up() { [[ $(sqlite3 "$T/s.db" "SELECT sum(next_offset) FROM partitions" 2>/dev/null) == $((NB + NE)) ]]; }
ok_cmd "the fixture read" wait_for 90 caught_up
stop agg
is "$?" 0 "exit 0"
like "$(cat "$T/agg.err")" "output .*out.csv was changed while running .*rewriting it from the state" "it says so"
unlike "$(cat "$T/out.csv")" "added by hand|xxxx" "the foreign line is gone"
is "$(stat -c %s "$T/out.csv")" "$(sqlite3 "$T/s.db" "SELECT value FROM meta WHERE key = 'csv_bytes'")" \
	"output.csv has the length the state recorded"
ok_cmd "aggregator export of the state" "$BIN/aggregator" export --state "$T/s.db" --output "$T/exp.csv"
ok_cmd "output.csv == the state's export" cmp "$T/out.csv" "$T/exp.csv"
ok_cmd "a last pass" timeout 60 "$BIN/aggregator" -b "$BROKERS" -g g79 --assign --available-now -q \
	--state "$T/s.db" --output "$T/out.csv"
ok_cmd "output.csv == offline windows" "$ROOT/tests/offline.sh" "$FIX" "$T/out.csv"
done_testing

#!/usr/bin/env bash
# output.csv changed under a running aggregator: emptied (': > output.csv',
# logrotate's copytruncate), replaced (logrotate's create), and, while it is
# stopped, filled with NUL bytes to its recorded length.  Each time the file
# is rebuilt from the state before rows are appended: never rows written at a
# stale offset after a run of NUL bytes.  A second aggregator on the same
# output file is refused.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
start_feed --file "$FIX" --speed 40 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" -q
args=(-b "$BROKERS" --assign --batch-time 50ms --progress-interval 0 --idle-timeout 10m)
spawn agg "$BIN/aggregator" "${args[@]}" --state "$T/s.db" --output "$T/out.csv"
rows_at_least() { [[ -f $T/out.csv ]] && (($(wc -l <"$T/out.csv") >= $1)); }
ok_cmd "rows appear" wait_for 60 rows_at_least 6

: >"$T/out.csv"
ok_cmd "emptied while running: rows appear again" wait_for 60 rows_at_least 12
like "$(cat "$T/agg.err")" "output .*out.csv was changed while running .*rewriting it from the state" "it says so"

mv "$T/out.csv" "$T/out.csv.1"
: >"$T/out.csv"
ok_cmd "replaced while running: the new file gets every row" wait_for 60 rows_at_least 20
like "$(cat "$T/agg.err")" "was replaced while running" "it says so"

sqlite3 "$T/s.db" ".backup '$T/other.db'"
spawn agg2 "$BIN/aggregator" "${args[@]}" --state "$T/other.db" --output "$T/out.csv"
wait_exit agg2 30
is "$?" 4 "a second aggregator on the same output: exit 4"
like "$(cat "$T/agg2.err")" "in use by another aggregator" "it says why"

caught_up() { [[ $(sqlite3 "$T/s.db" "SELECT sum(next_offset) FROM partitions" 2>/dev/null) == $((NB + NE)) ]]; }
ok_cmd "the fixture read" wait_for 90 caught_up
stop agg
is "$?" 0 "the aggregator exits 0"
stop producer

# Stopped: the file keeps its length but its bytes are NUL.
len=$(stat -c %s "$T/out.csv")
truncate -s 0 "$T/out.csv" && truncate -s "$len" "$T/out.csv"
ok_cmd "a last pass" timeout 60 "$BIN/aggregator" "${args[@]}" --available-now -q \
	--state "$T/s.db" --output "$T/out.csv"
is "$(tr -d '\000' <"$T/out.csv" | wc -c)" "$(wc -c <"$T/out.csv")" "no NUL byte in output.csv"
ok_cmd "output.csv == offline windows" "$ROOT/tests/offline.sh" "$FIX" "$T/out.csv"
is "$(head -n 1 "$T/out.csv")" "window_start,window_end,product_id,max(timestamp),avg(price),max(best_bid),max(best_ask),avg(volume_24h)" \
	"one header, on the first line"
done_testing

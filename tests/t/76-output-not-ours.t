#!/usr/bin/env bash
# --output pointed at another pipeline's CSV (the same header, other rows) is
# refused, exit 4, with a message naming both files, and the CSV is left byte
# for byte as it was: longer than this state's recorded length (before: "cutting
# back N bytes of an interrupted export"), shorter (before: rewritten from the
# state), of the same length but other bytes (before: appended to), or with
# rows while the state recorded none (before: rewritten).  This state's own CSV
# is still repaired: an interrupted export's tail is cut back, a CSV cut short
# is rebuilt.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD -t SOL-USD || bail "no broker"
ok_cmd "load the fixture" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t BTC-USD &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD"

# agg NAME ARGS...: one --available-now run; stderr in $T/NAME.err, exit status returned.
agg() {
	local n=$1; shift
	timeout 60 "$BIN/aggregator" -b "$BROKERS" -g "g76$n" --assign --available-now --progress-interval 0 "$@" \
		2>"$T/$n.err"
}
size() { stat -c %s "$1"; }
recorded() { sqlite3 "$1" "SELECT value FROM meta WHERE key = 'csv_bytes'"; }

# Two pipelines: A over BTC-USD, B over both topics (a longer CSV, same header).
ok_cmd "pipeline A (BTC-USD)" agg a -t BTC-USD --state "$T/a.db" --output "$T/a.csv"
ok_cmd "pipeline B (both topics)" agg b --state "$T/b.db" --output "$T/b.csv"
RA=$(recorded "$T/a.db")
is "$RA" "$(size "$T/a.csv")" "A recorded its CSV's length"
cmp_ok "$(size "$T/b.csv")" -gt "$RA" "B's CSV is longer than A's"

# refused NAME FILE ARGS...: a run with ARGS on FILE: exit 4, names both, FILE unchanged.
refused() {
	local n=$1 f=$2; shift 2
	cp "$f" "$T/$n.orig"
	agg "$n" "$@" --output "$f"
	is "$?" 4 "$n: exit 4"
	like "$(cat "$T/$n.err")" "output $f is not the CSV .*state .*\\.db" "$n: names both files"
	ok_cmd "$n: left byte for byte as it was" cmp "$f" "$T/$n.orig"
}

cp "$T/b.csv" "$T/longer.csv"
refused longer "$T/longer.csv" -t BTC-USD --state "$T/a.db"
unlike "$(cat "$T/longer.err")" "cutting back" "longer: nothing cut back"

head -n 3 "$T/b.csv" >"$T/shorter.csv"
not_ok_cmd "shorter: B's first rows are not a prefix of A's CSV" cmp -s -n "$(size "$T/shorter.csv")" \
	"$T/shorter.csv" "$T/a.csv"
cmp_ok "$(size "$T/shorter.csv")" -lt "$RA" "shorter: shorter than A's recorded length"
refused shorter "$T/shorter.csv" -t BTC-USD --state "$T/a.db"

# A's CSV edited by hand: the same length, one price changed in its last row.
sed '$ y/0123456789/1234567890/' "$T/a.csv" >"$T/edited.csv"
is "$(size "$T/edited.csv")" "$RA" "edited: the same length"
not_ok_cmd "edited: other bytes" cmp -s "$T/edited.csv" "$T/a.csv"
refused edited "$T/edited.csv" -t BTC-USD --state "$T/a.db"

# A state that recorded no CSV, on a CSV with rows.
cp "$T/a.db" "$T/nocsv.db"
sqlite3 "$T/nocsv.db" "DELETE FROM meta WHERE key LIKE 'csv_%'"
cp "$T/b.csv" "$T/rows.csv"
refused norecord "$T/rows.csv" -t BTC-USD --state "$T/nocsv.db"

# A state that has exported no row yet (its CSV only a header, which B's has
# too): before, B's CSV was cut back to its header.
ok_cmd "pipeline C (SOL-USD, no ticks yet)" agg c -t SOL-USD --state "$T/c.db" --output "$T/c.csv"
is "$(wc -l <"$T/c.csv")" 1 "C's CSV is a header"
cp "$T/b.csv" "$T/rows2.csv"
refused header "$T/rows2.csv" -t SOL-USD --state "$T/c.db"

# aggregator export: the same, and a copy in other columns can be made again.
"$BIN/aggregator" export --state "$T/a.db" --output "$T/longer.csv" 2>"$T/export.err"
is "$?" 4 "export over B's CSV: exit 4"
ok_cmd "export: B's CSV left as it was" cmp "$T/longer.csv" "$T/longer.orig"
ok_cmd "export a copy in other columns" "$BIN/aggregator" export --state "$T/a.db" --columns lab --output "$T/lab.csv"
ok_cmd "and again over it" "$BIN/aggregator" export --state "$T/a.db" --columns lab --output "$T/lab.csv"

# This state's own CSV is still repaired.
cp "$T/a.csv" "$T/a.csv.orig"
printf '2023-04-24T16:00:00.000Z,2023-04-24T16:01:00.000Z,BTC-USD,half a row of an interrupted expo' >>"$T/a.csv"
ok_cmd "A's CSV with an interrupted export's tail: runs" agg own -t BTC-USD --state "$T/a.db" --output "$T/a.csv"
like "$(cat "$T/own.err")" "cutting back" "it says so"
ok_cmd "the tail is cut back" cmp "$T/a.csv" "$T/a.csv.orig"
head -n 4 "$T/a.csv.orig" >"$T/a.csv"
ok_cmd "A's CSV cut short (a prefix of it): runs" agg cut -t BTC-USD --state "$T/a.db" --output "$T/a.csv"
ok_cmd "it is rebuilt" cmp "$T/a.csv" "$T/a.csv.orig"
done_testing

#!/usr/bin/env bash
# A state of version 5, made by the aggregator of before candles
# (tests/data/v5/state.sql: main at bffcff7 over the first 1400 BTC-USD and 700
# ETH-USD ticks of the fixture, with the CSV it wrote), migrated by this one:
# it goes on from the state's offsets, the default CSV is byte for byte the
# old aggregator's over the whole fixture, and the windows the state held at
# the migration are partial for the new aggregates (their columns empty in
# --columns all, partial = 1 in window_aggregates) while the windows opened
# after it have them exact (the reference, tests/candles-ref.py).
# brokers: mock kafka
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
V5=$ROOT/tests/data/v5
ok_cmd "load the fixture, as the state read it (same offsets)" sh -c "
	grep -F '\"product_id\":\"BTC-USD\"' '$FIX' | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 &&
	grep -F '\"product_id\":\"ETH-USD\"' '$FIX' | timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0"
# The fingerprints of the last record read are the old broker's (its Kafka
# timestamps): unknown here, as a state of version 4 has them.
ok_cmd "the version 5 state" sh -c "{ cat '$V5/state.sql'; echo 'UPDATE partitions SET fp_time = NULL, fp_hash = NULL;'; } |
	sqlite3 '$T/s.db' && cp '$V5/output.expected' '$T/out.csv'"
is "$(sqlite3 "$T/s.db" 'PRAGMA user_version')" 5 "it is version 5"
sqlite3 "$T/s.db" "SELECT DISTINCT product_id, window_start FROM windows" | tr '|' ' ' >"$T/partial"
cmp_ok "$(wc -l <"$T/partial")" -ge 10 "it holds windows ($(wc -l <"$T/partial"))"
ok_cmd "the aggregator migrates it and goes on" timeout 120 "$BIN/aggregator" -b "$BROKERS" -g g91 -t BTC-USD,ETH-USD \
	--assign --available-now --progress-interval 0 --idle-timeout 10m -s "$T/s.db" -o "$T/out.csv"
is "$(sqlite3 "$T/s.db" 'PRAGMA user_version')" 6 "now version 6"
ok_cmd "the default CSV: byte for byte the old aggregator's over the whole fixture" cmp "$T/out.csv" "$V5/fixture-default.expected"
is "$(sqlite3 "$T/s.db" "SELECT sum(ticks) FROM products")" $((NB + NE)) "every tick counted once"
ok_cmd "export --columns all" timeout 60 "$BIN/aggregator" export -s "$T/s.db" -o "$T/all.csv" --columns all
ok_cmd "windows of before: new columns empty; after: == the reference" sh -c "
	for t in BTC-USD ETH-USD; do timeout 30 kcat -b $BROKERS -C -t \$t -o beginning -e -q -f '%t %p %o %s\n'; done >'$T/dump' &&
	PARTIAL='$T/partial' '$ROOT/tests/candles-ref.py' '$T/dump' '$T/all.csv' 60 60 120"
is "$(grep -c ',,,,,,,[0-9]*,,,,,$' "$T/all.csv")" "$(sqlite3 "$T/s.db" "SELECT count(*) FROM window_aggregates WHERE partial AND exported")" \
	"as many rows with the new columns empty as partial windows exported"
is "$(sqlite3 "$T/s.db" "SELECT count(*) FROM window_aggregates WHERE partial AND open IS NOT NULL")" 0 \
	"window_aggregates: NULL for them"
cmp_ok "$(sqlite3 "$T/s.db" "SELECT count(*) FROM window_aggregates WHERE NOT partial AND exported")" -ge 5 \
	"and windows opened after the migration have them"
ok_cmd "an old version exported read-only reads the new fields as empty" sh -c "
	sqlite3 '$T/old.db' <'$V5/state.sql' && timeout 60 '$BIN/aggregator' export -s '$T/old.db' -o '$T/old.csv' --columns all &&
	[ \"\$(sqlite3 '$T/old.db' 'PRAGMA user_version')\" = 5 ] && [ \"\$(sed 1d '$T/old.csv' | grep -vc ',,,,,,,[0-9]*,,,,,\$')\" = 0 ]"
done_testing

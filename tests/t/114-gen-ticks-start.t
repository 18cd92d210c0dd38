#!/usr/bin/env bash
# brokers: mock
# gen-ticks --start: the feed sequences follow the start time, so ticks made
# for a later start, appended to the fixture, continue it (before, every run
# began at the same sequences: all of them were dropped as duplicates).  The
# fixture's own options still give it byte for byte.  The mock only: this is
# about the generator, the broker just carries the ticks.
. "$(dirname "$0")/../lib.sh"

gen() { "$BIN/gen-ticks" --products BTC-USD,ETH-USD "$@"; }
seqs() { jq -r .sequence "$1" | sort -n; }

is "$(gen --start 2023-04-24T15:00:00Z --minutes 22 --rate 2 --seed 1 --no-sizes-before 3 | sha256sum | cut -d' ' -f1)" \
	"$(sha256sum <"$FIX" | cut -d' ' -f1)" "the fixture's options give the fixture, byte for byte"

gen --start 2023-04-24T15:22:00Z --minutes 5 --seed 2 >"$T/later" || bail "gen-ticks"
gen --start 2023-04-24T14:00:00Z --minutes 30 --seed 3 >"$T/earlier" || bail "gen-ticks"
fix_lo=$(seqs "$FIX" | head -n 1) fix_hi=$(seqs "$FIX" | tail -n 1)
cmp_ok "$(seqs "$T/later" | head -n 1)" -gt "$fix_hi" "--start after the fixture's end: sequences above all of its"
cmp_ok "$(seqs "$T/earlier" | tail -n 1)" -lt "$fix_lo" "--start an hour before (30 min): sequences below all of its"
# no jump a feed would not make: the aggregator takes a sequence more than
# 10^8 above the largest only once 10 ticks confirm it (common/seqrule.h)
cmp_ok "$(($(seqs "$T/later" | head -n 1) - fix_hi))" -lt 100000000 "and not absurdly far above"

# Appended to the fixture, through Kafka into the aggregator: every tick counted.
start_broker -t BTC-USD -t ETH-USD || bail "no broker"
cat "$FIX" "$T/later" >"$T/all"
for p in BTC-USD ETH-USD; do
	grep -F "\"product_id\":\"$p\"" "$T/all" | timeout 30 kcat -b "$BROKERS" -P -t "$p" -p 0 || bail "kcat"
done
ok_cmd "the aggregator reads them all (--available-now)" timeout 90 "$BIN/aggregator" -b "$BROKERS" --assign \
	--available-now -q -s "$T/s.db" -o "$T/s.csv"
is "$(sqlite3 "$T/s.db" 'SELECT sum(ticks), sum(duplicates) FROM products')" "$(wc -l <"$T/all")|0" \
	"every tick counted, none a duplicate"
done_testing

#!/usr/bin/env bash
# A tick of another product in a topic named after a product (the producer's
# default layout: topic == product id) is a tick in the wrong place: counted
# there, it would count twice when it is also in its own topic.  Policy
# (README): a topic whose name is a product id of Coinbase's form (BASE-QUOTE:
# capitals and digits, one dash) holds only that product's ticks; a tick of
# another product is rejected ("product ETH-USD in topic BTC-USD"), counted in
# partitions.rejected and said in a warning at the 1st, 10th, 100th, ...  A
# topic not named after a product (-t TOPIC, --topic-prefix cb.: "ticks",
# "cb.BTC-USD") takes every product, as before.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD -t ticks || bail "no broker"
grep -F '"product_id":"BTC-USD"' "$FIX" >"$T/btc"
grep -F '"product_id":"ETH-USD"' "$FIX" >"$T/eth"
NB=$(wc -l <"$T/btc") NE=$(wc -l <"$T/eth")
# BTC-USD: its ticks, with 12 ETH-USD ticks among them (ETH-USD ticks 101..112,
# also in ETH-USD: the same tick in two topics).
{ sed -n 1,500p "$T/btc"; sed -n 101,112p "$T/eth"; sed -n "501,${NB}p" "$T/btc"; } >"$T/btc-mixed"
ok_cmd "load BTC-USD" sh -c "timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 <'$T/btc-mixed'"
ok_cmd "load ETH-USD" sh -c "timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0 <'$T/eth'"
ok_cmd "load ticks (every product)" sh -c "timeout 30 kcat -b $BROKERS -P -t ticks -p 0 <'$FIX'"

agg() { # STATE TOPICS
	timeout 60 "$BIN/aggregator" -b "$BROKERS" -g "g70$1" -t "$2" --assign --available-now --progress-interval 0 \
		--idle-timeout 10m --state "$T/$1.db" --output "$T/$1.csv" 2>"$T/$1.err"
}
q() { sqlite3 "$T/$1.db" "$2"; }

agg named BTC-USD,ETH-USD
is "$?" 0 "topics named after products: exit 0"
is "$(q named "SELECT product_id, sum(ticks) FROM products GROUP BY 1 ORDER BY 1" | tr '\n' ' ')" \
	"BTC-USD|$NB ETH-USD|$NE " "every tick counted once: none of ETH-USD twice"
is "$(q named "SELECT count(*), min(reason), max(reason) FROM rejected WHERE topic = 'BTC-USD'")" \
	"12|product ETH-USD in topic BTC-USD|product ETH-USD in topic BTC-USD" "the 12 rejected with their reason"
is "$(q named "SELECT rejected FROM partitions WHERE topic = 'BTC-USD'")" 12 "counted in partitions.rejected"
like "$(cat "$T/named.err")" "warning: BTC-USD \\[0\\]: 1 tick of another product so far \\(ETH-USD" "a warning at the first"
like "$(cat "$T/named.err")" "warning: BTC-USD \\[0\\]: 10 ticks of another product so far" "and at the 10th"
ok_cmd "its windows == offline" "$ROOT/tests/offline.sh" "$FIX" "$T/named.csv"

agg all ticks
is "$?" 0 "one topic for every product: exit 0"
is "$(q all "SELECT sum(ticks) FROM products")" "$((NB + NE))" "every tick counted"
is "$(q all "SELECT count(*) FROM rejected")" 0 "none rejected"
unlike "$(cat "$T/all.err")" "another product" "nothing said"
ok_cmd "its windows == offline" "$ROOT/tests/offline.sh" "$FIX" "$T/all.csv"
done_testing

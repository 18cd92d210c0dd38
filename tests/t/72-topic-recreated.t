#!/usr/bin/env bash
# brokers: kafka
# A topic deleted and recreated while the aggregator is stopped, its new log
# already longer than the state's offset: only offsets were compared, and
# they looked fine, so the aggregator read on at the old offset in the new
# log and skipped the new log's start without a word (exit 0).  Now the state
# keeps the fingerprint of the record it read last (Kafka timestamp, a hash of
# key and value), and at assignment reads that offset again: another record
# there is the data-loss rule's case (exit 5, naming the topic; or
# --on-data-loss=skip: a data_loss row for the new log's unread start, going
# on at the state's offset).  The same log, grown, passes the check.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD || bail "no broker"
grep -F '"product_id":"BTC-USD"' "$FIX" >"$T/btc"
load() { # FROM TO: lines of the BTC-USD ticks into the topic
	sed -n "$1,$2p" "$T/btc" | timeout 30 kcat -b "$BROKERS" -P -t BTC-USD -p 0 -k BTC-USD
}
agg() { # NAME [ARGS]
	local n=$1; shift
	timeout 90 "$BIN/aggregator" -b "$BROKERS" -g g72 -t BTC-USD --assign --available-now --progress-interval 0 \
		--idle-timeout 10m --state "$T/$n.db" --output "$T/$n.csv" "$@" 2>"$T/$n.err"
}
q() { sqlite3 "$T/$1.db" "$2"; }

ok_cmd "800 ticks in" load 1 800
ok_cmd "the aggregator reads them" agg a
is "$(q a "SELECT sum(ticks) FROM products")" 800 "800 counted"
ok_cmd "100 more in the same log" load 801 900
ok_cmd "a restart reads them: the log is the one it read" agg a
is "$(q a "SELECT sum(ticks) FROM products")" 900 "900 counted"
unlike "$(cat "$T/a.err")" "not the one the state read|data loss" "nothing said of a loss"
cp "$T/a.db" "$T/b.db"; cp "$T/a.csv" "$T/b.csv"

ok_cmd "delete BTC-USD" "$BIN/kafka-admin" -b "$BROKERS" delete BTC-USD
log_end() { timeout 20 kcat -b "$BROKERS" -Q -t BTC-USD:0:-1 2>/dev/null | awk '/ offset /{print $NF}'; }
recreated() {
	"$BIN/kafka-admin" -b "$BROKERS" create BTC-USD:1 >/dev/null 2>&1
	[[ $(log_end) == 0 ]]
}
ok_cmd "it is created again, empty" wait_for 30 recreated
ok_cmd "1100 newer ticks into the new log" load 901 2000
is "$(log_end)" 1100 "the new log is past the state's offset 900"

agg a
is "$?" 5 "the restart stops: exit 5"
like "$(cat "$T/a.err")" "error: data loss: the log of BTC-USD \\[0\\] is not the one the state read: its record at offset 899" \
	"the message names the topic and the offset compared"
like "$(cat "$T/a.err")" "error: .*the topic was deleted and recreated, or the cluster.s data wiped" "and says what happened"
is "$(q a "SELECT next_offset || ' ' || (SELECT sum(ticks) FROM products) FROM partitions")" "900 900" \
	"the state is left as it was"

ok_cmd "--on-data-loss=skip goes on" agg b --on-data-loss=skip
is "$(q b "SELECT from_offset || ' ' || to_offset || ' ' || lost FROM data_loss")" "0 900 900" \
	"data_loss: the new log's offsets 0..899 not read"
is "$(q b "SELECT next_offset || ' ' || (SELECT sum(ticks) FROM products) FROM partitions")" "1100 1100" \
	"the rest of the new log read: 900 + 200"
like "$(cat "$T/b.err")" "data loss \\(--on-data-loss=skip: going on at offset 900\\)" "and says so in its log"
done_testing

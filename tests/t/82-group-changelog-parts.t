#!/usr/bin/env bash
# brokers: kafka
# The changelog gives a partition back (issue 24, case 8).  An input
# partition's changelog records go to the changelog partition its hash
# picks modulo the partition count recorded when the group began (the
# settings record), not the count of today: partitions added to the
# changelog later do not send a restore to the wrong one (before: "has
# nothing of it", and the member went on with an empty state: wrong rows).
# A partition the group has read but the changelog knows nothing of (the
# changelog deleted and made again) stops the member, exit 3, with how to
# recover.
. "$(dirname "$0")/../lib.sh"

KAFKA_CONFIG="transaction.abort.timed.out.transaction.cleanup.interval.ms=1000" \
	start_broker -t BTC-USD:2 -t ETH-USD || bail "no broker"
split_fixture_closed
for f in btc.0 btc.1 eth; do split -n l/2 -d "$T/$f" "$T/$f."; done
load() { # load HALF (00 or 01)
	timeout 30 kcat -b "$BROKERS" -P -t BTC-USD -p 0 <"$T/btc.0.$1" &&
		timeout 30 kcat -b "$BROKERS" -P -t BTC-USD -p 1 <"$T/btc.1.$1" &&
		timeout 30 kcat -b "$BROKERS" -P -t ETH-USD -p 0 <"$T/eth.$1"
}
member() { # member NAME
	spawn "$1" "$BIN/aggregator" -b "$BROKERS" -g g82 --output-topic g82-out -s "$T/$1.db" --batch-time 50ms \
		--idle-timeout 5s --progress-interval 0 -X session.timeout.ms=6000
}
group_at() { # group_at N: the group has committed N offsets in all
	(($("$BIN/kafka-admin" -b "$BROKERS" group-offsets g82 BTC-USD:2 ETH-USD | awk '$3 > 0 {s += $3} END {print s + 0}') >= $1))
}
ok_cmd "first half loaded" load 00
half=$(cat "$T/btc.0.00" "$T/btc.1.00" "$T/eth.00" | wc -l)
member m1
ok_cmd "m1 reads the first half (the group's offsets)" wait_for 90 group_at "$half"
stop m1
is "$?" 0 "m1 stops"
ok_cmd "the changelog grows from 4 to 7 partitions" "$BIN/kafka-admin" -b "$BROKERS" partitions g82-changelog:7
ok_cmd "second half loaded" load 01

ok_cmd "the single aggregator's run" timeout 120 "$BIN/aggregator" -b "$BROKERS" -g g82ref --assign --available-now \
	--progress-interval 0 -q -s "$T/ref.db" -o "$T/ref.csv"
want=$(($(wc -l <"$T/ref.csv") - 1))
member m2
complete() { timeout 60 "$BIN/aggregator" export --from-topic g82-out -b "$BROKERS" --output "$T/g.csv" \
	2>"$T/export.err" && (($(wc -l <"$T/g.csv") - 1 >= want)); }
ok_cmd "m2 (a fresh state file) closes every window" wait_for 120 complete
ok_cmd "group CSV == single aggregator's CSV" cmp "$T/g.csv" "$T/ref.csv"
is "$(grep -c 'restored .* from the changelog' "$T/m2.err")" 3 "m2 restored the 3 partitions from the changelog"
unlike "$(cat "$T/m2.err")" "has nothing of it" "none missing"
stop m2
is "$?" 0 "m2 stops"

# The changelog deleted: a fresh member gets partitions the group has read.
ok_cmd "the changelog deleted" "$BIN/kafka-admin" -b "$BROKERS" delete g82-changelog
sleep 2
member m3
wait_exit m3 90
is "$?" 3 "m3 (fresh state) stops: exit 3"
like "$(cat "$T/m3.err")" "error: .*\[[01]\]: the group has read it to offset [0-9]+, but the changelog g82-changelog has nothing of it.*Recover: run the member whose state file" \
	"it says which partition, why, and how to recover"
done_testing

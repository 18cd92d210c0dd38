#!/usr/bin/env bash
# brokers: kafka
# A partition added to an input topic while the aggregators run.  Before, a
# subscriber found it at librdkafka's next metadata refresh (5 minutes), so
# the other partitions' ticks moved the watermark past the new one's first
# minutes (1468 of 1807 dropped as late), and with --assign it was never read
# until a restart.  Now both find it within seconds (a 5 s metadata refresh;
# with --assign a look at the topics' partitions every 5 s), and it holds the
# watermark from the moment it is known, read from its start: its ticks that
# arrive within the watermark delay are on time.
. "$(dirname "$0")/../lib.sh"

start_broker -t ticks || bail "no broker"
# Partition 0: BTC-USD, 15:00-15:11, then the rest.  Partition 1 (added):
# ETH-USD from 15:10 on, on time against the watermark at ~15:09.
jq -c 'select(.product_id == "BTC-USD" and .time < "2023-04-24T15:11")' "$FIX" >"$T/p0a"
jq -c 'select(.product_id == "BTC-USD" and .time >= "2023-04-24T15:11")' "$FIX" >"$T/p0b"
jq -c 'select(.product_id == "ETH-USD" and .time >= "2023-04-24T15:10")' "$FIX" >"$T/p1"
NB=$(($(wc -l <"$T/p0a") + $(wc -l <"$T/p0b"))) NE=$(wc -l <"$T/p1")
load() { timeout 30 kcat -b "$BROKERS" -P -t ticks -p "$1" -k "$2" <"$3"; }
ok_cmd "the first 11 minutes into partition 0" load 0 BTC-USD "$T/p0a"

agg() { # NAME MODE-ARGS...
	local n=$1; shift
	spawn "$n" "$BIN/aggregator" -b "$BROKERS" -g "g73$n" -t ticks --batch-time 50ms --progress-interval 0 \
		-X session.timeout.ms=6000 --state "$T/$n.db" --output "$T/$n.csv" "$@"
}
agg sub
agg asg --assign
q() { sqlite3 "$T/$1.db" "$2" 2>/dev/null; }
read_all() { [[ $(q "$1" "SELECT sum(next_offset) FROM partitions") == "$2" ]]; }
N0A=$(wc -l <"$T/p0a")
ok_cmd "the subscriber read them" wait_for 30 read_all sub "$N0A"
ok_cmd "the --assign one too" wait_for 30 read_all asg "$N0A"

ok_cmd "a second partition" "$BIN/kafka-admin" -b "$BROKERS" partitions ticks:2
ok_cmd "ETH-USD from 15:10 into it" load 1 ETH-USD "$T/p1"
found() { grep -q "assigned ticks \\[1\\]" "$T/$1.err"; }
ok_cmd "the subscriber finds it within seconds" wait_for 20 found sub
ok_cmd "the --assign one too" wait_for 20 found asg
ok_cmd "the rest of partition 0" load 0 BTC-USD "$T/p0b"
ok_cmd "the subscriber read everything" wait_for 30 read_all sub "$((NB + NE))"
ok_cmd "the --assign one too" wait_for 30 read_all asg "$((NB + NE))"
for n in sub asg; do
	stop "$n"
	is "$(q "$n" "SELECT product_id, sum(ticks), sum(late) FROM products GROUP BY 1 ORDER BY 1" | tr '\n' ' ')" \
		"BTC-USD|$NB|0 ETH-USD|$NE|0 " "$n: every tick counted, none late"
done
done_testing

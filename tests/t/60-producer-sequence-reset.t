#!/usr/bin/env bash
# brokers: mock
# producer: one absurd or reset feed sequence must not make every later tick
# of its product a "duplicate" (before: 179 of 200 dropped, at debug level
# only).  The aggregator's rule, shared (common/seqrule.c): a sequence far
# above the largest is published but taken as the largest only once 10 ticks
# in a row confirm it; far below it (the largest was the outlier, e.g. the
# first tick after a start) is no replay, and 10 in a row replace the
# largest.  A real replay is still dropped, and said at 5, 50, 500, ...
. "$(dirname "$0")/../lib.sh"

start_broker -b 1 || bail "no broker"
grep -F '"product_id":"BTC-USD"' "$FIX" | head -n 200 >"$T/btc"
absurd='s/"sequence":[0-9]*/"sequence":9000000000000000000/'
sed "50$absurd" "$T/btc" >"$T/mid"              # one in the middle
sed "1$absurd" "$T/btc" >"$T/head"              # the first one
{ cat "$T/btc"; tail -n 60 "$T/btc"; } >"$T/replay"   # the last 60 again

# run NAME: the producer on the feed of $T/NAME into topic t60.NAME.BTC-USD,
# until it has delivered what it published and the feed is at its end.
run() {
	local n
	n=$(wc -l <"$T/$1")
	stop feed >/dev/null 2>&1
	start_feed --file "$T/$1" --speed 0 || bail "no feed"
	spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" -p BTC-USD --topic-prefix "t60.$1." \
		--status-interval 1
	wait_for 30 sh -c "grep -E '^$LOG_TS % info: status:' '$T/producer.err' | tail -n 1 | grep -qE ' ticks $n '"
	sleep 1.5
	stop producer
	cp "$T/producer.err" "$T/producer.$1.err"
}

run mid
is "$(topic_count t60.mid.BTC-USD)" 200 "an absurd sequence in the middle: every tick published"
is "$(producer_counter duplicates)" 0 "none dropped as a duplicate"
like "$(cat "$T/producer.err")" "sequence 9000000000000000000 is far above" "it says it did not take it as the largest"

run head
is "$(topic_count t60.head.BTC-USD)" 200 "an absurd sequence first: every tick published"
is "$(producer_counter duplicates)" 0 "none dropped as a duplicate"
like "$(cat "$T/producer.err")" "the largest sequence 9000000000000000000 was an outlier" "it says so"

run replay
is "$(topic_count t60.replay.BTC-USD)" 200 "a replay of 60 ticks: dropped"
is "$(producer_counter duplicates)" 60 "counted as duplicates"
is "$(grep -c 'duplicates so far' "$T/producer.err")" 2 "said at 5 and 50 (a warning line each)"
like "$(grep 'duplicates so far' "$T/producer.err" | head -n 1)" "^$LOG_TS % warning: BTC-USD: 5 duplicates so far" "the first at 5"

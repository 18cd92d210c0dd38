#!/usr/bin/env bash
# aggregator status names what really holds the watermark, as the run
# records it in the state (meta watermark_held_by): a partition's event time,
# a partition without a tick, or the idle rule (an idle partition holds the
# watermark at the event time delivered --idle-timeout before).  Before, it
# named the partition furthest behind in event time, whatever held it: with
# the idle rule holding, "held back by BTC-USD [0], 0.0 s behind the newest".
# And a partition the state has read nothing of (group mode writes one for
# assigned partition once it writes its marker) reads as such: STATE-OFFSET
# '-', its lag what its log holds (before: -1, and LAG 1 for an empty log).
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD:2 || bail "no broker"
grep -F '"product_id":"BTC-USD"' "$FIX" >"$T/btc"
half=$((NB / 2))
head -n "$half" "$T/btc" >"$T/first"
tail -n +$((half + 1)) "$T/btc" >"$T/second"
load() { timeout 30 kcat -b "$BROKERS" -P -t BTC-USD -p 0 <"$1"; }
counted() { [[ $(sqlite3 "$T/s.db" 'SELECT coalesce(sum(ticks), 0) FROM products' 2>/dev/null) == "$1" ]]; }
status() { timeout 30 "$BIN/aggregator" status --state "$T/s.db" "$@"; }

# BTC-USD [1] stays empty; [0] gets the first half, later the second.
idle=30
spawn agg "$BIN/aggregator" -b "$BROKERS" --assign -t BTC-USD --idle-timeout ${idle}s --batch-time 100ms \
	-s "$T/s.db" -o "$T/s.csv"
t0=$SECONDS
ok_cmd "the first half loaded" load "$T/first"
ok_cmd "and counted" wait_for 30 counted "$half"
if ((SECONDS - t0 < idle - 2)); then
	table=$(status)
	like "$table" "held back by BTC-USD \\[1\\]: no tick yet" \
		"before --idle-timeout: the partition without a tick holds it (all of it)"
	is "$(status --json | jq -c '[.watermark, .heldBy.topic, .heldBy.partition, .heldBy.cause]')" \
		'["-","BTC-USD",1,"no-tick"]' "--json: the same"
else
	skip "the first half took $((SECONDS - t0)) s to count, past --idle-timeout ${idle}s" 2
fi
# Once [1] is idle it holds the watermark at the event time delivered
# --idle-timeout before: the first half's end, while the second half is new.
has_wm() { [[ $(status --json | jq -r .watermark) != - ]]; }
ok_cmd "[1] idle: the watermark moves" wait_for 60 has_wm
t1=$SECONDS
ok_cmd "the second half loaded" load "$T/second"
ok_cmd "and counted" wait_for 30 counted "$NB"
if ((SECONDS - t1 < idle - 2)); then
	table=$(status)
	json=$(status --json)
	like "$table" "held back by BTC-USD \\[1\\], idle \\(at its end for --idle-timeout\\): it holds the watermark at the event time delivered that long before, [0-9.]+ (s|min) behind the newest" \
		"the idle rule holds it: named, with the partition"
	unlike "$table" "held back by BTC-USD \\[0\\]" "not the partition furthest behind (0.0 s behind)"
	is "$(jq -c '[.heldBy.topic, .heldBy.partition, .heldBy.cause]' <<<"$json")" '["BTC-USD",1,"idle"]' \
		"--json: heldBy with its cause"
	cmp_ok "$(jq .heldBy.behindNewestMs <<<"$json")" -ge 60000 "and how far behind the newest (the second half's span)"
else
	skip "the second half took $((SECONDS - t1)) s to count, past --idle-timeout ${idle}s" 4
fi
# --idle-timeout later what was delivered then is all of it: [0]'s event time
# holds the watermark, the delay behind the newest.
event_held() { [[ $(status --json | jq -r .heldBy.cause) == event-time ]]; }
ok_cmd "--idle-timeout later: held by an event time" wait_for 60 event_held
like "$(status)" "held back by BTC-USD \\[0\\] \\(its event time\\), 0\\.0 s behind the newest" "[0], the newest"
stop agg

# A partition the state has read nothing of: STATE-OFFSET '-', LAG its log's
# unread messages (0 when empty).  A state file with that row, as group mode
# writes it for every partition it is assigned (a member on Apache Kafka).
cp "$T/s.db" "$T/e.db"
sqlite3 "$T/e.db" "INSERT OR REPLACE INTO partitions (topic, partition, next_offset, updated_us) VALUES ('BTC-USD', 1, -1, 0)" ||
	bail "a row for [1]"
table=$(timeout 30 "$BIN/aggregator" status --state "$T/e.db" -b "$BROKERS")
like "$table" "BTC-USD +1 +- +- +0 +0 +0 +- " "an empty partition: STATE-OFFSET -, LAG 0"
is "$(timeout 30 "$BIN/aggregator" status --state "$T/e.db" -b "$BROKERS" --json |
	jq -c '.partitions[] | select(.partition == 1) | [.stateOffset, .logEnd, .lag, .ticks]')" '[-1,0,0,0]' \
	"--json: stateOffset -1 (nothing read), lag 0"
if on_kafka; then
	spawn m "$BIN/aggregator" -b "$BROKERS" -g g115 --output-topic g115-out -t BTC-USD -s "$T/m.db" \
		--idle-timeout 2s --batch-time 100ms -X session.timeout.ms=6000
	m_done() { [[ $(sqlite3 "$T/m.db" 'SELECT coalesce(sum(ticks), 0) FROM products' 2>/dev/null) == "$NB" ]]; }
	ok_cmd "group mode: a member reads BTC-USD" wait_for 90 m_done
	# once [1] is idle the watermark moves and the member writes [1]'s
	# marker: its row, with nothing read (next_offset -1)
	m_row() { [[ $(sqlite3 "$T/m.db" 'SELECT next_offset FROM partitions WHERE partition = 1' 2>/dev/null) == -1 ]]; }
	ok_cmd "and writes a row for the empty partition" wait_for 30 m_row
	stop m
	like "$(timeout 30 "$BIN/aggregator" status --state "$T/m.db" -b "$BROKERS")" "BTC-USD +1 +- +[0-9-]+ +0 +0 +0 +- " \
		"group mode's row of the empty partition: STATE-OFFSET -, LAG 0"
fi
done_testing

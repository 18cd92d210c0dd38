#!/usr/bin/env bash
# --progress-json speaks Spark's StreamingQueryProgress where it maps: one
# JSON object a line, the run's id, a batchId that counts batches, per
# interval numInputRows whose sum is the total, sources whose startOffset is
# the previous line's endOffset and whose last endOffset is the log end, the
# sink's numOutputRows summing to the CSV's rows, eventTime max/watermark.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD:2 -t ETH-USD || bail "no broker"
grep -F '"product_id":"BTC-USD"' "$FIX" >"$T/btc"
half=$((NB / 2))
ok_cmd "load the fixture (BTC-USD over 2 partitions)" sh -c "head -n $half '$T/btc' | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 &&
	tail -n +$((half + 1)) '$T/btc' | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 1 &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0"

ok_cmd "--available-now --progress-json" sh -c "timeout 90 '$BIN/aggregator' -b $BROKERS -g g53 --assign --available-now \
	--batch-max 300 --progress-interval 1ms --progress-json -s '$T/s.db' -o '$T/o.csv' >'$T/p.json' 2>'$T/err'"
P=$T/p.json
lines=$(wc -l <"$P")
cmp_ok "$lines" -ge 3 "several lines ($lines; one per commit at most, 1 ms apart)"
cmp_ok "$(tail -n 1 "$P" | jq .totals.batches)" -ge $(((NB + NE) / 300)) "batches of at most 300 (--batch-max)"
is "$(jq -c . "$P" 2>&1 | wc -l)" "$lines" "every line is one JSON object"
is "$(jq -r .runId "$P" | sort -u | grep -cE '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')" 1 \
	"one runId, a UUID, on every line"
is "$(jq -r .id "$P" | sort -u)" g53 "id: the group"
is "$(jq -s '[.[] | .numInputRows] | add' "$P")" "$((NB + NE))" "numInputRows (per interval) sum to every message"
is "$(tail -n 1 "$P" | jq .totals.messages)" "$((NB + NE))" "totals.messages counts them all"
is "$(tail -n 1 "$P" | jq '.batchId + 1 == .totals.batches and .final')" true "the last line: final, batchId = batches - 1"
is "$(jq -s '. as $a | ([$a[] | .numBatches] | add) == $a[-1].totals.batches' "$P")" true "numBatches (per interval) sum to totals.batches"
is "$(jq -s '[range(1; length) as $i | .[$i].batchId >= .[$i - 1].batchId] | all' "$P")" true "batchId never goes back"
# offsets of a line as {"topic:partition": offset}
flat='def flat: to_entries | map(.key as $t | .value | to_entries | map({($t + ":" + .key): .value})) | flatten | add // {};'
is "$(jq -s "$flat"' . as $a | [range(1; length) as $i | ($a[$i - 1].sources[0].endOffset | flat) as $prev |
	$a[$i].sources[0].startOffset | flat | to_entries | map(($prev[.key] // .value) == .value) | all] | all' "$P")" \
	true "each line's startOffset is the previous line's endOffset"
is "$(tail -n 1 "$P" | jq -c '.sources[0].endOffset')" "{\"BTC-USD\":{\"0\":$half,\"1\":$((NB - half))},\"ETH-USD\":{\"0\":$NE}}" \
	"the last endOffset: every partition's end"
is "$(tail -n 1 "$P" | jq -c '.sources[0].latestOffset == .sources[0].endOffset and .lag == 0')" true \
	"latestOffset is the log end, lag 0"
is "$(head -n 1 "$P" | jq -c '.sources[0].startOffset')" '{"BTC-USD":{"0":0,"1":0},"ETH-USD":{"0":0}}' \
	"the first startOffset: where the run started"
rows=$(($(wc -l <"$T/o.csv") - 1))
is "$(jq -s '[.[] | .sink.numOutputRows] | add' "$P")" "$rows" "sink.numOutputRows sum to the CSV's rows ($rows)"
is "$(tail -n 1 "$P" | jq .totals.rowsExported)" "$rows" "totals.rowsExported too"
like "$(tail -n 1 "$P" | jq -r .sink.description)" '^FileSink\[.*/o\.csv\]$' "the sink names the CSV"
is "$(tail -n 1 "$P" | jq -r .eventTime.max)" "2023-04-24T15:21:59.404Z" "eventTime.max: the newest tick"
# BTC-USD's partition 0 holds the first half: its newest tick, 2 minutes back
wm=$(sed -n "${half}p" "$T/btc" | jq -r '.time | capture("^(?<s>[^.]*)\\.(?<f>[0-9]{3})") | (.s + "Z" | fromdate - 120 | todate | sub("Z$"; "")) + "." + .f + "Z"')
is "$(tail -n 1 "$P" | jq -r .eventTime.watermark)" "$wm" "eventTime.watermark: the slowest partition's newest tick - 2m"
is "$(jq -s '. as $a | ([$a[] | .stateOperators[0].numRowsDroppedByWatermark] | add) == $a[-1].totals.lateDropped' "$P")" true \
	"numRowsDroppedByWatermark (per interval) sum to totals.lateDropped"
is "$(jq -s '[.[] | .stateOperators[0].numRowsTotal | type == "number"] | all' "$P")" true "numRowsTotal: open windows"
done_testing

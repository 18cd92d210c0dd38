#!/usr/bin/env bash
# --metrics HOST:PORT: Prometheus metrics while the programs run, in the text
# exposition format.  The aggregator: per partition and product the ticks,
# late and duplicate counts, per partition offsets, lag and event time, the
# watermark, open windows, rows exported and the batch duration histogram.
# The producer: per product the ticks published, duplicates and missed
# trades; ticks received, delivered, failures, reconnects, queue-full waits,
# the feed's connection and silence.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
ok_cmd "load the fixture" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0"
spawn agg "$BIN/aggregator" -b "$BROKERS" -g g52 --assign --idle-timeout 10m --progress-interval 0 \
	--metrics 127.0.0.1:0 --state "$T/s.db" --output "$T/s.csv"
# port NAME: the metrics port the program spawned as NAME logged; scrape NAME
port() { sed -n 's/.*metrics on port \([0-9]*\) .*/\1/p' "$T/$1.err"; }
has_port() { [[ -n $(port "$1") ]]; }
scrape() { curl -sf --max-time 5 "http://127.0.0.1:$(port "$1")/metrics"; }
ok_cmd "it says the port it serves on" wait_for 20 has_port agg
PORT=$(port agg)
caught_up() { scrape agg | grep -q "^aggregator_ticks_total{topic=\"ETH-USD\",partition=\"0\",product=\"ETH-USD\"} $NE\$"; }
ok_cmd "the ticks counted show up" wait_for 30 caught_up
m=$(scrape agg)
like "$m" "aggregator_ticks_total\\{topic=\"BTC-USD\",partition=\"0\",product=\"BTC-USD\"\\} $NB" "ticks per partition and product"
like "$m" "aggregator_next_offset\\{topic=\"BTC-USD\",partition=\"0\"\\} $NB" "the state's offsets"
like "$m" "aggregator_lag_messages\\{topic=\"ETH-USD\",partition=\"0\"\\} 0" "lag 0"
like "$m" "aggregator_late_ticks_total\\{topic=\"BTC-USD\",partition=\"0\",product=\"BTC-USD\"\\} 0" "late"
like "$m" "aggregator_watermark_seconds 1682349598\\.977" "the watermark as Unix seconds"
like "$m" "aggregator_batch_duration_seconds_count [1-9]" "the batch duration histogram"
like "$m" 'aggregator_batch_duration_seconds_bucket\{le="\+Inf"\} [1-9]' "with its +Inf bucket"
# Prometheus buckets are cumulative: never decreasing, +Inf the count.
buckets=$(sed -n 's/^aggregator_batch_duration_seconds_bucket{le="[^"]*"} //p' <<<"$m")
ok "$(awk 'NR > 1 && $1 < prev { bad = 1 } { prev = $1 } END { exit bad }' <<<"$buckets"; echo $?)" \
	"the histogram's buckets never decrease (${buckets//$'\n'/ })"
is "$(tail -n 1 <<<"$buckets")" "$(sed -n 's/^aggregator_batch_duration_seconds_count //p' <<<"$m")" \
	"its +Inf bucket is its count"
like "$m" "# TYPE aggregator_ticks_total counter" "TYPE lines"
# every sample line: name, labels, a number
bad=$(grep -v '^#' <<<"$m" | grep -Ev '^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+-]+$|^[a-z_]+(\{[^}]*\})? \+?Inf$' | head -n 3)
is "$bad" "" "every sample line is NAME{LABELS} VALUE"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/other")" 404 "another path: 404"
stop agg TERM
is "$?" 0 "SIGTERM: exit 0"
# The producer, from the local feed.
start_feed --file "$FIX" --speed 0 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix m52. --metrics 127.0.0.1:0
ok_cmd "the producer says its metrics port" wait_for 20 has_port producer
delivered_all() { scrape producer | grep -q "^producer_messages_delivered_total $((NB + NE))\$"; }
ok_cmd "every tick delivered, as the metrics say" wait_for 60 delivered_all
pm=$(scrape producer)
like "$pm" "producer_ticks_published_total\\{product=\"BTC-USD\",topic=\"m52.BTC-USD\"\\} $NB" "published per product"
like "$pm" "producer_feed_connected 1" "the feed connection open"
like "$pm" "producer_feed_silence_seconds [0-9.]+" "the feed's silence"
like "$pm" "producer_reconnects_total 0" "reconnects"
bad=$(grep -v '^#' <<<"$pm" | grep -Ev '^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+-]+$' | head -n 3)
is "$bad" "" "every producer sample line is NAME{LABELS} VALUE"
stop producer TERM
"$BIN/aggregator" -b "$BROKERS" --metrics nowhere --state "$T/x.db" --output "$T/x.csv" 2>"$T/x.err"
is "$?" 2 "--metrics without a port: exit 2"
like "$(cat "$T/x.err")" "--metrics: HOST:PORT expected" "says what it takes"
done_testing

#!/usr/bin/env bash
# A healthy fresh broker, the producer and the aggregator started right after
# it as make demo and make run start them: no warning line, and no line that
# reads like a fault.  Before, a fresh Apache Kafka, still loading its
# transaction coordinator, refused the idempotent producer's first
# InitProducerId, which librdkafka retries by itself and logs as a warning
# ("kafka GETPID: ... Coordinator load in progress: retrying"); and on the mock,
# which has no CreateTopics, the producer said "CreateTopics not available
# (Failed while waiting for controller: Local: Timed out)" after 10 s.  The
# mock answers as a fresh Kafka does: its first InitProducerId requests fail
# with COORDINATOR_LOAD_IN_PROGRESS (14).
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
on_kafka || broker_cmd "error InitProducerId 14 3" || bail "no error injection"
start_feed --file "$FIX" --speed 30 || bail "no feed"
verbose=()
on_kafka || verbose=(-v) # to see the refused InitProducerId, at debug level
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --status-interval 1 "${verbose[@]}"
if on_kafka; then # as make run: a consumer group
	spawn aggregator "$BIN/aggregator" -b "$BROKERS" -g g116 -s "$T/s.db" -o "$T/s.csv" --progress-interval 1s
else # as make demo
	spawn aggregator "$BIN/aggregator" -b "$BROKERS" --assign -s "$T/s.db" -o "$T/s.csv" --progress-interval 1s
fi
counted() { (($(sqlite3 "$T/s.db" 'SELECT coalesce(sum(ticks), 0) FROM products' 2>/dev/null || echo 0) >= 1000)); }
started=$SECONDS
ok_cmd "1000 ticks through Kafka into the aggregator" wait_for 90 counted
# past the producer's 10 s bound on CreateTopics' answer
while ((SECONDS - started < 13)); do sleep 0.5; done
stop producer
is "$?" 0 "the producer stops: exit 0"
stop aggregator
is "$?" 0 "the aggregator stops: exit 0"
for p in producer aggregator; do
	is "$(grep -cE '% (warning|error):' "$T/$p.err")" 0 "$p: no warning or error line"
	grep -E '% (warning|error):' "$T/$p.err" | head -n 5 | while IFS= read -r l; do diag "$l"; done
done
is "$(grep -E '% (info|warning|error):' "$T/producer.err" | grep -c 'not available\|Timed out')" 0 \
	"the producer: no 'not available', no 'Timed out' (below debug)"
if ! on_kafka; then
	like "$(grep -F 'kafka GETPID' "$T/producer.err" | head -n 1)" "% debug: .*Coordinator load in progress: retrying" \
		"the mock refused InitProducerId: librdkafka's retry is a debug line"
	like "$(grep -E '% info: final:' "$T/producer.err")" ' delivered [1-9]' "and the producer delivered"
fi
done_testing

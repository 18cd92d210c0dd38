#!/usr/bin/env bash
# brokers: mock  (about the aggregator's memory, not the broker)
# Memcheck over the release build ($ROOT/bin, not the sanitized $BIN: valgrind
# and ASan do not mix): one aggregator --available-now --assign run over the
# fixture, and the producer against the feed server stopped by SIGTERM. Each
# exits 0 with no memcheck error and "definitely lost: 0 bytes" ("still
# reachable" memory of librdkafka/OpenSSL is fine). Skipped without valgrind.
. "$(dirname "$0")/../lib.sh"

command -v valgrind >/dev/null || skip_all "valgrind not installed"
REL=$ROOT/bin
[[ -x $REL/aggregator && -x $REL/producer ]] || skip_all "no release build in $REL (run make)"
plan 10

VG=(valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --num-callers=30)

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
ok_cmd "load the fixture" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0"

timeout 120 "${VG[@]}" --log-file="$T/agg.vg" "$REL/aggregator" -b "$BROKERS" -g vg --assign --available-now -q \
	--state "$T/state.db" --output "$T/out.csv" 2>"$T/agg.err"
st=$?
is "$st" 0 "aggregator under memcheck: exit 0" || diag "$(tail -n 40 "$T/agg.vg")"
like "$(cat "$T/agg.vg")" 'ERROR SUMMARY: 0 errors' "aggregator: no memcheck error"
like "$(grep -E 'definitely lost:|All heap blocks were freed' "$T/agg.vg")" 'definitely lost: 0 bytes|All heap blocks were freed' \
	"aggregator: definitely lost: 0 bytes"
ok_cmd "aggregator under memcheck: output == offline windows" "$ROOT/tests/offline.sh" "$FIX" "$T/out.csv"

# The producer: feed at full speed into new topics, SIGTERM once all is delivered.
start_feed --file "$FIX" --speed 0 || bail "no feed"
SPAWN_STDIN=/dev/null spawn producer "${VG[@]}" --log-file="$T/producer.vg" "$REL/producer" -b "$BROKERS" \
	--url "$FEED_URL" --topic-prefix vg. --status-interval 1
full() { [[ $(topic_count vg.BTC-USD) -ge $NB && $(topic_count vg.ETH-USD) -ge $NE ]]; }
ok_cmd "producer under memcheck delivers the fixture" wait_for 120 full
STOP_TIMEOUT=60 stop producer TERM
st=$?
is "$st" 0 "producer under memcheck: exit 0 after SIGTERM" || diag "$(tail -n 40 "$T/producer.vg")"
like "$(cat "$T/producer.vg")" 'ERROR SUMMARY: 0 errors' "producer: no memcheck error"
like "$(grep -E 'definitely lost:|All heap blocks were freed' "$T/producer.vg")" 'definitely lost: 0 bytes|All heap blocks were freed' \
	"producer: definitely lost: 0 bytes"
is "$(topic_count vg.BTC-USD) $(topic_count vg.ETH-USD)" "$NB $NE" "every tick once"

#!/usr/bin/env bash
# brokers: mock kafka
# The aggregator's /healthz end to end when the broker goes away: 503 with
# the reason ("broker gone") within 10 x --batch-time plus the time librdkafka
# takes to see it, also while idle (nothing waits, but nothing could be read
# either); 200 again once the broker is back.  Before, only a message with
# __ALL_BROKERS_DOWN set the outage, and librdkafka never delivers that as a
# message (it is an error_cb event): /healthz said ok with the broker gone.
. "$(dirname "$0")/../lib.sh"

start_broker -b 1 -t BTC-USD -t ETH-USD || bail "no broker"
spawn agg "$BIN/aggregator" -b "$BROKERS" -g g111 --assign --batch-time 200ms --progress-interval 0 \
	--http 127.0.0.1:0 --state "$T/s.db" --output "$T/s.csv"
port() { sed -n 's/.*metrics on port \([0-9]*\) .*/\1/p' "$T/agg.err"; }
has_port() { [[ -n $(port) ]]; }
ok_cmd "the aggregator serves" wait_for 20 has_port
U=http://127.0.0.1:$(port)
health() { curl -s -w ' %{http_code}' --max-time 5 "$U/healthz" | tr '\n' ' '; }
health_is() { [[ $(health) == *" $1" ]]; }
ok_cmd "/healthz: 200 with the broker there" wait_for 20 health_is 200
ok_cmd "load a few ticks" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | head -n 50 | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0"
read_all() { [[ $(sqlite3 "$T/s.db" 'SELECT coalesce(sum(next_offset), 0) FROM partitions') == 50 ]]; }
ok_cmd "the aggregator read them" wait_for 30 read_all

ok_cmd "broker down" broker_cmd "down 1"
ok_cmd "/healthz: 503 within 30 s" wait_for 30 health_is 503
like "$(health)" "^broker gone: none reachable at .* for more than 2\\.0 s  ?503" "with the reason"
is "$(curl -sf --max-time 5 "$U/api/status" | jq .brokers_down)" true "/api/status says brokers_down"
like "$(cat "$T/agg.err")" "warning: no broker reachable at " "the log says so once"
ok_cmd "still running" running agg

ok_cmd "broker up" broker_cmd "up 1"
ok_cmd "/healthz: 200 again within 60 s" wait_for 60 health_is 200
is "$(curl -sf --max-time 5 "$U/api/status" | jq .brokers_down)" false "/api/status: brokers_down false"
like "$(cat "$T/agg.err")" "info: a broker at .* is reachable again" "the log says it is back"
ok_cmd "more ticks" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | sed -n 51,80p | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0"
read_more() { [[ $(sqlite3 "$T/s.db" 'SELECT coalesce(sum(next_offset), 0) FROM partitions') == 80 ]]; }
ok_cmd "and reads what comes after" wait_for 60 read_more
is "$(health)" "ok  200" "/healthz: ok"
stop agg TERM
is "$?" 0 "SIGTERM: exit 0"
done_testing

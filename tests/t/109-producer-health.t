#!/usr/bin/env bash
# brokers: mock kafka
# The producer's /healthz end to end (feed-server, broker, producer --http
# with --unhealthy-after 3s): 200 while the feed is connected and Kafka
# takes the ticks; 503 with the reason once Kafka has taken nothing for 3 s
# while ticks wait (the broker stopped), 200 again once it takes them (the
# spool replayed); 503 once the feed has been down for 3 s (the feed server
# stopped), 200 again once it is back.  Before, /healthz was always ok.
. "$(dirname "$0")/../lib.sh"

start_broker -b 1 -t t109.BTC-USD -t t109.ETH-USD || bail "no broker"
start_feed --file "$FIX" --speed 20 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix t109. --status-interval 1 \
	--max-backoff 2 --unhealthy-after 3s --http 127.0.0.1:0
port() { sed -n 's/.*metrics on port \([0-9]*\) .*/\1/p' "$T/producer.err"; }
has_port() { [[ -n $(port) ]]; }
ok_cmd "the producer serves" wait_for 20 has_port
U=http://127.0.0.1:$(port)
health() { curl -s -w ' %{http_code}' --max-time 5 "$U/healthz" | tr '\n' ' '; }
health_is() { [[ $(health) == *" $1" ]]; }
status() { curl -sf --max-time 5 "$U/api/status"; }
ok_cmd "ticks flowing" wait_for 30 delivered_at_least 100
is "$(health)" "ok  200" "/healthz: 200 while the feed is connected and Kafka takes the ticks"

# Kafka away while the feed sends.
ok_cmd "broker down" broker_cmd "down 1"
ok_cmd "/healthz: 503 within 15 s" wait_for 15 health_is 503
like "$(health)" "^Kafka takes nothing: no tick acknowledged for more than 3 s while [0-9]+ wait.* 503$" \
	"with the reason: Kafka takes nothing"
spooling() { [[ $(status | jq '.spool.active and .spool.ticks > 0') == true ]]; }
ok_cmd "/api/status: the spool fills meanwhile" wait_for 15 spooling
ok_cmd "broker up" broker_cmd "up 1"
ok_cmd "/healthz: 200 again once Kafka takes the ticks" wait_for 90 health_is 200
is "$(status | jq -r .feed.state)" connected "/api/status: the feed connected all along"

# The feed away.
before=$(status | jq .feed.reconnects)
stop feed
ok_cmd "/healthz: 503 within 10 s of the feed server's stop" wait_for 10 health_is 503
like "$(health)" "^feed down: not connected to $FEED_URL for more than 3 s \\([0-9]+ attempts\\)  ?503$" \
	"with the reason: the feed is down"
is "$(status | jq -r .feed.state)" disconnected "/api/status: the feed disconnected"
ok_cmd "the feed server back on its port" start_feed --file "$FIX" --speed 20 --port "$FEED_PORT"
ok_cmd "/healthz: 200 again once the feed is back" wait_for 30 health_is 200
cmp_ok "$(status | jq .feed.reconnects)" -gt "$before" "/api/status counts the reconnect"
ok_cmd "running all along" running producer
stop producer
is "$?" 0 "SIGTERM: exit 0"
is "$(producer_counter lost)" 0 "no tick lost"
done_testing

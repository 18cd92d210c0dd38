#!/usr/bin/env bash
# producer: the fast ticker path (tick_parse_head) and the jansson path give the
# same result.  Ticker messages in unusual forms - spaces, keys in another
# order, duplicate keys, escapes, null, floats and too big integers in other
# fields, sequence or trade_id missing, null, negative or strings, a price the
# aggregator would reject, a "trade_id" string value, "+00:00" times - are
# published byte-identical with the right key and timestamp, or dropped and
# counted exactly as before the fast path existed (duplicates, missed trades,
# malformed).
. "$(dirname "$0")/../lib.sh"
plan 11

F=$T/ticks.jsonl
# BTC-USD lines 1-16 and 22, ETH-USD lines 17-21.  1 canonical; 2 spaces; 3
# trade_id a string, 4 sequence a string: malformed; 5 sequence null; 6 no
# sequence, trade 1003 missed; 7 sequence 101 again: duplicate; 8 price -5 (the
# aggregator rejects it, the producer publishes it); 9 an escape; 10 "time"
# twice (the last counts); 11 trade_id -5; 12 "trade_id" also as a value, trade
# 1008 missed; 13 "+00:00" and 9 digits; 14 null in another field; 15 a
# 20-digit integer (not JSON for jansson): malformed; 16 a float; 17 canonical;
# 18 duplicate; 19 trade_id null; 20 no fraction; 21 keys in reverse; 22
# white space after the object.
cat >"$F" <<'EOF'
{"type":"ticker","sequence":100,"product_id":"BTC-USD","price":"27521.17","volume_24h":"12665.2","best_bid":"27520.6","best_ask":"27521.17","side":"buy","time":"2023-04-24T15:00:00.000500Z","trade_id":1000,"last_size":"0.01"}
{ "type" : "ticker", "sequence" : 101, "product_id" : "BTC-USD", "price" : "27521.18", "volume_24h" : "12665.2", "best_bid" : "27520.6", "best_ask" : "27521.18", "time" : "2023-04-24T15:00:01.001999Z", "trade_id" : 1001 }
{"type":"ticker","sequence":102,"product_id":"BTC-USD","price":"27521.19","volume_24h":"12665.2","best_bid":"27520.6","best_ask":"27521.19","time":"2023-04-24T15:00:02Z","trade_id":"1002"}
{"type":"ticker","sequence":"103","product_id":"BTC-USD","price":"27521.19","volume_24h":"12665.2","best_bid":"27520.6","best_ask":"27521.19","time":"2023-04-24T15:00:03Z","trade_id":1002}
{"type":"ticker","sequence":null,"product_id":"BTC-USD","price":"27521.2","volume_24h":"12665.2","best_bid":"27520.6","best_ask":"27521.2","time":"2023-04-24T15:00:04.5Z","trade_id":1002}
{"type":"ticker","product_id":"BTC-USD","price":"27521.21","volume_24h":"12665.2","best_bid":"27520.6","best_ask":"27521.21","time":"2023-04-24T15:00:05.999999Z","trade_id":1004}
{"type":"ticker","sequence":101,"product_id":"BTC-USD","price":"27521.22","volume_24h":"12665.2","best_bid":"27520.6","best_ask":"27521.22","time":"2023-04-24T15:00:06Z","trade_id":1005}
{"type":"ticker","sequence":104,"product_id":"BTC-USD","price":"-5","volume_24h":"12665.2","best_bid":"27520.6","best_ask":"27521.22","time":"2023-04-24T15:00:07.25Z","trade_id":1005}
{"type":"ticker","sequence":105,"product_id":"BTC-USD","price":"27521.23","volume_24h":"12665.2","best_bid":"27520.6","best_ask":"27521.23","side":"b\u0075y","time":"2023-04-24T15:00:08Z","trade_id":1006}
{"type":"ticker","sequence":106,"product_id":"BTC-USD","price":"27521.24","volume_24h":"12665.2","best_bid":"27520.6","best_ask":"27521.24","time":"2023-04-24T15:00:09Z","trade_id":1007,"time":"2023-04-24T15:00:09.75Z"}
{"type":"ticker","sequence":107,"product_id":"BTC-USD","price":"27521.25","volume_24h":"12665.2","best_bid":"27520.6","best_ask":"27521.25","time":"2023-04-24T15:00:10Z","trade_id":-5}
{"type":"ticker","sequence":108,"product_id":"BTC-USD","price":"27521.26","volume_24h":"12665.2","best_bid":"27520.6","best_ask":"27521.26","side":"trade_id","time":"2023-04-24T15:00:11Z","trade_id":1009}
{"type":"ticker","sequence":109,"product_id":"BTC-USD","price":"27521.27","volume_24h":"12665.2","best_bid":"27520.6","best_ask":"27521.27","time":"2023-04-24T15:00:12.123456789+00:00","trade_id":1010}
{"type":"ticker","sequence":110,"product_id":"BTC-USD","price":"27521.28","volume_24h":"12665.2","best_bid":"27520.6","best_ask":"27521.28","time":"2023-04-24T15:00:13Z","trade_id":1011,"last_size":null}
{"type":"ticker","sequence":111,"product_id":"BTC-USD","price":"27521.29","volume_24h":"12665.2","best_bid":"27520.6","best_ask":"27521.29","time":"2023-04-24T15:00:14Z","trade_id":1012,"x":12345678901234567890}
{"type":"ticker","sequence":112,"product_id":"BTC-USD","price":"27521.3","volume_24h":"12665.2","best_bid":"27520.6","best_ask":"27521.3","time":"2023-04-24T15:00:15Z","trade_id":1012,"x":1.5}
{"type":"ticker","sequence":200,"product_id":"ETH-USD","price":"1849.5","volume_24h":"9000.1","best_bid":"1849.4","best_ask":"1849.5","time":"2023-04-24T15:00:16.000001Z","trade_id":500}
{"type":"ticker","sequence":200,"product_id":"ETH-USD","price":"1849.5","volume_24h":"9000.1","best_bid":"1849.4","best_ask":"1849.5","time":"2023-04-24T15:00:17Z","trade_id":501}
{"type":"ticker","sequence":201,"product_id":"ETH-USD","price":"1849.6","volume_24h":"9000.1","best_bid":"1849.4","best_ask":"1849.6","time":"2023-04-24T15:00:18Z","trade_id":null}
{"type":"ticker","sequence":202,"product_id":"ETH-USD","price":"1849.7","volume_24h":"9000.1","best_bid":"1849.4","best_ask":"1849.7","time":"2023-04-24T15:00:19Z","trade_id":501}
{"trade_id":502,"time":"2023-04-24T15:00:20.5Z","best_ask":"1849.8","best_bid":"1849.4","volume_24h":"9000.1","price":"1849.8","product_id":"ETH-USD","sequence":203,"type":"ticker"}
EOF
# line 22 (written here so that no editor strips its trailing space)
printf '%s \n' '{"type":"ticker","sequence":113,"product_id":"BTC-USD","price":"27521.31","volume_24h":"12665.2","best_bid":"27520.6","best_ask":"27521.31","time":"2023-04-24T15:00:21Z","trade_id":1013}' >>"$F"
# line numbers (1-based) published per topic, with their Kafka timestamps (ms)
T0=1682348400000
PUB_B=(1 2 5 6 8 9 10 11 12 13 14 16 22)
TS_B=(0 1001 4500 5999 7250 8000 9750 10000 11000 12123 13000 15000 21000)
PUB_E=(17 19 20 21)
TS_E=(16000 18000 19000 20500)

start_broker -b 1 || bail "no broker"
start_feed --file "$F" --speed 0 --heartbeat-ms 0 || bail "no feed"
is "$(grep -c 'skipped' "$T/feed.err")" 0 "the feed serves every line"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" -p BTC-USD,ETH-USD \
	--topic-prefix t19. --status-interval 1
ok_cmd "all 17 published ticks delivered within 30 s" wait_for 30 delivered_at_least 17
stop producer
is "$?" 0 "SIGTERM: exit 0 (everything delivered)"
is "$(producer_counter published)" 17 "published"
is "$(producer_counter duplicates)" 2 "duplicates: sequence 101 again, ETH sequence 200 again"
is "$(producer_counter malformed)" 3 "malformed: trade_id string, sequence string, integer too big"
is "$(producer_counter missed-trades)" 2 "missed trades: 1003 and 1008"

# expect PRODUCT LINES TIMESTAMPS: "timestamp key value" per published line
expect() {
	local -n lines=$2 ts=$3
	local i
	for i in "${!lines[@]}"; do
		printf '%s %s %s\n' "$((T0 + ts[i]))" "$1" "$(sed -n "${lines[i]}p" "$F")"
	done
}
dump() { timeout 20 kcat -b "$BROKERS" -C -t "$1" -o beginning -e -q -f '%T %k %s\n'; }
is "$(dump t19.BTC-USD)" "$(expect BTC-USD PUB_B TS_B)" \
	"BTC-USD: published lines byte-identical, in order, keyed, timestamped"
is "$(dump t19.ETH-USD)" "$(expect ETH-USD PUB_E TS_E)" \
	"ETH-USD: published lines byte-identical, in order, keyed, timestamped"
is "$(grep -c 'sequence/trade_id not integers' "$T/producer.err")" 2 "two 'not integers' warnings"
is "$(grep -cE "^$LOG_TS % error" "$T/producer.err")" 0 "no error lines"

#!/usr/bin/env bash
# brokers: kafka
# producer: one tick dated two hours ahead must cost no other tick.  Kafka 4
# rejects a record more than log.message.timestamp.after.max.ms (1 h) ahead
# of its clock with INVALID_TIMESTAMP, and the error is the whole batch's:
# before, the batch around that tick failed (620 ticks) and the producer
# exited 1.  The Kafka timestamp is now the tick's time but never later than
# the producer's clock (the tick's own time stays in the payload, which the
# aggregator reads); every tick is on its topic and the exit is 0.
. "$(dirname "$0")/../lib.sh"

start_broker -t t61.BTC-USD -t t61.ETH-USD || bail "no broker"
ahead=$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%S.000000Z)
N=$(wc -l <"$FIX")
sed "300s/\"time\":\"[^\"]*\"/\"time\":\"$ahead\"/" "$FIX" >"$T/ticks"
line=$(sed -n 300p "$T/ticks")
like "$line" "$ahead" "line 300 is dated two hours ahead"
p=$(jq -r .product_id <<<"$line")

start_feed --file "$T/ticks" --speed 0 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix t61. --status-interval 1
ok_cmd "the feed's $N ticks handled" wait_for 60 sh -c "grep -E '^$LOG_TS % (info|warning): status:' '$T/producer.err' | tail -n 1 | grep -qE ' ticks $N .* in-flight 0 '"
stop producer
is "$?" 0 "exit 0 after SIGTERM: every tick delivered"
is "$(producer_counter failed)" 0 "no delivery failed"
is "$(( $(topic_count t61.BTC-USD) + $(topic_count t61.ETH-USD) ))" "$N" "every tick on its topic"
ts=$(timeout 20 kcat -b "$BROKERS" -C -t "t61.$p" -o beginning -e -q -f '%T %s\n' | grep -F "$ahead" | cut -d' ' -f1)
now_ms=$(date +%s%3N)
cmp_ok "${ts:-0}" -le "$now_ms" "its Kafka timestamp is not in the future"
cmp_ok "${ts:-0}" -ge $((now_ms - 600000)) "but the time it was produced"
like "$(cat "$T/producer.err")" "% warning: $p: tick time ${ahead%.*}\\.000Z is [0-9]+ s ahead of the clock" "a warning says so"
first=$(grep -F "\"product_id\":\"$p\"" "$FIX" | head -n 1 | jq -r .time)
is "$(timeout 20 kcat -b "$BROKERS" -C -t "t61.$p" -o beginning -c 1 -q -f '%T\n')" "$(date -u -d "$first" +%s%3N)" \
	"the other ticks keep their own time as Kafka timestamp"

#!/usr/bin/env bash
# producer: every fixture tick arrives on its product's topic, byte-identical,
# keyed with the product id, in order, with the tick's time as Kafka timestamp.
. "$(dirname "$0")/../lib.sh"

N=$(wc -l <"$FIX")

start_broker -b 1 || bail "no broker"
start_feed --file "$FIX" --speed 0 || bail "no feed"
# On Kafka the producer creates its topics with 3 partitions (CreateTopics,
# before anything could auto-create them); the mock has no CreateTopics.
create=()
on_kafka && create=(--partitions 3 --replication 1)
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" \
	-p BTC-USD,ETH-USD --topic-prefix t10. --status-interval 1 --max-backoff 1 "${create[@]}"
ok_cmd "all $N ticks delivered within 40 s" wait_for 40 delivered_at_least "$N"
stop producer
is "$?" 0 "SIGTERM: exit 0 (everything delivered)"
is "$(producer_counter published)" "$N" "published == fixture lines"
is "$(producer_counter duplicates)" 0 "no duplicates on a single clean connection"

for p in BTC-USD ETH-USD; do
	is "$(topic_dump "t10.$p")" "$(grep -F "\"product_id\":\"$p\"" "$FIX")" \
		"$p: topic == fixture lines of $p, byte-identical and in order"
	is "$(timeout 20 kcat -b "$BROKERS" -C -t "t10.$p" -o beginning -e -q -f '%k\n' | sort -u)" \
		"$p" "$p: every message keyed with the product id"
done

# Kafka timestamps: the first three BTC-USD messages carry their tick's time.
want=""
while IFS= read -r t; do
	want+=$(date -u -d "$t" +%s%3N)$'\n'
done < <(grep -F '"product_id":"BTC-USD"' "$FIX" | head -n 3 | jq -r .time)
got=$(timeout 20 kcat -b "$BROKERS" -C -t t10.BTC-USD -o beginning -c 3 -q -f '%T\n')
is "$got" "${want%$'\n'}" "Kafka timestamps == tick time in ms"
# Topics: CreateTopics with --partitions/--replication on Kafka; the mock has
# no CreateTopics and auto-creates them (4 partitions), which the producer says.
meta=$(timeout 10 kcat -b "$BROKERS" -L -t t10.BTC-USD)
if on_kafka; then
	like "$(cat "$T/producer.err")" "created topic t10\.BTC-USD" "the producer created its topics (CreateTopics)"
	like "$meta" 'topic "t10.BTC-USD" with 3 partitions' "with --partitions 3 (auto-creation would give 1)"
else
	like "$meta" 'topic "t10.BTC-USD" with 4 partitions' "the mock auto-created the topic (4 partitions)"
	is "$(grep -c 'created topic' "$T/producer.err")" 0 "and the producer created none (no CreateTopics there)"
fi
is "$(producer_counter malformed)" 0 "no malformed messages"
is "$(grep -cE "^$LOG_TS % error" "$T/producer.err")" 0 "no error lines"

# -t TOPIC (kcat's convention): every product to one topic, keyed by product,
# so each product's ticks keep their order in one partition; the aggregator
# reads that topic and gets the windows of both products.  A new feed: the
# first one replayed its file once.
stop feed
start_feed --file "$FIX" --speed 0 || bail "no second feed"
spawn one "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" -p BTC-USD,ETH-USD -t t10all \
	--status-interval 1 --max-backoff 1 "${create[@]}"
ok_cmd "-t t10all: all $N ticks delivered" wait_for 40 sh -c "grep -E '^$LOG_TS % info: status:' '$T/one.err' | tail -n 1 | grep -qE ' delivered $N '"
stop one
like "$(head -n 3 "$T/one.err")" "topic t10all" "the start line names the one topic"
is "$(topic_count t10all)" "$N" "t10all holds every tick"
for p in BTC-USD ETH-USD; do
	is "$(timeout 20 kcat -b "$BROKERS" -C -t t10all -o beginning -e -q -f '%k %p\n' | grep "^$p " | sort -u | wc -l)" 1 \
		"$p: all in one partition of t10all"
	is "$(topic_dump t10all | grep -F "\"product_id\":\"$p\"")" "$(grep -F "\"product_id\":\"$p\"" "$FIX")" \
		"$p: in order, byte-identical"
done
ok_cmd "the aggregator reads t10all (-t t10all)" timeout 60 "$BIN/aggregator" -b "$BROKERS" -t t10all --assign --available-now \
	--progress-interval 0 -q -s "$T/all.db" -o "$T/all.csv"
ok_cmd "its output.csv == offline windows of both products" "$ROOT/tests/offline.sh" "$FIX" "$T/all.csv"
done_testing

#!/usr/bin/env bash
# brokers: kafka
# Aggregators joining and leaving one consumer group while ticks flow (feed at
# 20x -> producer -> Apache Kafka) with an eager assignor (roundrobin: every
# partition revoked at each rebalance).  Each member has its own state file:
#   A alone; B joins (a partition moves to B); A leaves (B takes its partition
#   at the offset A committed at revoke); C joins (one moves on to C); then
#   B and C stop.
# No partition returns to a member that held it before (its state would win
# over the group's offset: moving state between members is the scale-out
# issue's).  So each partition's ticks split into consecutive ranges over the
# members, and: every tick is counted by exactly one member, none late; the
# members' partial windows together equal the offline windows; the group's
# committed offsets are the topics' ends; every member exits 0.
# cooperative-sticky is refused with librdkafka 2.0 (exit 2, saying why): the
# same sequence had two members count the same ticks there (consume.c).
. "$(dirname "$0")/../lib.sh"

assigned() { grep -c 'info: assigned' "$T/$1.err" 2>/dev/null; }
revoked() { grep -cE 'info: (revoked|lost)' "$T/$1.err" 2>/dev/null; }
assigned_gt() { (($(assigned "$1") > $2)); }
revoked_gt() { (($(revoked "$1") > $2)); }
# msgs NAME: what member NAME has read so far (its state's offsets).
msgs() { sqlite3 "$T/$1.db" "SELECT coalesce(sum(next_offset), 0) FROM partitions" 2>/dev/null || echo 0; }
read_more() { (($(msgs "$1") > $2)); }
# union SQL: runs SQL over the members' tables, attached as a, b, c.
union() {
	sqlite3 -bail ":memory:" "ATTACH '$T/a.db' AS a; ATTACH '$T/b.db' AS b; ATTACH '$T/c.db' AS c;" "$1"
}
ends() { union "SELECT topic || ':' || max(next_offset) FROM (SELECT * FROM a.partitions UNION ALL SELECT * FROM b.partitions UNION ALL SELECT * FROM c.partitions) GROUP BY topic ORDER BY topic" | paste -sd' '; }
caught_up() { [[ $(ends 2>/dev/null) == "$PFX""BTC-USD:$NB $PFX""ETH-USD:$NE" ]]; }

member() { # member NAME: starts aggregator NAME in the group
	spawn "$1" "$BIN/aggregator" -b "$BROKERS" -g "$GROUP" -t "${PFX}BTC-USD,${PFX}ETH-USD" "${grp[@]}" \
		--watermark 5m --idle-timeout 10m --batch-time 50ms --progress-interval 1s \
		--state "$T/$1.db" --output "$T/$1.csv"
}

round() { # round ASSIGNOR
	local a=$1
	PFX=t37$a. GROUP=g37$a
	grp=(-X "partition.assignment.strategy=$a" -X session.timeout.ms=10000 -X heartbeat.interval.ms=500)
	rm -rf "$T"/[abc].*
	start_feed --file "$FIX" --speed 20 || bail "no feed"
	spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix "$PFX" --partitions 1 -q
	member a
	ok_cmd "$a: A alone gets both partitions" wait_for 30 assigned_gt a 0
	ok_cmd "$a: A reads" wait_for 30 read_more a 300
	member b
	ok_cmd "$a: B joins, a partition moves from A" wait_for 30 revoked_gt a 0
	ok_cmd "$a: B reads" wait_for 30 read_more b 50
	local a_rev; a_rev=$(assigned b)
	stop a TERM
	is "$?" 0 "$a: A leaves (SIGTERM), exit 0"
	ok_cmd "$a: B takes A's partition" wait_for 30 assigned_gt b "$a_rev"
	sleep 3
	member c
	ok_cmd "$a: C joins and reads" wait_for 30 read_more c 50
	ok_cmd "$a: the producer delivered the fixture" wait_for 90 topics_full_p
	ok_cmd "$a: B and C together caught up" wait_for 60 caught_up
	stop b TERM
	is "$?" 0 "$a: B exits 0 on SIGTERM"
	stop c TERM
	is "$?" 0 "$a: C exits 0 on SIGTERM"
	stop producer
	stop feed

	is "$(union "SELECT sum(ticks) || ' ' || sum(late) || ' ' || sum(duplicates) FROM (SELECT * FROM a.products UNION ALL SELECT * FROM b.products UNION ALL SELECT * FROM c.products)")" \
		"$((NB + NE)) 0 0" "$a: every tick counted by exactly one member, none late, no duplicates"
	cmp_ok "$(union "SELECT count(*) FROM (SELECT 1 FROM a.partitions UNION ALL SELECT 1 FROM b.partitions UNION ALL SELECT 1 FROM c.partitions)")" \
		-ge 3 "$a: partitions moved between members"
	# The members' partial windows merged into one state (a partition's
	# windows from two members added up), up to the final watermark, written
	# by the aggregator's own export: the lab's columns (the default CSV's),
	# the candle fields left at their defaults (a partial window).
	cp "$T/a.db" "$T/m.$a.db"
	sqlite3 -bail "$T/m.$a.db" "ATTACH '$T/a.db' AS a; ATTACH '$T/b.db' AS b; ATTACH '$T/c.db' AS c;
		DELETE FROM main.windows;
		INSERT INTO main.windows (product_id, window_start, window_end, topic, partition, ticks, sum_price,
		       sum_volume_24h, max_time, max_best_bid, max_best_ask)
		SELECT product_id, window_start, window_end, topic, partition, sum(ticks),
		       sum(sum_price), sum(sum_volume_24h), max(max_time), max(max_best_bid), max(max_best_ask)
		FROM (SELECT * FROM a.windows UNION ALL SELECT * FROM b.windows UNION ALL SELECT * FROM c.windows)
		GROUP BY product_id, window_start, window_end, topic, partition;
		INSERT OR REPLACE INTO main.meta (key, value) SELECT 'exported_until_us', min(mx) - 300000000
		FROM (SELECT max(max_time) AS mx FROM main.windows GROUP BY product_id)" >"$T/merge.out" 2>&1 || diag "merge: $(cat "$T/merge.out")"
	rm -f "$T/merged.$a.csv"
	"$BIN/aggregator" export --state "$T/m.$a.db" --output "$T/merged.$a.csv" 2>"$T/export.err" ||
		diag "export: $(cat "$T/export.err")"
	ok_cmd "$a: the members' windows together == offline windows" "$ROOT/tests/offline.sh" "$FIX" "$T/merged.$a.csv" 60 60 300
	is "$("$BIN/kafka-admin" -b "$BROKERS" group-offsets "$GROUP" "${PFX}BTC-USD" "${PFX}ETH-USD" | awk '{print $3}' | paste -sd' ')" \
		"$NB $NE" "$a: the group's committed offsets are the topics' ends"
	mkdir -p "$T/$a" && mv "$T"/[abc].* "$T"/producer.* "$T/$a/"
}
topics_full_p() { [[ $(topic_count "${PFX}BTC-USD") -ge $NB && $(topic_count "${PFX}ETH-USD") -ge $NE ]]; }

start_broker || bail "no broker"
if [[ $(sed -n 's/^.*librdkafka \([0-9.]*\).*$/\1/p' <("$BIN/aggregator" --version 2>&1) | head -n 1) == 2.0.* ]]; then
	timeout 30 "$BIN/aggregator" -b "$BROKERS" -g g37coop -X partition.assignment.strategy=cooperative-sticky \
		--state "$T/coop.db" --output "$T/coop.csv" 2>"$T/coop.err"
	is "$?" 2 "cooperative-sticky with librdkafka 2.0: refused, exit 2"
	like "$(cat "$T/coop.err")" "cooperative-sticky is refused with librdkafka 2\.0.*two members" "and says why"
else
	round cooperative-sticky
fi
round roundrobin
done_testing

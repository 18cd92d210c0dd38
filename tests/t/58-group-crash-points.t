#!/usr/bin/env bash
# brokers: kafka
# Group mode's two crash points (txn.h): the member dies (kill -9, as the
# test build's AGG_CRASH_AT does) at the 3rd batch
#   txn:   before its Kafka transaction commits: the restart aborts it (the
#          same transactional.id) and goes on from the state file;
#   kafka: after the Kafka commit, before the SQLite one: the state file is
#          behind the group's offsets, and the restart restores the
#          partitions from the changelog.
# Either way the CSV made from the output topic equals a single aggregator's.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD:2 -t ETH-USD || bail "no broker"
split_fixture_closed
timeout 30 kcat -b "$BROKERS" -P -t BTC-USD -p 0 <"$T/btc.0" && timeout 30 kcat -b "$BROKERS" -P -t BTC-USD -p 1 <"$T/btc.1" &&
	timeout 30 kcat -b "$BROKERS" -P -t ETH-USD -p 0 <"$T/eth" || bail "cannot load"
ok_cmd "the single aggregator's run" timeout 120 "$BIN/aggregator" -b "$BROKERS" -g g58ref --assign --available-now \
	--progress-interval 0 -q -s "$T/ref.db" -o "$T/ref.csv"
want=$(($(wc -l <"$T/ref.csv") - 1))

for point in txn kafka; do
	g=g58$point
	member() { spawn "$1" env ${2:+AGG_CRASH_AT=$2} "$BIN/aggregator" -b "$BROKERS" -g "$g" --output-topic "$g-out" \
		-s "$T/$point.db" --batch-max 300 --batch-time 20ms --idle-timeout 5s --progress-interval 0; }
	member "$point-1" "$point:3"
	wait_exit "$point-1" 60
	is "$?" 137 "$point: the member died at the 3rd batch (SIGKILL)"
	like "$(cat "$T/$point-1.err")" "AGG_CRASH_AT: killed at $point" "$point: at that point"
	member "$point-2"
	complete() { timeout 60 "$BIN/aggregator" export --from-topic "$g-out" -b "$BROKERS" --output "$T/$point.csv" \
		2>"$T/$point.export.err" && (($(wc -l <"$T/$point.csv") - 1 >= want)); }
	ok_cmd "$point: the restarted member closes every window" wait_for 120 complete
	ok_cmd "$point: group CSV == single aggregator's CSV" cmp "$T/$point.csv" "$T/ref.csv"
	stop "$point-2"
	is "$?" 0 "$point: the member stops, exit 0"
	restored=$(grep -c 'restored .* from the changelog' "$T/$point-2.err")
	if [[ $point == kafka ]]; then
		cmp_ok "$restored" -ge 1 "kafka: the state file was behind the group: partitions restored from the changelog"
	else
		is "$restored" 0 "txn: the aborted transaction left the group where the file is: no restore"
	fi
	is "$(sqlite3 "$T/$point.db" "SELECT group_concat(topic || ':' || partition || ':' || next_offset, ' ') FROM
		(SELECT * FROM partitions ORDER BY 1, 2)")" \
		"BTC-USD:0:$(wc -l <"$T/btc.0") BTC-USD:1:$(wc -l <"$T/btc.1") ETH-USD:0:$(wc -l <"$T/eth")" \
		"$point: the state file has every tick's offset"
done
done_testing

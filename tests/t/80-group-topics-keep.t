#!/usr/bin/env bash
# brokers: kafka
# Group mode's topics keep what `export --from-topic` needs (issue 24, case 2).
# The output topic a member creates is compacted (its keys are unique per
# window, product and input partition, and per partition for markers): the
# broker never deletes a record the export needs.  An existing topic that
# would delete them (cleanup.policy=delete with a finite retention) is
# refused at start, exit 3, naming the setting.  And an export never writes
# fewer rows than the CSV it replaces: when the output topic lost records
# (here: deleted while the member was stopped, and recreated by it), the
# export says so, exits 5 and leaves the CSV as it was.
. "$(dirname "$0")/../lib.sh"

KAFKA_CONFIG="transaction.abort.timed.out.transaction.cleanup.interval.ms=1000" \
	start_broker -t BTC-USD -t ETH-USD || bail "no broker"
# the broker's default retention (the tests' broker keeps everything)
"$BIN/kafka-admin" -b "$BROKERS" create g80-bad retention.ms=604800000 || bail "cannot create g80-bad"
for p in BTC-USD ETH-USD; do
	grep -F "\"product_id\":\"$p\"" "$FIX" >"$T/$p"
	split -n l/3 -d "$T/$p" "$T/$p."
done
load() { # load CHUNK (00, 01, 02)
	timeout 30 kcat -b "$BROKERS" -P -t BTC-USD <"$T/BTC-USD.$1" &&
		timeout 30 kcat -b "$BROKERS" -P -t ETH-USD <"$T/ETH-USD.$1"
}
member() { # member NAME [ARGS...]
	local name=$1; shift
	spawn "$name" "$BIN/aggregator" -b "$BROKERS" -g g80 --output-topic g80-out -s "$T/m.db" --batch-time 50ms \
		--idle-timeout 5s --progress-interval 0 -X session.timeout.ms=6000 "$@"
}
xport() { timeout 90 "$BIN/aggregator" export --from-topic g80-out -b "$BROKERS" --output "$T/out.csv" 2>"$T/export.err"; }
rows_of() { [[ -f $1 ]] && echo $(($(wc -l <"$1") - 1)) || echo 0; }
rows_at_least() { xport && (($(rows_of "$T/out.csv") >= $1)); }

ok_cmd "chunk 0 loaded" load 00
member m1
ok_cmd "the member writes closed windows: the export has some" wait_for 90 rows_at_least 5
first=$(rows_of "$T/out.csv")
is "$("$BIN/kafka-admin" -b "$BROKERS" configs g80-out | grep -E '^cleanup.policy=')" "cleanup.policy=compact" \
	"the output topic the member created is compacted (no retention deletes a window)"
is "$("$BIN/kafka-admin" -b "$BROKERS" configs g80-changelog | grep -E '^cleanup.policy=')" "cleanup.policy=compact" \
	"the changelog too"

ok_cmd "chunk 1 loaded" load 01
ok_cmd "a later export has more rows: the earlier CSV stays its beginning" wait_for 90 rows_at_least $((first + 5))
cp "$T/out.csv" "$T/kept.csv"
kept=$(rows_of "$T/kept.csv")

# An output topic that deletes by time (Kafka's default, 7 days): refused.
timeout 60 "$BIN/aggregator" -b "$BROKERS" -g g80b --output-topic g80-bad -s "$T/bad.db" \
	--progress-interval 0 -X session.timeout.ms=6000 2>"$T/bad.err"
is "$?" 3 "a member given an output topic with cleanup.policy=delete refuses to start: exit 3"
like "$(cat "$T/bad.err")" "error: .*g80-bad.*cleanup.policy=delete.*retention.ms=604800000" \
	"and names the topic and the settings that would lose windows"

# The output topic deleted while the member is stopped: it comes back empty.
stop m1
is "$?" 0 "the member stops: exit 0"
ok_cmd "the output topic deleted" "$BIN/kafka-admin" -b "$BROKERS" delete g80-out
sleep 2
ok_cmd "chunk 2 loaded" load 02
member m1b
ok_cmd "the restarted member runs, a new output topic" wait_for 60 sh -c "grep -q 'info: assigned' '$T/m1b.err'"
like "$(cat "$T/m1b.err")" "warning: .*g80-out.*created now.*changelog g80-changelog" \
	"the member warns: an output topic created while the group's changelog exists lost what was written"
sleep 8 # windows closed by the new chunk are written to the new topic
xport
is "$?" 5 "export from the recreated topic: exit 5 (it would write fewer rows than before)"
like "$(cat "$T/export.err")" "error: .*out.csv.*$kept rows.*g80-out no longer holds" "it says why"
ok_cmd "the CSV is left as it was" cmp "$T/out.csv" "$T/kept.csv"
stop m1b
done_testing

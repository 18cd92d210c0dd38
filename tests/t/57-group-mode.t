#!/usr/bin/env bash
# brokers: kafka
# Group mode (--output-topic) on Apache Kafka: members of one group share the
# partitions; each batch is one Kafka transaction with the changelog, the
# closed windows' partials and the offsets; a partition's state moves with it.
# Three members while ticks arrive: one killed (-9) and restarted, one paused
# (SIGSTOP) past its session timeout while the others take its partitions,
# then resumed (it must commit nothing), one added, one stopped.  The CSV
# made from the output topic (export --from-topic) equals, byte for byte, the
# one a single aggregator writes from the same topics.
. "$(dirname "$0")/../lib.sh"

# A paused member's open transaction holds back the others' offset reads and
# restores until the broker aborts it: let it look every second, not 10 s.
KAFKA_CONFIG="transaction.abort.timed.out.transaction.cleanup.interval.ms=1000" \
	start_broker -t BTC-USD:3 -t ETH-USD:3 || bail "no broker"
# Each product's ticks round-robin over its 3 partitions (event time in order
# in each), then 3 ticks a partition at 16:00 that close every window before.
for p in BTC-USD ETH-USD; do
	grep -F "\"product_id\":\"$p\"" "$FIX" >"$T/$p.all"
	for i in 0 1 2; do
		awk -v i=$i 'NR % 3 == i' "$T/$p.all" >"$T/$p.$i"
		tail -n 1 "$T/$p.$i" | jq -c --argjson i "$i" '[range(1; 4) as $k | .sequence += 1000 * $k + $i |
			.trade_id += 1000 * $k + $i | .time = "2023-04-24T16:00:0\($k).000000Z"] | .[]' >"$T/$p.$i.close"
		split -n l/4 -d "$T/$p.$i" "$T/$p.$i.part"
	done
done
load() { # load CHUNK: chunk 00..03 of every partition, or "close"
	local p i f
	for p in BTC-USD ETH-USD; do
		for i in 0 1 2; do
			if [[ $1 == close ]]; then f=$T/$p.$i.close; else f=$T/$p.$i.part$1; fi
			timeout 30 kcat -b "$BROKERS" -P -t "$p" -p "$i" <"$f" || return 1
		done
	done
}
member() { # member NAME
	spawn "$1" "$BIN/aggregator" -b "$BROKERS" -g g57 --output-topic g57-out -s "$T/$1.db" \
		--batch-time 50ms --idle-timeout 5s --progress-interval 1s -X session.timeout.ms=6000
}
assigned() { grep -c 'info: assigned' "$T/$1.err" 2>/dev/null; }
assigned_gt() { (($(assigned "$1") > $2)); }
export_now() { timeout 60 "$BIN/aggregator" export --from-topic g57-out -b "$BROKERS" --output "$T/group.csv" 2>"$T/export.err"; }
rows_of() { [[ -f $1 ]] && echo $(($(wc -l <"$1") - 1)) || echo 0; }

ok_cmd "chunk 0 loaded" load 00
member m1
member m2
member m3
ok_cmd "every member gets partitions" wait_for 60 sh -c "grep -q 'info: assigned' '$T/m1.err' && grep -q 'info: assigned' '$T/m2.err' && grep -q 'info: assigned' '$T/m3.err'"
ok_cmd "chunk 1 loaded" load 01
sleep 1
stop m2 KILL
pass "m2 killed (-9) while ticks arrive"
member m2
ok_cmd "m2 is back in the group" wait_for 60 sh -c "grep -q 'info: assigned' '$T/m2.err'"
ok_cmd "chunk 2 loaded" load 02
sleep 2
before=$(assigned m1)
kill -STOP "$(pid_of m3)"
sleep 9 # past m3's session timeout (6 s)
ok_cmd "m3 paused past its session: m1 gets partitions again" wait_for 60 assigned_gt m1 "$before"
ok_cmd "chunk 3 loaded while m3 is away" load 03
sleep 3
kill -CONT "$(pid_of m3)"
fenced_or_lost() { ! running m3 || grep -qE 'info: lost|fenced' "$T/m3.err"; }
ok_cmd "m3 resumed: fenced out, or told its partitions were lost" wait_for 60 fenced_or_lost
if ! running m3 || grep -q fenced "$T/m3.err"; then
	wait_exit m3 20; st=$?
	is "$st" 1 "fenced m3 exits 1"
	like "$(cat "$T/m3.err")" "fenced .*nothing of this batch was committed" "and says it committed nothing"
	member m3
fi
member m4
ok_cmd "m4 joins and gets partitions" wait_for 60 sh -c "grep -q 'info: assigned' '$T/m4.err'"
stop m1
is "$?" 0 "m1 leaves the group: exit 0"
ok_cmd "the closing ticks loaded" load close

# The reference: one aggregator, the same topics, --available-now.
ok_cmd "the single aggregator's run" timeout 120 "$BIN/aggregator" -b "$BROKERS" -g g57ref --assign --available-now \
	--progress-interval 0 -q -s "$T/ref.db" -o "$T/ref.csv"
want=$(rows_of "$T/ref.csv")
cmp_ok "$want" -ge 40 "the reference has the windows ($want)"
complete() { export_now && (($(rows_of "$T/group.csv") >= want)); }
ok_cmd "the group closes every window (export --from-topic until it has $want rows)" wait_for 120 complete
ok_cmd "group CSV == single aggregator's CSV, byte for byte" cmp "$T/group.csv" "$T/ref.csv"
for m in m2 m3 m4; do
	stop "$m"
	is "$?" 0 "$m stops: exit 0"
done
is "$(for m in m1 m2 m3 m4; do sqlite3 "$T/$m.db" 'SELECT coalesce(sum(late), 0) FROM products'; done | sort -u | paste -sd' ')" 0 \
	"no tick dropped as late by any member (a partition that moves closes as its own ticks allow)"
ok_cmd "a partition restored from the changelog by some member" \
	sh -c "grep -h 'restored .* from the changelog' '$T'/m*.err | head -n 3 >&2; grep -q 'restored .* from the changelog' '$T'/m*.err"
is "$(grep -cE "^$LOG_TS % error" "$T/m2.err" "$T/m4.err" | awk -F: '{s += $2} END {print s}')" 0 "no error lines in m2, m4"
done_testing

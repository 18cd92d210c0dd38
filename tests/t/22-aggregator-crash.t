#!/usr/bin/env bash
# Crash safety: while ticks flow, the aggregator is killed with SIGKILL at
# random moments (at least 20 times) and restarted each time. At the end its
# output.csv and window table equal those of an uninterrupted run: no window
# missing, none twice, every sum the same to the bit.  After every kill the
# group's committed offsets are at or behind the state's (offsets go to the
# group only after COMMIT).
. "$(dirname "$0")/../lib.sh"
plan 9


start_broker -t BTC-USD -t ETH-USD || bail "no broker"
# 22 minutes of ticks at 40x: about 33 s of flow.
start_feed --file "$FIX" --speed 40 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" -q

agg_args=(-b "$BROKERS" --assign -q --batch-time 20ms --progress-interval 0)
# 1 when a group offset is ahead of the state's for the same partition
group_ahead() {
	local s g
	s=$(sqlite3 "$T/crash.db" "SELECT topic || ':' || next_offset FROM partitions" 2>/dev/null | tr '\n' ' ')
	g=$("$BIN/kafka-admin" -b "$BROKERS" group-offsets aggregator BTC-USD ETH-USD 2>/dev/null | awk '{printf "%s:%s ", $1, $3}')
	awk -v s="$s" -v g="$g" 'BEGIN {
		n = split(s, a, " "); for (i = 1; i <= n; i++) { split(a[i], kv, ":"); st[kv[1]] = kv[2] }
		n = split(g, b, " "); for (i = 1; i <= n; i++) { split(b[i], kv, ":"); if (kv[2] > (kv[1] in st ? st[kv[1]] : 0)) { print g " / " s; exit } }
	}'
}
kills=0 commits=0 prev="" ahead=""
for ((i = 0; i < 200; i++)); do
	spawn agg "$BIN/aggregator" "${agg_args[@]}" --state "$T/crash.db" --output "$T/crash.csv"
	sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
	stop agg KILL
	kills=$((kills + 1))
	now=$(sqlite3 "$T/crash.db" "SELECT group_concat(next_offset) FROM partitions" 2>/dev/null)
	[[ -n $now && $now != "$prev" ]] && commits=$((commits + 1))
	[[ -z $ahead ]] && ahead=$(group_ahead)
	prev=$now
	((kills >= 20)) && topics_full && break
done
cmp_ok "$kills" -ge 20 "killed with SIGKILL $kills times while ticks flowed"
cmp_ok "$commits" -ge 10 "progress was committed between kills ($commits times)"
is "$ahead" "" "after every kill, the group's offsets at or behind the state's"
stop producer

ok_cmd "a last run reads the rest" timeout 60 "$BIN/aggregator" "${agg_args[@]}" --available-now \
	--state "$T/crash.db" --output "$T/crash.csv"
ok_cmd "an uninterrupted run (own group)" timeout 60 "$BIN/aggregator" "${agg_args[@]}" --available-now -g clean \
	--state "$T/clean.db" --output "$T/clean.csv"
ok_cmd "output.csv identical to the uninterrupted run's" cmp "$T/crash.csv" "$T/clean.csv"
state_dump "$T/crash.db" > "$T/crash.dump"
state_dump "$T/clean.db" > "$T/clean.dump"
ok_cmd "window table, offsets and watermark identical" diff "$T/crash.dump" "$T/clean.dump"
ok_cmd "and both equal the offline windows" "$ROOT/tests/offline.sh" "$FIX" "$T/crash.csv"
is "$(cut -d, -f1,3 "$T/crash.csv" | sort | uniq -d | wc -l)" 0 "no window twice in output.csv"

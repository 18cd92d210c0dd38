#!/usr/bin/env bash
# brokers: kafka
# Test 48's edges in group mode (issue 24, test strength), where a
# partition's closing bound is its own (closed_until, moved with it):
#   - a tick in a window ending exactly at the partition's closed_until is
#     late (end <= closed_until): counted, dropped, its window not written
#     again;
#   - a partition that comes to a member whose watermark is ahead (here: the
#     member restarted with a second topic, its stored watermark at 15:29:30)
#     closes at its own event time less the delay, not at its event time: a
#     tick out of order by less than the delay is on time there;
#   - every window key of the changelog at or before its partition's
#     closed_until ends in a tombstone (a window that went out leaves the
#     changelog);
# and the CSV made from the output topic equals a single aggregator's over
# the same ticks less the late one.
. "$(dirname "$0")/../lib.sh"

start_broker -t ea -t eb -t ra -t rb || bail "no broker"
tpl=$(head -n 1 "$FIX")
echo 1000 >"$T/seq"
tick() { # tick PRODUCT TIME PRICE: one ticker message, sequences growing
	local seq=$(($(cat "$T/seq") + 1))
	echo "$seq" >"$T/seq"
	sed -e "s/\"product_id\":\"[^\"]*\"/\"product_id\":\"$1\"/" -e "s/\"time\":\"[^\"]*\"/\"time\":\"2023-04-24T$2Z\"/" \
		-e "s/\"price\":\"[^\"]*\"/\"price\":\"$3\"/" -e "s/\"sequence\":[0-9]*/\"sequence\":$seq/" <<<"$tpl"
}
load() { timeout 30 kcat -b "$BROKERS" -P -t "$1" -p 0; }
q() { sqlite3 "$T/m.db" "$1" 2>/dev/null; }
member() { # member TOPICS
	spawn m "$BIN/aggregator" -b "$BROKERS" -g g86 -t "$1" --output-topic g86-out -s "$T/m.db" --watermark 30s \
		--batch-time 50ms --idle-timeout 10m --progress-interval 0 -X session.timeout.ms=6000
}
at() { [[ $(q "SELECT next_offset || ' ' || coalesce(closed_until, '-') FROM partitions WHERE topic = '$1'") == "$2 "* ]] &&
	[[ $(q "SELECT coalesce(closed_until, '-') FROM partitions WHERE topic = '$1'") != - ]]; }
closed() { q "SELECT closed_until FROM partitions WHERE topic = '$1'"; }
U1529=1682350140000000 U1509=1682348940000000

# 1. ea: BTC-USD 15:20 to 15:30 every 10 s; closed_until 15:29 (15:30 less 30 s, to the minute).
for s in $(seq 0 10 600); do
	tick BTC-USD "15:$(printf %02d $((20 + s / 60))):$(printf %02d $((s % 60))).000000" $((100 + s))
done >"$T/a1"
load ea <"$T/a1" && load ra <"$T/a1"
is "$?" 0 "ea: 61 ticks to 15:30"
member ea
ok_cmd "ea read, its windows closed" wait_for 60 at ea 61
is "$(closed ea)" "$U1529" "ea's closed_until: 15:29:00"
tick BTC-USD 15:28:59.999999 999 | load ea
ok_cmd "a tick in [15:28, 15:29), ending at closed_until, read" wait_for 30 at ea 62
is "$(q "SELECT ticks || ' ' || late FROM products WHERE topic = 'ea'")" "62 1" "it is late: 62 ticks, 1 of them late"
stop m
is "$?" 0 "the member stops"
sleep 8 # past its session (6 s): a static member back within it would keep its assignment, without eb

# 2. eb: ETH-USD 15:05 to 15:10, new to the member (its watermark at 15:29:30).
for s in $(seq 0 10 300); do
	tick ETH-USD "15:$(printf %02d $((5 + s / 60))):$(printf %02d $((s % 60))).000000" $((50 + s))
done >"$T/b1"
load eb <"$T/b1" && load rb <"$T/b1"
is "$?" 0 "eb: 31 ticks to 15:10"
member ea,eb
ok_cmd "the member, restarted with eb, reads it" wait_for 60 at eb 31
is "$(closed eb)" "$U1509" "eb's closed_until: 15:09:00 (15:10 less the delay), not the member's watermark"
tick ETH-USD 15:09:45.000000 777 >"$T/b2"
load eb <"$T/b2" && load rb <"$T/b2"
ok_cmd "a tick 15 s out of order (less than the 30 s delay) read" wait_for 30 at eb 32
is "$(q "SELECT ticks || ' ' || late FROM products WHERE topic = 'eb'")" "32 0" "it is on time: 32 ticks, none late"

# 3. Ticks at 16:00 close every window; the export against a single aggregator.
for t in ea eb; do
	p=$([[ $t == ea ]] && echo BTC-USD || echo ETH-USD)
	for s in 1 2 3; do tick "$p" "16:00:0$s.000000" 1; done >"$T/$t.close"
done
load ea <"$T/ea.close" && load eb <"$T/eb.close" && load ra <"$T/ea.close" && load rb <"$T/eb.close"
is "$?" 0 "closing ticks loaded"
ok_cmd "the single aggregator's run" timeout 120 "$BIN/aggregator" -b "$BROKERS" -g g86ref -t ra,rb --assign \
	--available-now --watermark 30s --progress-interval 0 -q -s "$T/ref.db" -o "$T/ref.csv"
want=$(($(wc -l <"$T/ref.csv") - 1))
cmp_ok "$want" -ge 15 "the reference has the windows ($want)"
complete() { timeout 60 "$BIN/aggregator" export --from-topic g86-out -b "$BROKERS" --output "$T/g.csv" \
	2>"$T/export.err" && (($(wc -l <"$T/g.csv") - 1 >= want)); }
ok_cmd "the member closes every window" wait_for 120 complete
ok_cmd "group CSV == single aggregator's CSV" cmp "$T/g.csv" "$T/ref.csv"
stop m
is "$?" 0 "the member stops"

# 4. The changelog (what is committed): each key's last record; every window
# key ending at or before its partition's closed_until must end in a tombstone.
timeout 60 kcat -b "$BROKERS" -C -t g86-changelog -e -q -X isolation.level=read_committed -f '%k|%S|%s\n' \
	>"$T/changelog" 2>"$T/kcat.err"
is "$?" 0 "the changelog read"
awk -F'|' '{ last[$1] = $2 == -1 ? "" : $3 }
	END {
		for (k in last) if (substr(k, 1, 2) == "p\t" && last[k] != "") {
			split(last[k], v, " "); split(k, f, "\t"); closed[f[2] "\t" f[3]] = v[8]
		}
		for (k in last) if (substr(k, 1, 2) == "w\t") {
			split(k, f, "\t"); c = closed[f[2] "\t" f[3]]
			if (c == "" || c == "-" || f[6] + 0 > c + 0) continue
			n++
			if (last[k] != "" && ++bad <= 3) { print "not tombstoned: " k " = " last[k] > "/dev/stderr" }
		}
		print n + 0, bad + 0
	}' "$T/changelog" >"$T/tomb"
read -r checked bad <"$T/tomb"
cmp_ok "$checked" -ge 15 "window keys at or before their closed_until in the changelog ($checked)"
is "$bad" 0 "each ends in a tombstone"
done_testing

#!/usr/bin/env bash
# export --from-topic: a partition's closed point only grows (topicexport.c,
# texp_marker_put).  An older marker written after a newer one (a member
# that restored an old state, a record replayed by hand) moves nothing back:
# the export still writes every window the newer one closed.  Were the last
# marker taken as it comes, the export would go back to fewer windows (and,
# over a previous CSV with more rows, refuse with exit 5).
. "$(dirname "$0")/../lib.sh"

start_broker -t out:1 || bail "no broker"
s=1682348400000000 # 2023-04-24T15:00:00Z
m=60000000
at() { date -u -d "@$((($s + $1 * m) / 1000000))" +%Y-%m-%dT%H:%M:%S.000Z; }
# Four one-minute windows of BTC-USD [0] (partials: "ticks sum_price
# sum_volume_24h max_time max_best_bid max_best_ask"), then BTC-USD [0]'s
# marker closed until the end of the fourth.
for k in 0 1 2 3; do
	printf 'w\tBTC-USD\t0\tBTC-USD\t%s\t%s|2 %s 20 %s 101 102\n' "$((s + k * m))" "$((s + (k + 1) * m))" \
		"$((200 + k))" "$((s + k * m + 30000000))"
done >"$T/partials"
printf 'c\tBTC-USD\t0|%s 1\n' "$((s + 4 * m))" >"$T/newer"
printf 'c\tBTC-USD\t0|%s 1\n' "$((s + 2 * m))" >"$T/older"
produce() { timeout 30 kcat -b "$BROKERS" -P -t out -p 0 -K '|' -Z <"$1"; }
xport() { # xport NAME: export --from-topic out to $T/NAME.csv, log $T/NAME.err
	timeout 90 "$BIN/aggregator" export -b "$BROKERS" --from-topic out --output "$T/$1.csv" 2>"$T/$1.err"
}
starts() { tail -n +2 "$1" | cut -d, -f1,3 | paste -sd' '; }
want="$(at 0),BTC-USD $(at 1),BTC-USD $(at 2),BTC-USD $(at 3),BTC-USD"

ok_cmd "the partials and the newer marker (closed until $(at 4))" sh -c "$(declare -f produce); produce '$T/partials' &&
	produce '$T/newer'"
ok_cmd "export" xport a
is "$(starts "$T/a.csv")" "$want" "the four windows"
ok_cmd "then the older marker (closed until $(at 2)), after it on the same partition" produce "$T/older"
ok_cmd "export over the previous CSV: exit 0" xport a
is "$(starts "$T/a.csv")" "$want" "still the four windows"
like "$(grep 'info: export from out' "$T/a.err")" "closed until $(at 4): 1 of 1 input partitions have a marker" \
	"closed until the newer marker's point"
ok_cmd "export to a new CSV" xport b
is "$(starts "$T/b.csv")" "$want" "the four windows there too"
ok_cmd "the same CSV" cmp "$T/a.csv" "$T/b.csv"
done_testing

#!/usr/bin/env bash
# brokers: kafka
# export --from-topic takes a consistent cut (topicexport.c): each output
# partition's end is asked read_uncommitted, so it counts records of open
# transactions, and the reader (read_committed) waits for them.  Here one
# transaction writes two windows' partials to partition 0 and the marker
# that closes them to partition 1, and commits between the export's two
# cuts (the test build's AGG_PAUSE_AT=cut:1:FILE holds the export there).
# Asked read_committed, partition 0's end would stop before the partials
# (still open then) and partition 1's would take the marker (committed by
# then): the export would claim windows closed without their partials.
. "$(dirname "$0")/../lib.sh"

start_broker -t out:2 || bail "no broker"
s=1682348400000000 # 2023-04-24T15:00:00Z
m=60000000
at() { date -u -d "@$((($s + $1 * m) / 1000000))" +%Y-%m-%dT%H:%M:%S.000Z; }
partial() { # partial K: BTC-USD [0]'s partial of window K, to output partition 0
	printf '0 w\tBTC-USD\t0\tBTC-USD\t%s\t%s|2 %s 20 %s 101 102\n' "$((s + $1 * m))" "$((s + ($1 + 1) * m))" \
		"$((200 + $1))" "$((s + $1 * m + 30000000))"
}
marker() { printf '1 c\tBTC-USD\t0|%s 1\n' "$((s + $1 * m))"; } # marker K: closed until window K's start, to partition 1

# The producer: a transaction at a time, driven through a FIFO.
mkfifo "$T/txn.in" || bail "mkfifo"
exec {tx}<>"$T/txn.in"
SPAWN_STDIN=$T/txn.in spawn txn "$BIN/kafka-admin" -b "$BROKERS" txn t121 out
said() { (($(grep -c "^$1\$" "$T/txn.out") >= $2)); }
{ partial 0; partial 1; marker 2; echo commit; } >&"$tx"
ok_cmd "a first transaction committed: windows 0 and 1, closed until $(at 2)" wait_for 30 said committed 1
{ partial 2; partial 3; marker 4; echo flush; } >&"$tx"
ok_cmd "a second one open: windows 2 and 3 (partition 0), closed until $(at 4) (partition 1)" wait_for 30 said flushed 1
is "$(timeout 30 kcat -b "$BROKERS" -C -t out -p 0 -e -q -X isolation.level=read_committed -f '%k\n' | wc -l)" 2 \
	"partition 0 read_committed: only the first transaction's partials"

spawn export env AGG_PAUSE_AT="cut:1:$T/go" "$BIN/aggregator" export -b "$BROKERS" --from-topic out --output "$T/g.csv"
ok_cmd "the export took partition 0's cut and waits before partition 1's" wait_for 30 \
	grep -q 'AGG_PAUSE_AT: paused at cut' "$T/export.err"
echo commit >&"$tx"
ok_cmd "the second transaction commits" wait_for 30 said committed 2
touch "$T/go"
wait_exit export 60
is "$?" 0 "the export exits 0"
like "$(cat "$T/export.err")" "AGG_PAUSE_AT: going on from cut" "it went on after the commit"
is "$(tail -n +2 "$T/g.csv" | cut -d, -f1 | paste -sd' ')" "$(at 0) $(at 1) $(at 2) $(at 3)" \
	"every window the marker closed, with its partials"
like "$(grep 'info: export from out' "$T/export.err")" "closed until $(at 4): .* read 4 partials, 2 markers" \
	"closed until $(at 4), from 4 partials"
stop txn >/dev/null
exec {tx}>&-
done_testing

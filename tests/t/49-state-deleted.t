#!/usr/bin/env bash
# The state file deleted or replaced while the aggregator runs.  Before, it
# went on committing into the deleted file, and what it did was lost with it
# (and a restart with a new state dropped output.csv's rows).  Now the next
# commit notices: deleted, the state as of that commit is written back to its
# path and the aggregator stops (exit 1: a restart goes on from it); replaced,
# the new file is left alone, this run's state is saved to STATE.saved, exit 3.
# Either way a rerun from what is left gives the offline windows, every tick
# counted once.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
grep -F '"product_id":"BTC-USD"' "$FIX" >"$T/btc"
grep -F '"product_id":"ETH-USD"' "$FIX" >"$T/eth"
nb=$((NE / 3))
load() { # load FROM TO: lines FROM..TO of each product
	sed -n "$1,$2p" "$T/btc" | timeout 30 kcat -b "$BROKERS" -P -t BTC-USD -p 0 &&
		sed -n "$1,$2p" "$T/eth" | timeout 30 kcat -b "$BROKERS" -P -t ETH-USD -p 0
}
offsets() { sqlite3 "$T/s.db" "SELECT group_concat(next_offset, ' ') FROM (SELECT next_offset FROM partitions ORDER BY topic)" 2>/dev/null; }
at() { [[ $(offsets) == "$1 $1" ]]; } # both partitions at offset $1
live() { spawn "$1" "$BIN/aggregator" -b "$BROKERS" -g g49 -t BTC-USD,ETH-USD --assign --batch-time 50ms \
	--progress-interval 0 --state "$T/s.db" --output "$T/s.csv"; }
finish() {
	ok_cmd "$1: a rerun finishes" timeout 60 "$BIN/aggregator" -b "$BROKERS" -g g49 -t BTC-USD,ETH-USD --assign \
		--available-now --idle-timeout 10m -q --state "$T/s.db" --output "$T/s.csv"
}

# Deleted.
ok_cmd "a third of the ticks" load 1 "$nb"
live a
ok_cmd "read" wait_for 30 at "$nb"
sleep 0.2
rm "$T/s.db"
ok_cmd "more ticks" load $((nb + 1)) $((2 * nb))
wait_exit a 30
is "$?" 1 "state deleted: exit 1"
like "$(cat "$T/a.err")" "state .*s\\.db was deleted while running: written back" "says so"
ok_cmd "the state is back at its path" test -s "$T/s.db"
finish "deleted"
is "$(offsets)" "$((2 * nb)) $((2 * nb))" "and is where the run stopped: nothing lost"

# Replaced.
live b
ok_cmd "read on" wait_for 30 at $((2 * nb))
sleep 0.2
mv "$T/s.db" "$T/s.old" && cp "$T/s.old" "$T/s.db" && cp "$T/s.db" "$T/s.copy"
ok_cmd "the rest of the ticks" load $((2 * nb + 1)) 100000
wait_exit b 30
is "$?" 3 "state replaced: exit 3"
like "$(cat "$T/b.err")" "state .*s\\.db was replaced while running .* is in .*s\\.db\\.saved" "says so, and where its state is"
ok_cmd "the replacement is left alone" cmp "$T/s.db" "$T/s.copy"
mv "$T/s.db.saved" "$T/s.db" && rm -f "$T/s.db-wal" "$T/s.db-shm"
finish "replaced"
is "$(sqlite3 "$T/s.db" "SELECT sum(ticks) || ' ' || sum(late) || ' ' || sum(duplicates) FROM products")" \
	"$((NB + NE)) 0 0" "every tick counted once"
ok_cmd "output.csv == offline windows" "$ROOT/tests/offline.sh" "$FIX" "$T/s.csv"
done_testing

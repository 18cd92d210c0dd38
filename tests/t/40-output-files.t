#!/usr/bin/env bash
# The files a user touches: an --output that is the state file (or its -wal,
# -shm, a symlink to it), a FIFO, a directory, a file that is not a CSV this
# aggregator wrote, or a CSV with rows whose state file is gone, is refused
# before anything is opened or written; the refused files are unchanged.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
ok_cmd "load the fixture" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0"
cd "$T" || bail "cd"
agg() { timeout 60 "$BIN/aggregator" -b "$BROKERS" --assign --available-now -q "$@" 2>"$T/agg.err"; }
ok_cmd "a state and its CSV" agg --state s.db --output out.csv
rows=$(wc -l <out.csv)
cmp_ok "$rows" -gt 10 "the CSV has rows ($rows lines)"
sum() { md5sum "$@" | awk '{print $1}' | paste -sd' '; }
before=$(sum s.db out.csv)

refused() { # refused NAME WANT_EXIT REGEX ARGS...: the run exits WANT_EXIT saying REGEX
	local name=$1 want=$2 re=$3; shift 3
	"$@"
	is "$?" "$want" "$name: exit $want"
	like "$(cat "$T/agg.err")" "$re" "$name: says why"
}
refused "--output is the state" 2 "is the state file: refused, nothing touched" agg --state s.db --output s.db
refused "--output is its -wal" 2 "state file's -wal" agg --state s.db --output ./s.db-wal
refused "--output is its -shm, spelled another way" 2 "state file's -shm" agg --state s.db --output "../${T##*/}/s.db-shm"
ln -s s.db link.csv
refused "--output is a symlink to it" 2 "is the state file" agg --state s.db --output link.csv
ln -s s.db-wal walink.csv
refused "--output is a dangling symlink to its -wal" 2 "state file's -wal" agg --state s.db --output walink.csv
refused "export --output the state" 2 "is the state file" \
	timeout 30 "$BIN/aggregator" export --state s.db --output s.db
is "$(sum s.db out.csv)" "$before" "state and CSV unchanged by every refusal"
ok_cmd "the state is still a good state" sqlite3 s.db "SELECT count(*) FROM windows"
is "$(readlink link.csv)" s.db "the symlink is still a symlink"

mkfifo fifo.csv
refused "--output is a FIFO" 4 "not a regular file \\(a FIFO\\)" agg --state f.db --output fifo.csv
mkdir dir.csv
refused "--output is a directory" 4 "not a regular file \\(a directory\\)" agg --state f.db --output dir.csv
printf 'name,amount\nalice,10\n' >notours.csv
refused "--output is someone else's CSV" 4 "not a CSV this aggregator wrote" agg --state n.db --output notours.csv
is "$(cat notours.csv)" $'name,amount\nalice,10' "which is unchanged"
ok_cmd "no state file was made for the refused runs" test ! -e f.db -a ! -e n.db

# The state file lost while output.csv has rows: refused, how to recover.
mv s.db s.db.away
rm -f s.db-wal s.db-shm
refused "state gone, CSV with rows" 4 "holds $((rows - 1)) rows but the state file s.db is missing.*Restore the state file, or move out.csv away" \
	agg --state s.db --output out.csv
: >s.db
refused "state emptied, CSV with rows" 4 "but the state file s.db is empty" agg --state s.db --output out.csv
is "$(wc -l <out.csv)" "$rows" "output.csv keeps every row"
rm -f s.db
mv s.db.away s.db
ok_cmd "with its state back it runs" agg --state s.db --output out.csv
is "$(wc -l <out.csv)" "$rows" "and the CSV is as it was"
cd "$ROOT" || true
done_testing

#!/usr/bin/env bash
# A --state that is not an aggregator's state file is refused before anything
# is written to it: another program's SQLite file (even one with a meta table
# and user_version 4, even in WAL mode, even one with our tables but another
# program's application_id) is left byte for byte as it was, by the
# aggregator, `status` and `export` alike.  A state made before states carried
# our application_id still opens, and gets it at its next write.  A --state
# path too long for SQLite is refused before any file is created.
. "$(dirname "$0")/../lib.sh"

APP_ID=1095193428 # 0x41475354, "AGST": PRAGMA application_id of a state file (store.h)

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
ok_cmd "load the fixture" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t BTC-USD &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD"

# agg NAME ARGS...: one --available-now run; stderr in $T/NAME.err, exit status returned.
agg() {
	local n=$1; shift
	timeout 60 "$BIN/aggregator" -b "$BROKERS" -g "g75$n" --assign --available-now --progress-interval 0 "$@" \
		2>"$T/$n.err"
}
# refused NAME FILE: the aggregator, status and export refuse FILE (exit 3,
# saying it is not ours), FILE is unchanged and no CSV is made.
refused() {
	local n=$1 f=$2
	cp "$f" "$f.orig"
	agg "$n" --state "$f" --output "$T/$n.csv"
	is "$?" 3 "$n: exit 3"
	like "$(cat "$T/$n.err")" "not an aggregator state file" "$n: says it is not ours"
	ok_cmd "$n: left byte for byte as it was" cmp "$f" "$f.orig"
	ok "$([[ ! -e $T/$n.csv ]]; echo $?)" "$n: no output.csv made"
	"$BIN/aggregator" status --state "$f" >/dev/null 2>"$T/$n.status.err"
	is "$?" 3 "$n: status refuses it, exit 3"
	like "$(cat "$T/$n.status.err")" "not an aggregator state file" "$n: status says why"
	"$BIN/aggregator" export --state "$f" --output "$T/$n.exp.csv" 2>"$T/$n.export.err"
	is "$?" 3 "$n: export refuses it, exit 3"
	ok_cmd "$n: still as it was after status and export" cmp "$f" "$f.orig"
}

# Another program's file with a meta table, at our schema version: before, it
# was switched to WAL and given our views, then refused.
sqlite3 "$T/v4.db" "CREATE TABLE meta (key TEXT PRIMARY KEY, value); INSERT INTO meta VALUES ('owner', 'billing');
	CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);
	PRAGMA user_version = 4;"
refused v4 "$T/v4.db"
ok "$([[ ! -e $T/v4.db-wal && ! -e $T/v4.db-journal ]]; echo $?)" "v4: no -wal or -journal left beside it"

# At an older version number, where a state would be migrated (ALTER TABLE).
sqlite3 "$T/v3.db" "CREATE TABLE meta (key TEXT PRIMARY KEY, value); CREATE TABLE partitions (topic TEXT, x);
	PRAGMA user_version = 3; PRAGMA journal_mode = WAL;" >/dev/null
refused v3wal "$T/v3.db"

# A newer schema number on someone else's file is not "a newer aggregator's".
sqlite3 "$T/v99.db" "CREATE TABLE t (x); PRAGMA user_version = 99;"
refused v99 "$T/v99.db"

# A real state, then claimed by another program (its application_id).
ok_cmd "a state" agg mine --state "$T/mine.db" --output "$T/mine.csv"
is "$(sqlite3 "$T/mine.db" "PRAGMA application_id")" "$APP_ID" "a new state carries our application_id"
cp "$T/mine.db" "$T/claimed.db"
sqlite3 "$T/claimed.db" "PRAGMA journal_mode = DELETE; PRAGMA application_id = 305419896;" >/dev/null
refused claimed "$T/claimed.db"
like "$(cat "$T/claimed.err")" "application_id 0x12345678" "claimed: names the other application_id"

# A state of an earlier version, which set no application_id: still ours (its
# meta and windows tables), it goes on and is marked at its next write.
cp "$T/mine.db" "$T/old.db"
cp "$T/mine.csv" "$T/old.csv"
sqlite3 "$T/old.db" "PRAGMA application_id = 0"
is "$(sqlite3 "$T/old.db" "PRAGMA application_id")" 0 "an earlier version's state: no application_id"
ok_cmd "it opens and runs" agg old --state "$T/old.db" --output "$T/old.csv"
is "$(sqlite3 "$T/old.db" "PRAGMA application_id")" "$APP_ID" "and carries our application_id now"
ok_cmd "its output.csv == offline windows" "$ROOT/tests/offline.sh" "$FIX" "$T/old.csv"

# A --state path longer than SQLite takes (504 bytes as an absolute path):
# before, a stray empty file was left at the path cut to 511 bytes.
d=$(printf 'd%.0s' {1..100})
long="$T/long/$d/$d/$d/$d/$d"
mkdir -p "$long"
agg long --state "$long/state.db" --output "$T/long.csv"
is "$?" 3 "a --state path over 504 bytes: exit 3"
like "$(cat "$T/long.err")" "too long" "says the path is too long"
is "$(find "$T/long" -type f | wc -l)" 0 "no file created on the way"
ok "$([[ ! -e $T/long.csv ]]; echo $?)" "no output.csv either"
done_testing

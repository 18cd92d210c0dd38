#!/usr/bin/env bash
# Disk trouble: the state file or output.csv on a full file system, in a
# read-only or missing directory, a state that is not SQLite, a corrupt state,
# a state locked by a running aggregator, output.csv unwritable or deleted
# while running. Each fault gives a clear message and the documented exit code
# (README: 1 a fault that can pass, like a full disk; 3 state file unusable;
# 4 output unwritable); nothing is lost or half
# written: after the fault is gone, a rerun gives the offline windows and every
# tick counted once. Mount cases (tmpfs) are skipped when mount is not allowed.
. "$(dirname "$0")/../lib.sh"

grep -F '"product_id":"BTC-USD"' "$FIX" >"$T/btc"
grep -F '"product_id":"ETH-USD"' "$FIX" >"$T/eth"

MOUNTS=()
umount_all() { local m; for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done; }
_on_exit_33() { local st=$?; umount_all; (exit "$st"); _on_exit; }
trap _on_exit_33 EXIT
can_mount=0
mkdir -p "$T/probe"
if mount -t tmpfs -o size=64k tmpfs "$T/probe" 2>/dev/null; then
	umount "$T/probe"
	can_mount=1
fi
mnt() { # DIR SIZE
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2" tmpfs "$1" || return 1
	MOUNTS+=("$1")
}

start_broker -t BTC-USD -t ETH-USD -t del-btc -t del-eth || bail "no broker"
ok_cmd "load the fixture" sh -c "timeout 30 kcat -b $BROKERS -P -t BTC-USD <$T/btc && timeout 30 kcat -b $BROKERS -P -t ETH-USD <$T/eth"

# agg GROUP ARGS...: one --available-now run; its stderr in $T/last.err, its exit status returned.
agg() {
	local g=$1; shift
	timeout 60 "$BIN/aggregator" -b "$BROKERS" -g "$g" --assign --available-now --progress-interval 0 "$@" 2>"$T/last.err"
}
# expect_exit NAME CODE REGEX GROUP ARGS...
expect_exit() {
	local name=$1 code=$2 re=$3; shift 3
	agg "$@"
	local st=$?
	is "$st" "$code" "$name: exit $code" || diag "$(cat "$T/last.err")"
	like "$(cat "$T/last.err")" "$re" "$name: says why"
}
# consistent NAME STATE CSV: the state and the CSV equal the offline windows.
consistent() {
	ok_cmd "$1: output.csv == offline windows" "$ROOT/tests/offline.sh" "$FIX" "$3"
	is "$(sqlite3 "$2" "SELECT sum(ticks) || ' ' || sum(late) || ' ' || sum(duplicates) FROM products")" \
		"$((NB + NE)) 0 0" "$1: every tick counted once"
	is "$(sqlite3 "$2" "SELECT count(*) FROM window_aggregates WHERE exported")" "$(($(wc -l <"$3") - 1))" \
		"$1: exported windows == CSV rows"
}

# --- full file system ---------------------------------------------------------------
if ((can_mount)); then
	# State: 512 KiB tmpfs, mostly taken by a filler file; small batches make
	# the WAL grow until SQLite reports the disk full.
	mnt "$T/small" 512k
	dd if=/dev/zero of="$T/small/fill" bs=1k count=400 2>/dev/null
	# A full disk can pass: exit 1 (a supervisor restarts us), not 3.
	expect_exit "state on a full file system" 1 'state .*(full|disk I/O error)' full \
		--state "$T/small/state.db" --output "$T/full.csv" --batch-max 50
	mount -o remount,size=16m "$T/small" && rm -f "$T/small/fill"
	ok_cmd "state: rerun with space" agg full --state "$T/small/state.db" --output "$T/full.csv" --batch-max 50
	consistent "state was on a full file system" "$T/small/state.db" "$T/full.csv"

	# Output: a 4 KiB tmpfs cannot hold the ~5 KiB CSV.
	mnt "$T/tiny" 4k
	expect_exit "output.csv on a full file system" 1 'output .*No space left on device' fullout \
		--state "$T/fullout.db" --output "$T/tiny/out.csv"
	is "$(stat -c %s "$T/tiny/out.csv")" "$(sqlite3 "$T/fullout.db" "SELECT value FROM meta WHERE key = 'csv_bytes'")" \
		"output.csv cut back to the length the state recorded (no half-written window)"
	mount -o remount,size=1m "$T/tiny"
	ok_cmd "output: rerun with space" agg fullout --state "$T/fullout.db" --output "$T/tiny/out.csv"
	consistent "output was on a full file system" "$T/fullout.db" "$T/tiny/out.csv"

	# A new state on a full file system (the schema cannot be created), and
	# output.csv rebuilt from the state at start on one: both can pass, exit 1.
	mnt "$T/nospace" 64k
	dd if=/dev/zero of="$T/nospace/fill" bs=1k count=64 2>/dev/null
	expect_exit "a new state on a full file system" 1 'state .*(full|disk I/O error)' nsp \
		--state "$T/nospace/state.db" --output "$T/nsp.csv"
	mnt "$T/tiny2" 4k
	expect_exit "output.csv rebuilt at start on a full file system" 1 'output .*No space left on device' fullout \
		--state "$T/fullout.db" --output "$T/tiny2/out.csv"
	ok_cmd "aggregator export there: exit 1 too" bash -c "'$BIN/aggregator' export --state '$T/fullout.db' \
		--output '$T/tiny2/out.csv' 2>/dev/null; [[ \$? == 1 ]]"
else
	skip "mount not permitted" 17
fi

# --- read-only directory --------------------------------------------------------------
if ((can_mount)); then
	mnt "$T/ro" 1m
	ok_cmd "a state in the directory before it turns read-only" agg ro --state "$T/ro/state.db" --output "$T/ro.csv"
	mount -o remount,ro "$T/ro"
	expect_exit "existing state in a read-only directory" 3 'state .*Read-only file system' ro \
		--state "$T/ro/state.db" --output "$T/ro.csv"
	expect_exit "new state in a read-only directory" 3 'state .*Read-only file system' ro2 \
		--state "$T/ro/new.db" --output "$T/ro2.csv"
	expect_exit "output.csv in a read-only directory" 4 'output .*Read-only file system' ro3 \
		--state "$T/ro3.db" --output "$T/ro/out.csv"
	mount -o remount,rw "$T/ro"
	ok_cmd "read-write again: rerun" agg ro --state "$T/ro/state.db" --output "$T/ro.csv"
	consistent "state was read-only" "$T/ro/state.db" "$T/ro.csv"
else
	skip "mount not permitted" 11
fi

# --- missing directory, not SQLite, not ours ---------------------------------------------
expect_exit "state in a missing directory" 3 'does its directory exist' miss \
	--state "$T/nope/state.db" --output "$T/miss.csv"
expect_exit "output.csv in a missing directory" 4 'output .*No such file or directory' miss2 \
	--state "$T/miss2.db" --output "$T/nope/out.csv"
expect_exit "output.csv is a directory" 4 "output $T is not a regular file \\(a directory\\): refused" miss3 \
	--state "$T/miss3.db" --output "$T"
printf 'window_start,window_end\nthis is not a database\n%.0s' {1..200} >"$T/text.db"
cp "$T/text.db" "$T/text.db.orig"
expect_exit "a state file that is not SQLite" 3 'not an aggregator state file' text \
	--state "$T/text.db" --output "$T/text.csv"
ok_cmd "the file that is not SQLite is left untouched" cmp "$T/text.db" "$T/text.db.orig"
sqlite3 "$T/other.db" "CREATE TABLE t (x); INSERT INTO t VALUES (1)"
expect_exit "a SQLite file of something else" 3 'not an aggregator state file' other \
	--state "$T/other.db" --output "$T/other.csv"

# --- corrupt state ------------------------------------------------------------------------
# A state over the fixture; the windows table's root page (in the middle of
# the file) is overwritten with garbage, and the offsets are reset so that a
# run reads the ticks again and has to read the windows.
head -n $((NB / 2)) "$T/btc" >"$T/btc1"
head -n $((NE / 2)) "$T/eth" >"$T/eth1"
ok_cmd "a state over the fixture" agg corrupt --state "$T/corrupt.db" --output "$T/corrupt.csv"
root=$(sqlite3 "$T/corrupt.db" "SELECT rootpage FROM sqlite_schema WHERE name = 'windows'")
note "windows root page $root of $(($(stat -c %s "$T/corrupt.db") / 4096))"
sqlite3 "$T/corrupt.db" "UPDATE partitions SET next_offset = 0"
head -c 4096 /dev/urandom | dd of="$T/corrupt.db" bs=4096 seek=$((root - 1)) conv=notrunc 2>/dev/null
cp "$T/corrupt.db" "$T/corrupt2.db"
expect_exit "a corrupt state (windows table)" 3 'state.*(malformed|corrupt|cannot read)' corrupt2 \
	--state "$T/corrupt2.db" --output "$T/corrupt2.csv"
"$BIN/aggregator" export -q --state "$T/corrupt.db" --output "$T/corrupt-export.csv" 2>"$T/last.err"
is "$?" 3 "export from a corrupt state: exit 3 (state file unusable)"
like "$(cat "$T/last.err")" 'malformed|corrupt' "export from a corrupt state: says why"

# --- a state in use ------------------------------------------------------------------------
spawn first "$BIN/aggregator" -b "$BROKERS" -g lock --assign --progress-interval 0 --state "$T/lock.db" --output "$T/lock.csv"
ok_cmd "a first aggregator runs on lock.db" wait_for 20 test -s "$T/lock.csv"
expect_exit "a second aggregator on the same state" 3 'in use by another aggregator' lock2 \
	--state "$T/lock.db" --output "$T/lock2.csv"
ok_cmd "the first one keeps running" running first
stop first TERM
is "$?" 0 "the first one exits 0"
ok_cmd "the state is free again" agg lock --state "$T/lock.db" --output "$T/lock.csv"
consistent "state that was locked" "$T/lock.db" "$T/lock.csv"

# --- output.csv deleted while running ------------------------------------------------------
start_topic() { timeout 30 kcat -b "$BROKERS" -P -t "$1" -p 0 <"$2"; }
ok_cmd "half the data on two new topics" sh -c "$(declare -f start_topic); BROKERS=$BROKERS; start_topic del-btc $T/btc1 && start_topic del-eth $T/eth1"
spawn del "$BIN/aggregator" -b "$BROKERS" -g del -t del-btc,del-eth --assign --batch-time 50ms --progress-interval 0 \
	--state "$T/del.db" --output "$T/del.csv"
rows_at_least() { [[ -s $T/del.csv && $(wc -l <"$T/del.csv") -ge $1 ]]; }
ok_cmd "windows exported" wait_for 30 rows_at_least 5
rm -f "$T/del.csv"
tail -n +$((NB / 2 + 1)) "$T/btc" >"$T/btc2"
tail -n +$((NE / 2 + 1)) "$T/eth" >"$T/eth2"
ok_cmd "the rest of the data" sh -c "$(declare -f start_topic); BROKERS=$BROKERS; start_topic del-btc $T/btc2 && start_topic del-eth $T/eth2"
wait_exit del 30
is "$?" 4 "output.csv deleted while running: exit 4"
like "$(cat "$T/del.err")" 'deleted while running' "output.csv deleted while running: says why"
ok_cmd "aggregator export rebuilds output.csv" "$BIN/aggregator" export -q --state "$T/del.db" --output "$T/del.csv"
is "$(sqlite3 "$T/del.db" "SELECT count(*) FROM window_aggregates WHERE exported")" "$(($(wc -l <"$T/del.csv") - 1))" \
	"the rebuilt output.csv holds every exported window"
is "$(stat -c %s "$T/del.csv")" "$(sqlite3 "$T/del.db" "SELECT value FROM meta WHERE key = 'csv_bytes'")" \
	"and has the length the state recorded"
ok_cmd "a rerun after the rebuild" timeout 60 "$BIN/aggregator" -b "$BROKERS" -g del -t del-btc,del-eth --assign \
	--available-now -q --state "$T/del.db" --output "$T/del.csv"
ok_cmd "output.csv == offline windows" "$ROOT/tests/offline.sh" "$FIX" "$T/del.csv"
is "$(sqlite3 "$T/del.db" "SELECT sum(ticks) FROM products")" "$((NB + NE))" "every tick counted once"

done_testing

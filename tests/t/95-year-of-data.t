#!/usr/bin/env bash
# A year of event time (ticks every ~50 minutes over 2023, generated in a
# second; the mock broker keeps 5 MB a partition) through --rotate daily,
# --retain 30d and a kill -9 in the middle of a batch that began new day files:
#   - after the crash, day files past the state's current one exist (written
#     after the last COMMIT); the restart removes them and writes them again;
#   - every window is in exactly one file, the one of its start's UTC day:
#     the day files, headers aside, are byte for byte the single CSV of a run
#     without rotation or retention on the same data;
#   - the state keeps no window starting before its retention bound, which is
#     whole days, 30 to 31 before the watermark; status shows the state's
#     size and oldest window (text and JSON);
#   - aggregator export --rotate daily writes the same day files (of every day
#     from a full state, of the days kept from a retained one), and refuses a
#     single CSV from a state that dropped windows.
# brokers: mock kafka
. "$(dirname "$0")/../lib.sh"

"$BIN/gen-ticks" --products BTC-USD,ETH-USD --start 2023-01-01T00:00:00Z --minutes 525600 --rate 0.0003 \
	--seed 7 >"$T/year.jsonl" || bail "gen-ticks"
start_broker -t BTC-USD -t ETH-USD || bail "no broker"
ok_cmd "load BTC-USD" sh -c "grep -F '\"product_id\":\"BTC-USD\"' '$T/year.jsonl' | timeout 60 kcat -b $BROKERS -P -t BTC-USD -p 0"
ok_cmd "load ETH-USD" sh -c "grep -F '\"product_id\":\"ETH-USD\"' '$T/year.jsonl' | timeout 60 kcat -b $BROKERS -P -t ETH-USD -p 0"

agg() { # agg NAME ARGS...: a bounded run of 1-hour windows, state NAME.db, group g95NAME
	local name=$1; shift
	timeout 300 "$BIN/aggregator" -b "$BROKERS" -g "g95$name" -t BTC-USD,ETH-USD --assign --available-now \
		--window 1h --watermark 6h --max-skew 30d --batch-max 1000 --progress-interval 0 --idle-timeout 10m \
		--state "$T/$name.db" "$@"
}
meta() { sqlite3 "$T/$1.db" "SELECT coalesce((SELECT value FROM meta WHERE key = '$2'), 'none')"; }
body() { for f in "$@"; do tail -n +2 "$f"; done; } # the rows of CSV files, headers left out

mkdir -p "$T/a" "$T/b" "$T/ea" "$T/eb"
# The reference: one CSV, no rotation, no retention.
agg b --output "$T/b/output.csv" 2>"$T/b.err"
is "$?" 0 "the reference run finishes"
rows=$(($(wc -l <"$T/b/output.csv") - 1))
cmp_ok "$rows" -gt 7000 "the reference holds a year of hourly windows of two products ($rows rows)"

# kill -9 after the CSV append of the 6th batch that closed windows, before its COMMIT.
AGG_CRASH_AT=csv:6 agg a --output "$T/a/output.csv" --rotate daily --retain 30d 2>"$T/a.err1"
is "$?" 137 "killed after an append that began new day files (SIGKILL)"
day=$(meta a csv_day)
cur=$(date -u -d "@$((day * 86400))" +%F)
after=$(find "$T/a" -name 'output-*.csv' | sort | awk -F'output-|.csv' -v c="$cur" '$2 > c' | wc -l)
cmp_ok "$after" -gt 0 "day files past the state's current one ($cur) were written before the COMMIT ($after)"
agg a --output "$T/a/output.csv" --rotate daily --retain 30d 2>"$T/a.err2"
is "$?" 0 "the restart finishes"
like "$(cat "$T/a.err2")" "removed $after day file\\(s\\) of .*output.csv after the current one" \
	"the restart removed the files written after the last COMMIT"
unlike "$(cat "$T/a.err2")" "rewriting" "nothing rewritten: the current file was only cut back"
ok_cmd "no output.csv besides the day files" test ! -e "$T/a/output.csv"

files=("$T"/a/output-*.csv)
cmp_ok "${#files[@]}" -ge 364 "a file per day (${#files[@]})"
is "$(head -qn1 "${files[@]}" | sort -u)" "$(head -n1 "$T/b/output.csv")" "every day file starts with the header"
ok_cmd "the day files, in order, hold the reference's rows: each window once" \
	cmp <(body "${files[@]}") <(tail -n +2 "$T/b/output.csv")
ok_cmd "each window is in the file of its start's UTC day" sh -c "for f in $T/a/output-*.csv; do
	d=\${f##*/output-}; d=\${d%.csv}; tail -n +2 \"\$f\" | awk -F, -v d=\"\$d\" 'substr(\$1, 1, 10) != d { exit 1 }' || exit 1; done"

# Retention: whole days, 30 to 31 before the watermark; nothing older kept.
wm=$(meta a watermark_us)
from=$(meta a retained_from_us)
day_us=86400000000
ok_cmd "the retention bound is a day's start, 30 to 31 days before the watermark" \
	test "$((from % day_us))" -eq 0 -a "$from" -le "$((wm - 30 * day_us))" -a "$from" -gt "$((wm - 31 * day_us))"
is "$(sqlite3 "$T/a.db" "SELECT count(*) FROM windows WHERE window_start < $from")" 0 \
	"the state holds no window starting before the bound"
kept=$(sqlite3 "$T/a.db" "SELECT count(DISTINCT window_start / $day_us) FROM windows")
cmp_ok "$kept" -ge 30 "the days since are kept ($kept)"
is "$(sqlite3 "$T/a.db" "SELECT count(*) FROM windows WHERE window_end > $wm")" \
	"$(sqlite3 "$T/b.db" "SELECT count(*) FROM windows WHERE window_end > $wm")" "the open windows are all there"
oldest=$(sqlite3 "$T/a.db" "SELECT strftime('%Y-%m-%dT%H:%M:%S.000Z', min(window_start) / 1000000, 'unixepoch') FROM windows")
"$BIN/aggregator" status --state "$T/a.db" >"$T/status.txt" 2>&1
is "$?" 0 "status"
like "$(cat "$T/status.txt")" "state size [0-9.]+ MiB \\(WAL [0-9.]+ MiB\\), oldest window $oldest, windows before" \
	"status: the state's size and its oldest window ($oldest)"
json=$("$BIN/aggregator" status --state "$T/a.db" --json)
is "$(jq -r '.oldestWindow' <<<"$json")" "$oldest" "status --json: oldestWindow"
is "$(jq -r '.stateBytes' <<<"$json")" "$(stat -c %s "$T/a.db")" "status --json: stateBytes"
small=$(stat -c %s "$T/a.db") big=$(stat -c %s "$T/b.db")
cmp_ok "$small" -lt "$big" "the retained state is smaller than the full one ($small < $big bytes)"

# export --rotate daily: the same files.
"$BIN/aggregator" export --state "$T/b.db" --output "$T/eb/output.csv" --rotate daily 2>"$T/eb.err"
is "$?" 0 "export --rotate daily of the full state"
ok_cmd "it writes the run's day files, byte for byte" diff -r "$T/a" "$T/eb"
"$BIN/aggregator" export --state "$T/a.db" --output "$T/ea/output.csv" --rotate daily 2>"$T/ea.err"
is "$?" 0 "export --rotate daily of the retained state"
like "$(cat "$T/ea.err")" "were dropped from the state \\(--retain\\): their files were left as they are" \
	"it says which days it no longer holds"
ea=("$T"/ea/output-*.csv)
is "${#ea[@]}" "$kept" "it writes the days the state holds"
ok_cmd "each the same as the run's" sh -c "for f in $T/ea/output-*.csv; do cmp \"\$f\" \"$T/a/\${f##*/}\" || exit 1; done"
"$BIN/aggregator" export --state "$T/a.db" --output "$T/one.csv" 2>"$T/one.err"
is "$?" 2 "one CSV from the retained state: refused (exit 2)"
like "$(cat "$T/one.err")" "no longer holds the windows starting before .*--retain.*nothing written" "says why"
ok_cmd "nothing written" test ! -e "$T/one.csv"
agg c --output "$T/c.csv" --retain 30d 2>"$T/c.err"
is "$?" 2 "--retain without --rotate daily: refused (exit 2)"
like "$(cat "$T/c.err")" "--retain needs --rotate daily" "says why"
agg a --output "$T/a/output.csv" 2>"$T/a.err3"
is "$?" 2 "the rotated state without --rotate daily: refused (exit 2)"
like "$(cat "$T/a.err3")" "writes day files \\(--rotate daily" "says why"
done_testing

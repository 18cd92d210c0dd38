#!/usr/bin/env bash
# brokers: none
# export --output - writes the CSV to stdout (before: a file named '-'), the
# same bytes as to a file, and leaves nothing behind; export's --output
# defaults to output.csv, as its usage line says ([--output FILE]). The run
# refuses --output - (it appends and rebuilds its CSV).
. "$(dirname "$0")/../lib.sh"

mkdir "$T/w" && cd "$T/w" || bail "no directory"
sqlite3 s.db <"$DATA/v5/state.sql" || bail "no state"
timeout 30 "$BIN/aggregator" export --state s.db --output f.csv 2>/dev/null
is "$?" 0 "export to a file: exit 0"
timeout 30 "$BIN/aggregator" export --state s.db --output - >"$T/stdout.csv" 2>"$T/err"
is "$?" 0 "export --output -: exit 0"
ok_cmd "the same bytes as the file" cmp f.csv "$T/stdout.csv"
cmp_ok "$(wc -l <"$T/stdout.csv")" -gt 1 "with rows"
is "$(ls -A)" "$(printf 'f.csv\ns.db')" "no file named '-', nothing else left"
is "$(cat "$T/err")" "" "nothing on stderr"
timeout 30 "$BIN/aggregator" export --state s.db --output - --rotate daily >/dev/null 2>"$T/err"
is "$?" 2 "--output - with --rotate daily: exit 2"
# the default --output, as the usage line says
rm f.csv
timeout 30 "$BIN/aggregator" export --state s.db 2>/dev/null
is "$?" 0 "export without --output: exit 0"
ok_cmd "it wrote output.csv" cmp output.csv "$T/stdout.csv"
like "$("$BIN/aggregator" export --help)" "\\[--output FILE\\]" "its usage line shows --output as optional"
like "$("$BIN/aggregator" export --help)" "--output FILE +CSV of closed windows \\(output.csv\\)" "with its default"
# the run: stdout is no CSV it can append to and rebuild
mkdir "$T/r"
(cd "$T/r" && timeout 20 "$BIN/aggregator" -b 127.0.0.1:1 --output - >/dev/null 2>"$T/err")
is "$?" 2 "the run with --output -: exit 2"
like "$(cat "$T/err")" "'aggregator export --output -' prints the CSV" "says where to look"
is "$(ls -A "$T/r")" "" "nothing created"
done_testing

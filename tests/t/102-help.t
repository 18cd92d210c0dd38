#!/usr/bin/env bash
# brokers: none
# Help per command: `aggregator export --help` and `aggregator status --help`
# list their own options, all of them, and nothing else (before: the run's
# 60 lines, without status --json); the run's help names the two. The
# producer's example sends to real topics (before: -t coinbase., one topic
# literally named "coinbase."). Every script answers --help on stdout with
# exit 0, and names what it did not understand.
. "$(dirname "$0")/../lib.sh"

has() { # has NAME TEXT OPTION...
	local name=$1 text=$2 o miss=""
	shift 2
	for o in "$@"; do grep -q -- "$o\\b" <<<"$text" || miss+=" $o"; done
	is "$miss" "" "$name lists$*"
}
hasnt() { # hasnt NAME TEXT OPTION...
	local name=$1 text=$2 o extra=""
	shift 2
	for o in "$@"; do grep -Eq -- "^ *(-[a-zA-Z], )?$o\\b" <<<"$text" && extra+=" $o"; done
	is "$extra" "" "$name does not list$*"
}

st=$("$BIN/aggregator" status --help 2>"$T/err")
is "$?" 0 "status --help: exit 0"
is "$(cat "$T/err")" "" "status --help: nothing on stderr"
has "status --help" "$st" --state --brokers --group --json -X -F --quiet --verbose
hasnt "status --help" "$st" --window --output --from-topic --metrics --columns
cmp_ok "$(wc -l <<<"$st")" -le 30 "status --help is short ($(wc -l <<<"$st") lines)"

ex=$("$BIN/aggregator" export --help 2>"$T/err")
is "$?" 0 "export --help: exit 0"
has "export --help" "$ex" --state --output --rotate --columns --from-topic --ignore-topic --stalled-after \
	--brokers -X -F
hasnt "export --help" "$ex" --window --json --metrics --start-at --output-topic
like "$ex" "--output - writes to stdout" "export --help says --output - is stdout"

run=$("$BIN/aggregator" --help)
has "aggregator --help" "$run" --window --slide --watermark --metrics --output-topic --subscribe --version
hasnt "aggregator --help" "$run" --json --from-topic --ignore-topic
like "$run" "aggregator export --help" "aggregator --help names the subcommands' help"

# every option a help lists is taken by that command (no option listed but refused)
for cmd in "" export status; do
	opts=$("$BIN/aggregator" $cmd --help | grep -o -- '^ *\(-[a-zA-Z], \)\?--[a-z-]*' | grep -o -- '--[a-z-]*')
	bad=""
	for o in $opts; do
		# "x --help": a value (or a stray argument) then --help, which ends
		# the parse before anything runs
		(cd "$T" && timeout 10 "$BIN/aggregator" $cmd "$o" x --help 2>&1 </dev/null) |
			grep -q "not an option\|unknown option" && bad+=" $o"
	done
	is "$bad" "" "aggregator $cmd: every option its --help lists is taken"
done

p=$("$BIN/producer" --help)
unlike "$p" "-t coinbase\\.( |$)" "the producer's example has no topic named 'coinbase.'"
like "$p" "--topic-prefix coinbase\\." "it shows --topic-prefix for a prefix"

for s in install-deps.sh kafka plot demo.sh run.sh embed-sql.sh; do
	timeout 10 "$ROOT/scripts/$s" --help >"$T/out" 2>"$T/err"
	is "$?" 0 "scripts/$s --help: exit 0"
	cmp_ok "$(wc -l <"$T/out")" -ge 2 "scripts/$s --help: on stdout"
	is "$(cat "$T/err")" "" "scripts/$s --help: nothing on stderr"
done
timeout 10 "$ROOT/scripts/kafka" bogus >/dev/null 2>"$T/err"
is "$?" 2 "scripts/kafka bogus: exit 2"
like "$(head -1 "$T/err")" "unknown command 'bogus'" "scripts/kafka bogus: names it"
timeout 10 "$ROOT/scripts/plot" -Z a b >/dev/null 2>"$T/err"
is "$?" 2 "scripts/plot -Z: exit 2"
like "$(head -1 "$T/err")" "unknown option '-Z'" "scripts/plot -Z: names it"
timeout 10 "$ROOT/scripts/install-deps.sh" --bogus >/dev/null 2>"$T/err"
is "$?" 2 "scripts/install-deps.sh --bogus: exit 2"
like "$(cat "$T/err")" "unknown option '--bogus'" "names it"
timeout 10 "$ROOT/scripts/demo.sh" --bogus >/dev/null 2>"$T/err"
is "$?" 2 "scripts/demo.sh --bogus: exit 2"
like "$(cat "$T/err")" "unknown option '--bogus'" "names it"
done_testing

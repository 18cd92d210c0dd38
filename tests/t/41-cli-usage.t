#!/usr/bin/env bash
# brokers: none
# The command line: what the aggregator (and the producer, for product ids)
# refuses is a usage error (exit 2) that names the option, before it opens
# anything.
. "$(dirname "$0")/../lib.sh"

usage() { # usage NAME REGEX ARGS...
	local name=$1 re=$2; shift 2
	timeout 20 "$BIN/aggregator" -b 127.0.0.1:1 --state "$T/u.db" --output "$T/u.csv" "$@" >/dev/null 2>"$T/err"
	is "$?" 2 "$name: exit 2"
	like "$(cat "$T/err")" "$re" "$name: says why"
}
usage "a duration that overflows" "--max-skew: '106751000d' is too long" --max-skew 106751000d
usage "a watermark of 200 years" "--watermark: .73000d. is too long" --watermark 73000d
usage "a count with trailing junk" "--batch-max: '5abc' is not a positive count" --batch-max 5abc
usage "a count past int" "--cache-windows: '99999999999' is not a positive count" --cache-windows 99999999999
usage "a negative count" "--batch-max: '-3' is not a positive count" --batch-max -3
# A port past 65535 was taken, and the metrics served on PORT - 65536.
usage "a metrics port past 65535" "--metrics: '127\\.0\\.0\\.1:99999': the port must be 0 to 65535" \
	--metrics 127.0.0.1:99999
usage "--on-data-loss of another word" "--on-data-loss: fail or skip, not 'maybe'" --on-data-loss maybe
usage "a -X property librdkafka does not know" "No such configuration property" -X no.such.property=1
usage "cooperative-sticky with librdkafka 2.0" "cooperative-sticky is refused with librdkafka 2\\.0" \
	-X partition.assignment.strategy=cooperative-sticky
# export reads a state file or an output topic (group mode), not both.
usage "--from-topic outside export" "'--from-topic' is not an option of 'aggregator'" --from-topic out
timeout 20 "$BIN/aggregator" export -b 127.0.0.1:1 --state "$T/u.db" --from-topic out --output "$T/u.csv" \
	>/dev/null 2>"$T/err"
is "$?" 2 "export --state with --from-topic: exit 2"
like "$(cat "$T/err")" "export: --from-topic and --state exclude each other" "and says why"
is "$(ls "$T")" "err" "nothing created"
# An output that is the state file is a usage error found before anything
# else happens: no Kafka connection (no librdkafka line), nothing created.
mkdir "$T/empty"
(cd "$T/empty" && timeout 20 "$BIN/aggregator" -b 127.0.0.1:1 -s x.db -o x.db >/dev/null 2>"$T/same.err")
is "$?" 2 "-s x.db -o x.db: exit 2"
is "$(wc -l <"$T/same.err")" 1 "one line on stderr (before: librdkafka's connection warnings first)"
like "$(cat "$T/same.err")" "output x.db is the state file" "it says why"
is "$(ls -A "$T/empty")" "" "nothing created in the directory"
# The producer takes only product ids the aggregator accepts (it published
# BTC_USD before, and the aggregator rejected every one of its ticks).
for id in BTC_USD BTC.USD 'BTC USD'; do
	timeout 20 "$BIN/producer" -b 127.0.0.1:1 -p "$id" >/dev/null 2>"$T/perr"
	is "$?" 2 "producer -p '$id': exit 2"
	like "$(cat "$T/perr")" "bad product id '$id'" "producer -p '$id': says which id"
done
# producer -t names the one topic (kcat's -t); the prefix has a long option only.
timeout 20 "$BIN/producer" -b 127.0.0.1:1 -t ticks --topic-prefix x. >/dev/null 2>"$T/perr"
is "$?" 2 "producer -t with --topic-prefix: exit 2"
like "$(cat "$T/perr")" "-t names the one topic, --topic-prefix one per product" "and says why"
timeout 20 "$BIN/producer" -b 127.0.0.1:1 -t 'a b' >/dev/null 2>"$T/perr"
is "$?" 2 "producer -t 'a b': exit 2"
like "$(cat "$T/perr")" "illegal character ' ' in topic a b" "names the character"
timeout 20 "$BIN/producer" -b 127.0.0.1:1 --metrics 127.0.0.1:99999 >/dev/null 2>"$T/perr"
is "$?" 2 "producer --metrics with a port past 65535: exit 2"
like "$(cat "$T/perr")" "--metrics: '127\\.0\\.0\\.1:99999': the port must be 0 to 65535" "and says why"
# No broker at the address: a bounded run fails (exit 1) and says so, instead
# of waiting for ever.
timeout 60 "$BIN/aggregator" -b 127.0.0.1:1 --available-now --state "$T/nb.db" --output "$T/nb.csv" \
	>/dev/null 2>"$T/nb.err"
is "$?" 1 "--available-now, no broker at the address: exit 1 (not a hang)"
like "$(cat "$T/nb.err")" "error: no broker reachable at 127\.0\.0\.1:1" "it says no broker is reachable there"
# kcat's -F FILE and -X dump / -X list, in both programs: a value keeps its
# spaces and '=', comments and blank lines are skipped, a bad line is named.
printf '# the client\n\nqueue.buffering.max.ms = 7\nsasl.username = a b=c \n' >"$T/props"
printf 'client.id=x\nno equals sign here\n' >"$T/bad.props"
for prog in aggregator producer; do
	dump=$("$BIN/$prog" -F "$T/props" -X dump 2>&1)
	is "$?" 0 "$prog -F FILE -X dump: exit 0"
	like "$dump" $'queue.buffering.max.ms = 7\n' "$prog: a property from the file, trimmed"
	like "$dump" $'sasl.username = a b=c\n' "$prog: a value with spaces and '='"
	"$BIN/$prog" -F "$T/bad.props" >/dev/null 2>"$T/f.err"
	is "$?" 2 "$prog -F with a bad line: exit 2"
	like "$(cat "$T/f.err")" "bad.props:2: expected key=value" "$prog: names the file and line"
	"$BIN/$prog" -F "$T/none.props" >/dev/null 2>"$T/f.err"
	is "$?" 2 "$prog -F a missing file: exit 2"
	like "$("$BIN/$prog" -X list)" "queue.buffering.max.ms" "$prog -X list: librdkafka's properties"
done
like "$("$BIN/aggregator" -X dump)" $'enable.auto.commit = false\n' "aggregator -X dump shows its own defaults"
# The producer's durations take the aggregator's syntax (whole seconds).
ok_cmd "producer --status-interval 5s --silence-timeout 1m --max-backoff 90" \
	"$BIN/producer" --status-interval 5s --silence-timeout 1m --max-backoff 90 -X dump
"$BIN/producer" --status-interval 500ms -X dump >/dev/null 2>"$T/d.err"
is "$?" 2 "producer --status-interval 500ms: exit 2"
like "$(cat "$T/d.err")" "--status-interval: expected whole seconds" "and says so"
like "$("$BIN/aggregator" --version)" "^aggregator [0-9.]+ \\(librdkafka [0-9.]+, SQLite [0-9.]+\\)$" \
	"--version names librdkafka and SQLite"
done_testing

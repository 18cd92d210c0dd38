#!/usr/bin/env bash
# brokers: none
# Every option is checked before anything happens: a bad one is a usage error
# (exit 2) said in one line on stderr, before a Kafka connection (which would
# add librdkafka's lines), a file created or a state opened.  Each case runs
# in an empty directory, which must stay empty (before: `--metrics nope`
# connected to Kafka and left aggregator.db and output.csv behind; a
# producer left ./producer-spool).
. "$(dirname "$0")/../lib.sh"

export KAFKA_BROKERS=127.0.0.1:1 # nothing listens there: any connect would log
n=0
bad() { # bad NAME REGEX PROG ARGS...
	local name=$1 re=$2 prog=$3 d
	shift 3
	n=$((n + 1))
	d="$T/d$n"
	mkdir "$d"
	(cd "$d" && timeout 20 "$BIN/$prog" "$@" >"$T/out$n" 2>"$T/err$n")
	is "$?" 2 "$name: exit 2"
	is "$(wc -l <"$T/err$n")" 1 "$name: one line on stderr"
	like "$(cat "$T/err$n")" "$re" "$name: says why"
	is "$(ls -A "$d")" "" "$name: nothing created"
	[[ $(wc -l <"$T/err$n") == 1 ]] || diag "$(head -5 "$T/err$n")"
}

# the run
bad "--metrics without a port" "--metrics: HOST:PORT expected, not 'nope'" aggregator --metrics nope
bad "--metrics port past 65535" "the port must be 0 to 65535" aggregator --metrics 127.0.0.1:99999
bad "--columns unknown" "no-such-column" aggregator --columns no-such-column
bad "-s x.db -o x.db" "output x.db is the state file" aggregator -s x.db -o x.db
bad "--start-at a word" "--start-at: earliest, latest" aggregator --start-at tomorrow
bad "--window 0" "--window: '0' is not a positive duration" aggregator --window 0
bad "--slide longer than --window" "--slide must not be longer than --window" aggregator --slide 2m
bad "--retain without --rotate" "--retain needs --rotate daily" aggregator --retain 30d
bad "--rotate weekly" "--rotate: daily or none, not 'weekly'" aggregator --rotate weekly
bad "--on-data-loss maybe" "--on-data-loss: fail or skip" aggregator --on-data-loss maybe
bad "an unknown option" "unknown option '--nope'" aggregator --nope
bad "an option without its value" "option '--window' needs a value" aggregator --window
bad "an argument left over" "unexpected argument 'extra'" aggregator extra
bad "-X a property librdkafka does not know" "No such configuration property" aggregator -X no.such.property=1
bad "-X cooperative-sticky" "cooperative-sticky is refused" aggregator \
	-X partition.assignment.strategy=cooperative-sticky
bad "--member without --output-topic" "--changelog and --member need --output-topic" aggregator --member m1
bad "--output-topic with --available-now" "not with --available-now" aggregator --output-topic out --available-now
bad "--output-topic with -o" "-o/--output is the local CSV" aggregator --output-topic out -o a.csv
# export
bad "export --columns unknown" "no-such-column" aggregator export --state s.db --output o.csv --columns no-such-column
bad "export -s x.db -o x.db" "output x.db is the state file" aggregator export -s x.db -o x.db
bad "export --rotate weekly" "--rotate: daily or none" aggregator export --state s.db --rotate weekly
bad "export --from-topic with --state" "exclude each other" aggregator export --from-topic out --state s.db
bad "export --from-topic -X unknown" "No such configuration property" aggregator export --from-topic out \
	-X no.such.property=1
bad "export with a run's option" "'--window' is not an option of 'aggregator export'" aggregator export --state s.db --window 1m
# status
bad "status with a run's option" "'--output' is not an option of 'aggregator status'" aggregator status --state s.db --output o.csv
bad "status -X unknown" "No such configuration property" aggregator status --state s.db -X no.such.property=1
bad "status --metrics" "'--metrics' is not an option of 'aggregator status'" aggregator status --state s.db --metrics nope
# the producer
bad "producer --metrics without a port" "--metrics: HOST:PORT expected" producer --metrics nope
bad "producer --metrics port past 65535" "the port must be 0 to 65535" producer --metrics 127.0.0.1:99999
bad "producer bad product id" "bad product id 'BTC_USD'" producer -p BTC_USD
bad "producer -X unknown" "No such configuration property" producer -X no.such.property=1
bad "producer --spool-max -1" "--spool-max" producer --spool-max -1
bad "producer an unknown option" "unknown option '--nope'" producer --nope
bad "producer an argument left over" "unexpected argument 'extra'" producer extra

# A state that is not there is not made by status or export (exit 3, one line).
mkdir "$T/st"
(cd "$T/st" && timeout 20 "$BIN/aggregator" status --state none.db >/dev/null 2>"$T/st.err")
is "$?" 3 "status of a missing state: exit 3"
is "$(ls -A "$T/st")" "" "status of a missing state: nothing created"
(cd "$T/st" && timeout 20 "$BIN/aggregator" export --state none.db --output o.csv >/dev/null 2>"$T/st.err")
is "$?" 3 "export of a missing state: exit 3"
is "$(ls -A "$T/st")" "" "export of a missing state: nothing created"
done_testing

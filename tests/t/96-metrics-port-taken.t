#!/usr/bin/env bash
# --metrics on a port another process listens on: it can pass (the previous
# run not yet gone), so both programs exit with a code their systemd units
# restart -- the aggregator 1, the producer 4 (startup failure) -- and say
# why; the units' RestartPreventExitStatus does not list it.  An address that
# cannot work (no port) stays a usage error (2), which they do not restart.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
# The broker's own port is one another process listens on.
taken="127.0.0.1:${BROKERS##*:}"
taken=${taken%%,*}
timeout 60 "$BIN/aggregator" -b "$BROKERS" --assign --available-now --metrics "$taken" --state "$T/s.db" \
	--output "$T/s.csv" 2>"$T/agg.err"
is "$?" 1 "aggregator: the metrics port taken, exit 1"
like "$(cat "$T/agg.err")" "--metrics $taken: Address already in use \\(another process listens there" "says why"
prevent() { sed -n 's/^RestartPreventExitStatus=//p' "$ROOT/scripts/coinbase-$1.service"; }
restarted() { # restarted UNIT CODE: Restart=on-failure, CODE not among those it prevents
	grep -q '^Restart=on-failure$' "$ROOT/scripts/coinbase-$1.service" && ! grep -qw "$2" <<<"$(prevent "$1")"
}
ok_cmd "the aggregator's unit restarts exit 1 ($(prevent aggregator) are not)" restarted aggregator 1

start_feed --file "$FIX" --speed 0 || bail "no feed"
timeout 60 "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix m96. --metrics "$taken" 2>"$T/prod.err"
is "$?" 4 "producer: the metrics port taken, exit 4"
like "$(cat "$T/prod.err")" "--metrics $taken: Address already in use" "says why"
ok_cmd "the producer's unit restarts exit 4 ($(prevent producer) are not)" restarted producer 4

"$BIN/aggregator" -b "$BROKERS" --metrics nowhere --state "$T/x.db" --output "$T/x.csv" 2>"$T/x.err"
is "$?" 2 "a --metrics address without a port: still a usage error (exit 2)"
not_ok_cmd "which the aggregator's unit does not restart" restarted aggregator 2
done_testing

#!/usr/bin/env bash
# brokers: none
# Every log line of both programs (their own, librdkafka's and lws's) starts
# with its UTC time, "2026-12-07T00:17:01.123Z % warning: ...", when stderr is
# kept for later (a file, a pipe); not on a terminal (someone watches it live)
# nor in systemd's journal (JOURNAL_STREAM names stderr's device and inode:
# the journal stamps each line itself).  --log-time always|never decides
# otherwise.  Before, no line had a time: timing a failover from a log was
# guesswork.  No broker needed: 127.0.0.1:1 refuses, which both log.
. "$(dirname "$0")/../lib.sh"

# stamped FILE / unstamped FILE: FILE has lines, each with / without the time.
stamped() { [[ -s $1 ]] && ! grep -vqE "^$LOG_TS % [a-z]+: " "$1"; }
unstamped() { [[ -s $1 ]] && ! grep -vqE "^% [a-z]+: " "$1"; }
# producer NAME [ARGS]: the producer for 3 s against nothing (a feed and a
# broker that refuse), its stderr in $T/NAME.err; -v -v for lws's own lines.
producer() {
	local name=$1; shift
	timeout -s TERM 3 "$BIN/producer" -b 127.0.0.1:1 --url ws://127.0.0.1:1 --spool-max 0 -v -v "$@" \
		2>>"$T/$name.err" >/dev/null
}

producer auto
ok_cmd "producer, stderr a file: every line starts with the time" stamped "$T/auto.err"
[[ $(grep -vcE "^$LOG_TS % " "$T/auto.err") == 0 ]] || diag "$(grep -vE "^$LOG_TS % " "$T/auto.err" | head -n 3)"
like "$(grep -E "^$LOG_TS % warning: connection to ws" "$T/auto.err" | head -n 1)" . "its own lines"
like "$(grep -E "^$LOG_TS % warning: kafka " "$T/auto.err" | head -n 1)" "Connection refused" "librdkafka's lines"
like "$(grep -E "^$LOG_TS % lws: " "$T/auto.err" | head -n 1)" . "lws's lines"
first=$(head -n 1 "$T/auto.err" | cut -d' ' -f1)
then=$(date -u -d "$first" +%s 2>/dev/null) || then=0
age=$(($(date -u +%s) - then))
cmp_ok "${age#-}" -le 60 "the time is now, in UTC ($first)"

producer never --log-time never
ok_cmd "--log-time never: no line has a time" unstamped "$T/never.err"

# systemd: JOURNAL_STREAM is the device and inode of the stream it gave the
# service as stdout and stderr.
: >"$T/journal.err"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/journal.err") producer journal
ok_cmd "stderr is the journal's stream (JOURNAL_STREAM): no time" unstamped "$T/journal.err"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/auto.err") producer elsewhere
ok_cmd "JOURNAL_STREAM set, stderr elsewhere (redirected in the unit): the time" stamped "$T/elsewhere.err"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/journal.err") producer forced --log-time always
ok_cmd "the journal, --log-time always: the time" stamped "$T/forced.err"

# The aggregator: its run (librdkafka's lines) and its commands.
timeout -s TERM 3 "$BIN/aggregator" -b 127.0.0.1:1 --assign -s "$T/a.db" -o "$T/a.csv" 2>"$T/agg.err"
ok_cmd "aggregator, stderr a file: every line starts with the time" stamped "$T/agg.err"
like "$(grep -E "^$LOG_TS % (warning|info): kafka " "$T/agg.err" | head -n 1)" . "librdkafka's lines too"
"$BIN/aggregator" status --state "$T/none.db" 2>"$T/st.err"
is "$?" 3 "status of a missing state: exit 3"
ok_cmd "status: its error line with the time" stamped "$T/st.err"
"$BIN/aggregator" status --state "$T/none.db" --log-time never 2>"$T/st-never.err"
ok_cmd "status --log-time never: without" unstamped "$T/st-never.err"
: >"$T/st-journal.err"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/st-journal.err") "$BIN/aggregator" export --state "$T/none.db" \
	--output "$T/none.csv" 2>>"$T/st-journal.err"
ok_cmd "export, stderr the journal's: without" unstamped "$T/st-journal.err"

# A terminal (script(1) gives the command one): no time unless asked.
tty_err() { script -qec "$*" /dev/null </dev/null | tr -d '\r'; }
like "$(tty_err "'$BIN/aggregator' status --state '$T/none.db'")" "^% error: " "on a terminal: no time"
like "$(tty_err "'$BIN/aggregator' status --state '$T/none.db' --log-time always")" "^$LOG_TS % error: " \
	"on a terminal, --log-time always: the time"

for prog in aggregator producer; do
	"$BIN/$prog" --log-time sometimes >"$T/bad.out" 2>"$T/bad.err"
	is "$?" 2 "$prog --log-time sometimes: exit 2"
	like "$(cat "$T/bad.err")" "--log-time: auto, always or never, not 'sometimes'" "$prog: says what it takes"
	like "$("$BIN/$prog" --help)" "--log-time WHEN" "$prog --help lists --log-time"
done
for cmd in status export; do
	like "$("$BIN/aggregator" "$cmd" --help)" "--log-time WHEN" "aggregator $cmd --help lists it"
done
done_testing

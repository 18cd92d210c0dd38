#!/usr/bin/env bash
# brokers: mock kafka
# /events while ticks arrive: after the commits that close windows an event
# with them (the CSV's), and the status at most once a second.  (/healthz's 503 verdicts are
# tested in tests/unit/test_httpd.c.)
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
spawn agg "$BIN/aggregator" -b "$BROKERS" -g g106 --assign --idle-timeout 1s --batch-time 200ms \
	--progress-interval 0 --http 127.0.0.1:0 --state "$T/s.db" --output "$T/s.csv"
port() { sed -n 's/.*metrics on port \([0-9]*\) .*/\1/p' "$T/agg.err"; }
has_port() { [[ -n $(port) ]]; }
ok_cmd "the aggregator serves" wait_for 20 has_port
U=http://127.0.0.1:$(port)
curl -sN --max-time 20 "$U/events" >"$T/events" &
ev=$!
sleep 1
# /api/windows before any window closed; asked again below, once they have:
# the answer it keeps for a poller must not outlive a close.
is "$(curl -sf --max-time 5 "$U/api/windows?limit=5000" | jq '.windows | length')" 0 "/api/windows: none closed yet"
ok_cmd "load the fixture" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0"
csv_rows() { [[ -s $T/s.csv ]] && (($(wc -l <"$T/s.csv") > 2)); }
ok_cmd "windows closed" wait_for 30 csv_rows
settled() { local n; n=$(wc -l <"$T/s.csv"); sleep 2; (($(wc -l <"$T/s.csv") == n)); }
wait_for 30 settled
sleep 1
kill "$ev" 2>/dev/null
wait "$ev" 2>/dev/null
like "$(head -n 3 "$T/events")" "retry: 2000" "the stream's head: a retry time"
like "$(cat "$T/events")" "event: reset" "a new client (no Last-Event-ID) is told to load what is there"
like "$(cat "$T/events")" $'id: [0-9]+-[0-9]+\nevent: commit\ndata: \\{' "commit events with ids"
sed -n 's/^data: //p' "$T/events" | grep '"windows"' | jq -c '.windows[]' >"$T/pushed"
is "$(wc -l <"$T/pushed")" "$(($(wc -l <"$T/s.csv") - 1))" "every window of the CSV was pushed once"
is "$(sed -n 's/^data: //p' "$T/events" | grep '"status"' | tail -n 1 | jq -r '.status.partitions | length')" 2 \
	"with the status: the partitions"
is "$(curl -s --max-time 5 "$U/healthz")" ok "/healthz: ok while idle"
is "$(curl -sf --max-time 5 "$U/api/windows?limit=5000" | jq '.windows | length')" "$(($(wc -l <"$T/s.csv") - 1))" \
	"/api/windows asked again: every window the CSV has"

stop agg TERM
is "$?" 0 "SIGTERM: exit 0"
done_testing

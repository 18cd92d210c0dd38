#!/usr/bin/env bash
# brokers: mock
# aggregator serve --state FILE: the live page over a state file alone, no
# Kafka, read-only: the windows the CSV has, the status from the state; the
# file is not changed; SIGTERM ends it at once; no state: exit 3.
# On the mock only: serve itself never talks to Kafka (the bounded run that
# writes the state is tested on both brokers elsewhere).
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
ok_cmd "load the fixture" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0"
ok_cmd "a bounded run writes the state and the CSV" timeout 120 "$BIN/aggregator" -b "$BROKERS" --available-now -q \
	--state "$T/s.db" --output "$T/s.csv"
stop broker TERM
sum0=$(sha256sum <"$T/s.db")
spawn serve "$BIN/aggregator" serve --state "$T/s.db" --http :0
port() { sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$T/serve.err"; }
has_port() { [[ -n $(port) ]]; }
ok_cmd "serve says where" wait_for 20 has_port
like "$(cat "$T/serve.err")" "read-only: the live page on http://127\\.0\\.0\\.1:$(port)/" "the page's address, loopback"
U=http://127.0.0.1:$(port)
like "$(curl -sf --max-time 5 "$U/")" '<canvas id="chart">' "the page"
is "$(curl -sf --max-time 5 "$U/api/windows?limit=5000" | jq '.windows | length')" "$(($(wc -l <"$T/s.csv") - 1))" \
	"/api/windows: the CSV's windows"
st=$(curl -sf --max-time 5 "$U/api/status")
is "$(jq -r .mode <<<"$st")" serve "/api/status: from the state"
is "$(jq '[.partitions[].ticks] | add' <<<"$st")" "$((NB + NE))" "with its tick counts"
like "$(curl -sf --max-time 5 "$U/api/open")" '^\{"windows":\[' "/api/open: the windows not closed, from the state"
is "$(curl -s -o /dev/null -w '%{http_code}' -X POST --max-time 5 "$U/api/windows")" 405 "POST: 405"
t0=$EPOCHREALTIME
stop serve TERM
is "$?" 0 "SIGTERM: exit 0"
cmp_ok "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')" -lt 1000 "at once (ms)"
is "$(sha256sum <"$T/s.db")" "$sum0" "the state file is unchanged"
"$BIN/aggregator" serve --state "$T/none.db" 2>"$T/none.err"
is "$?" 3 "no state file: exit 3"
like "$(cat "$T/none.err")" "no state file to read" "says so"
done_testing

#!/usr/bin/env bash
# brokers: kafka
# The group stops reading a topic (issue 24, case 9): its last marker holds
# export --from-topic back for good.  The export says so -- a warning that
# names the topic and partition, when its last marker was written, and how
# far behind the newest it is (--stalled-after, 5m by default) -- and
# --ignore-topic leaves the topic out: the CSV then has every window of the
# others, as a single aggregator of those topics writes it.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
for p in BTC-USD ETH-USD; do
	grep -F "\"product_id\":\"$p\"" "$FIX" >"$T/$p"
	tail -n 1 "$T/$p" | jq -c '[range(1; 4) as $k | .sequence += $k | .trade_id += $k |
		.time = "2023-04-24T16:00:0\($k).000000Z"] | .[]' >>"$T/$p"
	jq -c 'select(.time < "2023-04-24T15:20")' "$T/$p" >"$T/$p.00"
	jq -c 'select(.time >= "2023-04-24T15:20")' "$T/$p" >"$T/$p.01"
done
member() { # member NAME TOPICS
	spawn "$1" "$BIN/aggregator" -b "$BROKERS" -g g83 --output-topic g83-out -s "$T/m.db" -t "$2" --batch-time 50ms \
		--idle-timeout 5s --progress-interval 0 -X session.timeout.ms=6000
}
xport() { # xport [ARGS...]: to $OUT (out.csv)
	timeout 90 "$BIN/aggregator" export --from-topic g83-out -b "$BROKERS" --output "$T/${OUT:-out}.csv" \
		--stalled-after 3s "$@" 2>"$T/export.err"; }
rows_of() { [[ -f $1 ]] && echo $(($(wc -l <"$1") - 1)) || echo 0; }
has_rows() { xport && (($(rows_of "$T/out.csv") >= 4)); }

ok_cmd "both topics up to 15:20" sh -c "timeout 30 kcat -b '$BROKERS' -P -t BTC-USD <'$T/BTC-USD.00' &&
	timeout 30 kcat -b '$BROKERS' -P -t ETH-USD <'$T/ETH-USD.00'"
member m1 BTC-USD,ETH-USD
ok_cmd "the group writes windows of both" wait_for 90 has_rows
stop m1
is "$?" 0 "the member stops"
# Its session ends (a static member sends no LeaveGroup; back within it, it
# would get its old partitions again).  From now on the group reads ETH-USD only.
sleep 8
member m2 ETH-USD
ok_cmd "the rest of ETH-USD" sh -c "timeout 30 kcat -b '$BROKERS' -P -t ETH-USD <'$T/ETH-USD.01'"
ok_cmd "the single aggregator's run of ETH-USD" timeout 120 "$BIN/aggregator" -b "$BROKERS" -g g83ref -t ETH-USD \
	--assign --available-now --progress-interval 0 -q -s "$T/ref.db" -o "$T/ref.csv"
want=$(rows_of "$T/ref.csv")
sleep 8 # ETH-USD's markers move on; BTC-USD's last one stays behind
ok_cmd "export: exit 0 (the CSV it writes is right, only short)" xport
like "$(cat "$T/export.err")" "warning: export from g83-out is held back by BTC-USD \[0\]: its last marker \(closed until 2023-04-24T[0-9:.]+Z\) was written at 20[0-9-]+T[0-9:.]+Z, [0-9]+ s before the newest \(ETH-USD \[0\]\).*--ignore-topic BTC-USD leaves it out" \
	"it warns: which topic holds it back, since when, and the way out"
OUT=out
not_ok_cmd "over the CSV with BTC-USD's rows: refused (it would lose them)" xport --ignore-topic BTC-USD
like "$(cat "$T/export.err")" "error: .*holds [0-9]+ rows that this export would not write again" "it says why"
ignored() { OUT=eth xport --ignore-topic BTC-USD && (($(rows_of "$T/eth.csv") >= want)); }
ok_cmd "export --ignore-topic BTC-USD to a new file: every window of ETH-USD" wait_for 90 ignored
ok_cmd "== the single aggregator's CSV of ETH-USD" cmp "$T/eth.csv" "$T/ref.csv"
unlike "$(cat "$T/export.err")" "warning" "no warning then"
unlike "$(cat "$T/m2.err")" "assigned BTC-USD" "(the member read ETH-USD only)"
stop m2
done_testing

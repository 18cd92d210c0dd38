#!/usr/bin/env bash
# brokers: mock kafka
# --http HOST:PORT (--metrics its alias): the aggregator's one HTTP server.
# The page at /, embedded, nothing fetched from elsewhere; /healthz;
# /api/windows with the CSV's windows; /api/open; 404 and 405; malformed
# requests; a client that sends a byte every 1.5 s (it once blocked every
# scrape and SIGTERM for 37 s) must not delay others nor the shutdown; 200
# clients at once are all answered.
. "$(dirname "$0")/../lib.sh"

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
ok_cmd "load the fixture" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0"
spawn agg "$BIN/aggregator" -b "$BROKERS" -g g105 --assign --idle-timeout 1s --progress-interval 0 \
	--http :0 --state "$T/s.db" --output "$T/s.csv"
port() { sed -n 's/.*metrics on port \([0-9]*\) .*/\1/p' "$T/agg.err"; }
has_port() { [[ -n $(port) ]]; }
ok_cmd "it says the port it serves on" wait_for 20 has_port
P=$(port)
U=http://127.0.0.1:$P
like "$(cat "$T/agg.err")" "the live page on http://127\\.0\\.0\\.1:$P/" "it says the page's address (loopback without a host)"
ok_cmd "an empty host binds loopback only" sh -c "ss -ltn | grep -q '127.0.0.1:$P '"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }

# The page: embedded, self-contained.
page=$(curl -sf --max-time 5 "$U/")
like "$page" "<canvas id=\"chart\">" "GET /: the page, with its chart"
unlike "$page" "(src|href)=\"(https?:)?//" "the page loads nothing from elsewhere (no CDN)"
like "$(curl -sI --max-time 5 "$U/")" "Content-Type: text/html" "served as HTML"

# The windows, as the CSV has them, once the fixture is read and the idle
# partitions let the watermark close them.
csv_rows() { [[ -s $T/s.csv ]] && (($(wc -l <"$T/s.csv") > 1)); }
ok_cmd "windows closed into the CSV" wait_for 60 csv_rows
sleep 1.5
api=$(curl -sf --max-time 5 "$U/api/windows?limit=5000")
ncsv=$(($(wc -l <"$T/s.csv") - 1))
is "$(jq '.windows | length' <<<"$api")" "$ncsv" "/api/windows: every closed window the CSV has ($ncsv)"
# the CSV's first row: product, start, ..., avg(price) in the api's window
IFS=, read -r c_start c_end c_product _ <<<"$(sed -n 2p "$T/s.csv")"
head -n 1 "$T/s.csv" >"$T/head"
like "$(cat "$T/head")" "^window_start,window_end,product_id" "the CSV's columns as expected"
avg_col=$(tr ',' '\n' <"$T/head" | grep -nx 'avg(price)' | cut -d: -f1)
c_avg=$(sed -n 2p "$T/s.csv" | cut -d, -f"$avg_col")
s_us=$(($(date -u -d "$c_start" +%s) * 1000000))
start_us=$(jq -r --arg p "$c_product" --argjson s "$s_us" '.windows[] | select(.product == $p and .start == $s) | .avg_price' <<<"$api")
ok "$(awk -v a="$start_us" -v b="$c_avg" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-9 * (b < 0 ? -b : b)) }'; echo $?)" \
	"the CSV's first window ($c_product $c_start) has its avg(price) $c_avg in /api/windows ($start_us)"
two=$(curl -sf --max-time 5 "$U/api/windows?product=BTC-USD&limit=2")
is "$(jq -r '[.windows[].product] | join(" ")' <<<"$two")" "BTC-USD BTC-USD" "product= and limit= filter"
is "$(jq '[.windows[] | select(.end / 1000000 > 1682349500)] | length' <<<"$(curl -sf "$U/api/windows?from=1682349500")")" \
	"$(jq '.windows | length' <<<"$(curl -sf "$U/api/windows?from=1682349500")")" "from= keeps windows ending after it"
is "$(code "$U/api/windows?limit=abc")" 400 "a bad limit: 400"
is "$(code "$U/api/windows?from=yesterday")" 400 "a bad from: 400"
like "$(curl -sf --max-time 5 "$U/api/open")" '^\{"windows":\[' "/api/open: the open windows"
st=$(curl -sf --max-time 5 "$U/api/status")
is "$(jq -r '.mode' <<<"$st")" run "/api/status: the mode"
is "$(jq '.partitions | length' <<<"$st")" 2 "/api/status: the two partitions, with lag"
is "$(jq '.rows' <<<"$st")" "$ncsv" "/api/status: rows exported"
is "$(code "$U/healthz")" 200 "/healthz: 200 while idle"
is "$(curl -s --max-time 5 "$U/healthz")" ok "/healthz says ok"
like "$(curl -sf --max-time 5 "$U/metrics")" "aggregator_rows_exported_total $ncsv" "/metrics as before"

# Bad paths, methods, requests.
is "$(code "$U/nothing")" 404 "an unknown path: 404"
is "$(code "$U/api/nothing")" 404 "an unknown api: 404"
is "$(code "$U/../../etc/passwd" --path-as-is)" 404 "no file access: 404"
is "$(code -X POST "$U/")" 405 "POST: 405"
like "$(curl -si -X DELETE --max-time 5 "$U/api/windows")" "Allow: GET, HEAD" "DELETE: 405 says what is allowed"
raw() { # raw BYTES: what the server answers to them (printf format)
	exec 3<>"/dev/tcp/127.0.0.1/$P" || return 1
	printf "$1" >&3
	timeout 5 head -c 200 <&3
	exec 3<&-
}
like "$(raw 'GARBAGE\r\n\r\n')" "^HTTP/1.1 400" "a request line that is none: 400"
like "$(raw 'GET / FTP/9\r\n\r\n')" "^HTTP/1.1 400" "not HTTP: 400"
like "$(raw 'GET /\0x HTTP/1.1\r\n\r\n')" "^HTTP/1.1 400" "a NUL in the head: 400"
like "$(raw "GET / HTTP/1.1\r\nX: $(head -c 9000 /dev/zero | tr '\0' a)\r\n\r\n")" "^HTTP/1.1 431" "a head over 8 KB: 431"

# A slow client: a byte every 1.5 s.  Others are served at once meanwhile.
(exec 3<>"/dev/tcp/127.0.0.1/$P"; for c in G E T ' ' /; do printf %s "$c" >&3; sleep 1.5; done; sleep 30) &
slow=$!
sleep 0.5
t0=$EPOCHREALTIME
n=0
for i in $(seq 20); do [[ $(code "$U/metrics") == 200 ]] && n=$((n + 1)); done
t1=$EPOCHREALTIME
is "$n" 20 "20 scrapes answered while a slow client trickles"
cmp_ok "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')" -lt 3000 "and none waited for it (ms for 20)"

# 200 clients at once.
many=()
for i in $(seq 200); do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 "$U/api/status" >>"$T/many" &
	many+=($!)
done
wait "${many[@]}"
is "$(grep -c '^200$' "$T/many")" 200 "200 clients at once: all answered 200"

# Shutdown with the slow client still connected: under a second for the
# server (the aggregator's own exit, Kafka's close, comes on top).
(exec 3<>"/dev/tcp/127.0.0.1/$P"; printf G >&3; sleep 30) &
slow2=$!
sleep 0.3
t0=$EPOCHREALTIME
stop agg TERM
rc=$?
t1=$EPOCHREALTIME
is "$rc" 0 "SIGTERM with slow clients connected: exit 0"
cmp_ok "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')" -lt 3000 "and it is gone in under 3 s (ms)"
kill "$slow" "$slow2" 2>/dev/null
wait "$slow" "$slow2" 2>/dev/null

"$BIN/aggregator" -b "$BROKERS" --http nowhere --state "$T/x.db" --output "$T/x.csv" 2>"$T/x.err"
is "$?" 2 "--http without a port: exit 2"
like "$(cat "$T/x.err")" "--http: HOST:PORT expected" "says what it takes"
like "$("$BIN/aggregator" --help)" "--http HOST:PORT.*127\\.0\\.0\\.1: 0\\.0\\.0\\.0:PORT" "--help: loopback by default, and how to expose it"
done_testing

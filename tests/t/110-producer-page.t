#!/usr/bin/env bash
# brokers: mock kafka
# The producer's page (--http): GET / is the page, embedded and
# self-contained; /api/status holds the feed and Kafka counters, equal to the
# producer's own status line once everything is delivered: ticks, delivered,
# reconnects, missed trades (the feed drops the connection 4 times and skips
# 5 ticks each time), duplicates, the spool; per product too.  Headless
# Chromium opens the page and shows the same numbers.  Bad paths and methods:
# 404, 405; /metrics as before.
. "$(dirname "$0")/../lib.sh"

N=$(wc -l <"$FIX")
start_broker -b 1 -t t110.BTC-USD -t t110.ETH-USD || bail "no broker"
start_feed --file "$FIX" --speed 0 --drop-after 1000 --drop-mode reset --lose-on-drop 5 || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix t110. --status-interval 1 \
	--max-backoff 1 --http :0
port() { sed -n 's/.*metrics on port \([0-9]*\) .*/\1/p' "$T/producer.err"; }
has_port() { [[ -n $(port) ]]; }
ok_cmd "the producer serves" wait_for 20 has_port
U=http://127.0.0.1:$(port)
like "$(cat "$T/producer.err")" "the page on http://127\\.0\\.0\\.1:$(port)/" "it says the page's address (loopback without a host)"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }

page=$(curl -sf --max-time 5 "$U/")
like "$page" "<title>coinbase-windows: producer</title>" "GET /: the producer's page"
unlike "$page" "(src|href)=\"(https?:)?//" "it loads nothing from elsewhere"
like "$(curl -sI --max-time 5 "$U/")" "Content-Security-Policy: default-src 'self'" "served with a CSP that allows this server only"
is "$(code "$U/nothing")" 404 "an unknown path: 404"
is "$(code "$U/api/windows")" 404 "no windows here: 404"
is "$(code -X POST "$U/api/status")" 405 "POST: 405"
like "$(curl -sf --max-time 5 "$U/metrics")" "producer_messages_delivered_total" "/metrics as before"

# Every tick but the 20 skipped delivered, and the JSON caught up with it.
ok_cmd "the feed's ticks delivered" wait_for 60 delivered_at_least $((N - 20))
settled() {
	local d
	d=$(curl -sf --max-time 5 "$U/api/status" | jq .kafka.delivered)
	[[ $d == "$(producer_counter delivered)" && $d -ge $((N - 20)) ]]
}
ok_cmd "/api/status caught up" wait_for 10 settled
sleep 1.2 # one more status line after the JSON: the same counters in both
st=$(curl -sf --max-time 5 "$U/api/status")
is "$(jq -r .program <<<"$st")" producer "/api/status: the producer's"
is "$(jq .feed.ticks <<<"$st")" "$(producer_counter ticks)" "ticks received as the status line says"
is "$(jq .kafka.delivered <<<"$st")" "$(producer_counter delivered)" "delivered as the status line says"
is "$(jq .kafka.published <<<"$st")" "$(producer_counter published)" "published as the status line says"
is "$(jq .feed.reconnects <<<"$st")" "$(producer_counter reconnects)" "reconnects as the status line says"
cmp_ok "$(jq .feed.reconnects <<<"$st")" -ge 4 "the 4 drops were reconnected"
is "$(jq .feed.missed_trades <<<"$st")" "$(producer_counter missed-trades)" "missed trades as the status line says"
is "$(jq .feed.missed_trades <<<"$st")" 20 "the 20 skipped ticks are missed trades"
is "$(jq '[.products[].missed_trades] | add' <<<"$st")" 20 "per product they add up"
is "$(jq .feed.duplicates <<<"$st")" "$(producer_counter duplicates)" "duplicates as the status line says"
is "$(jq .spool.ticks <<<"$st")" "$(producer_counter in-spool)" "the spool's depth as the status line says"
is "$(jq -r '.feed.state, .kafka.in_flight, .kafka.lost' <<<"$st" | tr '\n' ' ')" "connected 0 0 " \
	"connected, nothing in flight, nothing lost"
is "$(jq -r '[.products[].id] | join(" ")' <<<"$st")" "BTC-USD ETH-USD" "the products, with their topics"
is "$(curl -s --max-time 5 "$U/healthz")" ok "/healthz: ok (the feed at its end: nothing to do)"

# The page in a browser shows the same.
CHROMIUM=$(command -v chromium || command -v chromium-browser)
ok "$([[ -x $CHROMIUM ]]; echo $?)" "chromium is installed (scripts/install-deps.sh installs it)" ||
	bail "no chromium: run scripts/install-deps.sh"
spawn browser "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
	--user-data-dir="$T/profile" --window-size=1280,1000 --remote-debugging-port=0 "$U/"
devtools_port() { sed -n 's|.*DevTools listening on ws://127.0.0.1:\([0-9]*\)/.*|\1|p' "$T/browser.err"; }
has_devtools() { [[ -n $(devtools_port) ]]; }
cdp() { timeout 30 python3 "$ROOT/tests/cdp.py" "$(devtools_port)" "$@"; }
ok_cmd "chromium runs, with its DevTools port" wait_for 30 has_devtools
page_live() { [[ $(cdp eval 'document.getElementById("conn").textContent') == '"live"' ]]; }
ok_cmd "the page is up, reading /api/status" wait_for 30 page_live
cell() { cdp eval "document.querySelector('[data-key=$1]').textContent"; }
is "$(cdp eval 'document.getElementById("delivered").textContent')" "\"$(jq .kafka.delivered <<<"$st")\"" "the page: delivered"
is "$(cell reconnects)" "\"$(jq .feed.reconnects <<<"$st")\"" "the page: reconnects"
is "$(cell missed_trades)" '"20"' "the page: missed trades"
is "$(cell ticks)" "\"$(jq .feed.ticks <<<"$st")\"" "the page: ticks received"
is "$(cdp eval 'document.getElementById("spool-ticks").textContent')" '"0"' "the page: the spool's depth"
is "$(cdp eval 'document.getElementById("feed-state").textContent')" '"connected"' "the page: the feed connected"
is "$(cdp eval 'document.getElementById("health").textContent')" '"ok"' "the page: healthy"
is "$(cdp eval 'document.querySelectorAll("#products tbody tr").length')" 2 "the page: a row per product"
cdp screenshot "$T/producer.png"
ok_cmd "a screenshot saved ($T/producer.png)" test -s "$T/producer.png"
stop browser
stop producer
is "$?" 0 "SIGTERM: exit 0"
done_testing

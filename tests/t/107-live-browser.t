#!/usr/bin/env bash
# brokers: mock kafka
# The live page in a real browser (Debian's chromium, headless; installed by
# scripts/install-deps.sh like the other dependencies: missing, this test
# fails, it does not skip).  The page is opened before any window closes;
# the ticks are replayed into Kafka while it is open; the windows reach it by
# /events only (it loaded nothing closed), and its DOM then holds the CSV's
# windows with the CSV's values.  A screenshot is saved under the test's dir.
. "$(dirname "$0")/../lib.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser)
ok "$([[ -x $CHROMIUM ]]; echo $?)" "chromium is installed (scripts/install-deps.sh installs it)" ||
	bail "no chromium: run scripts/install-deps.sh"
# The browser, headless, its profile in $T, no sandbox (the tests may run as
# root), driven over the DevTools protocol (tests/cdp.py).
browser() {
	spawn browser "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
		--user-data-dir="$T/profile" --window-size=1280,1000 --remote-debugging-port=0 "$@"
}
devtools_port() { sed -n 's|.*DevTools listening on ws://127.0.0.1:\([0-9]*\)/.*|\1|p' "$T/browser.err"; }
has_devtools() { [[ -n $(devtools_port) ]]; }
cdp() { timeout 30 python3 "$ROOT/tests/cdp.py" "$(devtools_port)" "$@"; }
# the page's table of closed windows: [product, start_us, cells...] per row
ROWS='JSON.stringify([...document.querySelectorAll("#windows tbody tr")].map(r => [r.dataset.product, r.dataset.start, ...[...r.cells].map(c => c.textContent)]))'

start_broker -t BTC-USD -t ETH-USD || bail "no broker"
spawn agg "$BIN/aggregator" -b "$BROKERS" -g g107 --assign --idle-timeout 2s --batch-time 200ms \
	--progress-interval 0 --http 127.0.0.1:0 --state "$T/s.db" --output "$T/s.csv"
port() { sed -n 's/.*metrics on port \([0-9]*\) .*/\1/p' "$T/agg.err"; }
has_port() { [[ -n $(port) ]]; }
ok_cmd "the aggregator serves" wait_for 20 has_port
U=http://127.0.0.1:$(port)/

# The page, open while the replay runs.
browser "$U"
ok_cmd "chromium runs, with its DevTools port" wait_for 30 has_devtools
page_live() { [[ $(cdp eval 'document.getElementById("conn").textContent') == '"live"' ]]; }
ok_cmd "the page is up, its event stream live" wait_for 30 page_live
is "$(cdp eval "$ROWS")" '"[]"' "no window on the page yet"
ok_cmd "replay the fixture into Kafka" sh -c "grep -F '\"product_id\":\"BTC-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t BTC-USD -p 0 &&
	grep -F '\"product_id\":\"ETH-USD\"' $FIX | timeout 30 kcat -b $BROKERS -P -t ETH-USD -p 0"
csv_rows() { [[ -s $T/s.csv ]] && (($(wc -l <"$T/s.csv") > 2)); }
ok_cmd "windows closed into the CSV while the page is open" wait_for 30 csv_rows
# every window closed: the partitions are idle after the replay (2 s)
settled() { local n; n=$(wc -l <"$T/s.csv"); sleep 3; (($(wc -l <"$T/s.csv") == n)); }
wait_for 30 settled
ncsv=$(($(wc -l <"$T/s.csv") - 1))
on_page() { (($(cdp eval "$ROWS" | jq -r 'fromjson | length') == ncsv)); }
ok_cmd "the page shows as many windows as the CSV has ($ncsv), pushed by /events" wait_for 20 on_page
cdp eval "$ROWS" | jq -r 'fromjson[] | @tsv' >"$T/rows"

# Every CSV row's window is a row of the page's table, with the CSV's values.
# cell N ROW: the page's Nth cell of a row (after product and start_us)
cell() { cut -f $(($1 + 2)) <<<"$2"; }
same() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(a != "" && d <= 1e-9 * m) }'; }
IFS=, read -r -a cols <"$T/s.csv"
col() { local i; for i in "${!cols[@]}"; do [[ ${cols[$i]} == "$1" ]] && echo "$i"; done; }
ca=$(col 'avg(price)') cb=$(col 'max(best_bid)') ck=$(col 'max(best_ask)')
n=0 bad=0
while IFS=, read -r -a f; do
	s_us=$(($(date -u -d "${f[0]}" +%s) * 1000000))
	row=$(grep -P "^\\Q${f[2]}\\E\t$s_us\t" "$T/rows")
	n=$((n + 1))
	if [[ -z $row ]]; then
		bad=$((bad + 1)); diag "not on the page: ${f[2]} ${f[0]}"; continue
	fi
	# page cells: product start end ticks open high low close avg bid ask
	if ! same "$(cell 9 "$row")" "${f[$ca]}" || ! same "$(cell 10 "$row")" "${f[$cb]}" ||
		! same "$(cell 11 "$row")" "${f[$ck]}"; then
		bad=$((bad + 1)); diag "${f[2]} ${f[0]}: page $(cell 9 "$row") $(cell 10 "$row") $(cell 11 "$row"), CSV ${f[$ca]} ${f[$cb]} ${f[$ck]}"
	fi
done < <(tail -n +2 "$T/s.csv")
cmp_ok "$n" -gt 0 "the CSV has windows ($n)"
is "$bad" 0 "the page shows every one of them with the CSV's avg(price), max(best_bid), max(best_ask)"
like "$(cdp eval 'document.getElementById("wm").textContent')" '^"2023-04-24 [0-9:.]+"$' "the watermark in UTC with its date"
like "$(cdp eval 'document.getElementById("rows").textContent')" "^\"$ncsv\"\$" "rows exported"

# A screenshot of the page now (the state has every window).
cdp screenshot "$T/page.png"
ok_cmd "a screenshot saved ($T/page.png)" test -s "$T/page.png"
note "screenshot: $T/page.png"
stop agg TERM
is "$?" 0 "SIGTERM: exit 0"
done_testing

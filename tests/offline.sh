#!/usr/bin/env bash
# offline.sh TICKS.jsonl OUTPUT.csv [WINDOW_S] [SLIDE_S] [DELAY_S]
#
# The reference: computes, independently of the aggregator (SQLite's JSON
# functions over the raw ticks), every window the final watermark closes, and
# compares it with OUTPUT.csv (default columns): same windows, same products,
# maxima exact, means within 1e-9 relative (the aggregator sums in offset
# order; this sums in SQLite's order). Prints the differences; exit 0 if none.
# The watermark is the smallest per-product largest event time minus the delay
# (each product in a partition of its own, as the producer keys them), unless
# WATERMARK_US gives it.
set -euo pipefail
ticks=$1 csv=$2 win=${3:-60} slide=${4:-${3:-60}} delay=${5:-120}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# JSON lines -> one JSON array, for json_each.
sed -e '1s/^/[/' -e '$!s/$/,/' -e '$s/$/]/' "$ticks" > "$tmp/ticks.json"
timeout 120 sqlite3 -bail "$tmp/ref.db" > "$tmp/diff" <<SQL
CREATE TABLE t AS
SELECT json_extract(value, '\$.product_id') AS p,
       unixepoch(substr(json_extract(value, '\$.time'), 1, 19)) * 1000000
         + CAST(substr(substr(json_extract(value, '\$.time'), 21,
                  length(json_extract(value, '\$.time')) - 21) || '000000', 1, 6) AS INTEGER) AS ts,
       CAST(json_extract(value, '\$.price') AS REAL) AS price,
       CAST(json_extract(value, '\$.volume_24h') AS REAL) AS vol,
       CAST(json_extract(value, '\$.best_bid') AS REAL) AS bid,
       CAST(json_extract(value, '\$.best_ask') AS REAL) AS ask
FROM json_each(readfile('$tmp/ticks.json'))
WHERE json_extract(value, '\$.type') = 'ticker';
CREATE TABLE k AS WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ($win + $slide - 1) / $slide) SELECT i FROM n;
CREATE TABLE wm AS SELECT coalesce(${WATERMARK_US:-NULL}, min(mx) - $delay * 1000000) AS w FROM (SELECT max(ts) AS mx FROM t GROUP BY p);
CREATE TABLE want AS
SELECT p, s AS ws, s + $win * 1000000 AS we, max(ts) AS mt, avg(price) AS ap, max(bid) AS mb, max(ask) AS ma, avg(vol) AS av
FROM (SELECT t.*, (ts - ((ts % ($slide * 1000000)) + ($slide * 1000000)) % ($slide * 1000000)) - k.i * $slide * 1000000 AS s FROM t, k)
WHERE s + $win * 1000000 > ts
GROUP BY p, s HAVING s + $win * 1000000 <= (SELECT w FROM wm);
.import --csv $csv got
CREATE TABLE g AS SELECT product_id AS p,
  (unixepoch(substr(window_start, 1, 19)) * 1000 + CAST(substr(window_start, 21, 3) AS INTEGER)) * 1000 AS ws,
  (unixepoch(substr(window_end, 1, 19)) * 1000 + CAST(substr(window_end, 21, 3) AS INTEGER)) * 1000 AS we,
  (unixepoch(substr("max(timestamp)", 1, 19)) * 1000 + CAST(substr("max(timestamp)", 21, 3) AS INTEGER)) AS mt_ms,
  CAST("avg(price)" AS REAL) AS ap, CAST("max(best_bid)" AS REAL) AS mb, CAST("max(best_ask)" AS REAL) AS ma,
  CAST("avg(volume_24h)" AS REAL) AS av
FROM got;
SELECT 'duplicate in csv: ' || p || ' ' || ws FROM g GROUP BY p, ws, we HAVING count(*) > 1;
SELECT 'missing from csv: ' || p || ' ' || ws FROM want w WHERE NOT EXISTS (SELECT 1 FROM g WHERE g.p = w.p AND g.ws = w.ws AND g.we = w.we);
SELECT 'not expected in csv: ' || p || ' ' || ws FROM g WHERE NOT EXISTS (SELECT 1 FROM want w WHERE g.p = w.p AND g.ws = w.ws AND g.we = w.we);
SELECT 'differs: ' || w.p || ' ' || w.ws || ' want ' || (w.mt / 1000) || ' ' || w.ap || ' ' || w.mb || ' ' || w.ma || ' ' || w.av
       || ' got ' || g.mt_ms || ' ' || g.ap || ' ' || g.mb || ' ' || g.ma || ' ' || g.av
FROM want w JOIN g ON g.p = w.p AND g.ws = w.ws AND g.we = w.we
WHERE g.mt_ms != w.mt / 1000 OR g.mb != w.mb OR g.ma != w.ma
   OR abs(g.ap - w.ap) > 1e-9 * abs(w.ap) OR abs(g.av - w.av) > 1e-9 * abs(w.av);
SELECT 'order: row ' || rowid FROM (SELECT rowid, we, p, lag(we) OVER (ORDER BY rowid) AS pwe, lag(p) OVER (ORDER BY rowid) AS pp FROM g)
WHERE pwe > we OR (pwe = we AND pp >= p);
SELECT 'checked ' || (SELECT count(*) FROM want) || ' windows against ' || (SELECT count(*) FROM g) || ' csv rows';
SQL
tail -n 1 "$tmp/diff" >&2
if [ "$(wc -l < "$tmp/diff")" -gt 1 ]; then
  head -n -1 "$tmp/diff" | head -20
  exit 1
fi


-- queries.sql: examples to type into `sqlite3 -box -readonly aggregator.db` while the
-- aggregator runs (window_aggregates has the CSV's columns under their Spark names, and
-- avg_price, max_best_bid, max_best_ask, avg_volume_24h without quoting).
-- (Readers never block the aggregator: the state file is in WAL mode.)

-- The last ten windows of BTC-USD, open or closed.
SELECT window_start, window_end, ticks, avg_price, max_best_bid, max_best_ask, closed
FROM window_aggregates WHERE product_id = 'BTC-USD'
ORDER BY window_start_us DESC LIMIT 10;

-- Where each partition is, and the watermark.
SELECT * FROM progress;

-- Ticks dropped as late, per product.
SELECT product_id, sum(late) AS late, sum(duplicates) AS duplicates FROM products GROUP BY product_id;

-- Why messages were rejected.
SELECT reason, count(*) AS n FROM rejected GROUP BY reason ORDER BY n DESC;

-- Windows closed but not yet in output.csv (normally none after a commit).
SELECT window_start, product_id FROM window_aggregates WHERE closed AND NOT exported;

-- The spread between best ask and best bid per window.
SELECT window_start, product_id, max_best_ask - max_best_bid AS spread
FROM window_aggregates ORDER BY window_start_us, product_id;

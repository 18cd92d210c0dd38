-- live.sql: what the live page (aggregator/live.c) reads from the state, on
-- its own read-only connection.  Numbered parameters: ?1 product (NULL: all),
-- ?2 from (window_end_us above it), ?3 to (window_start_us below it), ?4 limit.

-- name: live_closed
-- The closed windows, newest first (the page reverses them).
SELECT product_id, window_start_us, window_end_us, ticks, avg_price, max_best_bid, max_best_ask,
       "open", "high", "low", "close", "volume"
FROM window_aggregates
WHERE closed AND (?1 IS NULL OR product_id = ?1) AND window_end_us > ?2 AND window_start_us < ?3
ORDER BY window_end_us DESC, product_id
LIMIT ?4;

-- name: live_open
-- The windows not closed yet, as the state has them (aggregator serve).
SELECT product_id, window_start_us, window_end_us, ticks, avg_price, max_best_bid, max_best_ask,
       "open", "high", "low", "close", "volume"
FROM window_aggregates
WHERE NOT closed AND (?1 IS NULL OR product_id = ?1) AND window_end_us > ?2 AND window_start_us < ?3
ORDER BY window_end_us DESC, product_id
LIMIT ?4;

-- name: live_status
-- Per partition where the state stands (aggregator serve's status).
SELECT topic, partition, next_offset, ticks, late, duplicates, rejected,
       (SELECT max_time FROM partitions x WHERE x.topic = progress.topic AND x.partition = progress.partition),
       (SELECT value FROM meta WHERE key = 'watermark_us'),
       (SELECT max(updated_us) FROM partitions)
FROM progress;

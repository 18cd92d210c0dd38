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

-- name: live_closed_between
-- The windows one commit closed, ending in (?2, ?3], for its event: both
-- bounds on window_end, so that only those are read (windows_by_end), not
-- every window still open after them.
SELECT product_id, window_start_us, window_end_us, ticks, avg_price, max_best_bid, max_best_ask,
       "open", "high", "low", "close", "volume"
FROM window_aggregates
WHERE closed AND window_end_us > ?2 AND window_end_us <= ?3
ORDER BY window_end_us DESC, product_id
LIMIT ?4;

-- name: live_closed_key
-- What the closed windows depend on: how many rows of windows are closed and
-- the newest end among them (on windows_by_end: a fraction of live_closed's
-- cost).  While both stay, an answer of live_closed stays the same.
SELECT count(*), coalesce(max(window_end), 0)
FROM windows
WHERE window_end <= coalesce((SELECT value FROM meta WHERE key = 'watermark_us'), -9223372036854775807);

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

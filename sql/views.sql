-- views.sql: readable views over the state. window_aggregates gives the same
-- numbers as output.csv (the export reads it). Made again each time an
-- aggregator opens the state for writing, so an older file gets the current
-- ones.
DROP VIEW IF EXISTS window_aggregates;
DROP VIEW IF EXISTS progress;

-- One row per window and product: partial aggregates of every partition merged.
CREATE VIEW window_aggregates AS
SELECT
  product_id,
  window_start                                  AS window_start_us,
  window_end                                    AS window_end_us,
  strftime('%Y-%m-%dT%H:%M:%fZ', window_start / 1000 / 1000.0, 'unixepoch') AS window_start,
  strftime('%Y-%m-%dT%H:%M:%fZ', window_end / 1000 / 1000.0, 'unixepoch')   AS window_end,
  sum(ticks)                                    AS ticks,
  max(max_time)                                 AS max_time_us,
  strftime('%Y-%m-%dT%H:%M:%fZ', max(max_time) / 1000 / 1000.0, 'unixepoch') AS "max(timestamp)",
  sum(sum_price) / sum(ticks)                   AS "avg(price)",
  max(max_best_bid)                             AS "max(best_bid)",
  max(max_best_ask)                             AS "max(best_ask)",
  sum(sum_volume_24h) / sum(ticks)              AS "avg(volume_24h)",
  -- the same four without quoting
  sum(sum_price) / sum(ticks)                   AS avg_price,
  max(max_best_bid)                             AS max_best_bid,
  max(max_best_ask)                             AS max_best_ask,
  sum(sum_volume_24h) / sum(ticks)              AS avg_volume_24h,
  -- Version 6: candles and the chosen aggregates, as the CSV computes them
  -- (aggregator/agg.c).  NULL (the CSV: empty) for a window with ticks
  -- counted before the state's migration to version 6 (partial = 1).
  sum(ticks_v6) < sum(ticks)                    AS partial,
  CASE WHEN sum(ticks_v6) = sum(ticks) THEN (SELECT x.open FROM windows x WHERE x.product_id = windows.product_id AND x.window_start = windows.window_start AND x.window_end = windows.window_end
                                           ORDER BY x.open_time, x.topic, x.partition LIMIT 1) END AS "open",
  CASE WHEN sum(ticks_v6) = sum(ticks) THEN max(high) END                    AS "high",
  CASE WHEN sum(ticks_v6) = sum(ticks) THEN min(low) END                     AS "low",
  CASE WHEN sum(ticks_v6) = sum(ticks) THEN (SELECT x.close FROM windows x WHERE x.product_id = windows.product_id AND x.window_start = windows.window_start AND x.window_end = windows.window_end
                                           ORDER BY x.close_time DESC, x.topic DESC, x.partition DESC LIMIT 1) END AS "close",
  CASE WHEN sum(ticks_v6) = sum(ticks) THEN sum(sum_size) END                AS "volume",
  CASE WHEN sum(ticks_v6) = sum(ticks) THEN sum(sum_notional) / nullif(sum(sum_size), 0) END AS "vwap",
  CASE WHEN sum(ticks_v6) = sum(ticks) THEN (CASE WHEN max(max_trade_id) >= 0
                 THEN max(max_trade_id) - min(min_trade_id) + 1 - sum(trade_ticks) END) END AS "trade_gap",
  CASE WHEN sum(ticks_v6) = sum(ticks) THEN sum(sum_spread) / sum(ticks) END AS "spread_mean",
  CASE WHEN sum(ticks_v6) = sum(ticks) THEN max(max_spread) END              AS "spread_max",
  CASE WHEN sum(ticks_v6) = sum(ticks) THEN sum(buy_size) END                AS "buy_volume",
  CASE WHEN sum(ticks_v6) = sum(ticks) THEN sum(sell_size) END               AS "sell_volume",
  window_end <= (SELECT value FROM meta WHERE key = 'watermark_us')      AS closed,
  window_end <= (SELECT value FROM meta WHERE key = 'exported_until_us') AS exported
FROM windows
GROUP BY product_id, window_start, window_end;

-- Per partition: where it is, its watermark, and its counters.
CREATE VIEW progress AS
SELECT
  p.topic,
  p.partition,
  p.next_offset,
  (SELECT sum(ticks) FROM products x WHERE x.topic = p.topic AND x.partition = p.partition) AS ticks,
  (SELECT sum(late) FROM products x WHERE x.topic = p.topic AND x.partition = p.partition) AS late,
  (SELECT sum(duplicates) FROM products x WHERE x.topic = p.topic AND x.partition = p.partition) AS duplicates,
  p.rejected,
  (SELECT coalesce(sum(lost), 0) FROM data_loss x WHERE x.topic = p.topic AND x.partition = p.partition) AS lost,
  strftime('%Y-%m-%dT%H:%M:%fZ', p.max_time / 1000 / 1000.0, 'unixepoch') AS max_event_time,
  strftime('%Y-%m-%dT%H:%M:%fZ', (p.max_time - d.value) / 1000 / 1000.0, 'unixepoch') AS partition_watermark,
  strftime('%Y-%m-%dT%H:%M:%fZ', w.value / 1000 / 1000.0, 'unixepoch') AS watermark,
  strftime('%Y-%m-%dT%H:%M:%fZ', p.updated_us / 1000 / 1000.0, 'unixepoch') AS updated_at
FROM partitions p
LEFT JOIN meta d ON d.key = 'delay_us'
LEFT JOIN meta w ON w.key = 'watermark_us';

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

PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value
) WITHOUT ROWID;
INSERT INTO meta VALUES('csv_bytes',2024);
INSERT INTO meta VALUES('csv_columns','window_start,window_end,product_id,max(timestamp),avg(price),max(best_bid),max(best_ask),avg(volume_24h)');
INSERT INTO meta VALUES('delay_us',120000000);
INSERT INTO meta VALUES('exported_until_us',1682348821315197);
INSERT INTO meta VALUES('slide_us',60000000);
INSERT INTO meta VALUES('watermark_us',1682348821315197);
INSERT INTO meta VALUES('window_us',60000000);
CREATE TABLE windows (
  product_id     TEXT    NOT NULL,
  window_start   INTEGER NOT NULL,   -- inclusive
  window_end     INTEGER NOT NULL,   -- exclusive
  topic          TEXT    NOT NULL,
  partition      INTEGER NOT NULL,
  ticks          INTEGER NOT NULL,   -- ticks counted in the window
  sum_price      REAL    NOT NULL,   -- for avg(price), summed in offset order
  sum_volume_24h REAL    NOT NULL,   -- for avg(volume_24h)
  max_time       INTEGER NOT NULL,   -- max(timestamp)
  max_best_bid   REAL    NOT NULL,
  max_best_ask   REAL    NOT NULL,
  PRIMARY KEY (product_id, window_start, window_end, topic, partition)
) WITHOUT ROWID;
INSERT INTO windows VALUES('BTC-USD',1682348400000000,1682348460000000,'BTC-USD',0,103,2835047.5599999986589,1304075.4015048402361,1682348458172820,27535.779999999998835,27535.790000000000873);
INSERT INTO windows VALUES('BTC-USD',1682348460000000,1682348520000000,'BTC-USD',0,126,3465623.1400000005961,1594334.0165591305122,1682348519527552,27519.630000000001018,27519.810000000001308);
INSERT INTO windows VALUES('BTC-USD',1682348520000000,1682348580000000,'BTC-USD',0,128,3516048.2999999993481,1618664.3988239699975,1682348579146662,27520.409999999999855,27521.110000000000581);
INSERT INTO windows VALUES('BTC-USD',1682348580000000,1682348640000000,'BTC-USD',0,126,3459805.2999999988823,1592385.225365930004,1682348638910642,27483.409999999999853,27483.439999999998691);
INSERT INTO windows VALUES('BTC-USD',1682348640000000,1682348700000000,'BTC-USD',0,144,3945791.3400000007822,1818857.3818013702985,1682348699121718,27422.419999999998253,27422.43000000000029);
INSERT INTO windows VALUES('BTC-USD',1682348700000000,1682348760000000,'BTC-USD',0,111,3039047.8700000001118,1401169.7130132799502,1682348759139530,27403.509999999998399,27403.7599999999984);
INSERT INTO windows VALUES('BTC-USD',1682348760000000,1682348820000000,'BTC-USD',0,121,3311423.6800000010989,1526643.9370842899661,1682348819000002,27383.090000000000145,27383.099999999998544);
INSERT INTO windows VALUES('BTC-USD',1682348820000000,1682348880000000,'BTC-USD',0,114,3123816.3700000005774,1437409.8185020596719,1682348879477656,27432.509999999998399,27432.520000000000437);
INSERT INTO windows VALUES('BTC-USD',1682348880000000,1682348940000000,'BTC-USD',0,130,3563336.7100000004283,1638177.5427699303254,1682348939908913,27429.860000000000582,27430.610000000000582);
INSERT INTO windows VALUES('BTC-USD',1682348940000000,1682349000000000,'BTC-USD',0,151,4138551.0099999988451,1901704.6421325593254,1682348999248359,27430.740000000001601,27430.75);
INSERT INTO windows VALUES('BTC-USD',1682349000000000,1682349060000000,'BTC-USD',0,123,3371895.4400000008754,1548188.311560309492,1682349059887397,27426.040000000000873,27426.090000000000145);
INSERT INTO windows VALUES('BTC-USD',1682349060000000,1682349120000000,'BTC-USD',0,23,629999.15999999991618,289388.14372178004123,1682349071762581,27398.659999999999854,27398.93999999999869);
INSERT INTO windows VALUES('ETH-USD',1682348400000000,1682348460000000,'ETH-USD',0,86,162089.33999999999651,9245629.5271801762283,1682348457920654,1886.4000000000000909,1888.5499999999999545);
INSERT INTO windows VALUES('ETH-USD',1682348460000000,1682348520000000,'ETH-USD',0,89,167932.6799999999348,9562961.3753074761478,1682348519908444,1888.0,1888.0399999999999635);
INSERT INTO windows VALUES('ETH-USD',1682348520000000,1682348580000000,'ETH-USD',0,60,113307.3399999999965,6443025.2471771677956,1682348579255063,1889.6500000000000909,1892.3099999999999453);
INSERT INTO windows VALUES('ETH-USD',1682348580000000,1682348640000000,'ETH-USD',0,96,181347.32000000000698,10302995.792848860845,1682348639844093,1890.1900000000000545,1890.990000000000009);
INSERT INTO windows VALUES('ETH-USD',1682348640000000,1682348700000000,'ETH-USD',0,87,163973.55999999996856,9332031.1099871806797,1682348699173649,1886.4600000000000363,1886.6400000000001);
INSERT INTO windows VALUES('ETH-USD',1682348700000000,1682348760000000,'ETH-USD',0,53,99915.65000000005239,5681497.9302147729321,1682348759529834,1886.599999999999909,1887.1500000000000909);
INSERT INTO windows VALUES('ETH-USD',1682348760000000,1682348820000000,'ETH-USD',0,80,150858.84999999997672,8571206.1288609374311,1682348819551880,1887.2799999999999727,1887.599999999999909);
INSERT INTO windows VALUES('ETH-USD',1682348820000000,1682348880000000,'ETH-USD',0,71,133741.80999999996856,7601919.4140651915221,1682348878192689,1884.9100000000000818,1887.5099999999999908);
INSERT INTO windows VALUES('ETH-USD',1682348880000000,1682348940000000,'ETH-USD',0,76,143083.41999999998369,8132051.1916969902815,1682348939485997,1884.0099999999999909,1884.1199999999998908);
INSERT INTO windows VALUES('ETH-USD',1682348940000000,1682349000000000,'ETH-USD',0,2,3763.6199999999998908,213927.3516817500058,1682348941315197,1881.849999999999909,1881.8599999999998999);
CREATE TABLE partitions (
  topic       TEXT    NOT NULL,
  partition   INTEGER NOT NULL,
  next_offset INTEGER NOT NULL,
  max_time    INTEGER,                -- NULL until the partition's first tick
  rejected    INTEGER NOT NULL DEFAULT 0,  -- messages that failed the schema
  updated_us  INTEGER NOT NULL,            -- wall clock of the batch that wrote this row
  -- Confirmation runs (README: event time): one tick cannot move max_time far.
  time_run     INTEGER NOT NULL DEFAULT 0, -- ticks in a row far ahead of max_time (or before it)
  time_run_max INTEGER,                    -- their largest event time
  skew_run     INTEGER NOT NULL DEFAULT 0, -- ticks in a row rejected as more than --max-skew ahead
  skew_first   INTEGER NOT NULL DEFAULT 0, -- event time of the first of them
  -- Group mode (--output-topic): every window ending at or before it went to
  -- the output topic (NULL: none yet, or not in group mode).
  closed_until INTEGER,
  PRIMARY KEY (topic, partition)
) WITHOUT ROWID;
INSERT INTO partitions VALUES('BTC-USD',0,1400,1682349071762581,0,1796595981874446,0,NULL,0,0,NULL);
INSERT INTO partitions VALUES('ETH-USD',0,700,1682348941315197,0,1796595981874446,0,NULL,0,0,NULL);
CREATE TABLE products (
  topic        TEXT    NOT NULL,
  partition    INTEGER NOT NULL,
  product_id   TEXT    NOT NULL,
  ticks        INTEGER NOT NULL DEFAULT 0,  -- ticks aggregated
  late         INTEGER NOT NULL DEFAULT 0,  -- (tick, window) pairs dropped as late (Spark's numRowsDroppedByWatermark)
  duplicates   INTEGER NOT NULL DEFAULT 0,  -- replayed ticks dropped
  max_sequence INTEGER,                     -- NULL until a tick with a sequence
  -- Confirmation runs: one absurd sequence cannot make every later tick a duplicate.
  jump_seq     INTEGER NOT NULL DEFAULT -1, -- last of a run far above max_sequence (-1: none)
  jump_run     INTEGER NOT NULL DEFAULT 0,  -- its length
  back_seq     INTEGER NOT NULL DEFAULT -1, -- the same far below max_sequence
  back_run     INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (topic, partition, product_id)
) WITHOUT ROWID;
INSERT INTO products VALUES('BTC-USD',0,'BTC-USD',1400,0,0,44321711487,-1,0,-1,0);
INSERT INTO products VALUES('ETH-USD',0,'ETH-USD',700,0,0,44321703104,-1,0,-1,0);
CREATE TABLE rejected (
  topic     TEXT    NOT NULL,
  partition INTEGER NOT NULL,
  offset    INTEGER NOT NULL,
  reason    TEXT    NOT NULL,
  payload   BLOB,
  bytes     INTEGER NOT NULL,          -- the message's full length
  PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;
CREATE TABLE data_loss (
  topic       TEXT    NOT NULL,
  partition   INTEGER NOT NULL,
  from_offset INTEGER NOT NULL,   -- the state's next offset
  to_offset   INTEGER NOT NULL,   -- where reading went on
  lost        INTEGER NOT NULL,   -- offsets skipped: to - from, or 0 when the log restarted below
  detected_us INTEGER NOT NULL,
  PRIMARY KEY (topic, partition, from_offset, to_offset)
) WITHOUT ROWID;
CREATE INDEX windows_by_end ON windows (window_end, product_id);
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
GROUP BY product_id, window_start, window_end
;
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
COMMIT;
PRAGMA user_version = 4;

-- schema.sql: the aggregator's state file (SQLite, WAL mode). PRAGMA user_version = 6.
--
-- Times are microseconds since the Unix epoch (UTC) in INTEGER columns; views.sql
-- gives readable forms. State is kept per Kafka partition (partial aggregates),
-- merged by product and window when read (window_aggregates) or exported, so that a
-- partition's rows can later move with the partition to another instance.

-- How this state was built, and how far it has got. One row per key.
--   window_us, slide_us, delay_us  the window and watermark settings (fixed for a state)
--   watermark_us                   the aggregator's event-time watermark (never moves back)
--   exported_until_us              every window with window_end <= this is in the CSV
--   csv_bytes                      the CSV's length after the last export (crash recovery)
--   csv_columns                    the columns of that CSV
--   csv_mark                       FNV-1a 64 of its header and its last 4 KiB before csv_bytes:
--                                  another pipeline's CSV at --output is refused (export.c)
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value
) WITHOUT ROWID;

-- Partial aggregates of one product's window from one partition.
CREATE TABLE IF NOT EXISTS windows (
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
  -- Version 6: candles and the chosen aggregates (aggregator/agg.h).  A window
  -- of an older state has them 0 and ticks_v6 below ticks: its CSV shows them
  -- empty (partial).
  ticks_v6       INTEGER NOT NULL DEFAULT 0, -- ticks counted since: = ticks, the fields below are whole
  open           REAL    NOT NULL DEFAULT 0, -- price of the tick with the least event time
  open_time      INTEGER NOT NULL DEFAULT 0, -- its event time (ties: the earlier offset)
  close          REAL    NOT NULL DEFAULT 0, -- price of the tick with the greatest event time
  close_time     INTEGER NOT NULL DEFAULT 0, -- its event time (ties: the later offset)
  high           REAL    NOT NULL DEFAULT 0,
  low            REAL    NOT NULL DEFAULT 0,
  sum_size       REAL    NOT NULL DEFAULT 0, -- volume: sum(last_size)
  sum_notional   REAL    NOT NULL DEFAULT 0, -- sum(price * last_size), for vwap
  min_trade_id   INTEGER NOT NULL DEFAULT 0, -- 9223372036854775807: no tick with a trade id
  max_trade_id   INTEGER NOT NULL DEFAULT 0, -- -1: no tick with a trade id
  trade_ticks    INTEGER NOT NULL DEFAULT 0, -- ticks with a trade id
  sum_spread     REAL    NOT NULL DEFAULT 0, -- sum(best_ask - best_bid)
  max_spread     REAL    NOT NULL DEFAULT 0,
  buy_size       REAL    NOT NULL DEFAULT 0, -- sum(last_size) of side buy
  sell_size      REAL    NOT NULL DEFAULT 0, -- sum(last_size) of side sell
  PRIMARY KEY (product_id, window_start, window_end, topic, partition)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS windows_by_end ON windows (window_end, product_id);

-- Where each partition is: the next offset to read (these win over the consumer
-- group's committed offsets), its largest event time, and its counters.
CREATE TABLE IF NOT EXISTS partitions (
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
  -- The record at next_offset - 1, as read (version 5): its Kafka timestamp
  -- (ms) and a hash of its key and value.  At assignment the aggregator reads
  -- that offset again: another record there means the log is not the one
  -- this state read (the topic recreated, the cluster wiped).  NULL: unknown.
  fp_time INTEGER,
  fp_hash INTEGER,
  PRIMARY KEY (topic, partition)
) WITHOUT ROWID;

-- Per partition and product: counters and the largest feed sequence counted.
-- A tick whose sequence is not above max_sequence is a replay (e.g. the feed's
-- resend after a producer restart) and is counted once only.
CREATE TABLE IF NOT EXISTS products (
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

-- Messages that failed the schema, kept with their reason (payload cut at 16 KiB;
-- a budget of 16 MiB of payloads and 100000 rows, see store.c).
CREATE TABLE IF NOT EXISTS rejected (
  topic     TEXT    NOT NULL,
  partition INTEGER NOT NULL,
  offset    INTEGER NOT NULL,
  reason    TEXT    NOT NULL,
  payload   BLOB,
  bytes     INTEGER NOT NULL,          -- the message's full length
  PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;

-- Offsets the aggregator could not read (--on-data-loss=skip went on past
-- them): retention deleted them before they were read, or the log restarted
-- below the state's offset (topic deleted and recreated, cluster wiped).
-- By default the aggregator stops instead (exit 5) and writes nothing here.
CREATE TABLE IF NOT EXISTS data_loss (
  topic       TEXT    NOT NULL,
  partition   INTEGER NOT NULL,
  from_offset INTEGER NOT NULL,   -- the state's next offset
  to_offset   INTEGER NOT NULL,   -- where reading went on
  lost        INTEGER NOT NULL,   -- offsets skipped: to - from, or 0 when the log restarted below
  detected_us INTEGER NOT NULL,
  PRIMARY KEY (topic, partition, from_offset, to_offset)
) WITHOUT ROWID;

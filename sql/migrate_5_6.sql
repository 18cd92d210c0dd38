-- migrate_5_6.sql: a version 5 state file to version 6 (candles and the
-- chosen aggregates, aggregator/agg.h).  A window already in the file gets 0
-- in each new column and ticks_v6 0, below its ticks: the new aggregates of
-- the windows open at the migration are partial, and the CSV leaves their
-- columns empty (the ticks counted before are not read again).  Windows that
-- open after the migration have them whole.
ALTER TABLE windows ADD COLUMN ticks_v6 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE windows ADD COLUMN open REAL NOT NULL DEFAULT 0;
ALTER TABLE windows ADD COLUMN open_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE windows ADD COLUMN close REAL NOT NULL DEFAULT 0;
ALTER TABLE windows ADD COLUMN close_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE windows ADD COLUMN high REAL NOT NULL DEFAULT 0;
ALTER TABLE windows ADD COLUMN low REAL NOT NULL DEFAULT 0;
ALTER TABLE windows ADD COLUMN sum_size REAL NOT NULL DEFAULT 0;
ALTER TABLE windows ADD COLUMN sum_notional REAL NOT NULL DEFAULT 0;
ALTER TABLE windows ADD COLUMN min_trade_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE windows ADD COLUMN max_trade_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE windows ADD COLUMN trade_ticks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE windows ADD COLUMN sum_spread REAL NOT NULL DEFAULT 0;
ALTER TABLE windows ADD COLUMN max_spread REAL NOT NULL DEFAULT 0;
ALTER TABLE windows ADD COLUMN buy_size REAL NOT NULL DEFAULT 0;
ALTER TABLE windows ADD COLUMN sell_size REAL NOT NULL DEFAULT 0;

-- migrate_1_2.sql: a version 1 state file to version 2 (the data_loss table,
-- and the progress view that counts it; views.sql creates it again).
CREATE TABLE IF NOT EXISTS data_loss (
  topic       TEXT    NOT NULL,
  partition   INTEGER NOT NULL,
  from_offset INTEGER NOT NULL,
  to_offset   INTEGER NOT NULL,
  lost        INTEGER NOT NULL,
  detected_us INTEGER NOT NULL,
  PRIMARY KEY (topic, partition, from_offset, to_offset)
) WITHOUT ROWID;
DROP VIEW IF EXISTS progress;

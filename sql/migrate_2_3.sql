-- migrate_2_3.sql: a version 2 state file to version 3 (the confirmation
-- runs, kept so that a restart goes on with the same decisions).
ALTER TABLE partitions ADD COLUMN time_run INTEGER NOT NULL DEFAULT 0;
ALTER TABLE partitions ADD COLUMN time_run_max INTEGER;
ALTER TABLE partitions ADD COLUMN skew_run INTEGER NOT NULL DEFAULT 0;
ALTER TABLE partitions ADD COLUMN skew_first INTEGER NOT NULL DEFAULT 0;
ALTER TABLE products ADD COLUMN jump_seq INTEGER NOT NULL DEFAULT -1;
ALTER TABLE products ADD COLUMN jump_run INTEGER NOT NULL DEFAULT 0;
ALTER TABLE products ADD COLUMN back_seq INTEGER NOT NULL DEFAULT -1;
ALTER TABLE products ADD COLUMN back_run INTEGER NOT NULL DEFAULT 0;

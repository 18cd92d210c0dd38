-- migrate_3_4.sql: a version 3 state file to version 4 (group mode: how far
-- each partition has written its closed windows to the output topic).
ALTER TABLE partitions ADD COLUMN closed_until INTEGER;

-- migrate_4_5.sql: a version 4 state file to version 5 (the fingerprint of the
-- last record read of each partition: is the log at assignment the one the
-- state read?  NULL in rows written before: not checked until the next batch).
ALTER TABLE partitions ADD COLUMN fp_time INTEGER;
ALTER TABLE partitions ADD COLUMN fp_hash INTEGER;

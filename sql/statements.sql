-- statements.sql: every statement the aggregator runs against its state, by
-- name (scripts/embed-sql.sh makes each block "-- name: X" a C string
-- sql_stmt_X; store.c prepares them once). ?N are the bound values.
-- @agg_columns@, @agg_params@ and @agg_merged@ are the window aggregate's
-- stored fields (aggregator/agg.h), put in when store.c prepares them:
-- "ticks, sum_price, ...", one "?" each, "sum(ticks), sum(sum_price), ...".

-- name: identify
-- What the file at --state is, read on a connection that cannot write before
-- anything is written to it (store.c): its application_id, schema version,
-- number of tables, and how many of the columns every state has had since
-- version 1 it has (meta's 2 and windows' 11: 13 in a state made before
-- states carried an application_id).
SELECT (SELECT application_id FROM pragma_application_id),
       (SELECT user_version FROM pragma_user_version),
       (SELECT count(*) FROM sqlite_schema),
       (SELECT count(*) FROM pragma_table_info('meta') WHERE name IN ('key', 'value')) +
       (SELECT count(*) FROM pragma_table_info('windows')
         WHERE name IN ('product_id', 'window_start', 'window_end', 'topic', 'partition', 'ticks',
                        'sum_price', 'sum_volume_24h', 'max_time', 'max_best_bid', 'max_best_ask'));

-- name: begin
-- The batch's write lock at its start, not at its first write.
BEGIN IMMEDIATE;

-- name: commit
COMMIT;

-- name: rollback
ROLLBACK;

-- name: meta_get
SELECT value FROM meta WHERE key = ?1;

-- name: meta_set
INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2);

-- name: window_get
SELECT @agg_columns@
FROM windows
WHERE product_id = ?1 AND window_start = ?2 AND window_end = ?3 AND topic = ?4 AND partition = ?5;

-- name: window_put
INSERT OR REPLACE INTO windows (product_id, window_start, window_end, topic, partition, @agg_columns@)
VALUES (?1, ?2, ?3, ?4, ?5, @agg_params@);

-- name: window_del
-- A partial withdrawn (a tombstone in an output topic: aggregator export --from-topic).
DELETE FROM windows
WHERE product_id = ?1 AND window_start = ?2 AND window_end = ?3 AND topic = ?4 AND partition = ?5;

-- name: partition_get
SELECT next_offset, max_time, rejected, time_run, time_run_max, skew_run, skew_first, closed_until,
       fp_time, fp_hash
FROM partitions WHERE topic = ?1 AND partition = ?2;

-- name: partition_put
INSERT OR REPLACE INTO partitions (topic, partition, next_offset, max_time, rejected, updated_us, time_run,
                                   time_run_max, skew_run, skew_first, closed_until, fp_time, fp_hash)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13);

-- name: clear_windows
-- Group mode, before a partition is restored from the changelog, what this
-- file has of it goes (clear_*), but the windows already written to the
-- output topic (ending at or before ?3), which stay for queries.
DELETE FROM windows WHERE topic = ?1 AND partition = ?2 AND window_end > ?3;

-- name: clear_products
DELETE FROM products WHERE topic = ?1 AND partition = ?2;

-- name: clear_partition
DELETE FROM partitions WHERE topic = ?1 AND partition = ?2;

-- name: windows_closing
-- Group mode: a partition's windows ending in (?3, ?4], to the output topic.
SELECT product_id, window_start, window_end, @agg_columns@
FROM windows
WHERE window_end > ?3 AND window_end <= ?4 AND topic = ?1 AND partition = ?2
ORDER BY window_end, product_id;

-- name: products_of
SELECT product_id, ticks, late, duplicates, max_sequence, jump_seq, jump_run, back_seq, back_run
FROM products WHERE topic = ?1 AND partition = ?2;

-- name: product_put
INSERT OR REPLACE INTO products (topic, partition, product_id, ticks, late, duplicates, max_sequence, jump_seq,
                                 jump_run, back_seq, back_run)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11);

-- name: rejected_add
INSERT OR IGNORE INTO rejected (topic, partition, offset, reason, payload, bytes)
VALUES (?1, ?2, ?3, ?4, ?5, ?6);

-- name: rejected_size
-- What the rejected table holds, against its budget (read once).
SELECT count(*), coalesce(sum(length(payload)), 0) FROM rejected;

-- name: data_loss_add
INSERT OR REPLACE INTO data_loss (topic, partition, from_offset, to_offset, lost, detected_us)
VALUES (?1, ?2, ?3, ?4, ?5, ?6);

-- name: rows
-- The windows to export, in the CSV's order, each field of the partitions'
-- partials merged by its rule (as window_aggregates does in views.sql; the
-- CSV's means are computed from these in agg.c).
SELECT product_id, window_start, window_end, @agg_merged@
FROM windows
WHERE window_end > ?1 AND window_end <= ?2
GROUP BY product_id, window_start, window_end
ORDER BY window_end, product_id;

-- name: read_begin
-- aggregator status: its reads see one commit, also while an aggregator writes.
BEGIN DEFERRED;

-- name: status_partitions
-- aggregator status: every partition of the state, with its products' counts.
SELECT p.topic, p.partition, p.next_offset, p.max_time, p.rejected, p.updated_us,
       coalesce((SELECT sum(ticks) FROM products x WHERE x.topic = p.topic AND x.partition = p.partition), 0),
       coalesce((SELECT sum(late) FROM products x WHERE x.topic = p.topic AND x.partition = p.partition), 0),
       coalesce((SELECT sum(duplicates) FROM products x WHERE x.topic = p.topic AND x.partition = p.partition), 0),
       coalesce((SELECT sum(lost) FROM data_loss x WHERE x.topic = p.topic AND x.partition = p.partition), 0)
FROM partitions p
ORDER BY p.topic, p.partition;

-- name: status_meta
-- aggregator status: the progress and settings of the state, its open windows,
-- the end of its oldest window and where --retain dropped windows before.
SELECT (SELECT value FROM meta WHERE key = 'watermark_us'),
       (SELECT value FROM meta WHERE key = 'delay_us'),
       (SELECT value FROM meta WHERE key = 'window_us'),
       (SELECT value FROM meta WHERE key = 'exported_until_us'),
       (SELECT count(*) FROM windows w WHERE w.window_end > coalesce((SELECT value FROM meta WHERE key = 'watermark_us'), -9223372036854775807)),
       (SELECT min(window_end) FROM windows),
       (SELECT value FROM meta WHERE key = 'retained_from_us');

-- name: first_end
-- --rotate daily: the end of the first window to export after ?1, up to ?2
-- (its start's day names the file it goes to).
SELECT min(window_end) FROM windows WHERE window_end > ?1 AND window_end <= ?2;

-- name: windows_retain
-- --retain: closed windows (in the CSV: ending at or before ?2) that start
-- before ?1 leave the state.
DELETE FROM windows WHERE window_end <= ?2 AND window_start < ?1;

--
-- index_usage: which indexes each statement's executed plans scanned, and
-- which tables they scanned sequentially (pgplumb.index_usage,
-- pgplumb.table_scans).  Plans are pinned with enable_* settings and shown
-- with EXPLAIN (COSTS OFF) so that a plan change shows up as such.
--
SET max_parallel_workers_per_gather = 0;
-- count rows in every execution (the default samples some)
SET pgplumb.sample_rate = 1;
SET jit = off;

CREATE TABLE iu_t (id int PRIMARY KEY, a int NOT NULL, b int NOT NULL, note text NOT NULL);
INSERT INTO iu_t SELECT g, g % 50, g % 7, 'n' || g FROM generate_series(1, 5000) g;
CREATE INDEX iu_t_a ON iu_t (a);
CREATE INDEX iu_t_b ON iu_t (b);
VACUUM ANALYZE iu_t;

-- The statements of this test and their indexes / seq scans
CREATE VIEW iu_report AS
	SELECT u.query, u.indexrelid, u.relid, u.scan_kind, u.executions, u.scans, u.loops,
		u.rows, u.estimated
	FROM pgplumb.index_usage u
	WHERE u.relid::text LIKE 'iu\_%';
CREATE VIEW iu_scans AS
	SELECT t.query, t.relid, t.parent_relid, t.executions, t.loops, t.rows_examined,
		t.rows_returned, t.examined_per_returned, t.eq_columns,
		t.range_columns, t.other_columns, t.sort_columns, t.estimated
	FROM pgplumb.table_scans t
	WHERE t.relid::text LIKE 'iu\_%';

SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;

-- Index iu_t_a and not iu_t_b; index-only on the primary key.
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(note) FROM iu_t WHERE a = 3;
SELECT count(note) FROM iu_t WHERE a = 3;
SELECT count(note) FROM iu_t WHERE a = 4;
EXPLAIN (COSTS OFF) SELECT count(*) FROM iu_t WHERE id BETWEEN 10 AND 19;
SELECT count(*) FROM iu_t WHERE id BETWEEN 10 AND 19;

-- Bitmap scans, including both children of a BitmapOr.
SET enable_indexscan = off;
SET enable_bitmapscan = on;
EXPLAIN (COSTS OFF) SELECT count(*) FROM iu_t WHERE b = 2;
SELECT count(*) FROM iu_t WHERE b = 2;
EXPLAIN (COSTS OFF) SELECT count(*) FROM iu_t WHERE a = 1 OR b = 3;
SELECT count(*) FROM iu_t WHERE a = 1 OR b = 3;
RESET enable_indexscan;
RESET enable_bitmapscan;

SELECT * FROM iu_report ORDER BY query COLLATE "C", indexrelid::text COLLATE "C";

-- Sequential scans: rows examined vs returned, filter and sort columns.
SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;
SET enable_seqscan = on;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SET enable_indexonlyscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM iu_t WHERE note = 'n42';
SELECT count(*) FROM iu_t WHERE note = 'n42';
SELECT count(*) FROM iu_t WHERE note = 'n43';
EXPLAIN (COSTS OFF) SELECT id FROM iu_t WHERE b = 5 AND a > 40 ORDER BY a, id LIMIT 3;
SELECT id FROM iu_t WHERE b = 5 AND a > 40 ORDER BY a, id LIMIT 3;
-- not a "column op constant" clause: the columns are "other"
SELECT count(*) FROM iu_t WHERE a + b = 12 OR note LIKE 'x%';
-- a column compared with another column of the same table is "other" too
SELECT count(*) FROM iu_t WHERE a = b AND id >= 4990;
SELECT * FROM iu_scans ORDER BY query COLLATE "C";
SELECT * FROM iu_report;

-- A parallel seq scan: the workers' rows are merged into the leader's
-- counts (whether or not workers could be started, the figures are the same).
SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*) FROM iu_t WHERE note = 'n4242';
SELECT count(*) FROM iu_t WHERE note = 'n4242';
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
SET max_parallel_workers_per_gather = 0;
SELECT query, relid, executions, rows_examined, rows_returned, eq_columns FROM iu_scans;

-- Two scans of the same index in one plan count one execution; init plans
-- and sub plans are walked.
SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;
SET enable_seqscan = off;
SET enable_indexscan = on;
SET enable_indexonlyscan = on;
EXPLAIN (COSTS OFF)
SELECT o.id, (SELECT i.note FROM iu_t i WHERE i.id = o.id + 100) FROM iu_t o WHERE o.a = 9 AND o.id < 200 ORDER BY o.id;
SELECT o.id, (SELECT i.note FROM iu_t i WHERE i.id = o.id + 100) FROM iu_t o WHERE o.a = 9 AND o.id < 200 ORDER BY o.id;
EXPLAIN (COSTS OFF)
WITH x AS MATERIALIZED (SELECT * FROM iu_t WHERE a = 7) SELECT count(*) FROM x WHERE b = 0;
WITH x AS MATERIALIZED (SELECT * FROM iu_t WHERE a = 7) SELECT count(*) FROM x WHERE b = 0;
SELECT * FROM iu_report ORDER BY query COLLATE "C", indexrelid::text COLLATE "C", scan_kind COLLATE "C";

-- Prepared statements (PREPARE/EXECUTE run at top level) and nested
-- statements (tracked with track = all only).
SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;
PREPARE iu_q(int) AS SELECT count(*) FROM iu_t WHERE a = $1;
EXECUTE iu_q(1);
EXECUTE iu_q(2);
EXECUTE iu_q(3);
DEALLOCATE iu_q;
CREATE FUNCTION iu_note(k int) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN RETURN (SELECT note FROM iu_t WHERE id = k); END $$;
SELECT iu_note(7);			-- track = top: the nested statement is not tracked
SET pgplumb.track = 'all';
SELECT iu_note(8);
SELECT iu_note(9);
RESET pgplumb.track;
SELECT * FROM iu_report ORDER BY query COLLATE "C";

-- Partitions: the partition, its index, and their parents.
SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;
CREATE TABLE iu_p (id int NOT NULL, k int NOT NULL, v int NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE iu_p1 PARTITION OF iu_p FOR VALUES FROM (0) TO (1000);
CREATE TABLE iu_p2 PARTITION OF iu_p FOR VALUES FROM (1000) TO (2000);
CREATE INDEX iu_p_k ON iu_p (k);
INSERT INTO iu_p SELECT g, g % 100, g FROM generate_series(0, 1999) g;
ANALYZE iu_p;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM iu_p WHERE k = 5;
SELECT count(*) FROM iu_p WHERE k = 5;
EXPLAIN (COSTS OFF) SELECT count(*) FROM iu_p WHERE k = 6 AND id < 500;
SELECT count(*) FROM iu_p WHERE k = 6 AND id < 500;
SET enable_seqscan = on;
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
SELECT count(*) FROM iu_p WHERE v = 1500;
RESET enable_indexscan;
RESET enable_indexonlyscan;
SELECT r.query, indexrelid, relid, u.parent_indexrelid, u.parent_relid, scan_kind, executions, rows
	FROM iu_report r
	JOIN pgplumb.index_usage u USING (indexrelid, relid, scan_kind, executions, rows)
	ORDER BY r.query COLLATE "C", indexrelid::text COLLATE "C";
SELECT query, relid, parent_relid, rows_examined, rows_returned, eq_columns FROM iu_scans ORDER BY query COLLATE "C", relid::text COLLATE "C";

-- Sampling: unsampled executions are counted, their row counts estimated.
SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;
SET enable_seqscan = off;
SET pgplumb.sample_rate = 0;
SELECT count(note) FROM iu_t WHERE a = 11;
SELECT count(note) FROM iu_t WHERE a = 11;
SELECT count(note) FROM iu_t WHERE a = 11;
SELECT indexrelid, executions, scans, rows, estimated FROM iu_report;
SET enable_seqscan = on;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT count(*) FROM iu_t WHERE note = 'n8';
RESET enable_indexscan;
SET enable_seqscan = off;
SELECT relid, executions, rows_examined, rows_returned, examined_per_returned, estimated FROM iu_scans;
SET pgplumb.sample_rate = 1;
SELECT count(note) FROM iu_t WHERE a = 11;
SELECT indexrelid, executions, scans, rows, estimated FROM iu_report;

-- Below 1, a statement's first execution in a session still counts rows;
-- the others are sampled.
SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;
SET pgplumb.sample_rate = 1e-9;
SELECT count(note) FROM iu_t WHERE a = 13 AND b >= 0;
SELECT count(note) FROM iu_t WHERE a = 13 AND b >= 0;
SELECT count(note) FROM iu_t WHERE a = 13 AND b >= 0;
SET enable_seqscan = on;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT count(*) FROM iu_t WHERE note = 'n7' AND b >= 0;
SELECT count(*) FROM iu_t WHERE note = 'n7' AND b >= 0;
RESET enable_indexscan;
RESET enable_bitmapscan;
SET pgplumb.sample_rate = 1;
SELECT indexrelid, executions, scans, rows, estimated FROM iu_report;
SELECT relid, executions, rows_examined, rows_returned, estimated FROM iu_scans;

-- track_indexes = off records nothing
SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;
SET pgplumb.track_indexes = off;
SELECT count(note) FROM iu_t WHERE a = 12;
RESET pgplumb.track_indexes;
SELECT count(*) FROM iu_report;
SELECT entries, evictions FROM pgplumb.index_usage_info;
RESET ALL;

-- Any role reads the views; only superusers (or roles granted it) reset.
CREATE ROLE iu_reader;
SET ROLE iu_reader;
SELECT count(*) >= 0 AS can_read FROM pgplumb.index_usage;
SELECT count(*) >= 0 AS can_read FROM pgplumb.table_scans;
SELECT count(*) >= 0 AS can_read FROM pgplumb.unused_indexes;
SELECT count(*) >= 0 AS can_read FROM pgplumb.index_advice;
SELECT pgplumb.reset_index_usage();
RESET ROLE;
DROP ROLE iu_reader;

--
-- index_advice: CREATE INDEX advice from sequential scans that examine many
-- rows per row returned, on tables that are not tiny.
--
SET max_parallel_workers_per_gather = 0;
-- count rows in every execution (the default samples some)
SET pgplumb.sample_rate = 1;
SET jit = off;
CREATE TABLE ad_users (
	id int PRIMARY KEY,
	email text NOT NULL,
	tenant int NOT NULL,
	created int NOT NULL,
	payload text NOT NULL
);
INSERT INTO ad_users
	SELECT g, 'u' || g || '@example.com', g % 40, g, 'p' || (g % 1000)
	FROM generate_series(1, 20000) g;
CREATE INDEX ad_users_payload ON ad_users (payload);
CREATE TABLE ad_small (id int, k int);
INSERT INTO ad_small SELECT g, g FROM generate_series(1, 100) g;
ANALYZE ad_users;
ANALYZE ad_small;
SHOW pgplumb.advice_min_table_rows;
SHOW pgplumb.advice_min_examined_ratio;

CREATE VIEW ad_advice AS
	SELECT relid, scanned_relids, advice, eq_columns, range_columns,
		sort_columns, cardinality(queryids) AS statements,
		ARRAY(SELECT q FROM unnest(queries) q ORDER BY q COLLATE "C") AS queries,
		total_exec_time > 0 AS timed, executions,
		rows_examined, rows_returned, examined_per_returned, estimated
	FROM pgplumb.index_advice
	WHERE relid::text LIKE 'ad\_%';

SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;

-- a selective equality filter: advice names the filter column
EXPLAIN (COSTS OFF) SELECT id FROM ad_users WHERE email = 'u77@example.com';
SELECT id FROM ad_users WHERE email = 'u77@example.com';
SELECT id FROM ad_users WHERE email = 'u78@example.com';
-- a second statement served by the same index
SELECT count(*) FROM ad_users WHERE email = 'nobody@example.com';
-- equality, then range, then sort columns (a sort column already in the
-- filter is not repeated)
EXPLAIN (COSTS OFF) SELECT id FROM ad_users WHERE tenant = 3 AND created > 19000 ORDER BY created DESC LIMIT 5;
SELECT id FROM ad_users WHERE tenant = 3 AND created > 19000 ORDER BY created DESC LIMIT 5;
SELECT id, created FROM ad_users WHERE created BETWEEN 100 AND 110 AND tenant = 20 ORDER BY created, id;
-- the same equality columns written in another order: the same advice
-- (here folded into the one above, which starts with them)
SELECT count(*) FROM ad_users WHERE created = 1 AND tenant = 1;
SELECT count(*) FROM ad_users WHERE tenant = 2 AND created = 2;
-- no advice: not selective (most rows returned)
SELECT count(*) FROM ad_users WHERE tenant < 39;
-- no advice: tiny table
SELECT k FROM ad_small WHERE k = 5;
-- no advice: an index with these leading columns exists (scan forced)
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT count(*) FROM ad_users WHERE payload = 'p5';
RESET enable_indexscan;
RESET enable_bitmapscan;
-- no advice: a temporary table
CREATE TEMP TABLE ad_temp AS SELECT g AS id, g AS k FROM generate_series(1, 20000) g;
ANALYZE ad_temp;
SELECT id FROM ad_temp WHERE k = 5;
-- no advice: no "column op value" filter
SELECT count(*) FROM ad_users WHERE email LIKE '%zzz%';

SELECT * FROM ad_advice ORDER BY advice COLLATE "C";

-- the thresholds are settings
SET pgplumb.advice_min_table_rows = 50;
SELECT advice FROM ad_advice WHERE relid = 'ad_small'::regclass;
RESET pgplumb.advice_min_table_rows;
SET pgplumb.advice_min_examined_ratio = 100000;
SELECT count(*) AS advice_at_huge_ratio FROM ad_advice;
RESET pgplumb.advice_min_examined_ratio;

-- Follow the advice: the same statements now use the new index, and the
-- advice goes away.
SELECT advice, queryids FROM pgplumb.index_advice
	WHERE relid = 'ad_users'::regclass AND eq_columns = '{email}' \gset
:advice;
ANALYZE ad_users;
SELECT id FROM ad_users WHERE email = 'u79@example.com';
SELECT count(*) FROM ad_users WHERE email = 'nobody@example.com';
SELECT indexrelid, scan_kind, executions, rows
	FROM pgplumb.index_usage
	WHERE queryid = ANY (:'queryids'::bigint[])
	ORDER BY indexrelid::text COLLATE "C", scan_kind COLLATE "C";
SELECT count(*) AS email_advice_left FROM ad_advice WHERE eq_columns = '{email}';

-- Partitions: scans of partitions are advised on the partitioned table.
CREATE TABLE ad_events (id int NOT NULL, kind int NOT NULL, v int NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE ad_events_1 PARTITION OF ad_events FOR VALUES FROM (0) TO (10000);
CREATE TABLE ad_events_2 PARTITION OF ad_events FOR VALUES FROM (10000) TO (20000);
INSERT INTO ad_events SELECT g, g % 10, g FROM generate_series(0, 19999) g;
ANALYZE ad_events;
SET pgplumb.advice_min_table_rows = 5000;
SELECT count(*) FROM ad_events WHERE v = 12345;
SELECT relid, scanned_relids, advice, executions, rows_examined, rows_returned
	FROM ad_advice WHERE relid = 'ad_events'::regclass;
RESET pgplumb.advice_min_table_rows;

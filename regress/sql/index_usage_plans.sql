--
-- Each backend remembers the scans of cached plans (prepared statements,
-- PL/pgSQL) and counts an execution without row counts into their entries
-- without walking the plan.  The counts must stay those of the walk: after
-- a reset, after the plan is replaced (DEALLOCATE / PREPARE with another
-- plan, a new index), and with run-time partition pruning, where the scans
-- depend on the parameters.
--
SET max_parallel_workers_per_gather = 0;
SET jit = off;
-- no row counts: every execution may take the remembered scans
SET pgplumb.sample_rate = 0;
SET plan_cache_mode = force_generic_plan;

CREATE TABLE iup_t (id int PRIMARY KEY, a int NOT NULL, b int NOT NULL);
INSERT INTO iup_t SELECT g, g % 10, g % 7 FROM generate_series(1, 2000) g;
CREATE INDEX iup_t_a ON iup_t (a);
VACUUM ANALYZE iup_t;

CREATE VIEW iup_report AS
	SELECT u.indexrelid, u.relid, u.scan_kind, u.executions
	FROM pgplumb.index_usage u
	WHERE u.relid::text LIKE 'iup\_%'
	ORDER BY 2, 1, 3;

SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;

-- A prepared statement executed five times: five executions
SET enable_seqscan = off;
SET enable_bitmapscan = off;
PREPARE q1(int) AS SELECT count(*) FROM iup_t WHERE a = $1;
EXPLAIN (COSTS OFF) EXECUTE q1(1);
EXECUTE q1(1);
EXECUTE q1(2);
EXECUTE q1(3);
EXECUTE q1(4);
EXECUTE q1(5);
SELECT * FROM iup_report;

-- After a reset, the same plan counts into a new entry from one again
SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;
EXECUTE q1(6);
EXECUTE q1(7);
SELECT * FROM iup_report;

-- The plan replaced by one with a bitmap scan: the new plan's scans
DEALLOCATE q1;
SET enable_indexscan = off;
SET enable_bitmapscan = on;
PREPARE q1(int) AS SELECT count(*) FROM iup_t WHERE a = $1;
EXPLAIN (COSTS OFF) EXECUTE q1(1);
EXECUTE q1(1);
EXECUTE q1(2);
EXECUTE q1(3);
SELECT * FROM iup_report;
DEALLOCATE q1;
RESET enable_indexscan;

-- A new index invalidates the plan; the new plan's executions land under it
SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;
SET enable_bitmapscan = off;
PREPARE q2(int) AS SELECT count(*) FROM iup_t WHERE b = $1;
EXPLAIN (COSTS OFF) EXECUTE q2(1);
EXECUTE q2(1);
EXECUTE q2(2);
CREATE INDEX iup_t_b ON iup_t (b);
EXPLAIN (COSTS OFF) EXECUTE q2(1);
EXECUTE q2(3);
EXECUTE q2(4);
EXECUTE q2(5);
SELECT * FROM iup_report;
DEALLOCATE q2;

-- PL/pgSQL: one cached plan executed in a loop
SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;
CREATE FUNCTION iup_loop(n int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	total bigint := 0;
	c bigint;
BEGIN
	FOR i IN 1..n LOOP
		SELECT count(*) INTO c FROM iup_t WHERE id = i;
		total := total + c;
	END LOOP;
	RETURN total;
END $$;
SET pgplumb.track = 'all';
SELECT iup_loop(25);
RESET pgplumb.track;
SELECT * FROM iup_report;
DROP FUNCTION iup_loop(int);

-- Run-time partition pruning: each execution scans one partition only
SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;
CREATE TABLE iup_p (k int NOT NULL, v int NOT NULL) PARTITION BY LIST (k);
CREATE TABLE iup_p1 PARTITION OF iup_p FOR VALUES IN (1);
CREATE TABLE iup_p2 PARTITION OF iup_p FOR VALUES IN (2);
INSERT INTO iup_p SELECT 1 + g % 2, g FROM generate_series(1, 2000) g;
CREATE INDEX iup_p_v ON iup_p (v);
VACUUM ANALYZE iup_p;
SET enable_seqscan = on;
PREPARE q3(int, int) AS SELECT count(*) FROM iup_p WHERE k = $1 AND v = $2;
EXPLAIN (COSTS OFF) EXECUTE q3(1, 10);
EXECUTE q3(1, 10);
EXECUTE q3(1, 11);
EXECUTE q3(2, 12);
EXECUTE q3(1, 13);
EXECUTE q3(2, 14);
EXECUTE q3(1, 15);
SELECT * FROM iup_report;
DEALLOCATE q3;

RESET enable_seqscan;
RESET enable_bitmapscan;
RESET plan_cache_mode;
RESET pgplumb.sample_rate;
DROP VIEW iup_report;
DROP TABLE iup_p;
DROP TABLE iup_t;

--
-- Each backend caches where the index_usage entries of its statements are
-- and counts into them without a lookup.  An entry removed since (reset,
-- eviction) must never be counted into through that cache, not even when
-- its memory now holds another statement's entry.
--
SET max_parallel_workers_per_gather = 0;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET jit = off;

CREATE TABLE iuc_t (id int PRIMARY KEY, a int NOT NULL);
INSERT INTO iuc_t SELECT g, g % 10 FROM generate_series(1, 1000) g;
CREATE INDEX iuc_t_a ON iuc_t (a);
VACUUM ANALYZE iuc_t;

CREATE VIEW iuc_report AS
	SELECT u.indexrelid, u.scan_kind, u.executions
	FROM pgplumb.index_usage u
	WHERE u.relid::text = 'iuc_t'
	ORDER BY 1, 2;

-- A (index iuc_t_a) twice: the second execution goes through the cache
SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;
SELECT count(*) FROM iuc_t WHERE a = 3;
SELECT count(*) FROM iuc_t WHERE a = 4;
SELECT * FROM iuc_report;

-- Forget everything; B (the primary key) is the first new entry and takes
-- the memory of A's entry.  Then A again: it must come back as a new entry
-- with one execution, and B keep its own.
SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;
SELECT count(*) FROM iuc_t WHERE id = 5;
SELECT count(*) FROM iuc_t WHERE a = 5;
SELECT * FROM iuc_report;

DROP VIEW iuc_report;
DROP TABLE iuc_t;

--
-- pgplumb.statements: columns, normalization, counters, track settings
--
SET pgplumb.track = 'top';
SET pgplumb.track_utility = on;
SET pgplumb.track_planning = off;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
RESET client_min_messages;

-- The view has every pg_stat_statements 1.10 column, in the same order,
-- then pgplumb's own columns.
SELECT string_agg(attname, ', ' ORDER BY attnum) AS columns
  FROM pg_attribute
 WHERE attrelid = 'pgplumb.statements'::regclass AND attnum > 0;

SELECT (SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = 'pg_stat_statements'::regclass AND attnum > 0)
     = (SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = 'pgplumb.statements'::regclass AND attnum > 0
           AND attname::text NOT LIKE 'p_%_exec_time'
           AND attname::text NOT IN ('errors', 'cancels', 'timeouts',
                                     'first_seen', 'last_seen'))
       AS same_as_pg_stat_statements;

CREATE TABLE pp_stmt_t (id int PRIMARY KEY, name text);
SELECT pgplumb.reset() IS NOT NULL AS t;

-- Constants become $n; the same shape with other constants is one entry
INSERT INTO pp_stmt_t VALUES (1, 'one'), (2, 'two');
INSERT INTO pp_stmt_t VALUES (3, 'three'), (4, 'four');
SELECT name FROM pp_stmt_t WHERE id = 1;
SELECT name FROM pp_stmt_t WHERE id = 2;
SELECT name FROM pp_stmt_t WHERE id = -3;
SELECT name FROM pp_stmt_t WHERE id > 0 AND name <> 'x' ORDER BY id LIMIT 3;
SELECT 'a string' || $$dollar$$ AS s, 1.5::numeric AS n;
UPDATE pp_stmt_t SET name = name || '!' WHERE id IN (1, 2);
DELETE FROM pp_stmt_t WHERE id = 4;
-- an explicit parameter keeps its number; constants follow it
PREPARE pp_stmt_p(int) AS SELECT name FROM pp_stmt_t WHERE id = $1 AND name <> 'zz';
EXECUTE pp_stmt_p(1);
EXECUTE pp_stmt_p(2);
DEALLOCATE pp_stmt_p;

SELECT query, calls, rows, toplevel
  FROM pgplumb.statements
 WHERE query LIKE '%pp_stmt_t%'
 ORDER BY query COLLATE "C";

-- Times, percentiles, seen times and the histogram are consistent
SELECT calls,
       total_exec_time > 0 AS total,
       min_exec_time <= mean_exec_time AND mean_exec_time <= max_exec_time AS min_mean_max,
       p50_exec_time BETWEEN min_exec_time AND max_exec_time AS p50_in_range,
       p50_exec_time <= p95_exec_time AND p95_exec_time <= p99_exec_time
         AND p99_exec_time <= p999_exec_time AS p_ordered,
       first_seen <= last_seen AS seen_ordered,
       last_seen <= now() AS seen_past,
       errors = 0 AND cancels = 0 AND timeouts = 0 AS no_errors,
       shared_blks_hit + shared_blks_read > 0 AS blocks
  FROM pgplumb.statements
 WHERE query = 'SELECT name FROM pp_stmt_t WHERE id > $1 AND name <> $2 ORDER BY id LIMIT $3'
    OR query = 'INSERT INTO pp_stmt_t VALUES ($1, $2), ($3, $4)'
 ORDER BY calls;

SELECT sum(count) AS histogram_count,
       bool_and(lower_ms < upper_ms) AS bounds_ordered
  FROM pgplumb.statements s,
       pgplumb.statement_histogram(s.queryid) h
 WHERE s.query LIKE 'INSERT INTO pp_stmt_t%';

-- WAL is counted for writes
SELECT wal_records > 0 AS wal_records, wal_bytes > 0 AS wal_bytes
  FROM pgplumb.statements WHERE query LIKE 'UPDATE pp_stmt_t%';

-- statement_text: the normalized text of a query id; NULL when unknown
SELECT pgplumb.statement_text(queryid) AS text
  FROM pgplumb.statements WHERE query LIKE 'DELETE FROM pp_stmt_t%';
SELECT pgplumb.statement_text(12345) IS NULL AS unknown_is_null;
SELECT pgplumb.statement_text(NULL) IS NULL AS null_is_null;

-- queryid is PostgreSQL's own: the same as pg_stat_statements'
SELECT count(*) > 0 AS some, bool_and(p.queryid IS NOT NULL) AS all_in_pgss
  FROM pgplumb.statements s
  LEFT JOIN pg_stat_statements p
    ON p.queryid = s.queryid AND p.userid = s.userid AND p.dbid = s.dbid
       AND p.toplevel = s.toplevel
 WHERE s.query LIKE '%pp_stmt_t%';

--
-- pgplumb.track_utility
--
SELECT pgplumb.reset() IS NOT NULL AS t;
SET pgplumb.track_utility = off;
CREATE TABLE pp_stmt_u1 (a int);
DROP TABLE pp_stmt_u1;
SET pgplumb.track_utility = on;
CREATE TABLE pp_stmt_u2 (a int);
DROP TABLE pp_stmt_u2;
SELECT query, calls FROM pgplumb.statements
 WHERE query LIKE '%pp_stmt_u%' ORDER BY query COLLATE "C";

--
-- pgplumb.track: none, top, all
--
SELECT pgplumb.reset() IS NOT NULL AS t;
CREATE FUNCTION pp_stmt_f(int) RETURNS bigint LANGUAGE plpgsql AS
$$ BEGIN RETURN (SELECT count(*) FROM pp_stmt_t WHERE id <= $1); END $$;
SET pgplumb.track = 'none';
SELECT pp_stmt_f(1) AS n;
SET pgplumb.track = 'top';
SELECT pp_stmt_f(2) AS n;
SET pgplumb.track = 'all';
SELECT pp_stmt_f(3) AS n;
SET pgplumb.track = 'top';
SELECT query, calls, rows, toplevel FROM pgplumb.statements
 WHERE query LIKE '%pp_stmt_f%' OR query LIKE '%FROM pp_stmt_t WHERE id <=%'
 ORDER BY query COLLATE "C", toplevel;

--
-- pgplumb.track_planning
--
SELECT pgplumb.reset() IS NOT NULL AS t;
SET pgplumb.track_planning = off;
SELECT id FROM pp_stmt_t WHERE id = 1 AND name IS NOT NULL;
SET pgplumb.track_planning = on;
SELECT id FROM pp_stmt_t WHERE id = 2 AND name IS NOT NULL;
SELECT id FROM pp_stmt_t WHERE id = 3 AND name IS NOT NULL;
SET pgplumb.track_planning = off;
SELECT query, plans, calls, total_plan_time > 0 AS plan_time,
       min_plan_time <= max_plan_time AS plan_min_max
  FROM pgplumb.statements
 WHERE query LIKE '%name IS NOT NULL%';

--
-- reset by queryid, by user and by database
--
SELECT name FROM pp_stmt_t WHERE id = 1;
SELECT count(*) FROM pp_stmt_t;
SELECT pgplumb.reset(0, 0, queryid) IS NOT NULL AS t
  FROM pgplumb.statements WHERE query = 'SELECT count(*) FROM pp_stmt_t';
SELECT query FROM pgplumb.statements
 WHERE query IN ('SELECT count(*) FROM pp_stmt_t', 'SELECT name FROM pp_stmt_t WHERE id = $1')
 ORDER BY query COLLATE "C";
SELECT pgplumb.reset(0, (SELECT oid FROM pg_database WHERE datname = current_database())) IS NOT NULL AS t;
SELECT count(*) AS after_db_reset FROM pgplumb.statements
 WHERE query = 'SELECT name FROM pp_stmt_t WHERE id = $1';
SELECT name FROM pp_stmt_t WHERE id = 1;
SELECT pgplumb.reset(current_user::regrole) IS NOT NULL AS t;
SELECT count(*) AS after_user_reset FROM pgplumb.statements
 WHERE query = 'SELECT name FROM pp_stmt_t WHERE id = $1';
SELECT entries >= 1 AS entries, evictions, max_entries FROM pgplumb.info;

-- after a reset, a statement this session ran before gets its normalized
-- text again (the session's memory of existing entries is invalidated)
SELECT name FROM pp_stmt_t WHERE id = 2;
SELECT name FROM pp_stmt_t WHERE id = 2;
SELECT pgplumb.reset() IS NOT NULL AS t;
SELECT name FROM pp_stmt_t WHERE id = 3;
SELECT query, calls FROM pgplumb.statements
 WHERE query LIKE 'SELECT name FROM pp_stmt_t WHERE id%';

DROP FUNCTION pp_stmt_f(int);
DROP TABLE pp_stmt_t;

--
-- Each backend caches where its statements' entries are and counts into
-- them without a lookup.  An entry removed since (reset, eviction) must
-- never be counted into through that cache, not even when its slot now
-- holds another statement's entry.
--
SET pgplumb.track = 'top';
SELECT pgplumb.reset() IS NOT NULL AS t;

-- A runs twice: the second execution is counted through the cache
SELECT 1 AS pp_cache_a;
SELECT 1 AS pp_cache_a;
SELECT query, calls FROM pgplumb.statements
 WHERE query LIKE '%pp_cache_%' AND query NOT LIKE '%pgplumb%' ORDER BY query;

-- Remove A alone; the next new entry (B; another shape: aliases are not
-- part of a query id) takes A's slot
SELECT count(pgplumb.reset(0, 0, queryid)) AS removed
  FROM pgplumb.statements WHERE query = 'SELECT $1 AS pp_cache_a';
SELECT 2, 3 AS pp_cache_b;

-- A again: its cached slot now holds B.  A must come back as a new entry
-- with one call, and B must keep its own single call.
SELECT 1 AS pp_cache_a;
SELECT query, calls FROM pgplumb.statements
 WHERE query LIKE '%pp_cache_%' AND query NOT LIKE '%pgplumb%' ORDER BY query;

-- The same after a full reset, with A and B run again in the other order
SELECT pgplumb.reset() IS NOT NULL AS t;
SELECT 2, 3 AS pp_cache_b;
SELECT 1 AS pp_cache_a;
SELECT 1 AS pp_cache_a;
SELECT query, calls FROM pgplumb.statements
 WHERE query LIKE '%pp_cache_%' AND query NOT LIKE '%pgplumb%' ORDER BY query;

-- pgplumb.c measures at most 16 open executions itself; deeper ones fall
-- back to executor instrumentation.  30 nested levels, each open while the
-- ones below run: every level is counted, with rows and time.
CREATE FUNCTION pp_cache_depth(n int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	IF n = 0 THEN
		RETURN 0;
	END IF;
	RETURN 1 + (SELECT pp_cache_depth(n - 1));
END $$;
SET pgplumb.track = 'all';
SELECT pgplumb.reset() IS NOT NULL AS t;
SELECT pp_cache_depth(30);
SET pgplumb.track = 'top';
SELECT toplevel, calls, rows, total_exec_time > 0 AS timed,
       min_exec_time > 0 AS all_timed
  FROM pgplumb.statements
 WHERE query LIKE '%pp_cache_depth%' AND query NOT LIKE '%pgplumb%'
 ORDER BY toplevel;
DROP FUNCTION pp_cache_depth(int);

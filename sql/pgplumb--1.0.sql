/* sql/pgplumb--1.0.sql -- install script of pgplumb 1.0 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pgplumb" to load this file. \quit

-- Each collector owns one section below; keep edits inside your section.

-- ==== statements ====

-- The views below are for everyone (rows of other users show no text)
GRANT USAGE ON SCHEMA pgplumb TO PUBLIC;

-- Every row of the statements collector (showtext = false leaves query NULL)
CREATE FUNCTION _statements(IN showtext boolean,
    OUT userid oid,
    OUT dbid oid,
    OUT toplevel bool,
    OUT queryid bigint,
    OUT query text,
    OUT plans int8,
    OUT total_plan_time float8,
    OUT min_plan_time float8,
    OUT max_plan_time float8,
    OUT mean_plan_time float8,
    OUT stddev_plan_time float8,
    OUT calls int8,
    OUT total_exec_time float8,
    OUT min_exec_time float8,
    OUT max_exec_time float8,
    OUT mean_exec_time float8,
    OUT stddev_exec_time float8,
    OUT rows int8,
    OUT shared_blks_hit int8,
    OUT shared_blks_read int8,
    OUT shared_blks_dirtied int8,
    OUT shared_blks_written int8,
    OUT local_blks_hit int8,
    OUT local_blks_read int8,
    OUT local_blks_dirtied int8,
    OUT local_blks_written int8,
    OUT temp_blks_read int8,
    OUT temp_blks_written int8,
    OUT blk_read_time float8,
    OUT blk_write_time float8,
    OUT temp_blk_read_time float8,
    OUT temp_blk_write_time float8,
    OUT wal_records int8,
    OUT wal_fpi int8,
    OUT wal_bytes numeric,
    OUT jit_functions int8,
    OUT jit_generation_time float8,
    OUT jit_inlining_count int8,
    OUT jit_inlining_time float8,
    OUT jit_optimization_count int8,
    OUT jit_optimization_time float8,
    OUT jit_emission_count int8,
    OUT jit_emission_time float8,
    OUT p50_exec_time float8,
    OUT p95_exec_time float8,
    OUT p99_exec_time float8,
    OUT p999_exec_time float8,
    OUT errors int8,
    OUT cancels int8,
    OUT timeouts int8,
    OUT first_seen timestamptz,
    OUT last_seen timestamptz
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgplumb_statements'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW statements AS
  SELECT * FROM _statements(true);

GRANT SELECT ON statements TO PUBLIC;

-- Normalized text of a query id in the current database (NULL if unknown).
-- Used by the other collectors' views: keep this signature stable.
CREATE FUNCTION statement_text(queryid bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'pgplumb_statement_text'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- Non-empty execution-time buckets of a statement (0 = any user / database)
CREATE FUNCTION statement_histogram(queryid bigint,
    userid oid DEFAULT 0,
    dbid oid DEFAULT 0,
    OUT bucket int,
    OUT lower_ms float8,
    OUT upper_ms float8,
    OUT count int8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgplumb_statement_histogram'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- Errors per SQLSTATE of every statement (queryid = 0) or of one
CREATE FUNCTION statement_errors(queryid bigint DEFAULT 0,
    OUT userid oid,
    OUT dbid oid,
    OUT toplevel bool,
    OUT queryid bigint,
    OUT sqlstate text,
    OUT count int8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgplumb_statement_errors'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- Forget the matching statements (0 = any); all zero resets everything
CREATE FUNCTION reset(userid oid DEFAULT 0,
    dbid oid DEFAULT 0,
    queryid bigint DEFAULT 0)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pgplumb_reset'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

REVOKE ALL ON FUNCTION reset(oid, oid, bigint) FROM PUBLIC;

CREATE FUNCTION _statements_info(
    OUT entries int8,
    OUT max_entries int4,
    OUT evictions int8,
    OUT eviction_runs int8,
    OUT stats_reset timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'pgplumb_statements_info'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW info AS
  SELECT * FROM _statements_info();

GRANT SELECT ON info TO PUBLIC;

-- ==== end statements ====

-- ==== index_usage ====
-- Per-statement index usage, sequential scans, unused and redundant indexes
-- and missing-index advice (extension/index_usage.c).

-- Raw statement entries of every database (the views below filter and name).
-- Row counts (loops, rows, rows_removed) are sums over the sampled
-- executions only.
CREATE FUNCTION pgplumb.index_usage_entries(
	OUT dbid oid,
	OUT queryid bigint,
	OUT relid oid,
	OUT heaprelid oid,
	OUT scan_kind text,
	OUT executions bigint,
	OUT sampled_executions bigint,
	OUT scanned_executions bigint,
	OUT loops float8,
	OUT rows float8,
	OUT rows_removed float8,
	OUT eq_attnums int2[],
	OUT range_attnums int2[],
	OUT other_attnums int2[],
	OUT sort_attnums int2[],
	OUT first_seen timestamptz,
	OUT last_seen timestamptz,
	OUT usage float8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgplumb_index_usage_entries'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- Indexes any tracked statement scanned since the last reset, every database.
CREATE FUNCTION pgplumb.index_usage_indexes(
	OUT dbid oid,
	OUT indexrelid oid,
	OUT first_used timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgplumb_index_usage_indexes'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION pgplumb.index_usage_info(
	OUT entries bigint,
	OUT max_entries integer,
	OUT indexes bigint,
	OUT evictions bigint,
	OUT indexes_not_recorded bigint,
	OUT stats_reset timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'pgplumb_index_usage_info'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW pgplumb.index_usage_info AS
	SELECT * FROM pgplumb.index_usage_info();

CREATE FUNCTION pgplumb.reset_index_usage()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pgplumb_reset_index_usage'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

REVOKE ALL ON FUNCTION pgplumb.reset_index_usage() FROM PUBLIC;

-- The partitioned table (or partitioned index) a partition belongs to
CREATE FUNCTION pgplumb.partition_parent(rel oid)
RETURNS regclass
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT i.inhparent::regclass
	FROM pg_catalog.pg_inherits i
	JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
	WHERE i.inhrelid = rel AND c.relispartition
$$;

-- Names of attributes, in the order given
CREATE FUNCTION pgplumb.attnames(rel oid, attnums int2[])
RETURNS name[]
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT coalesce(array_agg(a.attname ORDER BY u.ord), '{}')
	FROM unnest(attnums) WITH ORDINALITY AS u(attnum, ord)
	JOIN pg_catalog.pg_attribute a ON a.attrelid = rel AND a.attnum = u.attnum
$$;

-- Entries of the current database, with sampled sums scaled to all executions
CREATE VIEW pgplumb.index_usage_scaled AS
	SELECT e.*,
		e.sampled_executions < e.executions AS estimated,
		e.executions::float8 / nullif(e.sampled_executions, 0) AS scale
	FROM pgplumb.index_usage_entries() e
	WHERE e.dbid = (SELECT oid FROM pg_catalog.pg_database
					WHERE datname = pg_catalog.current_database());

CREATE VIEW pgplumb.index_usage AS
	SELECT e.queryid,
		pgplumb.statement_text(e.queryid) AS query,
		e.relid::regclass AS indexrelid,
		e.heaprelid::regclass AS relid,
		pgplumb.partition_parent(e.relid) AS parent_indexrelid,
		pgplumb.partition_parent(e.heaprelid) AS parent_relid,
		e.scan_kind,
		e.executions,
		round(e.scanned_executions * e.scale)::bigint AS scans,
		round(e.loops * e.scale)::bigint AS loops,
		round(e.rows * e.scale)::bigint AS rows,
		round(e.rows_removed * e.scale)::bigint AS rows_removed,
		e.estimated,
		e.first_seen,
		e.last_seen
	FROM pgplumb.index_usage_scaled e
	WHERE e.scan_kind <> 'seq';

CREATE VIEW pgplumb.table_scans AS
	SELECT e.queryid,
		pgplumb.statement_text(e.queryid) AS query,
		e.relid::regclass AS relid,
		pgplumb.partition_parent(e.relid) AS parent_relid,
		e.executions,
		round(e.scanned_executions * e.scale)::bigint AS scans,
		round(e.loops * e.scale)::bigint AS loops,
		round((e.rows + e.rows_removed) * e.scale)::bigint AS rows_examined,
		round(e.rows * e.scale)::bigint AS rows_returned,
		CASE WHEN e.sampled_executions > 0 THEN
			round(((e.rows + e.rows_removed) / greatest(e.rows, 1))::numeric, 1)
		END AS examined_per_returned,
		pgplumb.attnames(e.relid, e.eq_attnums) AS eq_columns,
		pgplumb.attnames(e.relid, e.range_attnums) AS range_columns,
		pgplumb.attnames(e.relid, e.other_attnums) AS other_columns,
		pgplumb.attnames(e.relid, e.sort_attnums) AS sort_columns,
		e.estimated,
		e.first_seen,
		e.last_seen
	FROM pgplumb.index_usage_scaled e
	WHERE e.scan_kind = 'seq';

-- Leaf indexes of user tables in the current database, with their key
-- columns as 1-based arrays
CREATE VIEW pgplumb.index_catalog AS
	SELECT i.indexrelid, i.indrelid, am.amname,
		i.indisunique, i.indisvalid, i.indnkeyatts,
		string_to_array(i.indkey::text, ' ')::int2[] AS cols,
		(string_to_array(i.indkey::text, ' ')::int2[])[1:i.indnkeyatts] AS keys,
		string_to_array(i.indclass::text, ' ')::oid[] AS opclasses,
		string_to_array(i.indcollation::text, ' ')::oid[] AS collations,
		string_to_array(i.indoption::text, ' ')::int2[] AS options,
		pg_catalog.pg_get_expr(i.indexprs, i.indrelid) AS exprs,
		pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS pred,
		con.conname, con.contype
	FROM pg_catalog.pg_index i
	JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
	JOIN pg_catalog.pg_namespace n ON n.oid = ic.relnamespace
	JOIN pg_catalog.pg_am am ON am.oid = ic.relam
	LEFT JOIN pg_catalog.pg_constraint con
		ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')
		AND con.conrelid = i.indrelid
	WHERE ic.relkind = 'i'
		AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'pgplumb')
		AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%';

CREATE VIEW pgplumb.unused_indexes AS
	WITH executions AS (
		SELECT e.relid AS indexrelid, sum(e.executions) AS executions
		FROM pgplumb.index_usage_scaled e
		WHERE e.scan_kind <> 'seq'
		GROUP BY e.relid
	),
	used AS (
		SELECT u.indexrelid, u.first_used, x.executions
		FROM pgplumb.index_usage_indexes() u
		LEFT JOIN executions x ON x.indexrelid = u.indexrelid
		WHERE u.dbid = (SELECT oid FROM pg_catalog.pg_database
						WHERE datname = pg_catalog.current_database())
	),
	-- a is redundant next to b: same table, same access method, and a is an
	-- exact duplicate of b or (btree) its key columns are a leading part of
	-- b's with the same operator classes, collations and orderings
	redundant AS (
		SELECT DISTINCT ON (a.indexrelid)
			a.indexrelid, b.indexrelid AS redundant_of,
			CASE WHEN a.cols = b.cols AND a.indnkeyatts = b.indnkeyatts
				THEN 'duplicate' ELSE 'prefix' END AS redundancy
		FROM pgplumb.index_catalog a
		JOIN pgplumb.index_catalog b
			ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
			AND b.amname = a.amname AND b.indisvalid
		WHERE
			(
				-- exact duplicate; keep the one backing a constraint, then
				-- the unique one, then the older one
				a.cols = b.cols AND a.indnkeyatts = b.indnkeyatts
				AND a.opclasses = b.opclasses AND a.collations = b.collations
				AND a.options = b.options
				AND a.exprs IS NOT DISTINCT FROM b.exprs
				AND a.pred IS NOT DISTINCT FROM b.pred
				AND (a.contype IS NULL, NOT a.indisunique, a.indexrelid)
					> (b.contype IS NULL, NOT b.indisunique, b.indexrelid)
			)
			OR
			(
				-- a's keys are a strict leading part of b's keys; a's INCLUDE
				-- columns are all in b
				a.amname = 'btree'
				AND a.indnkeyatts < b.indnkeyatts
				AND a.keys = b.keys[1:a.indnkeyatts]
				AND a.opclasses[1:a.indnkeyatts] = b.opclasses[1:a.indnkeyatts]
				AND a.collations[1:a.indnkeyatts] = b.collations[1:a.indnkeyatts]
				AND a.options[1:a.indnkeyatts] = b.options[1:a.indnkeyatts]
				AND a.cols <@ b.cols
				AND a.exprs IS NULL AND b.exprs IS NULL
				AND a.pred IS NULL AND b.pred IS NULL
				AND 0 <> ALL (a.cols)
			)
		ORDER BY a.indexrelid, (a.cols = b.cols) DESC, b.indnkeyatts, b.indexrelid
	)
	SELECT ix.indexrelid::regclass AS indexrelid,
		ix.indrelid::regclass AS relid,
		pgplumb.partition_parent(ix.indrelid) AS parent_relid,
		u.indexrelid IS NULL AS unused,
		coalesce(u.executions, 0)::bigint AS executions,
		u.first_used,
		r.redundancy,
		r.redundant_of::regclass AS redundant_of,
		pg_catalog.pg_relation_size(ix.indexrelid) AS index_size,
		pg_catalog.pg_size_pretty(pg_catalog.pg_relation_size(ix.indexrelid)) AS index_size_pretty,
		coalesce(st.n_tup_ins + st.n_tup_upd + st.n_tup_del, 0) AS table_writes,
		coalesce(st.n_tup_ins, 0) AS n_tup_ins,
		coalesce(st.n_tup_upd, 0) AS n_tup_upd,
		coalesce(st.n_tup_del, 0) AS n_tup_del,
		CASE ix.contype
			WHEN 'p' THEN 'primary key'
			WHEN 'u' THEN 'unique constraint'
			WHEN 'x' THEN 'exclusion constraint'
			ELSE CASE WHEN ix.indisunique THEN 'unique index' END
		END AS enforces,
		ix.conname AS constraint_name,
		(ix.contype IS NOT NULL OR ix.indisunique) AS never_drop,
		CASE
			WHEN ix.contype IS NOT NULL
				THEN 'never drop: backs ' ||
					CASE ix.contype WHEN 'p' THEN 'primary key'
						WHEN 'u' THEN 'unique' ELSE 'exclusion' END ||
					' constraint ' || quote_ident(ix.conname)
			WHEN ix.indisunique
				THEN 'never drop: enforces uniqueness'
			WHEN r.redundancy = 'duplicate'
				THEN 'drop candidate: duplicate of ' || r.redundant_of::regclass::text
			WHEN r.redundancy = 'prefix'
				THEN 'drop candidate: leading columns of ' || r.redundant_of::regclass::text
			ELSE 'drop candidate: not used by any tracked statement since ' ||
				(SELECT stats_reset FROM pgplumb.index_usage_info())::text
		END AS advice,
		(SELECT stats_reset FROM pgplumb.index_usage_info()) AS unused_since
	FROM pgplumb.index_catalog ix
	LEFT JOIN used u ON u.indexrelid = ix.indexrelid
	LEFT JOIN redundant r ON r.indexrelid = ix.indexrelid
	LEFT JOIN pg_catalog.pg_stat_all_tables st ON st.relid = ix.indrelid
	WHERE u.indexrelid IS NULL OR r.indexrelid IS NOT NULL;

-- Missing-index advice from sequential scans that examine many rows per row
-- returned on tables that are not tiny.  Scans of partitions are advised on
-- the partitioned table at the root of their tree.
CREATE VIEW pgplumb.index_advice AS
	WITH scans AS (
		SELECT e.queryid, e.relid AS scanned,
			coalesce(pg_catalog.pg_partition_root(e.relid)::oid, e.relid) AS target,
			-- equality columns in column order, so that statements filtering
			-- on the same columns get the same advice
			pgplumb.attnames(e.relid, ARRAY(SELECT a FROM unnest(e.eq_attnums) a ORDER BY a))
				AS eq_columns,
			pgplumb.attnames(e.relid, e.range_attnums) AS range_columns,
			pgplumb.attnames(e.relid, e.sort_attnums) AS sort_columns,
			e.eq_attnums,
			e.eq_attnums || e.range_attnums AS filter_attnums,
			e.executions,
			(e.rows + e.rows_removed) * e.scale AS examined,
			e.rows * e.scale AS returned,
			e.loops * e.scale AS loops,
			e.estimated,
			c.reltuples
		FROM pgplumb.index_usage_scaled e
		JOIN pg_catalog.pg_class c ON c.oid = e.relid
		WHERE e.scan_kind = 'seq' AND e.sampled_executions > 0
			AND c.relpersistence <> 't'		-- a temporary table dies with its session
			AND cardinality(e.eq_attnums) + cardinality(e.range_attnums) > 0
	),
	-- the advised key columns: equality, then range, then sort columns
	advised AS (
		SELECT s.*,
			s.eq_columns || s.range_columns ||
				ARRAY(SELECT c FROM unnest(s.sort_columns) WITH ORDINALITY AS x(c, o)
					  WHERE c <> ALL (s.eq_columns || s.range_columns) ORDER BY o)
				AS columns
		FROM scans s
		-- not when an index on the scanned table already starts with these
		-- filter columns (equality columns in any order)
		WHERE NOT EXISTS (
			SELECT 1 FROM pgplumb.index_catalog ix
			WHERE ix.indrelid = s.scanned AND ix.indisvalid AND ix.pred IS NULL
				AND ix.indnkeyatts >= cardinality(s.filter_attnums)
				AND ix.keys[1:cardinality(s.eq_attnums)] @> s.filter_attnums[1:cardinality(s.eq_attnums)]
				AND ix.keys[1:cardinality(s.eq_attnums)] <@ s.filter_attnums[1:cardinality(s.eq_attnums)]
				AND ix.keys[cardinality(s.eq_attnums) + 1:cardinality(s.filter_attnums)]
					= s.filter_attnums[cardinality(s.eq_attnums) + 1:cardinality(s.filter_attnums)]
		)
	),
	-- one row per statement and advised index (a statement may scan
	-- several partitions)
	per_statement AS (
		SELECT a.target, a.columns, a.eq_columns, a.range_columns,
			a.sort_columns, a.queryid,
			array_agg(a.scanned) AS scanned,
			max(a.executions) AS executions,
			sum(a.examined) AS examined,
			sum(a.returned) AS returned,
			max(a.reltuples) AS reltuples,
			max(a.examined / nullif(a.loops, 0)) AS examined_per_loop,
			bool_or(a.estimated) AS estimated
		FROM advised a
		GROUP BY a.target, a.columns, a.eq_columns, a.range_columns,
			a.sort_columns, a.queryid
	),
	-- statements worth an index: big table, many rows examined per row
	worth AS (
		SELECT p.*
		FROM per_statement p
		WHERE greatest(p.reltuples, p.examined_per_loop) >=
				pg_catalog.current_setting('pgplumb.advice_min_table_rows')::float8
			AND p.examined / greatest(p.returned, 1) >=
				pg_catalog.current_setting('pgplumb.advice_min_examined_ratio')::float8
	),
	-- the distinct advised indexes; one whose columns lead another advised
	-- index on the same table is folded into it (the longer one serves both)
	indexes AS (
		SELECT DISTINCT w.target, w.columns, w.eq_columns, w.range_columns,
			w.sort_columns
		FROM worth w
		WHERE NOT EXISTS (
			SELECT 1 FROM worth l
			WHERE l.target = w.target
				AND cardinality(l.columns) > cardinality(w.columns)
				AND l.columns[1:cardinality(w.columns)] = w.columns)
	)
	SELECT i.target::regclass AS relid,
		(SELECT array_agg(DISTINCT r::regclass) FROM worth w, unnest(w.scanned) r
		 WHERE w.target = i.target
			AND w.columns = i.columns[1:cardinality(w.columns)]) AS scanned_relids,
		format('CREATE INDEX ON %s (%s)', i.target::regclass,
			   (SELECT string_agg(quote_ident(c), ', ' ORDER BY o)
				FROM unnest(i.columns) WITH ORDINALITY AS x(c, o))) AS advice,
		i.eq_columns,
		i.range_columns,
		i.sort_columns,
		s.queryids,
		ARRAY(SELECT pgplumb.statement_text(q) FROM unnest(s.queryids) AS q
			  ORDER BY q) AS queries,
		(SELECT sum(st.total_exec_time) FROM pgplumb.statements st
		 WHERE st.queryid = ANY (s.queryids)
			AND st.dbid = (SELECT oid FROM pg_catalog.pg_database
						   WHERE datname = pg_catalog.current_database()))
			AS total_exec_time,
		s.executions,
		round(s.examined)::bigint AS rows_examined,
		round(s.returned)::bigint AS rows_returned,
		round((s.examined / greatest(s.returned, 1))::numeric, 1) AS examined_per_returned,
		s.estimated
	FROM indexes i
	CROSS JOIN LATERAL (
		SELECT array_agg(DISTINCT w.queryid ORDER BY w.queryid) AS queryids,
			sum(w.executions)::bigint AS executions,
			sum(w.examined) AS examined,
			sum(w.returned) AS returned,
			bool_or(w.estimated) AS estimated
		FROM worth w
		WHERE w.target = i.target
			AND w.columns = i.columns[1:cardinality(w.columns)]
	) s;

-- Readable by everyone, as pgplumb.statements (statement texts of other
-- users' statements are hidden by pgplumb.statement_text)
GRANT SELECT ON pgplumb.index_usage, pgplumb.table_scans, pgplumb.unused_indexes,
	pgplumb.index_advice, pgplumb.index_usage_info TO PUBLIC;
-- ==== end index_usage ====

-- ==== n_plus_one ====
-- N+1 loops found by the nplusone collector (extension/nplusone.c).

CREATE FUNCTION n_plus_one_findings(
    OUT userid oid,
    OUT dbid oid,
    OUT kind text,
    OUT parent_queryid bigint,
    OUT parent_query text,
    OUT child_queryid bigint,
    OUT child_query text,
    OUT loops bigint,
    OUT total_repeats bigint,
    OUT max_repeats bigint,
    OUT child_rows bigint,
    OUT parent_rows bigint,
    OUT child_exec_time double precision,
    OUT est_saved_time double precision,
    OUT first_seen timestamptz,
    OUT last_seen timestamptz,
    OUT suggestion text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgplumb_n_plus_one'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- One row per (user, database, parent, child, kind).  Times in milliseconds.
-- The texts are those the collector kept when it saw the loop; when it had
-- none (the statement was parsed long before), statement_text() gives the
-- statements collector's text, in the current database.
CREATE VIEW n_plus_one AS
  SELECT userid, dbid, kind,
         parent_queryid,
         COALESCE(parent_query,
                  CASE WHEN parent_queryid IS NOT NULL
                        AND dbid = (SELECT oid FROM pg_database
                                     WHERE datname = current_database())
                       THEN statement_text(parent_queryid) END) AS parent_query,
         child_queryid,
         COALESCE(child_query,
                  CASE WHEN dbid = (SELECT oid FROM pg_database
                                     WHERE datname = current_database())
                       THEN statement_text(child_queryid) END) AS child_query,
         loops, total_repeats, max_repeats,
         round(total_repeats::numeric / loops, 1) AS mean_repeats,
         child_rows, parent_rows,
         child_exec_time, est_saved_time,
         first_seen, last_seen, suggestion
    FROM n_plus_one_findings();

CREATE FUNCTION reset_n_plus_one()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pgplumb_reset_n_plus_one'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- MN+1: one row per parent query with the loops it fed (several child
-- statements per iteration, read or write), biggest saving first.
CREATE VIEW n_plus_one_by_parent AS
  SELECT userid, dbid, parent_queryid, min(parent_query) AS parent_query,
         count(*) AS children,
         array_agg(kind ORDER BY est_saved_time DESC, child_queryid) AS kinds,
         array_agg(child_queryid ORDER BY est_saved_time DESC, child_queryid) AS child_queryids,
         array_agg(child_query ORDER BY est_saved_time DESC, child_queryid) AS child_queries,
         max(loops) AS loops,
         sum(total_repeats) AS child_executions,
         sum(child_exec_time) AS child_exec_time,
         sum(est_saved_time) AS est_saved_time,
         min(first_seen) AS first_seen, max(last_seen) AS last_seen
    FROM n_plus_one
   WHERE parent_queryid IS NOT NULL AND kind <> 'redundant'
   GROUP BY userid, dbid, parent_queryid;

REVOKE ALL ON FUNCTION reset_n_plus_one() FROM PUBLIC;
GRANT SELECT ON n_plus_one TO PUBLIC;
GRANT SELECT ON n_plus_one_by_parent TO PUBLIC;
-- ==== end n_plus_one ====

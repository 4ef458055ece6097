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
-- ==== end index_usage ====

-- ==== n_plus_one ====
-- ==== end n_plus_one ====

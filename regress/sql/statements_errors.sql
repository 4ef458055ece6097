--
-- pgplumb.statements: errors, cancels and statement timeouts, each counted
-- for the statement that raised it, and told apart
--
SET pgplumb.track = 'top';
SET pgplumb.track_utility = on;
CREATE TABLE pp_err_t (id int PRIMARY KEY, v int);
INSERT INTO pp_err_t VALUES (1, 0), (2, 5);
SELECT pgplumb.reset() IS NOT NULL AS t;

-- An error raised during execution (division by a column value)
SELECT 10 / v FROM pp_err_t WHERE id = 1;
SELECT 10 / v FROM pp_err_t WHERE id = 1;
-- the same statement succeeding
SELECT 10 / v FROM pp_err_t WHERE id = 2;
-- an error raised while planning (constant folding)
SELECT 1 / 0 AS planned;
-- a unique violation
INSERT INTO pp_err_t VALUES (1, 1);
-- an error in a utility statement
CREATE TABLE pp_err_t (id int);

-- A user cancel: the backend cancels itself, the sleep sees it
SELECT pg_cancel_backend(pg_backend_pid()), pg_sleep(5);

-- A statement timeout
SET statement_timeout = '200ms';
SELECT pg_sleep(3) AS too_long;
RESET statement_timeout;

SELECT query, calls, errors, cancels, timeouts
  FROM pgplumb.statements
 WHERE errors > 0 OR query LIKE '%pp_err_t%'
 ORDER BY query COLLATE "C";

-- Errors per SQLSTATE
SELECT s.query, e.sqlstate, e.count
  FROM pgplumb.statement_errors() e
  JOIN pgplumb.statements s USING (userid, dbid, toplevel, queryid)
 ORDER BY s.query COLLATE "C", e.sqlstate COLLATE "C";

-- ... and for one query id
SELECT e.sqlstate, e.count
  FROM pgplumb.statements s,
       pgplumb.statement_errors(s.queryid) e
 WHERE s.query LIKE 'SELECT pg_sleep%';

-- Errors inside a function count for the top level statement that called it
CREATE FUNCTION pp_err_f() RETURNS int LANGUAGE plpgsql AS
$$ BEGIN RETURN (SELECT 1 / (v - v) FROM pp_err_t WHERE id = 2); END $$;
SELECT pp_err_f();
SELECT query, calls, errors FROM pgplumb.statements
 WHERE query LIKE '%pp_err_f%' ORDER BY query COLLATE "C";
-- with pgplumb.track = all, the nested statement counts it too
SET pgplumb.track = 'all';
SELECT pp_err_f();
SET pgplumb.track = 'top';
SELECT query, toplevel, calls, errors FROM pgplumb.statements
 WHERE query LIKE '%pp_err_f%' OR query LIKE '%v - v%'
 ORDER BY query COLLATE "C", toplevel;

-- An error caught by an exception block counts for the nested statement
-- that raised it (pgplumb.track = all), not for the DO that caught it
SELECT pgplumb.reset() IS NOT NULL AS t;
SET pgplumb.track = 'all';
DO $$ BEGIN PERFORM 1 / (v - v) FROM pp_err_t WHERE id = 2;
EXCEPTION WHEN division_by_zero THEN NULL; END $$;
SET pgplumb.track = 'top';
SELECT query, toplevel, calls, errors FROM pgplumb.statements
 WHERE query LIKE '%v - v%' ORDER BY query COLLATE "C";

-- Errors at the top level inside a transaction block and inside a
-- savepoint: each counted once, and the statements after them are counted
-- as top level statements again
SELECT pgplumb.reset() IS NOT NULL AS t;
BEGIN;
SELECT 10 / v AS in_xact FROM pp_err_t WHERE id = 1;
ROLLBACK;
BEGIN;
SAVEPOINT pp_s1;
SELECT 10 / v AS in_savepoint FROM pp_err_t WHERE id = 1 AND v < 100;
ROLLBACK TO SAVEPOINT pp_s1;
SELECT 10 / v AS in_savepoint FROM pp_err_t WHERE id = 2 AND v < 100;
SAVEPOINT pp_s2;
CREATE TABLE pp_err_t (id int);
ROLLBACK TO SAVEPOINT pp_s2;
COMMIT;
SELECT 10 / v AS in_xact FROM pp_err_t WHERE id = 2;
-- a transaction statement that fails
SAVEPOINT pp_outside;
-- ... and one that fails in a block that failed already (which aborts
-- nothing more): the statements after it are counted again
BEGIN;
SELECT 10 / v AS in_aborted FROM pp_err_t WHERE id = 1 AND v IS NOT NULL;
ROLLBACK TO SAVEPOINT pp_nope;
ROLLBACK;
SELECT 10 / v AS in_aborted FROM pp_err_t WHERE id = 2 AND v IS NOT NULL;
SELECT 10 / v AS in_aborted FROM pp_err_t WHERE id = 2 AND v IS NOT NULL;
-- an error raised in ExecutorStart (the permission check), with the role
-- that ran the statement
CREATE ROLE pp_err_role;
SET ROLE pp_err_role;
SELECT v AS denied FROM pp_err_t;
RESET ROLE;
-- an error caught inside a function called by a top level statement is no
-- error of that statement
CREATE FUNCTION pp_catch_f() RETURNS int LANGUAGE plpgsql AS
$$ BEGIN RETURN (SELECT 1 / (v - v) FROM pp_err_t WHERE id = 2);
EXCEPTION WHEN division_by_zero THEN RETURN -1; END $$;
SELECT pp_catch_f() AS caught;
SELECT pp_catch_f() AS caught;
-- a procedure that rolls its transaction back raised no error
CREATE PROCEDURE pp_rollback_p() LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO pp_err_t VALUES (3, 3); ROLLBACK; END $$;
CALL pp_rollback_p();
CALL pp_rollback_p();
SELECT query, toplevel, calls, errors, r.rolname
  FROM pgplumb.statements s JOIN pg_roles r ON r.oid = s.userid
 WHERE query ~ '(in_xact|in_savepoint|in_aborted|pp_nope|denied|caught|pp_rollback_p|CREATE TABLE|pp_outside)'
 ORDER BY query COLLATE "C";
SELECT s.query, e.sqlstate, e.count
  FROM pgplumb.statement_errors() e
  JOIN pgplumb.statements s USING (userid, dbid, toplevel, queryid)
 ORDER BY s.query COLLATE "C", e.sqlstate COLLATE "C";

DROP PROCEDURE pp_rollback_p();
DROP FUNCTION pp_catch_f();
DROP ROLE pp_err_role;
DROP FUNCTION pp_err_f();
DROP TABLE pp_err_t;

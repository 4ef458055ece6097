--
-- pgplumb.statements privileges: other users' texts are hidden without
-- pg_read_all_stats; reset is for superusers and roles granted EXECUTE
--
SET pgplumb.track = 'top';
CREATE ROLE pp_priv_alice;
CREATE ROLE pp_priv_bob;
CREATE ROLE pp_priv_stats IN ROLE pg_read_all_stats;
CREATE TABLE pp_priv_t (id int);
GRANT SELECT ON pp_priv_t TO pp_priv_alice, pp_priv_bob;
SELECT pgplumb.reset() IS NOT NULL AS t;

SET ROLE pp_priv_alice;
SELECT count(*) FROM pp_priv_t WHERE id = 1;
RESET ROLE;
SET ROLE pp_priv_bob;
SELECT count(*) FROM pp_priv_t WHERE id > 2;

-- bob sees his own text and query id, not alice's
SELECT userid::regrole, queryid IS NOT NULL AS queryid_shown, query, calls
  FROM pgplumb.statements
 WHERE userid::regrole::text LIKE 'pp_priv_%'
   AND (query LIKE '%FROM pp_priv_t%' OR query = '<insufficient privilege>')
 ORDER BY userid::regrole::text COLLATE "C", query COLLATE "C";
SELECT pgplumb.statement_text(queryid) AS own_text
  FROM pgplumb.statements WHERE query LIKE '%id > $1';
-- bob may not reset
SELECT pgplumb.reset();
RESET ROLE;

-- alice's query id, as bob would ask for its text
SELECT queryid AS alice_queryid FROM pgplumb.statements
 WHERE userid = 'pp_priv_alice'::regrole AND query LIKE 'SELECT count%' \gset
SET ROLE pp_priv_bob;
SELECT pgplumb.statement_text(:alice_queryid) AS alice_text;
RESET ROLE;

-- a member of pg_read_all_stats sees everything
SET ROLE pp_priv_stats;
SELECT userid::regrole, queryid IS NOT NULL AS queryid_shown, query
  FROM pgplumb.statements
 WHERE userid::regrole::text LIKE 'pp_priv_%'
   AND (query LIKE '%FROM pp_priv_t%' OR query = '<insufficient privilege>')
 ORDER BY userid::regrole::text COLLATE "C", query COLLATE "C";
SELECT pgplumb.statement_text(:alice_queryid) AS alice_text;
RESET ROLE;

-- a role granted EXECUTE may reset
GRANT EXECUTE ON FUNCTION pgplumb.reset(oid, oid, bigint) TO pp_priv_bob;
SET ROLE pp_priv_bob;
SELECT pgplumb.reset('pp_priv_alice'::regrole) IS NOT NULL AS t;
RESET ROLE;
SELECT userid::regrole, query FROM pgplumb.statements
 WHERE userid::regrole::text LIKE 'pp_priv_%'
   AND (query LIKE '%FROM pp_priv_t%' OR query = '<insufficient privilege>')
 ORDER BY userid::regrole::text COLLATE "C", query COLLATE "C";

REVOKE EXECUTE ON FUNCTION pgplumb.reset(oid, oid, bigint) FROM pp_priv_bob;
REVOKE SELECT ON pp_priv_t FROM pp_priv_alice, pp_priv_bob;
DROP TABLE pp_priv_t;
SELECT pgplumb.reset() IS NOT NULL AS t;
DROP ROLE pp_priv_alice;
DROP ROLE pp_priv_bob;
DROP ROLE pp_priv_stats;

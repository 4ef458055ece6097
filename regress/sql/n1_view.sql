-- pgplumb.n_plus_one: loops found in this session, their parent, and the
-- suggested rewrite.  Gaps are not under test here (regress/t/n1_corpus.sh
-- is): the loop rhythm settings are relaxed so that a loaded machine cannot
-- split a loop.
SET pgplumb.n_plus_one_max_gap = '10s';
SET pgplumb.n_plus_one_idle_gap = '10s';
SET pgplumb.n_plus_one_pipeline_gap = 0;

CREATE TABLE n1_authors (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE n1_posts (id int PRIMARY KEY,
                       author_id int NOT NULL REFERENCES n1_authors (id),
                       title text NOT NULL);
CREATE TABLE n1_comments (id int PRIMARY KEY,
                          post_id int NOT NULL REFERENCES n1_posts (id),
                          body text NOT NULL);
INSERT INTO n1_authors SELECT g, 'author ' || g FROM generate_series(1, 10) g;
INSERT INTO n1_posts SELECT g, 1 + g % 10, 'post ' || g FROM generate_series(1, 20) g;
INSERT INTO n1_comments SELECT g, 1 + g % 20, 'comment ' || g FROM generate_series(1, 60) g;

SELECT pgplumb.reset_n_plus_one() IS NOT NULL AS t;

-- Nothing yet
SELECT count(*) FROM pgplumb.n_plus_one;

-- A belongs-to N+1: the posts, then the author of each post
SELECT id, author_id FROM n1_posts WHERE id <= 6 ORDER BY id;
SELECT name FROM n1_authors WHERE id = 2;
SELECT name FROM n1_authors WHERE id = 3;
SELECT name FROM n1_authors WHERE id = 4;
SELECT name FROM n1_authors WHERE id = 5;
SELECT name FROM n1_authors WHERE id = 6;
SELECT name FROM n1_authors WHERE id = 7;

SELECT kind, parent_query, child_query, loops, total_repeats, max_repeats,
       mean_repeats, child_rows, parent_rows,
       child_exec_time > 0 AS exec_time, est_saved_time >= 0 AS saved_time,
       first_seen <= last_seen AS seen, userid = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS userid,
       dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AS dbid
  FROM pgplumb.n_plus_one;
SELECT suggestion FROM pgplumb.n_plus_one WHERE kind = 'n_plus_one';

-- The suggested batch returns the rows the loop fetched one by one
SELECT count(*) FROM n1_authors WHERE id = ANY('{2,3,4,5,6,7}');

-- The same loop again: one more loop on the same row
SELECT id, author_id FROM n1_posts WHERE id <= 6 ORDER BY id;
SELECT name FROM n1_authors WHERE id = 8;
SELECT name FROM n1_authors WHERE id = 9;
SELECT name FROM n1_authors WHERE id = 10;
SELECT name FROM n1_authors WHERE id = 1;
SELECT name FROM n1_authors WHERE id = 2;
SELECT name FROM n1_authors WHERE id = 3;
SELECT name FROM n1_authors WHERE id = 4;
SELECT kind, loops, total_repeats, max_repeats FROM pgplumb.n_plus_one;

-- A has-many loop with a per-post LIMIT: LATERAL forms
SELECT pgplumb.reset_n_plus_one() IS NOT NULL AS t;
SELECT id, title FROM n1_posts WHERE id BETWEEN 11 AND 15 ORDER BY id;
SELECT body FROM n1_comments WHERE post_id = 11 ORDER BY id LIMIT 2;
SELECT body FROM n1_comments WHERE post_id = 12 ORDER BY id LIMIT 2;
SELECT body FROM n1_comments WHERE post_id = 13 ORDER BY id LIMIT 2;
SELECT body FROM n1_comments WHERE post_id = 14 ORDER BY id LIMIT 2;
SELECT body FROM n1_comments WHERE post_id = 15 ORDER BY id LIMIT 2;
SELECT kind, parent_query, child_query, total_repeats, child_rows, parent_rows
  FROM pgplumb.n_plus_one;
SELECT suggestion FROM pgplumb.n_plus_one;

-- Write loops: one-row INSERTs, one-row UPDATEs
SELECT pgplumb.reset_n_plus_one() IS NOT NULL AS t;
INSERT INTO n1_authors VALUES (101, 'new 101');
INSERT INTO n1_authors VALUES (102, 'new 102');
INSERT INTO n1_authors VALUES (103, 'new 103');
INSERT INTO n1_authors VALUES (104, 'new 104');
INSERT INTO n1_authors VALUES (105, 'new 105');
UPDATE n1_authors SET name = 'renamed' WHERE id = 101;
UPDATE n1_authors SET name = 'renamed' WHERE id = 102;
UPDATE n1_authors SET name = 'renamed' WHERE id = 103;
UPDATE n1_authors SET name = 'renamed' WHERE id = 104;
UPDATE n1_authors SET name = 'renamed' WHERE id = 105;
SELECT kind, child_query, total_repeats, child_rows, suggestion
  FROM pgplumb.n_plus_one ORDER BY child_query COLLATE "C";

-- Redundant: the same statement with the same parameters
SELECT pgplumb.reset_n_plus_one() IS NOT NULL AS t;
SELECT name FROM n1_authors WHERE id = 1;
SELECT name FROM n1_authors WHERE id = 1;
SELECT name FROM n1_authors WHERE id = 1;
SELECT name FROM n1_authors WHERE id = 1;
SELECT name FROM n1_authors WHERE id = 1;
SELECT kind, child_query, total_repeats, suggestion FROM pgplumb.n_plus_one;

-- Look-alikes: one batch, a loop of 4, a multi-statement string, and a
-- loop split by transactions into loops of 3
SELECT pgplumb.reset_n_plus_one() IS NOT NULL AS t;
SELECT id, author_id FROM n1_posts WHERE id <= 6 ORDER BY id;
SELECT name FROM n1_authors WHERE id = ANY('{2,3,4,5,6,7}') ORDER BY id;
SELECT name FROM n1_authors WHERE id = 2;
SELECT name FROM n1_authors WHERE id = 3;
SELECT name FROM n1_authors WHERE id = 4;
SELECT name FROM n1_authors WHERE id = 5;
SELECT count(*) FROM pgplumb.n_plus_one;
SELECT name FROM n1_authors WHERE id = 2 \; SELECT name FROM n1_authors WHERE id = 3 \; SELECT name FROM n1_authors WHERE id = 4 \; SELECT name FROM n1_authors WHERE id = 5 \; SELECT name FROM n1_authors WHERE id = 6 \; SELECT name FROM n1_authors WHERE id = 7;
SELECT count(*) FROM pgplumb.n_plus_one;
BEGIN;
SELECT name FROM n1_authors WHERE id = 2;
SELECT name FROM n1_authors WHERE id = 3;
SELECT name FROM n1_authors WHERE id = 4;
COMMIT;
BEGIN;
SELECT name FROM n1_authors WHERE id = 5;
SELECT name FROM n1_authors WHERE id = 6;
SELECT name FROM n1_authors WHERE id = 7;
COMMIT;
SELECT count(*) FROM pgplumb.n_plus_one;

-- A loop inside one transaction block is found
BEGIN;
SELECT id, author_id FROM n1_posts WHERE id <= 6 ORDER BY id;
SELECT name FROM n1_authors WHERE id = 2;
SELECT name FROM n1_authors WHERE id = 3;
SELECT name FROM n1_authors WHERE id = 4;
SELECT name FROM n1_authors WHERE id = 5;
SELECT name FROM n1_authors WHERE id = 6;
COMMIT;
SELECT kind, total_repeats FROM pgplumb.n_plus_one;

-- A loop whose iterations each run in their own transaction (an ORM that
-- commits every statement, a save() per row in a transaction) is one loop,
-- with the parent read before it
SELECT pgplumb.reset_n_plus_one() IS NOT NULL AS t;
SELECT id, author_id FROM n1_posts WHERE id <= 6 ORDER BY id;
BEGIN; SELECT name FROM n1_authors WHERE id = 2; COMMIT;
BEGIN; SELECT name FROM n1_authors WHERE id = 3; COMMIT;
BEGIN; SELECT name FROM n1_authors WHERE id = 4; COMMIT;
BEGIN; SELECT name FROM n1_authors WHERE id = 5; COMMIT;
BEGIN; SELECT name FROM n1_authors WHERE id = 6; COMMIT;
BEGIN; SELECT name FROM n1_authors WHERE id = 7; COMMIT;
SELECT kind, parent_query, child_query, loops, total_repeats FROM pgplumb.n_plus_one;

-- ... unless pgplumb.n_plus_one_span_transactions is off
SET pgplumb.n_plus_one_span_transactions = off;
SELECT pgplumb.reset_n_plus_one() IS NOT NULL AS t;
SELECT id, author_id FROM n1_posts WHERE id <= 6 ORDER BY id;
BEGIN; SELECT name FROM n1_authors WHERE id = 2; COMMIT;
BEGIN; SELECT name FROM n1_authors WHERE id = 3; COMMIT;
BEGIN; SELECT name FROM n1_authors WHERE id = 4; COMMIT;
BEGIN; SELECT name FROM n1_authors WHERE id = 5; COMMIT;
BEGIN; SELECT name FROM n1_authors WHERE id = 6; COMMIT;
BEGIN; SELECT name FROM n1_authors WHERE id = 7; COMMIT;
SELECT count(*) FROM pgplumb.n_plus_one;
RESET pgplumb.n_plus_one_span_transactions;

-- A SELECT that reads no table (a pool's health check or reset) is no loop
SELECT pgplumb.reset_n_plus_one() IS NOT NULL AS t;
SELECT pg_advisory_unlock_all();
SELECT pg_advisory_unlock_all();
SELECT pg_advisory_unlock_all();
SELECT pg_advisory_unlock_all();
SELECT pg_advisory_unlock_all();
SELECT pg_advisory_unlock_all();
SELECT count(*) FROM pgplumb.n_plus_one;

-- MN+1: two child statements per iteration, one row per parent in
-- n_plus_one_by_parent
SELECT pgplumb.reset_n_plus_one() IS NOT NULL AS t;
SELECT id, author_id FROM n1_posts WHERE id <= 5 ORDER BY id;
SELECT name FROM n1_authors WHERE id = 2;
SELECT count(*) FROM n1_comments WHERE post_id = 1;
SELECT name FROM n1_authors WHERE id = 3;
SELECT count(*) FROM n1_comments WHERE post_id = 2;
SELECT name FROM n1_authors WHERE id = 4;
SELECT count(*) FROM n1_comments WHERE post_id = 3;
SELECT name FROM n1_authors WHERE id = 5;
SELECT count(*) FROM n1_comments WHERE post_id = 4;
SELECT name FROM n1_authors WHERE id = 6;
SELECT count(*) FROM n1_comments WHERE post_id = 5;
-- (children are ordered by saving, which depends on timing: sorted here)
SELECT parent_query, children, kinds,
       (SELECT array_agg(q ORDER BY q COLLATE "C") FROM unnest(child_queries) q) AS child_queries,
       loops, child_executions, est_saved_time >= 0 AS saved_time
  FROM pgplumb.n_plus_one_by_parent;
SELECT count(*) FROM pgplumb.n_plus_one;

-- Settings of the N+1 collector: on/off, thresholds, client_id, and who may
-- read and reset the findings.
SET pgplumb.n_plus_one_max_gap = '10s';
SET pgplumb.n_plus_one_idle_gap = '10s';
SET pgplumb.n_plus_one_pipeline_gap = 0;
CREATE TABLE n1s_items (id int PRIMARY KEY, label text NOT NULL);
INSERT INTO n1s_items SELECT g, 'item ' || g FROM generate_series(1, 20) g;

SELECT name, setting, unit, context FROM pg_settings
 WHERE name LIKE 'pgplumb.n\_plus\_one%' OR name = 'pgplumb.client_id'
 ORDER BY name COLLATE "C";

-- Off: nothing is recorded.  (Each loop below follows a parent query: in
-- autocommit, repeated lookups with no parent are independent requests.)
SELECT pgplumb.reset_n_plus_one() IS NOT NULL AS t;
SET pgplumb.n_plus_one = off;
SELECT id FROM n1s_items WHERE id <= 6 ORDER BY id;
SELECT label FROM n1s_items WHERE id = 1;
SELECT label FROM n1s_items WHERE id = 2;
SELECT label FROM n1s_items WHERE id = 3;
SELECT label FROM n1s_items WHERE id = 4;
SELECT label FROM n1s_items WHERE id = 5;
SELECT label FROM n1s_items WHERE id = 6;
SET pgplumb.n_plus_one = on;
SELECT count(*) FROM pgplumb.n_plus_one;

-- A lower threshold finds a loop of 3
SET pgplumb.n_plus_one_min_repeats = 3;
SELECT id FROM n1s_items WHERE id BETWEEN 7 AND 9 ORDER BY id;
SELECT label FROM n1s_items WHERE id = 7;
SELECT label FROM n1s_items WHERE id = 8;
SELECT label FROM n1s_items WHERE id = 9;
SELECT kind, total_repeats FROM pgplumb.n_plus_one;
RESET pgplumb.n_plus_one_min_repeats;

-- client_id: statements of two clients interleaved on one connection are
-- kept apart; client a runs 6 lookups, client b 3.
SELECT pgplumb.reset_n_plus_one() IS NOT NULL AS t;
SET pgplumb.client_id = 'client-a';
SELECT id FROM n1s_items WHERE id <= 6 ORDER BY id;
SELECT label FROM n1s_items WHERE id = 1;
SELECT label FROM n1s_items WHERE id = 2;
SELECT label FROM n1s_items WHERE id = 3;
SET pgplumb.client_id = 'client-b';
SELECT id FROM n1s_items WHERE id BETWEEN 11 AND 13 ORDER BY id;
SELECT label FROM n1s_items WHERE id = 11;
SELECT label FROM n1s_items WHERE id = 12;
SELECT label FROM n1s_items WHERE id = 13;
SET pgplumb.client_id = 'client-a';
SELECT label FROM n1s_items WHERE id = 4;
SELECT label FROM n1s_items WHERE id = 5;
SELECT label FROM n1s_items WHERE id = 6;
SELECT kind, loops, total_repeats FROM pgplumb.n_plus_one;
-- without client_id, the same interleaving is one loop of 9 on this backend
SELECT pgplumb.reset_n_plus_one() IS NOT NULL AS t;
RESET pgplumb.client_id;
SELECT id FROM n1s_items WHERE id <= 13 ORDER BY id;
SELECT label FROM n1s_items WHERE id = 1;
SELECT label FROM n1s_items WHERE id = 2;
SELECT label FROM n1s_items WHERE id = 3;
SELECT label FROM n1s_items WHERE id = 11;
SELECT label FROM n1s_items WHERE id = 12;
SELECT label FROM n1s_items WHERE id = 13;
SELECT label FROM n1s_items WHERE id = 4;
SELECT label FROM n1s_items WHERE id = 5;
SELECT label FROM n1s_items WHERE id = 6;
SELECT kind, loops, total_repeats FROM pgplumb.n_plus_one;

-- Privileges: another user sees no query text of ours and cannot reset
CREATE ROLE n1_reader;
SET ROLE n1_reader;
SELECT kind, child_query, suggestion FROM pgplumb.n_plus_one;
SELECT pgplumb.reset_n_plus_one();
RESET ROLE;
GRANT pg_read_all_stats TO n1_reader;
SET ROLE n1_reader;
SELECT kind, child_query FROM pgplumb.n_plus_one;
RESET ROLE;
DROP ROLE n1_reader;

-- Settings that are out of range are refused
SET pgplumb.n_plus_one_min_repeats = 1;
SET pgplumb.n_plus_one_min_distinct = 100;

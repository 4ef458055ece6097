--
-- unused_indexes: indexes no tracked statement used since the last reset,
-- exact duplicates and leading-column prefixes of another index, and
-- indexes that enforce a constraint (never to be dropped).
--
SET max_parallel_workers_per_gather = 0;
-- count rows in every execution (the default samples some)
SET pgplumb.sample_rate = 1;
CREATE TABLE ui_orders (
	id int PRIMARY KEY,
	customer int NOT NULL,
	status text NOT NULL,
	created date NOT NULL,
	code text NOT NULL UNIQUE,
	during tsrange,
	EXCLUDE USING gist (during WITH &&)
);
CREATE INDEX ui_customer_created ON ui_orders (customer, created);
INSERT INTO ui_orders
	SELECT g, g % 300, CASE WHEN g % 10 = 0 THEN 'new' ELSE 'done' END,
		date '2024-01-01' + g % 365, 'c' || g,
		tsrange(timestamp '2024-01-01' + g * interval '1 hour',
				timestamp '2024-01-01' + g * interval '1 hour' + interval '30 minutes')
	FROM generate_series(1, 3000) g;
UPDATE ui_orders SET status = 'late' WHERE id <= 20;
ANALYZE ui_orders;
-- a second table with an index on a column of the same name
CREATE TABLE ui_other (id int, customer int);
CREATE INDEX ui_other_customer ON ui_other (customer);

SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ui_orders WHERE customer = 7 AND created > date '2024-06-01';
SELECT count(*) FROM ui_orders WHERE customer = 7 AND created > date '2024-06-01';
EXPLAIN (COSTS OFF) SELECT status FROM ui_orders WHERE id = 42;
SELECT status FROM ui_orders WHERE id = 42;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- Indexes created after the workload ran: all unused, several redundant.
CREATE INDEX ui_customer ON ui_orders (customer);					-- prefix
CREATE INDEX ui_customer_created_dup ON ui_orders (customer, created);	-- duplicate
CREATE INDEX ui_customer_incl ON ui_orders (customer) INCLUDE (status);	-- not a prefix: INCLUDE
CREATE INDEX ui_customer_desc ON ui_orders (customer DESC);			-- not a prefix: order
CREATE INDEX ui_status ON ui_orders (status);
CREATE INDEX ui_status_new ON ui_orders (status) WHERE status = 'new';	-- partial: not a duplicate
CREATE INDEX ui_id_dup ON ui_orders (id);							-- duplicate of the primary key
CREATE UNIQUE INDEX ui_code_lower ON ui_orders (lower(code));
CREATE INDEX ui_lower_code ON ui_orders (lower(code));				-- duplicate of a unique index
CREATE INDEX ui_customer_hash ON ui_orders USING hash (customer);		-- other access method
-- make the table's write counters visible to the view
SELECT pg_stat_force_next_flush();

SELECT indexrelid, unused, executions, redundancy, redundant_of, enforces,
		constraint_name, never_drop,
		regexp_replace(advice, ' since .*', ' since <reset>') AS advice
	FROM pgplumb.unused_indexes
	WHERE relid::text LIKE 'ui\_%'
	ORDER BY indexrelid::text COLLATE "C";

-- the write cost and size of each index's table
SELECT DISTINCT relid::text COLLATE "C" AS relid, table_writes, n_tup_ins, n_tup_upd, n_tup_del
	FROM pgplumb.unused_indexes WHERE relid::text LIKE 'ui\_%'
	ORDER BY relid;
SELECT count(*) AS without_size FROM pgplumb.unused_indexes
	WHERE relid::text LIKE 'ui\_%' AND NOT (index_size > 0 AND index_size_pretty <> '');

-- The used indexes are the ones the statements scanned.
SELECT indexrelid, scan_kind, executions FROM pgplumb.index_usage
	WHERE relid::text LIKE 'ui\_%' ORDER BY indexrelid::text COLLATE "C";

-- Constraint-backing and unique indexes are never drop candidates.
SELECT count(*) AS constraint_indexes_advised_to_drop
	FROM pgplumb.unused_indexes u
	JOIN pg_index i ON i.indexrelid = u.indexrelid
	WHERE (i.indisunique OR i.indisprimary OR i.indisexclusion)
		AND (NOT u.never_drop OR u.advice NOT LIKE 'never drop%');

-- After a reset, every index is unused again.
SELECT pgplumb.reset_index_usage() IS NOT NULL AS reset;
SELECT count(*) FILTER (WHERE unused) AS unused, count(*) AS listed
	FROM pgplumb.unused_indexes WHERE relid::text LIKE 'ui\_%';

-- regress/drivers/schema.sql -- the tables the driver workloads use, recreated
-- before every workload run so that the direct run and the pooled run start
-- from the same state.  Each driver has its own tables (prefix np_, pj_, jd_,
-- py_) so a workload never sees another's rows.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS drv CASCADE;
CREATE SCHEMA drv;

CREATE FUNCTION drv.make_tables(p text, nclients int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	-- One row per (client, seq); the unique key is what the workloads violate on purpose.
	EXECUTE format('CREATE TABLE drv.%I (client int NOT NULL, seq int NOT NULL, note text NOT NULL,
	                PRIMARY KEY (client, seq))', p || '_events');
	-- One account per client, updated only by that client.
	EXECUTE format('CREATE TABLE drv.%I (id int PRIMARY KEY, balance int NOT NULL)', p || '_accounts');
	EXECUTE format('INSERT INTO drv.%I SELECT g, 1000 FROM generate_series(0, $1 - 1) g', p || '_accounts')
		USING nclients;
	-- One row every client increments: contention between concurrent transactions.
	EXECUTE format('CREATE TABLE drv.%I (id int PRIMARY KEY, n int NOT NULL)', p || '_counter');
	EXECUTE format('INSERT INTO drv.%I VALUES (1, 0)', p || '_counter');
END $$;

-- 64 accounts: more than any workload's client count.
SELECT drv.make_tables(p, 64) FROM unnest(ARRAY['np', 'pj', 'jd', 'py']) p;

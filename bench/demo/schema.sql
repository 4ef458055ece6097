-- The demo app's schema and data: customers, their orders, and an events log.
-- orders.customer_email has no index on purpose; the demo shows pgplumb's
-- advice for it and applies it.
CREATE EXTENSION IF NOT EXISTS pgplumb;

CREATE TABLE customers (
    id      integer PRIMARY KEY,
    name    text NOT NULL,
    email   text NOT NULL UNIQUE
);

CREATE TABLE orders (
    id             integer PRIMARY KEY,
    customer_id    integer NOT NULL REFERENCES customers,
    customer_email text NOT NULL,
    status         text NOT NULL,
    total          numeric(10,2) NOT NULL,
    created_at     timestamptz NOT NULL
);

CREATE TABLE events (
    id         bigserial PRIMARY KEY,
    kind       text NOT NULL,
    payload    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO customers
SELECT i, 'Customer ' || i, 'customer' || i || '@example.com'
FROM generate_series(0, 1999) AS i;

INSERT INTO orders
SELECT i, i % 2000, 'customer' || (i % 2000) || '@example.com',
       (ARRAY['new', 'paid', 'shipped'])[1 + i % 3],
       (i % 500) + 0.99, now() - (i || ' minutes')::interval
FROM generate_series(1, 100000) AS i;

VACUUM ANALYZE customers, orders, events;

// The demo's sample service: a small Node.js app on node-postgres with a
// pg.Pool, written the way many real services are.  It has three handlers,
// each with a classic performance mistake in its "before" version:
//
//   recentOrders  ORM-style N+1: the orders, then one customer query per order
//   importEvents  one-row INSERTs in a loop
//   ordersByEmail a lookup on a column that has no index (the fix is an index,
//                 so the app code is the same before and after)
//
// Usage: node app.js before|after
// Connection settings come from the usual PG* environment variables.
// Prints one JSON line: handler -> { requests, ms } and the row counts seen,
// so the demo can check that both versions return the same results.
'use strict';

const { Pool } = require('pg');

const mode = process.argv[2];
if (mode !== 'before' && mode !== 'after') {
  console.error('usage: node app.js before|after');
  process.exit(2);
}

const pool = new Pool({ max: 8, application_name: 'demo-app' });

// GET /orders/recent: the 25 newest orders with their customers.
async function recentOrders(page) {
  const client = await pool.connect();
  try {
    // The handler reads one consistent snapshot, as request-scoped ORM
    // sessions do.
    await client.query('BEGIN READ ONLY');
    const orders = await client.query(
      'SELECT id, customer_id, total FROM orders WHERE id <= $1 ORDER BY id DESC LIMIT 25',
      [100000 - page * 25]);
    let customers;
    if (mode === 'before') {
      // What an ORM's lazy loading does: one query per order.
      customers = [];
      for (const o of orders.rows) {
        const c = await client.query(
          'SELECT id, name, email FROM customers WHERE id = $1', [o.customer_id]);
        customers.push(c.rows[0]);
      }
    } else {
      // Eager loading: one query for all of them.
      const ids = [...new Set(orders.rows.map((o) => o.customer_id))];
      const c = await client.query(
        'SELECT id, name, email FROM customers WHERE id = ANY($1)', [ids]);
      const byId = new Map(c.rows.map((r) => [r.id, r]));
      customers = orders.rows.map((o) => byId.get(o.customer_id));
    }
    await client.query('COMMIT');
    return orders.rows.length + customers.filter((c) => c).length;
  } finally {
    client.release();
  }
}

// POST /events/import: store a batch of 200 events.
async function importEvents(batch) {
  const kinds = [];
  const payloads = [];
  for (let i = 0; i < 200; i++) {
    kinds.push(i % 3 === 0 ? 'click' : 'view');
    payloads.push(`{"batch": ${batch}, "seq": ${i}}`);
  }
  if (mode === 'before') {
    for (let i = 0; i < kinds.length; i++) {
      await pool.query('INSERT INTO events (kind, payload) VALUES ($1, $2)',
        [kinds[i], payloads[i]]);
    }
  } else {
    await pool.query(
      'INSERT INTO events (kind, payload) SELECT * FROM unnest($1::text[], $2::text[])',
      [kinds, payloads]);
  }
  return kinds.length;
}

// GET /orders?email=: a customer's orders, looked up by e-mail address.
async function ordersByEmail(n) {
  const r = await pool.query(
    'SELECT id, total, status FROM orders WHERE customer_email = $1',
    [`customer${(n * 37) % 2000}@example.com`]);
  return r.rows.length;
}

// Run `count` requests of a handler, `concurrency` at a time.
async function drive(handler, count, concurrency) {
  const start = process.hrtime.bigint();
  let next = 0;
  let rows = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      const n = await handler(i);
      rows += n;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { requests: count, ms: Math.round(ms), rows };
}

async function main() {
  const result = {};
  result.recentOrders = await drive(recentOrders, 200, 4);
  result.importEvents = await drive(importEvents, 10, 2);
  result.ordersByEmail = await drive(ordersByEmail, 150, 4);
  console.log(JSON.stringify(result));
  await pool.end();
}

main().catch((err) => {
  console.error(`demo app failed: ${err.message}`);
  process.exit(1);
});

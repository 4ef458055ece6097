// regress/drivers/node/node_pg.js -- node-postgres (npm "pg") workload.
//
// DRV_CLIENTS concurrent tasks share one pg.Pool with as many connections, the
// way a Node.js service uses it.  Each task runs DRV_ROUNDS rounds of:
//   named    -- named prepared statements {name, text, values}: node-postgres
//               sends Parse once per connection and afterwards only Bind/Execute,
//               so a pooler must make the statement exist on whichever server
//               connection the next Bind lands on;
//   unnamed  -- parameterised queries (unnamed statement, Parse every time);
//   txn      -- BEGIN, SET LOCAL application_name and TimeZone, a named UPDATE
//               of the task's own account, an UPDATE of one counter row every
//               task contends on, a short pause with the transaction open,
//               then COMMIT (or ROLLBACK every third round); afterwards the
//               SET LOCAL values must be gone;
//   errors   -- a unique violation outside and inside a transaction (25P02
//               until ROLLBACK), a named statement failing at execution
//               (22012) and then reused, and recovery after each;
// and last, once per task:
//   session  -- a connection held by the task, session-level SET of
//               application_name, TimeZone and search_path, then several
//               queries with pauses in between (other tasks keep running):
//               every one must see this task's settings and no one else's;
//               then RESET ALL must bring back the startup application_name
//               and the default search_path (the connection is then closed).
// Finally the table contents.  Output: the sorted digest (digest.js).
'use strict';
const { Pool } = require('pg');
const { Digest, settings, sleep, zoneOf } = require('./digest');

const cfg = settings();
const d = new Digest('node-pg');
const STARTUP_APP = 'np-pool';
const TS = "'2024-01-01 12:00:00+00'::timestamptz::text";

const pool = new Pool({
  host: cfg.host, port: cfg.port, database: cfg.database, user: cfg.user, password: cfg.password,
  max: cfg.clients,
  application_name: STARTUP_APP,
  connectionTimeoutMillis: 30000,
  query_timeout: 30000,
});
pool.on('error', (err) => d.error('pool', 'idle-client', err));

const Q = {
  insEvent: { name: 'np_ins_event', text: 'INSERT INTO drv.np_events (client, seq, note) VALUES ($1, $2, $3) RETURNING client, seq, note' },
  getEvent: { name: 'np_get_event', text: 'SELECT note, length(note) AS len FROM drv.np_events WHERE client = $1 AND seq = $2' },
  updAcct: { name: 'np_upd_acct', text: 'UPDATE drv.np_accounts SET balance = balance + $2 WHERE id = $1 RETURNING balance' },
  div: { name: 'np_div', text: 'SELECT 100 / $1::int AS q' },
};
const named = (q, values) => ({ name: q.name, text: q.text, values });

async function step(section, key, fn) {
  try { await fn(); } catch (err) { d.error(section, key, err); }
}

async function roundNamed(i, j) {
  const k = `${i}.${j}`;
  await step('named', k + '.ins', async () => {
    const r = await pool.query(named(Q.insEvent, [i, j, `note-${k}`]));
    d.expect('named', k + '.ins', r.rows, [{ client: i, seq: j, note: `note-${k}` }]);
  });
  await step('named', k + '.get', async () => {
    const r = await pool.query(named(Q.getEvent, [i, j]));
    d.expect('named', k + '.get', r.rows, [{ note: `note-${k}`, len: `note-${k}`.length }]);
  });
}

async function roundUnnamed(i, j) {
  const k = `${i}.${j}`;
  await step('unnamed', k, async () => {
    const r = await pool.query('SELECT $1::int * $2::int AS p, $3::text || $4::text AS t, current_setting($5) AS app',
      [i, j, 'x', String(i), 'application_name']);
    d.expect('unnamed', k, r.rows, [{ p: i * j, t: `x${i}`, app: STARTUP_APP }]);
  });
}

async function roundTxn(i, j) {
  const k = `${i}.${j}`;
  const commit = j % 3 !== 2;
  let c;
  try { c = await pool.connect(); } catch (err) { d.error('txn', k, err); return; }
  let broken = null;
  try {
    await c.query('BEGIN');
    await c.query(`SET LOCAL application_name = 'np_txn_${i}_${j}'`);
    await c.query(`SET LOCAL TimeZone = '${zoneOf(i)}'`);
    const s = await c.query(`SELECT current_setting('application_name') AS app, current_setting('TimeZone') AS tz, ${TS} AS ts`);
    d.put('txn', k + '.inside', JSON.stringify(s.rows[0]));
    d.expect('txn', k + '.inside.app', s.rows[0].app, `np_txn_${i}_${j}`);
    const u = await c.query(named(Q.updAcct, [i, 10]));
    d.put('txn', k + '.upd', JSON.stringify(u.rowCount));
    await c.query('UPDATE drv.np_counter SET n = n + 1 WHERE id = 1');
    await sleep(2);
    await c.query(commit ? 'COMMIT' : 'ROLLBACK');
    const after = await c.query(`SELECT current_setting('application_name') AS app, now() = statement_timestamp() AS idle`);
    d.expect('txn', k + '.after', after.rows, [{ app: STARTUP_APP, idle: true }]);
  } catch (err) {
    broken = err;
    d.error('txn', k, err);
    try { await c.query('ROLLBACK'); } catch (e) { /* the connection may be gone */ }
  } finally {
    c.release(broken || undefined);
  }
}

async function roundErrors(i, j) {
  const k = `${i}.${j}`;
  // Outside a transaction: the duplicate fails, the pool goes on.
  await step('errors', k + '.dup', async () => {
    try {
      await pool.query(named(Q.insEvent, [i, j, 'duplicate']));
      d.put('errors', k + '.dup', 'no error');
      d.fail(`errors ${k}.dup: the duplicate insert succeeded`);
    } catch (err) { d.expectedError('errors', k + '.dup', err, '23505'); }
  });
  // A named statement that fails at execution, then the same name again.
  await step('errors', k + '.div0', async () => {
    try {
      await pool.query(named(Q.div, [0]));
      d.put('errors', k + '.div0', 'no error');
    } catch (err) { d.expectedError('errors', k + '.div0', err, '22012'); }
    const r = await pool.query(named(Q.div, [j + 1]));
    d.expect('errors', k + '.div', r.rows, [{ q: Math.trunc(100 / (j + 1)) }]);
  });
  // Inside a transaction: the error aborts it until ROLLBACK.
  let c;
  try { c = await pool.connect(); } catch (err) { d.error('errors', k, err); return; }
  let broken = null;
  try {
    await c.query('BEGIN');
    await c.query('UPDATE drv.np_accounts SET balance = balance - 1 WHERE id = $1', [i]);
    try { await c.query(named(Q.insEvent, [i, j, 'duplicate'])); d.put('errors', k + '.txdup', 'no error'); }
    catch (err) { d.expectedError('errors', k + '.txdup', err, '23505'); }
    try { await c.query('SELECT 1'); d.put('errors', k + '.aborted', 'no error'); }
    catch (err) { d.expectedError('errors', k + '.aborted', err, '25P02'); }
    await c.query('ROLLBACK');
    const r = await c.query(named(Q.getEvent, [i, j]));
    d.expect('errors', k + '.recovered', r.rows, [{ note: `note-${k}`, len: `note-${k}`.length }]);
  } catch (err) {
    broken = err;
    d.error('errors', k, err);
  } finally {
    c.release(broken || undefined);
  }
}

async function session(i) {
  const k = `${i}`;
  let c;
  try { c = await pool.connect(); } catch (err) { d.error('session', k, err); return; }
  let broken = null;
  try {
    await c.query(`SET application_name = 'np_sess_${i}'`);
    await c.query(`SET TimeZone = '${zoneOf(i)}'`);
    await c.query('SET search_path = drv, public');
    for (let r = 0; r < 4; r++) {
      await sleep(3);
      await step('session', `${k}.${r}`, async () => {
        const s = await c.query(`SELECT current_setting('application_name') AS app, current_setting('TimeZone') AS tz, ${TS} AS ts`);
        d.put('session', `${k}.${r}.ts`, s.rows[0].ts);
        d.expect('session', `${k}.${r}.app`, s.rows[0].app, `np_sess_${i}`);
        d.expect('session', `${k}.${r}.tz`, s.rows[0].tz, zoneOf(i));
      });
      await step('session', `${k}.${r}.search_path`, async () => {
        const s = await c.query('SELECT balance FROM np_accounts WHERE id = $1', [i]);
        d.put('session', `${k}.${r}.search_path`, `rows=${s.rowCount}`);
      });
    }
    await c.query('RESET ALL');
    const s = await c.query(`SELECT current_setting('application_name') AS app, current_setting('TimeZone') AS tz,
                                    current_setting('search_path') AS path`);
    d.expect('session', k + '.reset.app', s.rows[0].app, STARTUP_APP);
    d.put('session', k + '.reset.tz', s.rows[0].tz);
    d.expect('session', k + '.reset.search_path', s.rows[0].path, '"$user", public');
  } catch (err) {
    broken = err;
    d.error('session', k, err);
  } finally {
    // Closed, not returned to the pool: whatever RESET ALL left behind stays
    // in this section's results and does not spill into other tasks'.
    c.release(true);
  }
}

async function task(i) {
  for (let j = 0; j < cfg.rounds; j++) {
    d.at(i, `roundNamed ${j}`); await roundNamed(i, j);
    d.at(i, `roundUnnamed ${j}`); await roundUnnamed(i, j);
    d.at(i, `roundTxn ${j}`); await roundTxn(i, j);
    d.at(i, `roundErrors ${j}`); await roundErrors(i, j);
  }
  d.at(i, 'session'); await session(i);
  d.done(i);
}

async function finalState() {
  await step('final', 'events', async () => {
    const r = await pool.query('SELECT client, seq, note FROM drv.np_events ORDER BY client, seq');
    for (const row of r.rows) d.put('final', `event.${row.client}.${row.seq}`, row.note);
    d.expect('final', 'events.count', r.rowCount, cfg.clients * cfg.rounds);
  });
  await step('final', 'accounts', async () => {
    const r = await pool.query('SELECT id, balance FROM drv.np_accounts WHERE id < $1 ORDER BY id', [cfg.clients]);
    const commits = Array.from({ length: cfg.rounds }, (_, j) => j).filter((j) => j % 3 !== 2).length;
    for (const row of r.rows) d.expect('final', `account.${row.id}`, row.balance, 1000 + 10 * commits);
  });
  await step('final', 'counter', async () => {
    const r = await pool.query('SELECT n FROM drv.np_counter');
    const commits = Array.from({ length: cfg.rounds }, (_, j) => j).filter((j) => j % 3 !== 2).length;
    d.expect('final', 'counter', r.rows[0].n, cfg.clients * commits);
  });
}

d.deadline(cfg.deadlineMs);
(async () => {
  await Promise.all(Array.from({ length: cfg.clients }, (_, i) => task(i)));
  d.at(-1, 'final state'); await finalState(); d.done(-1);
  await pool.end();
  process.exitCode = d.finish();
})().catch((err) => {
  d.error('main', 'fatal', err);
  process.exitCode = d.finish();
});

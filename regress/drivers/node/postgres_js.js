// regress/drivers/node/postgres_js.js -- postgres.js (npm "postgres") workload.
//
// One postgres() instance with prepare: true (its default: every static
// query becomes a named prepared statement on its connection) and max =
// DRV_CLIENTS connections, used by DRV_CLIENTS concurrent tasks.  Each task
// runs DRV_ROUNDS rounds of:
//   prepared -- tagged-template INSERT ... RETURNING and SELECT (named
//               statements Parse'd once per connection, then Bind/Execute);
//   burst    -- five independent queries at once: postgres.js pipelines them
//               on its busy connections, one implicit transaction (Sync) each;
//   txn      -- sql.begin with SET LOCAL application_name and TimeZone, an
//               UPDATE of the task's account and of the shared counter, a
//               pause, COMMIT (or ROLLBACK every third round, by throwing);
//   pipe     -- sql.begin returning an array: INSERT, UPDATE, SELECT sent
//               pipelined inside one transaction;
//   errors   -- a unique violation alone, inside sql.begin, and in the middle
//               of a pipelined sql.begin (nothing of it may be committed);
// and last: session -- sql.reserve(), session-level SET application_name,
// TimeZone and search_path, checked by queries with pauses in between, then
// RESET ALL (startup application_name and default search_path again).
// Output: the sorted digest (digest.js).
'use strict';
const postgres = require('postgres');
const { Digest, settings, sleep, zoneOf } = require('./digest');

const cfg = settings();
const d = new Digest('postgres-js');
const STARTUP_APP = 'pj-pool';

const sql = postgres({
  host: cfg.host, port: cfg.port, database: cfg.database, username: cfg.user, password: cfg.password,
  max: cfg.clients,
  prepare: true,
  connect_timeout: 30,
  idle_timeout: 0,
  onnotice: () => {},
  connection: { application_name: STARTUP_APP },
});

class Rollback extends Error {}

async function step(section, key, fn) {
  try { await fn(); } catch (err) { d.error(section, key, err); }
}
const plain = (rows) => rows.map((r) => ({ ...r }));

async function roundPrepared(i, j) {
  const k = `${i}.${j}`;
  const note = `note-${k}`;
  await step('prepared', k + '.ins', async () => {
    const r = await sql`INSERT INTO drv.pj_events (client, seq, note) VALUES (${i}, ${j}, ${note}) RETURNING client, seq, note`;
    d.expect('prepared', k + '.ins', plain(r), [{ client: i, seq: j, note }]);
  });
  await step('prepared', k + '.get', async () => {
    const r = await sql`SELECT note, length(note)::int AS len FROM drv.pj_events WHERE client = ${i} AND seq = ${j}`;
    d.expect('prepared', k + '.get', plain(r), [{ note, len: note.length }]);
  });
}

async function roundBurst(i, j) {
  const k = `${i}.${j}`;
  await step('burst', k, async () => {
    const rs = await Promise.all([0, 1, 2, 3, 4].map((n) =>
      sql`SELECT ${i}::int * 100 + ${n}::int AS v, current_setting('application_name') AS app`));
    d.expect('burst', k, rs.map((r) => plain(r)[0]),
      [0, 1, 2, 3, 4].map((n) => ({ v: i * 100 + n, app: STARTUP_APP })));
  });
}

async function roundTxn(i, j) {
  const k = `${i}.${j}`;
  const commit = j % 3 !== 2;
  try {
    await sql.begin(async (tx) => {
      await tx.unsafe(`SET LOCAL application_name = 'pj_txn_${i}_${j}'`);
      await tx.unsafe(`SET LOCAL TimeZone = '${zoneOf(i)}'`);
      const [s] = await tx`SELECT current_setting('application_name') AS app, current_setting('TimeZone') AS tz,
                                  '2024-01-01 12:00:00+00'::timestamptz::text AS ts`;
      d.expect('txn', k + '.inside', { ...s }, { app: `pj_txn_${i}_${j}`, tz: zoneOf(i), ts: s.ts });
      d.put('txn', k + '.ts', s.ts);
      const u = await tx`UPDATE drv.pj_accounts SET balance = balance + 10 WHERE id = ${i} RETURNING id`;
      d.expect('txn', k + '.upd', plain(u), [{ id: i }]);
      await tx`UPDATE drv.pj_counter SET n = n + 1 WHERE id = 1`;
      await sleep(2);
      if (!commit) throw new Rollback('rollback');
    });
    d.put('txn', k + '.end', 'committed');
  } catch (err) {
    if (err instanceof Rollback) d.put('txn', k + '.end', 'rolled back');
    else d.error('txn', k, err);
  }
  await step('txn', k + '.after', async () => {
    const r = await sql`SELECT current_setting('application_name') AS app`;
    d.expect('txn', k + '.after', plain(r), [{ app: STARTUP_APP }]);
  });
}

async function roundPipe(i, j) {
  const k = `${i}.${j}`;
  const seq = 100 + j;
  await step('pipe', k, async () => {
    const [ins, upd, get] = await sql.begin((tx) => [
      tx`INSERT INTO drv.pj_events (client, seq, note) VALUES (${i}, ${seq}, ${'pipe-' + k}) RETURNING seq`,
      tx`UPDATE drv.pj_accounts SET balance = balance + 1 WHERE id = ${i} RETURNING id`,
      tx`SELECT count(*)::int AS n FROM drv.pj_events WHERE client = ${i}`,
    ]);
    d.expect('pipe', k, [plain(ins), plain(upd), plain(get)], [[{ seq }], [{ id: i }], [{ n: 2 * (j + 1) }]]);
  });
}

async function roundErrors(i, j) {
  const k = `${i}.${j}`;
  try {
    await sql`INSERT INTO drv.pj_events (client, seq, note) VALUES (${i}, ${j}, ${'duplicate'})`;
    d.put('errors', k + '.dup', 'no error'); d.fail(`errors ${k}.dup: no error`);
  } catch (err) { d.expectedError('errors', k + '.dup', err, '23505'); }
  try {
    await sql.begin(async (tx) => {
      await tx`UPDATE drv.pj_accounts SET balance = balance - 1 WHERE id = ${i}`;
      await tx`INSERT INTO drv.pj_events (client, seq, note) VALUES (${i}, ${j}, ${'duplicate'})`;
    });
    d.put('errors', k + '.txdup', 'no error'); d.fail(`errors ${k}.txdup: no error`);
  } catch (err) { d.expectedError('errors', k + '.txdup', err, '23505'); }
  // An error in the middle of a pipelined transaction: all of it is rolled back.
  try {
    await sql.begin((tx) => [
      tx`INSERT INTO drv.pj_events (client, seq, note) VALUES (${i}, ${200 + j}, ${'lost'})`,
      tx`INSERT INTO drv.pj_events (client, seq, note) VALUES (${i}, ${j}, ${'duplicate'})`,
      tx`UPDATE drv.pj_accounts SET balance = balance - 1 WHERE id = ${i}`,
    ]);
    d.put('errors', k + '.pipedup', 'no error'); d.fail(`errors ${k}.pipedup: no error`);
  } catch (err) { d.expectedError('errors', k + '.pipedup', err, '23505'); }
  await step('errors', k + '.recovered', async () => {
    const r = await sql`SELECT count(*)::int AS n FROM drv.pj_events WHERE client = ${i} AND seq = ${200 + j}`;
    d.expect('errors', k + '.recovered', plain(r), [{ n: 0 }]);
  });
}

async function session(i) {
  const k = `${i}`;
  let c;
  try { c = await sql.reserve(); } catch (err) { d.error('session', k, err); return; }
  try {
    await c.unsafe(`SET application_name = 'pj_sess_${i}'`);
    await c.unsafe(`SET TimeZone = '${zoneOf(i)}'`);
    await c.unsafe('SET search_path = drv, public');
    for (let r = 0; r < 4; r++) {
      await sleep(3);
      await step('session', `${k}.${r}`, async () => {
        const [s] = await c`SELECT current_setting('application_name') AS app, current_setting('TimeZone') AS tz,
                                   '2024-01-01 12:00:00+00'::timestamptz::text AS ts`;
        d.expect('session', `${k}.${r}.app`, s.app, `pj_sess_${i}`);
        d.expect('session', `${k}.${r}.tz`, s.tz, zoneOf(i));
        d.put('session', `${k}.${r}.ts`, s.ts);
      });
      await step('session', `${k}.${r}.search_path`, async () => {
        const s = await c.unsafe('SELECT id FROM pj_accounts WHERE id = $1', [i]);
        d.expect('session', `${k}.${r}.search_path`, plain(s), [{ id: i }]);
      });
    }
    await c.unsafe('RESET ALL');
    const [s] = await c`SELECT current_setting('application_name') AS app, current_setting('TimeZone') AS tz,
                               current_setting('search_path') AS path`;
    d.expect('session', k + '.reset.app', s.app, STARTUP_APP);
    d.put('session', k + '.reset.tz', s.tz);
    d.expect('session', k + '.reset.search_path', s.path, '"$user", public');
    // Back to the pool as it came, whatever RESET ALL did through a pooler.
    await c.unsafe(`SET application_name = '${STARTUP_APP}'`);
  } catch (err) {
    d.error('session', k, err);
  } finally {
    c.release();
  }
}

async function task(i) {
  for (let j = 0; j < cfg.rounds; j++) {
    d.at(i, `roundPrepared ${j}`); await roundPrepared(i, j);
    d.at(i, `roundBurst ${j}`); await roundBurst(i, j);
    d.at(i, `roundTxn ${j}`); await roundTxn(i, j);
    d.at(i, `roundPipe ${j}`); await roundPipe(i, j);
    d.at(i, `roundErrors ${j}`); await roundErrors(i, j);
  }
  d.at(i, 'session'); await session(i);
  d.done(i);
}

async function finalState() {
  const commits = Array.from({ length: cfg.rounds }, (_, j) => j).filter((j) => j % 3 !== 2).length;
  await step('final', 'events', async () => {
    const r = await sql`SELECT client, seq, note FROM drv.pj_events ORDER BY client, seq`;
    for (const row of r) d.put('final', `event.${row.client}.${row.seq}`, row.note);
    d.expect('final', 'events.count', r.length, 2 * cfg.clients * cfg.rounds);
  });
  await step('final', 'accounts', async () => {
    const r = await sql`SELECT id, balance FROM drv.pj_accounts WHERE id < ${cfg.clients} ORDER BY id`;
    for (const row of r) d.expect('final', `account.${row.id}`, row.balance, 1000 + cfg.rounds + 10 * commits);
  });
  await step('final', 'counter', async () => {
    const [r] = await sql`SELECT n FROM drv.pj_counter`;
    d.expect('final', 'counter', r.n, cfg.clients * commits);
  });
}

d.deadline(cfg.deadlineMs);
(async () => {
  await Promise.all(Array.from({ length: cfg.clients }, (_, i) => task(i)));
  d.at(-1, 'final state'); await finalState(); d.done(-1);
  await sql.end({ timeout: 5 });
  process.exitCode = d.finish();
})().catch((err) => {
  d.error('main', 'fatal', err);
  process.exitCode = d.finish();
  sql.end({ timeout: 1 }).catch(() => {});
});

'use strict';
// bench/nplusone/orm/heldout_node.js -- held-out N+1 workloads: Node query
// builders, ORMs and access styles the detector was not tuned on (Kysely,
// Drizzle, pg-promise, plain node-postgres), against the corpus schema n1c of
// bench/nplusone/workloads.py.  Labels live in workloads.py (HELDOUT_LABELS).
//
// Usage: node heldout_node.js LIB CASE
// Connection settings come from the libpq environment.
const [lib, kase] = process.argv.slice(2);
const pgenv = require('./pgenv');
const conn = { ...pgenv.conn, options: pgenv.SEARCH_PATH };
// rows of their own for every (library, case)
const BASE = { kysely: 2200, drizzle: 2400, pgp: 2600, pg: 2800, mikro: 3000, sequelize2: 3200 }[lib];
const off = (k) => BASE + 20 * k;
const { Pool, Client } = require('pg');

async function kysely() {
  const { Kysely, PostgresDialect } = require('kysely');
  const db = new Kysely({ dialect: new PostgresDialect({ pool: new Pool({ ...conn, max: 10 }) }) });
  const page = (k, n) => db.selectFrom('posts').select(['id', 'author_id', 'title'])
    .orderBy('id').limit(n).offset(off(k)).execute();
  switch (kase) {
    case 'lazy':
      for (const p of await page(0, 20)) {
        await db.selectFrom('authors').selectAll().where('id', '=', p.author_id).executeTakeFirst();
      }
      break;
    case 'join':
      await db.selectFrom('posts').innerJoin('authors', 'authors.id', 'posts.author_id')
        .select(['posts.id', 'authors.name']).orderBy('posts.id').limit(20).offset(off(0)).execute();
      break;
    case 'in_batch': {
      const ids = (await page(1, 20)).map((p) => p.author_id);
      await db.selectFrom('authors').selectAll().where('id', 'in', ids).execute();
      break;
    }
    case 'txn_per_item':
      // a handler run per item, each in its own transaction: read the
      // author, record an audit row
      for (const p of await page(2, 12)) {
        await db.transaction().execute(async (trx) => {
          await trx.selectFrom('authors').selectAll().where('id', '=', p.author_id).executeTakeFirst();
          await trx.insertInto('audit').values({ post_id: p.id, note: 'seen' }).execute();
        });
      }
      break;
    default: throw new Error(`unknown case ${kase}`);
  }
  await db.destroy();
}

async function drizzle() {
  const { drizzle: mk } = require('drizzle-orm/node-postgres');
  const { pgTable, integer, text, bigserial } = require('drizzle-orm/pg-core');
  const { eq, inArray, asc, relations } = require('drizzle-orm');
  const authors = pgTable('authors', { id: integer('id').primaryKey(), name: text('name'), country: text('country') });
  const posts = pgTable('posts', { id: integer('id').primaryKey(), author_id: integer('author_id'),
    category_id: integer('category_id'), title: text('title') });
  const audit = pgTable('audit', { id: bigserial('id', { mode: 'number' }).primaryKey(),
    post_id: integer('post_id'), note: text('note') });
  const postsRelations = relations(posts, ({ one }) => ({
    author: one(authors, { fields: [posts.author_id], references: [authors.id] }) }));
  const pool = new Pool({ ...conn, max: 10 });
  const db = mk(pool, { schema: { authors, posts, audit, postsRelations } });
  const page = (k, n) => db.select().from(posts).orderBy(asc(posts.id)).limit(n).offset(off(k));
  switch (kase) {
    case 'lazy':
      for (const p of await page(0, 20)) await db.select().from(authors).where(eq(authors.id, p.author_id));
      break;
    case 'with_relation':
      await db.query.posts.findMany({ with: { author: true }, orderBy: [asc(posts.id)], limit: 20, offset: off(0) });
      break;
    case 'in_array': {
      const ids = (await page(1, 20)).map((p) => p.author_id);
      await db.select().from(authors).where(inArray(authors.id, ids));
      break;
    }
    case 'insert_loop':
      for (const p of await page(2, 20)) await db.insert(audit).values({ post_id: p.id, note: 'seen' });
      break;
    case 'insert_batch':
      await db.insert(audit).values((await page(2, 20)).map((p) => ({ post_id: p.id, note: 'seen' })));
      break;
    default: throw new Error(`unknown case ${kase}`);
  }
  await pool.end();
}

async function pgp() {
  const pgpLib = require('pg-promise')();
  const db = pgpLib({ ...conn, max: 10 });
  const PAGE = 'SELECT id, author_id, title FROM posts ORDER BY id LIMIT $1 OFFSET $2';
  switch (kase) {
    case 'task_loop':
      // one connection for the whole task; values formatted into the text
      await db.task(async (t) => {
        for (const p of await t.any(PAGE, [20, off(0)])) {
          await t.oneOrNone('SELECT id, name FROM authors WHERE id = $1', [p.author_id]);
        }
      });
      break;
    case 'tx_per_item':
      for (const p of await db.any(PAGE, [12, off(1)])) {
        await db.tx((t) => t.none('UPDATE posts SET title = $1 WHERE id = $2', [`${p.title}!`, p.id]));
      }
      break;
    case 'helpers_insert': {
      const rows = (await db.any(PAGE, [20, off(2)])).map((p) => ({ post_id: p.id, note: 'seen' }));
      await db.none(pgpLib.helpers.insert(rows, ['post_id', 'note'], 'audit'));
      break;
    }
    case 'batch_in_task':
      // t.batch of lookups on one connection: the queries are still sent one by one
      await db.task(async (t) => {
        const ps = await t.any(PAGE, [20, off(3)]);
        await t.batch(ps.map((p) => t.oneOrNone('SELECT id, name FROM authors WHERE id = $1', [p.author_id])));
      });
      break;
    default: throw new Error(`unknown case ${kase}`);
  }
  pgpLib.end();
}

async function pg() {
  const PAGE = 'SELECT id, author_id FROM posts ORDER BY id LIMIT $1 OFFSET $2';
  const CHILD = 'SELECT id, name FROM authors WHERE id = $1';
  if (kase === 'client_promise_all') {
    // one Client: node-postgres queues the queries and sends them one at a time
    const c = new Client(conn);
    await c.connect();
    const { rows } = await c.query(PAGE, [20, off(0)]);
    await Promise.all(rows.map((r) => c.query(CHILD, [r.author_id])));
    await c.end();
    return;
  }
  const pool = new Pool({ ...conn, max: 10 });
  switch (kase) {
    case 'await_loop': {
      const { rows } = await pool.query(PAGE, [20, off(1)]);
      for (const r of rows) await pool.query(CHILD, [r.author_id]);
      break;
    }
    case 'pool_promise_all': {
      // all lookups at once over the pool's 10 connections
      const { rows } = await pool.query(PAGE, [20, off(2)]);
      await Promise.all(rows.map((r) => pool.query(CHILD, [r.author_id])));
      break;
    }
    case 'any_batch': {
      const { rows } = await pool.query(PAGE, [20, off(3)]);
      await pool.query('SELECT id, name FROM authors WHERE id = ANY($1)', [rows.map((r) => r.author_id)]);
      break;
    }
    case 'polling':
      // a job checks the same row every 20 ms
      for (let i = 0; i < 10; i++) {
        await pool.query('SELECT state FROM jobs WHERE id = $1', [7]);
        await new Promise((res) => setTimeout(res, 20));
      }
      break;
    default: throw new Error(`unknown case ${kase}`);
  }
  await pool.end();
}

async function mikro() {
  const { MikroORM, EntitySchema, wrap } = require('@mikro-orm/postgresql');
  const Author = new EntitySchema({ name: 'Author', tableName: 'authors', properties: {
    id: { type: 'number', primary: true }, name: { type: 'string' },
    country: { type: 'string', nullable: true } } });
  const Post = new EntitySchema({ name: 'Post', tableName: 'posts', properties: {
    id: { type: 'number', primary: true },
    author: { kind: 'm:1', entity: 'Author', fieldName: 'author_id' },
    category_id: { type: 'number' }, title: { type: 'string' },
    comments: { kind: '1:m', entity: 'Comment', mappedBy: 'post' } } });
  const Comment = new EntitySchema({ name: 'Comment', tableName: 'comments', properties: {
    id: { type: 'number', primary: true },
    post: { kind: 'm:1', entity: 'Post', fieldName: 'post_id' },
    author: { kind: 'm:1', entity: 'Author', fieldName: 'author_id' },
    body: { type: 'string' } } });
  const Audit = new EntitySchema({ name: 'Audit', tableName: 'audit', properties: {
    id: { type: 'number', primary: true, autoincrement: true },
    post_id: { type: 'number' }, note: { type: 'string' } } });
  const orm = await MikroORM.init({ entities: [Author, Post, Comment, Audit], schema: 'n1c',
    dbName: conn.database, host: conn.host, port: conn.port, user: conn.user,
    password: conn.password, debug: false, pool: { min: 1, max: 10 } });
  const em = orm.em.fork();
  const page = (k, n, opts = {}) => em.find(Post, {}, { orderBy: { id: 'asc' }, limit: n, offset: off(k), ...opts });
  switch (kase) {
    case 'lazy':
      for (const p of await page(0, 20)) await wrap(p.author).init();
      break;
    case 'populate_joined':
      await page(0, 20, { populate: ['author'], strategy: 'joined' });
      break;
    case 'populate_select_in':
      await page(1, 20, { populate: ['author'], strategy: 'select-in' });
      break;
    case 'nested':
      for (const p of await page(2, 6)) {
        await p.comments.init();
        for (const c of p.comments) await wrap(c.author).init();
      }
      break;
    case 'flush_per_item':
      // each flush is its own transaction
      for (const p of await page(3, 12)) {
        p.title = `${p.title}!`;
        await em.flush();
      }
      break;
    case 'create_per_item':
      for (const p of await page(4, 15)) {
        em.create(Audit, { post_id: p.id, note: 'seen' });
        await em.flush();
      }
      break;
    case 'create_one_flush':
      for (const p of await page(4, 15)) em.create(Audit, { post_id: p.id, note: 'seen' });
      await em.flush();
      break;
    default: throw new Error(`unknown case ${kase}`);
  }
  await orm.close();
}

async function sequelize2() {
  const { Sequelize, DataTypes } = require('sequelize');
  const db = new Sequelize(conn.database, conn.user, conn.password, {
    host: conn.host, port: conn.port, dialect: 'postgres', logging: false,
    dialectOptions: { options: conn.options } });
  const opts = (table) => ({ tableName: table, timestamps: false });
  const Author = db.define('Author', { id: { type: DataTypes.INTEGER, primaryKey: true },
    name: DataTypes.TEXT, country: DataTypes.TEXT }, opts('authors'));
  const Post = db.define('Post', { id: { type: DataTypes.INTEGER, primaryKey: true },
    author_id: DataTypes.INTEGER, category_id: DataTypes.INTEGER, title: DataTypes.TEXT }, opts('posts'));
  const Audit = db.define('Audit', { id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
    post_id: DataTypes.INTEGER, note: DataTypes.TEXT }, opts('audit'));
  const posts = await Post.findAll({ order: [['id', 'ASC']], limit: 12, offset: off(0) });
  switch (kase) {
    case 'txn_per_item':
      // a handler per item in a managed transaction: read the author, log it
      for (const p of posts) {
        await db.transaction(async (transaction) => {
          await Author.findByPk(p.author_id, { transaction });
          await Audit.create({ post_id: p.id, note: 'seen' }, { transaction });
        });
      }
      break;
    case 'find_all_in':
      await Author.findAll({ where: { id: posts.map((p) => p.author_id) } });
      break;
    default: throw new Error(`unknown case ${kase}`);
  }
  await db.close();
}

const libs = { kysely, drizzle, pgp, pg, mikro, sequelize2 };
if (!libs[lib]) { console.error(`unknown library ${lib}`); process.exit(2); }
libs[lib]().catch((e) => { console.error(e); process.exit(1); });

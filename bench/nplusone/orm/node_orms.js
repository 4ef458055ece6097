'use strict';
// bench/nplusone/orm/node_orms.js -- N+1 corpus workloads written the way
// applications use real Node ORMs (Sequelize, TypeORM, Knex + Objection),
// against the corpus schema n1c of bench/nplusone/workloads.py.
//
// Usage: node node_orms.js ORM CASE
//   ORM   sequelize | typeorm | objection
//   CASE  lazy          posts, then each post's author, lazily (N+1)
//         eager         the same with the ORM's eager loading (no loop)
//         nested        posts -> comments -> each comment's author (2 loops)
//         nested_eager  the same eagerly loaded (no loop)
//         lazy_txn      lazy, inside an explicit transaction (N+1)
//         write_loop    one INSERT per post after reading the posts (write loop)
//         write_batch   the same rows in one bulk insert (no loop)
//         save_loop     change each post and save() it in a transaction (write loop)
//         concurrent    4 requests at once, each a lazy loop over 10 posts, on
//                       the ORM's pool (4 loops; a request's statements may
//                       go to different connections of the pool)
// Connection settings come from the libpq environment (PGHOST, PGPORT,
// PGUSER, PGPASSWORD, PGDATABASE); the schema is put on the search_path.
const [orm, kase] = process.argv.slice(2);
const { conn, SEARCH_PATH } = require('./pgenv');
// different rows for every case, so that no two cases look alike
const OFFSET = { lazy: 100, eager: 100, nested: 200, nested_eager: 200, lazy_txn: 300,
  write_loop: 400, write_batch: 400, save_loop: 500, concurrent: 1000 }[kase];

async function sequelize() {
  const { Sequelize, DataTypes } = require('sequelize');
  const db = new Sequelize(conn.database, conn.user, conn.password, {
    host: conn.host, port: conn.port, dialect: 'postgres', logging: false,
    dialectOptions: { options: SEARCH_PATH },
  });
  const opts = (table) => ({ tableName: table, timestamps: false });
  const Author = db.define('Author', { id: { type: DataTypes.INTEGER, primaryKey: true },
    name: DataTypes.TEXT, country: DataTypes.TEXT }, opts('authors'));
  const Post = db.define('Post', { id: { type: DataTypes.INTEGER, primaryKey: true },
    author_id: DataTypes.INTEGER, category_id: DataTypes.INTEGER, title: DataTypes.TEXT },
  opts('posts'));
  const Comment = db.define('Comment', { id: { type: DataTypes.INTEGER, primaryKey: true },
    post_id: DataTypes.INTEGER, author_id: DataTypes.INTEGER, body: DataTypes.TEXT },
  opts('comments'));
  const Audit = db.define('Audit', { id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
    post_id: DataTypes.INTEGER, note: DataTypes.TEXT }, opts('audit'));
  Post.belongsTo(Author, { as: 'author', foreignKey: 'author_id' });
  Post.hasMany(Comment, { as: 'comments', foreignKey: 'post_id' });
  Comment.belongsTo(Author, { as: 'author', foreignKey: 'author_id' });
  const page = (n, extra = {}) => Post.findAll({ order: [['id', 'ASC']], limit: n, offset: OFFSET, ...extra });

  switch (kase) {
    case 'lazy':
      for (const p of await page(20)) await p.getAuthor();
      break;
    case 'concurrent':
      await Promise.all([0, 1, 2, 3].map(async (k) => {
        for (const p of await page(10, { offset: OFFSET + 10 * k })) await p.getAuthor();
      }));
      break;
    case 'eager':
      await page(20, { include: [{ model: Author, as: 'author' }] });
      break;
    case 'nested':
      for (const p of await page(6))
        for (const c of await p.getComments({ order: [['id', 'ASC']] })) await c.getAuthor();
      break;
    case 'nested_eager':
      await page(6, { include: [{ model: Comment, as: 'comments',
        include: [{ model: Author, as: 'author' }] }] });
      break;
    case 'lazy_txn':
      await db.transaction(async (transaction) => {
        for (const p of await page(15, { transaction })) await p.getAuthor({ transaction });
      });
      break;
    case 'write_loop':
      for (const p of await page(20)) await Audit.create({ post_id: p.id, note: 'seen' });
      break;
    case 'write_batch':
      await Audit.bulkCreate((await page(20)).map((p) => ({ post_id: p.id, note: 'seen' })));
      break;
    case 'save_loop':
      await db.transaction(async (transaction) => {
        for (const p of await page(12, { transaction })) {
          p.title = `${p.title}!`;
          await p.save({ transaction });
        }
      });
      break;
    default: throw new Error(`unknown case ${kase}`);
  }
  await db.close();
}

async function typeorm() {
  require('reflect-metadata');
  const { DataSource, EntitySchema } = require('typeorm');
  const Author = new EntitySchema({ name: 'Author', tableName: 'authors', columns: {
    id: { type: Number, primary: true }, name: { type: String }, country: { type: String, nullable: true } } });
  const Post = new EntitySchema({ name: 'Post', tableName: 'posts', columns: {
    id: { type: Number, primary: true }, author_id: { type: Number }, category_id: { type: Number },
    title: { type: String } },
  relations: {
    author: { type: 'many-to-one', target: 'Author', joinColumn: { name: 'author_id' }, lazy: true },
    comments: { type: 'one-to-many', target: 'Comment', inverseSide: 'post', lazy: true } } });
  const Comment = new EntitySchema({ name: 'Comment', tableName: 'comments', columns: {
    id: { type: Number, primary: true }, post_id: { type: Number }, author_id: { type: Number },
    body: { type: String } },
  relations: {
    post: { type: 'many-to-one', target: 'Post', joinColumn: { name: 'post_id' }, lazy: true },
    author: { type: 'many-to-one', target: 'Author', joinColumn: { name: 'author_id' }, lazy: true } } });
  const Audit = new EntitySchema({ name: 'Audit', tableName: 'audit', columns: {
    id: { type: 'bigint', primary: true, generated: 'increment' }, post_id: { type: Number },
    note: { type: String } } });
  const ds = new DataSource({ type: 'postgres', ...conn, username: conn.user, schema: 'n1c',
    extra: { options: SEARCH_PATH }, entities: [Author, Post, Comment, Audit], logging: false });
  await ds.initialize();
  const posts = ds.getRepository('Post');
  const page = (n, extra = {}, m = ds.manager) =>
    m.find('Post', { order: { id: 'ASC' }, take: n, skip: OFFSET, ...extra });

  switch (kase) {
    case 'lazy':
      for (const p of await page(20)) await p.author;
      break;
    case 'concurrent':
      await Promise.all([0, 1, 2, 3].map(async (k) => {
        for (const p of await page(10, { skip: OFFSET + 10 * k })) await p.author;
      }));
      break;
    case 'eager':
      await page(20, { relations: { author: true } });
      break;
    case 'nested':
      for (const p of await page(6))
        for (const c of await p.comments) await c.author;
      break;
    case 'nested_eager':
      await page(6, { relations: { comments: { author: true } } });
      break;
    case 'lazy_txn':
      // lazy relations load outside of the transaction: look the authors up
      // through the transaction's manager, one by one
      await ds.transaction(async (m) => {
        for (const p of await page(15, {}, m)) await m.findOneBy('Author', { id: p.author_id });
      });
      break;
    case 'write_loop':
      for (const p of await page(20)) await ds.manager.insert('Audit', { post_id: p.id, note: 'seen' });
      break;
    case 'write_batch':
      await ds.manager.insert('Audit', (await page(20)).map((p) => ({ post_id: p.id, note: 'seen' })));
      break;
    case 'save_loop':
      await ds.transaction(async (m) => {
        for (const p of await page(12, {}, m)) {
          p.title = `${p.title}!`;
          await m.save('Post', p);
        }
      });
      break;
    default: throw new Error(`unknown case ${kase}`);
  }
  void posts;
  await ds.destroy();
}

async function objection() {
  const Knex = require('knex');
  const { Model } = require('objection');
  const knex = Knex({ client: 'pg', connection: { ...conn, options: SEARCH_PATH },
    pool: { min: 0, max: 4 } });
  Model.knex(knex);
  class Author extends Model { static get tableName() { return 'authors'; } }
  class Comment extends Model {
    static get tableName() { return 'comments'; }
    static get relationMappings() {
      return { author: { relation: Model.BelongsToOneRelation, modelClass: Author,
        join: { from: 'comments.author_id', to: 'authors.id' } } };
    }
  }
  class Post extends Model {
    static get tableName() { return 'posts'; }
    static get relationMappings() {
      return {
        author: { relation: Model.BelongsToOneRelation, modelClass: Author,
          join: { from: 'posts.author_id', to: 'authors.id' } },
        comments: { relation: Model.HasManyRelation, modelClass: Comment,
          join: { from: 'posts.id', to: 'comments.post_id' } },
      };
    }
  }
  class Audit extends Model { static get tableName() { return 'audit'; } }
  const page = (n, trx) => Post.query(trx).orderBy('id').limit(n).offset(OFFSET);

  switch (kase) {
    case 'lazy':
      for (const p of await page(20)) await p.$relatedQuery('author');
      break;
    case 'concurrent':
      await Promise.all([0, 1, 2, 3].map(async (k) => {
        for (const p of await page(10).offset(OFFSET + 10 * k)) await p.$relatedQuery('author');
      }));
      break;
    case 'eager':
      await page(20).withGraphFetched('author');
      break;
    case 'nested':
      for (const p of await page(6))
        for (const c of await p.$relatedQuery('comments').orderBy('id')) await c.$relatedQuery('author');
      break;
    case 'nested_eager':
      await page(6).withGraphFetched('comments.author');
      break;
    case 'lazy_txn':
      await Model.transaction(async (trx) => {
        for (const p of await page(15, trx)) await p.$relatedQuery('author', trx);
      });
      break;
    case 'write_loop':
      for (const p of await page(20)) await Audit.query().insert({ post_id: p.id, note: 'seen' });
      break;
    case 'write_batch':
      await knex('audit').insert((await page(20)).map((p) => ({ post_id: p.id, note: 'seen' })));
      break;
    case 'save_loop':
      await Model.transaction(async (trx) => {
        for (const p of await page(12, trx)) await p.$query(trx).patch({ title: `${p.title}!` });
      });
      break;
    default: throw new Error(`unknown case ${kase}`);
  }
  await knex.destroy();
}

const run = { sequelize, typeorm, objection }[orm];
if (!run || OFFSET === undefined) {
  console.error('usage: node node_orms.js sequelize|typeorm|objection CASE');
  process.exit(2);
}
run().catch((e) => { console.error(e); process.exit(1); });

'use strict';
// bench/nplusone/orm/pgenv.js -- the connection settings the Node workloads
// share: the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD,
// PGDATABASE) and the corpus schema n1c on the search_path.
const SEARCH_PATH = '-c search_path=n1c';
const conn = {
  host: process.env.PGHOST || 'localhost',
  port: Number(process.env.PGPORT || 5432),
  user: process.env.PGUSER,
  password: process.env.PGPASSWORD,
  database: process.env.PGDATABASE,
};
module.exports = { conn, SEARCH_PATH };

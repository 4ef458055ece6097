#!/bin/bash
# bench/nplusone/orm/deps.sh -- make sure the ORM workloads can run: the Node
# ORMs installed from the committed package-lock.json (npm ci), Django,
# SQLAlchemy, peewee, Pony, asyncpg and psycopg2 from Debian (the top-level Makefile's
# DEB_PACKAGES).  Exit status 1, with the reason, when something is missing.
here=$(cd "$(dirname "$0")" && pwd)
rc=0
for m in sequelize typeorm objection knex pg kysely drizzle-orm pg-promise @mikro-orm/postgresql; do
	if [ ! -d "$here/node_modules/$m" ]; then
		echo "orm/deps.sh: installing the Node ORMs (npm ci)" >&2
		(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2) || { echo "orm/deps.sh: npm ci failed" >&2; rc=1; }
		break
	fi
done
/usr/bin/python3 -c 'import django, sqlalchemy, psycopg2, peewee, pony, asyncpg' 2>/dev/null ||
	{ echo "orm/deps.sh: /usr/bin/python3 needs python3-django, python3-sqlalchemy, python3-psycopg2, python3-peewee, python3-pony and python3-asyncpg (make deps)" >&2; rc=1; }
exit $rc

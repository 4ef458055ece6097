#!/bin/bash
# regress/t/n1_corpus.sh -- N+1 detection on the quick part of the labeled
# corpus (bench/nplusone/workloads.py --quick), run for real against the
# test server, a few workloads from real ORMs (Django, SQLAlchemy, Sequelize,
# TypeORM, Objection) and 6 held-out ones (peewee, Pony, Django, Kysely: loops
# whose iterations each run in their own transaction) included: true loops of
# 5, 6, 50 and 1000 iterations, nested and interleaved loops, write loops,
# redundant lookups, and look-alikes (= ANY batches, pagination, cursors,
# pipelines, executemany, multi-statement strings, polling, independent
# requests, pgbench -S and TPC-B, requests each in a transaction, several
# concurrent clients).
# Fails if n_plus_one precision < 0.98 or recall < 0.95.
#
# The corpus's timing-based look-alikes make it sensitive to a badly
# overloaded machine; a failing run is repeated once and the test fails only
# if the second run fails too.
set -u
bench/nplusone/orm/deps.sh || exit 1
db=n1_corpus
dropdb --if-exists "$db" 2>/dev/null
createdb "$db" || exit 1
export PGDATABASE=$db
rc=1
for attempt in 1 2; do
	echo "== attempt $attempt"
	if /usr/bin/python3 bench/nplusone/workloads.py --quick \
		--min-precision 0.98 --min-recall 0.95; then
		rc=0
		break
	fi
done
dropdb "$db"
exit $rc

# pgplumb -- one entry point for building, testing, the demo and benchmarks.
#
#   make            build the extension, the pooler and common/
#   make install    install the extension into PostgreSQL and the pooler binary
#   make check      install missing Debian packages, build, run every test
#   make demo       throwaway PostgreSQL + extension + pooler, sample app, reports
#   make bench      run the benchmarks in bench/ (minutes; see bench/README.md)
#   make deps       install missing Debian packages (a no-op when all are there)
#   make format     reformat the C sources (pgindent style, regress/format.sh)
#   make clean

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PREFIX    ?= /usr/local
export PG_CONFIG

# Debian packages needed to build, test, run the demo and the benchmarks.
DEB_PACKAGES = \
	ca-certificates \
	check \
	gcc \
	gnuplot-nox \
	libevent-dev \
	libinih-dev \
	libpg-query-dev \
	libpostgresql-jdbc-java \
	libpq-dev \
	libprotobuf-c-dev \
	libssl-dev \
	make \
	pg-bsd-indent \
	pgbouncer \
	pkg-config \
	postgresql-15 \
	postgresql-client-15 \
	postgresql-common \
	postgresql-server-dev-15 \
	procps \
	python3 \
	python3-asyncpg \
	python3-django \
	python3-peewee \
	python3-pony \
	python3-psycopg \
	python3-psycopg2 \
	python3-sqlalchemy

all: common extension pooler

common:
	$(MAKE) -C common

extension:
	$(MAKE) -C extension PG_CONFIG=$(PG_CONFIG)

pooler: common
	@if [ -f pooler/Makefile ]; then $(MAKE) -C pooler; else echo "pooler: not built yet"; fi

install: all
	$(MAKE) -C extension install PG_CONFIG=$(PG_CONFIG)
	@if [ -f pooler/Makefile ]; then $(MAKE) -C pooler install PREFIX=$(PREFIX); fi

# Install what is missing; do nothing (and need no network) when all is there.
# Node.js and a JDK come from Debian unless node/npm/javac are already on PATH.
deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	command -v javac >/dev/null 2>&1 || missing="$$missing default-jdk-headless"; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		if [ "$$(id -u)" -ne 0 ]; then echo "deps: run as root (or install:$$missing)"; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "deps: all Debian packages present"; \
	fi

# Every suite runs even if an earlier one failed; the last line sums them up.
CHECK_SUITES = check-format check-common check-extension check-pooler-units check-pooler-e2e check-batching check-drivers

check: deps
	@$(MAKE) --no-print-directory all
	@passed=0; failed=0; failed_names=""; \
	for s in $(CHECK_SUITES); do \
		echo; echo "======== $$s ========"; \
		if $(MAKE) --no-print-directory $$s; then passed=$$((passed+1)); \
		else failed=$$((failed+1)); failed_names="$$failed_names $$s"; fi; \
	done; \
	echo; [ -z "$$failed_names" ] || echo "failed suites:$$failed_names"; \
	echo "suites: $$passed passed, $$failed failed"; \
	[ $$failed -eq 0 ]

# The C sources must be as the formatter leaves them (STYLE.md practice 8).
check-format:
	regress/format.sh check

format:
	regress/format.sh fix

check-common:
	$(MAKE) -C common check

check-extension:
	regress/run_extension.sh

check-pooler-units:
	@if [ -f pooler/Makefile ]; then $(MAKE) -C pooler check; else echo "pooler: no unit tests yet"; fi

check-pooler-e2e:
	@if [ -x regress/pooler/run.sh ]; then regress/pooler/run.sh; else echo "pooler: no end-to-end scenarios yet"; fi

# Batch-insert rewriting: the same message sequences direct, through PgBouncer
# and through pgplumb-pooler with insert_batching on must give identical replies.
check-batching:
	PGPLUMB_POOLER=pooler/pgplumb-pooler regress/pooler/t_batch_differential.sh

# Real drivers (node-postgres, postgres.js, pgjdbc, psycopg 3, pgbench) through
# pgplumb-pooler in transaction mode (pool size 2, 24 clients) and session mode:
# results must be identical to a direct connection.
check-drivers:
	@r=0; \
	regress/drivers/run.sh --target pgplumb --pool-mode transaction || r=1; \
	regress/drivers/run.sh --target pgplumb --pool-mode session || r=1; \
	exit $$r

demo: deps all
	bench/demo/run.sh

bench: deps all
	@for b in bench/*.sh; do echo "== $$b"; $$b || exit 1; done

clean:
	$(MAKE) -C common clean
	$(MAKE) -C extension clean PG_CONFIG=$(PG_CONFIG)
	@if [ -f pooler/Makefile ]; then $(MAKE) -C pooler clean; fi
	rm -rf build regress/results regress/regression.diffs regress/regression.out

.PHONY: all common extension pooler install deps format check $(CHECK_SUITES) demo bench clean

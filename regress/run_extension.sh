#!/bin/bash
# regress/run_extension.sh -- run the extension's tests against a throwaway
# PostgreSQL server that preloads pgplumb (and pg_stat_statements, for
# cross-checks).
#
# The extension is staged under build/stage, not installed into the system
# (see lib/stage.sh).  pg_virtualenv -t creates the cluster in a temporary
# directory owned by the postgres user (initdb never runs as root) and drops it
# on exit.
#
# Usage: regress/run_extension.sh [test names...]
# With no names: every regress/sql/*.sql in name order, then every regress/t/*.sh.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/regress/lib/stage.sh"

pp_stage_extension
pp_venv_opts "pgplumb,pg_stat_statements"
pp_venv+=(-o "max_connections=50")
pp_run_virtualenv "$top/regress/lib/inside_cluster.sh" "$@"

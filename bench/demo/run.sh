#!/bin/bash
# bench/demo/run.sh -- what `make demo` runs.
#
# Starts a throwaway PostgreSQL 15 with pgplumb preloaded (pg_virtualenv -t,
# dropped at the end), puts pgplumb-pooler in front of it, drives the sample
# Node.js app (app/app.js) through the pooler, prints pgplumb's reports, applies
# the fixes (the advised index, the app's "after" code) and runs it again.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/regress/lib/stage.sh"

echo "== building and staging the extension"
pp_stage_extension
if [ ! -d "$top/bench/demo/app/node_modules/pg" ]; then
	echo "== installing the sample app's node modules (npm ci)"
	(cd "$top/bench/demo/app" && npm ci --no-audit --no-fund --loglevel=error)
fi
pp_venv_opts "pgplumb"
echo "== starting a throwaway PostgreSQL $pp_pgver"
pp_venv+=(-o "pgplumb.track=top")
pp_run_virtualenv "$top/bench/demo/inside.sh"

#!/bin/bash
# regress/run_extension.sh -- run the extension's tests against a throwaway
# PostgreSQL server that preloads pgplumb (and pg_stat_statements, for
# cross-checks).
#
# The extension is installed into a staging directory (build/stage), not into
# the system: Debian's extension_destdir setting lets the throwaway server load
# it from there.  pg_virtualenv -t creates the cluster in a temporary directory
# owned by the postgres user (initdb never runs as root) and drops it on exit.
#
# Usage: regress/run_extension.sh [pg_regress test names...]
# With no names: every regress/sql/*.sql in name order, then every regress/t/*.sh.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
pgver=$("$PG_CONFIG" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')
libdir=$("$PG_CONFIG" --pkglibdir)
stage=$top/build/stage

make -s -C "$top/extension" PG_CONFIG="$PG_CONFIG"
rm -rf "$stage"
make -s -C "$top/extension" install DESTDIR="$stage" PG_CONFIG="$PG_CONFIG" >/dev/null

# The server runs as postgres: it must be able to read the staged files.
chmod -R a+rX "$stage"
d=$top
while [ "$d" != / ]; do chmod a+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done

exec pg_virtualenv -t -v "$pgver" \
	-o "shared_preload_libraries=pgplumb,pg_stat_statements" \
	-o "extension_destdir=$stage" \
	-o "dynamic_library_path=$stage$libdir:$libdir" \
	-o "max_connections=50" \
	"$top/regress/lib/inside_cluster.sh" "$@"

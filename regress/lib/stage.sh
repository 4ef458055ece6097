# regress/lib/stage.sh -- sourced by scripts that need a throwaway PostgreSQL
# with pgplumb preloaded (tests, demo, benchmarks).
#
# pp_stage_extension builds the extension and installs it into build/stage
# instead of the system; pp_venv_opts then holds the pg_virtualenv options that
# make the throwaway server load it from there (Debian's extension_destdir and
# dynamic_library_path) and preload it.  Requires $top (the repository root).

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
pp_pgver=$("$PG_CONFIG" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')
pp_libdir=$("$PG_CONFIG" --pkglibdir)
pp_stage=$top/build/stage

pp_stage_extension() {
	make -s -C "$top/extension" PG_CONFIG="$PG_CONFIG" >/dev/null || return 1
	rm -rf "$pp_stage"
	make -s -C "$top/extension" install DESTDIR="$pp_stage" PG_CONFIG="$PG_CONFIG" >/dev/null || return 1
	# The server runs as postgres: it must be able to read the staged files.
	chmod -R a+rX "$pp_stage"
	local d=$top
	while [ "$d" != / ]; do chmod a+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
}

# Options for pg_virtualenv; $1 is shared_preload_libraries.
pp_venv_opts() {
	pp_venv=(-t -v "$pp_pgver"
		-o "shared_preload_libraries=$1"
		-o "extension_destdir=$pp_stage"
		-o "dynamic_library_path=$pp_stage$pp_libdir:$pp_libdir")
}

# Run "$@" inside pg_virtualenv "${pp_venv[@]}" (set by pp_venv_opts), and
# try again when pg_virtualenv failed before the command started: it picks a
# free port, and another throwaway cluster started at the same moment can
# take it first.  Returns the command's exit status.
pp_run_virtualenv() {
	local marker rc=1 try
	for try in 1 2 3 4 5; do
		marker=$(mktemp -u /tmp/pgplumb-venv.XXXXXX)
		rc=0
		PP_VENV_MARKER=$marker pg_virtualenv "${pp_venv[@]}" \
			sh -c 'touch "$PP_VENV_MARKER" && exec "$@"' sh "$@" || rc=$?
		if [ -e "$marker" ]; then
			rm -f "$marker"
			return $rc
		fi
		echo "pg_virtualenv failed before the command started (port taken?); trying again" >&2
		sleep "$try"
	done
	return $rc
}

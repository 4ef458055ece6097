#!/bin/bash
# format.sh -- the C formatting rule of the tree (STYLE.md practice 8), enforced.
#
#   regress/format.sh check   lists the C files that the formatter would change and
#                             fails if there is any (make check runs it)
#   regress/format.sh fix     rewrites them in place (make format)
#
# The formatter is pg_bsd_indent 2.1.1 (Debian package pg-bsd-indent, the version
# PostgreSQL 15's pgindent uses) with pgindent's options, for extension/, pooler/
# and common/ alike.  pgindent needs the list of type names: it is made here from
# the PostgreSQL 15 server headers, libevent's and the tree's own headers (names
# closing a typedef block, and the last word of one-line typedefs), plus the C
# library types the sources use (FORMAT_TYPES_OUT=FILE keeps a copy of that list,
# to see why a declaration was formatted as an expression).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-check}
case $mode in check | fix) ;; *) echo "usage: $0 [check|fix]" >&2; exit 2 ;; esac
indent=$(command -v pg_bsd_indent || true)
[ -n "$indent" ] || { echo "format.sh: pg_bsd_indent not found (apt-get install pg-bsd-indent, or make deps)" >&2; exit 2; }
pgincl=$(pg_config --includedir-server 2>/dev/null || echo /usr/include/postgresql/15/server)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mapfile -t files < <(git ls-files 'extension/*.[ch]' 'pooler/*.[ch]' 'common/*.[ch]' 2>/dev/null ||
	find extension pooler common -name '*.[ch]' | sort)

# type names: a typedef block's closing name, the last word of a one-line typedef,
# and the name of a typedef'd function pointer
{ find "$pgincl" /usr/include/event2 -name '*.h' -print0 2>/dev/null; printf '%s\0' "${files[@]}"; } |
	xargs -0 awk '
	FNR == 1 { intd = 0 }
	function emit(s) { if (s ~ /^[A-Za-z_][A-Za-z0-9_]*$/) print s }
	function lastname(line) {
		sub(/[ \t]*(\[[^]]*\])?[ \t]*;.*$/, "", line); sub(/.*[ \t*}]/, "", line); emit(line)
	}
	intd {
		depth += gsub(/{/, "{") - gsub(/}/, "}")
		if (depth <= 0 && $0 ~ /;/) { lastname($0); intd = 0 }
		next
	}
	/^[ \t]*typedef/ {
		line = $0
		if (line ~ /\([ \t]*\*[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*\)/) {
			sub(/^[^(]*\([ \t]*\*[ \t]*/, "", line); sub(/[ \t]*\).*$/, "", line); emit(line); next
		}
		depth = gsub(/{/, "{") - gsub(/}/, "}")
		if (depth == 0 && line ~ /;/) { lastname(line); next }
		intd = 1
	}' > "$work/types"
printf '%s\n' size_t ssize_t uint8_t uint16_t uint32_t uint64_t int8_t int16_t int32_t \
	int64_t FILE pid_t off_t socklen_t time_t va_list uintptr_t intptr_t evutil_socket_t \
	bool sig_atomic_t >> "$work/types"
sort -u -o "$work/types" "$work/types"
[ -z "${FORMAT_TYPES_OUT:-}" ] || cp "$work/types" "$FORMAT_TYPES_OUT"

opts=(-bad -bap -bbb -bc -bl -cli1 -cp33 -cdb -nce -d0 -di12 -nfc1 -i4 -l79 -lp -lpl
	-nip -npro -sac -tpg -ts4 "-U$work/types")
bad=0			# files not formatted (check) and files the formatter failed on
for f in "${files[@]}"; do
	"$indent" "${opts[@]}" "$f" "$work/out" 2>"$work/err" || { echo "format.sh: $f: $(head -1 "$work/err")" >&2; bad=$((bad + 1)); continue; }
	if ! cmp -s "$f" "$work/out"; then
		if [ "$mode" = fix ]; then
			cp "$work/out" "$f"; echo "formatted $f"
		else
			echo "not formatted: $f ($(diff "$f" "$work/out" | grep -c '^[<>]') lines differ; make format fixes it)"
			bad=$((bad + 1))
		fi
	fi
done
[ "$mode" = fix ] || echo "format: ${#files[@]} files checked, $bad not formatted"
[ "$bad" -eq 0 ]

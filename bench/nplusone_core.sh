#!/bin/bash
# bench/nplusone_core.sh -- micro-benchmark of the N+1 detector core:
# nanoseconds per statement fed to n1_feed (see bench/nplusone_core.c).
# Usage: bench/nplusone_core.sh [statements] [rounds]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc -std=gnu11 -O2 -Wall -Wextra -Werror -I"$top/common" -o "$out/nplusone_core" \
	"$top/bench/nplusone_core.c" "$top/common/nplusone.c" -lm
"$out/nplusone_core" "$@"

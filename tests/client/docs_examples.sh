#!/usr/bin/env bash
# The runnable C examples of docs/client.md and docs/pool.md, compiled and run
# as written against the rig's primary: every ```c block whose first line is
# "/* cc NAME.c ..." is one program; it must exit 0 and print what the guide
# says it prints (the expectations below).
#
#   tests/client/docs_examples.sh SOURCE_ROOT BUILD_ROOT [SANITIZE]
#
# SANITIZE is meson's b_sanitize of the build ("none", "address,undefined"):
# the examples are built the same way so they link with that library.
set -euo pipefail
SRC=$1
BUILD=$2
SAN=()
[ -n "${3:-}" ] && [ "$3" != none ] && SAN=(-fsanitize="$3")
: "${ALCHDB_TEST_PRIMARY:?needs the rig (tests/services/rig.sh run --)}"
WORK=$(mktemp -d /tmp/alchdb-docs.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

declare -A EXPECT=(
  [client_demo.c]='answer = 42|nothing is null: 1'
  [client_opts.c]='timeout: timed out|cancel: canceled|bytea: 3 bytes, same: 1|stream: 100000 rows, sum 5000050000, SELECT 100000|commit: SQLSTATE 23505'
  [pool_demo.c]='"name":"primary (127.0.0.1:'
)

n=0
for doc in "$SRC/docs/client.md" "$SRC/docs/pool.md"; do
  awk -v dir="$WORK" '
    /^```c$/ { inblock = 1; first = 1; next }
    /^```$/ && inblock { inblock = 0; if (out) close(out); out = ""; next }
    inblock && first { first = 0; if (match($0, /^\/\* cc [A-Za-z0-9_]+\.c/)) { name = substr($0, 7, RLENGTH - 6); out = dir "/" name } }
    inblock && out { print > out }
  ' "$doc"
done
for prog in "$WORK"/*.c; do
  name=$(basename "$prog")
  [ -n "${EXPECT[$name]:-}" ] || { echo "FAIL $name: no expectation in $0" >&2; exit 1; }
  cc "${SAN[@]}" -std=c11 -D_GNU_SOURCE -Wall -Werror -I"$SRC/include" -I"$BUILD/include" -I/usr/include/postgresql \
     "$prog" -o "${prog%.c}" -L"$BUILD/lib" -lalchdb -lpq -lpthread -Wl,-rpath,"$BUILD/lib"
  out=$("${prog%.c}" "$ALCHDB_TEST_PRIMARY" 2>&1) || { echo "FAIL $name exited $?: $out" >&2; exit 1; }
  IFS='|' read -r -a wants <<< "${EXPECT[$name]}"
  for want in "${wants[@]}"; do
    grep -qF -- "$want" <<< "$out" || { echo "FAIL $name: missing '$want' in:" >&2; echo "$out" >&2; exit 1; }
  done
  echo "ok $name"
  n=$((n + 1))
done
[ "$n" -eq "${#EXPECT[@]}" ] || { echo "FAIL: ran $n examples, expected ${#EXPECT[@]}" >&2; exit 1; }

#!/usr/bin/env bash
# The forms docs/perftest.md shows, run as written against the rig: every
# line of its ```sh blocks that starts with "alchdb " (PRIMARY, REPLICA and
# REDIS set from the rig, the build's alchdb first on PATH; exit 0 or 1 =
# targets met or missed), and every ```c block whose first line is
# "/* cc NAME.c ..." compiled and run with the primary's conninfo.
#   tests/perftest/docs_examples.sh SOURCE_ROOT BUILD_ROOT [SANITIZE]
set -euo pipefail
SRC=$1
BUILD=$2
SAN=()
[ -n "${3:-}" ] && [ "$3" != none ] && SAN=(-fsanitize="$3")
: "${ALCHDB_TEST_PRIMARY:?needs the rig (tests/services/rig.sh run --)}"
export PRIMARY=$ALCHDB_TEST_PRIMARY REPLICA=$ALCHDB_TEST_REPLICA REDIS=$ALCHDB_TEST_REDIS
export PATH="$BUILD/tools:$PATH"
# short runs: the commands stay as written, the options come from the environment
export ALCHDB_PERFTEST_DURATION=500ms ALCHDB_PERFTEST_WARMUP=100ms ALCHDB_PERFTEST_RECIPES=1000 ALCHDB_PERFTEST_USERS=100
WORK=$(mktemp -d /tmp/alchdb-ptdocs.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
DOC="$SRC/docs/perftest.md"

awk '/^```sh$/ { s = 1; next } /^```$/ { s = 0 } s && /^alchdb / { print }' "$DOC" > "$WORK/commands"
n=0
while IFS= read -r line; do
  rc=0
  out=$(bash -c "$line" 2>&1) || rc=$?
  [ "$rc" -le 1 ] || { echo "FAIL (exit $rc): $line" >&2; echo "$out" >&2; exit 1; }
  grep -qE 'Health: |"summary"' <<< "$out" || { echo "FAIL (no report): $line" >&2; echo "$out" >&2; exit 1; }
  echo "ok: $line"
  n=$((n + 1))
done < "$WORK/commands"
[ "$n" -eq 3 ] || { echo "FAIL: ran $n commands, expected 3" >&2; exit 1; }

awk -v dir="$WORK" '
  /^```c$/ { inblock = 1; first = 1; next }
  /^```$/ && inblock { inblock = 0; if (out) close(out); out = ""; next }
  inblock && first { first = 0; if (match($0, /^\/\* cc [A-Za-z0-9_]+\.c/)) { name = substr($0, 7, RLENGTH - 6); out = dir "/" name } }
  inblock && out { print > out }
' "$DOC"
prog="$WORK/perftest_demo.c"
[ -f "$prog" ] || { echo "FAIL: no perftest_demo.c block in $DOC" >&2; exit 1; }
cc "${SAN[@]}" -std=c11 -D_GNU_SOURCE -Wall -Werror -I"$SRC/include" -I"$BUILD/include" "$prog" -o "${prog%.c}" \
   -L"$BUILD/lib" -lalchdb -lpthread -Wl,-rpath,"$BUILD/lib"
out=$("${prog%.c}" "$ALCHDB_TEST_PRIMARY" 2>&1) || { echo "FAIL perftest_demo exited $?: $out" >&2; exit 1; }
for want in "user_recipe_lookup" "Grade: "; do
  grep -qF -- "$want" <<< "$out" || { echo "FAIL perftest_demo: missing '$want' in:" >&2; echo "$out" >&2; exit 1; }
done
echo "ok perftest_demo.c"

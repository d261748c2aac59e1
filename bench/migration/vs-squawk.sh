#!/usr/bin/env bash
# alchdb migrate check and squawk-cli side by side on the same generated
# migration (bench_migration --write): median wall time of R interleaved runs
# each, and the ratio. squawk-cli 2.66.0 comes from the npm registry into
# bench/migration/.squawk (git-ignored) unless SQUAWK names a binary.
#   bench/migration/vs-squawk.sh [BUILD_DIR] [STATEMENTS] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
n=${2:-11000}
runs=${3:-3}
squawk=${SQUAWK:-$here/.squawk/node_modules/.bin/squawk}
if [ ! -x "$squawk" ]; then
  npm install --silent --no-audit --no-fund --prefix "$here/.squawk" squawk-cli@2.66.0 >/dev/null
fi
file=$(mktemp --suffix=.sql)
trap 'rm -f "$file"' EXIT
"$build/bench/migration/bench_migration" --statements "$n" --write "$file"
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
wall() { # seconds of one run of "$@" (exit status 1 = findings, not a failure)
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || [ $? -le 1 ]
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
a=() s=()
for _ in $(seq "$runs"); do
  a+=("$(wall "$build/tools/alchdb" migrate check "$file")")
  s+=("$(wall "$squawk" "$file")")
done
ma=$(printf '%s\n' "${a[@]}" | median)
ms=$(printf '%s\n' "${s[@]}" | median)
printf 'migrate check vs squawk-cli 2.66.0, %s statements, median of %s runs each:\n' "$n" "$runs"
printf '  alchdb migrate check  %8.3f s\n  squawk                %8.3f s\n  alchdb / squawk       %8.2fx\n' \
  "$ma" "$ms" "$(echo "$ma / $ms" | bc -l)"

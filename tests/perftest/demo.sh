#!/usr/bin/env bash
# Runs the main job as the README shows it (examples/run-demo.sh --once), on
# the build under test, and checks that every section of the story printed
# what it should. The demo starts and tears down its own servers.
#   tests/perftest/demo.sh SOURCE_ROOT BUILD_DIR
set -euo pipefail
SRC=$1
BUILD=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cd "$SRC"
rc=0
env -u ALCHDB_DEMO_INSIDE ALCHDB_SKIP_APT=1 ALCHDB_DEMO_BUILD="$BUILD" examples/run-demo.sh --once >"$out" 2>&1 || rc=$?
fail() { echo "demo test: $*" >&2; echo "---- demo output ----" >&2; cat "$out" >&2; exit 1; }
[ "$rc" = 0 ] || fail "exit status $rc"
expect() { grep -qF -- "$1" "$out" || fail "missing: $1"; }
expect "== 1. Load the Alchemorsel data =="
expect " recipes        | 10000"
expect " users          |  1000"
expect "== 2. Quick perftest through the routed, cached, monitored client =="
expect "[9/9] index_vs_seq_scan"
expect "Performance test report: profile quick, 10000 recipes, 1000 users"
expect "Health: "
expect "Grade: "
expect "Monitor: top 5 query patterns by total time"
expect "Monitor: suggestions"
expect "== 3. Index advisor (HypoPG) on the loaded database =="
expect "HypoPG yes"
expect "== 4. Migration check: examples/migrations/001_recipe_search.sql =="
expect "max risk high"
expect "CREATE INDEX CONCURRENTLY recipes_title_idx"
expect "== 5. Dashboard =="
# the agent's --once snapshot, summarised: score, grade, status and the alerts
grep -Eq '^dashboard: score [0-9]+\.[0-9], grade [A-DF], status (healthy|warning|critical)$' "$out" \
  || fail "missing: the dashboard summary line"
expect "alerts: "
expect "== Cleanup: drop only what the perftest created =="
expect "dropped"
expect "demo: done"
# no password and no libpq noise on the way
! grep -q "NOTICE:" "$out" || fail "a server notice was printed"
echo "demo test: every section printed what it should"

#!/usr/bin/env bash
# The main job: what libalchdb does for an application, on throwaway servers.
#
#   examples/run-demo.sh            run the story, then keep the dashboard up until Ctrl-C
#   examples/run-demo.sh --once     run the story and exit (CI uses this)
#   ALCHDB_SKIP_APT=1 examples/run-demo.sh --once     packages already installed
#   ALCHDB_DEMO_BUILD=build examples/run-demo.sh --once   use an existing build directory
#
# On a fresh Debian 12 machine (as root) it installs the packages
# (tests/install-deps.sh), builds the library and the `alchdb` tool, starts a
# PostgreSQL 15 primary, a streaming replica and Redis (tests/services/rig.sh,
# torn down at the end), and then:
#   1. loads the Alchemorsel data (users, recipes, ratings, likes, views) with COPY;
#   2. runs the quick perftest through the routed (primary + replica), cached
#      (Redis) and monitored client, with the live progress display, and shows
#      the monitor's top query patterns and suggestions;
#   3. runs the index advisor (with HypoPG) on the loaded database;
#   4. checks a sample migration (examples/migrations/) against it;
#   5. shows the dashboard summary (score, grade, alerts) and serves the page
#      and /metrics until Ctrl-C (see dashboard_step below).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD=${ALCHDB_DEMO_BUILD:-${ALCHDB_BUILD_ROOT:-$ROOT}/build-demo}
ONCE=0
for a in "$@"; do
  case "$a" in
    --once) ONCE=1 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-demo.sh: unknown argument '$a' (usage: examples/run-demo.sh [--once])" >&2; exit 2 ;;
  esac
done
export ONCE BUILD

section() { printf '\n== %s ==\n' "$*"; }

# ---- inside the rig: the story -------------------------------------------------
if [ "${ALCHDB_DEMO_INSIDE:-0}" = 1 ]; then
  ALCHDB="$BUILD/tools/alchdb"
  PSQL="$ALCHDB_TEST_PG_BIN/psql"
  [ -x "$PSQL" ] || PSQL=psql
  # the run's own Redis key prefix, so a shared Redis never mixes runs
  PREFIX="alchdb:demo:$$"

  section "1. Load the Alchemorsel data"
  "$ALCHDB" perftest --load "$ALCHDB_TEST_PRIMARY"
  "$PSQL" -X -q -d "$ALCHDB_TEST_PRIMARY" -c "SELECT 'users' AS table, count(*) FROM alchdb_perftest.users
      UNION ALL SELECT 'recipes', count(*) FROM alchdb_perftest.recipes
      UNION ALL SELECT 'recipe_ratings', count(*) FROM alchdb_perftest.recipe_ratings
      UNION ALL SELECT 'recipe_likes', count(*) FROM alchdb_perftest.recipe_likes
      UNION ALL SELECT 'recipe_views', count(*) FROM alchdb_perftest.recipe_views"

  section "2. Quick perftest through the routed, cached, monitored client"
  echo "primary + replica (router), Redis cache (prefix $PREFIX), query monitor"
  rc=0
  "$ALCHDB" perftest --quick --set keep_data=1 --replica "$ALCHDB_TEST_REPLICA" \
      --redis "$ALCHDB_TEST_REDIS" --cache-prefix "$PREFIX" --monitor-report 5 \
      "$ALCHDB_TEST_PRIMARY" || rc=$?
  case $rc in
    0) echo "perftest: every target met" ;;
    1) echo "perftest: some targets missed (see the report above; a 2-core machine shared with the servers)" ;;
    *) echo "perftest: the run failed (exit $rc)"; exit "$rc" ;;
  esac

  section "3. Index advisor (HypoPG) on the loaded database"
  PGOPTIONS='-c client_min_messages=warning' "$PSQL" -X -q -d "$ALCHDB_TEST_PRIMARY" \
      -c "CREATE EXTENSION IF NOT EXISTS hypopg"
  "$ALCHDB" advise --conninfo "$ALCHDB_TEST_PRIMARY"

  section "4. Migration check: examples/migrations/001_recipe_search.sql"
  rc=0
  "$ALCHDB" migrate check --conninfo "$ALCHDB_TEST_PRIMARY" examples/migrations/001_recipe_search.sql || rc=$?
  [ "$rc" -le 1 ] || exit "$rc"

  section "5. Dashboard"
  dashboard_step() {
    # The dashboard agent (docs/dashboard.md, "The agent"): its own router over
    # the primary and the replica, the Redis cache's statistics, the advisor's
    # report and a monitor fed from pg_stat_statements deltas (the rig creates
    # the extension). --once prints the snapshot JSON after two samples 1 s
    # apart; the summary below is read from it.
    local agent=("$ALCHDB" dashboard --conninfo "$ALCHDB_TEST_PRIMARY"
                 --replica "$ALCHDB_TEST_REPLICA" --redis "$ALCHDB_TEST_REDIS")
    local snap
    snap=$(mktemp)
    "${agent[@]}" --once > "$snap"
    python3 - "$snap" <<'PY'
import json, sys
snap = json.load(open(sys.argv[1]))
h = snap["health"]
print(f"dashboard: score {h['score']:.1f}, grade {h['grade']}, status {h['status']}")
for p in h["penalties"]:
    print(f"  penalty {p['id']}: {p['metric']} {p['value']:.4g} (threshold {p['threshold']:.4g})")
print(f"alerts: {len(h['alerts'])} firing")
for a in h["alerts"]:
    print(f"  [{a['severity']}] {a['id']}: {a['title']}")
for r in h["recommendations"]:
    print(f"  recommendation: {r['text']}")
PY
    rm -f "$snap"
    [ "$ONCE" = 1 ] && return 0
    # Serve the page and /metrics on 127.0.0.1 until Ctrl-C; the agent stops
    # on SIGINT and the cleanup below still runs.
    local port=${ALCHDB_DEMO_PORT:-8080}
    echo "serving the dashboard on http://127.0.0.1:$port/ and /metrics: Ctrl-C to stop"
    trap ':' INT
    "${agent[@]}" --listen "127.0.0.1:$port" || true
    trap - INT
  }
  dashboard_step

  section "Cleanup: drop only what the perftest created"
  "$ALCHDB" perftest --cleanup "$ALCHDB_TEST_PRIMARY"
  echo "demo: done"
  exit 0
fi

# ---- outside: packages, build, servers -----------------------------------------
tests/install-deps.sh
if [ -n "${ALCHDB_DEMO_BUILD:-}" ]; then
  [ -f "$BUILD/build.ninja" ] || { echo "run-demo.sh: $BUILD is not a configured build directory" >&2; exit 2; }
elif [ -f "$BUILD/build.ninja" ]; then
  meson configure "$BUILD" -Dexamples=true >/dev/null
else
  meson setup "$BUILD" -Dexamples=true >/dev/null
fi
ninja -C "$BUILD" -j "${ALCHDB_JOBS:-2}" tools/alchdb >/dev/null
ALCHDB_DEMO_INSIDE=1 exec tests/services/rig.sh run -- "$ROOT/examples/run-demo.sh" "$@"

#!/usr/bin/env bash
# bench/cache: the query cache against raw hiredis and the database, hit
# ratios under Zipf workloads, in one run on the real servers of
# tests/services/rig.sh (PostgreSQL 15 + Redis; no replica needed).
#
#   bench/cache/run.sh [--quick] [--json FILE] [--threads N] [--pin CPUS]
#
# --pin CPUS runs the servers and the bench under `taskset -c CPUS` (e.g.
# --pin 1): on a small shared VM, loopback round trips swing between two
# regimes (~25 and ~90 us) with the CPU the server happens to wake on, and
# pinning everything to one CPU makes the single-thread latencies of sections
# 1, 2 and 4 repeatable (section 3 then shares that CPU between all threads).
#
# Environment: ALCHDB_BENCH_BUILD (meson build dir, default build-bench, made
# with -Dbuildtype=release -Dbench=true if missing), ALCHDB_PG_BIN (default
# /usr/lib/postgresql/15/bin, read by the rig).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${ALCHDB_BENCH_BUILD:-$ROOT/build-bench}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

ARGS=()
PIN=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) ARGS+=(--quick) ;;
    --json) [ $# -ge 2 ] || { echo "bench/cache: --json needs a FILE" >&2; exit 2; }
            case "$2" in /*) J=$2 ;; *) J=$PWD/$2 ;; esac
            ARGS+=(--json-out "$J"); shift ;;
    --threads) [ $# -ge 2 ] || { echo "bench/cache: --threads needs N" >&2; exit 2; }
               ARGS+=(--threads "$2"); shift ;;
    --pin) [ $# -ge 2 ] || { echo "bench/cache: --pin needs CPUS" >&2; exit 2; }
           PIN=(taskset -c "$2"); shift ;;
    *) echo "usage: bench/cache/run.sh [--quick] [--json FILE] [--threads N] [--pin CPUS]" >&2; exit 2 ;;
  esac
  shift
done

if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" "$ROOT" -Dbuildtype=release -Dbench=true >/dev/null
fi
ninja -C "$BUILD" -j2 bench/cache/bench_cache >/dev/null
ALCHDB_RIG_REPLICAS=0 exec ${PIN[@]+"${PIN[@]}"} "$ROOT/tests/services/rig.sh" run -- "$BUILD/bench/cache/bench_cache" ${ARGS[@]+"${ARGS[@]}"}

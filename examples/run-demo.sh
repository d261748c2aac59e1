#!/usr/bin/env bash
# The main job: on a fresh Debian 12 machine as root, install what is needed,
# build libalchdb, start the real servers (tests/services/rig.sh: PostgreSQL 15
# primary + streaming replica + Redis) and run the demo (examples/demo.c) on
# examples/demo.sql. The servers are torn down when the demo ends.
#
#   examples/run-demo.sh [SQL_FILE]
#   ALCHDB_SKIP_APT=1 examples/run-demo.sh      packages already installed
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD=${ALCHDB_BUILD_ROOT:-$ROOT}/build-demo
SQL=${1:-examples/demo.sql}

tests/install-deps.sh
if [ -f "$BUILD/build.ninja" ]; then
  meson configure "$BUILD" -Dexamples=true >/dev/null
else
  meson setup "$BUILD" -Dexamples=true >/dev/null
fi
ninja -C "$BUILD" -j "${ALCHDB_JOBS:-2}" examples/demo
exec tests/services/rig.sh run -- "$BUILD/examples/demo" "$SQL"

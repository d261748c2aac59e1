#!/usr/bin/env bash
# Install every Debian 12 package libalchdb needs to build, test and run its demo.
#   tests/install-deps.sh            apt-get update once, then apt-get install
#   ALCHDB_SKIP_APT=1 tests/install-deps.sh
#                                    do not touch apt; only verify that every
#                                    package is present (fails listing the missing)
set -euo pipefail

PACKAGES=(
  # build
  meson ninja-build pkg-config gcc g++ libc6-dev binutils
  # libraries the library links
  libpq-dev libhiredis-dev libjansson-dev libpg-query-dev libzstd-dev
  # tests: Check, the rig's servers (pg_stat_statements ships in postgresql-15),
  # HypoPG for the advisor, PgBouncer for the benches
  check libsubunit-dev postgresql-15 postgresql-client-15 postgresql-15-hypopg
  redis-server redis-tools pgbouncer
  # gates and checkers; clang and its fuzzer runtime for tests/fuzz (libFuzzer)
  abigail-tools valgrind python3 clang libclang-rt-14-dev
  # tools the rig and scripts use (runuser, useradd, ss, ps)
  util-linux passwd iproute2 procps
  # bench/run-all.sh: the latency plots
  gnuplot-nox
  # dashboard: its HTTP listener, promtool and a real Prometheus for its tests,
  # and a headless browser driven by Selenium for its web page
  libmicrohttpd-dev prometheus curl chromium chromium-driver python3-selenium
  # bindings and reference docs: the Python package's tests (pytest, pip),
  # the Go example (cgo), the API reference (Doxygen)
  python3-pytest python3-pip golang-go doxygen
  # the advisor CLI test validates its JSON against the documented schema;
  # the man-page test renders with groff
  python3-jsonschema groff-base
  # the cache's Sentinel suite: the rig's `sentinel` group (master, replica, sentinels)
  redis-sentinel
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${ALCHDB_SKIP_APT:-0}" = 1 ]; then
  if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: ALCHDB_SKIP_APT=1 but these packages are missing: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: all ${#PACKAGES[@]} packages present (apt skipped: ALCHDB_SKIP_APT=1)"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages present"
    exit 0
  fi
  echo "install-deps: run as root to install: ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${PACKAGES[@]}"
echo "install-deps: ${#PACKAGES[@]} packages installed"

#!/usr/bin/env bash
# examples/go built with cgo against this build's library (through its
# uninstalled pkg-config file) and run against the rig; it must exit 0 and
# print what a correct run prints. No network: the module has no dependencies.
#   tests/bindings/go.sh SOURCE_ROOT BUILD_ROOT
set -euo pipefail
src=$1 build=$2
: "${ALCHDB_TEST_PRIMARY:?needs the rig (tests/services/rig.sh run --)}"
command -v go >/dev/null || { echo "go not found (apt-get install golang-go)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/alchdb-go.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export GOCACHE=$tmp/cache GOPATH=$tmp/gopath GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on
export PKG_CONFIG_PATH=$build/meson-uninstalled CGO_ENABLED=1
cp -r "$src/examples/go" "$tmp/src"
(cd "$tmp/src" && go build -o "$tmp/example" .)
out=$(LD_LIBRARY_PATH=$build/lib "$tmp/example" -goroutines 16 -queries 200 2>&1) || {
  echo "$out" >&2; echo "examples/go exited non-zero" >&2; exit 1; }
echo "$out"
for want in "libalchdb " "16 goroutines x 200 queries in" ", 0 failed, " "deadline: timed out after" "sum of qty: 48"; do
  grep -qF -- "$want" <<<"$out" || { echo "missing from the output: $want" >&2; exit 1; }
done

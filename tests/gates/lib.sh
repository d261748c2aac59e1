# Shared helpers of the gate scripts (sourced, not run).
# Each gate prints one "PASS: ..." or "FAIL: ..." line per check and exits
# non-zero when any check failed.

GATE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GATE_FAILS=0
GATE_PASSES=0

pass() { echo "PASS: $*"; GATE_PASSES=$((GATE_PASSES + 1)); }
fail() { echo "FAIL: $*"; GATE_FAILS=$((GATE_FAILS + 1)); }
die() { echo "FAIL: $*"; exit 1; }

# gate_build_dir ARG: absolute path of the meson build directory given on the
# command line; dies when it is not a configured build directory.
gate_build_dir() {
  [ -n "${1:-}" ] || die "usage: $0 BUILD_DIR"
  [ -d "$1" ] || die "build directory '$1' does not exist"
  local d
  d=$(cd "$1" && pwd)
  [ -f "$d/build.ninja" ] || die "'$1' is not a configured meson build directory"
  echo "$d"
}

# gate_library BUILD_DIR: path of the built shared library (the real file,
# libalchdb.so.1.x.y), dies when it has not been built.
gate_library() {
  local so
  so=$(find "$1/lib" -maxdepth 1 -type f -name 'libalchdb.so.*' 2>/dev/null | sort | tail -n 1)
  [ -n "$so" ] || die "no libalchdb.so.* in $1/lib: build first (ninja -C $1)"
  echo "$so"
}

# gate_public_headers BUILD_DIR: every public header, one per line: the
# hand-written ones in include/alchdb and the generated version.h.
gate_public_headers() {
  local h
  for h in "$GATE_ROOT"/include/alchdb/*.h; do echo "$h"; done
  [ -f "$1/include/alchdb/version.h" ] || die "generated $1/include/alchdb/version.h missing: build first"
  echo "$1/include/alchdb/version.h"
}

gate_finish() { # name
  if [ "$GATE_FAILS" -gt 0 ]; then
    echo "$1: $GATE_FAILS check(s) failed, $GATE_PASSES passed"
    exit 1
  fi
  echo "$1: all $GATE_PASSES check(s) passed"
}

# gate_abidw BUILD_DIR OUT: the ABI of the built library as abidw XML,
# restricted to the types the public headers declare, without build paths.
gate_abidw() {
  local so
  so=$(gate_library "$1")
  abidw --headers-dir "$GATE_ROOT/include/alchdb" \
        --header-file "$1/include/alchdb/version.h" \
        --drop-private-types --drop-undefined-syms \
        --no-corpus-path --no-comp-dir-path --short-locs --no-elf-needed \
        --type-id-style hash \
        --out-file "$2" "$so"
}

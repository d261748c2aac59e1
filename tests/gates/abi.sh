#!/usr/bin/env bash
# Gate: the built library is ABI-compatible with the committed baseline
# abi/libalchdb.abi (abidiff --no-added-syms: additions are fine, any removal
# or incompatible change fails). Suppressions, each with its reason, live in
# abi/libalchdb.abignore.
#   tests/gates/abi.sh BUILD_DIR
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD=$(gate_build_dir "${1:-}")
BASE="$GATE_ROOT/abi/libalchdb.abi"
SUPPR="$GATE_ROOT/abi/libalchdb.abignore"
command -v abidw >/dev/null && command -v abidiff >/dev/null \
  || die "abidw/abidiff not found (apt-get install abigail-tools)"
if [ ! -f "$BASE" ]; then
  fail "no ABI baseline $BASE: run tests/gates/update-abi.sh $1 (on purpose, see docs/abi.md) and commit it"
  gate_finish "abi"
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
if ! out=$(gate_abidw "$BUILD" "$TMP/new.abi" 2>&1); then
  fail "abidw could not read the library (built without -g?):"; echo "$out" | sed 's/^/    /'
  gate_finish "abi"
fi
pass "abidw read $(basename "$(gate_library "$BUILD")")"

suppr=()
[ -f "$SUPPR" ] && suppr=(--suppressions "$SUPPR")
set +e
diff_out=$(abidiff --no-added-syms "${suppr[@]}" "$BASE" "$TMP/new.abi" 2>&1)
rc=$?
set -e
# abidiff's status is a bit field: 1 error, 2 usage, 4 ABI change, 8 incompatible change.
if [ $rc -eq 0 ]; then
  pass "abidiff --no-added-syms against abi/libalchdb.abi: no change"
elif [ $((rc & 3)) -ne 0 ]; then
  fail "abidiff failed to run (status $rc):"; echo "$diff_out" | sed 's/^/    /'
else
  fail "ABI differs from the baseline abi/libalchdb.abi (abidiff status $rc$([ $((rc & 8)) -ne 0 ] && echo ', INCOMPATIBLE')):"
  echo "$diff_out" | sed 's/^/    /'
  echo "    If the change is intended and compatible (docs/abi.md), run tests/gates/update-abi.sh $1"
fi

gate_finish "abi"

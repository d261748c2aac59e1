#!/usr/bin/env bash
# Regenerate the ABI baseline abi/libalchdb.abi from a build ON PURPOSE: at a
# release, or after an intended change that docs/abi.md allows. Prints what
# changed against the old baseline so the commit can say why.
#   tests/gates/update-abi.sh BUILD_DIR
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD=$(gate_build_dir "${1:-}")
BASE="$GATE_ROOT/abi/libalchdb.abi"
echo "building $BUILD first"
ninja -C "$BUILD" >/dev/null
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
gate_abidw "$BUILD" "$TMP/new.abi"
if [ -f "$BASE" ]; then
  echo "changes against the old baseline (abidiff, added symbols included):"
  abidiff "$BASE" "$TMP/new.abi" | sed 's/^/    /' || true
fi
mkdir -p "$(dirname "$BASE")"
cp "$TMP/new.abi" "$BASE"
echo "wrote $BASE ($(grep -c '<elf-symbol ' "$BASE") ELF symbols): review and commit it"

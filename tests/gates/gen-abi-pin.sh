#!/usr/bin/env bash
# Regenerate tests/gates/abi_pin.c from the current public headers. Run it ON
# PURPOSE after adding an enum constant, a flag macro or a struct member, review
# the diff (existing lines must not change), and commit the result.
#   tests/gates/gen-abi-pin.sh BUILD_DIR
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD=$(gate_build_dir "${1:-}")
python3 "$GATE_ROOT/tests/gates/abi_scan.py" gen \
  --out "$GATE_ROOT/tests/gates/abi_pin.c" --cc "${CC:-gcc}" \
  --cflags="-I$GATE_ROOT/include -I$BUILD/include $(pkg-config --cflags libpq)" \
  $(gate_public_headers "$BUILD")

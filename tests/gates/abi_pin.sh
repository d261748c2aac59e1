#!/usr/bin/env bash
# Gate: the committed compile-time pin (tests/gates/abi_pin.c) still holds
# against the current headers, and pins everything the headers declare.
#   tests/gates/abi_pin.sh BUILD_DIR
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD=$(gate_build_dir "${1:-}")
PIN="$GATE_ROOT/tests/gates/abi_pin.c"
[ -f "$PIN" ] || die "$PIN missing: run tests/gates/gen-abi-pin.sh $1 and commit it"

if out=$("${CC:-gcc}" -std=c11 -pedantic-errors -Wall -Wextra -Werror -fsyntax-only \
      -I "$GATE_ROOT/include" -I "$BUILD/include" $(pkg-config --cflags libpq) "$PIN" 2>&1); then
  pass "abi_pin.c compiles: no pinned enum value, flag or struct layout changed"
else
  fail "abi_pin.c no longer compiles against the headers: a pinned value or layout changed (an ABI break), or a pinned name was removed:"
  echo "$out" | grep -E 'error|pin:' | sed 's/^/    /'
fi

set +e
report=$(python3 "$GATE_ROOT/tests/gates/abi_scan.py" check --pin "$PIN" $(gate_public_headers "$BUILD"))
rc=$?
set -e
unpinned=$(sed -n 's/^UNPINNED //p' <<<"$report")
implicit=$(sed -n 's/^IMPLICIT //p' <<<"$report")
count=$(sed -n 's/^COUNT //p' <<<"$report")
if [ -n "$unpinned" ]; then
  fail "not pinned yet (new constants/members? run tests/gates/gen-abi-pin.sh $1, review, commit):"
  sed 's/^/    /' <<<"$unpinned"
elif [ $rc -gt 1 ] || [ -z "$count" ]; then
  fail "scanning the headers failed:"; echo "$report" | sed 's/^/    /'
else
  pass "every enum constant, flag macro and struct member of the headers is pinned ($count pins)"
fi
if [ -n "$implicit" ]; then
  fail "enum constants without an explicit value (CONVENTIONS.md 3.3):"
  sed 's/^/    /' <<<"$implicit"
else
  pass "every enum constant has an explicit value"
fi

gate_finish "abi_pin"

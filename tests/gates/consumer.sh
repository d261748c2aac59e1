#!/usr/bin/env bash
# Gate: install the library into a temporary prefix, build examples/consumer.c
# against the INSTALLED copy through pkg-config, run it, and drive the installed
# .so from Python ctypes (tests/gates/ctypes_check.py).
#   tests/gates/consumer.sh BUILD_DIR
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD=$(gate_build_dir "${1:-}")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
DEST="$TMP/root"

if ! out=$(meson install -C "$BUILD" --no-rebuild --destdir "$DEST" 2>&1); then
  fail "meson install --destdir failed:"; echo "$out" | tail -20 | sed 's/^/    /'
  gate_finish "consumer"
fi
pc=$(find "$DEST" -name libalchdb.pc | head -n 1)
[ -n "$pc" ] || { fail "libalchdb.pc was not installed"; gate_finish "consumer"; }
# Relocate the installed .pc from the configured prefix to the staging root,
# as a package would be unpacked elsewhere.
prefix=$(sed -n 's/^prefix=//p' "$pc")
sed -i "s|^prefix=.*|prefix=$DEST$prefix|" "$pc"
export PKG_CONFIG_PATH="$(dirname "$pc")"
libdir=$(pkg-config --variable=libdir libalchdb)
includedir=$(pkg-config --variable=includedir libalchdb)
pass "installed into $DEST$prefix (libalchdb.pc version $(pkg-config --modversion libalchdb))"

# Every public header is installed, and only the library's files.
missing=""
for h in $(gate_public_headers "$BUILD"); do
  [ -f "$includedir/alchdb/$(basename "$h")" ] || missing+=" $(basename "$h")"
done
if [ -n "$missing" ]; then fail "public headers not installed:$missing"; else pass "every public header is installed"; fi
if [ -L "$libdir/libalchdb.so" ] && [ -L "$libdir/libalchdb.so.1" ] && \
   [ "$(readelf -d "$libdir/libalchdb.so.1" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')" = libalchdb.so.1 ]; then
  pass "installed libalchdb.so -> libalchdb.so.1 -> $(basename "$(readlink -f "$libdir/libalchdb.so.1")")"
else
  fail "installed library links/SONAME wrong in $libdir: $(ls "$libdir" | tr '\n' ' ')"
fi

flags=$(pkg-config --cflags --libs libalchdb)
case "$flags" in
  *"$DEST"*) pass "pkg-config --cflags --libs libalchdb: $flags" ;;
  *) fail "pkg-config flags do not point into the installed copy: $flags" ;;
esac

# Build with the flags a user would use; -Werror keeps the headers honest.
if out=$(${CC:-gcc} -std=c11 -Wall -Wextra -Werror "$GATE_ROOT/examples/consumer.c" -o "$TMP/consumer" $flags 2>&1); then
  pass "examples/consumer.c builds against the installed copy"
  if resolved=$(LD_LIBRARY_PATH="$libdir" ldd "$TMP/consumer" | grep libalchdb) && [[ "$resolved" == *"$libdir"* ]]; then
    pass "consumer resolves libalchdb.so.1 from the installed copy"
  else
    fail "consumer does not load the installed library: ${resolved:-not linked}"
  fi
  if out=$(LD_LIBRARY_PATH="$libdir" "$TMP/consumer" 2>&1) && grep -q '^consumer ok$' <<<"$out" \
     && grep -q 'app.users' <<<"$out"; then
    pass "consumer runs:"; echo "$out" | sed 's/^/    /'
  else
    fail "consumer run failed:"; echo "$out" | sed 's/^/    /'
  fi
else
  fail "examples/consumer.c does not build against the installed copy:"; echo "$out" | sed 's/^/    /'
fi

if python3 "$GATE_ROOT/tests/gates/ctypes_check.py" "$libdir/libalchdb.so.1" > "$TMP/ctypes.out" 2>&1; then
  pass "ctypes_check.py against the installed libalchdb.so.1"
  sed 's/^/    /' "$TMP/ctypes.out"
else
  fail "ctypes_check.py against the installed libalchdb.so.1:"
  sed 's/^/    /' "$TMP/ctypes.out"
fi

gate_finish "consumer"

#!/usr/bin/env bash
# Gate: every public header compiles on its own (and twice: include guards) as
#   C99:   gcc -std=c99 -pedantic-errors -Wall -Wextra -Werror
#   C++11: g++ -std=c++11 -pedantic-errors -Wall -Wextra -Werror
# and the umbrella <alchdb/alchdb.h> reaches every public header but pq.h.
#   tests/gates/headers.sh BUILD_DIR
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD=$(gate_build_dir "${1:-}")
CC=${CC:-gcc}
CXX=${CXX:-g++}
PQ_CFLAGS=$(pkg-config --cflags libpq)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

INC=(-I "$GATE_ROOT/include" -I "$BUILD/include")
C_FLAGS=(-std=c99 -pedantic-errors -Wall -Wextra -Werror -Wstrict-prototypes)
CXX_FLAGS=(-std=c++11 -pedantic-errors -Wall -Wextra -Werror)

headers=$(gate_public_headers "$BUILD")
for h in $headers; do
  name=$(basename "$h")
  # An ISO C translation unit needs a declaration of its own; the second
  # include proves the include guard.
  printf '#include <alchdb/%s>\n#include <alchdb/%s>\nint alchdb_header_gate_%s;\n' \
    "$name" "$name" "${name%.h}" > "$TMP/t.c"
  cp "$TMP/t.c" "$TMP/t.cpp"
  extra=()
  grep -q 'libpq-fe.h' "$h" && extra=($PQ_CFLAGS)
  if out=$("$CC" "${C_FLAGS[@]}" "${INC[@]}" "${extra[@]}" -c "$TMP/t.c" -o "$TMP/t.o" 2>&1); then
    pass "$name compiles alone as C99 -pedantic-errors"
  else
    fail "$name does not compile alone as C99 -pedantic-errors:"; echo "$out" | sed 's/^/    /'
  fi
  if out=$("$CXX" "${CXX_FLAGS[@]}" "${INC[@]}" "${extra[@]}" -c "$TMP/t.cpp" -o "$TMP/t.o" 2>&1); then
    pass "$name compiles alone as C++11 -pedantic-errors"
  else
    fail "$name does not compile alone as C++11 -pedantic-errors:"; echo "$out" | sed 's/^/    /'
  fi
  # Public headers must not use // comments (CONVENTIONS.md section 7).
  if python3 - "$h" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r'"(\\.|[^"\\\n])*"', '""', text)
text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
sys.exit(1 if "//" in text else 0)
PY
  then :; else fail "$name uses // comments (not allowed in public headers)"; fi
done

# The umbrella header reaches every public header except pq.h (the libpq
# adapter, which needs libpq-fe.h on the include path).
printf '#include <alchdb/alchdb.h>\nint alchdb_header_gate_umbrella;\n' > "$TMP/u.c"
if deps=$("$CC" "${C_FLAGS[@]}" "${INC[@]}" -M "$TMP/u.c" 2>&1); then
  missing=""
  for h in $headers; do
    name=$(basename "$h")
    [ "$name" = pq.h ] && continue
    grep -q "alchdb/$name" <<<"$deps" || missing+=" $name"
  done
  if [ -n "$missing" ]; then
    fail "<alchdb/alchdb.h> does not include:$missing"
  else
    pass "<alchdb/alchdb.h> includes every public header except pq.h"
  fi
else
  fail "<alchdb/alchdb.h> does not preprocess:"; echo "$deps" | sed 's/^/    /'
fi

gate_finish "headers"

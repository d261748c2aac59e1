#!/usr/bin/env bash
# Gate: the library exports exactly the names of lib/libalchdb.map, all of them
# alchdb_-prefixed, under a version node, and its SONAME is libalchdb.so.1.
#   tests/gates/symbols.sh BUILD_DIR
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD=$(gate_build_dir "${1:-}")
SO=$(gate_library "$BUILD")
MAP="$GATE_ROOT/lib/libalchdb.map"
[ -f "$MAP" ] || die "$MAP missing"

# Names listed under "global:" in every node of the version script (comments
# removed; a node ends at "local:" or "}").
map_names=$(python3 - "$MAP" <<'PY'
import re, sys
text = re.sub(r"/\*.*?\*/", " ", open(sys.argv[1]).read(), flags=re.S)
text = re.sub(r"#[^\n]*", " ", text)
names = []
for node in re.finditer(r"([A-Za-z0-9_.]+)\s*\{(.*?)\}\s*([A-Za-z0-9_.]*)\s*;", text, re.S):
    body = node.group(2)
    m = re.search(r"global\s*:(.*?)(local\s*:|$)", body, re.S)
    if not m:
        continue
    for item in m.group(1).split(";"):
        item = item.strip()
        if item:
            names.append(item)
print("\n".join(sorted(set(names))))
PY
)
map_nodes=$(python3 - "$MAP" <<'PY'
import re, sys
text = re.sub(r"/\*.*?\*/", " ", open(sys.argv[1]).read(), flags=re.S)
print("\n".join(m.group(1) for m in re.finditer(r"([A-Za-z0-9_.]+)\s*\{", text)))
PY
)

if [ -z "$map_names" ]; then
  fail "no names found in the global list of $MAP"
fi
bad_map=$(grep -v '^alchdb_[A-Za-z0-9_]*$' <<<"$map_names" || true)
if [ -n "$bad_map" ]; then
  fail "map lists names that are not plain alchdb_ identifiers (no wildcards):"
  sed 's/^/    /' <<<"$bad_map"
else
  pass "every name in the map is an alchdb_ identifier ($(wc -l <<<"$map_names") names)"
fi

# Dynamic symbols defined by the library: "addr type name@@NODE".
nm_out=$(nm -D --defined-only "$SO")
exported=""
unversioned=""
unexpected=""
while read -r _addr type sym; do
  [ -n "${sym:-}" ] || { sym=$type; type=$_addr; }   # no address column
  name=${sym%%@*}
  node=""
  [[ "$sym" == *@* ]] && node=${sym##*@}
  if [ "$type" = A ] && grep -qxF "$name" <<<"$map_nodes"; then
    continue   # the version node itself (e.g. ALCHDB_1.0)
  fi
  exported+="$name"$'\n'
  if [[ "$name" != alchdb_* ]] || ! grep -qxF "$name" <<<"$map_names"; then
    unexpected+="    $type $sym"$'\n'
  fi
  if [ -z "$node" ] || ! grep -qxF "$node" <<<"$map_nodes"; then
    unversioned+="    $type $sym"$'\n'
  fi
done <<<"$nm_out"

if [ -n "$unexpected" ]; then
  fail "the library exports names that are not alchdb_ names listed in lib/libalchdb.map:"
  printf '%s' "$unexpected"
else
  pass "nm -D --defined-only lists only alchdb_ names of the map"
fi
if [ -n "$unversioned" ]; then
  fail "exported names without a version node of the map:"
  printf '%s' "$unversioned"
else
  pass "every exported name carries a version node of the map"
fi

missing=""
while read -r name; do
  [ -n "$name" ] || continue
  grep -qxF "$name" <<<"$exported" || missing+="    $name"$'\n'
done <<<"$map_names"
if [ -n "$missing" ]; then
  fail "names listed in lib/libalchdb.map but not exported (missing ALCHDB_API or not defined?):"
  printf '%s' "$missing"
else
  pass "every name of the map is exported"
fi

# Every function a public header declares with ALCHDB_API must be exported,
# otherwise consumers fail to link.
declared=$(python3 - $(gate_public_headers "$BUILD") <<'PY'
import re, sys
names = set()
for path in sys.argv[1:]:
    text = open(path).read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"^\s*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)
    for decl in re.finditer(r"\bALCHDB_API\b([^;{]*)", text):
        m = re.search(r"\b(alchdb_\w+)\s*\(", decl.group(1))
        if m:
            names.add(m.group(1))
print("\n".join(sorted(names)))
PY
)
undeclared=""
while read -r name; do
  [ -n "$name" ] || continue
  grep -qxF "$name" <<<"$exported" || undeclared+="    $name"$'\n'
done <<<"$declared"
if [ -n "$undeclared" ]; then
  fail "functions declared ALCHDB_API in public headers but not exported (add them to lib/libalchdb.map and define them):"
  printf '%s' "$undeclared"
else
  pass "every ALCHDB_API function of the public headers is exported ($(grep -c . <<<"$declared" || true) declared)"
fi

soname=$(readelf -d "$SO" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ "$soname" = libalchdb.so.1 ]; then
  pass "SONAME is libalchdb.so.1"
else
  fail "SONAME is '${soname:-<none>}', expected libalchdb.so.1"
fi

gate_finish "symbols"

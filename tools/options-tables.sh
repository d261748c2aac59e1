#!/usr/bin/env bash
# The option tables of docs/ are generated, not hand-kept: between
#   <!-- options:MODULE -->
#   <!-- /options -->
# in any docs/*.md stands the output of `alchdb options MODULE --format md`.
#
#   tools/options-tables.sh BUILD_DIR            rewrite the tables in place
#   tools/options-tables.sh BUILD_DIR --check    fail (exit 1) when one differs
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:?usage: tools/options-tables.sh BUILD_DIR [--check]}
MODE=${2:-write}
CLI="$BUILD/tools/alchdb"
[ -x "$CLI" ] || { echo "options-tables: no $CLI (build first)" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

status=0
found=0
for doc in "$ROOT"/docs/*.md; do
  grep -q '^<!-- options:[a-z_]* -->$' "$doc" || continue
  out="$TMP/$(basename "$doc")"
  : > "$out"
  inside=""
  while IFS= read -r line || [ -n "$line" ]; do
    if [ -z "$inside" ] && [[ "$line" =~ ^\<!--\ options:([a-z_]+)\ --\>$ ]]; then
      inside=${BASH_REMATCH[1]}
      found=$((found + 1))
      printf '%s\n\n' "$line" >> "$out"
      "$CLI" options "$inside" --format md >> "$out" || { echo "options-tables: $doc: no module '$inside'" >&2; exit 2; }
      printf '\n' >> "$out"
    elif [ -n "$inside" ] && [ "$line" = "<!-- /options -->" ]; then
      inside=""
      printf '%s\n' "$line" >> "$out"
    elif [ -z "$inside" ]; then
      printf '%s\n' "$line" >> "$out"
    fi
  done < "$doc"
  [ -z "$inside" ] || { echo "options-tables: $doc: <!-- options:$inside --> without <!-- /options -->" >&2; exit 2; }
  if ! cmp -s "$doc" "$out"; then
    if [ "$MODE" = --check ]; then
      echo "options-tables: the table in ${doc#"$ROOT"/} differs from the listing:" >&2
      diff -u "$doc" "$out" >&2 || true
      echo "  run tools/options-tables.sh $BUILD and commit the result" >&2
      status=1
    else
      cp "$out" "$doc"
      echo "rewrote ${doc#"$ROOT"/}"
    fi
  fi
done
[ "$found" -gt 0 ] || { echo "options-tables: no <!-- options:MODULE --> marker in docs/" >&2; exit 1; }
exit $status

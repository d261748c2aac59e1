#!/usr/bin/env bash
# Every command of a ```sh block of CONTRIBUTING.md, run as written from the
# top of a copy of the source tree (so the commands that rewrite files, like
# the ABI baselines, change only the copy) whose `build` is the build
# directory under test. Needs the rig (some commands start their own).
#   tests/core/contributing.sh SOURCE_ROOT BUILD_ROOT
set -euo pipefail
SRC=$1
BUILD=$(cd "$2" && pwd)
WORK=$(mktemp -d /tmp/alchdb-contrib.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
(cd "$SRC" && git ls-files -z --cached --others --exclude-standard | grep -zv '^build' |
  xargs -0 cp --parents -t "$WORK" 2>/dev/null) || { echo "FAIL: cannot copy the tree" >&2; exit 1; }
ln -s "$BUILD" "$WORK/build"
cmds=$(awk '/^```sh$/ { inblock = 1; next } /^```$/ { inblock = 0; next } inblock && !/^#/ && NF' "$SRC/CONTRIBUTING.md")
[ -n "$cmds" ] || { echo "FAIL: no sh block in CONTRIBUTING.md" >&2; exit 1; }
n=0
while IFS= read -r cmd; do
  echo "+ $cmd"
  (cd "$WORK" && bash -c "$cmd") > "$WORK/.out" 2>&1 || {
    echo "FAIL: '$cmd' exited $?:" >&2; tail -30 "$WORK/.out" >&2; exit 1; }
  n=$((n + 1))
done <<< "$cmds"
[ "$n" -ge 10 ] || { echo "FAIL: ran only $n commands" >&2; exit 1; }
echo "ok: $n commands of CONTRIBUTING.md"

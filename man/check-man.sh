#!/usr/bin/env bash
# Every man page renders without a groff warning, and every option the
# matching `--help` prints is in its page.
#   man/check-man.sh SOURCE_ROOT ALCHDB_BINARY
set -euo pipefail
src=$1 bin=$2
command -v groff >/dev/null || { echo "groff not found (apt-get install groff-base)" >&2; exit 1; }
fail=0
# page: the help texts whose options it must list
declare -A HELPS=(
  [alchdb]="--help"
  [alchdb-sql]="sql --help|sql analyze --help"
  [alchdb-migrate]="migrate --help|migrate check --help|migrate trace --help"
  [alchdb-advise]="advise --help"
  [alchdb-options]="options --help"
  [alchdb-perftest]="perftest --help"
  [alchdb-dashboard]="dashboard --help"
)
pages=$(cd "$src/man" && ls *.1 | sed "s/\\.1$//" | LC_ALL=C sort)
[ "$(echo $pages)" = "$(printf "%s\n" "${!HELPS[@]}" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')" ] || {
  echo "man pages ($pages) and the pages this check knows (${!HELPS[*]}) differ" >&2; fail=1; }
# Every command the tool lists has a page.
for cmd in $("$bin" --help | awk '/^commands:/{on=1; next} on && /^  [a-z]/{print $1}'); do
  [ -f "$src/man/alchdb-$cmd.1" ] || { echo "no man page for 'alchdb $cmd'" >&2; fail=1; }
done
for page in $pages; do
  f=$src/man/$page.1
  warn=$(groff -man -Tutf8 -ww -z "$f" 2>&1 || true)
  [ -z "$warn" ] || { echo "$page.1 renders with warnings:" >&2; echo "$warn" >&2; fail=1; }
  text=$(sed 's/\\-/-/g' "$f")
  IFS='|' read -r -a helps <<<"${HELPS[$page]}"
  for h in "${helps[@]}"; do
    # shellcheck disable=SC2086
    opts=$("$bin" $h 2>&1 | grep -oE -- '--[a-z][a-z-]*' | sort -u)
    for o in $opts; do
      grep -qF -- "$o" <<<"$text" || { echo "$page.1 lacks $o (printed by alchdb $h)" >&2; fail=1; }
    done
  done
  echo "$page.1: renders cleanly, lists every option of its --help"
done
exit $fail

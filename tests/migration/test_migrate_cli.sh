#!/usr/bin/env bash
# `alchdb migrate check` options without a server: --help lists every
# migration option from the library's listing; --set, the dedicated flags and
# ALCHDB_MIGRATION_<NAME> variables reach the assessment (the plan prints its
# lock_timeout); durations want a unit; unknown names and bad values exit 2
# with one line on stderr naming the option.
#   test_migrate_cli.sh ALCHDB_BINARY
set -euo pipefail
ALCHDB=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
fail() { echo "FAIL: $*" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
echo "ALTER TABLE t ADD COLUMN c int;" > m.sql
unset "${!ALCHDB_MIGRATION_@}"

# 1. --help: the options come from the listing, every one of them.
"$ALCHDB" migrate check --help > help.txt
"$ALCHDB" options migration > listing.txt
names=$(awk '/^  [a-z_]+ /{print $1}' listing.txt)
[ "$(echo "$names" | wc -w)" -ge 6 ] || fail "the listing has fewer than 6 migration options"
for n in $names; do
  grep -q "^  $n " help.txt || fail "--help does not list option $n"
done
grep -q -- '--set NAME=VALUE' help.txt || fail "--help does not show --set"

# 2. The lock_timeout the plan prints, from each source; flags override the environment.
plan_timeout() { grep -o 'lock_timeout [0-9]* ms' out.txt | head -1; }
"$ALCHDB" migrate check m.sql > out.txt
[ "$(plan_timeout)" = "lock_timeout 2000 ms" ] || fail "default: $(plan_timeout)"
"$ALCHDB" migrate check --set lock_timeout=750ms m.sql > out.txt
[ "$(plan_timeout)" = "lock_timeout 750 ms" ] || fail "--set: $(plan_timeout)"
"$ALCHDB" migrate check --set LOCK_TIMEOUT=1500us m.sql > out.txt
[ "$(plan_timeout)" = "lock_timeout 2 ms" ] || fail "sub-millisecond rounds up: $(plan_timeout)"
"$ALCHDB" migrate check --lock-timeout 3s m.sql > out.txt
[ "$(plan_timeout)" = "lock_timeout 3000 ms" ] || fail "--lock-timeout: $(plan_timeout)"
ALCHDB_MIGRATION_LOCK_TIMEOUT=4s "$ALCHDB" migrate check m.sql > out.txt
[ "$(plan_timeout)" = "lock_timeout 4000 ms" ] || fail "environment: $(plan_timeout)"
ALCHDB_MIGRATION_LOCK_TIMEOUT=4s "$ALCHDB" migrate check --lock-timeout 5s m.sql > out.txt
[ "$(plan_timeout)" = "lock_timeout 5000 ms" ] || fail "flag over environment: $(plan_timeout)"
"$ALCHDB" migrate check --pg-version 15 --set pg_version=150004 m.sql > /dev/null || fail "--pg-version 15"

# 3. Refusals: exit 2, one line on stderr that names the option.
refuse() {
  local want=$1; shift
  set +e
  "$@" > out.txt 2> err.txt
  local rc=$?
  set -e
  [ "$rc" = 2 ] || fail "exit $rc, not 2: $*"
  [ "$(wc -l < err.txt)" = 1 ] || { cat err.txt >&2; fail "not one line on stderr: $*"; }
  grep -q -- "$want" err.txt || { cat err.txt >&2; fail "stderr does not name $want: $*"; }
}
refuse lock_timeout "$ALCHDB" migrate check --lock-timeout 2000 m.sql
refuse lock_timeout "$ALCHDB" migrate check --set lock_timeout=soon m.sql
refuse no_such_option "$ALCHDB" migrate check --set no_such_option=1 m.sql
refuse NAME=VALUE "$ALCHDB" migrate check --set lock_timeout m.sql
refuse pg_version "$ALCHDB" migrate check --pg-version 16 m.sql
refuse MAX_RETRIES env ALCHDB_MIGRATION_MAX_RETRIES=0 "$ALCHDB" migrate check m.sql
echo "ok: migrate check options"

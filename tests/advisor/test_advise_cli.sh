#!/usr/bin/env bash
# `alchdb advise` exactly as the docs show it, against the rig: every line of
# a ```sh block in docs/*.md and README.md that starts with `alchdb advise` runs
# as written (with DATABASE_URL set and a queries.sql in the working
# directory) and must exit 0; --format json validates against the schema block
# of docs/advisor.md; usage errors exit 2 with one line on stderr; --apply
# creates the index it prints.
#   test_advise_cli.sh ALCHDB_BINARY SOURCE_ROOT   (ALCHDB_TEST_* from tests/services/rig.sh)
set -euo pipefail
ALCHDB=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$2" && pwd)
: "${ALCHDB_TEST_PRIMARY:?FATAL: ALCHDB_TEST_PRIMARY is not set: run under tests/services/rig.sh}"
: "${ALCHDB_TEST_PG_BIN:?FATAL: ALCHDB_TEST_PG_BIN is not set: run under tests/services/rig.sh}"
PSQL="$ALCHDB_TEST_PG_BIN/psql -X -q -v ON_ERROR_STOP=1"
DB=adv_cli
fail() { echo "FAIL: $*" >&2; exit 1; }

WORK=$(mktemp -d)
cleanup() {
  $PSQL "$ALCHDB_TEST_PRIMARY" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

$PSQL "$ALCHDB_TEST_PRIMARY" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
export DATABASE_URL="$ALCHDB_TEST_PRIMARY dbname=$DB"
$PSQL "$DATABASE_URL" >/dev/null <<'SQL'
CREATE EXTENSION hypopg;
CREATE EXTENSION pg_stat_statements;
CREATE TABLE accounts (id int PRIMARY KEY, email text, region int);
INSERT INTO accounts SELECT g, 'u' || g || '@example.com', g % 50 FROM generate_series(1, 20000) g;
ANALYZE accounts;
SELECT pg_stat_statements_reset();
SELECT * FROM accounts WHERE region = 7 AND id > 10;
SQL
cd "$WORK"
echo "SELECT * FROM accounts WHERE email = 'u7@example.com';" > queries.sql
mkdir bin && ln -s "$ALCHDB" bin/alchdb
export PATH="$WORK/bin:$PATH"

# 1. Every documented form, as written.
mapfile -t forms < <(awk '/^```sh/{on=1; next} /^```/{on=0} on && /^alchdb advise/' \
  "$ROOT"/docs/*.md "$ROOT"/README.md)
[ "${#forms[@]}" -ge 5 ] || fail "expected the documented alchdb advise forms, found ${#forms[@]}"
applied=0
for form in "${forms[@]}"; do
  echo "run: $form"
  if ! bash -c "$form" >out.txt 2>err.txt; then
    cat err.txt >&2
    fail "documented form exits non-zero: $form"
  fi
  case "$form" in
    *--help*) grep -q '^usage: alchdb advise' out.txt || fail "--help: no usage on stdout"
              [ ! -s err.txt ] || fail "--help wrote to stderr" ;;
    *--apply*) grep -q '^applied: CREATE INDEX CONCURRENTLY' err.txt || fail "--apply applied nothing"
               applied=1 ;;
    *--format\ json*) ;;
    *) grep -q '^Index advisor: database adv_cli' out.txt || fail "no text report: $form" ;;
  esac
done
[ "$applied" = 1 ] || fail "no documented --apply form"
[ -s report.json ] || fail "the documented JSON form wrote no report.json"

# 2. The JSON validates against the schema block of docs/advisor.md, as written.
awk '/<!-- advise-report-schema -->/{s=1; next} s==1 && /^```json/{s=2; next} s==2 && /^```/{exit} s==2' \
  "$ROOT/docs/advisor.md" > schema.json
alchdb advise --conninfo "$DATABASE_URL" --format json --no-hypopg > nohypo.json
python3 - schema.json report.json nohypo.json <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
for path in sys.argv[2:]:
    report = json.load(open(path))
    jsonschema.validate(report, schema, cls=jsonschema.Draft202012Validator)
    assert report["environment"]["database"] == "adv_cli", path
r = json.load(open(sys.argv[2]))
assert any(m["columns"] == ["email"] for m in r["missing_indexes"]), r["missing_indexes"]
PY
$PSQL "$DATABASE_URL" -tA -c "SELECT count(*) FROM pg_indexes WHERE tablename = 'accounts' AND indexdef LIKE '%(email)%'" \
  | grep -qx 1 || fail "--apply did not create the index on accounts(email)"

# 3. Usage errors: exit 2, one line on stderr, nothing on stdout.
usage_error() {
  set +e
  alchdb advise "$@" >out.txt 2>err.txt
  local rc=$?
  set -e
  [ "$rc" = 2 ] || fail "alchdb advise $*: exit $rc, expected 2"
  [ "$(wc -l <err.txt)" = 1 ] || { cat err.txt >&2; fail "alchdb advise $*: not one line on stderr"; }
  [ ! -s out.txt ] || fail "alchdb advise $*: wrote to stdout"
}
usage_error
usage_error --bogus
usage_error --conninfo
usage_error --format xml --conninfo "$DATABASE_URL"
usage_error --conninfo "$DATABASE_URL" --max-suggestions many
usage_error --conninfo "$DATABASE_URL" --queries "$WORK/missing.sql"
usage_error --conninfo "host=127.0.0.1 port=1 user=u password=s3cret-pw dbname=x connect_timeout=2"
grep -q 's3cret-pw' err.txt && fail "the password was printed"
echo "ok: ${#forms[@]} documented forms, schema, usage errors"

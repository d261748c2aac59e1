#!/usr/bin/env bash
# THE test command: installs what it needs, builds, runs the gates and every
# suite against the real servers, under the sanitizers and valgrind.
#
#   tests/run.sh            full run (what CI runs through .ci/run)
#   tests/run.sh --quick    developers: no sanitizer builds, no valgrind, no fuzzing
#
# Environment:
#   ALCHDB_SKIP_APT=1       do not run apt (only check the packages are present)
#   ALCHDB_JOBS=N           parallel compile/test jobs (default 2)
#   ALCHDB_BUILD_ROOT=DIR   where the build directories go (default: the repo)
#   ALCHDB_FUZZ_SECONDS=N   seconds each libFuzzer target runs (default 12)
#
# Build directories: build-ci (-Dwerror=true; also used for valgrind),
# build-asan (ASan+UBSan), build-tsan (TSan), build-fuzz (clang, the libFuzzer
# targets of tests/fuzz, each run briefly; not with --quick). The rig (tests/services/rig.sh)
# is started ONCE and every test phase runs inside it. Suites tagged 'threaded'
# in meson test() are the ones the TSan phase runs; 'integration' tests run one
# at a time (they share the servers and may restart them), the others in
# parallel. Ends with "N passed, N failed" counting gates, builds and tests;
# exits non-zero when anything failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
JOBS=${ALCHDB_JOBS:-2}
BUILD_ROOT=${ALCHDB_BUILD_ROOT:-$ROOT}
CI="$BUILD_ROOT/build-ci"
ASAN="$BUILD_ROOT/build-asan"
TSAN="$BUILD_ROOT/build-tsan"

now() { date +%s; }

# results: "STATUS<TAB>PHASE<TAB>NAME<TAB>DETAIL", phases: "PHASE<TAB>SECONDS"
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >> "$RUN_RESULTS"; }
phase_time() { printf '%s\t%s\n' "$1" "$2" >> "$RUN_PHASES"; }
banner() { printf '\n==== %s ====\n' "$*"; }

# mtest LABEL BUILD_DIR FILTER [meson test args...]: run the tests of BUILD_DIR
# whose suites include FILTER ("" = all), non-integration ones in parallel and
# integration ones one at a time, and record one result per test. The label
# "valgrind" leaves out the suites tagged "novalgrind"; every label but
# "plain" leaves out the suites tagged "nosan".
mtest() {
  local label=$1 dir=$2 filter=$3
  shift 3
  local selection
  selection=$(meson introspect --tests "$dir" | python3 -c '
import json, sys
flt = sys.argv[1]
for t in json.load(sys.stdin):
    suites = {s.split(":")[-1] for s in t["suite"]}
    if flt and flt not in suites:
        continue
    # Suites tagged "novalgrind" (long load and fault suites, where memcheck
    # adds only time: ASan covers them) are left out of the valgrind phase.
    if sys.argv[2] == "valgrind" and "novalgrind" in suites:
        continue
    # Suites tagged "nosan" check documentation and commands as written
    # (docs, man pages, the demo, CONTRIBUTING, the Go example): they build
    # or run their own copies, so the sanitizer and valgrind phases would only
    # repeat them; they run once, in the plain phase.
    if sys.argv[2] != "plain" and "nosan" in suites:
        continue
    print(("I " if "integration" in suites else "U ") + t["name"])
' "$filter" "$label")
  local unit integ
  unit=$(sed -n 's/^U //p' <<<"$selection" | tr '\n' ' ')
  integ=$(sed -n 's/^I //p' <<<"$selection" | tr '\n' ' ')
  if [ -z "$unit$integ" ]; then
    record PASS "$label" "(no tests selected${filter:+ with suite '$filter'})"
    return 0
  fi
  local part names procs rc log
  for part in unit integration; do
    if [ $part = unit ]; then names=$unit; procs=$JOBS; else names=$integ; procs=1; fi
    [ -n "${names// /}" ] || continue
    rm -f "$dir/meson-logs/run-$label-$part".json "$dir/meson-logs/run-$label-$part"-*.json
    local fails_before
    fails_before=$(grep -c '^FAIL' "$RUN_RESULTS" || true)
    set +e
    # shellcheck disable=SC2086
    meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes "$procs" \
      --logbase "run-$label-$part" "$@" $names
    rc=$?
    set -e
    # meson appends "-SETUP" to the log base name when --setup is given.
    log=$(ls "$dir/meson-logs/run-$label-$part".json "$dir/meson-logs/run-$label-$part"-*.json 2>/dev/null | head -n 1 || true)
    if [ -n "$log" ]; then
      python3 - "$log" "$label" "$RUN_DETAILS" >> "$RUN_RESULTS" <<'PY'
import json, sys
path, label, details = sys.argv[1], sys.argv[2], sys.argv[3]
for line in open(path):
    line = line.strip()
    if not line:
        continue
    t = json.loads(line)
    res = t.get("result", "?")
    # A skipped test is a failure here: tests must fail loudly, never skip.
    ok = res in ("OK", "EXPECTEDFAIL")
    name = t.get("name", "?").split(" / ")[-1]
    print("%s\t%s\t%s\t%s %.1fs" % ("PASS" if ok else "FAIL", label, name,
                                    res, float(t.get("duration", 0))))
    if not ok:
        # The end of what the failing test printed, repeated after the
        # summary: a CI log kept only in part still shows why it failed.
        out = ((t.get("stdout") or "") + (t.get("stderr") or "")).splitlines()
        with open(details, "a") as f:
            f.write("---- %s %s (%s): the last %d lines of its output\n" % (label, name, res, min(len(out), 40)))
            f.write("\n".join(out[-40:]) + "\n")
PY
    fi
    if [ -z "$log" ]; then
      record FAIL "$label" "meson test ($part)" "exited $rc and wrote no test log: see $dir/meson-logs"
    elif [ $rc -ne 0 ] && [ "$(grep -c '^FAIL' "$RUN_RESULTS" || true)" = "$fails_before" ]; then
      record FAIL "$label" "meson test ($part)" "exited $rc without a failing test: see $dir/meson-logs"
    fi
  done
}

# ---- inside the rig: every test phase ---------------------------------------
in_rig() {
  local t0
  banner "tests: build-ci (all suites)"
  t0=$(now)
  mtest plain "$CI" ""
  phase_time "tests (build-ci)" $(( $(now) - t0 ))

  [ "$RUN_QUICK" = 1 ] && return 0

  if [ -f "$ASAN/.alchdb-built" ]; then
    banner "tests: ASan+UBSan (all suites)"
    t0=$(now)
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:print_summary=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      mtest asan "$ASAN" ""
    phase_time "tests (ASan+UBSan)" $(( $(now) - t0 ))
  fi

  if [ -f "$TSAN/.alchdb-built" ]; then
    banner "tests: TSan (suites tagged 'threaded')"
    t0=$(now)
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
      mtest tsan "$TSAN" threaded
    phase_time "tests (TSan, threaded)" $(( $(now) - t0 ))
  fi

  banner "tests: valgrind memcheck (all suites, build-ci)"
  t0=$(now)
  if meson test -C "$CI" --list --setup=valgrind >/dev/null 2>&1; then
    mtest valgrind "$CI" "" --setup=valgrind
  else
    record FAIL valgrind "setup" "no 'valgrind' test setup in $CI (is valgrind installed?)"
  fi
  phase_time "tests (valgrind)" $(( $(now) - t0 ))
}

if [ "${1:-}" = --in-rig ]; then
  in_rig
  exit 0
fi

# ---- outside: deps, builds, gates, then the rig -------------------------------
RUN_QUICK=0
case "${1:-}" in
  --quick) RUN_QUICK=1 ;;
  "") ;;
  -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
  *) echo "usage: tests/run.sh [--quick]" >&2; exit 2 ;;
esac
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export RUN_RESULTS="$WORK/results" RUN_PHASES="$WORK/phases" RUN_DETAILS="$WORK/details" RUN_QUICK
: > "$RUN_RESULTS"
: > "$RUN_PHASES"
START=$(now)

# configure_build LABEL DIR [meson setup options...]: configure (or reconfigure)
# and build; records the result; returns non-zero on failure.
configure_build() {
  local label=$1 dir=$2 t0 log
  shift 2
  t0=$(now)
  log="$WORK/build-$label.log"
  banner "build: $label ($dir)"
  rm -f "$dir/.alchdb-built"
  local ok=1
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "$@" >"$log" 2>&1 || ok=0
  else
    meson setup "$dir" "$@" >"$log" 2>&1 || ok=0
  fi
  if [ $ok = 1 ]; then ninja -C "$dir" -j "$JOBS" >>"$log" 2>&1 || ok=0; fi
  phase_time "build $label" $(( $(now) - t0 ))
  if [ $ok = 1 ]; then
    touch "$dir/.alchdb-built"
    record PASS build "$label" "$(grep -c '^\[' "$log" || true) build steps"
    echo "ok"
    return 0
  fi
  record FAIL build "$label" "see the log below"
  tail -n 60 "$log"
  return 1
}

banner "dependencies"
t0=$(now)
if tests/install-deps.sh; then record PASS deps install-deps.sh; else record FAIL deps install-deps.sh; fi
phase_time deps $(( $(now) - t0 ))

CI_OK=0
configure_build ci "$CI" -Dwerror=true && CI_OK=1

if [ $CI_OK = 1 ]; then
  banner "gates"
  t0=$(now)
  for gate in symbols headers abi_pin abi consumer seams; do
    echo "-- gate $gate"
    if tests/gates/$gate.sh "$CI"; then
      record PASS gate "$gate"
    else
      record FAIL gate "$gate" "tests/gates/$gate.sh $CI"
    fi
  done
  phase_time gates $(( $(now) - t0 ))
fi

if [ $RUN_QUICK = 0 ]; then
  configure_build asan "$ASAN" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false || true
  configure_build tsan "$TSAN" -Dwerror=true -Db_sanitize=thread -Db_lundef=false || true
fi

# libFuzzer targets: a clang build of their own, each run for a short bounded
# time from its seed corpus (tests/fuzz/run.sh; long runs: docs/reliability.md).
if [ $RUN_QUICK = 0 ]; then
  banner "fuzz: libFuzzer targets (clang, ${ALCHDB_FUZZ_SECONDS:-12}s each)"
  t0=$(now)
  ALCHDB_BUILD_ROOT="$BUILD_ROOT" tests/fuzz/run.sh || true
  phase_time "fuzz (build + short runs)" $(( $(now) - t0 ))
fi

if [ $CI_OK = 1 ]; then
  banner "rig: PostgreSQL 15 primary + streaming replica + Redis"
  t0=$(now)
  set +e
  tests/services/rig.sh run -- "$0" --in-rig
  rc=$?
  set -e
  if [ $rc -eq 0 ]; then record PASS rig "start, tests, teardown"; else record FAIL rig "tests/services/rig.sh run" "exited $rc (rig failed to start or was interrupted)"; fi
  phase_time "rig total (start + tests + teardown)" $(( $(now) - t0 ))
fi

# ---- summary -------------------------------------------------------------------
banner "summary"
awk -F'\t' '{ printf "%-5s %-9s %-28s %s\n", $1, $2, $3, $4 }' "$RUN_RESULTS"
echo
echo "phase times:"
awk -F'\t' '{ printf "  %-40s %5ds\n", $1, $2 }' "$RUN_PHASES"
printf "  %-40s %5ds\n" "total" $(( $(now) - START ))
[ $RUN_QUICK = 1 ] && echo "(--quick: sanitizer builds, valgrind and fuzzing skipped)"
if [ -s "$RUN_DETAILS" ]; then
  banner "why the failing tests failed"
  cat "$RUN_DETAILS"
fi
passed=$(grep -c '^PASS' "$RUN_RESULTS" || true)
failed=$(grep -c '^FAIL' "$RUN_RESULTS" || true)
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

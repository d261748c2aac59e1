#!/usr/bin/env bash
# Build the libFuzzer targets of tests/fuzz with clang (ASan + UBSan + fuzzer
# coverage) and run each for a bounded time, starting from its committed seed
# corpus. Prints execs, coverage (cov = edges, ft = features) and corpus size
# per target; exits non-zero when a target crashed, leaked or broke one of its
# properties (the input that did it is kept and its path printed).
#
#   tests/fuzz/run.sh                      every target, 12 s each (what tests/run.sh runs)
#   tests/fuzz/run.sh --seconds 60 sql     one target, one minute
#   tests/fuzz/run.sh --long               every target 30 min, one at a time, at nice 19,
#                                          corpus kept in BUILD/fuzz-corpus/<target> between runs
#   tests/fuzz/run.sh --long --seconds 7200 codec
#
# Options: --build DIR (default $ALCHDB_BUILD_ROOT/build-fuzz, else ./build-fuzz),
# --seconds N (per target; default $ALCHDB_FUZZ_SECONDS, else 12, or 1800
# with --long), --long, --no-build. Environment: ALCHDB_JOBS (2), ALCHDB_FUZZ_SEED
# (libFuzzer seed: 1 for short runs, fresh for --long unless set), RUN_RESULTS
# (tests/run.sh's result file: one line per target is appended).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
TARGETS_ALL=(sql monitor migration codec config redact json dashboard)
BUILD=${ALCHDB_BUILD_ROOT:-$ROOT}/build-fuzz
SECONDS_PER=
LONG=0
DO_BUILD=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --seconds) SECONDS_PER=$2; shift 2 ;;
    --long) LONG=1; shift ;;
    --no-build) DO_BUILD=0; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "tests/fuzz/run.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${TARGETS_ALL[@]}")
if [ -z "$SECONDS_PER" ]; then
  if [ $LONG = 1 ]; then SECONDS_PER=${ALCHDB_FUZZ_SECONDS:-1800}; else SECONDS_PER=${ALCHDB_FUZZ_SECONDS:-12}; fi
fi
for t in "${targets[@]}"; do
  [ -d "tests/fuzz/corpus/$t" ] || { echo "tests/fuzz/run.sh: no target '$t' (${TARGETS_ALL[*]})" >&2; exit 2; }
done

record() { [ -n "${RUN_RESULTS:-}" ] && printf '%s\tfuzz\t%s\t%s\n' "$1" "$2" "$3" >> "$RUN_RESULTS"; return 0; }

if [ $DO_BUILD = 1 ]; then
  command -v clang >/dev/null || { echo "tests/fuzz/run.sh: clang is missing (tests/install-deps.sh)" >&2; record FAIL build "clang missing"; exit 1; }
  log=$(mktemp)
  ok=1
  if [ -f "$BUILD/build.ninja" ]; then
    meson configure "$BUILD" -Dfuzz=true >"$log" 2>&1 || ok=0
  else
    CC=clang meson setup "$BUILD" -Dfuzz=true -Dtests=false -Dexamples=false -Dbench=false \
      -Db_sanitize=address,undefined -Db_lundef=false >"$log" 2>&1 || ok=0
  fi
  [ $ok = 1 ] && { ninja -C "$BUILD" -j "${ALCHDB_JOBS:-2}" >>"$log" 2>&1 || ok=0; }
  if [ $ok = 0 ]; then
    tail -n 40 "$log"
    rm -f "$log"
    record FAIL "build" "clang fuzz build failed ($BUILD)"
    exit 1
  fi
  rm -f "$log"
  record PASS "build" "$BUILD"
fi

ART="$BUILD/fuzz-artifacts"
mkdir -p "$ART"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
NICE=()
[ $LONG = 1 ] && NICE=(nice -n 19)
# Short runs (the test command's) use a fixed seed, so that the mutations they
# try are the same from run to run; long runs explore with fresh seeds.
SEED=(-seed="${ALCHDB_FUZZ_SEED:-1}")
[ $LONG = 1 ] && [ -z "${ALCHDB_FUZZ_SEED:-}" ] && SEED=()

failed=0
summary=()
for t in "${targets[@]}"; do
  if [ $LONG = 1 ]; then
    corpus="$BUILD/fuzz-corpus/$t"
  else
    corpus="$WORK/corpus-$t"
  fi
  mkdir -p "$corpus"
  cp -n "tests/fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null || true
  out="$WORK/$t.log"
  [ $LONG = 1 ] && out="$BUILD/fuzz-$t.log"
  echo "-- fuzz_$t: ${SECONDS_PER}s from $(ls "$corpus" | wc -l) inputs"
  set +e
  "${NICE[@]}" "$BUILD/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_PER" -print_final_stats=1 "${SEED[@]}" \
    -timeout=30 -rss_limit_mb=2560 -artifact_prefix="$ART/$t-" "$corpus" >"$out" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -n 1)
  last=$(grep -a -E '^#[0-9]+' "$out" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p' <<<"$last")
  line=$(printf '%-10s %6ss %10s execs  cov %5s  ft %6s  corpus %s' "$t" "$SECONDS_PER" "${execs:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}")
  if [ $rc -eq 0 ]; then
    summary+=("PASS  $line")
    record PASS "fuzz_$t" "${execs:-?} execs, cov ${cov:-?}, ft ${ft:-?}"
  else
    failed=1
    crash=$(grep -a -o "Test unit written to .*" "$out" | sed 's/Test unit written to //' | tail -n 1)
    summary+=("FAIL  $line  ${crash:-(no artifact)}")
    record FAIL "fuzz_$t" "exit $rc; reproduce: $BUILD/tests/fuzz/fuzz_$t ${crash:-}"
    echo "fuzz_$t failed (exit $rc); the end of its output:"
    grep -a -v -E '^#[0-9]+' "$out" | tail -n 40
  fi
done
echo
printf '%s\n' "${summary[@]}"
exit $failed

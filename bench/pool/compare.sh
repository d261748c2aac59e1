#!/usr/bin/env bash
# bench/pool/compare.sh: two builds of bench_pool side by side in ONE run on
# the same servers (noisy shared machines: only same-run ratios mean
# something). Alternates the two binaries REPS times for the closed loop
# (1,000 threads over a pool of 100, with pgbench 100 direct prepared as the
# reference of each repetition) and for the 8-thread rounds and the
# uncontended acquire+release, then prints medians side by side.
#
#   bench/pool/compare.sh BASE_BENCH_POOL NEW_BENCH_POOL [REPS]
#
# Build a baseline from another commit with e.g.
#   git archive <commit> | tar -x -C /tmp/base && cp bench/pool/bench_pool.c /tmp/base/bench/pool/
#   meson setup /tmp/base/build-bench /tmp/base -Dbuildtype=release -Dtests=false && ninja -C ... bench/pool/bench_pool
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_BIN=${ALCHDB_PG_BIN:-/usr/lib/postgresql/15/bin}
if [ "${1:-}" != "--inner" ]; then
  [ $# -ge 2 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
  ALCHDB_RIG_REPLICAS=0 exec "$ROOT/tests/services/rig.sh" run -- "$0" --inner "$@"
fi
shift
BASE=$1 NEW=$2 REPS=${3:-3}
PORT=$ALCHDB_TEST_PRIMARY_PORT
DIRECT="host=127.0.0.1 port=$PORT user=postgres dbname=alchdb_test"
WORK=$(mktemp -d /tmp/alchdb-compare.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
"$PG_BIN/pgbench" -i -s 10 -q -h 127.0.0.1 -p "$PORT" -U postgres alchdb_test >/dev/null 2>&1

for rep in $(seq 1 "$REPS"); do
  for which in base new; do
    bin=$BASE; [ $which = new ] && bin=$NEW
    echo "rep $rep: $which closed loop" >&2
    "$bin" --direct "$DIRECT" --only closed --rounds 1 --closed-secs 6 > "$WORK/closed.$which.$rep" 2>/dev/null
    echo "rep $rep: $which 8 threads + uncontended" >&2
    "$bin" --direct "$DIRECT" --only tp,unc --rounds 2 --quick > "$WORK/tp.$which.$rep" 2>/dev/null
  done
  echo "rep $rep: pgbench 100 direct prepared" >&2
  "$PG_BIN/pgbench" -n -S -M prepared -c 100 -j 2 -T 6 -h 127.0.0.1 -p "$PORT" -U postgres alchdb_test \
    > "$WORK/pgbench.$rep" 2>/dev/null
done

python3 - "$WORK" "$REPS" <<'PY'
import re, statistics, sys
work, reps = sys.argv[1], int(sys.argv[2])
def grab(path, pat, cast=float):
    m = re.search(pat, open(path).read())
    return cast(m.group(1)) if m else None
rows = {}
for which in ("base", "new"):
    r = rows[which] = {"closed": [], "p95": [], "csw": [], "raw": [], "client": [], "ratio": [], "unc": [], "rel": []}
    for i in range(1, reps + 1):
        c = f"{work}/closed.{which}.{i}"
        r["closed"].append(grab(c, r"closed loop \d+ threads / pool \d+: (\d+) tps"))
        r["p95"].append(grab(c, r"p95 ([0-9.]+) ms"))
        r["csw"].append(grab(c, r"([0-9.]+) \+ [0-9.]+ context switches"))
        t = f"{work}/tp.{which}.{i}"
        r["raw"].append(grab(t, r"a_raw_libpq_prepared\s+(\d+) tps"))
        r["client"].append(grab(t, r"b_alchdb_client_prepared\s+(\d+) tps"))
        r["ratio"].append(grab(t, r"\(b\)/\(a\) = ([0-9.]+)"))
        r["unc"].append(grab(t, r"uncontended acquire\+release median = (\d+) ns"))
        pg = grab(f"{work}/pgbench.{i}", r"tps = ([0-9.]+) \(without")
        r["rel"].append(r["closed"][-1] / pg if pg and r["closed"][-1] else None)
pgs = [grab(f"{work}/pgbench.{i}", r"tps = ([0-9.]+) \(without") for i in range(1, reps + 1)]
med = lambda v: statistics.median([x for x in v if x is not None]) if any(x is not None for x in v) else float("nan")
print(f"== bench/pool/compare: {reps} repetitions, medians (each repetition: base, new, pgbench) ==")
print(f"  pgbench 100 direct prepared: {med(pgs):.0f} tps   (per rep: {', '.join(f'{x:.0f}' for x in pgs if x)})")
fmt = [("closed loop 1000 thr / pool 100, tps", "closed", "%.0f"), ("closed loop / pgbench 100 direct", "rel", "%.3f"),
       ("closed loop p95 ms", "p95", "%.2f"), ("closed loop voluntary ctx switches / request", "csw", "%.2f"),
       ("8 threads raw libpq, tps", "raw", "%.0f"), ("8 threads client, tps", "client", "%.0f"),
       ("8 threads client / raw (b)/(a)", "ratio", "%.3f"), ("uncontended acquire+release, ns", "unc", "%.0f")]
print(f"  {'':48s} {'base':>10s} {'new':>10s}")
for label, key, f in fmt:
    print(f"  {label:48s} {f % med(rows['base'][key]):>10s} {f % med(rows['new'][key]):>10s}   "
          f"(new per rep: {', '.join((f % x) if x is not None else 'n/a' for x in rows['new'][key])})")
PY

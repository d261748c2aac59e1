#!/usr/bin/env bash
# bench/pool: libalchdb's pool and client against raw libpq, PgBouncer 1.18
# (transaction pooling) and a new connection per request, plus pgbench, in one
# run on the real servers of tests/services/rig.sh.
#
#   bench/pool/run.sh [--quick] [--json FILE] [--threads N]
#
# Environment: ALCHDB_BENCH_BUILD (meson build dir, default build-bench, made
# with -Dbuildtype=release if missing), ALCHDB_PG_BIN (default
# /usr/lib/postgresql/15/bin), PGBOUNCER (default /usr/sbin/pgbouncer).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_BIN=${ALCHDB_PG_BIN:-/usr/lib/postgresql/15/bin}
PGBOUNCER=${PGBOUNCER:-/usr/sbin/pgbouncer}
RIG_USER=alchdbrig
# shellcheck source=bench/pgbouncer.sh
. "$ROOT/bench/pgbouncer.sh"

if [ "${1:-}" != "--inner" ]; then
  BUILD=${ALCHDB_BENCH_BUILD:-$ROOT/build-bench}
  case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
  if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" "$ROOT" -Dbuildtype=release -Dbench=true >/dev/null
  fi
  ninja -C "$BUILD" -j2 bench/pool/bench_pool >/dev/null
  [ -x "$PGBOUNCER" ] || { echo "bench/pool: $PGBOUNCER not found (apt-get install pgbouncer)" >&2; exit 2; }
  export ALCHDB_BENCH_BIN="$BUILD/bench/pool/bench_pool"
  ALCHDB_RIG_REPLICAS=0 exec "$ROOT/tests/services/rig.sh" run -- "$0" --inner "$@"
fi
shift

QUICK=0
JSON=
THREADS=8
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --json) JSON=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    *) echo "usage: bench/pool/run.sh [--quick] [--json FILE] [--threads N]" >&2; exit 2 ;;
  esac
  shift
done
if [ $QUICK = 1 ]; then PGB_T=4; else PGB_T=8; fi

PORT=$ALCHDB_TEST_PRIMARY_PORT
DIRECT="host=127.0.0.1 port=$PORT user=postgres dbname=alchdb_test"
WORK=$(mktemp -d /tmp/alchdb-bench.XXXXXX)
chmod 755 "$WORK"
[ "$(id -u)" = 0 ] && chown "$RIG_USER" "$WORK"
cleanup() {
  pgbouncer_stop "$WORK"
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "bench/pool: pgbench -i -s 10 on :$PORT" >&2
"$PG_BIN/pgbench" -i -s 10 -q -h 127.0.0.1 -p "$PORT" -U postgres alchdb_test >/dev/null 2>&1

pgbouncer_start "$WORK" "$PORT" "max_db_connections = 100"
echo "bench/pool: $("$PGBOUNCER" --version | head -1) on :$BPORT (transaction pooling)" >&2

BENCH_ARGS=(--direct "$DIRECT" --bouncer "$BOUNCER" --threads "$THREADS" --json "$WORK/bench.json")
[ $QUICK = 1 ] && BENCH_ARGS+=(--quick)
"$ALCHDB_BENCH_BIN" "${BENCH_ARGS[@]}" | tee "$WORK/bench.txt"

# pgbench references for the 1000-client comparison (select-only, same query).
pgb() { # name jobs args...
  local name=$1 jobs=$2; shift 2
  mkdir -p "$WORK/$name"
  (cd "$WORK/$name" && "$PG_BIN/pgbench" -n -S -j "$jobs" -T "$PGB_T" -l "$@" -U postgres alchdb_test \
     > out.txt 2> err.txt) || { echo "pgbench $name failed:" >&2; tail -5 "$WORK/$name/err.txt" >&2; }
}
echo "bench/pool: pgbench 100 clients direct, prepared" >&2
pgb direct100 2 -M prepared -c 100 -h 127.0.0.1 -p "$PORT"
echo "bench/pool: pgbench 100 clients direct, prepared, a thread per client" >&2
pgb direct100_j100 100 -M prepared -c 100 -h 127.0.0.1 -p "$PORT"
echo "bench/pool: pgbench 1000 clients via PgBouncer pool 100" >&2
pgb bouncer1000 2 -M simple -c 1000 -h 127.0.0.1 -p "$BPORT"

python3 - "$WORK" "$JSON" <<'PY'
import glob, json, os, re, sys
work, out = sys.argv[1], sys.argv[2]
res = json.load(open(os.path.join(work, "bench.json")))
def pgb(name):
    d = os.path.join(work, name)
    txt = open(os.path.join(d, "out.txt")).read()
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", txt)
    lat = []
    for f in glob.glob(os.path.join(d, "pgbench_log.*")):
        for line in open(f):
            p = line.split()
            if len(p) >= 3:
                lat.append(int(p[2]))
    lat.sort()
    q = lambda x: lat[min(len(lat) - 1, int(x * len(lat)))] / 1000.0 if lat else None
    return {"tps": float(m.group(1)) if m else None, "p50_ms": q(0.50), "p95_ms": q(0.95),
            "p99_ms": q(0.99), "transactions": len(lat)}
res["pgbench_direct_100_prepared"] = pgb("direct100")
res["pgbench_pgbouncer_1000_clients_pool_100"] = pgb("bouncer1000")
res["pgbench_direct_100_prepared_thread_per_client"] = pgb("direct100_j100")
cl = res["closed_loop"]["tps"]
d100 = res["pgbench_direct_100_prepared"]["tps"]
b1000 = res["pgbench_pgbouncer_1000_clients_pool_100"]["tps"]
res["ratios"]["closed_loop_over_pgbench_direct_100"] = cl / d100 if d100 else None
res["ratios"]["closed_loop_over_pgbench_pgbouncer_1000"] = cl / b1000 if b1000 else None
j100 = res["pgbench_direct_100_prepared_thread_per_client"]["tps"]
res["ratios"]["pgbench_thread_per_client_over_pgbench_direct_100"] = j100 / d100 if j100 and d100 else None
raw = res.get("closed_loop_raw_thread_per_conn", {}).get("tps")
res["ratios"]["raw_thread_per_conn_over_pgbench_direct_100"] = raw / d100 if raw and d100 else None
res["ratios"]["closed_loop_over_raw_thread_per_conn"] = cl / raw if raw else None
fmt = lambda v, f="%.2f": (f % v) if v is not None else "n/a"
print("  pgbench 100 direct prepared:        %s tps, p50 %s p95 %s p99 %s ms" % (
    fmt(d100, "%.0f"), *(fmt(res["pgbench_direct_100_prepared"][k]) for k in ("p50_ms", "p95_ms", "p99_ms"))))
print("  pgbench 1000 via PgBouncer pool 100: %s tps, p50 %s p95 %s p99 %s ms" % (
    fmt(b1000, "%.0f"), *(fmt(res["pgbench_pgbouncer_1000_clients_pool_100"][k]) for k in ("p50_ms", "p95_ms", "p99_ms"))))
print("  pgbench 100 direct, thread per client: %s tps, p95 %s ms" % (
    fmt(j100, "%.0f"), fmt(res["pgbench_direct_100_prepared_thread_per_client"]["p95_ms"])))
print("  closed loop / pgbench 100 direct = %s   target >= 0.8" % fmt(res["ratios"]["closed_loop_over_pgbench_direct_100"], "%.3f"))
print("  what threads cost: pgbench thread per client / pgbench 100 direct = %s, "
      "raw thread per connection / pgbench 100 direct = %s, closed loop / raw thread per connection = %s" % (
    fmt(res["ratios"]["pgbench_thread_per_client_over_pgbench_direct_100"], "%.3f"),
    fmt(res["ratios"]["raw_thread_per_conn_over_pgbench_direct_100"], "%.3f"),
    fmt(res["ratios"]["closed_loop_over_raw_thread_per_conn"], "%.3f")))
print("  closed loop / pgbench 1000 via PgBouncer = %s" % fmt(res["ratios"]["closed_loop_over_pgbench_pgbouncer_1000"], "%.2f"))
res["machine"] = {"nproc": os.cpu_count(), "uname": " ".join(os.uname())}
if out:
    json.dump(res, open(out, "w"), indent=1)
    print("  JSON written to %s" % out)
PY

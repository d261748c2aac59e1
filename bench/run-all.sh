#!/usr/bin/env bash
# Every benchmark in one command, with pictures.
#
#   bench/run-all.sh [--quick] [--out DIR]
#
# Runs bench/pool (client vs raw libpq vs PgBouncer), bench/cache (hit vs raw
# Redis and vs the query), bench/router, bench/monitor, bench/advisor,
# bench/migration (and bench/dashboard when the build has it), each on real
# servers (tests/services/rig.sh), then a latency sweep over concurrency on
# one rig:
#   - the same primary-key read through raw libpq (pgbench -M prepared, one
#     connection per client), through PgBouncer (transaction pooling) and
#     through the alchdb client (bench_pool's closed loop, pool of 100);
#   - a cache hit through the alchdb client with the Redis backend (the
#     perftest's cache_hit_rate test) and a raw Redis GET (redis-benchmark);
# at 1, 4, 16 and 64 concurrent clients, p50/p95/p99 of each.
#
# Writes to DIR (default bench/results): <bench>.json and .txt per bench,
# sweep.json, latest.json (everything, with the machine), latest.md (the
# ratios table) and latency-pool.png / latency-cache.png (gnuplot).
# Environment: ALCHDB_BENCH_BUILD (default build-bench, release), PGBOUNCER.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_BIN=${ALCHDB_PG_BIN:-/usr/lib/postgresql/15/bin}
PGBOUNCER=${PGBOUNCER:-/usr/sbin/pgbouncer}
RIG_USER=alchdbrig
# shellcheck source=bench/pgbouncer.sh
. "$ROOT/bench/pgbouncer.sh"
BUILD=${ALCHDB_BENCH_BUILD:-$ROOT/build-bench}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

QUICK=0
OUT=$ROOT/bench/results
INNER=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --out) [ $# -ge 2 ] || { echo "bench/run-all.sh: --out needs a DIR" >&2; exit 2; }; OUT=$2; shift ;;
    --inner) INNER=1 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: bench/run-all.sh [--quick] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
case "$OUT" in /*) ;; *) OUT=$PWD/$OUT ;; esac
export QUICK OUT BUILD
Q=(); [ $QUICK = 1 ] && Q=(--quick)

# ---- inside one rig: router, monitor, advisor, migration, dashboard, the sweep ----
if [ $INNER = 1 ]; then
  B=$BUILD/bench
  run_json() { # name cmd... : the command's stdout is its JSON
    local name=$1; shift
    echo "run-all: $name" >&2
    "$@" > "$OUT/$name.json" 2> "$OUT/$name.txt" || echo "run-all: $name failed (see $OUT/$name.txt)" >&2
  }
  run_json router "$B/router/bench_router" "${Q[@]}" --json
  run_json monitor "$B/monitor/bench_monitor" "${Q[@]}" --json
  run_json advisor "$B/advisor/bench_advisor" --json
  run_json migration "$B/migration/bench_migration" --json
  if [ -x "$B/dashboard/bench_dashboard" ]; then
    run_json dashboard "$B/dashboard/bench_dashboard" "${Q[@]}" --json
  fi

  PORT=$ALCHDB_TEST_PRIMARY_PORT
  DIRECT="host=127.0.0.1 port=$PORT user=postgres dbname=alchdb_test"
  WORK=$(mktemp -d /tmp/alchdb-runall.XXXXXX)
  chmod 755 "$WORK"
  [ "$(id -u)" = 0 ] && chown "$RIG_USER" "$WORK"
  cleanup() {
    pgbouncer_stop "$WORK"
    rm -rf "$WORK"
  }
  trap cleanup EXIT
  "$PG_BIN/pgbench" -i -s 10 -q -h 127.0.0.1 -p "$PORT" -U postgres alchdb_test >/dev/null 2>&1
  pgbouncer_start "$WORK" "$PORT"

  SECS=3; [ $QUICK = 1 ] && SECS=2
  REDIS_HOST=${ALCHDB_TEST_REDIS%:*}
  REDIS_PORT=${ALCHDB_TEST_REDIS##*:}
  echo "run-all: loading the perftest data for the cache sweep" >&2
  "$BUILD/tools/alchdb" perftest --load "$DIRECT" >/dev/null
  for c in 1 4 16 64; do
    echo "run-all: sweep, $c concurrent clients" >&2
    d=$WORK/c$c
    mkdir -p "$d/direct" "$d/bouncer"
    (cd "$d/direct" && "$PG_BIN/pgbench" -n -S -M prepared -c "$c" -j "$((c < 2 ? 1 : 2))" -T "$SECS" -l \
       -h 127.0.0.1 -p "$PORT" -U postgres alchdb_test > out.txt 2> err.txt)
    (cd "$d/bouncer" && "$PG_BIN/pgbench" -n -S -M simple -c "$c" -j "$((c < 2 ? 1 : 2))" -T "$SECS" -l \
       -h 127.0.0.1 -p "$BPORT" -U postgres alchdb_test > out.txt 2> err.txt)
    "$B/pool/bench_pool" --direct "$DIRECT" --only closed --users "$c" --closed-secs "$SECS" \
       --json "$d/client.json" > /dev/null 2> "$d/client.txt"
    redis-benchmark -h "$REDIS_HOST" -p "$REDIS_PORT" -t get -c "$c" -n $((SECS * 20000)) -d 256 --csv \
       > "$d/redis.csv" 2> /dev/null
    ALCHDB_PERFTEST_DURATION=${SECS}s "$BUILD/tools/alchdb" perftest --quick --test cache_hit_rate \
       --set keep_data=1 --set worker_scale="$c" --redis "$ALCHDB_TEST_REDIS" --cache-prefix "alchdb:runall:$$" \
       --format json "$DIRECT" > "$d/cache.json" 2> /dev/null || true
  done
  "$BUILD/tools/alchdb" perftest --cleanup "$DIRECT" >/dev/null
  python3 - "$WORK" "$OUT/sweep.json" <<'PY'
import csv, glob, json, os, sys
work, out = sys.argv[1], sys.argv[2]
def pgb(d):
    lat = []
    for f in glob.glob(os.path.join(d, "pgbench_log.*")):
        for line in open(f):
            p = line.split()
            if len(p) >= 3:
                lat.append(int(p[2]))
    lat.sort()
    q = lambda x: lat[min(len(lat) - 1, int(x * len(lat)))] / 1000.0 if lat else None
    return {"p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99), "requests": len(lat)}
res = []
for c in (1, 4, 16, 64):
    d = os.path.join(work, "c%d" % c)
    row = {"concurrency": c, "raw_libpq": pgb(os.path.join(d, "direct")),
           "pgbouncer": pgb(os.path.join(d, "bouncer"))}
    try:
        cl = json.load(open(os.path.join(d, "client.json")))["closed_loop"]
        row["alchdb_client"] = {k: cl[k] for k in ("p50_ms", "p95_ms", "p99_ms", "tps", "errors")}
    except Exception as e:
        row["alchdb_client"] = {"error": str(e)}
    try:
        rows = list(csv.DictReader(open(os.path.join(d, "redis.csv"))))
        g = rows[0]
        row["redis_get"] = {"p50_ms": float(g["p50_latency_ms"]), "p95_ms": float(g["p95_latency_ms"]),
                            "p99_ms": float(g["p99_latency_ms"]), "rps": float(g["rps"])}
    except Exception as e:
        row["redis_get"] = {"error": str(e)}
    try:
        t = json.load(open(os.path.join(d, "cache.json")))["tests"][0]
        row["alchdb_cache_hit"] = {"p50_ms": t["latency_ms"]["p50"], "p95_ms": t["latency_ms"]["p95"],
                                   "p99_ms": t["latency_ms"]["p99"], "hit_pct": t["cache_hit_pct"],
                                   "ops_per_sec": t["ops_per_sec"]}
    except Exception as e:
        row["alchdb_cache_hit"] = {"error": str(e)}
    res.append(row)
json.dump(res, open(out, "w"), indent=1)
PY
  exit 0
fi

# ---- outside: build, the benches with their own servers, then one rig ----------
mkdir -p "$OUT"
command -v gnuplot >/dev/null || { echo "bench/run-all.sh: gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 2; }
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" "$ROOT" -Dbuildtype=release -Dbench=true >/dev/null
fi
ninja -C "$BUILD" -j2 >/dev/null
T0=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "run-all: pool" >&2
bench/pool/run.sh "${Q[@]}" --json "$OUT/pool.json" > "$OUT/pool.txt" 2>&1 || echo "run-all: pool failed" >&2
echo "run-all: cache" >&2
bench/cache/run.sh "${Q[@]}" --json "$OUT/cache.json" > "$OUT/cache.txt" 2>&1 || echo "run-all: cache failed" >&2
"$ROOT/tests/services/rig.sh" run -- "$0" --inner "${Q[@]}" --out "$OUT"
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$OUT" "$(( $(date +%s) - T0 ))" "$LOAD0" "$LOAD1" <<'PY'
import json, os, platform, subprocess, sys
out, secs, load0, load1 = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return ""
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
machine = {"cpu": cpu, "cores": os.cpu_count(), "memory": sh("free -h | awk '/Mem:/ {print $2}'"),
           "kernel": platform.release(), "postgresql": sh("/usr/lib/postgresql/15/bin/postgres --version"),
           "redis": sh("redis-server --version | cut -d' ' -f3"), "pgbouncer": sh("/usr/sbin/pgbouncer --version | head -1"),
           "loadavg_before": load0, "loadavg_after": load1, "seconds": secs,
           "git": sh("git describe --always --dirty")}
benches = {}
for name in ("pool", "cache", "router", "monitor", "advisor", "migration", "dashboard"):
    p = os.path.join(out, name + ".json")
    if os.path.exists(p) and os.path.getsize(p) > 0:
        try:
            benches[name] = json.load(open(p))
        except ValueError as e:
            benches[name] = {"error": "not JSON: %s" % e}
sweep = json.load(open(os.path.join(out, "sweep.json")))
json.dump({"machine": machine, "benches": benches, "sweep": sweep}, open(os.path.join(out, "latest.json"), "w"), indent=1)

# every figure named like a ratio, wherever a bench put it
rows = []
def walk(bench, path, v):
    if isinstance(v, dict):
        for k, x in v.items():
            walk(bench, path + [k], x)
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        key = ".".join(path)
        last = path[-1].lower()
        # ratios and "x_over_y" figures; of the hit ratios only the summaries
        if "_over_" in last or last in ("ratio", "onoff_ratio") or (path[0] == "summary" and last.endswith("ratio")):
            rows.append((bench, key, v))
for name, b in benches.items():
    walk(name, [], b)
md = ["# Benchmarks: latest run", "",
      "Machine: %s, %s cores, %s RAM, kernel %s; %s, Redis %s, %s. Load average before/after: %s / %s; %d s." % (
          machine["cpu"], machine["cores"], machine["memory"], machine["kernel"], machine["postgresql"],
          machine["redis"], machine["pgbouncer"], load0, load1, secs), "",
      "## Ratios", "", "| bench | figure | value |", "|---|---|---|"]
for bench, key, v in rows:
    md.append("| %s | `%s` | %s |" % (bench, key, ("%.3f" % v) if isinstance(v, float) else v))
md += ["", "## Latency against concurrency (ms)", "",
       "| clients | raw libpq p50/p95/p99 | alchdb client p50/p95/p99 | PgBouncer p50/p95/p99 | Redis GET p50/p95/p99 | alchdb cache hit p50/p95/p99 |",
       "|---|---|---|---|---|---|"]
def f(d):
    if not isinstance(d, dict) or d.get("p50_ms") is None:
        return "n/a"
    return "%.2f / %.2f / %.2f" % (d["p50_ms"], d["p95_ms"], d["p99_ms"])
for r in sweep:
    md.append("| %d | %s | %s | %s | %s | %s |" % (r["concurrency"], f(r["raw_libpq"]), f(r["alchdb_client"]),
              f(r["pgbouncer"]), f(r["redis_get"]), f(r["alchdb_cache_hit"])))
md += ["", "![pool](latency-pool.png)", "", "![cache](latency-cache.png)", ""]
open(os.path.join(out, "latest.md"), "w").write("\n".join(md))
# gnuplot data: concurrency then p50 p95 p99 per series
for name, series in (("pool", ("raw_libpq", "alchdb_client", "pgbouncer")), ("cache", ("redis_get", "alchdb_cache_hit"))):
    with open(os.path.join(out, "latency-%s.dat" % name), "w") as fh:
        fh.write("# clients " + " ".join("%s_p50 %s_p95 %s_p99" % (s, s, s) for s in series) + "\n")
        for r in sweep:
            vals = []
            for s in series:
                d = r.get(s, {})
                vals += [str(d.get(k)) if isinstance(d, dict) and d.get(k) is not None else "NaN" for k in ("p50_ms", "p95_ms", "p99_ms")]
            fh.write("%d %s\n" % (r["concurrency"], " ".join(vals)))
PY

plot() { # name title series...
  local name=$1 title=$2; shift 2
  local cmds="" col=2 s
  for s in "$@"; do
    cmds+="'$OUT/latency-$name.dat' using 1:$((col + 1)) with linespoints title '$s p95', "
    cmds+="'$OUT/latency-$name.dat' using 1:$((col + 2)) with linespoints dashtype 2 title '$s p99', "
    col=$((col + 3))
  done
  gnuplot <<EOF
set terminal pngcairo size 900,540 noenhanced
set output '$OUT/latency-$name.png'
set title '$title'
set xlabel 'concurrent clients'
set ylabel 'latency (ms)'
set logscale x 2
set logscale y
set key left top
set grid
plot ${cmds%, }
EOF
}
plot pool "Primary-key read: raw libpq vs alchdb client vs PgBouncer (p95 solid, p99 dashed)" \
  raw_libpq alchdb_client pgbouncer
plot cache "Cache hit through the alchdb client (Redis) vs raw Redis GET (p95 solid, p99 dashed)" \
  redis_get alchdb_cache_hit
echo "run-all: wrote $OUT/latest.json, $OUT/latest.md, $OUT/latency-pool.png, $OUT/latency-cache.png" >&2

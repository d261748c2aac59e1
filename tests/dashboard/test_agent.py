#!/usr/bin/env python3
"""The dashboard agent against the rig: the CLI's forms and exit codes, every
route over the real listener (token, limits, slow clients), promtool on the
Prometheus text, and a real Prometheus scraping the listener.

Also runs every ```sh and ```c block of docs/dashboard.md as written.

Usage: test_agent.py ALCHDB_BINARY SOURCE_ROOT BUILD_ROOT SANITIZE
       (inside tests/services/rig.sh run --)"""
import re
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from dashrig import PG_BIN, PRIMARY, REDIS, REPLICA, check, finish, psql, start_agent

ALCHDB, SRC, BUILD, SANITIZE = sys.argv[1:5]
P = "/api/v1/database/performance/"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


DB = f"dash_agent_{os.getpid()}"


def http(port, method, path, body=None, token=None, timeout=30):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def json_error(status_body, status, code):
    st, _, body = status_body
    ok = st == status
    try:
        j = json.loads(body)
        ok = ok and j["status"] == "error" and j["error"]["code"] == code and j["error"]["message"]
    except Exception:
        ok = False
    return ok


psql(PRIMARY, f"CREATE DATABASE {DB}")
CONN = f"{PRIMARY} dbname={DB}"
REPL = f"{REPLICA} dbname={DB}"
tmp = tempfile.mkdtemp(prefix="dash-agent-")
procs = []
try:
    psql(CONN, "CREATE EXTENSION pg_stat_statements; CREATE TABLE dash_items (id int PRIMARY KEY, v text);"
               "INSERT INTO dash_items SELECT g, 'x' || g FROM generate_series(1, 2000) g;")
    for i in range(20):
        psql(CONN, f"SELECT v FROM dash_items WHERE id = {i + 1}")

    # --- the CLI's forms and exit codes
    r = subprocess.run([ALCHDB, "dashboard", "--help"], capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.startswith("usage: alchdb dashboard") and r.stderr == "",
          "--help on stdout, exit 0")
    r = subprocess.run([ALCHDB, "dashboard"], capture_output=True, text=True)
    check(r.returncode == 2 and "usage:" in r.stderr, "no --conninfo: exit 2")
    r = subprocess.run([ALCHDB, "dashboard", "--conninfo", CONN, "--bogus"], capture_output=True, text=True)
    check(r.returncode == 2, "unknown argument: exit 2")
    r = subprocess.run([ALCHDB, "dashboard", "--conninfo", CONN, "--once", "--metrics-once"],
                       capture_output=True, text=True)
    check(r.returncode == 2, "--once with --metrics-once: exit 2")
    bad = "host=127.0.0.1 port=1 user=x password=hunter2secret dbname=x connect_timeout=2"
    r = subprocess.run([ALCHDB, "dashboard", "--conninfo", bad, "--once"], capture_output=True, text=True,
                       timeout=120)
    check(r.returncode == 1 and r.stdout == "", "dead server: exit 1, nothing on stdout")
    check("hunter2secret" not in r.stderr, "the password is not echoed")

    r = subprocess.run([ALCHDB, "dashboard", "--conninfo", CONN, "--replica", REPL, "--once"],
                       capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, f"--once exits 0 ({r.stderr.strip()[:200]})")
    snap = json.loads(r.stdout)
    check(snap["health"]["grade"] in "ABCDF" and 0 <= snap["health"]["score"] <= 100, "--once: health")
    check(len(snap["router"]["hosts"]) == 2, "--once: router with primary and replica")
    check(snap["indexes"] is not None and "score" in snap["indexes"], "--once: advisor report")
    check(snap["queries"] is not None and snap["queries"]["summary"]["calls"] > 0,
          "--once: monitor fed from pg_stat_statements deltas")

    r = subprocess.run([ALCHDB, "dashboard", "--conninfo", CONN, "--replica", REPL, "--redis", REDIS,
                        "--metrics-once"], capture_output=True, text=True, timeout=300)
    check(r.returncode == 0 and "# TYPE alchdb_health_score gauge" in r.stdout, "--metrics-once")
    check("alchdb_router_replica_lag_seconds{" in r.stdout and "cache_hit_ratio{cache_type=\"redis\"}" in r.stdout,
          "--metrics-once: router and cache families")
    pt = subprocess.run(["promtool", "check", "metrics"], input=r.stdout, capture_output=True, text=True)
    check(pt.returncode == 0 and pt.stdout.strip() == "" and pt.stderr.strip() == "",
          f"promtool check metrics is clean ({(pt.stdout + pt.stderr).strip()[:300]})")

    # --- the agent behind its listener
    token = "s3cret-token-for-the-dashboard-test"
    tf = os.path.join(tmp, "token")
    with open(tf, "w") as f:
        f.write(token + "\n")
    env = dict(os.environ, ALCHDB_DASHBOARD_REQUEST_TIMEOUT="2s", ALCHDB_DASHBOARD_MAX_BODY_SIZE="4KiB",
               ALCHDB_PERFTEST_PROFILE="quick", ALCHDB_PERFTEST_RECIPES="500", ALCHDB_PERFTEST_USERS="50",
               ALCHDB_PERFTEST_DURATION="300ms", ALCHDB_PERFTEST_WARMUP="100ms")
    agent, port = start_agent([ALCHDB, "dashboard", "--conninfo", CONN, "--replica", REPL, "--redis", REDIS,
                               "--listen", "127.0.0.1:0", "--token-file", tf, "--interval", "1s", "--perftest"], env)
    procs.append(agent)
    check(port is not None, "agent announces its port")

    st, hdr, body = http(port, "GET", P + "dashboard")
    j = json.loads(body)
    check(st == 200 and j["status"] == "success" and "health" in j["data"], "GET dashboard")
    st, hdr, body = http(port, "GET", P + "dashboard/export")
    check(st == 200 and "attachment" in (hdr.get("Content-Disposition") or ""), "GET dashboard/export is an attachment")
    st, _, body = http(port, "GET", P + "health")
    status = json.loads(body)["data"]["status"]
    check((st, status) in ((200, "healthy"), (202, "warning"), (503, "critical")), "GET health status code")
    for route in ("metrics", "queries/slow?limit=5", "queries/analysis", "queries/patterns?limit=3",
                  "indexes/analysis", "indexes/suggestions", "indexes/unused", "cache/stats", "connections",
                  "connections/health"):
        st, _, body = http(port, "GET", P + route)
        ok = st in (200, 202) and json.loads(body)["status"] == "success"
        check(ok, f"GET {route}")
    # --perftest: a quick run through the listener, token required
    run = b'{"test_suite":"recipe_search"}'
    check(json_error(http(port, "POST", P + "test/run", run), 401, "unauthorized"), "POST test/run without token: 401")
    st, _, body = http(port, "POST", P + "test/run", run, token=token)
    check(st == 202 and json.loads(body)["data"]["status"] == "running", f"POST test/run: 202 ({body[:200]})")
    result = json.loads(body)["data"]["result"] if st == 202 else P + "test/results/1"
    deadline, status = time.time() + 120, "running"
    while status == "running" and time.time() < deadline:
        time.sleep(0.2)
        st, _, body = http(port, "GET", result)
        status = json.loads(body)["data"]["status"] if st == 200 else "http %d" % st
    data = json.loads(body)["data"] if st == 200 else {}
    check(status == "done" and [t["name"] for t in data["report"]["tests"]] == ["recipe_search"],
          f"GET test/results/:id: the run is done with its report ({status})")
    st, _, body = http(port, "GET", P + "test/results")
    check(st == 200 and len(json.loads(body)["data"]["results"]) == 1, "GET test/results lists the run")
    done_id = json.dumps({"id": int(result.rsplit("/", 1)[1])}).encode()
    check(json_error(http(port, "POST", P + "test/cancel", done_id), 401, "unauthorized"),
          "POST test/cancel without token: 401")
    check(json_error(http(port, "POST", P + "test/cancel", done_id, token=token), 409, "conflict"),
          "POST test/cancel of an ended run: 409")

    st, hdr, page = http(port, "GET", "/")
    check(st == 200 and hdr["Content-Type"].startswith("text/html") and b"alchdb dashboard" in page,
          "GET / serves the page")
    check(b"http://" not in page.replace(b"http://www.w3.org/2000/svg", b"") and b"https://" not in page,
          "the page fetches nothing from the network")
    # What the page renders is checked in a real browser (test_browser.py).
    st, hdr, body = http(port, "GET", "/metrics")
    check(st == 200 and hdr["Content-Type"].startswith("text/plain; version=0.0.4") and b"alchdb_health_score" in body,
          "GET /metrics")

    inv = json.dumps({"tables": ["dash_items"]}).encode()
    check(json_error(http(port, "POST", P + "cache/invalidate", inv), 401, "unauthorized"), "POST without token: 401")
    check(json_error(http(port, "POST", P + "cache/invalidate", inv, token="wrong"), 401, "unauthorized"),
          "POST with a wrong token: 401")
    check(json_error(http(port, "POST", P + "cache/invalidate", inv, token=token + "x"), 401, "unauthorized"),
          "POST with a longer token: 401")
    st, _, body = http(port, "POST", P + "cache/invalidate", inv, token=token)
    check(st == 200 and json.loads(body)["data"]["tables"] == 1, "POST cache/invalidate with the token")
    st, _, body = http(port, "POST", P + "indexes/optimize", b'{"dry_run":true}', token=token)
    check(st == 200 and json.loads(body)["data"]["dry_run"] is True, "POST indexes/optimize dry run")
    check(json_error(http(port, "POST", P + "cache/invalidate", b"{not json", token=token), 400, "bad_request"),
          "malformed JSON body: 400")
    check(json_error(http(port, "POST", P + "cache/invalidate", b"x" * 5000, token=token), 413, "payload_too_large"),
          "huge body: 413")
    check(json_error(http(port, "GET", P + "nope"), 404, "not_found"), "unknown route: 404")
    check(json_error(http(port, "DELETE", P + "dashboard"), 405, "method_not_allowed"), "wrong method: 405")
    check(json_error(http(port, "GET", P + "queries/slow?limit=x"), 400, "bad_request"), "bad limit: 400")

    # --- live views: a lock tree, and cancelling its root through the API
    for route in ("database/connections", "database/maintenance", "database/space"):
        st, _, body = http(port, "GET", P + route)
        check(st == 200 and json.loads(body)["status"] == "success", f"GET {route}")
    st, _, body = http(port, "GET", P + "database/space")
    space = json.loads(body)["data"]
    check(any(x["name"] == "dash_items" and x["kind"] == "table" for x in space["largest"]) and
          space["database_bytes"] > 0 and len(space["history"]) >= 1, "space: largest tables and history")
    st, _, body = http(port, "GET", P + "database/maintenance")
    maint = json.loads(body)["data"]
    check(any(t["table"] == "dash_items" for t in maint["tables"]) and
          all(d["xid_age"] >= 0 for d in maint["databases"]), "maintenance: tables and XID age")
    psql_bin = os.path.join(PG_BIN, "psql")
    holder = subprocess.Popen([psql_bin, "-X", "-q", "-d", CONN + " application_name=dash_holder", "-c",
                               "BEGIN; LOCK TABLE dash_items; SELECT pg_sleep(120);"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(holder)
    time.sleep(1)
    waiter = subprocess.Popen([psql_bin, "-X", "-q", "-d", CONN + " application_name=dash_waiter", "-c",
                               "SELECT count(*) FROM dash_items"], stdout=subprocess.DEVNULL)
    procs.append(waiter)
    root, deadline = None, time.monotonic() + 30
    while root is None and time.monotonic() < deadline:
        time.sleep(0.5)
        st, _, body = http(port, "GET", P + "database/activity")
        data = json.loads(body)["data"]
        by_pid = {s["pid"]: s for s in data["sessions"]}
        for t in data["lock_tree"]:
            if by_pid.get(t["pid"], {}).get("application_name") == "dash_holder" and any(
                    by_pid.get(w["pid"], {}).get("application_name") == "dash_waiter" for w in t["waiting"]):
                root = t["pid"]
    check(root is not None, "activity: the lock tree shows the holder blocking the waiter")
    body = json.dumps({"pid": root or 1}).encode()
    check(json_error(http(port, "POST", P + "database/activity/cancel", body), 401, "unauthorized"),
          "cancel without token: 401")
    st, _, out = http(port, "POST", P + "database/activity/cancel", body, token=token)
    check(st == 200 and json.loads(out)["data"]["cancelled"] is True, "cancel the holder with the token")
    check(waiter.wait(timeout=60) == 0, "the waiter runs once the holder is cancelled")
    holder.wait(timeout=60)
    check(json_error(http(port, "POST", P + "database/activity/cancel", b'{"pid":1}', token=token), 404,
                     "not_found"), "cancel of a pid that is not a session here: 404")
    check(json_error(http(port, "POST", P + "database/activity/cancel", b'{"pid":"1"}', token=token), 400,
                     "bad_request"), "cancel with a non-integer pid: 400")
    st, _, body = http(port, "GET", P + "queries/patterns?limit=50")
    pats = json.loads(body)["data"]
    check(len(pats) > 0, "patterns fed from pg_stat_statements")
    st, _, body = http(port, "GET", P + "queries/explain?id=" + pats[0]["id"])
    check(st == 200 and json.loads(body)["data"]["id"] == pats[0]["id"],
          f"GET queries/explain of a pattern ({st}: {body[:300]!r})")
    check(json_error(http(port, "GET", P + "queries/explain?id=zz"), 400, "bad_request"), "explain: bad id 400")
    check(json_error(http(port, "GET", P + "queries/explain?id=0000000000000000"), 404, "not_found"),
          "explain: unknown id 404")

    # a slow client is cut off after request_timeout while others are served
    slow = socket.create_connection(("127.0.0.1", port))
    slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    st, _, _ = http(port, "GET", P + "health")
    check(st in (200, 202, 503), "served while a slow client trickles")
    slow.settimeout(60)
    try:
        got = slow.recv(100)
    except OSError:
        got = b""
    waited = time.monotonic() - t0
    check(got == b"" and waited < 30, f"slow client closed after the timeout ({waited:.1f}s)")
    slow.close()

    # --- a real Prometheus scrapes the listener; the value comes back through its API
    prom_port = free_port()
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(f"global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: alchdb\n"
                f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
    prom = subprocess.Popen(["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={tmp}/tsdb",
                             f"--web.listen-address=127.0.0.1:{prom_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(prom)
    value = None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and value is None:
        time.sleep(1)
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{prom_port}/api/v1/query?query=alchdb_health_score", timeout=5) as r:
                res = json.loads(r.read())["data"]["result"]
                if res:
                    value = float(res[0]["value"][1])
        except (OSError, ValueError, KeyError):
            pass
    check(value is not None and 0 <= value <= 100, f"Prometheus scraped alchdb_health_score = {value}")
    prom.send_signal(signal.SIGTERM)
    prom.wait(timeout=60)

    agent.send_signal(signal.SIGTERM)
    check(agent.wait(timeout=60) == 0, "agent exits 0 on SIGTERM")

    # --- docs/dashboard.md, every command and C example as written
    doc = open(os.path.join(SRC, "docs", "dashboard.md"), encoding="utf-8").read()
    os.symlink(os.path.join(SRC, "docs"), os.path.join(tmp, "docs"))
    denv = dict(os.environ, CONNINFO=CONN, REPLICA=REPL, PORT=str(free_port()),
                PATH=os.path.dirname(os.path.abspath(ALCHDB)) + os.pathsep + os.environ["PATH"])
    blocks = re.findall(r"```sh\n(.*?)```", doc, re.S)
    check(len(blocks) == 3, f"docs: {len(blocks)} shell blocks")
    for i, block in enumerate(blocks):
        r = subprocess.run(["bash", "-e", "-c", block], cwd=tmp, env=denv, capture_output=True, text=True,
                           timeout=300)
        check(r.returncode == 0, f"docs: shell block {i + 1} runs ({(r.stdout + r.stderr).strip()[-300:]})")
    check(json.load(open(os.path.join(tmp, "snapshot.json")))["health"]["grade"] in "ABCDF",
          "docs: --once wrote the snapshot")
    cblocks = re.findall(r"```c\n(/\* cc (\w+)\.c.*?)```", doc, re.S)
    check(len(cblocks) == 1, "docs: one C example")
    for text, name in cblocks:
        src = os.path.join(tmp, name + ".c")
        open(src, "w").write(text)
        san = [f"-fsanitize={SANITIZE}"] if SANITIZE not in ("", "none") else []
        cc = subprocess.run(["cc", *san, "-std=c11", "-Wall", "-Werror", "-I", os.path.join(SRC, "include"),
                             "-I", os.path.join(BUILD, "include"), src, "-o", src[:-2],
                             "-L", os.path.join(BUILD, "lib"), "-lalchdb",
                             "-Wl,-rpath," + os.path.join(BUILD, "lib")], capture_output=True, text=True)
        check(cc.returncode == 0, f"docs: {name}.c compiles ({cc.stderr.strip()[:300]})")
        r = subprocess.run([src[:-2]], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0 and r.stdout.startswith("200 application/json; charset=utf-8\n") and
              '"grade":"A"' in r.stdout, f"docs: {name} prints what the guide says ({r.stdout[:200]})")
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    psql(PRIMARY, f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    subprocess.run(["rm", "-rf", tmp])

finish()

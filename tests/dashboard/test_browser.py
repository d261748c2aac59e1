#!/usr/bin/env python3
"""The dashboard's web page in a real headless Chromium, against the rig.

An agent (`alchdb dashboard`: router over the primary and the replica, Redis
cache statistics, the advisor's report, a monitor fed from pg_stat_statements)
serves the page; Chromium loads it through chromedriver, and the test asserts
what a user sees against what the JSON API says: score, grade, penalties,
alerts, the trend drawn from the monitor's windows, the top patterns, and no
console errors. Query texts with HTML in them (a <script> element, an
attribute break-out with an onerror handler) must show as text and run
nothing.

Usage: test_browser.py ALCHDB_BINARY [--screenshot OUT.png]
       (inside tests/services/rig.sh run --)
With --screenshot the same page is saved as a PNG (docs/img/dashboard.png:
`ninja -C build dashboard-screenshot`).

Nothing here waits a fixed time for the page: every wait is for a condition,
bounded by a generous timeout, so a loaded machine makes it slower, not red."""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from dashrig import PRIMARY, REDIS, REPLICA, check, finish, psql, start_agent

ALCHDB = sys.argv[1]
SCREENSHOT = sys.argv[sys.argv.index("--screenshot") + 1] if "--screenshot" in sys.argv else None
P = "/api/v1/database/performance/"

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as e:
    sys.exit(f"FATAL: selenium is missing ({e}): apt-get install python3-selenium (tests/install-deps.sh)")
for prog in ("chromium", "chromedriver"):
    if not shutil.which(prog):
        sys.exit(f"FATAL: {prog} is missing: apt-get install chromium chromium-driver (tests/install-deps.sh)")

DB = f"dash_browser_{os.getpid()}"

# Hostile query texts: column aliases survive pg_stat_statements' and the
# monitor's normalisation (constants would not), so they reach the page as
# they were written (an identifier's double quote is doubled in SQL). Their
# shapes differ: pg_stat_statements would merge two queries that differ only
# in an alias.
HOSTILE = [
    'SELECT 1 AS "<script>window.__xss=1; document.title = \'owned\'</script>"',
    'SELECT 2 AS n, 3 AS """><img src=x onerror=window.__xss=2>"',
]


def api(port, route):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{P}{route}", timeout=30) as r:
        return json.loads(r.read())["data"]


def wait_until(what, cond, timeout=90):
    """cond() until it returns something true; FATAL after timeout seconds."""
    end = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


psql(PRIMARY, f"CREATE DATABASE {DB}")
CONN = f"{PRIMARY} dbname={DB}"
REPL = f"{REPLICA} dbname={DB}"
tmp = tempfile.mkdtemp(prefix="dash-browser-")
agent = driver = None
try:
    # A small shop: orders read by customer (through an index), by status
    # (a sequential scan), and an index nobody uses (an advisor finding, so
    # an index penalty and the unused_indexes alert).
    psql(CONN, """
        CREATE EXTENSION pg_stat_statements;
        CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
        CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers,
                             status text NOT NULL, total numeric NOT NULL, note text);
        INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 500) g;
        INSERT INTO orders SELECT g, 1 + g % 500, (ARRAY['new','paid','shipped'])[1 + g % 3], g % 97, 'n' || g
          FROM generate_series(1, 20000) g;
        CREATE INDEX orders_customer ON orders (customer_id);
        CREATE INDEX orders_note_unused ON orders (note);
        ANALYZE;
        SELECT pg_stat_statements_reset();
    """)
    token = "browser-test-token"
    tf = os.path.join(tmp, "token")
    with open(tf, "w") as f:
        f.write(token + "\n")
    # Alerts fire at once (no hold time), so the page shows them on its first load.
    env = dict(os.environ, ALCHDB_DASHBOARD_ALERT_FOR="0s")
    agent, port = start_agent([ALCHDB, "dashboard", "--conninfo", CONN, "--replica", REPL, "--redis", REDIS,
                               "--listen", "127.0.0.1:0", "--token-file", tf, "--interval", "1s"], env)
    if port is None:
        raise AssertionError("the agent did not announce its port")
    url = f"http://127.0.0.1:{port}/"

    # The workload, after the agent's first read of pg_stat_statements (its
    # baseline: only later calls reach its monitor).
    work = []
    for i in range(30):
        work.append(f"SELECT id, total FROM orders WHERE customer_id = {i + 1};")
        work.append(f"SELECT count(*) FROM orders WHERE status = '{('new', 'paid', 'shipped')[i % 3]}';")
        work.append(f"UPDATE customers SET name = 'customer {i}' WHERE id = {i + 1};")
    for h in HOSTILE:
        work += [h + ";"] * 3
    psql(CONN, "\n".join(work))

    # The agent's monitor reads pg_stat_statements every second: wait for the
    # hostile patterns to be among the top patterns the page lists.
    def fed():
        d = api(port, "dashboard")
        texts = [p["text"] for p in (d["queries"] or {}).get("top_patterns", [])]
        return all(any("__xss=%d" % (k + 1) in t for t in texts) for k in range(len(HOSTILE))) and d
    snap = wait_until("the monitor to list the hostile patterns", fed)

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-extensions", "--window-size=1280,1000", f"--user-data-dir={tmp}/chromium"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    driver.set_page_load_timeout(60)
    t0 = time.time()
    driver.get(url)
    rendered = WebDriverWait(driver, 60, poll_frequency=0.1).until(
        lambda d: d.find_element(By.ID, "updated").text.startswith("updated"))
    print(f"page rendered {time.time() - t0:.2f} s after the load started", flush=True)

    def text(id_):
        return driver.find_element(By.ID, id_).text

    def items(id_):
        return [e.text for e in driver.find_elements(By.CSS_SELECTOR, f"#{id_} > li")]

    def compare():
        """What the page shows against what the API says now: (ok, what) pairs."""
        out = []
        health, snap = api(port, "health"), api(port, "dashboard")
        shown = (text("score"), text("grade"), text("status"))
        want = (f"{health['score']:.0f}", health["grade"], health["status"])
        out.append((shown == want, f"score, grade and status as the API says: page {shown}, API {want}"))
        out.append((driver.find_element(By.ID, "score").get_attribute("class") == health["status"],
                    "the score is coloured by its status"))
        pen = items("penalties")
        out.append((len(health["penalties"]) >= 1,
                    f"the API lists a penalty ({[p['id'] for p in health['penalties']]})"))
        out.append((len(pen) == len(health["penalties"]) and
                    all(any(p["id"] in li and p["reason"] in li for li in pen) for p in health["penalties"]),
                    f"every penalty is listed with its reason: {pen}"))
        out.append((any(a["id"] == "unused_indexes" for a in health["alerts"]),
                    f"the API fires unused_indexes ({[a['id'] for a in health['alerts']]})"))
        al = items("alerts")
        out.append((len(al) == len(health["alerts"]) and
                    all(any(a["title"] in li and a["severity"] in li for li in al) for a in health["alerts"]),
                    f"every alert is listed with its severity and title: {al}"))
        recs = items("recommendations")
        out.append((len(recs) == max(1, len(health["recommendations"])) and
                    all(any(r["text"] in li for li in recs) for r in health["recommendations"]),
                    f"every recommendation is listed: {recs}"))

        # The trend: one point per minute window of the monitor, each line
        # scaled to its own busiest minute (the page's drawing rule): the
        # calls, and the latency as p95 (the ADR-0008 targets' percentile),
        # named in the heading, in each line's title and in the scale note.
        # The agent's monitor keeps reading pg_stat_statements and the page
        # redraws every 5 s, so a snapshot taken before may be a minute window
        # behind the drawing: the page fetches its API and draws the answer
        # with its own render() in one script, and the drawing is checked
        # against that answer.
        driver.set_script_timeout(60)
        tr = driver.execute_async_script("""
          var done = arguments[arguments.length - 1];
          fetch(API, {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (j) {
            render(j.data);
            var lines = Array.prototype.map.call(document.querySelectorAll("#trend polyline"), function (l) {
              var t = l.querySelector("title");
              return {points: l.getAttribute("points"), series: l.getAttribute("data-series"),
                      title: t ? t.textContent : ""};
            });
            done({data: j.data, lines: lines, dots: document.querySelectorAll("#trend circle").length,
                  note: document.getElementById("trendnote").textContent,
                  heading: document.getElementById("trend").parentNode.querySelector("h2").textContent});
          }).catch(function (e) { done({error: String(e)}); });
        """)
        out.append(("error" not in tr, f"the page fetched and drew its API: {tr.get('error')}"))
        minutes = (((tr.get("data") or {}).get("queries") or {}).get("trend") or {}).get("minutes", [])
        lines = tr.get("lines", [])
        out.append((len(minutes) >= 1 and len(lines) == 2, f"two trend lines over {len(minutes)} minute(s)"))
        out.append((all(isinstance(m.get("p95_us"), (int, float)) for m in minutes),
                    f"every trend point carries p95_us: {minutes}"))
        heading = tr.get("heading", "")
        out.append(("p95 latency" in heading and "mean" not in heading, f"trend heading: {heading}"))
        if len(minutes) >= 1 and len(lines) == 2:
            for line, key, label in ((lines[0], "calls", "executions"), (lines[1], "p95_us", "p95 latency")):
                pts = [p.split(",") for p in line["points"].split()]
                top = max(m[key] or 0 for m in minutes) or 1
                drawn = [round(115 - float(y), 1) for _, y in pts]
                real = [round((m[key] or 0) / top * 105, 1) for m in minutes]
                out.append((len(drawn) == len(real) and all(abs(a - b) <= 0.2 for a, b in zip(drawn, real)),
                            f"the {key} line is the monitor's per-minute {key}: {drawn} vs {real}"))
                out.append((line["series"] == key and line["title"].startswith(label),
                            f"the {key} line is labelled: {line['series']} / {line['title']}"))
            out.append((tr["dots"] == 2 * len(minutes), f"a dot per minute on each line ({tr['dots']})"))
            maxc = max(m["calls"] for m in minutes) or 1
            maxp = max(m["p95_us"] or 0 for m in minutes) or 1
            want = f"{len(minutes)} minute(s) with traffic; top of the scale: {maxc} executions, p95 "
            # JavaScript's toFixed rounds a tie up, Python's format to even: compare the number
            shown = re.fullmatch(re.escape(want) + r"(\d+\.\d\d) ms", tr["note"])
            out.append((shown is not None and abs(float(shown.group(1)) - maxp / 1000) <= 0.0051,
                        f"trend note: {tr['note']} (want {want}{maxp / 1000:.2f} ms)"))

        rows = driver.find_elements(By.CSS_SELECTOR, "#patterns tr")
        out.append((len(rows) - 1 == len(snap["queries"]["top_patterns"]),
                    f"one row per top pattern ({len(rows) - 1} vs {len(snap['queries']['top_patterns'])})"))
        hosts = driver.find_elements(By.CSS_SELECTOR, "#hosts tr")
        out.append((len(hosts) - 1 == len(snap["router"]["hosts"]) == 2, "the primary and the replica are listed"))
        out.append((text("indexes").startswith(f"score {snap['indexes']['score']}"), f"indexes: {text('indexes')}"))
        return out

    # The page refreshes every 5 s and the agent's numbers move between two
    # reads: on a difference, wait for the page's next refresh (a bounded
    # number of times) and compare again.
    for attempt in range(6):
        result = compare()
        if all(ok for ok, _ in result):
            break
        before = text("updated")
        WebDriverWait(driver, 30, poll_frequency=0.1).until(lambda d: text("updated") != before)
    for ok, what in result:
        check(ok, what)

    codes = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#patterns code")]
    check(any("FROM orders WHERE customer_id = $1" in c for c in codes), "the normalised orders query is listed")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#pools .bar")) >= 1, "a pool utilisation bar is drawn")
    check(text("qps").endswith("q/s since start"), f"QPS: {text('qps')}")
    cache = api(port, "cache/stats")
    cells = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#cache td")]
    check(cells[:2] == ["backend", cache["backend"]] and any(c.startswith("hit ratio") for c in cells) and
          len(driver.find_elements(By.CSS_SELECTOR, "#cache .bar")) == 1, f"the cache's gauge: {cells}")

    # Nothing spills out of its box (long query texts, host names, JSON).
    spill = driver.execute_script("""
        var out = [];
        document.querySelectorAll('section').forEach(function (s) {
          if (s.scrollWidth > s.clientWidth + 1) out.push(s.querySelector('h2').textContent);
        });
        if (document.documentElement.scrollWidth > window.innerWidth) out.push('page');
        return out;""")
    check(spill == [], f"no section is wider than its box: {spill}")

    # XSS: the hostile texts are shown as written and nothing ran.
    for k, h in enumerate(HOSTILE):
        alias = h.rsplit(" AS ", 1)[1]
        check(any(alias in c for c in codes), f"hostile text {k + 1} is shown as text: {alias}")
    check(driver.execute_script("return typeof window.__xss") == "undefined", "no injected script ran")
    check(driver.title == "alchdb dashboard", f"the title is untouched ({driver.title!r})")
    injected = driver.execute_script(
        "return document.querySelectorAll('main script, main img, main iframe, main [onerror]').length")
    check(injected == 0, f"no element came from the data ({injected})")

    # The page only reads: every request it made was a GET of its own origin
    # (so it needs no token; the POST routes are for API clients).
    reqs = driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })")
    check(all(r.startswith(url) for r in reqs) and any(r.endswith(P.lstrip("/") + "dashboard") or
                                                       (P + "dashboard") in r for r in reqs),
          f"the page fetched only its own API: {reqs}")

    logs = driver.get_log("browser")
    bad = [e for e in logs if e.get("level") in ("SEVERE", "WARNING")]
    check(not bad, f"no console errors or warnings: {bad}")

    # Defence in depth: the page's Content-Security-Policy admits only its own
    # script (by hash), so even markup that reached the DOM as HTML runs
    # nothing. Inject some (after the console was read: the refusal logs).
    driver.execute_script("""
        window.__violations = [];
        document.addEventListener('securitypolicyviolation', function (e) {
          window.__violations.push(e.effectiveDirective);
        });
        var d = document.createElement('div');
        d.innerHTML = '<img src="data:," onload="window.__csp = 1"><img src="data:x" onerror="window.__csp = 2">';
        document.body.appendChild(d);""")
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: d.execute_script("return window.__violations.length > 0 || window.__csp !== undefined"))
    seen = driver.execute_script("return window.__violations")
    check(any(v.startswith("script-src") for v in seen) and
          driver.execute_script("return typeof window.__csp") == "undefined",
          f"the CSP refuses inline handlers (violations {seen}, __csp {driver.execute_script('return window.__csp')})")

    if SCREENSHOT:
        # The whole page, not only the window (Chrome's DevTools protocol).
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        os.makedirs(os.path.dirname(os.path.abspath(SCREENSHOT)), exist_ok=True)
        with open(SCREENSHOT, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        check(os.path.getsize(SCREENSHOT) > 10000, f"screenshot written to {SCREENSHOT}")
except (AssertionError, TimeoutException) as e:
    check(False, f"{type(e).__name__}: {e}")
finally:
    if driver is not None:
        driver.quit()
    if agent is not None:
        agent.terminate()
        try:
            agent.wait(timeout=30)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
    psql(PRIMARY, f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    shutil.rmtree(tmp, ignore_errors=True)

finish()

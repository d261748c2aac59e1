"""What the dashboard's Python tests share (test_agent.py, test_browser.py),
run inside tests/services/rig.sh run --: the rig's servers from the
environment, checks that record their failures, psql, and an agent started on
a free port."""
import os
import subprocess
import sys

failures = []


def need(name):
    v = os.environ.get(name)
    if not v:
        sys.exit(f"FATAL: {name} is not set: run this test inside tests/services/rig.sh run --")
    return v


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def finish():
    print(f"{len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


PRIMARY = need("ALCHDB_TEST_PRIMARY")
REPLICA = need("ALCHDB_TEST_REPLICA")
REDIS = need("ALCHDB_TEST_REDIS")
PG_BIN = need("ALCHDB_TEST_PG_BIN")


def psql(conninfo, sql):
    """Runs sql (one or more statements) on conninfo; raises on an error."""
    subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo],
                   input=sql, text=True, check=True, stdout=subprocess.DEVNULL)


def start_agent(argv, env):
    """`alchdb dashboard ... --listen 127.0.0.1:0` started; (process, port),
    port None when it did not announce one."""
    agent = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    line = agent.stdout.readline()
    if not line.startswith("alchdb dashboard: listening on http://127.0.0.1:"):
        return agent, None
    return agent, int(line.split("127.0.0.1:")[1].split("/")[0])

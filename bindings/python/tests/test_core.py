"""What needs no server: loading, version, errors, the option listing."""
import datetime
import threading

import pytest

import alchdb
from alchdb import errors


def test_version_matches_the_loaded_library():
    major, minor, patch = alchdb.VERSION
    assert alchdb.library_version == "%d.%d.%d" % (major, minor, patch)
    assert alchdb.VERSION >= alchdb._lib.MIN_VERSION


def test_bad_argument_raises_with_the_library_message():
    with pytest.raises(alchdb.InvalidArgument) as e:
        alchdb.parse_duration("12 parsecs")
    assert e.value.code == errors.E_INVALID
    assert e.value.message            # the library's detail, read on this thread
    assert e.value.sqlstate == ""


def test_error_detail_is_read_on_the_calling_thread():
    # Two threads fail differently at the same moment; each exception carries its own detail.
    barrier = threading.Barrier(2)
    seen = {}

    def fail(name, fn):
        barrier.wait()
        try:
            fn()
        except alchdb.Error as e:
            seen[name] = e

    a = threading.Thread(target=fail, args=("a", lambda: alchdb.parse_duration("5 fortnights")))
    b = threading.Thread(target=fail, args=("b", lambda: alchdb.options("no_such_module")))
    a.start(); b.start(); a.join(); b.join()
    assert isinstance(seen["a"], alchdb.InvalidArgument)
    assert isinstance(seen["b"], alchdb.NotFound)
    assert "no_such_module" in seen["b"].message
    assert "no_such_module" not in seen["a"].message


def test_options_come_from_the_library_listing():
    every = alchdb.options()
    assert isinstance(every, list)
    for m in every:
        assert alchdb.options(m["module"])[0]["module"] == m["module"]
        for o in m["options"]:
            assert o["name"] and "doc" in o and "type" in o
    with pytest.raises(alchdb.NotFound):
        alchdb.options("no_such_module")


def test_every_listed_module_has_a_config_from_the_same_table():
    from alchdb.options import Config
    modules = [m["module"] for m in alchdb.options()]
    assert {"pool", "router", "cache", "monitor", "advisor", "migration"} <= set(modules)
    for module in modules:
        with Config(module) as cfg:
            assert cfg.ptr
        with pytest.raises(alchdb.NotFound) as e:
            Config(module, {"no_such_option": "1"})
        assert "no_such_option" in e.value.message
    with Config("migration", {"lock_timeout": datetime.timedelta(milliseconds=1500),
                              "Statement_Timeout": "1m"}):
        pass
    with pytest.raises(alchdb.InvalidArgument):
        Config("advisor", {"lock_timeout": "2000"})  # a duration needs a unit
    with pytest.raises(alchdb.NotFound):
        Config("no_such_module")


def test_durations_parse_as_the_library_does():
    assert alchdb.parse_duration("1h30m").total_seconds() == 5400
    assert alchdb.parse_duration("250ms").total_seconds() == 0.25


def test_redact():
    out = alchdb.redact("postgresql://app:s3cret@db/app")
    assert "s3cret" not in out and "***" in out


def test_bad_option_names_and_values_are_refused_by_the_library():
    with pytest.raises(alchdb.Error) as e:
        alchdb.Cache({"no_such_option": "1"})
    assert e.value.code in (errors.E_NOTFOUND, errors.E_INVALID)
    assert "no_such_option" in e.value.message
    with pytest.raises(alchdb.InvalidArgument):
        alchdb.Cache({"default_ttl": object()})


def test_memory_cache_and_monitor_without_a_server():
    with alchdb.Cache({"backend": "memory"}) as c:
        assert c.backend == "memory"
        assert isinstance(c.stats(), dict)
    with alchdb.Monitor() as m:
        assert m.patterns() == []
        with pytest.raises(alchdb.InvalidArgument):
            m.patterns(sort="alphabetical")


def test_migration_check_needs_no_server():
    r = alchdb.check_migration({"001.sql": "ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT random()::int;",
                                "002.sql": "CREATE INDEX ON t (c);"})
    assert r.max_risk in ("medium", "high", "critical")
    names = [f["file"] for f in r.data["files"]]
    assert names == ["001.sql", "002.sql"]
    assert "ACCESS EXCLUSIVE" in r.text or "SHARE" in r.text
    broken = alchdb.check_migration([("bad.sql", "ALTER TABLE ;")])
    assert broken.data["files"][0].get("error")


def test_closed_handles_raise_closed():
    c = alchdb.Cancel()
    c.close()
    c.close()  # idempotent
    with pytest.raises(alchdb.Closed):
        c.trigger()


def _import_in_child(env_changes):
    import os
    import subprocess
    import sys
    env = dict(os.environ)
    env.pop("ALCHDB_LIBRARY", None)
    env.update(env_changes)
    return subprocess.run([sys.executable, "-c", "import alchdb; print(alchdb.library_version)"],
                          env=env, capture_output=True, text=True, timeout=60)


def test_loads_libalchdb_so_1_through_the_loader_path():
    import os
    lib_dir = os.path.dirname(os.environ["ALCHDB_LIBRARY"])
    assert os.path.exists(os.path.join(lib_dir, "libalchdb.so.1"))
    r = _import_in_child({"LD_LIBRARY_PATH": lib_dir})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == alchdb.library_version


def test_a_missing_library_fails_the_import_with_a_clear_message():
    r = _import_in_child({"ALCHDB_LIBRARY": "/nonexistent/libalchdb.so.1"})
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "ALCHDB_LIBRARY" in r.stderr

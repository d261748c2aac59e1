"""The router, the cache, the monitor and the advisor through the package."""
import pytest

import alchdb

PREFIX = "alchdb_pytest"


@pytest.fixture
def router(primary, replica):
    with alchdb.Router(primary, [replica], {"probe_interval": "100ms"}, {"max_open_conns": 4, "max_idle_conns": 4}) as r:
        yield r


def test_routed_client_reads_its_own_writes_with_a_token(router):
    with alchdb.Client.routed(router) as c:
        c.exec("CREATE TABLE IF NOT EXISTS py_ryw (id int PRIMARY KEY, v int)")
        for i in range(20):
            c.exec("INSERT INTO py_ryw VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = $2", [1, i])
            tok = c.token()
            assert tok
            assert c.exec("SELECT v FROM py_ryw WHERE id = $1", [1], token=tok).scalar() == i
        m = router.metrics()
        assert isinstance(m, dict) and m
        assert router.token()
        with pytest.raises(alchdb.InvalidArgument):
            c.exec("SELECT 1", token="not a token")
        c.exec("DROP TABLE py_ryw")


def test_router_cannot_close_under_a_client(router):
    c = alchdb.Client.routed(router)
    with pytest.raises(alchdb.StateError):
        router.close()
    c.close()
    router.close()
    assert router.closed


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_cache_hits_and_invalidation(primary, redis, backend):
    host, port = redis.rsplit(":", 1)
    opts = {"backend": backend, "prefix": PREFIX + ":" + backend}
    if backend == "redis":
        opts.update({"redis_host": host, "redis_port": port})
    with alchdb.Cache(opts) as cache, alchdb.Client(primary) as c:
        c.set_cache(cache)
        c.exec("CREATE TABLE IF NOT EXISTS py_cached_%s (id int PRIMARY KEY, v text)" % backend)
        c.exec("INSERT INTO py_cached_%s VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET v = 'a'" % backend)
        q = "SELECT v FROM py_cached_%s WHERE id = $1" % backend
        assert c.exec(q, [1]).scalar() == "a"
        assert c.exec(q, [1]).scalar() == "a"
        hits = cache.stats()["hits"]
        assert hits >= 1
        c.exec("UPDATE py_cached_%s SET v = 'b' WHERE id = 1" % backend)
        assert c.exec(q, [1]).scalar() == "b"       # never the stale 'a'
        cache.invalidate_tables(["py_cached_%s" % backend])
        cache.invalidate_tag("some-tag")
        cache.clear()
        with pytest.raises(alchdb.StateError):
            cache.close()                            # the client still uses it
        c.exec("DROP TABLE py_cached_%s" % backend)


def test_detached_or_replaced_cache_and_monitor_are_released(db):
    """set_cache(None) and set_monitor(None) give back the object they held, and
    so does attaching another one: it can then be closed (and is not kept alive)
    while the client stays open; the one attached now still cannot."""
    import gc
    import weakref
    first, second = alchdb.Cache({"backend": "memory"}), alchdb.Cache({"backend": "memory"})
    db.set_cache(first)
    db.set_cache(second)                            # replaces first
    first.close()
    with pytest.raises(alchdb.StateError):
        second.close()
    db.set_cache(None)
    second.close()
    assert db.exec("SELECT 1").scalar() == 1

    mon = alchdb.Monitor()
    db.set_monitor(mon)
    db.set_monitor(mon)                             # the same one again: still held once
    with pytest.raises(alchdb.StateError):
        mon.close()
    db.set_monitor(None)
    mon.close()
    assert db.exec("SELECT 2").scalar() == 2

    gone = alchdb.Cache({"backend": "memory"})
    db.set_cache(gone)
    db.set_cache(None)
    ref = weakref.ref(gone)
    del gone
    gc.collect()
    assert ref() is None                            # the client keeps no reference


def test_monitor_records_the_clients_statements(primary):
    with alchdb.Monitor() as mon, alchdb.Client(primary) as c:
        c.set_monitor(mon)
        for i in range(5):
            c.exec("SELECT $1::int + 1", [i])
        with pytest.raises(alchdb.QueryError):
            c.exec("SELECT 1/0")
        mon.flush()
        pats = mon.patterns(sort="calls")
        top = pats[0]
        assert top["calls"] == 5
        assert "$1" in top["text"]
        assert isinstance(mon.analysis(), dict)
        slow = mon.slow_log()
        assert isinstance(slow, dict) and isinstance(slow["recent"], list)
        c.close()
        mon.reset()
        mon.flush()
        assert mon.patterns() == []


def test_advisor_report(primary):
    with alchdb.Client(primary) as c:
        c.exec("CREATE TABLE IF NOT EXISTS py_adv (id int PRIMARY KEY, a int, b int)")
        c.exec("CREATE INDEX IF NOT EXISTS py_adv_a ON py_adv (a)")
        c.exec("CREATE INDEX IF NOT EXISTS py_adv_a2 ON py_adv (a)")
        c.exec("INSERT INTO py_adv SELECT g, g % 100, g FROM generate_series(1, 2000) g "
               "ON CONFLICT DO NOTHING")
        c.exec("ANALYZE py_adv")
    rep = alchdb.advise(primary, ["SELECT * FROM py_adv WHERE b = 7"], {"min_table_rows": 1})
    names = [i.get("index") or i.get("name") for i in rep.data["redundant_indexes"]]
    assert any(n in ("py_adv_a", "py_adv_a2") for n in names), rep.data["redundant_indexes"]
    assert rep.text
    assert "py_adv" in rep.script
    with pytest.raises(alchdb.ConnectError):
        alchdb.advise("host=127.0.0.1 port=1 dbname=x connect_timeout=1")


def test_migration_check_with_a_live_database(primary):
    with alchdb.Client(primary) as c:
        c.exec("CREATE TABLE IF NOT EXISTS py_mig (id int)")
    r = alchdb.check_migration({"m.sql": "ALTER TABLE py_mig ALTER COLUMN id TYPE bigint;"},
                               {"conninfo": primary})
    st = r.data["files"][0]["statements"][0]
    assert st["rewrites_table"] is True
    assert any(l["mode"] == "ACCESS EXCLUSIVE" for l in st["locks"])

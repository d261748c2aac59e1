"""The dashboard through the package: snapshot, health, Prometheus text, the
HTTP handler, and what it borrows."""
import pytest

import alchdb


@pytest.fixture
def parts(primary):
    with alchdb.Client(primary, {"max_open_conns": 4, "max_idle_conns": 4}) as db, alchdb.Cache({"backend": "memory"}) as cache, \
            alchdb.Monitor() as monitor:
        db.set_cache(cache)
        db.set_monitor(monitor)
        yield db, cache, monitor
        db.close()


def test_snapshot_health_metrics_and_routes(parts):
    db, cache, monitor = parts
    with alchdb.Dashboard({"min_queries": 1, "min_cache_lookups": 1}, client=db, cache=cache,
                          monitor=monitor) as d:
        db.exec("CREATE TABLE IF NOT EXISTS py_dash (id int PRIMARY KEY, v text)")
        db.exec("INSERT INTO py_dash VALUES (1, 'a') ON CONFLICT (id) DO NOTHING")
        for _ in range(10):
            assert db.exec("SELECT v FROM py_dash WHERE id = $1", [1]).scalar() == "a"
        monitor.flush()

        snap = d.snapshot()
        for key in ("health", "qps", "connections", "cache", "queries", "indexes"):
            assert key in snap, key
        assert 0 <= snap["health"]["score"] <= 100
        assert snap["cache"]["hits"] >= 9      # the attached cache, seen through the dashboard
        assert snap["queries"]                  # the attached monitor's patterns

        score, status = d.health()
        assert 0 <= score <= 100 and status in ("healthy", "warning", "critical")
        report = d.health_report()
        assert report["status"] == status and report["grade"] in "ABCDF"
        assert isinstance(report["penalties"], list)

        text = d.metrics()
        assert "# TYPE db_connections_active gauge" in text
        assert "db_connections_idle" in text

        code, ctype, body = d.handle("GET", "/api/v1/database/performance/health")
        assert code in (200, 202, 503) and ctype.startswith("application/json")
        assert b'"status":"success"' in body
        code, _, body = d.handle("GET", "/api/v1/nowhere")
        assert code == 404 and b'"status":"error"' in body
        code, _, _ = d.handle("DELETE", "/api/v1/database/performance/health")
        assert code == 405
        db.exec("DROP TABLE py_dash")


def test_attached_objects_are_borrowed(parts):
    db, _, monitor = parts
    cache = alchdb.Cache({"backend": "memory"})   # borrowed by the dashboard only
    d = alchdb.Dashboard(cache=cache)
    d.attach_monitor(monitor)
    d.attach_pool(db)
    with pytest.raises(alchdb.StateError):
        cache.close()                       # the dashboard still reads it
    d.attach_cache(None)                    # detached: no longer borrowed
    assert "cache" in d.snapshot()
    cache.close()
    assert cache.closed
    assert d.snapshot()["connections"]
    db.close()                              # closes what borrows it first: the dashboard too
    assert d.closed
    with pytest.raises(alchdb.Closed):
        d.snapshot()
    d.close()                               # idempotent


def test_bad_arguments(parts):
    db, cache, _ = parts
    with pytest.raises(alchdb.NotFound):
        alchdb.Dashboard({"no_such_option": 1})
    with pytest.raises(alchdb.InvalidArgument):
        alchdb.Dashboard({"min_queries": 0})
    with alchdb.Dashboard() as d:
        with pytest.raises(alchdb.InvalidArgument):
            d.attach_cache(db)              # not a Cache
        with pytest.raises(alchdb.InvalidArgument):
            d.attach_pool(cache)            # not a Client
        with pytest.raises(alchdb.InvalidArgument):
            d.handle("GET", "/x", "not bytes")
        code, _, _ = d.handle("GET", "/api/v1/database/performance/queries/slow")
        assert code == 404                  # no monitor attached

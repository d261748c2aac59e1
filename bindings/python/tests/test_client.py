"""The client against the rig: parameters, results, errors with SQLSTATE,
per-call timeout and cancel, transactions, streams, tokens, metrics."""
import decimal
import threading
import time

import pytest

import alchdb
from alchdb import errors


def test_exec_with_parameters_and_typed_rows(db):
    r = db.exec("SELECT $1::int AS a, $2::text AS b, $3::numeric AS c, $4::bool AS d, $5::int AS e, "
                "$6::bytea AS f, $7::float8 AS g", [42, "héllo", decimal.Decimal("1.50"), True, None,
                                                      b"\x00\x01\xff", 2.5])
    assert r.columns == ["a", "b", "c", "d", "e", "f", "g"]
    assert r.rows == [(42, "héllo", decimal.Decimal("1.50"), True, None, b"\x00\x01\xff", 2.5)]
    assert r.dicts()[0]["b"] == "héllo"
    assert r.command_tag == "SELECT 1" and r.affected_rows == 1


def test_parameters_are_never_spliced(db):
    evil = "x'); DROP TABLE IF EXISTS py_victim; --"
    db.exec("CREATE TABLE IF NOT EXISTS py_victim (v text)")
    db.exec("INSERT INTO py_victim VALUES ($1)", [evil])
    assert db.exec("SELECT v FROM py_victim WHERE v = $1", [evil]).scalar() == evil
    db.exec("DROP TABLE py_victim")


def test_huge_and_many_parameters(db):
    big = "x" * (4 << 20)
    assert db.exec("SELECT length($1::text)", [big]).scalar() == len(big)
    n = 2000
    sql = "SELECT " + " + ".join("$%d::int" % (i + 1) for i in range(n))
    assert db.exec(sql, list(range(n))).scalar() == sum(range(n))


def test_bad_arguments_raise_invalid_naming_them(db):
    with pytest.raises(alchdb.InvalidArgument, match="params"):
        db.exec("SELECT $1", "not a list")
    with pytest.raises(alchdb.InvalidArgument, match=r"params\[0\]"):
        db.exec("SELECT $1", [object()])
    with pytest.raises(alchdb.InvalidArgument, match="NUL"):
        db.exec("SELECT $1", ["a\0b"])
    with pytest.raises(alchdb.InvalidArgument, match="timeout"):
        db.exec("SELECT 1", timeout=-1)
    with pytest.raises(alchdb.InvalidArgument, match="isolation"):
        db.transaction(isolation="chaotic")


def test_server_errors_carry_code_message_and_sqlstate(db):
    with pytest.raises(alchdb.QueryError) as e:
        db.exec("SELECT * FROM no_such_table_here")
    assert e.value.code == errors.E_QUERY
    assert e.value.sqlstate == "42P01"
    assert "no_such_table_here" in e.value.message
    db.exec("CREATE TABLE IF NOT EXISTS py_uniq (id int PRIMARY KEY)")
    db.exec("INSERT INTO py_uniq VALUES (1) ON CONFLICT DO NOTHING")
    with pytest.raises(alchdb.QueryError) as e:
        db.exec("INSERT INTO py_uniq VALUES ($1)", [1])
    assert e.value.sqlstate == "23505"


def test_errors_of_concurrent_threads_stay_apart(db):
    # Each thread's exception carries the SQLSTATE of its own statement.
    states = {}
    barrier = threading.Barrier(4)

    def run(i, sql):
        barrier.wait()
        for _ in range(20):
            try:
                db.exec(sql)
            except alchdb.QueryError as e:
                states.setdefault(i, set()).add(e.sqlstate)

    sqls = ["SELECT 1/0", "SELECT * FROM no_such_t", "SELECT 'x'::int", "SELECT 1/0"]
    ts = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate(sqls)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert states == {0: {"22012"}, 1: {"42P01"}, 2: {"22P02"}, 3: {"22012"}}


def test_timeout_stops_a_slow_statement(db):
    t0 = time.monotonic()
    with pytest.raises(alchdb.Timeout) as e:
        db.exec("SELECT pg_sleep(30)", timeout=0.3)
    assert e.value.code == errors.E_TIMEOUT
    assert time.monotonic() - t0 < 15  # the deadline plus generous slack
    assert db.exec("SELECT 1").scalar() == 1  # the client still works


def test_cancel_from_another_thread(db):
    with alchdb.Cancel() as cancel:
        timer = threading.Timer(0.3, cancel.trigger)
        timer.start()
        t0 = time.monotonic()
        with pytest.raises(alchdb.Canceled):
            db.exec("SELECT pg_sleep(30)", cancel=cancel)
        timer.join()
        assert time.monotonic() - t0 < 15
        assert cancel.triggered
        with pytest.raises(alchdb.Canceled):     # stays triggered until reset
            db.exec("SELECT 1", cancel=cancel)
        cancel.reset()
        assert db.exec("SELECT 1", cancel=cancel).scalar() == 1


def test_transaction_commits_and_rolls_back(db):
    db.exec("CREATE TABLE IF NOT EXISTS py_txn (id int, v text)")
    db.exec("TRUNCATE py_txn")
    with db.transaction() as tx:
        tx.exec("INSERT INTO py_txn VALUES ($1, $2)", [1, "kept"])
    with pytest.raises(ZeroDivisionError):
        with db.transaction() as tx:
            tx.exec("INSERT INTO py_txn VALUES ($1, $2)", [2, "dropped"])
            1 / 0
    with db.transaction() as tx:
        tx.exec("INSERT INTO py_txn VALUES (3, 'explicit')")
        tx.rollback()
    assert db.exec("SELECT id, v FROM py_txn ORDER BY id").rows == [(1, "kept")]


def test_failed_statement_aborts_the_transaction(db):
    with pytest.raises(alchdb.QueryError) as e:
        with db.transaction() as tx:
            with pytest.raises(alchdb.QueryError):
                tx.exec("SELECT 1/0")
            tx.exec("SELECT 1")  # 25P02: the transaction is aborted
    assert e.value.sqlstate == "25P02"


def test_read_only_and_isolation(db):
    with db.transaction(read_only=True, isolation="serializable") as tx:
        assert tx.exec("SHOW transaction_isolation").scalar() == "serializable"
        with pytest.raises(alchdb.QueryError) as e:
            tx.exec("CREATE TABLE py_never (a int)")
        assert e.value.sqlstate == "25006"
        tx.rollback()


def test_stream_iterates_rows_and_stops_early(db):
    n = 0
    with db.stream("SELECT g, 'row ' || g FROM generate_series(1, $1::int) g", [50000]) as s:
        for i, (g, text) in enumerate(s, 1):
            assert g == i and text == "row %d" % i
            n += 1
        assert s.columns == ["g", "?column?"]
        assert s.command_tag == "SELECT 50000"
    assert n == 50000
    s = db.stream("SELECT g FROM generate_series(1, 10000000) g")
    assert next(s) == (1,)
    s.close()  # canceled on the server
    assert db.exec("SELECT 2").scalar() == 2


def test_stream_error_mid_way(db):
    with db.stream("SELECT 10 / (3 - g) FROM generate_series(1, 5) g") as s:
        with pytest.raises(alchdb.QueryError) as e:
            list(s)
    assert e.value.sqlstate == "22012"


def test_stream_in_a_transaction(db):
    with db.transaction() as tx:
        with tx.stream("SELECT g FROM generate_series(1, 100) g") as s:
            assert sum(r[0] for r in s) == 5050
        assert tx.exec("SELECT 1").scalar() == 1


def test_client_closes_open_children_and_refuses_use_after_close(primary):
    c = alchdb.Client(primary)
    tx = c.transaction()
    s = c.stream("SELECT g FROM generate_series(1, 1000) g")
    c.close()
    assert tx.closed and s.closed
    with pytest.raises(alchdb.Closed):
        c.exec("SELECT 1")


def test_dead_server_raises_connect_error():
    with alchdb.Client("host=127.0.0.1 port=1 dbname=x connect_timeout=2",
                       {"acquire_timeout": "3s"}) as c:
        with pytest.raises((alchdb.ConnectError, alchdb.Timeout)) as e:
            c.exec("SELECT 1")
        assert e.value.message


def test_password_never_in_messages(primary):
    with alchdb.Client("host=127.0.0.1 port=1 dbname=x user=u password=hunter2secret",
                       {"acquire_timeout": "2s"}) as c:
        with pytest.raises(alchdb.Error) as e:
            c.exec("SELECT 1")
        assert "hunter2secret" not in str(e.value)


def test_pool_metrics(db):
    db.exec("SELECT 1")
    m = db.pool_metrics()
    assert isinstance(m, dict) and m
    assert any(isinstance(v, int) and v > 0 for v in m.values())

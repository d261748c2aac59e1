"""Fixtures over the rig (tests/services/rig.sh): the servers come from its
environment variables; a missing one fails the test loudly (never a skip)."""
import os

import pytest

import alchdb

DB = "alchdb_pytest"


def rig(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail("%s is not set: run the tests inside tests/services/rig.sh run --" % name)
    return value


@pytest.fixture(scope="session")
def primary() -> str:
    """conninfo of a fresh database of our own on the rig's primary."""
    admin = rig("ALCHDB_TEST_PRIMARY")
    with alchdb.Client(admin) as c:
        c.exec("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB, simple=True)
        c.exec("CREATE DATABASE %s STRATEGY FILE_COPY" % DB, simple=True)
    yield admin + " dbname=" + DB
    with alchdb.Client(admin) as c:
        c.exec("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB, simple=True)


@pytest.fixture(scope="session")
def replica(primary) -> str:
    return rig("ALCHDB_TEST_REPLICA") + " dbname=" + DB


@pytest.fixture(scope="session")
def redis() -> str:
    return rig("ALCHDB_TEST_REDIS")


@pytest.fixture
def db(primary):
    with alchdb.Client(primary, {"max_open_conns": 4, "max_idle_conns": 4}) as c:
        yield c

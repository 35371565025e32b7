"""Pooled connections are not checked on every checkout (traitortrack.dbpool): each worker checks the idle
ones now and then, and a request that meets one broken meanwhile gets a 503 to retry."""

import json

import psycopg
import pytest
from django.db import OperationalError, connection
from django.test import RequestFactory

from traitortrack.dbpool import check_pool
from traitortrack.edge import server_error

# serialized_rollback: a plain transactional test's flush makes the content types again under new ids, and the
# next serialized_rollback test (tests/scanning/test_concurrency.py, run after this file) then fails to put
# the old ones back.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def terminate(backend_pid: int) -> None:
    """What a PostgreSQL restart does to a pooled connection: its server process goes away."""
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend_pid])


@pytest.fixture
def pool():
    """The default database's own psycopg pool, as Django builds it from DATABASES (OPTIONS["pool"])."""
    pool = connection.pool
    if pool is None:
        pytest.skip("DB_POOL_MAX_SIZE=0: persistent connections, checked by Django before each reuse")
    pool.open()
    pool.wait()
    yield pool
    check_pool()  # the next test (and this one's flush) gets healthy connections


def terminate_idle_connections(pool) -> int:
    """Break every connection waiting in the pool; how many there were."""
    held = [pool.getconn() for _ in range(pool.get_stats()["pool_available"])]
    for conn in held:
        terminate(conn.info.backend_pid)
        pool.putconn(conn)
    return len(held)


def test_the_pool_is_not_checked_on_checkout(settings):
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is False
    assert settings.DB_POOL_CHECK_SECONDS > 0


def test_a_connection_broken_while_idle_is_handed_out_broken_without_a_check(pool):
    terminate_idle_connections(pool)

    with pool.connection() as conn, pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")


def test_the_periodic_check_replaces_a_connection_broken_while_idle(pool):
    broken = terminate_idle_connections(pool)

    check_pool()

    for _ in range(broken + 1):
        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


def broken_connection_error() -> OperationalError:
    """The error Django raises when a statement meets a connection whose server process is gone."""
    with psycopg.connect(**connection.get_connection_params()) as conn:
        terminate(conn.info.backend_pid)
        try:
            with connection.wrap_database_errors:
                conn.execute("SELECT 1")
        except OperationalError as error:
            return error
    raise AssertionError("the statement ran on a terminated connection")


@pytest.mark.parametrize("path", ["/api/scan/child", "/scan/"])
def test_a_broken_connection_is_a_503_to_retry_not_a_bug_page(path):
    error = broken_connection_error()
    try:
        raise error
    except OperationalError:
        response = server_error(RequestFactory().get(path))

    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    if path == "/api/scan/child":
        assert json.loads(response.content)["code"] == "busy"

"""The 500 handler: a database pool that ran out of connections is a 503 to retry, not a bug page."""

import pytest
from django.db import OperationalError, connection
from django.test import RequestFactory
from psycopg_pool import ConnectionPool

from traitortrack.edge import server_error


@pytest.fixture
def exhausted_pool(db):
    """A real psycopg pool of one connection, already taken: the next getconn() times out."""
    # Connect as Django does (its own pool passes the same kwargs): the embedded server has no HOST, only
    # a socket folder in OPTIONS, so a conninfo built from HOST and PORT reaches nothing there.
    pool = ConnectionPool(kwargs=connection.get_connection_params(), min_size=1, max_size=1, timeout=0.1, open=True)
    held = pool.getconn()
    yield pool
    pool.putconn(held)
    pool.close()


def handled(path: str, pool: ConnectionPool):
    """What the handler answers while Django is handling a real pool timeout, wrapped as Django wraps it."""
    try:
        with connection.wrap_database_errors:
            pool.getconn()
    except OperationalError:
        return server_error(RequestFactory().get(path))
    raise AssertionError("the pool handed out a second connection")


def test_pool_timeout_on_the_api_is_a_503_to_retry_in_json(exhausted_pool):
    response = handled("/api/scan/child", exhausted_pool)

    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response["Content-Type"] == "application/json"
    assert b'"code": "busy"' in response.content


def test_pool_timeout_on_a_page_is_a_503_page(exhausted_pool):
    response = handled("/scan/", exhausted_pool)

    assert response.status_code == 503
    assert b"busy" in response.content


def test_other_errors_stay_500(db):
    try:
        raise ValueError("a bug")
    except ValueError:
        api = server_error(RequestFactory().get("/api/scan/child"))
        page = server_error(RequestFactory().get("/scan/"))

    assert (api.status_code, api["Content-Type"]) == (500, "application/json")
    assert page.status_code == 500

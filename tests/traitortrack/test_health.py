import time

from django.db import connection

from tests.caches import free_port
from traitortrack.health import READY_DATABASE_TIMEOUT_SECONDS


def test_health_answers_without_touching_the_database(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_touches_nothing_for_a_logged_in_phone_either(client, db, django_assert_num_queries, monkeypatch):
    # A phone's probe carries its session cookie: liveness must not read the session or the user, which is
    # what made it time out while PostgreSQL was down.
    from tests import factories

    client.force_login(factories.make_user("probe-carrier"))
    monkeypatch.setattr("django.contrib.sessions.backends.cached_db.SessionStore.load", lambda self: 1 / 0)
    with django_assert_num_queries(0):
        response = client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert response["Cache-Control"].startswith("max-age=0")
    assert client.post("/health").status_code == 405  # still the view's own rules


def test_ready_reports_database_and_cache(client, db):
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_ready_checks_redis_itself(client, db, redis_cache):
    assert client.get("/ready").json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_ready_reports_redis_down_but_stays_ready(client, db, dead_redis_cache):
    # Every page, login and scan works without Redis (the default cache ignores its errors): a load balancer
    # that took every app server out for it would turn a slower warehouse into a stopped one.
    response = client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "unavailable"}


def test_ready_is_503_when_the_database_does_not_answer(client, db, monkeypatch):
    down = connection.copy()  # the same settings, but a port where no PostgreSQL listens
    down.settings_dict["PORT"] = free_port()
    down.settings_dict["OPTIONS"].pop("pool", None)
    monkeypatch.setattr("traitortrack.health.connection", down)
    try:
        response = client.get("/ready")
    finally:
        down.close()

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable", "cache": "ok"}


def test_login_page_loads(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content


def test_home_requires_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_ready_with_the_pool_answers_503_in_seconds_when_the_database_is_down(client, db, monkeypatch):
    # The pool's own wait for a connection is DB_POOL_TIMEOUT_SECONDS, set longer here than a probe waits.
    down = connection.copy(alias="ready_down")  # its own pool, to a port where no PostgreSQL listens
    down.settings_dict["PORT"] = free_port()
    options = down.settings_dict["OPTIONS"]
    down.settings_dict["OPTIONS"] = {**options, "pool": {**options["pool"], "timeout": 10}}
    monkeypatch.setattr("traitortrack.health.connection", down)
    try:
        started = time.monotonic()
        response = client.get("/ready")
        took = time.monotonic() - started
    finally:
        down.close_pool()

    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
    assert READY_DATABASE_TIMEOUT_SECONDS <= took < READY_DATABASE_TIMEOUT_SECONDS + 2


def test_ready_takes_a_pooled_connection_and_gives_it_back(client, db):
    pool = connection.pool

    def taken_and_asked() -> tuple[int, int]:
        stats = pool.get_stats()
        return stats["pool_size"] - stats["pool_available"], stats.get("requests_num", 0)

    # A connection an earlier test broke is replaced in the background, and psycopg_pool counts the
    # replacement in pool_size before it is in the pool: wait until at most this test's own one is out.
    deadline = time.monotonic() + 5
    while taken_and_asked()[0] > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    taken, asked = taken_and_asked()
    assert client.get("/ready").json()["database"] == "ok"
    assert client.get("/ready").json()["database"] == "ok"

    assert taken_and_asked() == (taken, asked + 2)

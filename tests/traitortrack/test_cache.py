"""The cache: real Redis when configured, and pages that keep working when Redis goes away."""

from tests import factories
from traitortrack.settings import caches_for


def test_redis_cache_stores_and_expires_values(redis_cache):
    redis_cache.set("answer", {"bags": 42}, 60)
    assert redis_cache.get("answer") == {"bags": 42}
    assert 0 < redis_cache.ttl("answer") <= 60
    redis_cache.delete("answer")
    assert redis_cache.get("answer") is None


def test_ready_reports_redis_ok_when_it_answers(client, db, redis_cache):
    assert client.get("/ready").json()["cache"] == "ok"


def test_redis_down_is_not_an_error_page(client, db, dead_redis_cache, caplog):
    assert dead_redis_cache.get("anything") is None  # ignored, not raised

    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "cache": "unavailable"}
    assert client.get("/accounts/login/").status_code == 200
    assert any(record.name == "traitortrack.cache" for record in caplog.records), "Redis errors must be logged"


def test_login_and_session_survive_redis_down(client, db, dead_redis_cache):
    user = factories.make_user("dispatcher-redis-down")
    response = client.post("/accounts/login/", {"username": user.username, "password": factories.PASSWORD})
    assert response.status_code == 302
    # The session lives in the database too (cached_db), so the next request is still logged in.
    assert client.get("/").status_code == 200


def test_without_redis_url_the_cache_is_local_memory():
    assert caches_for("")["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"

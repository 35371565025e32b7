"""Rate limits: counted in real Redis, keyed by user or the name typed (never the IP alone), a clear 429
with Retry-After, and a Redis outage that lets requests through unless RATELIMIT_FAIL_OPEN is off."""

import json
import logging

import pytest
from django.core.cache import caches
from django.http import HttpResponse
from django.test import Client
from django_ratelimit.checks import check_caches
from django_ratelimit.core import EXPIRATION_FUDGE, get_usage

from accounts.ratelimits import password_reset_rate_limit, scan_rate_limit, two_factor_rate_limit
from tests import factories
from tests.caches import REDIS_URL, free_port, require_redis
from traitortrack.settings import caches_for

WAREHOUSE_IP = "10.1.1.7"
WRONG = "not-the-password"


@pytest.fixture
def redis_limits(settings):
    settings.CACHES = caches_for(REDIS_URL)
    require_redis("ratelimit")
    counters = caches["ratelimit"]
    counters.delete_pattern("*")  # only our prefix's keys
    # Axes would lock these wrong-password logins at 5; the rate limit is what is tested here.
    settings.AXES_FAILURE_LIMIT = 1000
    yield counters
    counters.delete_pattern("*")


@pytest.fixture
def dead_redis_limits(settings):
    # A port nobody listens on: every Redis call fails the way it does when Redis is down.
    settings.CACHES = caches_for(f"redis://127.0.0.1:{free_port()}/0")


def _login(client: Client, username: str, password: str = WRONG):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_the_rate_limit_alias_is_strict_redis_apart_from_the_page_cache():
    aliases = caches_for("redis://127.0.0.1:6379/0")
    assert aliases["ratelimit"]["BACKEND"] == "django_redis.cache.RedisCache"
    assert "IGNORE_EXCEPTIONS" not in aliases["ratelimit"]["OPTIONS"]
    assert aliases["default"]["OPTIONS"]["IGNORE_EXCEPTIONS"] is True


def test_without_redis_the_limits_count_in_local_memory_which_ratelimits_check_refuses(settings):
    # Why SILENCED_SYSTEM_CHECKS names these two only when REDIS_URL is unset: per-process counts.
    settings.CACHES = caches_for("")
    assert settings.CACHES["ratelimit"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert {error.id for error in check_caches(None)} == {"django_ratelimit.E003", "django_ratelimit.W001"}
    settings.CACHES = caches_for("redis://127.0.0.1:6379/0")
    assert check_caches(None) == []


def test_eleventh_login_post_in_the_window_answers_a_429_page(db, redis_limits, settings):
    assert settings.LOGIN_RATE_LIMIT == "10/m"
    settings.LOGIN_RATE_LIMIT = "10/h"  # the same count, without a minute boundary falling mid-test
    client = Client(REMOTE_ADDR=WAREHOUSE_IP)

    assert [_login(client, "limited-typist").status_code for _ in range(10)] == [200] * 10
    refused = _login(client, "limited-typist")

    assert refused.status_code == 429
    assert "error.html" in [template.name for template in refused.templates]
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert "Too many attempts" in refused.content.decode()
    # Keyed by the username typed, not the IP: the rest of the warehouse behind that IP logs in.
    colleague = factories.make_user("limited-colleague")
    assert _login(client, colleague.username, factories.PASSWORD).status_code == 302


def test_login_page_itself_is_not_counted(db, redis_limits, settings):
    settings.LOGIN_RATE_LIMIT = "1/h"
    client = Client()
    assert [client.get("/accounts/login/").status_code for _ in range(3)] == [200] * 3


def test_scan_api_over_its_limit_answers_429_json_with_retry_after(db, redis_limits, settings):
    settings.SCAN_RATE_LIMIT = "2/h"
    dispatcher, other = factories.make_user("scan-limited"), factories.make_user("scan-unlimited")
    client = Client()
    client.force_login(dispatcher)

    for _ in range(2):
        assert client.post("/api/scan/parent", {}, content_type="application/json").status_code != 429
    refused = client.post("/api/scan/parent", {}, content_type="application/json")

    assert refused.status_code == 429
    assert refused.json() == {
        "ok": False,
        "code": "rate_limited",
        "message": refused.json()["message"],
    }
    assert "Wait" in refused.json()["message"]
    assert 0 < int(refused["Retry-After"]) <= 3600
    # Per user: another dispatcher on the same IP scans on.
    other_client = Client()
    other_client.force_login(other)
    assert other_client.post("/api/scan/parent", {}, content_type="application/json").status_code != 429


def test_scan_api_does_not_count_anonymous_requests(db, redis_limits, settings):
    settings.SCAN_RATE_LIMIT = "1/h"
    client = Client()
    answers = [client.post("/api/scan/child", {}, content_type="application/json") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [401] * 3


def _ok(request):
    return HttpResponse("ok")


def test_password_reset_limit_is_three_per_email(db, redis_limits, settings, rf):
    assert settings.PASSWORD_RESET_RATE_LIMIT == "3/m"
    settings.PASSWORD_RESET_RATE_LIMIT = "3/h"
    view = password_reset_rate_limit(_ok)

    def ask(email: str):
        return view(rf.post("/accounts/password/reset/", {"email": email}, REMOTE_ADDR=WAREHOUSE_IP))

    assert [ask("Ravi@example.com").status_code for _ in range(3)] == [200] * 3
    assert ask("ravi@example.com ").status_code == 429  # the same address, however typed
    assert ask("meena@example.com").status_code == 200


def test_two_factor_limit_is_five_per_user(db, redis_limits, settings, rf):
    assert settings.TWO_FACTOR_RATE_LIMIT == "5/m"
    settings.TWO_FACTOR_RATE_LIMIT = "5/h"
    view = two_factor_rate_limit(_ok)
    admin, other = factories.make_user("otp-limited", role="admin"), factories.make_user("otp-other", role="admin")

    def verify(user):
        request = rf.post("/accounts/otp/verify/", {"otp_token": "000000"})
        request.user = user
        return view(request)

    assert [verify(admin).status_code for _ in range(5)] == [200] * 5
    assert verify(admin).status_code == 429
    assert verify(other).status_code == 200


def test_redis_down_lets_logins_and_scans_through_and_logs_it(db, dead_redis_limits, settings, caplog):
    assert settings.RATELIMIT_FAIL_OPEN is True
    dispatcher = factories.make_user("limits-redis-down")
    client = Client()

    with caplog.at_level(logging.ERROR, logger="accounts.ratelimits"):
        assert _login(client, dispatcher.username, factories.PASSWORD).status_code == 302
        scan = client.post("/api/scan/parent", {}, content_type="application/json")

    assert scan.status_code != 429
    assert any("counter unavailable" in record.getMessage() for record in caplog.records)


def test_redis_down_with_fail_open_off_refuses_with_a_429(db, dead_redis_limits, settings):
    settings.RATELIMIT_FAIL_OPEN = False
    dispatcher = factories.make_user("limits-fail-closed")
    client = Client()

    refused = _login(client, dispatcher.username, factories.PASSWORD)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"

    client.force_login(dispatcher)
    scan = client.post("/api/scan/parent", {}, content_type="application/json")
    assert scan.status_code == 429
    assert json.loads(scan.content)["code"] == "rate_limited"


def _scan_counted(rf, user):
    request = rf.post("/api/scan/child")
    request.user = user
    return scan_rate_limit(_ok)(request)


def _redis_commands(counters) -> dict[str, int]:
    stats = counters.client.get_client(write=True).info("commandstats")
    return {name.removeprefix("cmdstat_"): entry["calls"] for name, entry in stats.items()}


def test_a_counted_scan_is_one_redis_call(db, redis_limits, rf):
    dispatcher = factories.make_user("limits-one-call")
    _scan_counted(rf, dispatcher)  # the first may teach Redis the script
    before = _redis_commands(redis_limits)

    _scan_counted(rf, dispatcher)

    after = _redis_commands(redis_limits)
    called = {name: calls - before.get(name, 0) for name, calls in after.items() if calls != before.get(name, 0)}
    # One EVALSHA; the INCR is the script's, counted by Redis as a call of its own, and the INFO is ours.
    # django-ratelimit's get_usage sent a SET NX, then an EVAL of django-redis's EXISTS and INCRBY.
    assert called == {"evalsha": 1, "incr": 1, "info": 1}


def test_the_count_goes_on_after_redis_forgets_the_script(db, redis_limits, rf, settings):
    settings.SCAN_RATE_LIMIT = "2/h"
    dispatcher = factories.make_user("limits-script-flushed")
    assert _scan_counted(rf, dispatcher).status_code == 200

    redis_limits.client.get_client(write=True).script_flush()  # as after a Redis restart

    assert _scan_counted(rf, dispatcher).status_code == 200
    assert _scan_counted(rf, dispatcher).status_code == 429


def test_a_windows_counter_expires_with_it_and_continues_django_ratelimits_count(db, redis_limits, rf, settings):
    settings.SCAN_RATE_LIMIT = "3/h"
    dispatcher = factories.make_user("limits-same-keys")
    request = rf.post("/api/scan/child")
    request.user = dispatcher
    # Counters django-ratelimit's own counting left (before a deploy of this code) are the same keys.
    for _ in range(2):
        get_usage(
            request, group="scan", key=lambda _group, _request: f"user:{dispatcher.pk}", rate="3/h", increment=True
        )

    assert _scan_counted(rf, dispatcher).status_code == 200
    assert _scan_counted(rf, dispatcher).status_code == 429
    redis = redis_limits.client.get_client(write=True)
    (key,) = redis.keys(redis_limits.make_key("*"))
    assert 0 < redis.ttl(key) <= 3600 + EXPIRATION_FUDGE

"""Rate limits: counted in real Redis, keyed by user or the name typed (never the IP alone), a clear 429
with Retry-After, and a Redis outage that lets requests through unless RATELIMIT_FAIL_OPEN is off."""

import json
import logging

import pytest
from django.core.cache import caches
from django.http import HttpResponse
from django.test import Client

from accounts.checks import check_rate_limit_cache, check_rates
from accounts.ratelimits import (
    EXPIRY_SLACK_SECONDS,
    Rate,
    parse_rate,
    password_reset_rate_limit,
    scan_rate_limit,
    two_factor_rate_limit,
    window_end,
)
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


def test_without_redis_the_limits_count_in_local_memory_which_the_check_warns_of(settings):
    # Why SILENCED_SYSTEM_CHECKS names this one only when REDIS_URL is unset: per-process counts.
    settings.CACHES = caches_for("")
    assert settings.CACHES["ratelimit"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert [message.id for message in check_rate_limit_cache(None)] == ["accounts.W001"]
    settings.CACHES = caches_for("redis://127.0.0.1:6379/0")
    assert check_rate_limit_cache(None) == []


def test_a_cache_that_cannot_count_or_a_missing_alias_is_an_error(settings):
    settings.CACHES = {
        **caches_for(""),
        "ratelimit": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    assert [message.id for message in check_rate_limit_cache(None)] == ["accounts.E002"]
    settings.RATELIMIT_USE_CACHE = "nowhere"
    assert [message.id for message in check_rate_limit_cache(None)] == ["accounts.E001"]


def test_a_rate_setting_that_does_not_read_is_reported_at_start_up(settings):
    assert check_rates(None) == []
    settings.SCAN_RATE_LIMIT = "600 per minute"

    (error,) = check_rates(None)

    assert error.id == "accounts.E003"
    assert error.msg.startswith("SCAN_RATE_LIMIT: '600 per minute' is not a rate")


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10/m", Rate(10, 60)),
        ("3/s", Rate(3, 1)),
        ("5/h", Rate(5, 3600)),
        ("100/5m", Rate(100, 300)),
        ("1/d", Rate(1, 86400)),
    ],
)
def test_rates_read_as_a_count_per_period(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "10", "10/", "10/w", "ten/m", "10/0m", "-1/m", "10/m/s"])
def test_anything_else_is_not_a_rate(text):
    with pytest.raises(ValueError, match="is not a rate"):
        parse_rate(text)


def test_a_keys_windows_are_fixed_and_follow_each_other():
    start = 1_800_000_000
    ends = [window_end("user:7", 60, now) for now in range(start, start + 181)]
    # Each answer is later than its moment and at most a period away; the ends are one period apart.
    assert all(0 < end - now <= 60 for now, end in zip(range(start, start + 181), ends, strict=True))
    distinct = sorted(set(ends))
    assert len(distinct) >= 3 and distinct == list(range(distinct[0], distinct[-1] + 1, 60))


def test_windows_of_different_keys_end_at_different_seconds():
    ends = {window_end(f"user:{pk}", 3600, 1_800_000_000) for pk in range(200)}
    # Spread over the hour by the key's hash, not all at one second when the whole shift would retry.
    assert len(ends) > 150


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


def test_a_windows_counter_expires_with_it(db, redis_limits, rf, settings):
    settings.SCAN_RATE_LIMIT = "3/h"
    dispatcher = factories.make_user("limits-expiry")

    assert [_scan_counted(rf, dispatcher).status_code for _ in range(4)] == [200, 200, 200, 429]

    redis = redis_limits.client.get_client(write=True)
    (key,) = redis.keys(redis_limits.make_key("*"))
    assert 0 < redis.ttl(key) <= 3600 + EXPIRY_SLACK_SECONDS
    assert f"user:{dispatcher.pk}" not in key.decode()  # the key's value is hashed, not stored as typed


def test_a_new_window_counts_afresh(db, redis_limits, rf, settings, monkeypatch):
    settings.SCAN_RATE_LIMIT = "1/m"
    dispatcher = factories.make_user("limits-new-window")
    now = 1_800_000_000
    monkeypatch.setattr("accounts.ratelimits.time.time", lambda: now)
    end = window_end(f"user:{dispatcher.pk}", 60, now)

    assert _scan_counted(rf, dispatcher).status_code == 200
    refused = _scan_counted(rf, dispatcher)
    assert refused.status_code == 429 and int(refused["Retry-After"]) == end - now

    now = end
    assert _scan_counted(rf, dispatcher).status_code == 200

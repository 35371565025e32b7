"""Idle and absolute session timeouts (SESSION_IDLE_TIMEOUT_MINUTES, SESSION_ABSOLUTE_TIMEOUT_HOURS), on a
stopped clock (tests/clock.py), so a session's age is exactly what the test made it."""

import time

import pytest

from accounts.middleware import SESSION_SEEN_KEY, SESSION_STARTED_KEY
from tests import factories


@pytest.fixture
def logged_in(client, clock):
    client.force_login(factories.make_user("shift-worker"))
    assert client.get("/").status_code == 200  # the first request stamps the session
    return client


def age_session(client, **seconds_ago: int) -> None:
    session = client.session
    now = int(time.time())
    for key, ago in seconds_ago.items():
        session[key] = now - ago
    session.save()


def test_an_active_session_stays_logged_in(logged_in, settings):
    age_session(logged_in, **{SESSION_SEEN_KEY: settings.SESSION_IDLE_TIMEOUT_MINUTES * 60 - 30})
    assert logged_in.get("/").status_code == 200


def test_an_idle_session_is_logged_out(logged_in, settings):
    age_session(logged_in, **{SESSION_SEEN_KEY: settings.SESSION_IDLE_TIMEOUT_MINUTES * 60 + 1})

    response = logged_in.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in logged_in.session


def test_a_busy_session_ends_at_the_absolute_timeout(logged_in, settings):
    age_session(logged_in, **{SESSION_STARTED_KEY: settings.SESSION_ABSOLUTE_TIMEOUT_HOURS * 3600 + 1})

    response = logged_in.get("/")

    assert response.status_code == 302
    assert "_auth_user_id" not in logged_in.session


def test_timeouts_follow_the_settings(logged_in, settings):
    settings.SESSION_IDLE_TIMEOUT_MINUTES = 5
    age_session(logged_in, **{SESSION_SEEN_KEY: 6 * 60})
    assert logged_in.get("/").status_code == 302


def test_last_seen_is_written_at_most_once_a_minute(logged_in):
    age_session(logged_in, **{SESSION_SEEN_KEY: 10})
    stamped = logged_in.session[SESSION_SEEN_KEY]

    logged_in.get("/")
    assert logged_in.session[SESSION_SEEN_KEY] == stamped

    age_session(logged_in, **{SESSION_SEEN_KEY: 61})
    logged_in.get("/")
    assert logged_in.session[SESSION_SEEN_KEY] == int(time.time())


def test_the_dashboards_own_refreshes_do_not_put_the_idle_timeout_off(logged_in, settings):
    idle = settings.SESSION_IDLE_TIMEOUT_MINUTES * 60
    age_session(logged_in, **{SESSION_SEEN_KEY: idle - 30})
    stamped = logged_in.session[SESSION_SEEN_KEY]

    assert logged_in.get("/api/dashboard").status_code == 200
    assert logged_in.session[SESSION_SEEN_KEY] == stamped  # polling is not the user

    age_session(logged_in, **{SESSION_SEEN_KEY: idle + 1})
    answer = logged_in.get("/api/dashboard")

    assert answer.status_code == 401 and answer.json()["code"] == "not_logged_in"
    assert "_auth_user_id" not in logged_in.session


def test_opening_the_dashboard_puts_the_idle_timeout_off(logged_in, settings):
    age_session(logged_in, **{SESSION_SEEN_KEY: settings.SESSION_IDLE_TIMEOUT_MINUTES * 60 - 30})

    assert logged_in.get("/dashboard/").status_code == 200
    assert logged_in.session[SESSION_SEEN_KEY] == int(time.time())

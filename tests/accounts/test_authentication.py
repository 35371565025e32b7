"""accounts.authentication: a logged-in user is kept in the process for AUTH_USER_CACHE_SECONDS, without
ever letting a logout, a password change or another session's second factor be missed."""

import time

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.cached_db import SessionStore
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import authentication
from accounts.models import Role, User
from tests import factories

RECENT = "/api/scan/recent"  # a logged-in JSON endpoint: 401 when the session has no user


@pytest.fixture
def clock(monkeypatch):
    """authentication's clock, moved by hand from now on: ``clock.now += 6``."""

    class Clock:
        now = time.monotonic()

    monkeypatch.setattr(authentication, "monotonic", lambda: Clock.now)
    return Clock


@pytest.fixture
def dispatcher(db):
    return factories.make_user("d1")


@pytest.fixture
def logged_in(client, dispatcher):
    client.force_login(dispatcher)
    client.get(RECENT)  # loads the user once, as the session's first request does
    return client


def user_rows_read(client, url: str = RECENT) -> tuple[int, int]:
    """The response's status and how many times the request read the accounts_user table."""
    with CaptureQueriesContext(connection) as captured:
        status = client.get(url).status_code
    return status, sum('FROM "accounts_user"' in query["sql"] for query in captured.captured_queries)


def test_a_logged_in_users_next_requests_read_no_user_row(logged_in, clock):
    assert user_rows_read(logged_in) == (200, 0)
    clock.now += 4
    assert user_rows_read(logged_in) == (200, 0)


def test_the_user_is_read_again_after_the_keep_time(logged_in, clock, settings):
    clock.now += settings.AUTH_USER_CACHE_SECONDS + 0.1

    assert user_rows_read(logged_in) == (200, 1)
    assert user_rows_read(logged_in) == (200, 0)


def test_a_user_saved_in_this_process_is_read_again_at_once(logged_in, dispatcher):
    assert logged_in.get(reverse("bills:list")).status_code == 403

    dispatcher.role, dispatcher.dispatch_area = Role.BILLER, None
    dispatcher.save()

    assert logged_in.get(reverse("bills:list")).status_code == 200


def test_a_deactivation_by_another_process_takes_effect_within_the_keep_time(logged_in, dispatcher, clock, settings):
    User.objects.filter(pk=dispatcher.pk).update(is_active=False)  # no signal here: as if saved elsewhere

    assert logged_in.get(RECENT).status_code == 200
    clock.now += settings.AUTH_USER_CACHE_SECONDS + 0.1
    assert logged_in.get(RECENT).status_code == 401


def test_a_password_changed_in_this_process_ends_the_other_sessions_at_once(logged_in, dispatcher):
    dispatcher.set_password("a new long password 42")
    dispatcher.save()

    assert logged_in.get(RECENT).status_code == 401


def test_a_password_changed_elsewhere_ends_the_other_sessions_within_the_keep_time(
    logged_in, dispatcher, clock, settings
):
    dispatcher.set_password("a new long password 42")
    User.objects.filter(pk=dispatcher.pk).update(password=dispatcher.password)  # no signal: another process

    assert logged_in.get(RECENT).status_code == 200
    clock.now += settings.AUTH_USER_CACHE_SECONDS + 0.1
    assert logged_in.get(RECENT).status_code == 401


def test_the_session_that_changed_its_password_stays_logged_in_everywhere(client, dispatcher):
    client.force_login(dispatcher)
    client.get(RECENT)  # this process keeps the user with the old password
    response = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": factories.PASSWORD,
            "new_password1": "a new long password 42",
            "new_password2": "a new long password 42",
        },
    )
    assert response.status_code == 302
    authentication._kept[dispatcher.pk] = (10**12, dispatcher, dispatcher.get_session_auth_hash())  # stale elsewhere

    assert client.get(RECENT).status_code == 200


def test_logging_out_in_another_process_ends_the_session_at_once(logged_in):
    SessionStore(session_key=logged_in.cookies["sessionid"].value).delete()  # what logout does, anywhere

    assert logged_in.get(RECENT).status_code == 401


def test_each_request_gets_its_own_copy_of_the_user(logged_in, dispatcher, rf):
    def request():
        made = rf.get(RECENT)
        made.session = SessionStore(session_key=logged_in.cookies["sessionid"].value)
        return made

    first = authentication.get_user(request())
    first.otp_device = "something only this request may see"
    second = authentication.get_user(request())

    assert first.pk == second.pk == dispatcher.pk
    assert second is not first
    assert getattr(second, "otp_device", None) is None


def test_one_sessions_second_factor_never_shows_in_another_session_of_the_same_admin(client, django_user_model):
    admin = factories.make_user("admin1", role=Role.ADMIN)
    verified, unverified = client, client_class_for(client)
    verified.force_login(admin)
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    session = verified.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    unverified.force_login(admin)

    assert verified.get(RECENT).status_code == 200
    assert unverified.get(RECENT).status_code == 403  # otp_required
    assert verified.get(RECENT).status_code == 200
    assert unverified.get(RECENT).json()["code"] == "otp_required"


def client_class_for(client):
    return type(client)()


def test_keeping_users_can_be_turned_off(logged_in, settings):
    settings.AUTH_USER_CACHE_SECONDS = 0

    assert user_rows_read(logged_in) == (200, 1)
    assert user_rows_read(logged_in) == (200, 1)


def test_a_session_naming_a_backend_no_longer_configured_is_anonymous(logged_in, settings):
    settings.AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend"]

    assert logged_in.get(RECENT).status_code == 401


def test_a_session_of_a_deleted_user_is_anonymous(logged_in, dispatcher):
    user_id = logged_in.session[SESSION_KEY]
    User.objects.filter(pk=user_id).delete()

    assert logged_in.get(RECENT).status_code == 401

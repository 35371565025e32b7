import os
import socket

import pytest
from django.core.cache import cache
from django.db import connection

from accounts.models import Role
from tests import factories
from tests.caches import REDIS_URL, require_redis
from tests.clock import FROZEN_AT, stop_clocks
from tests.openapi import check_api_answer
from traitortrack.settings import caches_for


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    # One test database per run, so two runs on one server (two checkouts, or CI beside a developer)
    # never drop each other's database.
    from django.conf import settings

    test_settings = settings.DATABASES["default"].setdefault("TEST", {})
    test_settings["NAME"] = f"test_{settings.DATABASES['default']['NAME']}_{os.getpid()}"


@pytest.fixture(autouse=True, scope="session")
def _api_answers_match_the_document():
    """Every /api/ answer of every test client is checked against /api/openapi.json (tests/openapi.py)."""
    from django.test import Client

    original = Client.request

    def request(self, **request):
        response = original(self, **request)
        check_api_answer(response)
        return response

    Client.request = request
    yield
    Client.request = original


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # Production uses whitenoise's manifest storage, which needs collectstatic; tests render templates without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # A real PBKDF2 hash costs half a second per user made; hashing strength is not what tests check.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clock(request, db):
    """Python's and the database's clocks stopped for the test (tests/clock.py): at FROZEN_AT, or at the
    time given by ``@pytest.mark.parametrize("clock", [...], indirect=True)``. Move them with
    ``clock.move_to(when)`` or ``clock.shift(minutes=...)``."""
    yield from stop_clocks(getattr(request, "param", FROZEN_AT))


@pytest.fixture
def area(db):
    return factories.make_area()


@pytest.fixture
def mustard(db):
    return factories.product("mustard")


@pytest.fixture
def moong(db):
    return factories.product("moong")


@pytest.fixture
def biller(db):
    return factories.make_user("biller1", role=Role.BILLER)


@pytest.fixture
def other_biller(db):
    return factories.make_user("biller2", role=Role.BILLER)


@pytest.fixture
def biller_client(client, biller):
    """A test client logged in as ``biller`` (the bill and return ticket pages' user)."""
    client.force_login(biller)
    return client


@pytest.fixture
def admin_user(db):
    return factories.make_user("admin1", role="admin")


@pytest.fixture
def verified_login(db):
    """Log a user in on a test client with a verified second factor, as an admin is after the 2FA step:
    ``verified_login(client, user)``. Admins reach nothing else (accounts.middleware.AccessMiddleware)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    def log_in(client, user):
        client.force_login(user)
        device = TOTPDevice.objects.create(user=user, name="test phone", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id  # what django_otp.login(request, device) stores
        session.save()
        return client

    return log_in


@pytest.fixture
def admin_client(client, admin_user, verified_login):
    return verified_login(client, admin_user)


@pytest.fixture
def wide_pool():
    """Room for every thread to hold its own connection at once (the app's pool is 10 per worker)."""
    pool = connection.settings_dict.get("OPTIONS", {}).get("pool")
    if not pool:
        yield
        return
    old = pool["max_size"]
    connection.close_pool()
    pool["max_size"] = 70
    yield
    connection.close_pool()
    pool["max_size"] = old


@pytest.fixture(autouse=True)
def _fresh_caches():
    # Test runs have no REDIS_URL, so the caches live in this process's memory and would carry over from one
    # test to the next: the rate-limit counters of its logins, and the dashboard's figures (a test on a
    # moved clock took the last test's as fresh, and showed no scans).
    from django.core.cache import caches

    caches["ratelimit"].clear()
    caches["default"].clear()


@pytest.fixture(autouse=True)
def _no_outage_under_way():
    # The log's outage filter (traitortrack/logs.py) keeps, per process, the outage it is summarising: a test
    # whose Redis is down logs its first failure whole, whatever an earlier test's outage was.
    import logging

    for name in ("traitortrack.cache", "accounts.ratelimits"):
        for log_filter in logging.getLogger(name).filters:
            log_filter.forget()


@pytest.fixture(autouse=True)
def _fresh_kept_users():
    # Each process keeps the users it loaded for a few seconds (accounts.authentication); a test starts
    # from none, as a new process would.
    from accounts.authentication import forget_all_users

    forget_all_users()


@pytest.fixture
def redis_cache(settings):
    """The cache on real Redis (TEST_REDIS_URL, else 127.0.0.1:6379/15 if it answers), emptied before and after."""
    settings.CACHES = caches_for(REDIS_URL)
    require_redis("default")
    cache.clear()
    yield cache
    cache.clear()


@pytest.fixture
def dead_redis_cache(settings):
    """The cache pointed at a Redis that is down."""
    # A port held bound and never listened on, for the whole test: every Redis call is refused, the way it
    # is when Redis is down, and no server started meanwhile on the machine (a drill's) can take the port.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        settings.CACHES = caches_for(f"redis://127.0.0.1:{held.getsockname()[1]}/0")
        yield cache


@pytest.fixture
def exception_count_kept(db):
    """The navbar's count of open exceptions already in the cache, as it is for a minute after any biller's
    page: a test counting one page's own queries does not count the exceptions rules' too."""
    from reports.exceptions import cached_exception_count

    cached_exception_count()

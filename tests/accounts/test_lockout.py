"""Login lockout (django-axes): by username and IP together, shown clearly, audited, undone by an admin."""

import json

import pytest
from axes.models import AccessAttempt
from django.core.cache import caches
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice

from audit.choices import AuditAction
from audit.models import AuditLog
from tests import factories

WAREHOUSE_IP = "10.1.1.7"
OTHER_IP = "10.2.2.9"
WRONG = "not-the-password"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # The login rate limit (10/min per username) must not be what refuses these logins.
    caches["ratelimit"].clear()
    yield
    caches["ratelimit"].clear()


def _login(username: str, password: str, ip: str = WAREHOUSE_IP):
    return Client(REMOTE_ADDR=ip).post("/accounts/login/", {"username": username, "password": password})


def _fail_until_locked(username: str, ip: str = WAREHOUSE_IP):
    responses = [_login(username, WRONG, ip) for _ in range(5)]
    assert [response.status_code for response in responses[:4]] == [200] * 4  # the form again, with its error
    return responses[-1]


def test_five_failures_lock_that_username_from_that_ip(db, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    dispatcher = factories.make_user("lock-dispatcher")

    fifth = _fail_until_locked(dispatcher.username)

    assert fifth.status_code == 429
    refused = _login(dispatcher.username, factories.PASSWORD)  # the right password no longer helps
    assert refused.status_code == 429
    assert "_auth_user_id" not in refused.client.session


def test_a_lock_leaves_the_same_username_elsewhere_and_other_usernames_here_alone(db):
    dispatcher = factories.make_user("lock-shared-ip")
    colleague = factories.make_user("lock-colleague")
    _fail_until_locked(dispatcher.username)

    assert _login(dispatcher.username, factories.PASSWORD, ip=OTHER_IP).status_code == 302
    # The whole warehouse shares one IP: a colleague there still logs in.
    assert _login(colleague.username, factories.PASSWORD, ip=WAREHOUSE_IP).status_code == 302


def test_locked_out_page_says_when_to_retry_and_to_ask_an_admin(db):
    dispatcher = factories.make_user("lock-page")
    _fail_until_locked(dispatcher.username)

    page = _login(dispatcher.username, factories.PASSWORD)

    assert page.status_code == 429
    assert page["Retry-After"] == "900"
    assert "accounts/locked_out.html" in [template.name for template in page.templates]
    text = page.content.decode()
    assert "Try again at" in text or "try again at" in text
    assert "ask an admin" in text


def test_locked_out_api_call_answers_json(db, rf):
    from accounts.views import locked_out

    answer = locked_out(rf.post("/api/scan/parent"))
    assert answer.status_code == 429
    assert answer["Content-Type"] == "application/json"
    assert json.loads(answer.content)["code"] == "locked_out"


def test_without_cool_off_only_an_admin_unlocks_and_the_answer_says_so(db, rf, settings):
    from accounts.views import locked_out

    settings.AXES_COOLOFF_TIME = None
    answer = locked_out(rf.post("/api/scan/parent"))
    assert answer.status_code == 403
    assert "Ask an admin" in json.loads(answer.content)["message"]


def test_lockout_is_audited(db):
    dispatcher = factories.make_user("lock-audited")
    _fail_until_locked(dispatcher.username)

    entry = AuditLog.objects.get(action=AuditAction.USER_LOCKOUT)
    assert entry.after == {"username": dispatcher.username}
    assert entry.actor is None
    assert entry.ip_address == "10.1.1.0"  # anonymised like every audited IP


def _verified_admin_client() -> Client:
    """An admin whose session has passed the second factor, as the OTP-only admin site requires."""
    admin = factories.make_user("lock-admin", role="admin")
    device = StaticDevice.objects.create(user=admin, name="backup codes")
    client = Client(REMOTE_ADDR=OTHER_IP)
    client.force_login(admin)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def test_an_admin_unlocks_by_deleting_the_access_attempt(db):
    dispatcher = factories.make_user("lock-unlocked")
    _fail_until_locked(dispatcher.username)
    attempt = AccessAttempt.objects.get(username=dispatcher.username, ip_address=WAREHOUSE_IP)
    admin = _verified_admin_client()

    listing = admin.get("/admin/accounts/loginlockout/?locked_out=yes")
    assert listing.status_code == 200
    assert dispatcher.username in listing.content.decode()
    confirm = admin.get(f"/admin/accounts/loginlockout/{attempt.pk}/delete/")
    assert confirm.status_code == 200
    deleted = admin.post(f"/admin/accounts/loginlockout/{attempt.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302

    assert not AccessAttempt.objects.filter(username=dispatcher.username).exists()
    assert _login(dispatcher.username, factories.PASSWORD).status_code == 302

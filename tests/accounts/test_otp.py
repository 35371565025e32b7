"""Two-factor authentication for admins: enrolment, verification, recovery codes, the admin behind OTP, reset."""

import base64
import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.core.cache import caches
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role
from accounts.otp import RECOVERY_CODE_COUNT, TraitorTrackAdminSite
from audit.choices import AuditAction
from audit.models import AuditLog
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # The 2FA verify limit (5/min per user) counts in the rate-limit cache, which outlives a test's rollback.
    from django.conf import settings

    caches[settings.RATELIMIT_USE_CACHE].clear()


@pytest.fixture
def clock(monkeypatch):
    """django-otp's throttle reads timezone.now(): stopped here and moved by hand, ``clock.now += ...``."""

    class Clock:
        now = timezone.now()

    monkeypatch.setattr(timezone, "now", lambda: Clock.now)
    return Clock


def code_for(device: TOTPDevice, *, offset: int = 0) -> str:
    """The code the phone shows now (offset in steps: -1 is the previous one)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset):06d}"


def log_in_with_password(client, user) -> None:
    """Past the password step (the login form itself is tested elsewhere), not yet past the second factor."""
    client.force_login(user)


def enrolled(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def test_admin_without_a_device_is_sent_to_enrolment_from_every_page(client, admin_user):
    log_in_with_password(client, admin_user)

    for path in ("/admin/", "/bills/", "/scan/", "/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/2fa/setup/?next="), path


def test_admin_without_otp_gets_403_json_from_the_api(client, admin_user):
    log_in_with_password(client, admin_user)

    response = client.get("/api/bills")

    assert response.status_code == 403
    assert response.json()["ok"] is False
    assert response.json()["code"] == "otp_required"


def test_admin_with_a_device_is_sent_to_verify_not_enrolment(client, admin_user):
    enrolled(admin_user)
    log_in_with_password(client, admin_user)

    response = client.get("/bills/")

    assert response["Location"] == "/accounts/2fa/verify/?next=%2Fbills%2F"
    # Enrolling again would replace the phone: a password alone must not allow that.
    assert client.get("/accounts/2fa/setup/")["Location"].startswith("/accounts/2fa/verify/")


def test_setup_page_shows_the_qr_code_as_an_image_and_the_secret_in_text(client, admin_user):
    log_in_with_password(client, admin_user)

    html = client.get("/accounts/2fa/setup/").content.decode()

    device = TOTPDevice.objects.get(user=admin_user, confirmed=False)
    assert re.search(r'<img[^>]+src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]+"', html)
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in html
    assert "<script" not in html.split("</nav>", 1)[1].split("<nav", 1)[0]
    # A reload keeps the same secret: the QR code already scanned stays good.
    client.get("/accounts/2fa/setup/")
    assert TOTPDevice.objects.filter(user=admin_user).count() == 1


def test_enrolment_with_a_real_code_verifies_and_shows_recovery_codes_once(client, admin_user):
    log_in_with_password(client, admin_user)
    client.get("/accounts/2fa/setup/?next=/bills/")
    device = TOTPDevice.objects.get(user=admin_user)

    response = client.post("/accounts/2fa/setup/", {"token": code_for(device), "next": "/bills/"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/recovery-codes/?next=%2Fbills%2F"
    device.refresh_from_db()
    assert device.confirmed
    codes = list(StaticToken.objects.filter(device__user=admin_user).values_list("token", flat=True))
    assert len(codes) == RECOVERY_CODE_COUNT
    page = client.get(response["Location"]).content.decode()
    assert all(code in page for code in codes)
    assert client.get("/accounts/2fa/recovery-codes/").status_code == 302  # shown once
    assert client.get("/bills/").status_code == 200  # verified now
    assert AuditLog.objects.filter(action=AuditAction.USER_OTP_ENROL, object_id=str(admin_user.pk)).count() == 1


def test_enrolment_with_a_wrong_code_confirms_nothing(client, admin_user):
    log_in_with_password(client, admin_user)
    client.get("/accounts/2fa/setup/")

    response = client.post("/accounts/2fa/setup/", {"token": "000000"})

    assert response.status_code == 400
    assert not TOTPDevice.objects.filter(user=admin_user, confirmed=True).exists()
    assert not StaticDevice.objects.filter(user=admin_user).exists()
    assert client.get("/bills/").status_code == 302


def test_verify_at_login_with_the_app_code_lets_the_admin_in(client, admin_user):
    device = enrolled(admin_user)
    log_in_with_password(client, admin_user)

    response = client.post("/accounts/2fa/verify/", {"token": code_for(device), "next": "/admin/"})

    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get("/api/bills").status_code == 200
    assert AuditLog.objects.filter(action=AuditAction.USER_OTP_VERIFY, actor=admin_user).count() == 1


def test_wrong_code_is_refused_and_audited(client, admin_user):
    device = enrolled(admin_user)
    log_in_with_password(client, admin_user)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"

    response = client.post("/accounts/2fa/verify/", {"token": wrong})

    assert response.status_code == 400
    assert "not right" in response.content.decode()
    assert client.get("/admin/").status_code == 302
    assert AuditLog.objects.filter(action=AuditAction.USER_OTP_FAILURE, actor=admin_user).count() == 1


def test_verify_is_rate_limited_to_5_a_minute_per_user(client, admin_user, clock):
    enrolled(admin_user)
    log_in_with_password(client, admin_user)

    statuses = []
    for _ in range(6):
        statuses.append(client.post("/accounts/2fa/verify/", {"token": "000000"}).status_code)
        # Past django-otp's own wait after each wrong code (at most 16 s here), which is not what this tests;
        # the rate limit counts by time.time(), which this clock leaves alone.
        clock.now += timedelta(seconds=30)

    assert statuses == [400] * 5 + [429]


def test_a_recovery_code_works_once(client, admin_user):
    enrolled(admin_user)
    recovery = StaticDevice.objects.create(user=admin_user, name="Recovery codes", confirmed=True)
    recovery.token_set.create(token="abcd2345")
    recovery.token_set.create(token="efgh6723")
    log_in_with_password(client, admin_user)

    response = client.post("/accounts/2fa/verify/", {"token": "ABCD 2345", "next": "/bills/"})

    assert response["Location"] == "/bills/"
    assert client.get("/bills/").status_code == 200
    assert list(recovery.token_set.values_list("token", flat=True)) == ["efgh6723"]
    assert AuditLog.objects.filter(action=AuditAction.USER_OTP_RECOVERY_CODE, actor=admin_user).get().after == {
        "recovery_codes_left": 1
    }
    client.logout()
    log_in_with_password(client, admin_user)
    assert client.post("/accounts/2fa/verify/", {"token": "abcd2345"}).status_code == 400


def test_a_recovery_code_without_an_app_leads_to_enrolment(client, admin_user):
    # What `manage.py addstatictoken` leaves for an admin who lost their phone after a reset.
    StaticDevice.objects.create(user=admin_user, name="backup", confirmed=True).token_set.create(token="abcd2345")
    log_in_with_password(client, admin_user)

    response = client.post("/accounts/2fa/verify/", {"token": "abcd2345", "next": "/bills/"})

    assert response["Location"].startswith("/accounts/2fa/setup/")
    assert client.get("/accounts/2fa/setup/").status_code == 200


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.BILLER])
def test_non_admins_are_not_asked_for_a_second_factor(client, area, role):
    user = factories.make_user(f"plain-{role}", role=role, area=area)
    log_in_with_password(client, user)

    assert client.get("/scan/").status_code == 200
    assert client.get("/api/scan/recent").status_code == 200


def test_unverified_admin_may_still_log_out(client, admin_user):
    log_in_with_password(client, admin_user)

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_the_admin_site_requires_otp_and_keeps_its_name_and_title(admin_client):
    assert isinstance(admin.site._wrapped, TraitorTrackAdminSite)
    assert admin.site.name == "admin"
    assert "TraitorTrack admin" in admin_client.get("/admin/").content.decode()


def test_the_admin_login_page_sends_to_our_login(client):
    response = client.get("/admin/login/?next=/admin/bags/bag/")

    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2Fbags%2Fbag%2F"


def test_admin_reset_action_deletes_devices_and_forces_reenrolment(admin_client, admin_user):
    other = factories.make_user("admin2", role=Role.ADMIN)
    enrolled(other)
    StaticDevice.objects.create(user=other, name="Recovery codes", confirmed=True).token_set.create(token="abcd2345")

    response = admin_client.post(
        "/admin/accounts/user/", {"action": "reset_two_factor_devices", "_selected_action": [other.pk]}
    )

    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=other).exists()
    assert not StaticDevice.objects.filter(user=other).exists()
    entry = AuditLog.objects.get(action=AuditAction.USER_OTP_RESET)
    assert entry.actor == admin_user and entry.object_id == str(other.pk)
    assert entry.before == {"devices": ["TOTPDevice:phone", "StaticDevice:Recovery codes"]}
    other_client = Client()
    log_in_with_password(other_client, other)
    assert other_client.get("/admin/")["Location"].startswith("/accounts/2fa/setup/")


def test_a_code_cannot_be_replayed(client, admin_user):
    device = enrolled(admin_user)
    log_in_with_password(client, admin_user)
    code = code_for(device)

    assert client.post("/accounts/2fa/verify/", {"token": code})["Location"] == "/"
    client.logout()
    log_in_with_password(client, admin_user)
    # django-otp remembers the last step used: the same code cannot be replayed.
    assert client.post("/accounts/2fa/verify/", {"token": code}).status_code == 400


def wrong_code_for(device: TOTPDevice) -> str:
    return f"{(int(code_for(device)) + 1) % 1_000_000:06d}"


def test_right_code_too_soon_after_a_wrong_one_at_login_says_to_wait(client, admin_user, clock):
    # django-otp refuses to check any code for 1 s after a wrong one (2 s after two, 4 s after three...).
    device = enrolled(admin_user)
    log_in_with_password(client, admin_user)
    client.post("/accounts/2fa/verify/", {"token": wrong_code_for(device)})
    clock.now += timedelta(seconds=0.5)

    response = client.post("/accounts/2fa/verify/", {"token": code_for(device), "next": "/bills/"})

    assert response.status_code == 429
    assert response["Retry-After"] == "1"
    assert "Too many wrong codes in a row. Wait 1 second, then type the code your app shows." in (
        response.content.decode()
    )
    clock.now += timedelta(seconds=0.5)
    assert client.post("/accounts/2fa/verify/", {"token": code_for(device), "next": "/bills/"})["Location"] == (
        "/bills/"
    )


def test_right_code_too_soon_after_wrong_ones_at_enrolment_says_to_wait_not_to_check_the_clock(
    client, admin_user, clock
):
    log_in_with_password(client, admin_user)
    client.get("/accounts/2fa/setup/")
    device = TOTPDevice.objects.get(user=admin_user)
    for _ in range(2):  # the second wrong code, 1 s after the first, makes the wait 2 s
        client.post("/accounts/2fa/setup/", {"token": wrong_code_for(device)})
        clock.now += timedelta(seconds=1)

    response = client.post("/accounts/2fa/setup/", {"token": code_for(device)})

    page = response.content.decode()
    assert response.status_code == 429
    assert "Too many wrong codes in a row. Wait 1 second, then type the code your app shows." in page
    assert "clock" not in page
    clock.now += timedelta(seconds=1)
    assert client.post("/accounts/2fa/setup/", {"token": code_for(device)}).status_code == 302

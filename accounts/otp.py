"""Two-factor authentication (TOTP) for admins: enrolment, verification, recovery codes, reset.

Every admin must prove a second factor before reaching anything but the 2FA pages and logout
(accounts.middleware.AccessMiddleware); the Django admin checks it too (TraitorTrackAdminSite).
Devices are django-otp's: one confirmed TOTPDevice (the phone app) and one StaticDevice holding the
single-use recovery codes.
"""

import base64
import inspect
import io
import math
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

import segno
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp import user_has_device as user_has_device  # re-exported for the middleware and views
from django_otp.admin import OTPAdminSite
from django_otp.models import Device, VerifyNotAllowed
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.error_codes import OTPRefusal
from audit.choices import AuditAction
from audit.services import record
from traitortrack.errors import Refused

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


class CodeThrottled(Refused):
    """The device would not check the code at all: django-otp's back-off after wrong codes in a row (1 s
    after one, then 2, 4, 8...). Said as such, since "wrong code" or "check the clock" sends a user with
    the right code after the wrong cause."""

    def __init__(self, wait_seconds: int) -> None:
        super().__init__(
            OTPRefusal.THROTTLED,
            ngettext(
                "Too many wrong codes in a row. Wait %(count)s second, then type the code your app shows.",
                "Too many wrong codes in a row. Wait %(count)s seconds, then type the code your app shows.",
                wait_seconds,
            )
            % {"count": wait_seconds},
            status=429,
        )
        self.wait_seconds = wait_seconds


def throttle_wait(device: Device) -> int | None:
    """Whole seconds until ``device`` checks codes again, or None if it checks them now."""
    allowed, why = device.verify_is_allowed()
    if allowed or why.get("reason") != VerifyNotAllowed.N_FAILED_ATTEMPTS:
        return None
    return max(1, math.ceil((why["locked_until"] - timezone.now()).total_seconds()))


def otp_required(user: AbstractBaseUser) -> bool:
    """Whether this user must pass a second factor: every admin (who is staff and superuser too)."""
    return user.is_authenticated and (getattr(user, "is_admin", False) or user.is_staff or user.is_superuser)


def has_totp_device(user: AbstractBaseUser) -> bool:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).exists()


def pending_totp_device(user: AbstractBaseUser) -> TOTPDevice:
    """The unconfirmed device being enrolled: the same secret on every visit to the setup page until it is
    confirmed, so a reload does not invalidate the QR code already scanned."""
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


def secret_text(device: TOTPDevice) -> str:
    """The secret as base32, for typing into an authenticator app that cannot scan the QR code."""
    text = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// URL as an SVG QR code in a data: URI: an <img>, allowed by our CSP, no script needed."""
    buffer = io.BytesIO()
    segno.make(device.config_url, error="m").save(buffer, kind="svg", scale=5, border=2, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def normalise_token(token: str) -> str:
    # Apps show "123 456"; recovery codes are printed in lower case but may be typed in upper case.
    return "".join(token.split()).lower()


def enrol_totp_device(
    *, user: AbstractBaseUser, device: TOTPDevice, token: str, request: HttpRequest
) -> list[str] | None:
    """Confirm ``device`` if ``token`` is its current code; then it replaces the user's other devices, the
    user gets RECOVERY_CODE_COUNT fresh recovery codes (returned, to be shown once) and this session is
    verified. None (and nothing changed) if the code is wrong; CodeThrottled if the device would not check it."""
    with transaction.atomic(durable=True):
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user)
        if (wait := throttle_wait(device)) is not None:
            raise CodeThrottled(wait)
        if not device.verify_token(normalise_token(token)):
            return None
        for old in devices_for_user(user, confirmed=None):
            if old.pk != device.pk or not isinstance(old, TOTPDevice):
                old.delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        recovery = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
        StaticToken.objects.bulk_create(StaticToken(device=recovery, token=code) for code in codes)
        record(actor=user, action=AuditAction.USER_OTP_ENROL, obj=user, request=request)
    otp_login(request, device)
    return codes


def verify_second_factor(*, user: AbstractBaseUser, token: str, request: HttpRequest) -> Device | None:
    """Check ``token`` against the user's authenticator app, then their recovery codes (a recovery code
    works once: it is deleted as it is used). On success the session is verified. Every attempt is audited.
    None if the code is wrong; CodeThrottled if a device that might have taken it would not check it yet."""
    token = normalise_token(token)
    device = None
    waits = []
    with transaction.atomic(durable=True):
        # A code goes only to the kind of device it can be for: a mistyped recovery code must not count
        # as a failure against (and throttle) the authenticator app, nor the reverse.
        kind = TOTPDevice if token.isdigit() else StaticDevice
        for candidate in kind.objects.devices_for_user(user, confirmed=True).select_for_update() if token else []:
            if (wait := throttle_wait(candidate)) is not None:
                waits.append(wait)
            elif candidate.verify_token(token):
                device = candidate
                break
        if device is None:
            record(actor=user, action=AuditAction.USER_OTP_FAILURE, obj=user, request=request)
        else:
            action = (
                AuditAction.USER_OTP_RECOVERY_CODE if isinstance(device, StaticDevice) else AuditAction.USER_OTP_VERIFY
            )
            after = {"recovery_codes_left": device.token_set.count()} if isinstance(device, StaticDevice) else None
            record(actor=user, action=action, obj=user, after=after, request=request)
    if device is None:
        if waits:  # raised only now, so the failure's audit entry is committed
            raise CodeThrottled(min(waits))
        return None
    otp_login(request, device)
    return device


def reset_otp_devices(*, actor: AbstractBaseUser, user: AbstractBaseUser, request: HttpRequest | None = None) -> int:
    """Delete every device (authenticator app and recovery codes) of ``user``, who must enrol again at their
    next login. Returns how many devices went."""
    with transaction.atomic():
        devices = list(devices_for_user(user, confirmed=None))
        record(
            actor=actor,
            action=AuditAction.USER_OTP_RESET,
            obj=user,
            before={"devices": [f"{type(d).__name__}:{d.name}" for d in devices]},
            request=request,
        )
        for device in devices:
            device.delete()
    return len(devices)


class TraitorTrackAdminSite(OTPAdminSite):
    """The Django admin, reachable only after a second factor. Logging in happens on our own login page
    (rate limits, lockout, the 2FA pages), never on a second login form inside the admin."""

    site_header = "TraitorTrack admin"
    site_title = "TraitorTrack admin"
    index_title = "Administration"

    # The index's sections, in order, each with its models in order ("app_label.ModelName"): grouped and named
    # for an admin, not by the app that holds the table. A section links to its first model's app. A model
    # registered but not listed keeps its app's own section, after these, so a new one is never hidden.
    sections = (
        (_("Bags and scans"), ("bags.Bag", "bags.Product", "bags.Link", "scanning.Scan", "scanning.ScanReply")),
        (_("Bills"), ("bills.Bill", "bills.BillBag")),
        (_("Returns"), ("returns.ReturnTicket",)),
        (_("Reports"), ("reports.ExceptionThresholds",)),
        (_("Labels and printers"), ("labels.LabelBatch", "labels.Printer")),
        (_("Imports"), ("imports.ImportJob", "procrastinate.ProcrastinateJob")),
        (
            _("Users and access"),
            ("accounts.User", "accounts.DispatchArea", "accounts.PromotionRequest", "accounts.LoginLockout"),
        ),
        (_("Audit log"), ("audit.AuditLog",)),
    )
    # Another package's model whose own name means nothing to an admin (its pages keep that name).
    model_names = {"procrastinate.ProcrastinateJob": _("Background jobs (the import queue)")}

    def __init__(self, name: str = "admin") -> None:
        # OTPAdminSite names itself "otpadmin"; keep "admin" so every reverse("admin:...") still works.
        super().__init__(name)

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        """The index and the side bar in ``sections``; an app's own page (``app_label``) lists its models."""
        apps = super().get_app_list(request, app_label)
        found = {}
        for app in apps:
            for model in app["models"]:
                label = f"{app['app_label']}.{model['object_name']}"
                model["name"] = self.model_names.get(label, model["name"])
                found[label] = (app, model)
        if app_label is not None:
            return apps
        listed = []
        for title, labels in self.sections:
            here = [found.pop(label) for label in labels if label in found]
            if here:
                listed.append({**here[0][0], "name": title, "models": [model for _app, model in here]})
        for app in apps:  # what no section lists, in its own app's section
            rest = [model for model in app["models"] if f"{app['app_label']}.{model['object_name']}" in found]
            if rest:
                listed.append({**app, "models": rest})
        return listed

    def get_urls(self) -> list:
        """Every admin page declares ADMIN (traitortrack.permissions), its login page PUBLIC: it only sends
        to ours. The model admins' pages are made by Django, so they are declared here, where the site is."""
        from django.urls import URLResolver

        from traitortrack.permissions import ADMIN, PUBLIC, access, access_of

        urls = super().get_urls()
        pending = list(urls)
        while pending:
            pattern = pending.pop()
            if isinstance(pattern, URLResolver):
                pending.extend(pattern.url_patterns)
            elif access_of(pattern.callback) is None:
                level = PUBLIC if pattern.name == "login" and pattern.callback == self.login else ADMIN
                pattern.callback = access(level)(_as_function(pattern.callback))
        return urls

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        next_url = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        return redirect(f"{reverse('accounts:login')}?{urlencode({'next': next_url})}")


def _as_function(view: Callable) -> Callable:
    """A view that can carry attributes: a bound method (the admin's login) cannot, so it is wrapped."""
    if not inspect.ismethod(view):
        return view

    @wraps(view)
    def function_view(*args, **kwargs):
        return view(*args, **kwargs)

    return function_view

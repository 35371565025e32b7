"""The 2FA pages: enrol an authenticator app, see the recovery codes once, verify at login."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache

from accounts import otp
from accounts.ratelimits import two_factor_rate_limit
from traitortrack.permissions import LOGGED_IN, access

# Shown once, on the page after enrolment, then gone from the session.
RECOVERY_CODES_SESSION_KEY = "tt_otp_recovery_codes"


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


@access(LOGGED_IN, otp_exempt=True)
@never_cache
def setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app. A user who has one must verify first (this replaces it), so a stolen
    password alone cannot swap the victim's phone for the thief's."""
    user = request.user
    if otp.user_has_device(user) and not user.is_verified():
        return redirect(f"{reverse('accounts:otp_verify')}?{request.GET.urlencode()}")
    device = otp.pending_totp_device(user)
    error = ""
    if request.method == "POST":
        try:
            codes = otp.enrol_totp_device(
                user=user, device=device, token=request.POST.get("token", ""), request=request
            )
        except otp.CodeThrottled as refused:
            return _throttled(request, "accounts/2fa_setup.html", _setup_context(request, device), refused)
        if codes is not None:
            request.session[RECOVERY_CODES_SESSION_KEY] = codes
            recovery_url = reverse("accounts:otp_recovery_codes")
            return redirect(f"{recovery_url}?{urlencode({'next': _next_url(request)})}")
        error = "That code is not the one your app shows now. Check the phone's clock and try the newest code."
    context = {**_setup_context(request, device), "error": error}
    return render(request, "accounts/2fa_setup.html", context, status=400 if error else 200)


def _setup_context(request: HttpRequest, device: otp.TOTPDevice) -> dict:
    return {"qr_data_uri": otp.qr_data_uri(device), "secret": otp.secret_text(device), "next": _next_url(request)}


def _throttled(request: HttpRequest, template: str, context: dict, refused: otp.CodeThrottled) -> HttpResponse:
    """The 2FA page again, saying how long django-otp will not check codes (and Retry-After, as the rate
    limit's 429 has)."""
    response = render(request, template, {**context, "error": refused.message}, status=refused.status)
    response["Retry-After"] = str(refused.wait_seconds)
    return response


@access(LOGGED_IN, otp_exempt=True)
@never_cache
def recovery_codes(request: HttpRequest) -> HttpResponse:
    codes = request.session.pop(RECOVERY_CODES_SESSION_KEY, None)
    if not codes:
        return redirect(_next_url(request))
    return render(request, "accounts/2fa_recovery_codes.html", {"codes": codes, "next": _next_url(request)})


@access(LOGGED_IN, otp_exempt=True)
@never_cache
@two_factor_rate_limit
def verify(request: HttpRequest) -> HttpResponse:
    """The second step of an admin's login: a code from the app, or one recovery code (used up as it is used)."""
    user = request.user
    if not otp.user_has_device(user):
        return redirect(f"{reverse('accounts:otp_setup')}?{request.GET.urlencode()}")
    error = ""
    if request.method == "POST":
        try:
            device = otp.verify_second_factor(user=user, token=request.POST.get("token", ""), request=request)
        except otp.CodeThrottled as refused:
            return _throttled(request, "accounts/2fa_verify.html", {"next": _next_url(request)}, refused)
        if device is not None:
            if not otp.has_totp_device(user):
                # In with a recovery code (or an addstatictoken code) and no app: enrol a new phone now.
                messages.warning(request, gettext("Set up your authenticator app again before you go on."))
                return redirect(f"{reverse('accounts:otp_setup')}?{urlencode({'next': _next_url(request)})}")
            if isinstance(device, otp.StaticDevice):
                left = device.token_set.count()
                messages.warning(
                    request, gettext("Recovery code used: %(left)s left. Keep them somewhere safe.") % {"left": left}
                )
            return redirect(_next_url(request))
        error = "That code is not right. Type the 6-digit code your app shows now, or one recovery code."
    context = {"error": error, "next": _next_url(request)}
    return render(request, "accounts/2fa_verify.html", context, status=400 if error else 200)

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth import middleware as auth_middleware
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext, gettext_noop

from accounts import authentication
from traitortrack.edge import NOT_LOGGED_IN_MESSAGE, api_error, is_api, refusal_response
from traitortrack.errors import EdgeRefusal, Refused
from traitortrack.permissions import access_of, is_otp_exempt, is_unattended

SESSION_STARTED_KEY = "tt_started"
SESSION_SEEN_KEY = "tt_seen"
# Writing "last seen" on every scan would write the session on every scan; a minute's slack is plenty.
SEEN_RESOLUTION_SECONDS = 60


def session_deadlines(session: SessionBase) -> dict[str, int | None]:
    """When this session will be logged out, in epoch seconds, for pages that warn before it happens:
    ``idle`` if no request comes before it, ``absolute`` however busy it is (None for a session the
    middleware has not stamped yet). ``idle_seconds`` is what any later request buys: the idle time less
    the slack of SEEN_RESOLUTION_SECONDS, so a page that counts from its own last request never promises
    too much. ``now`` is the server's clock, so a page can correct for its own."""
    started = session.get(SESSION_STARTED_KEY)
    seen = session.get(SESSION_SEEN_KEY)
    idle_seconds = settings.SESSION_IDLE_TIMEOUT_MINUTES * 60
    return {
        "now": int(time.time()),
        "idle": seen + idle_seconds if seen is not None else None,
        "absolute": started + settings.SESSION_ABSOLUTE_TIMEOUT_HOURS * 3600 if started is not None else None,
        "idle_seconds": max(idle_seconds - SEEN_RESOLUTION_SECONDS, 0),
        "warning_seconds": settings.SESSION_WARNING_MINUTES * 60,
    }


class AuthenticationMiddleware(auth_middleware.AuthenticationMiddleware):
    """``request.user`` as Django's AuthenticationMiddleware gives it, except that the user is kept in each
    process for a few seconds (accounts.authentication) instead of being read from the database on every
    scan. django-otp's OTPMiddleware, next in MIDDLEWARE, adds ``otp_device`` and ``is_verified()``."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)  # checks that the session middleware runs first; sets request.auser
        request.user = SimpleLazyObject(lambda: self._user(request))

    @staticmethod
    def _user(request: HttpRequest):
        if not hasattr(request, "_cached_user"):
            request._cached_user = authentication.get_user(request)
        return request._cached_user


class UserLanguageMiddleware:
    """A logged-in user's chosen language (User.language) over what LocaleMiddleware read from the cookie
    or the browser, so the choice follows the person to any phone; with no choice, theirs stays."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = getattr(request.user, "language", "")
        if language and language != request.LANGUAGE_CODE:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


class SessionTimeoutMiddleware:
    """Logs a user out after SESSION_IDLE_TIMEOUT_MINUTES without a request (requests to views declared
    ``unattended``, a page's own refreshes, do not count), or SESSION_ABSOLUTE_TIMEOUT_HOURS after
    logging in, whichever comes first. The request then goes on as anonymous, before
    AccessMiddleware decides on it (so a page sends it to the login page)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        if request.user.is_authenticated:
            self._check(request, view_func)

    def _check(self, request: HttpRequest, view_func) -> None:
        now = int(time.time())
        session = request.session
        started = session.get(SESSION_STARTED_KEY)
        seen = session.get(SESSION_SEEN_KEY)
        if started is None or seen is None:
            session[SESSION_STARTED_KEY] = started or now
            session[SESSION_SEEN_KEY] = now
            return
        idle = now - seen > settings.SESSION_IDLE_TIMEOUT_MINUTES * 60
        expired = now - started > settings.SESSION_ABSOLUTE_TIMEOUT_HOURS * 3600
        if idle or expired:
            logout(request)
        elif now - seen >= SEEN_RESOLUTION_SECONDS and not is_unattended(view_func):
            session[SESSION_SEEN_KEY] = now


# What the 403 page says when this middleware, not a view, refused the request.
# English here (tests and logs read it); translated where it is shown.
ROLE_REFUSED = gettext_noop("Your role may not open this page.")


class AccessMiddleware:
    """Enforces each view's declared access (traitortrack.permissions) before it runs, failing closed.

    In order: an admin without a verified second factor this session reaches only views declared
    ``otp_exempt`` (pages go to enrolment or verification, the API answers 403 otp_required); anonymous
    users on a page go to the login page, on the API get 401 not_logged_in; a logged-in user whose role is
    not allowed gets 403 forbidden; a view that declares nothing is refused to everyone. Must come after
    django-otp's OTPMiddleware (the OTP state) and SessionTimeoutMiddleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        # Imported here: they load models, which are not ready when this module is imported.
        from django.contrib.auth.views import redirect_to_login

        from accounts import otp

        user = request.user
        if otp.otp_required(user) and not user.is_verified() and not is_otp_exempt(view_func):
            return self._second_factor_first(request, has_device=otp.user_has_device(user))
        level = access_of(view_func)
        if level is not None and level.allows(user):
            return None
        if level is not None and not user.is_authenticated:
            if is_api(request):
                return api_error(Refused(EdgeRefusal.NOT_LOGGED_IN, NOT_LOGGED_IN_MESSAGE, status=401))
            return redirect_to_login(request.get_full_path())
        message = gettext("Your role may not do this.") if is_api(request) else gettext(ROLE_REFUSED)
        return refusal_response(request, Refused(EdgeRefusal.FORBIDDEN, message, status=403))

    @staticmethod
    def _second_factor_first(request: HttpRequest, *, has_device: bool) -> HttpResponse:
        if is_api(request):
            message = gettext("Two-factor authentication is required: open TraitorTrack in the browser and verify.")
            return api_error(Refused(EdgeRefusal.OTP_REQUIRED, message, status=403))
        target = reverse("accounts:otp_verify" if has_device else "accounts:otp_setup")
        next_url = request.get_full_path() if request.method == "GET" else "/"
        return redirect(f"{target}?{urlencode({'next': next_url})}")

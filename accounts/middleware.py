import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth import middleware as auth_middleware
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject
from django_otp.middleware import OTPMiddleware

from accounts import authentication

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
    """``request.user`` as Django's AuthenticationMiddleware followed by django-otp's OTPMiddleware give it
    (the session's user, with ``otp_device`` and ``is_verified()``), with two differences that matter on
    every scan: the user is kept in each process for a few seconds (accounts.authentication) instead of
    being read from the database, and it sits behind one lazy object, not two (each attribute read went
    through both)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response)
        self.otp = OTPMiddleware(get_response)

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)  # checks that the session middleware runs first; sets request.auser
        request.user = SimpleLazyObject(lambda: self._user(request))

    def _user(self, request: HttpRequest):
        if not hasattr(request, "_cached_user"):
            # django-otp's own step, as its middleware runs it: a pinned version, covered by tests/accounts/test_otp.py.
            request._cached_user = self.otp._verify_user_sync(request, authentication.get_user(request))
        return request._cached_user


class SessionTimeoutMiddleware:
    """Logs a user out after SESSION_IDLE_TIMEOUT_MINUTES without a request (requests to views declared
    ``unattended``, a page's own refreshes, do not count), or SESSION_ABSOLUTE_TIMEOUT_HOURS after
    logging in, whichever comes first. The request then goes on as anonymous, before
    traitortrack.middleware.AccessMiddleware decides on it (so a page sends it to the login page)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        if request.user.is_authenticated:
            self._check(request, view_func)

    def _check(self, request: HttpRequest, view_func) -> None:
        from traitortrack.permissions import is_unattended

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

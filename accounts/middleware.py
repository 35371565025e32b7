import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

SESSION_STARTED_KEY = "tt_started"
SESSION_SEEN_KEY = "tt_seen"
# Writing "last seen" on every scan would write the session on every scan; a minute's slack is plenty.
SEEN_RESOLUTION_SECONDS = 60


class SessionTimeoutMiddleware:
    """Logs a user out after SESSION_IDLE_TIMEOUT_MINUTES without a request, or SESSION_ABSOLUTE_TIMEOUT_HOURS
    after logging in, whichever comes first. The request then goes on as anonymous (and login_required
    pages send it to the login page)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            self._check(request)
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> None:
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
        elif now - seen >= SEEN_RESOLUTION_SECONDS:
            session[SESSION_SEEN_KEY] = now

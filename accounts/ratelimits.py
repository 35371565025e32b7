"""Rate limits: django-ratelimit's counters behind our own decorator, so every limited request gets the
same clear 429 (a page, or JSON under /api/) with Retry-After, and a Redis outage is decided here.

Keys are the user, or the username or e-mail typed, falling back to the IP only when nothing was typed:
never the IP alone, since a whole warehouse shares one IP. Rates are settings (``LOGIN_RATE_LIMIT`` ...),
read on each request. Use the ready-made decorators:

    login_rate_limit, password_reset_rate_limit, two_factor_rate_limit, scan_rate_limit

on function views, or ``method_decorator(..., name="dispatch")`` on class-based ones.
"""

import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage

from audit.services import client_ip

logger = logging.getLogger(__name__)

# A key function answers what to count a request against, or None for "do not count this request".
KeyFunction = Callable[[HttpRequest], str | None]

RATE_LIMITED_MESSAGE = "Too many attempts in a short time. Wait {seconds} seconds and try again."
# What a limited client is told to wait when the counter is unreadable and the limit fails closed.
FAIL_CLOSED_RETRY_SECONDS = 60
# Long enough for any username or e-mail address; a longer one is cut before it becomes a cache key.
KEY_VALUE_KEPT = 254


def _typed(request: HttpRequest, field: str) -> str:
    return request.POST.get(field, "").strip().lower()[:KEY_VALUE_KEPT]


def by_user(request: HttpRequest) -> str | None:
    """The logged-in user; anonymous requests are not counted (the views refuse them anyway)."""
    return f"user:{request.user.pk}" if request.user.is_authenticated else None


def by_typed_field(field: str) -> KeyFunction:
    """The value typed in ``field`` (a username, an e-mail), or the client's IP when the field is empty."""

    def key(request: HttpRequest) -> str:
        typed = _typed(request, field)
        return f"{field}:{typed}" if typed else f"ip:{client_ip(request)}"

    return key


def by_user_or_typed_username(request: HttpRequest) -> str:
    """The user when logged in (a 2FA step after the password), else the username typed (or the IP)."""
    return by_user(request) or by_typed_field("username")(request)


def rate_limited_response(request: HttpRequest, retry_after: int) -> HttpResponse:
    """The 429 a limited request gets: JSON for the API, a page otherwise; both say how long to wait."""
    message = RATE_LIMITED_MESSAGE.format(seconds=retry_after)
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"ok": False, "code": "rate_limited", "message": message}, status=429)
    else:
        response = render(request, "429.html", {"message": message, "retry_after": retry_after}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def rate_limited(
    *,
    group: str,
    rate_setting: str,
    key: KeyFunction,
    methods: tuple[str, ...] = ("POST",),
    fail_open: bool | None = None,
) -> Callable:
    """A view decorator: more than ``settings.<rate_setting>`` (e.g. "10/m") requests with ``methods`` per
    ``key`` per window answer 429. If the counter cannot be read (Redis down), ``fail_open`` (default
    settings.RATELIMIT_FAIL_OPEN) lets the request through; otherwise it is refused like a limited one."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method in methods:
                retry_after = _retry_after_if_limited(request, group, rate_setting, key, fail_open)
                if retry_after is not None:
                    return rate_limited_response(request, retry_after)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _retry_after_if_limited(
    request: HttpRequest, group: str, rate_setting: str, key: KeyFunction, fail_open: bool | None
) -> int | None:
    """Counts this request; the seconds to wait if it is over the limit, None if it may go on."""
    value = key(request)
    if value is None:
        return None
    try:
        usage = get_usage(
            request,
            group=group,
            key=lambda _group, _request: value,
            rate=getattr(settings, rate_setting),
            increment=True,
        )
    except Exception:
        # The strict alias raises when Redis is down; django-ratelimit itself would turn that into a 500.
        logger.exception("rate limit %s: counter unavailable", group)
        open_on_outage = settings.RATELIMIT_FAIL_OPEN if fail_open is None else fail_open
        usage = None if open_on_outage else {"should_limit": True, "time_left": -1}
    if usage is None or not usage["should_limit"]:
        return None
    if usage["time_left"] < 0:  # the counter was unreadable and the limit fails closed
        return FAIL_CLOSED_RETRY_SECONDS
    return max(1, usage["time_left"])


login_rate_limit = rate_limited(group="login", rate_setting="LOGIN_RATE_LIMIT", key=by_typed_field("username"))
password_reset_rate_limit = rate_limited(
    group="password-reset", rate_setting="PASSWORD_RESET_RATE_LIMIT", key=by_typed_field("email")
)
two_factor_rate_limit = rate_limited(
    group="two-factor", rate_setting="TWO_FACTOR_RATE_LIMIT", key=by_user_or_typed_username
)
scan_rate_limit = rate_limited(group="scan", rate_setting="SCAN_RATE_LIMIT", key=by_user)

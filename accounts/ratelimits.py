"""Rate limits: a small fixed-window counter behind one decorator, so every limited request gets the same
clear 429 (a page, or JSON under /api/) with Retry-After, and a Redis outage is decided here.

Keys are the user, or the username or e-mail typed, falling back to the IP only when nothing was typed:
never the IP alone, since a whole warehouse shares one IP. Rates are settings (``LOGIN_RATE_LIMIT`` ...),
read on each request. Use the ready-made decorators:

    login_rate_limit, password_reset_rate_limit, two_factor_rate_limit, scan_rate_limit

on function views, or ``method_decorator(..., name="dispatch")`` on class-based ones.

Each key counts in fixed windows of the rate's period, their start shifted by a hash of the key, so the
windows of a warehouse's users do not all end (and let everybody retry) on the same second. The counter is
ours rather than django-ratelimit's, whose public ``get_usage`` costs every scan two Redis calls: this is
one, a cached script that increments and, for a new window, sets the expiry. Without Redis it counts in
the alias's local memory (``add`` then ``incr``, atomic within the process). accounts/checks.py checks the
alias and the rates at start-up.
"""

import hashlib
import logging
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy
from redis.exceptions import NoScriptError

from audit.services import client_ip
from traitortrack.edge import refusal_response
from traitortrack.errors import EdgeRefusal, Refused

logger = logging.getLogger(__name__)

# A key function answers what to count a request against, or None for "do not count this request".
KeyFunction = Callable[[HttpRequest], str | None]

RATE_LIMITED_MESSAGE = gettext_lazy("Too many attempts in a short time. Wait %(seconds)s seconds and try again.")
# What a limited client is told to wait when the counter is unreadable and the limit fails closed.
FAIL_CLOSED_RETRY_SECONDS = 60
# Long enough for any username or e-mail address; a longer one is cut before it becomes a cache key.
KEY_VALUE_KEPT = 254
# One request counted in Redis: the count after it. The first of a window also sets when the window's
# counter goes.
COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
COUNT_SCRIPT_SHA = hashlib.sha1(COUNT_SCRIPT.encode(), usedforsecurity=False).hexdigest()  # as Redis names it
# A counter outlives its window by this much, so a clock a little ahead of Redis's still finds it.
EXPIRY_SLACK_SECONDS = 5
PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE_PATTERN = re.compile(r"(?P<limit>\d+)/(?P<periods>\d*)(?P<unit>[smhd])")
# The settings the decorators below read, for the start-up check of their values.
RATE_SETTINGS: set[str] = set()


@dataclass(frozen=True)
class Rate:
    limit: int  # requests allowed per window
    period: int  # the window's length in seconds


def parse_rate(rate: str) -> Rate:
    """``"10/m"`` is 10 per minute; ``"100/5m"`` 100 per 5 minutes (units s, m, h, d). ValueError otherwise."""
    match = RATE_PATTERN.fullmatch(str(rate).strip())
    if match is None or int(match["periods"] or 1) == 0:
        raise ValueError(f"{rate!r} is not a rate: write it as a count per period, e.g. 10/m, 5/h or 100/5m.")
    return Rate(int(match["limit"]), int(match["periods"] or 1) * PERIOD_SECONDS[match["unit"]])


def window_end(value: str, period: int, now: int) -> int:
    """When the window holding ``now`` ends for the key ``value`` (epoch seconds; ``now`` < the answer)."""
    offset = zlib.crc32(value.encode()) % period
    return now + period - (now - offset) % period


def counter_key(group: str, rate: Rate, value: str, window: int) -> str:
    # The key's value is hashed: a typed username or e-mail address is not kept in Redis as typed. The rate
    # is part of the key, so a changed rate starts counting afresh.
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"rl:{group}:{rate.limit}/{rate.period}s:{digest}:{window}"


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
    """The 429 a limited request gets (JSON for the API, the error page otherwise), saying how long to wait."""
    message = RATE_LIMITED_MESSAGE % {"seconds": retry_after}
    refusal = Refused(EdgeRefusal.RATE_LIMITED, message, status=429, headers={"Retry-After": str(retry_after)})
    return refusal_response(request, refusal)


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

    RATE_SETTINGS.add(rate_setting)

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
        rate = parse_rate(getattr(settings, rate_setting))
        now = int(time.time())
        window = window_end(value, rate.period, now)
        count = count_request(counter_key(group, rate, value, window), window - now + EXPIRY_SLACK_SECONDS)
    except Exception:
        # The strict alias raises when Redis is down (and a bad rate setting, which accounts/checks.py
        # reports at start-up, raises here): the request must get a decision, not a 500.
        logger.exception("rate limit %s: counter unavailable", group)
        open_on_outage = settings.RATELIMIT_FAIL_OPEN if fail_open is None else fail_open
        return None if open_on_outage else FAIL_CLOSED_RETRY_SECONDS
    if count <= rate.limit:
        return None
    return window - now


def count_request(cache_key: str, expires_in: int) -> int:
    """Counts one request against ``cache_key`` in the rate-limit alias; the count so far in its window.
    Raises when the counter cannot be reached (Redis down)."""
    counters = caches[settings.RATELIMIT_USE_CACHE]
    if not settings.CACHES[settings.RATELIMIT_USE_CACHE]["BACKEND"].startswith("django_redis."):
        counters.add(cache_key, 0, expires_in)
        return counters.incr(cache_key)
    redis = counters.client.get_client(write=True)
    full_key = counters.make_key(cache_key)  # with the alias's prefix and version, as its add and incr use
    try:
        return redis.evalsha(COUNT_SCRIPT_SHA, 1, full_key, expires_in)
    except NoScriptError:  # the first count since Redis started: it learns the script, sent whole once
        return redis.eval(COUNT_SCRIPT, 1, full_key, expires_in)


login_rate_limit = rate_limited(group="login", rate_setting="LOGIN_RATE_LIMIT", key=by_typed_field("username"))
password_reset_rate_limit = rate_limited(
    group="password-reset", rate_setting="PASSWORD_RESET_RATE_LIMIT", key=by_typed_field("email")
)
two_factor_rate_limit = rate_limited(
    group="two-factor", rate_setting="TWO_FACTOR_RATE_LIMIT", key=by_user_or_typed_username
)
scan_rate_limit = rate_limited(group="scan", rate_setting="SCAN_RATE_LIMIT", key=by_user)

"""The user behind a request's session, kept in each process for a few seconds.

Every request of a logged-in user needs the user row, and loading it through the ORM was the largest
single cost of a scan (about a tenth of a millisecond of SQL and four of Python, on every scan). So each
process keeps the users it loaded for ``AUTH_USER_CACHE_SECONDS`` (default 5; 0 turns this off):

- The session is still read on every request, so logging out (which deletes the session) and the session
  timeouts take effect at once, everywhere.
- A change to the user row (role, area, deactivation, a new password ending the user's other sessions)
  is seen at once by the process that saved it (the signal handlers below) and by every other process
  within ``AUTH_USER_CACHE_SECONDS``.
- The session that changed its password stays logged in everywhere: its new auth hash does not match the
  kept user's, and a mismatch goes the full way (Django's ``auth.get_user``), which reads the row again.

Each request gets its own copy: django-otp sets ``otp_device`` on the user object, and one user's requests
run concurrently (greenlets), so a shared object could let one session's verified second factor show in
another's.
"""

import copy
from time import monotonic

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

# user id -> (until when, as monotonic(); the user as loaded; its session auth hash)
_kept: dict[int, tuple[float, AbstractBaseUser, str]] = {}
# Past this many entries, the expired ones are dropped (a process sees at most the users of one site).
_PRUNE_AT = 2000


def get_user(request: HttpRequest) -> AbstractBaseUser | AnonymousUser:
    """``request.user`` for AuthenticationMiddleware: the kept user when it is fresh and the session's auth
    hash matches it, otherwise Django's ``auth.get_user`` (which also flushes a session that does not verify)."""
    seconds = settings.AUTH_USER_CACHE_SECONDS
    session = request.session
    if seconds > 0:
        user_id = session.get(auth.SESSION_KEY)
        entry = _kept.get(_as_id(user_id)) if user_id is not None else None
        if (
            entry is not None
            and entry[0] > monotonic()
            and session.get(auth.BACKEND_SESSION_KEY) in settings.AUTHENTICATION_BACKENDS
            and constant_time_compare(session.get(auth.HASH_SESSION_KEY) or "", entry[2])
        ):
            return copy.copy(entry[1])
    user = auth.get_user(request)
    if seconds > 0 and not isinstance(user, AnonymousUser):
        _keep(user, seconds)
    return user


def _as_id(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _keep(user: AbstractBaseUser, seconds: float) -> None:
    now = monotonic()
    if len(_kept) >= _PRUNE_AT:
        for user_id in [key for key, entry in _kept.items() if entry[0] <= now]:
            _kept.pop(user_id, None)
    _kept[user.pk] = (now + seconds, copy.copy(user), user.get_session_auth_hash())


def forget_user(sender=None, instance=None, **kwargs) -> None:
    """post_save / post_delete of the user model: this process reads the row again on its next request."""
    if instance is not None:
        _kept.pop(instance.pk, None)


def forget_all_users() -> None:
    _kept.clear()

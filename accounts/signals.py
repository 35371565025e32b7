"""Security events in the audit log, from Django's own auth signals, so every way in and out is covered."""

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.dispatch import receiver
from django.http import HttpRequest

from audit.choices import AuditAction
from audit.services import record

# The login form refuses longer names before authenticating; other callers of authenticate() might not.
USERNAME_KEPT = 150


def audit_login(sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any) -> None:
    record(actor=user, action=AuditAction.USER_LOGIN, obj=user, request=request)


def audit_login_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Only the name typed: Django already blanks the password in ``credentials``, but it is not stored at all.
    username = str(credentials.get(get_user_model().USERNAME_FIELD, ""))[:USERNAME_KEPT]
    record(actor=None, action=AuditAction.USER_LOGIN_FAILURE, after={"username": username}, request=request)


def audit_logout(sender: Any, request: HttpRequest | None, user: AbstractBaseUser | None, **kwargs: Any) -> None:
    if user is None:  # an anonymous visitor pressed "log out": nobody's session ended
        return
    record(actor=user, action=AuditAction.USER_LOGOUT, obj=user, request=request)


@receiver(user_locked_out, dispatch_uid="accounts.audit_lockout")
def audit_lockout(sender: Any, request: HttpRequest | None, username: str | None, **kwargs: Any) -> None:
    # django-axes sends this when a username+IP pair reaches the failure limit, and again for each attempt
    # refused while it stays locked: each is one audit row, so a locked pair being hammered shows in the log.
    record(
        actor=None,
        action=AuditAction.USER_LOCKOUT,
        after={"username": str(username or "")[:USERNAME_KEPT]},
        request=request,
    )

"""What every page's template may show about the person viewing it."""

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.services import unread_notification_count


def notifications(request: HttpRequest) -> dict[str, Any]:
    """``unread_notification_count`` for the navbar, worked out only if a template shows it (the Django
    admin's pages never do), then from the cache: a warm page pays no query for it, an anonymous one nothing.
    Even ``request.user`` is left unread until then, so a page that touches no user still costs nothing."""

    def count() -> int:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return 0
        return unread_notification_count(user=user)

    return {"unread_notification_count": SimpleLazyObject(count)}

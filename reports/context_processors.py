"""What every page's template may show from the reports: the navbar's count of open exceptions."""

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from reports.exceptions import cached_exception_count


def exception_count(request: HttpRequest) -> dict[str, Any]:
    """``open_exception_count`` for billers and admins (0 for anyone else), worked out only if a template
    shows it, then from the cache for a minute (reports.exceptions.cached_exception_count)."""

    def count() -> int:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.handles_bills:
            return 0
        return cached_exception_count()

    return {"open_exception_count": SimpleLazyObject(count)}

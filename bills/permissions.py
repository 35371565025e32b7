"""Who may use the bill pages and API: billers and admins. Dispatchers get 403 everywhere here.

(A project-wide permission declaration replaces these two decorators in a later issue.)
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse

from bills.services import BillRefused, can_work_on_bills
from scanning.api import api_login_required

FORBIDDEN = BillRefused("forbidden", "Only billers and admins work on bills.", status=403)


def biller_required(view: Callable) -> Callable:
    """Pages: anonymous users go to the login page, dispatchers get 403."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not can_work_on_bills(request.user):
            raise PermissionDenied(FORBIDDEN.message)
        return view(request, *args, **kwargs)

    return wrapped


def api_biller_required(view: Callable) -> Callable:
    """JSON: 401 without a session (so a client knows to log in), 403 for dispatchers."""

    @api_login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not can_work_on_bills(request.user):
            return JsonResponse(FORBIDDEN.body(), status=FORBIDDEN.status)
        return view(request, *args, **kwargs)

    return wrapped

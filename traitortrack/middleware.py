"""Project-wide middleware."""

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse

REQUEST_ID_HEADER = "X-Request-ID"
# Read from META: request.headers builds a mapping of every header, which nothing else on a scan needs.
REQUEST_ID_META_KEY = "HTTP_X_REQUEST_ID"
# A proxy's id is kept so one request can be followed across its logs and ours; anything else (too
# long, or characters that could forge a log line) is replaced rather than trusted.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RequestIdMiddleware:
    """Gives every request an id (``request.request_id``), echoed in the response's X-Request-ID header.

    The id of an incoming X-Request-ID header is kept when it is a sane token, so an entry in the audit
    log can be matched with the proxy's access log line; otherwise a fresh uuid4 is made.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get(REQUEST_ID_META_KEY, "")
        request.request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


class SecurityPolicyMiddleware:
    """Sets settings.CONTENT_SECURITY_POLICY and settings.PERMISSIONS_POLICY on every response.

    It sits before whitenoise in MIDDLEWARE, so the static files whitenoise answers carry them too. A view
    that has set its own policy keeps it (like Django's SecurityMiddleware does with its headers).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.content_security_policy = settings.CONTENT_SECURITY_POLICY
        self.permissions_policy = settings.PERMISSIONS_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.content_security_policy)
        response.headers.setdefault("Permissions-Policy", self.permissions_policy)
        return response


# What the 403 page says when this middleware, not a view, refused the request.
ROLE_REFUSED = "Your role may not open this page."


class RolePermissionMiddleware:
    """Enforces traitortrack.permissions.URL_ACCESS on every resolved request, before the view runs.

    Anonymous users on a page go to the login page, on the JSON API get 401 not_logged_in; a logged-in
    user whose role is not allowed gets 403 (a page, or ``{"ok": false, "code": "forbidden"}`` on the API).
    A URL name the declaration does not cover is refused to everyone. Comes after
    accounts.middleware.AdminOTPRequiredMiddleware, so an admin without a second factor never gets here.
    The older per-view decorators (login_required, bills.permissions) still run after it, now redundant.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        # Imported here: both load models, which are not ready when this module is imported.
        from django.contrib.auth.views import redirect_to_login

        from traitortrack.permissions import access_for

        match = request.resolver_match
        access = access_for(match.view_name) if match is not None else None
        user = request.user
        if access is not None and access.allows(user):
            return None
        api = request.path_info.startswith("/api/")
        if access is not None and not user.is_authenticated:
            if api:
                return _api_refusal(
                    401, "not_logged_in", "Your session has ended. Log in again; waiting scans are kept."
                )
            return redirect_to_login(request.get_full_path())
        if api:
            return _api_refusal(403, "forbidden", "Your role may not do this.")
        raise PermissionDenied(ROLE_REFUSED)


def _api_refusal(status: int, code: str, message: str) -> JsonResponse:
    # The same shape as every other API answer (scanning.api), so clients read one format.
    return JsonResponse({"ok": False, "code": code, "message": message, "parent": None, "scan": None}, status=status)
